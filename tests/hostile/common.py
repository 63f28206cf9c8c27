"""Helpers of the hostile-client battery (run.py): the servers, sockets,
normal clients and the checks made after each case. Standard library only."""

import os
import signal
import socket
import struct
import subprocess
import threading
import time

# How long a case may take, at most (each one is much shorter).
CASE_TIMEOUT = 30
# How long the open files have to come back to where they started: the
# servers linger 2 s on a connection they end (PROTOCOL.md).
FD_WAIT = 5.0
# How much more resident memory a server may hold after a case than before
# the first: the allocator keeps some freed memory, never a case's whole
# traffic (up to 64 MiB through the adder, megabytes through echo and the
# site).
RSS_SLACK = 8 * 1024 * 1024

# Server settings the cases rely on.
MAX_CONNECTIONS = 16
IDLE_TIMEOUT = 3          # adder and echo --idle-timeout, web server.socket_timeout
REQUEST_TIMEOUT = 3       # web reseau.request_timeout
ADDER_MAX_FRAME = 1000    # the small adder's --max-frame
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
WEB_MAX_HEADER = 16384    # server.max_request_header_size (default)
WEB_MAX_BODY = 1048576    # server.max_request_body_size (default)
WEB_MAX_HEADERS = 100     # headers in one request (host/src/web/http.rs)

WAIT = 5.0


class CaseTimeout(Exception):
    pass


class Skip(Exception):
    """A case that cannot run here (a tool missing); says why."""


# ---------------------------------------------------------------- servers


class Server:
    """A reseau process: its output lines, its address, its resources."""

    def __init__(self, name, argv, cwd, stdin=False):
        self.name = name
        self.proc = subprocess.Popen(
            argv, cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lock = threading.Lock()
        self.out = []   # stdout lines, bytes with their newline
        self.err = []   # stderr lines
        self.checked = {'out': 0, 'err': 0}
        for pipe, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._collect, args=(pipe, lines), daemon=True).start()
        line = self.wait_line('err', lambda l: b'listening on ' in l, 0, 10)
        if line is None:
            self.stop()
            raise RuntimeError('%s did not start: %r' % (name, self.err))
        text = line.decode().split('listening on ', 1)[1].split(';')[0].strip()
        host, port = text.rsplit(':', 1)
        self.addr = (host.strip('[]'), int(port))
        self.baseline = None

    def _collect(self, pipe, lines):
        for line in iter(pipe.readline, b''):
            with self.lock:
                lines.append(line)

    def lines(self, which):
        with self.lock:
            return list(self.out if which == 'out' else self.err)

    def wait_line(self, which, pred, start, timeout=WAIT):
        """The first line from index `start` on that satisfies pred."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines(which)[start:]:
                if pred(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def rss(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        return 0

    def fds(self):
        return len(os.listdir('/proc/%d/fd' % self.proc.pid))

    def stop(self):
        """Ends the process (the chat: its input; a server: SIGTERM); its
        exit status."""
        if self.proc.stdin:
            self.proc.stdin.close()
            try:
                return self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---------------------------------------------------------------- helpers


def connect(addr, rcvbuf=None, timeout=WAIT):
    """A TCP connection to addr; with rcvbuf, a small receive buffer, set
    before connecting so that the window stays small."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def reset(s):
    """Closes with a reset (SO_LINGER 0) instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()


def read_until_close(s, timeout=WAIT):
    """Everything s receives until the peer closes: (bytes, how), how is
    'eof', 'reset' or 'timeout'."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return bytes(data), 'timeout'
        except ConnectionResetError:
            return bytes(data), 'reset'
        if not chunk:
            return bytes(data), 'eof'
        data += chunk


def timed_close(s, timeout):
    """Waits for the peer to close s without sending anything: the seconds
    it took, or raises AssertionError."""
    started = time.monotonic()
    data, how = read_until_close(s, timeout)
    took = time.monotonic() - started
    assert data == b'' and how in ('eof', 'reset'), \
        'expected a close with no byte, got %r then %s after %.1fs' % (data[:100], how, took)
    return took


def fill_without_reading(s, chunk, limit_bytes, quiet=0.5, timeout=15):
    """Sends `chunk` again and again on non-blocking s, never reading,
    until the server stops taking bytes for `quiet` seconds (back-pressure)
    or `limit_bytes` are sent; returns the bytes sent."""
    s.setblocking(False)
    sent = 0
    view = memoryview(chunk)
    offset = 0
    stalled = None
    deadline = time.monotonic() + timeout
    while sent < limit_bytes and time.monotonic() < deadline:
        try:
            n = s.send(view[offset:])
        except BlockingIOError:
            n = 0
        if n:
            sent += n
            offset = (offset + n) % len(chunk)
            stalled = None
            continue
        now = time.monotonic()
        if stalled is None:
            stalled = now
        elif now - stalled >= quiet:
            break
        time.sleep(0.005)
    s.setblocking(True)
    return sent


