#!/usr/bin/env python3
"""Durability of `reseau web`: `kill -9` during a stream of POST /api/users.

Each round starts `reseau web` on the same database file, runs several
course-style clients (http.client, keep-alive) that each POST new users as
fast as they are answered, and kills the server with SIGKILL at a random
moment while requests are in flight. After each kill, Python's sqlite3
opens the file: `PRAGMA integrity_check` must say ok, and every user
acknowledged with 201 (in any round so far) must be there with the id the
201 gave. The next round's server, on the same file, must list each of
them through GET /api/users/{id} too.

    python3 tests/lifecycle/durability.py [--kills N] [--clients C] [--seed S]

Prints one line per round and a summary; exits 1 on the first failure.
"""

import argparse
import os
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import OK  # noqa: E402


def stream(web, n, round_no, stop, acked, lock, counts):
    """POSTs users until `stop`; records every 201 in `acked` (name -> id)."""
    client = common.Web(web)
    i = 0
    while not stop.is_set():
        i += 1
        name = 'kill%d-c%d-%d' % (round_no, n, i)
        outcome, status, body = client.request('POST', '/api/users', {'name': name})
        with lock:
            if outcome.kind == OK and status == 201 and body.get('name') == name:
                acked[name] = body['id']
                counts['acked'] += 1
            elif outcome.kind == OK:
                counts['bad'].append((name, status, body))
            else:
                # The server died before answering: the row may or may
                # not be there; both are fine.
                counts['unanswered'] += 1
                if outcome.kind == common.REFUSED:
                    return
    client.close()


def check_file(db_path, acked):
    """Fails unless the file is intact and holds every acknowledged user."""
    # A fresh connection runs SQLite's recovery of the WAL, as a restart would.
    db = sqlite3.connect(db_path)
    try:
        integrity = db.execute('PRAGMA integrity_check').fetchall()
        rows = dict(db.execute('SELECT name, id FROM users').fetchall())
    finally:
        db.close()
    if integrity != [('ok',)]:
        raise AssertionError('integrity_check: %r' % integrity)
    lost = {name: i for name, i in acked.items() if rows.get(name) != i}
    if lost:
        raise AssertionError('%d acknowledged users lost, e.g. %r'
                             % (len(lost), sorted(lost.items())[:5]))
    return len(rows)


def check_api(web, acked):
    """Fails unless the restarted server answers each acknowledged user."""
    client = common.Web(web)
    try:
        for name, i in acked.items():
            outcome, status, body = client.request('GET', '/api/users/%d' % i)
            if (outcome.kind, status, body) != (OK, 200, {'id': i, 'name': name}):
                raise AssertionError('GET /api/users/%d after restart: %r %r %r'
                                     % (i, outcome, status, body))
    finally:
        client.close()


def api_sample(acked, last_round, rng, earlier=200):
    """The users of `last_round` and up to `earlier` others, name -> id."""
    others = sorted(set(acked) - last_round)
    names = last_round | set(rng.sample(others, min(earlier, len(others))))
    return {name: acked[name] for name in names}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kills', type=int, default=5)
    parser.add_argument('--clients', type=int, default=6)
    parser.add_argument('--seed', type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    print('durability: %d kills, %d clients, seed %d' % (args.kills, args.clients, seed))
    acked = {}
    last_round = set()
    total_unanswered = 0
    with tempfile.TemporaryDirectory(prefix='reseau-durability-') as tmp:
        db_path = os.path.join(tmp, 'users.db')
        for round_no in range(1, args.kills + 1):
            proc, web = common.start_web(tmp, db_path, 'web-%d.log' % round_no)
            try:
                # The users acknowledged before the last kill, and a sample
                # of the earlier ones, through the API (the file check
                # above covers them all).
                check_api(web, api_sample(acked, last_round, rng))
                stop = threading.Event()
                lock = threading.Lock()
                counts = {'acked': 0, 'unanswered': 0, 'bad': []}
                threads = [threading.Thread(target=stream, daemon=True,
                                            args=(web, n, round_no, stop, acked, lock, counts))
                           for n in range(args.clients)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0.3, 1.2))
                proc.signal(signal.SIGKILL)
                status = proc.wait(10)
                stop.set()
                for t in threads:
                    t.join(common.TIMEOUT + 5)
                if any(t.is_alive() for t in threads):
                    raise AssertionError('a client did not end')
            finally:
                proc.stop()
            if status != -signal.SIGKILL:
                raise AssertionError('round %d: exit status %r, not SIGKILL' % (round_no, status))
            if counts['bad']:
                raise AssertionError('round %d: unexpected answers %r' % (round_no, counts['bad'][:5]))
            if counts['acked'] == 0:
                raise AssertionError('round %d: no user acknowledged before the kill' % round_no)
            last_round = {name for name in acked if name.startswith('kill%d-' % round_no)}
            rows = check_file(db_path, acked)
            total_unanswered += counts['unanswered']
            print('round %d: %d acknowledged (%d in all), %d unanswered at the kill, '
                  '%d rows, integrity ok, none lost'
                  % (round_no, counts['acked'], len(acked), counts['unanswered'], rows),
                  flush=True)
        # The last kill's users, through a restarted server.
        proc, web = common.start_web(tmp, db_path, 'web-last.log')
        try:
            check_api(web, api_sample(acked, last_round, rng))
        finally:
            proc.stop()
    print('durability: %d kills, %d users acknowledged, 0 lost, %d requests unanswered '
          'at a kill, integrity ok after every kill' % (args.kills, len(acked), total_unanswered))
    return 0


if __name__ == '__main__':
    sys.exit(main())
