"""Shared pieces of the lifecycle tests (shutdown, durability, soak).

Course-style clients (standard library only: socket, struct, pickle,
http.client), the `reseau` process under test and /proc sampling. Every
wait is bounded; only processes started here are signalled, by PID.
"""

import http.client
import json
import os
import pickle
import re
import signal
import socket
import struct
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESEAU = os.environ.get('RESEAU', os.path.join(ROOT, 'target', 'release', 'reseau'))

# The shutdown deadline of every server (SHUTDOWN_DEADLINE in host/src/net.rs).
SHUTDOWN_DEADLINE = 10.0
# A socket operation that takes longer than this is an error.
TIMEOUT = 10.0


class Proc:
    """A `reseau` process whose stderr goes to a file, read as it grows."""

    def __init__(self, args, log_path, stdin=None, stdout=None):
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.p = subprocess.Popen([RESEAU] + args, stdin=stdin, stdout=stdout,
                                  stderr=self._log)
        self.pid = self.p.pid

    def log(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def wait_for(self, pattern, timeout=10.0):
        """The first match of `pattern` in the log, waiting `timeout` at most."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError('no %r in the log within %s s (exit %s):\n%s'
                             % (pattern, timeout, self.p.poll(), self.log()))

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """The exit status, or None if still running after `timeout`."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Kills the process if it is still running (cleanup)."""
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.p.wait(10)
        self._log.close()


def addr(text):
    """('127.0.0.1', 6001) from '127.0.0.1:6001'."""
    host, port = text.rsplit(':', 1)
    return host.strip('[]'), int(port)


def start_serve(tmp, extra=()):
    """`reseau serve` on free ports with its database in `tmp`: (proc, web, echo, adder)."""
    proc = Proc(['serve', '--bind', '127.0.0.1:0', '--echo', '127.0.0.1:0',
                 '--adder', '127.0.0.1:0', '--db', os.path.join(tmp, 'users.db')] + list(extra),
                os.path.join(tmp, 'serve.log'))
    m = proc.wait_for(r'serving the course: http://(\S+)/, echo on (\S+), adder on (\S+);')
    return proc, addr(m.group(1)), addr(m.group(2)), addr(m.group(3))


def start_web(tmp, db, log_name='web.log'):
    """`reseau web` on a free port: (proc, (host, port))."""
    proc = Proc(['web', '--bind', '127.0.0.1:0', '--db', db], os.path.join(tmp, log_name))
    m = proc.wait_for(r'web: listening on (\S+)')
    return proc, addr(m.group(1))


# Outcomes of one request.
OK = 'ok'            # the complete, correct answer
REFUSED = 'refused'  # the connection was refused: nothing sent
CUT = 'cut'          # sent, then the connection ended with no byte of answer
PARTIAL = 'partial'  # part of an answer, or a wrong one: always a failure


class Outcome:
    """What happened to one request: `sent` is when its last byte was
    handed to the kernel (time.monotonic()), None if never sent."""

    __slots__ = ('kind', 'sent', 'detail')

    def __init__(self, kind, sent=None, detail=''):
        self.kind, self.sent, self.detail = kind, sent, detail

    def __repr__(self):
        return 'Outcome(%s, %s, %r)' % (self.kind, self.sent, self.detail)


def connect(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect(address)
    except OSError:
        s.close()
        raise
    return s


def recv_all(s, limit):
    """Bytes until the end of stream (or `limit` bytes)."""
    chunks = []
    total = 0
    while total < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b''.join(chunks)


def adder_request(address, ints):
    """The course's adder client: a connection per request, the request
    (struct.pack('I', len) + pickle), the reply (struct.pack('I', sum))."""
    msg = pickle.dumps(ints)
    try:
        s = connect(address)
    except ConnectionRefusedError:
        return Outcome(REFUSED)
    got = b''
    sent = None
    try:
        s.sendall(struct.pack('I', len(msg)) + msg)
        sent = time.monotonic()
        while len(got) < 4:
            chunk = s.recv(4 - len(got))
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError) as e:
        if not got:
            return Outcome(CUT, sent, repr(e))
    finally:
        s.close()
    if not got:
        return Outcome(CUT, sent, 'end of stream')
    if len(got) == 4 and struct.unpack('I', got)[0] == sum(ints) % 2**32:
        return Outcome(OK, sent)
    return Outcome(PARTIAL, sent, 'reply %r for sum %d' % (got, sum(ints)))


def echo_request(address, message):
    """An echo client: sends `message`, half-closes, reads to the end."""
    try:
        s = connect(address)
    except ConnectionRefusedError:
        return Outcome(REFUSED)
    got = b''
    sent = None
    try:
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        sent = time.monotonic()
        got = recv_all(s, len(message) + 1)
    except (ConnectionResetError, BrokenPipeError) as e:
        if not got:
            return Outcome(CUT, sent, repr(e))
    finally:
        s.close()
    if got == message:
        return Outcome(OK, sent)
    if not got:
        return Outcome(CUT, sent, 'end of stream')
    return Outcome(PARTIAL, sent, '%d of %d bytes echoed' % (len(got), len(message)))


class Web:
    """An HTTP/1.1 client over one keep-alive connection (http.client),
    reconnecting when the server has closed it."""

    def __init__(self, address):
        self.address = address
        self.conn = None

    def request(self, method, path, body=None):
        """(Outcome, status, parsed JSON or text body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(*self.address, timeout=TIMEOUT)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        sent = None
        try:
            self.conn.request(method, path, body=data, headers=headers)
            sent = time.monotonic()
            response = self.conn.getresponse()
            raw = response.read()
        except ConnectionRefusedError:
            self.close()
            return Outcome(REFUSED), None, None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            # No byte of a response: RemoteDisconnected is raised only
            # when the status line never came.
            self.close()
            return Outcome(CUT, sent, repr(e)), None, None
        except http.client.HTTPException as e:
            self.close()
            return Outcome(PARTIAL, sent, repr(e)), None, None
        if response.will_close:
            self.close()
        text = raw.decode('utf-8', 'replace')
        if response.getheader('Content-Type', '').startswith('application/json') and raw:
            try:
                return Outcome(OK, sent), response.status, json.loads(text)
            except ValueError:
                return Outcome(PARTIAL, sent, 'bad JSON %r' % text[:80]), response.status, None
        return Outcome(OK, sent), response.status, text

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def stuck_client(address, timeout=10.0):
    """A connection that sends until the server stops reading it (its sends
    have been refused for half a second: the server's input and output for
    it are full), and never reads."""
    s = connect(address)
    s.setblocking(False)
    chunk = b'x' * 65536
    blocked_since = None
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            s.send(chunk)
            blocked_since = None
        except BlockingIOError:
            now = time.monotonic()
            if blocked_since is None:
                blocked_since = now
            elif now - blocked_since > 0.5:
                return s
            time.sleep(0.01)
    s.close()
    raise AssertionError('the server read everything for %s s' % timeout)


def sample(pid):
    """(RSS in KiB, open file descriptors, threads) of a live process."""
    rss = threads = 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
            elif line.startswith('Threads:'):
                threads = int(line.split()[1])
    fds = len(os.listdir('/proc/%d/fd' % pid))
    return rss, fds, threads


class Stop:
    """A flag for load threads, and the threads themselves."""

    def __init__(self):
        self.event = threading.Event()
        self.threads = []

    def spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self, timeout=30.0):
        self.event.set()
        until = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, until - time.monotonic()))
        return all(not t.is_alive() for t in self.threads)
