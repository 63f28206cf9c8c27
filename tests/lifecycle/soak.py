#!/usr/bin/env python3
"""Soak: steady mixed load on one `reseau serve`, and a `reseau chat` peer.

Load, each kind at a fixed rate (requests are scheduled on a clock, not
sent as fast as possible), every request counted and its answer checked:

- adder: the course's client, a new connection per request (a random list
  of ints, pickled; the reply must be their sum);
- echo: a new connection per message (random bytes, half-close, the echo
  must be the same bytes);
- web: pages (GET /) and the API on a keep-alive connection: POST
  /api/users, GET /api/users/{id}, GET /api/users?per_page=5, DELETE
  /api/users/{id} (so the table stays small);
- chat: datagrams from a course-style UDP peer to `reseau chat` (each must
  be printed by it), and `/send` lines on its stdin (each must reach the
  UDP peer).

Once a second, the RSS, open file descriptors and threads of `reseau
serve` (and of the chat peer) are sampled. After a warm-up, the load
pauses (idle point A), runs for --duration seconds, and pauses again
(idle point B). Checks: no error, no lost reply; at the idle points,
threads are equal, descriptors grew by at most FD_TOLERANCE and RSS by at
most RSS_TOLERANCE_KIB; while loaded, the RSS of the last tenth of the run
is within RSS_TOLERANCE_KIB of the first tenth's.

    python3 tests/lifecycle/soak.py [--duration 60] [--warmup 10] [--rate 20]

Prints the figures; exits 1 if a check fails.
"""

import argparse
import os
import pickle
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import OK  # noqa: E402

# Idle descriptors may grow by the database's connection pool filling up
# (one connection per web worker at most, 3 files each: the database, its
# WAL and its shared memory) and nothing else.
FD_TOLERANCE = 8 * 3
# RSS may grow this much after the warm-up (allocator caches, SQLite's page
# cache of the pool's connections).
RSS_TOLERANCE_KIB = 3 * 1024
# How long the load pauses at an idle point: closed connections have
# left their 2 s linger.
IDLE_PAUSE = 3.0


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}
        self.ok = {}
        self.errors = []

    def add(self, kind, ok, detail=''):
        with self.lock:
            self.sent[kind] = self.sent.get(kind, 0) + 1
            if ok:
                self.ok[kind] = self.ok.get(kind, 0) + 1
            else:
                self.errors.append((kind, detail))


class Paced:
    """Runs `step` at `rate` per second while `running` is set, until `done`."""

    def __init__(self, rate, running, done):
        self.period = 1.0 / rate
        self.running, self.done = running, done

    def loop(self, step):
        next_at = time.monotonic()
        while not self.done.is_set():
            if not self.running.is_set():
                self.running.wait(0.1)
                next_at = time.monotonic()
                continue
            step()
            next_at += self.period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                # Over a second behind: do not burst to catch up.
                next_at = time.monotonic()


def adder_step(address, rng, counter):
    ints = [rng.randrange(-2**31, 2**31) % 2**32 for _ in range(rng.randrange(1, 200))]
    ints = [i % 1000 for i in ints]
    outcome = common.adder_request(address, ints)
    counter.add('adder', outcome.kind == OK, outcome)


def echo_step(address, rng, counter):
    message = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
    outcome = common.echo_request(address, message)
    counter.add('echo', outcome.kind == OK, outcome)


def web_step(client, rng, counter, n):
    """One round of pages and API calls; each call is counted."""
    def call(kind, method, path, body, want, check=None):
        outcome, status, answer = client.request(method, path, body)
        good = outcome.kind == OK and status == want and (check is None or check(answer))
        counter.add(kind, good, (method, path, outcome, status, str(answer)[:80]))
        return answer if good else None

    call('web page', 'GET', '/', None, 200, lambda a: isinstance(a, str) and '<' in a)
    name = 'soak-%d-%d' % (n, rng.randrange(2**40))
    user = call('web api', 'POST', '/api/users', {'name': name}, 201,
                lambda a: isinstance(a, dict) and a.get('name') == name)
    call('web api', 'GET', '/api/users?per_page=5', None, 200,
         lambda a: isinstance(a, dict) and len(a.get('users', [])) == min(5, a.get('total')))
    if user is not None:
        call('web api', 'GET', '/api/users/%d' % user['id'], None, 200,
             lambda a: a == {'id': user['id'], 'name': name})
        call('web api', 'DELETE', '/api/users/%d' % user['id'], None, 204)


