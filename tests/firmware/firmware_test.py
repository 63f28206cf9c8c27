#!/usr/bin/env python3
"""The firmware of examples/firmware, booted in QEMU, against the course's
clients.

Runs inside the network namespace that run.sh made, where tap0 is
192.168.69.1/24. Starts QEMU's lm3s6965evb with the firmware, its
Ethernet controller on tap0 and its UART on a Unix socket (QEMU waits for
this script to connect before the board starts), then talks to the board
at 192.168.69.2 as the course's programs do:

- the course's adder client, every pickle protocol, one connection per
  request, then 100 requests in a row; `reseau adder sum --encoding
  native` (and pickle);
- the course-style echo client (tests/peers/echo_client.py);
- a chat peer (tests/peers/chat.py) that exchanges datagrams with the
  board, whose side of the chat is typed on its UART;
- hostile clients: a truncated frame, a refused pickle, a frame over a
  native reply's limits, clients that never read; the board answers the
  others meanwhile and everyone after.

Then reads the board's RAM through QEMU's monitor and prints the stack's
high-water mark (the firmware paints its free stack at start).

    python3 firmware_test.py --elf FIRMWARE --reseau target/release/reseau [--adder-only]

Each check prints `ok: ...`; the first failure raises, and QEMU is stopped
(by its PID) on the way out. Every wait is bounded.
"""

import argparse
import ctypes
import os
import pickle
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

BOARD = '192.168.69.2'
HOST = '192.168.69.1'
ADDER, ECHO, CHAT = 6001, 6000, 5000
RAM_START, RAM_SIZE = 0x2000_0000, 64 * 1024
PAINT = 0xc5c5_c5c5
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'peers')


class Console:
    """The board's UART: lines it printed, and lines typed to it."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise AssertionError('QEMU did not open its UART socket within 10 s')
                time.sleep(0.05)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b''
        while True:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            *whole, buf = buf.split(b'\n')
            with self.cond:
                self.lines.extend(line.decode('utf-8', 'replace') for line in whole)
                self.cond.notify_all()

    def type(self, line):
        self.sock.sendall(line.encode() + b'\n')

    def wait(self, pattern, timeout=10.0, start=0):
        """The first line from index `start` on that matches `pattern`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('no console line matching %r within %s s; console:\n%s'
                                         % (pattern, timeout, '\n'.join(self.lines[-30:])))
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)


