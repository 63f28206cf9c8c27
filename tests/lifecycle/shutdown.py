#!/usr/bin/env python3
"""Graceful shutdown of `reseau serve` (web, echo and adder in one process).

Three runs, each with its own temporary folder:

- Under load: course-style clients (the adder's one connection per
  request, echo, keep-alive HTTP GET and POST /api/users) run while
  SIGTERM arrives. Every request whose bytes were all sent before the
  signal gets its complete, correct answer; any later one gets the answer
  or a connection that is refused or ends with no byte of an answer;
  nothing is half-written; the process exits 0, soon; each server logs
  `stopping: N connections draining` and `stopped`; the database passes
  `PRAGMA integrity_check` and holds every user acknowledged with 201 and
  no other row.
- With a client that never reads (an echo stream): the listeners are
  closed at once (a new connection is refused while that connection
  drains) and the process exits 0 at the shutdown deadline, saying so.
- A second signal during the drain ends it at once, still with status 0.

    python3 tests/lifecycle/shutdown.py [-v]
"""

import os
import random
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import OK, PARTIAL  # noqa: E402

# Load clients per kind, and how long the load runs before SIGTERM.
CLIENTS = 3
LOAD_BEFORE_SIGNAL = 1.5
# A server with nothing stuck exits well within this after SIGTERM.
QUICK_EXIT = 4.0


class Load:
    """Clients of every kind, each recording the outcome of every request."""

    def __init__(self, web, echo, adder):
        self.web, self.echo, self.adder = web, echo, adder
        self.stop = common.Stop()
        self.lock = threading.Lock()
        self.outcomes = {'adder': [], 'echo': [], 'web': [], 'post': []}
        # name -> id of every user acknowledged with 201.
        self.acked = {}
        # Names sent in a POST (acknowledged or not).
        self.posted = set()

    def record(self, kind, outcome):
        with self.lock:
            self.outcomes[kind].append(outcome)

    def run_adder(self, n):
        rng = random.Random(n)
        while not self.stop.event.is_set():
            ints = [rng.randrange(0, 1000) for _ in range(rng.randrange(1, 50))]
            self.record('adder', common.adder_request(self.adder, ints))

    def run_echo(self, n):
        rng = random.Random(100 + n)
        while not self.stop.event.is_set():
            message = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
            self.record('echo', common.echo_request(self.echo, message))

    def run_web(self, n):
        client = common.Web(self.web)
        while not self.stop.event.is_set():
            outcome, status, body = client.request('GET', '/')
            if outcome.kind == OK and status != 200:
                outcome = common.Outcome(PARTIAL, outcome.sent, 'status %s' % status)
            self.record('web', outcome)
        client.close()

    def run_post(self, n):
        client = common.Web(self.web)
        i = 0
        while not self.stop.event.is_set():
            i += 1
            name = 'shutdown-%d-%d' % (n, i)
            with self.lock:
                self.posted.add(name)
            outcome, status, body = client.request('POST', '/api/users', {'name': name})
            if outcome.kind == OK:
                if status == 201 and isinstance(body, dict) and body.get('name') == name:
                    with self.lock:
                        self.acked[name] = body['id']
                else:
                    outcome = common.Outcome(PARTIAL, outcome.sent,
                                             'status %s body %r' % (status, body))
            self.record('post', outcome)
        client.close()

    def start(self):
        for n in range(CLIENTS):
            self.stop.spawn(self.run_adder, n)
            self.stop.spawn(self.run_echo, n)
            self.stop.spawn(self.run_web, n)
            self.stop.spawn(self.run_post, n)


