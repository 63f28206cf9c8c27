"""The hostile cases, one function each, registered with @case(SERVER).

A case talks to one server (`srv.addr`) and asserts one behaviour: the exact
reply, the exact close, the exact log line. It may return a short text of
figures for the report. run.py then checks that a normal client is still
served, that open files and memory came back, and that no log line carries
a raw control character.
"""

import collections
import os
import pty
import select
import socket
import struct
import subprocess
import threading
import time

from common import (ADDER_MAX_FRAME, Server, Skip, DEFAULT_MAX_FRAME, FD_WAIT, IDLE_TIMEOUT, MAX_CONNECTIONS,
                    REQUEST_TIMEOUT, WAIT, WEB_MAX_BODY, WEB_MAX_HEADER, WEB_MAX_HEADERS,
                    adder_request, assert_eq, chat_datagram, connect, fill_without_reading,
                    http, read_exactly, read_until_close, reset, status_of, timed_close, web_post)

Case = collections.namedtuple('Case', 'server name fn doc')
CASES = []


def case(server):
    def register(fn):
        name = '%s.%s' % (server.split('-')[0], fn.__name__)
        CASES.append(Case(server, name, fn, (fn.__doc__ or '').strip().splitlines()[0]))
        return fn
    return register


def pickle_of_size(n, value=1):
    """A protocol-2 pickle of exactly n bytes (n >= 9): a list of ints
    `value` (0 to 255) and one 0 (two bytes of BININT2) when n is odd;
    returns (payload, sum)."""
    # \x80\x02 ] ( K v ... [M 0 0] e .
    fixed = 2 + 1 + 1 + 2   # PROTO 2, EMPTY_LIST, MARK, APPENDS, STOP
    rest = n - fixed
    odd = rest % 2
    if odd:
        rest -= 3
    count = rest // 2
    body = bytes([0x4b, value]) * count
    if odd:
        body += b'M\x00\x00'
    payload = b'\x80\x02](' + body + b'e.'
    assert len(payload) == n, (len(payload), n)
    return payload, count * value


def log_line_of(srv, port, start=0, timeout=WAIT):
    """The server's log line about the connection from local port `port`
    (its end-of-connection line has the peer and a `;`)."""
    needle = (':%d: ' % port).encode()
    line = srv.wait_line('err', lambda l: needle in l, start, timeout)
    assert line is not None, 'no log line for port %d; last lines: %r' % (port, srv.lines('err')[-3:])
    return line.decode('utf-8', 'replace').rstrip('\n')


def flood(srv):
    """Opens MAX_CONNECTIONS idle connections, then one more: that one must
    be closed at once with no byte."""
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(connect(srv.addr))
        # Let the server accept them all before the extra one queues.
        deadline = time.monotonic() + WAIT
        while srv.fds() < srv.baseline[0] + MAX_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.02)
        extra = connect(srv.addr)
        try:
            took = timed_close(extra, 2.0)
        finally:
            extra.close()
    finally:
        for s in held:
            s.close()
        # The server counts a connection until it has read its end: wait
        # for that, or the normal client after this case may be refused.
        deadline = time.monotonic() + FD_WAIT
        while srv.fds() > srv.baseline[0] and time.monotonic() < deadline:
            time.sleep(0.02)
    return 'connection %d closed after %.2fs' % (MAX_CONNECTIONS + 1, took)


def never_sends(srv):
    """A connection that never sends is closed, with no byte, after the idle
    timeout (checked twice a second)."""
    s = connect(srv.addr)
    try:
        took = timed_close(s, IDLE_TIMEOUT + 2)
    finally:
        s.close()
    assert took >= IDLE_TIMEOUT - 0.2, 'closed after %.1fs, before the %ds timeout' % (took, IDLE_TIMEOUT)
    return 'closed after %.1fs' % took


# ------------------------------------------------------------------ adder


@case('adder')
def slow_sender(srv, ctx):
    """A request sent a byte at a time is answered with its sum."""
    s = connect(srv.addr)
    try:
        for byte in adder_request([1, 2, 3, 400]):
            s.send(bytes([byte]))
            time.sleep(0.01)
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((reply, how), (struct.pack('I', 406), 'eof'), 'reply and close')