def recv_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def course_sum(ints, protocol=pickle.DEFAULT_PROTOCOL):
    """The course's client: connect, send the frame, read 4 bytes, close."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((BOARD, ADDER))
    data = pickle.dumps(ints, protocol=protocol)
    s.sendall(struct.pack('I', len(data)) + data)
    reply = recv_exact(s, 4)
    s.close()
    return None if reply is None else struct.unpack('I', reply)[0]


def run(*argv, stdin=None, timeout=20):
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)


def expect(got, want, what):
    assert got == want, '%s: expected %r, got %r' % (what, want, got)
    print('ok: %s' % what)


def wait_up(deadline):
    """ARP and the adder's port answer: the board is on the network."""
    while True:
        try:
            socket.create_connection((BOARD, ADDER), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError('the board did not answer on %s:%d within 20 s'
                                     % (BOARD, ADDER))
            time.sleep(0.1)


def check_adder(reseau):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        ints = [1, -2, 300, 70000, 2**31 - 1, -(2**31)]
        expect(course_sum(ints, protocol), sum(ints) % 2**32,
               'the course\'s adder client, pickle protocol %d' % protocol)
    out = run(sys.executable, os.path.join(PEERS, 'adder_client.py'),
              '--host', BOARD, '--port', str(ADDER), '1', '2', '3')
    expect((out.returncode, out.stdout), (0, b'6\n'), 'tests/peers/adder_client.py 1 2 3')
    big = list(range(10_000))
    expect(course_sum(big), sum(big), 'a request of 10,000 ints (%d bytes) through a 1 KiB window'
           % len(pickle.dumps(big)))
    out = run(reseau, 'adder', 'sum', '--to', '%s:%d' % (BOARD, ADDER), '--encoding', 'native',
              '1', '2', '3', '--', '-10')
    expect((out.returncode, out.stdout), (0, b'-4\n'), 'reseau adder sum --encoding native')
    out = run(reseau, 'adder', 'sum', '--to', '%s:%d' % (BOARD, ADDER), '4', '5', '6')
    expect((out.returncode, out.stdout), (0, b'15\n'), 'reseau adder sum (pickle)')


def check_echo():
    message = 'bonjour la carte'
    out = run(sys.executable, os.path.join(PEERS, 'echo_client.py'),
              '--host', BOARD, '--port', str(ECHO), '--read', message)
    expect((out.returncode, out.stdout), (0, (message + '\n').encode()),
           'tests/peers/echo_client.py --read')
    # Every character from U+0000 to U+00FF, 40 times, as UTF-8: the client
    # prints what came back, decoded, and a newline.
    sent = (''.join(map(chr, range(256))) * 40).encode('utf-8')
    out = run(sys.executable, os.path.join(PEERS, 'echo_client.py'),
              '--host', BOARD, '--port', str(ECHO), '--read', stdin=sent)
    expect((out.returncode, out.stdout), (0, sent + b'\n'),
           'a %d-byte message echoed whole through 1 KiB buffers' % len(sent))


def check_chat(console):
    peer = subprocess.Popen(
        [sys.executable, os.path.join(PEERS, 'chat.py'), '--host', HOST, '--port', '5001'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expect(read_line(peer.stdout, 10), b'listening on %s:5001\n' % HOST.encode(),
               'the chat peer is listening')
        mark = console.mark()
        peer.stdin.write(b'/join %s %d\n/send bonjour de Linux\n' % (BOARD.encode(), CHAT))
        peer.stdin.flush()
        console.wait(r'^192\.168\.69\.1:5001: bonjour de Linux$', start=mark)
        print('ok: the chat peer\'s datagram printed on the board\'s console')
        peer.stdin.write(b'/send \x1b[2J effac\xc3\xa9\n')
        peer.stdin.flush()
        console.wait(r'^192\.168\.69\.1:5001: \\x1b\[2J effacé$', start=mark)
        print('ok: a control sequence from the network is escaped on the console')
        console.type('/join %s 5001' % HOST)
        console.wait(r'^chat: joined 192\.168\.69\.1:5001$', start=mark)
        console.type('/send salut de la carte')
        line = read_line(peer.stdout, 10)
        expect(line, b'RECV salut de la carte\n', 'the board\'s datagram received by the peer')
        console.type('/join localhost 5001')
        console.wait(r'^chat: /join takes an IPv4 address on this board \(no DNS\): localhost$',
                     start=mark)
        console.type('/bogus')
        console.wait(r'^chat: unknown command "/bogus" \(/help lists them\)$', start=mark)
        print('ok: the chat\'s errors on the console')
    finally:
        peer.stdin.close()
        try:
            peer.wait(5)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


def read_line(stream, timeout):
    result = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert result, 'no line within %s s' % timeout
    return result[0]


def check_hostile(console, echo, log):
    mark = console.mark()
    # A frame cut short: 100 bytes announced, 10 sent, then FIN.
    s = socket.create_connection((BOARD, ADDER), timeout=10)
    s.sendall(struct.pack('I', 100) + pickle.dumps([1, 2])[:10])
    s.shutdown(socket.SHUT_WR)
    expect(recv_exact(s, 1), None, 'a truncated frame: the board closes without a reply')
    s.close()
    if log:
        console.wait(r'^adder: 192\.168\.69\.1:\d+: 0 requests answered \(0 ints\), protocol '
                     r'error: the connection ended inside a frame; closed by peer$', start=mark)
        print('ok: the truncated frame logged')

    # The course's pickle of something other than a list of ints.
    class Evil:
        def __reduce__(self):
            return (print, ('PWNED',))
    data = pickle.dumps(Evil(), protocol=2)
    s = socket.create_connection((BOARD, ADDER), timeout=10)
    s.sendall(struct.pack('I', len(data)) + data)
    expect(recv_exact(s, 1), None, 'a pickle that calls a function: refused, no reply')
    s.close()
    if log:
        console.wait(r'^adder: 192\.168\.69\.1:\d+: 0 requests answered \(0 ints\), protocol '
                     r'error: pickle opcode GLOBAL \(0x63\) at byte 2 is not allowed: only a list '
                     r'of ints is accepted; closed by server$', start=mark)
        print('ok: the refused pickle logged with its reason')

    # A frame that holds its connection: 1000 bytes announced, 4 sent.
    held = socket.create_connection((BOARD, ADDER), timeout=10)
    held.sendall(struct.pack('I', 1000) + b'\x80\x04')
    holders = [held]
    if echo:
        # An echo client that sends and never reads: the board's buffers
        # and its window fill, then it waits.
        stuck = never_reading(ECHO)
        sent, deadline = 0, time.monotonic() + 10
        while not held_back(stuck, b'x' * 4096) and time.monotonic() < deadline:
            sent += 4096
        assert time.monotonic() < deadline, 'the never-reading echo client was never held back'
        holders.append(stuck)
        print('ok: an echo client that never reads is held back after about %d bytes' % sent)
    # An adder client that sends native requests ([1] each: FE 01, then
    # 1 zigzagged) and never reads the replies.
    greedy = never_reading(ADDER)
    request = struct.pack('<I', 3) + b'\xfe\x01\x02'
    sent, deadline = 0, time.monotonic() + 10
    while not held_back(greedy, request * 500) and time.monotonic() < deadline:
        sent += 1
    assert time.monotonic() < deadline, 'the never-reading adder client was never held back'
    holders.append(greedy)
    print('ok: an adder client that never reads its replies is held back after about %d '
          'requests' % (sent * 500))

    # Meanwhile: adder sockets are 2, both held now; a new client is
    # refused with a reset until one frees, so the held frame is let go.
    held.close()
    holders.remove(held)
    ints = list(range(50))
    deadline = time.monotonic() + 10
    while True:
        try:
            got = course_sum(ints)
            break
        except ConnectionError:
            assert time.monotonic() < deadline, 'no adder socket freed within 10 s'
            time.sleep(0.1)
    expect(got, sum(ints), 'the course\'s client answered while clients that never read hold on')
    if echo:
        out = run(sys.executable, os.path.join(PEERS, 'echo_client.py'),
                  '--host', BOARD, '--port', str(ECHO), '--read', 'still here')
        expect((out.returncode, out.stdout), (0, b'still here\n'),
               'echo answered while a client that never reads holds on')
    for s in holders:
        s.close()


def held_back(s, data):
    """Sends `data` whole and returns False, or True once TCP holds the
    sender back: the send buffer stays full for 0.5 s."""
    view = memoryview(data)
    while view:
        try:
            view = view[s.send(view):]
        except BlockingIOError:
            time.sleep(0.5)
            try:
                view = view[s.send(view):]
            except BlockingIOError:
                return True
    return False


def never_reading(port):
    """A non-blocking connection with a small receive buffer (so a small
    window), that will never be read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((BOARD, port))
    s.setblocking(False)
    return s


def course_requests(count):
    """`count` course-style requests in a row, each on its own connection."""
    start = time.monotonic()
    for i in range(count):
        ints = list(range(i, i + 1 + i % 37))
        protocol = i % (pickle.HIGHEST_PROTOCOL + 1)
        got = course_sum(ints, protocol)
        assert got == sum(ints), 'request %d (protocol %d): expected %d, got %r' % (
            i, protocol, sum(ints), got)
    elapsed = time.monotonic() - start
    print('ok: %d course-style requests in a row, one connection each, all answered '
          '(%.2f s, %.1f ms a request in QEMU)' % (count, elapsed, 1000 * elapsed / count))


def stack_high_water(monitor_path, elf, workdir):
    """Bytes of stack ever used: from the top of RAM down to the lowest
    word that no longer holds the paint."""
    nm = run('nm', elf).stdout.decode()
    bottom = int(re.search(r'^([0-9a-f]+) [A-Za-z] _stack_end$', nm, re.M).group(1), 16)
    top = RAM_START + RAM_SIZE
    dump = os.path.join(workdir, 'ram.bin')
    mon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mon.settimeout(10)
    mon.connect(monitor_path)
    mon.sendall(b'pmemsave 0x%x 0x%x "%s"\n' % (RAM_START, RAM_SIZE, dump.encode()))
    deadline = time.monotonic() + 10
    while not (os.path.exists(dump) and os.path.getsize(dump) == RAM_SIZE):
        assert time.monotonic() < deadline, 'QEMU did not save the RAM within 10 s'
        time.sleep(0.05)
    mon.close()
    with open(dump, 'rb') as f:
        ram = f.read()
    at = bottom
    while at < top:
        (word,) = struct.unpack_from('<I', ram, at - RAM_START)
        if word != PAINT:
            break
        at += 4
    return top - at, top - bottom


def die_with_parent():
    """In QEMU's process before it starts: SIGTERM it if this script dies
    (Linux's PR_SET_PDEATHSIG), so that no board outlives its test."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def main():
    # `timeout` sends SIGTERM: stop QEMU on the way out (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit('stopped by SIGTERM'))
    parser = argparse.ArgumentParser()
    parser.add_argument('--elf', required=True)
    parser.add_argument('--reseau', required=True)
    # The `--no-default-features` build: the adder alone, no console log.
    parser.add_argument('--adder-only', action='store_true')
    parser.add_argument('--requests', type=int, default=100)
    args = parser.parse_args()
    echo = not args.adder_only
    with tempfile.TemporaryDirectory(prefix='reseau-firmware-') as workdir:
        uart = os.path.join(workdir, 'uart.sock')
        monitor = os.path.join(workdir, 'monitor.sock')
        log = open(os.path.join(workdir, 'qemu.log'), 'wb')
        qemu = subprocess.Popen(
            ['qemu-system-arm', '-machine', 'lm3s6965evb', '-display', 'none',
             '-chardev', 'socket,id=uart,path=%s,server=on,wait=on' % uart,
             '-serial', 'chardev:uart',
             '-monitor', 'unix:%s,server=on,wait=off' % monitor,
             '-nic', 'tap,ifname=tap0,script=no,downscript=no,model=stellaris',
             '-kernel', args.elf],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        console = None
        try:
            console = Console(uart, time.monotonic() + 10)
            console.wait(r'^reseau firmware: 192\.168\.69\.2/24 ')
            console.wait(r'^memory: chat udp::Socket' if echo else r'^memory: AdderSession')
            for line in console.lines:
                print('console: %s' % line)
            wait_up(time.monotonic() + 20)
            check_adder(args.reseau)
            if echo:
                check_echo()
                check_chat(console)
            else:
                for port in (ECHO,):
                    try:
                        socket.create_connection((BOARD, port), timeout=5).close()
                        raise AssertionError('the adder-only firmware accepted port %d' % port)
                    except ConnectionRefusedError:
                        pass
                print('ok: the adder-only firmware refuses echo\'s port')
            check_hostile(console, echo, log=echo)
            course_requests(args.requests)
            assert not any('panic' in line for line in console.lines), console.lines
            assert qemu.poll() is None, 'QEMU exited'
            used, room = stack_high_water(monitor, args.elf, workdir)
            print('stack high-water mark: %d bytes used of %d (painted from _stack_end to the '
                  'top of RAM)' % (used, room))
        except BaseException:
            if console is not None:
                sys.stderr.write('--- board console (last 40 lines)\n%s\n'
                                 % '\n'.join(console.lines[-40:]))
            raise
        finally:
            qemu.terminate()
            try:
                qemu.wait(5)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
            log.close()


if __name__ == '__main__':
    main()