class UnderLoad(unittest.TestCase):
    """SIGTERM while clients of every server have requests in flight."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='reseau-shutdown-')
        proc, web, echo, adder = common.start_serve(cls.tmp.name)
        cls.proc = proc
        load = Load(web, echo, adder)
        try:
            load.start()
            time.sleep(LOAD_BEFORE_SIGNAL)
            cls.signalled = time.monotonic()
            proc.signal(signal.SIGTERM)
            cls.status = proc.wait(common.SHUTDOWN_DEADLINE + 5)
            cls.took = time.monotonic() - cls.signalled
            # The clients go on a little against the stopped server.
            time.sleep(0.2)
        finally:
            cls.clients_ended = load.stop.stop()
            proc.stop()
        cls.load = load
        cls.log = proc.log()
        cls.db = os.path.join(cls.tmp.name, 'users.db')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def outcomes(self):
        return [(kind, o) for kind, os_ in self.load.outcomes.items() for o in os_]

    def test_exit_status_is_0(self):
        self.assertEqual(self.status, 0, self.log[-2000:])

    def test_exits_soon_after_the_signal(self):
        self.assertLess(self.took, QUICK_EXIT, self.log[-2000:])

    def test_the_load_was_real(self):
        counts = {kind: sum(1 for o in os_ if o.kind == OK and o.sent < self.signalled)
                  for kind, os_ in self.load.outcomes.items()}
        self.assertTrue(all(n >= 20 for n in counts.values()), counts)
        print('\n  answered before SIGTERM: %s; last 100 ms before it: %d requests sent'
              % (counts, sum(1 for _, o in self.outcomes()
                             if o.sent is not None and 0 <= self.signalled - o.sent < 0.1)),
              file=sys.stderr)

    def test_every_request_sent_before_the_signal_is_answered(self):
        missed = [(kind, o) for kind, o in self.outcomes()
                  if o.sent is not None and o.sent < self.signalled and o.kind != OK]
        self.assertEqual(missed, [])

    def test_nothing_is_half_written(self):
        partial = [(kind, o) for kind, o in self.outcomes() if o.kind == PARTIAL]
        self.assertEqual(partial, [])

    def test_each_server_logs_the_drain_and_its_end(self):
        found = {server: (bool(re.search(r'(?m)^%s: stopping: \d+ connections? draining' % server,
                                         self.log)),
                          bool(re.search(r'(?m)^%s: stopped$' % server, self.log)))
                 for server in ('web', 'echo', 'adder')}
        self.assertEqual(found, {'web': (True, True), 'echo': (True, True),
                                 'adder': (True, True)}, self.log[-2000:])

    def test_the_database_is_intact(self):
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute('PRAGMA integrity_check').fetchall(), [('ok',)])

    def test_every_acknowledged_user_is_stored(self):
        with sqlite3.connect(self.db) as db:
            rows = dict(db.execute('SELECT name, id FROM users').fetchall())
        missing = {n: i for n, i in self.load.acked.items() if rows.get(n) != i}
        self.assertEqual(missing, {})

    def test_no_row_was_made_of_anything_but_a_request(self):
        with sqlite3.connect(self.db) as db:
            names = {name for (name,) in db.execute(
                'SELECT name FROM users WHERE created_at IS NOT NULL')}
            count = db.execute('SELECT count(*) FROM users').fetchone()[0]
        self.assertEqual((names - self.load.posted, count), ({'CBF', 'LUR', 'VRL'}, len(names)))


class Deadline(unittest.TestCase):
    """A connection that never drains (its peer never reads) holds the
    stop until the deadline, with the listeners closed meanwhile."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='reseau-deadline-')
        proc, web, echo, adder = common.start_serve(cls.tmp.name)
        cls.proc = proc
        # Sends to echo without ever reading: the server's output to it
        # fills up and its input stays unread.
        try:
            stuck = common.stuck_client(echo)
        except BaseException:
            proc.stop()
            raise
        try:
            signalled = time.monotonic()
            proc.signal(signal.SIGTERM)
            proc.wait_for(r'echo: stopping: 1 connection draining')
            proc.wait_for(r'adder: stopped')
            proc.wait_for(r'web: stopped')
            cls.refused = {}
            for name, address in (('web', web), ('echo', echo), ('adder', adder)):
                try:
                    common.connect(address).close()
                    cls.refused[name] = False
                except ConnectionRefusedError:
                    cls.refused[name] = True
            cls.running_while_draining = proc.p.poll() is None
            cls.status = proc.wait(common.SHUTDOWN_DEADLINE + 5)
            cls.took = time.monotonic() - signalled
        finally:
            stuck.close()
            proc.stop()
        cls.log = proc.log()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_new_connections_are_refused_while_draining(self):
        self.assertEqual((self.running_while_draining, self.refused),
                         (True, {'web': True, 'echo': True, 'adder': True}))

    def test_exits_0_at_the_deadline(self):
        at_deadline = common.SHUTDOWN_DEADLINE - 0.5 <= self.took < common.SHUTDOWN_DEADLINE + 3
        self.assertEqual((self.status, at_deadline), (0, True),
                         'after %.2f s: %s' % (self.took, self.log[-2000:]))

    def test_the_log_says_the_connection_was_closed_at_the_deadline(self):
        self.assertIn('echo: stopped: 1 connection closed at the 10 s deadline',
                      self.log.splitlines())


class SecondSignal(unittest.TestCase):
    """SIGINT during the drain closes what is left at once."""

    def test_a_second_signal_ends_the_drain_with_status_0(self):
        with tempfile.TemporaryDirectory(prefix='reseau-second-') as tmp:
            proc, web, echo, adder = common.start_serve(tmp)
            try:
                stuck = common.stuck_client(echo)
            except BaseException:
                proc.stop()
                raise
            try:
                proc.signal(signal.SIGTERM)
                proc.wait_for(r'echo: stopping: 1 connection draining')
                signalled = time.monotonic()
                proc.signal(signal.SIGINT)
                status = proc.wait(common.SHUTDOWN_DEADLINE + 5)
                took = time.monotonic() - signalled
            finally:
                stuck.close()
                proc.stop()
            log = proc.log()
            self.assertEqual((status, took < 2.0,
                              'echo: SIGINT received again: closing the 1 connection left' in log),
                             (0, True, True), log)


if __name__ == '__main__':
    unittest.main()