def assert_eq(got, expected, what=''):
    assert got == expected, '%sexpected %r, got %r' % (what and what + ': ', expected, got)


# What must never reach a terminal or a log raw: C0 but the line's newline,
# DEL, C1, bidi controls, line and paragraph separators.
def forbidden(c):
    o = ord(c)
    return (o < 0x20 or 0x7f <= o <= 0x9f or o == 0x61c or o in (0x200e, 0x200f)
            or 0x2028 <= o <= 0x202e or 0x2066 <= o <= 0x2069)


def check_lines(server):
    """Every line the server wrote since the last check is safe for a
    terminal; raises AssertionError naming the first that is not."""
    for which in ('out', 'err'):
        lines = server.lines(which)
        start = server.checked[which]
        server.checked[which] = len(lines)
        for line in lines[start:]:
            body = line[:-1] if line.endswith(b'\n') else line
            try:
                text = body.decode('utf-8')
            except UnicodeDecodeError:
                raise AssertionError('%s %s line is not UTF-8: %r' % (server.name, which, body[:200]))
            bad = [c for c in text if forbidden(c)]
            if bad:
                raise AssertionError('%s %s line has raw %r: %r' % (server.name, which, bad[0], body[:200]))


# ---------------------------------------------------------------- normal clients


def adder_request(ints, protocol=2):
    import pickle
    payload = pickle.dumps(ints, protocol=protocol)
    return struct.pack('I', len(payload)) + payload


def adder_sum(addr, ints):
    """The course's client: one request, the 4-byte reply."""
    s = connect(addr)
    try:
        s.sendall(adder_request(ints))
        reply = read_exactly(s, 4)
    finally:
        s.close()
    assert len(reply) == 4, 'adder reply %r' % reply
    return struct.unpack('I', reply)[0]


def read_exactly(s, n):
    """n bytes from s, or fewer if the peer closes first."""
    data = b''
    while len(data) < n:
        try:
            chunk = s.recv(n - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def echo_round_trip(addr, message):
    s = connect(addr)
    try:
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        data, how = read_until_close(s)
    finally:
        s.close()
    return data


def http(addr, raw, timeout=WAIT):
    """Sends raw bytes, returns everything until the server closes."""
    s = connect(addr, timeout=timeout)
    try:
        s.sendall(raw)
        data, how = read_until_close(s, timeout)
    finally:
        s.close()
    return data


def status_of(response):
    line = response.split(b'\r\n', 1)[0]
    parts = line.split(b' ')
    if len(parts) < 2 or not parts[0].startswith(b'HTTP/'):
        return None
    return int(parts[1])


def web_post(addr, path, body, extra=b''):
    head = (b'POST ' + path + b' HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n'
            b'Content-Type: application/json\r\nContent-Length: '
            + str(len(body)).encode() + b'\r\n' + extra + b'\r\n')
    return http(addr, head + body)


def chat_datagram(chat, payload, timeout=WAIT):
    """Sends payload to the chat from a fresh socket, then a marker from the
    same socket; returns the lines the chat printed for that sender, the
    marker's excluded (one line per datagram expected)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(('127.0.0.1', 0))
        prefix = ('127.0.0.1:%d: ' % u.getsockname()[1]).encode()
        start = len(chat.lines('out'))
        u.sendto(payload, chat.addr)
        u.sendto(b'end of case', chat.addr)
        marker = prefix + b'end of case\n'
        if chat.wait_line('out', lambda l: l == marker, start, timeout) is None:
            raise AssertionError('the chat printed no marker; its lines: %r' % chat.lines('out')[start:][-5:])
        mine = [l for l in chat.lines('out')[start:] if l.startswith(prefix)]
        return prefix.decode(), [l.decode('utf-8', 'replace') for l in mine[:-1]]
    finally:
        u.close()


def normal_check(name, srv):
    """A normal client of server `name` gets the correct answer."""
    if name in ('adder', 'adder-keepalive'):
        assert_eq(adder_sum(srv.addr, [1, 2, 3]), 6, 'normal adder client')
    elif name == 'echo':
        assert_eq(echo_round_trip(srv.addr, b'ping'), b'ping', 'normal echo client')
    elif name == 'chat':
        prefix, lines = chat_datagram(srv, b'normal')
        assert_eq(lines, [prefix + 'normal\n'], 'normal datagram')
    else:
        body = web_post(srv.addr, b'/api/sum', b'[1, 2, 3]').rsplit(b'\r\n\r\n', 1)[-1]
        assert_eq(body, b'{"sum":6}', 'normal web client')