@case('adder')
def never_sends_is_closed_after_idle_timeout(srv, ctx):
    """A connection that never sends is closed with no byte after --idle-timeout."""
    return never_sends(srv)


@case('adder')
def half_frame_then_silence_is_closed_after_idle_timeout(srv, ctx):
    """A frame cut short, then silence: closed with no reply after --idle-timeout."""
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', 100) + b'\x80\x02](K\x01')
        took = timed_close(s, IDLE_TIMEOUT + 2)
    finally:
        s.close()
    assert took >= IDLE_TIMEOUT - 0.2, 'closed after %.1fs' % took
    return 'closed after %.1fs' % took


@case('adder')
def reset_mid_frame_is_logged(srv, ctx):
    """A reset (SO_LINGER 0) inside a frame: the log line says the frame was cut."""
    start = len(srv.lines('err'))
    s = connect(srv.addr)
    port = s.getsockname()[1]
    s.sendall(struct.pack('I', 100) + b'\x80\x02](K\x01K\x02')
    time.sleep(0.2)
    reset(s)
    line = log_line_of(srv, port, start)
    assert 'the connection ended inside a frame' in line, line


@case('adder')
def flood_past_the_connection_limit(srv, ctx):
    """Connection 17 (over --max-connections 16) is closed at once, with no byte."""
    return flood(srv)


@case('adder')
def frame_at_the_limit_is_answered(srv, ctx):
    """A payload of exactly --max-frame (1000) bytes is answered with its sum."""
    payload, total = pickle_of_size(ADDER_MAX_FRAME, 3)
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', len(payload)) + payload)
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq(reply, struct.pack('I', total), 'reply')


@case('adder')
def frame_over_the_limit_is_closed_without_reply(srv, ctx):
    """A frame of --max-frame + 1 bytes is closed with no reply."""
    payload, _ = pickle_of_size(ADDER_MAX_FRAME + 1, 3)
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', len(payload)) + payload)
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((reply, how), (b'', 'eof'), 'reply and close')


@case('adder-keepalive')
def default_frame_limit_at_64_mib_is_answered(srv, ctx):
    """A payload of exactly 64 MiB (the default --max-frame) is answered."""
    payload, total = pickle_of_size(DEFAULT_MAX_FRAME, 1)
    s = connect(srv.addr, timeout=20)
    try:
        s.sendall(struct.pack('I', len(payload)) + payload)
        reply = read_exactly(s, 4)
    finally:
        s.close()
    assert_eq(reply, struct.pack('I', total), 'reply')
    return 'server rss after %.1f MiB' % (srv.rss() / 2**20)


@case('adder-keepalive')
def default_frame_limit_plus_one_is_closed_without_reply(srv, ctx):
    """A header announcing 64 MiB + 1 bytes is closed with no reply."""
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', DEFAULT_MAX_FRAME + 1) + b'\x80\x02]')
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((reply, how), (b'', 'eof'), 'reply and close')


@case('adder-keepalive')
def pipelined_requests_never_read(srv, ctx):
    """Requests sent without reading the replies: TCP holds the client back,
    and once it reads, every request has its reply (--keep-alive)."""
    request = adder_request([1, 2])
    s = connect(srv.addr, rcvbuf=4096)
    try:
        sent = fill_without_reading(s, request * 256, 64 * 2**20)
        stalled_rss = srv.rss()
        assert sent < 64 * 2**20, 'the server read 64 MiB of requests without its replies being read'
        whole, part = divmod(sent, len(request))
        expected = whole + (1 if part else 0)
        got = []

        def read_replies():
            buf = bytearray()
            while True:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
            got.append(bytes(buf))

        reader = threading.Thread(target=read_replies)
        reader.start()
        if part:
            s.sendall(request[part:])
        s.shutdown(socket.SHUT_WR)
        reader.join(20)
    finally:
        s.close()
    replies = got[0] if got else b''
    assert_eq(replies, struct.pack('I', 3) * expected, '%d replies of 3' % expected)
    return 'stalled after %d requests (%.1f MiB), server rss %.1f MiB while stalled' % (
        expected, sent / 2**20, stalled_rss / 2**20)