class ChatPeer:
    """A course-style UDP chat peer, and `reseau chat` driven on its stdin."""

    def __init__(self, tmp, counter):
        self.counter = counter
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', 0))
        self.udp.settimeout(0.5)
        self.proc = common.Proc(['chat', '--bind', '127.0.0.1:0'], os.path.join(tmp, 'chat.log'),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        m = self.proc.wait_for(r'chat: listening on ([^\s;]+)')
        self.rs_addr = common.addr(m.group(1))
        self.proc.p.stdin.write(b'/join 127.0.0.1 %d\n' % self.udp.getsockname()[1])
        self.proc.p.stdin.flush()
        self.lock = threading.Lock()
        self.to_rs = set()    # numbers sent to reseau chat, not printed yet
        self.to_py = set()    # numbers sent by reseau chat, not received yet
        self.n = 0
        self.done = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.read_stdout, self.read_udp)]
        for t in self.threads:
            t.start()

    def read_stdout(self):
        for line in self.proc.p.stdout:
            m = re.search(rb'to-rs (\d+)$', line.rstrip())
            if m:
                with self.lock:
                    self.to_rs.discard(int(m.group(1)))

    def read_udp(self):
        while not self.done.is_set():
            try:
                data, _ = self.udp.recvfrom(1024)
            except socket.timeout:
                continue
            m = re.fullmatch(rb'to-py (\d+)', data)
            if m:
                with self.lock:
                    self.to_py.discard(int(m.group(1)))

    def step(self):
        with self.lock:
            self.n += 1
            n = self.n
            self.to_rs.add(n)
            self.to_py.add(n)
        self.udp.sendto(b'to-rs %d' % n, self.rs_addr)
        self.proc.p.stdin.write(b'/send to-py %d\n' % n)
        self.proc.p.stdin.flush()

    def settle(self, timeout=5.0):
        """Counts each exchange once its datagrams had `timeout` to arrive."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with self.lock:
                if not self.to_rs and not self.to_py:
                    break
            time.sleep(0.05)
        with self.lock:
            for n in range(1, self.n + 1):
                self.counter.add('chat to reseau', n not in self.to_rs, 'datagram %d lost' % n)
                self.counter.add('chat from reseau', n not in self.to_py, 'datagram %d lost' % n)

    def close(self):
        self.done.set()
        try:
            self.proc.p.stdin.write(b'/exit\n')
            self.proc.p.stdin.close()
        except OSError:
            pass
        self.proc.wait(5)
        self.proc.stop()
        self.udp.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=60.0)
    parser.add_argument('--warmup', type=float, default=10.0)
    parser.add_argument('--rate', type=float, default=20.0,
                        help='adder requests, echo messages, web rounds (5 calls) and chat '
                             'exchanges (2 datagrams) per second, each')
    args = parser.parse_args()
    counter = Counter()
    samples = []   # (seconds since start, phase, rss KiB, fds, threads, chat rss)
    with tempfile.TemporaryDirectory(prefix='reseau-soak-') as tmp:
        proc, web, echo, adder = common.start_serve(tmp)
        try:
            chat = ChatPeer(tmp, counter)
        except BaseException:
            proc.stop()
            raise
        running = threading.Event()
        done = threading.Event()
        phase = ['start']
        start = time.monotonic()

        def sampler():
            while not done.is_set():
                try:
                    rss, fds, threads = common.sample(proc.pid)
                    chat_rss = common.sample(chat.proc.pid)[0]
                except OSError:
                    return
                samples.append((time.monotonic() - start, phase[0], rss, fds, threads, chat_rss))
                done.wait(1.0)

        workers = []

        def spawn(step):
            t = threading.Thread(target=Paced(args.rate, running, done).loop, args=(step,),
                                 daemon=True)
            t.start()
            workers.append(t)

        rng = [random.Random(i) for i in range(3)]
        spawn(lambda: adder_step(adder, rng[0], counter))
        spawn(lambda: echo_step(echo, rng[1], counter))
        client = common.Web(web)
        spawn(lambda: web_step(client, rng[2], counter, 0))
        spawn(chat.step)
        threading.Thread(target=sampler, daemon=True).start()

        def idle_point(name):
            running.clear()
            phase[0] = name
            time.sleep(IDLE_PAUSE)
            return common.sample(proc.pid)

        try:
            before = common.sample(proc.pid)
            phase[0] = 'warm-up'
            running.set()
            time.sleep(args.warmup)
            idle_a = idle_point('idle A')
            phase[0] = 'load'
            running.set()
            time.sleep(args.duration)
            idle_b = idle_point('idle B')
            alive = proc.p.poll() is None
        finally:
            done.set()
            running.set()
            for t in workers:
                t.join(common.TIMEOUT + 5)
            client.close()
            chat.settle()
            chat.close()
            proc.stop()
            log = proc.log()

    loaded = [s for s in samples if s[1] == 'load']
    tenth = max(1, len(loaded) // 10)
    rss_first = statistics.median(s[2] for s in loaded[:tenth]) if loaded else 0
    rss_last = statistics.median(s[2] for s in loaded[-tenth:]) if loaded else 0
    print('soak: %.0f s of load at %g/s per kind after a %.0f s warm-up' %
          (args.duration, args.rate, args.warmup))
    for kind in sorted(counter.sent):
        print('  %-17s %7d sent, %7d answered correctly' % (kind, counter.sent[kind],
                                                             counter.ok.get(kind, 0)))
    print('  errors: %d%s' % (len(counter.errors),
                              ''.join('\n    %r' % (e,) for e in counter.errors[:10])))
    print('  reseau serve         RSS KiB  fds  threads')
    print('  before load          %7d  %3d  %3d' % before)
    print('  idle after warm-up   %7d  %3d  %3d' % idle_a)
    print('  idle at the end      %7d  %3d  %3d' % idle_b)
    if loaded:
        print('  under load: RSS first tenth %d KiB, last tenth %d KiB, max %d KiB; '
              'fds %d..%d; threads %d..%d' % (
                  rss_first, rss_last, max(s[2] for s in loaded),
                  min(s[3] for s in loaded), max(s[3] for s in loaded),
                  min(s[4] for s in loaded), max(s[4] for s in loaded)))
        print('  reseau chat RSS: %d KiB at the start of the load, %d KiB at its end'
              % (loaded[0][5], loaded[-1][5]))
    failures = []
    if not alive:
        failures.append('reseau serve died: %s' % log[-2000:])
    if counter.errors:
        failures.append('%d errors' % len(counter.errors))
    if any(counter.sent.get(k, 0) == 0 for k in ('adder', 'echo', 'web page', 'web api',
                                                 'chat to reseau', 'chat from reseau')):
        failures.append('a kind of load never ran: %r' % counter.sent)
    if idle_b[2] != idle_a[2]:
        failures.append('threads %d -> %d' % (idle_a[2], idle_b[2]))
    if idle_b[1] > idle_a[1] + FD_TOLERANCE:
        failures.append('idle descriptors %d -> %d' % (idle_a[1], idle_b[1]))
    if idle_b[0] > idle_a[0] + RSS_TOLERANCE_KIB:
        failures.append('idle RSS %d -> %d KiB' % (idle_a[0], idle_b[0]))
    if rss_last > rss_first + RSS_TOLERANCE_KIB:
        failures.append('RSS under load %d -> %d KiB' % (rss_first, rss_last))
    for f in failures:
        print('FAIL: %s' % f)
    print('soak: %s' % ('FAILED' if failures else 'ok: no error, no lost reply, no growth'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