@case('adder')
def payload_of_control_bytes_and_invalid_utf8(srv, ctx):
    """A payload of terminal escapes and bytes that are not UTF-8 is closed with no reply."""
    payload = b'\xff\xfe\x1b[2J\x1b]0;pwned\x07\r\n\xe2\x80\xae\xc2\x9b'
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', len(payload)) + payload)
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((reply, how), (b'', 'eof'), 'reply and close')


@case('adder')
def pickle_of_a_string_with_escapes(srv, ctx):
    """A pickle holding a string of terminal escapes is refused: closed, no reply."""
    import pickle
    payload = pickle.dumps([1, '\x1b]0;pwned\x07\n\u202e'], protocol=2)
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', len(payload)) + payload)
        reply, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((reply, how), (b'', 'eof'), 'reply and close')



@case('adder')
def native_malformed_gets_an_error_reply_and_the_connection_stays_open(srv, ctx):
    """A malformed native request (a varint cut short) is answered Error(Malformed), and the next request Sum."""
    bad = b'\xfe\x01\xff'                 # version 1, then a varint that never ends
    good = b'\xfe\x01\x02\x03\xd8\x04'   # [1, -2, 300]
    s = connect(srv.addr)
    try:
        s.sendall(struct.pack('I', len(bad)) + bad + struct.pack('I', len(good)) + good)
        s.shutdown(socket.SHUT_WR)
        replies, how = read_until_close(s)
    finally:
        s.close()
    # Error(Malformed) then Sum(299), as PROTOCOL.md writes them.
    assert_eq(replies, b'\x04\x00\x00\x00\xfe\x01\x01\x00' + b'\x05\x00\x00\x00\xfe\x01\x00\xd6\x04', 'replies')

# ------------------------------------------------------------------- echo


@case('echo')
def slow_sender(srv, ctx):
    """A message sent a byte at a time comes back whole."""
    message = b'Hello, one byte at a time'
    s = connect(srv.addr)
    try:
        for byte in message:
            s.send(bytes([byte]))
            time.sleep(0.01)
        s.shutdown(socket.SHUT_WR)
        echoed, how = read_until_close(s)
    finally:
        s.close()
    assert_eq((echoed, how), (message, 'eof'), 'echo')


@case('echo')
def never_sends_is_closed_after_idle_timeout(srv, ctx):
    """A connection that never sends is closed with no byte after --idle-timeout."""
    return never_sends(srv)


@case('echo')
def never_reads(srv, ctx):
    """A client that sends without reading is held back by TCP; once it reads,
    every byte it sent comes back, in order."""
    pattern = bytes(range(256)) * 64
    s = connect(srv.addr, rcvbuf=4096)
    try:
        sent = fill_without_reading(s, pattern, 256 * 2**20)
        stalled_rss = srv.rss()
        assert sent < 256 * 2**20, 'the server took 256 MiB without its echo being read'
        s.shutdown(socket.SHUT_WR)
        echoed, how = read_until_close(s, 20)
    finally:
        s.close()
    expected = (pattern * (sent // len(pattern) + 1))[:sent]
    assert echoed == expected, 'echoed %d bytes of %d sent, %s' % (len(echoed), sent, how)
    return 'stalled after %.2f MiB, server rss %.1f MiB while stalled' % (sent / 2**20, stalled_rss / 2**20)


@case('echo')
def reset_mid_message_is_logged(srv, ctx):
    """A reset (SO_LINGER 0) after 1000 bytes: the log line has the 1000 bytes and the reset."""
    start = len(srv.lines('err'))
    s = connect(srv.addr)
    port = s.getsockname()[1]
    s.sendall(b'x' * 1000)
    time.sleep(0.3)
    reset(s)
    line = log_line_of(srv, port, start)
    assert '"... (1000 bytes); Connection reset by peer' in line, line


@case('echo')
def flood_past_the_connection_limit(srv, ctx):
    """Connection 17 (over --max-connections 16) is closed at once, with no byte."""
    return flood(srv)


@case('echo')
def log_line_escapes_the_message(srv, ctx):
    """Terminal escapes, newlines, bidi controls and invalid UTF-8 in a message are escaped in the log line."""
    message = b'\x1b[2J\x1b]0;t\x07\r\nfake\x08\x7f\xc2\x9b\xe2\x80\xae\xff"\\'
    start = len(srv.lines('err'))
    s = connect(srv.addr)
    port = s.getsockname()[1]
    try:
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        read_until_close(s)
    finally:
        s.close()
    line = log_line_of(srv, port, start)
    expected = ('"\\x1b[2J\\x1b]0;t\\x07\\r\\nfake\\x08\\x7f\\u{9b}\\u{202e}\\xff\\"\\\\" '
                '(%d bytes); closed by peer' % len(message))
    assert line.endswith(': ' + expected), 'log line %r, expected it to end with %r' % (line, expected)


@case('echo')
def echo_send_to_a_terminal_escapes_a_hostile_server(srv, ctx):
    """`reseau echo send` on a terminal shows a hostile server's escapes escaped (newlines kept)."""
    hostile = socket.socket()
    hostile.bind(('127.0.0.1', 0))
    hostile.listen(1)
    hostile.settimeout(WAIT)
    answer = b'\x1b]0;pwned\x07\x1b[2Jline one\nline two\r\xe2\x80\xae\xff'

    def serve():
        try:
            conn, _ = hostile.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(WAIT)
            try:
                while conn.recv(4096):
                    pass
                conn.sendall(answer)
            except OSError:
                pass

    server = threading.Thread(target=serve)
    server.start()
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([ctx['reseau'], 'echo', 'send', '--to', '127.0.0.1:%d' % hostile.getsockname()[1],
                                 'hi'], stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        slave = None
        shown = b''
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        proc.wait(WAIT)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
        hostile.close()
        server.join(WAIT)
    # The terminal turns each newline into CR LF (onlcr).
    shown = shown.replace(b'\r\n', b'\n')
    assert_eq(shown, b'\\x1b]0;pwned\\x07\\x1b[2Jline one\nline two\\r\\u{202e}\\xff', 'terminal output')



@case('echo')
def large_message_read_while_sent(srv, ctx):
    """32 MiB of every byte value, read while it is sent, come back exactly."""
    message = bytes(range(256)) * (32 * 4096)
    s = connect(srv.addr, timeout=20)
    got = []

    def read_all():
        got.append(read_until_close(s, 20))

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        reader.join(25)
    finally:
        s.close()
    echoed, how = got[0] if got else (b'', 'no answer')
    assert echoed == message, 'echoed %d of %d bytes (%s)' % (len(echoed), len(message), how)

# ------------------------------------------------------------------- chat


def chat_shows(payload, expected):
    """A case: the chat prints the datagram `payload` as exactly one line,
    `SENDER: ` then `expected`."""
    def run(srv, ctx):
        prefix, lines = chat_datagram(srv, payload)
        assert_eq(lines, [prefix + expected + '\n'], 'chat output')
    return run


CHAT_CASES = [
    ('clear_screen', 'clear screen and cursor home', b'\x1b[2J\x1b[H', r'\x1b[2J\x1b[H'),
    ('window_title', 'a window title (OSC 0, ended by BEL, and OSC 2, ended by ST)',
     b'\x1b]0;pwned\x07\x1b]2;again\x1b\\', r'\x1b]0;pwned\x07\x1b]2;again\x1b\\'),
    ('colours', 'colours (SGR)', b'\x1b[31;1mred\x1b[0m', r'\x1b[31;1mred\x1b[0m'),
    ('backspaces', 'backspaces that would erase the text', b'hello\x08\x08\x08\x08\x08HACKED',
     r'hello\x08\x08\x08\x08\x08HACKED'),
    ('carriage_return', 'a carriage return that would overwrite the line', b'innocent\rEVIL', r'innocent\rEVIL'),
    ('newline_fake_peer', 'a newline and a line that looks like another peer',
     b'hi\n127.0.0.1:5001: I am someone else', r'hi\n127.0.0.1:5001: I am someone else'),
    ('bidi_override', 'a right-to-left override', '\u202eevil\u202c'.encode(), r'\u{202e}evil\u{202c}'),
    ('bidi_isolates_and_marks', 'bidi isolates and marks', '\u2066a\u2067b\u2068c\u2069\u200e\u200f\u061c'.encode(),
     r'\u{2066}a\u{2067}b\u{2068}c\u{2069}\u{200e}\u{200f}\u{61c}'),
    ('c1_controls', 'C1 controls (a one-character CSI, NEL)', '\u009b31m\u0085x'.encode(), r'\u{9b}31m\u{85}x'),
    ('nul_del_tab', 'NUL, DEL and a tab', b'a\x00b\x7fc\td', r'a\x00b\x7fc\td'),
    ('invalid_utf8', 'bytes that are not UTF-8', b'caf\xe9 \xff\xfe \xe2\x80', r'caf\xe9 \xff\xfe \xe2\x80'),
    ('line_separators', 'Unicode line and paragraph separators', '\u2028x\u2029'.encode(), r'\u{2028}x\u{2029}'),
    ('printable_unicode', 'printable Unicode is shown as it is, a backslash doubled',
     'café 日本語 👩\u200d💻 "q" \\n'.encode(), 'café 日本語 👩\u200d💻 "q" \\\\n'),
    ('trailing_newline', 'a datagram ending in CR LF LF (netcat ends each with LF): the last LF ends the line, the rest',
     b'hello\r\n\n', r'hello\r\n'),
    ('empty_datagram', 'a datagram of 0 bytes', b'', ''),
    ('largest_datagram', 'a datagram of 65,507 bytes, the most IPv4 carries', b'x' * 65507, 'x' * 65507),
    ('largest_datagram_of_escapes', 'a datagram of 65,507 ESC bytes', b'\x1b' * 65507, r'\x1b' * 65507),
]

for _name, _doc, _payload, _expected in CHAT_CASES:
    _fn = chat_shows(_payload, _expected)
    _fn.__name__ = _name
    _fn.__doc__ = 'Prints %s escaped, as one line.' % _doc
    case('chat')(_fn)


@case('chat')
def flood_of_datagrams(srv, ctx):
    """3000 datagrams as fast as they go: each one printed is exactly one line, and the chat goes on."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(('127.0.0.1', 0))
        prefix = '127.0.0.1:%d: ' % u.getsockname()[1]
        start = len(srv.lines('out'))
        for i in range(3000):
            u.sendto(b'flood %d\x1b' % i, srv.addr)
        # The marker may be dropped too while the socket's buffer is full:
        # sent again until it is printed.
        marker = (prefix + 'end of flood\n').encode()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            u.sendto(b'end of flood', srv.addr)
            if srv.wait_line('out', lambda l: l == marker, start, 0.5) is not None:
                break
        else:
            raise AssertionError('the chat printed no end marker within 10 s')
        mine = [l.decode('utf-8', 'replace') for l in srv.lines('out')[start:]
                if l.startswith(prefix.encode()) and l != marker]
    finally:
        u.close()
    wrong = [l for l in mine if not (l.startswith(prefix + 'flood ') and l.endswith('\\x1b\n'))]
    assert not wrong and mine, 'lines %r' % (wrong[:3] or mine[:3])
    return '%d of 3000 printed (UDP may drop)' % len(mine)



def chat_command(srv, line, expect, timeout=WAIT):
    """Types `line` into the chat; the first stdout line after it for which
    expect(line) holds, or None."""
    start = len(srv.lines('out'))
    srv.proc.stdin.write(line + b'\n')
    srv.proc.stdin.flush()
    return srv.wait_line('out', expect, start, timeout)


def chat_join_self(srv):
    port = srv.addr[1]
    joined = ('joined 127.0.0.1:%d\n' % port).encode()
    assert chat_command(srv, b'/join 127.0.0.1 %d' % port, lambda l: l == joined) is not None, 'no "joined" line'
    return '127.0.0.1:%d: ' % port


@case('chat')
def send_text_at_the_limit(srv, ctx):
    """/send of 65,507 bytes (the most a datagram carries) reaches the chat itself whole."""
    prefix = chat_join_self(srv)
    expected = (prefix + 'y' * 65507 + '\n').encode()
    try:
        line = chat_command(srv, b'/send ' + b'y' * 65507, lambda l: l.startswith(prefix.encode()))
    finally:
        chat_command(srv, b'/quit', lambda l: l == b'no peer joined now\n')
    assert line == expected, 'printed %r' % (line[:80] if line else line)


@case('chat')
def send_text_over_the_limit(srv, ctx):
    """/send of 65,508 bytes is refused with one error line, nothing sent."""
    chat_join_self(srv)
    try:
        line = chat_command(srv, b'/send ' + b'y' * 65508, lambda l: l.startswith(b'error: '))
    finally:
        chat_command(srv, b'/quit', lambda l: l == b'no peer joined now\n')
    assert_eq(line, b'error: a message of 65508 bytes does not fit in one datagram (at most 65507)\n', 'error line')


# The course's loop through the Python binding (python/), printing to its
# stdout as `reseau chat` does.
PYTHON_CHAT = """
import sys
import reseau
chat = reseau.Chat(host="127.0.0.1", port=0)
print("python chat: listening on 127.0.0.1:%d" % chat.address[1], file=sys.stderr, flush=True)
chat.run()
"""


@case('chat')
def python_binding_run_prints_escaped(srv, ctx):
    """reseau.Chat().run() (the Python binding) prints a datagram of terminal escapes escaped, as one line."""
    python = os.path.join(ctx['root'], 'target', 'test-venv', 'bin', 'python')
    if not os.access(python, os.X_OK):
        raise Skip('no target/test-venv/bin/python (python/run_tests.sh makes it)')
    if subprocess.run([python, '-c', 'import reseau'], capture_output=True).returncode != 0:
        raise Skip('the reseau module is not installed in target/test-venv')
    chat = Server('python chat', [python, '-c', PYTHON_CHAT], ctx['tmp'], stdin=True)
    try:
        prefix, lines = chat_datagram(chat, b'\x1b]0;pwned\x07\x1b[2Jhi\n127.0.0.1:1: fake\xff')
    finally:
        chat.stop()
    assert_eq(lines, [prefix + r'\x1b]0;pwned\x07\x1b[2Jhi\n127.0.0.1:1: fake\xff' + '\n'], 'printed')

# -------------------------------------------------------------------- web


def request_head(target=b'/', headers=(), pad_to=None, method=b'GET'):
    """A GET request head; with pad_to, an X-Pad header makes it exactly
    pad_to bytes long, blank line included."""
    lines = [method + b' ' + target + b' HTTP/1.1', b'Host: hostile', b'Connection: close']
    lines += list(headers)
    head = b'\r\n'.join(lines) + b'\r\n\r\n'
    if pad_to is not None:
        extra = pad_to - len(head) - len(b'X-Pad: \r\n')
        assert extra >= 0
        head = head[:-2] + b'X-Pad: ' + b'a' * extra + b'\r\n\r\n'
        assert len(head) == pad_to
    return head


@case('web')
def slow_sender(srv, ctx):
    """A request sent a byte at a time (within reseau.request_timeout) is answered 200."""
    s = connect(srv.addr)
    try:
        for byte in request_head(b'/api/openapi.json'):
            s.send(bytes([byte]))
            time.sleep(0.01)
        response, how = read_until_close(s)
    finally:
        s.close()
    assert_eq(status_of(response), 200, 'status')


@case('web')
def slowloris_gets_408(srv, ctx):
    """A head that never ends, a byte every 0.5 s, is answered 408 after reseau.request_timeout (3 s)."""
    s = connect(srv.addr)
    started = time.monotonic()
    response = b''
    try:
        s.settimeout(0.5)
        for byte in b'GET / HTTP/1.1\r\nX-Slow: ' + b'a' * 100:
            try:
                s.send(bytes([byte]))
            except OSError:
                break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            response += chunk
            if time.monotonic() - started > REQUEST_TIMEOUT + 3:
                break
        rest, how = read_until_close(s)
        response += rest
    finally:
        s.close()
    took = time.monotonic() - started
    assert_eq(status_of(response), 408, 'status after %.1fs' % took)
    return '408 after %.1fs' % took


@case('web')
def never_sends_is_closed_after_socket_timeout(srv, ctx):
    """A connection that never sends is closed with no byte after server.socket_timeout (3 s)."""
    return never_sends(srv)


@case('web')
def pipelined_requests_never_read(srv, ctx):
    """300 pipelined requests whose responses are not read for 1 s: then every one is answered 200."""
    count = 300
    one = b'GET /api/openapi.json HTTP/1.1\r\nHost: hostile\r\n\r\n'
    last = b'GET /api/openapi.json HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n\r\n'
    s = connect(srv.addr, rcvbuf=4096, timeout=20)
    try:
        sent = fill_without_reading(s, one * (count - 1) + last, (count - 1) * len(one) + len(last), quiet=1.0)
        stalled_rss = srv.rss()
        time.sleep(1.0)
        if sent < (count - 1) * len(one) + len(last):
            s.sendall((one * (count - 1) + last)[sent:])
        responses, how = read_until_close(s, 20)
    finally:
        s.close()
    answered = responses.count(b'HTTP/1.1 200 OK\r\n')
    assert_eq((answered, how), (count, 'eof'), '200 responses and close')
    return '%.1f MiB of responses, server rss %.1f MiB while unread' % (len(responses) / 2**20, stalled_rss / 2**20)


def users_total(srv):
    response = http(srv.addr, request_head(b'/api/users?per_page=1'))
    body = response.rsplit(b'\r\n\r\n', 1)[-1]
    import json
    return json.loads(body)['total']


@case('web')
def reset_mid_body_creates_nothing(srv, ctx):
    """A POST /api/users reset (SO_LINGER 0) in the middle of its body adds no user."""
    before = users_total(srv)
    s = connect(srv.addr)
    s.sendall(b'POST /api/users HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n'
              b'Content-Length: 100\r\n\r\n{"name": "half')
    time.sleep(0.2)
    reset(s)
    time.sleep(0.3)
    assert_eq(users_total(srv), before, 'users')


@case('web')
def flood_past_the_connection_limit(srv, ctx):
    """Connection 17 (over reseau.max_connections 16) is closed at once, with no byte."""
    return flood(srv)


@case('web')
def head_at_the_limit(srv, ctx):
    """A request head of exactly server.max_request_header_size (16384) bytes is answered 200."""
    response = http(srv.addr, request_head(b'/api/openapi.json', pad_to=WEB_MAX_HEADER))
    assert_eq(status_of(response), 200, 'status')


@case('web')
def head_over_the_limit(srv, ctx):
    """A request head of 16385 bytes is answered 431."""
    response = http(srv.addr, request_head(b'/api/openapi.json', pad_to=WEB_MAX_HEADER + 1))
    assert_eq(status_of(response), 431, 'status')


def long_target_head(total):
    """GET /aaa... whose head is exactly `total` bytes."""
    empty = len(request_head(b'/'))
    return request_head(b'/' + b'a' * (total - empty))


@case('web')
def url_at_the_limit(srv, ctx):
    """A URL that makes the head exactly 16384 bytes is routed (404: no such page)."""
    response = http(srv.addr, long_target_head(WEB_MAX_HEADER))
    assert_eq(status_of(response), 404, 'status')


@case('web')
def url_over_the_limit(srv, ctx):
    """A URL one byte longer is answered 431."""
    response = http(srv.addr, long_target_head(WEB_MAX_HEADER + 1))
    assert_eq(status_of(response), 431, 'status')


def many_headers(n):
    """A head with n headers in all (Host and Connection included)."""
    return request_head(b'/api/openapi.json', [b'X-H%d: %d' % (i, i) for i in range(n - 2)])


@case('web')
def headers_at_the_limit(srv, ctx):
    """A request with 100 headers is answered 200."""
    assert_eq(status_of(http(srv.addr, many_headers(WEB_MAX_HEADERS))), 200, 'status')


@case('web')
def headers_over_the_limit(srv, ctx):
    """A request with 101 headers is answered 431."""
    assert_eq(status_of(http(srv.addr, many_headers(WEB_MAX_HEADERS + 1))), 431, 'status')


@case('web')
def body_at_the_limit(srv, ctx):
    """A JSON body of exactly server.max_request_body_size (1 MiB) to /api/sum is summed."""
    body = b'[7' + b' ' * (WEB_MAX_BODY - 3) + b']'
    response = web_post(srv.addr, b'/api/sum', body)
    assert_eq(response.rsplit(b'\r\n\r\n', 1)[-1], b'{"sum":7}', 'body')


@case('web')
def body_over_the_limit(srv, ctx):
    """A Content-Length of 1 MiB + 1 is answered 413 before the body is sent."""
    s = connect(srv.addr)
    try:
        s.sendall(b'POST /api/sum HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\n\r\n' % (WEB_MAX_BODY + 1))
        response, how = read_until_close(s)
    finally:
        s.close()
    assert_eq(status_of(response), 413, 'status')


@case('web')
def chunked_body_over_the_limit(srv, ctx):
    """A chunked body that grows to 1 MiB + 1 is answered 413."""
    s = connect(srv.addr)
    response = b''
    try:
        s.sendall(b'POST /api/sum HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n'
                  b'Transfer-Encoding: chunked\r\n\r\n')
        chunk = 64 * 1024
        body = b'[1' + b' ' * (WEB_MAX_BODY - 1)   # 1 MiB + 1 in all
        try:
            for i in range(0, len(body), chunk):
                piece = body[i:i + chunk]
                s.sendall(b'%x\r\n' % len(piece) + piece + b'\r\n')
            s.sendall(b'0\r\n\r\n')
        except OSError:
            pass
        response, how = read_until_close(s)
    finally:
        s.close()
    assert_eq(status_of(response), 413, 'status')


@case('web')
def target_not_utf8(srv, ctx):
    """A request line with bytes that are not UTF-8 is answered 400."""
    assert_eq(status_of(http(srv.addr, request_head(b'/\xff\xfe'))), 400, 'status')


@case('web')
def raw_controls_in_the_target_are_refused_and_never_logged(srv, ctx):
    """Raw bidi controls, a line separator and a C1 control in a target: the request is refused
    (a target is visible ASCII, RFC 9112 3.2) and its log line holds the reason, not the bytes."""
    start = len(srv.lines('err'))
    s = connect(srv.addr)
    port = s.getsockname()[1]
    try:
        s.sendall(request_head('/\u202ea\u2028b\u061cc\u200ed\u009be\u2066f%1b'.encode()))
        read_until_close(s)
    finally:
        s.close()
    needle = ('127.0.0.1:%d (' % port).encode()
    line = srv.wait_line('err', lambda l: needle in l, start)
    assert line is not None, 'no log line for the refused request'
    assert_eq(line.decode().rstrip('\n'),
              'web: 127.0.0.1:%d (the request target has bytes a URI cannot hold) 400' % port,
              'log line')


@case('web')
def control_character_in_a_header(srv, ctx):
    """A header value with a raw ESC is answered 400."""
    response = http(srv.addr, request_head(b'/', [b'User-Agent: \x1b]0;pwned\x07']))
    assert_eq(status_of(response), 400, 'status')


@case('web')
def user_name_of_terminal_escapes(srv, ctx):
    """A user name with an ESC is refused with 422."""
    response = web_post(srv.addr, b'/api/users', b'{"name": "\\u001b[2Jhacker"}')
    assert_eq(status_of(response), 422, 'status')


@case('web')
def json_body_not_utf8(srv, ctx):
    """A JSON body with bytes that are not UTF-8 is answered 400."""
    response = web_post(srv.addr, b'/api/sum', b'[1, "\xff\xfe"]')
    assert_eq(status_of(response), 400, 'status')


@case('web')
def slow_body_gets_408(srv, ctx):
    """A body sent a byte every 0.5 s is answered 408 after reseau.request_timeout (3 s)."""
    s = connect(srv.addr)
    started = time.monotonic()
    response = b''
    try:
        s.sendall(b'POST /api/sum HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n'
                  b'Content-Length: 100\r\n\r\n')
        s.settimeout(0.5)
        for _ in range(20):
            try:
                s.send(b' ')
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            response += chunk
        rest, how = read_until_close(s)
        response += rest
    finally:
        s.close()
    assert_eq(status_of(response), 408, 'status after %.1fs' % (time.monotonic() - started))


@case('web')
def expect_100_continue_then_no_body_gets_408(srv, ctx):
    """Expect: 100-continue, then no body: 100 Continue, then 408 after reseau.request_timeout."""
    s = connect(srv.addr)
    try:
        s.sendall(b'POST /api/sum HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n'
                  b'Content-Length: 10\r\nExpect: 100-continue\r\n\r\n')
        response, how = read_until_close(s, REQUEST_TIMEOUT + 3)
    finally:
        s.close()
    continued = b'HTTP/1.1 100 Continue\r\n\r\n'
    assert response.startswith(continued), response[:80]
    assert_eq(status_of(response[len(continued):]), 408, 'status after 100 Continue')
