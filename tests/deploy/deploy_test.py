#!/usr/bin/env python3
"""Several instances behind HAProxy: the deployment of README's "Deploying".

Two `reseau web` on one PostgreSQL database (tests/postgres/cluster.py)
behind HAProxy's HTTP mode (round robin, checks on /healthz), and two
`reseau adder serve` and two `reseau echo serve` behind its TCP mode:

a. a user created through instance 1 is read through instance 2 (each
   addressed directly), and one created through HAProxy is read through
   HAProxy and through each instance;
b. the same name POSTed at once to both instances: exactly one 201 and
   one 409, every round;
c. `kill -9` of instance 1 during a stream of POSTs through HAProxy:
   every user acknowledged with 201 is in the database, the only failures
   are requests in flight at the kill (at most one per writer, none
   sent later than KILL_WINDOW after it), HAProxy marks the instance
   down, and instance 2 answers everything after that;
d. the course-style adder and echo clients through HAProxy's TCP mode get
   correct answers, spread over both instances (each instance's /metrics).

    python3 tests/deploy/deploy_test.py [--rounds N]
Exits 1 on the first failure; every loop is bounded in count and time.
"""

import argparse
import os
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'lifecycle'))
sys.path.insert(0, os.path.join(HERE, '..', 'postgres'))
import common  # noqa: E402
from common import OK  # noqa: E402
from haproxy import HAProxy, free_port  # noqa: E402
import metrics_test  # noqa: E402

# Writers in the kill test: each has at most one request in flight.
WRITERS = 4
# A request that fails at the kill was sent at most this long after it.
KILL_WINDOW = 0.5
# After this long HAProxy has marked the dead instance down (2 checks
# at 200 ms).
DOWN_WITHIN = 2.0


def web_instance(tmp, db, n):
    return common.start_web(tmp, db, 'web%d.log' % n)


def plain_instance(tmp, command, n):
    metrics = ('127.0.0.1', free_port())
    proc = common.Proc([command, 'serve', '--bind', '127.0.0.1:0', '--threads', '1',
                        '--metrics', '%s:%d' % metrics],
                       os.path.join(tmp, '%s%d.log' % (command, n)))
    served = common.addr(proc.wait_for(r'%s: listening on (\S+)' % command).group(1))
    proc.wait_for(r'metrics: listening on')
    return proc, served, metrics


def post(address, name):
    client = common.Web(address)
    try:
        return client.request('POST', '/api/users', {'name': name})
    finally:
        client.close()


def get_user(address, uid):
    client = common.Web(address)
    try:
        outcome, status, body = client.request('GET', '/api/users/%d' % uid)
        assert outcome.kind == OK, outcome
        return status, body
    finally:
        client.close()


def test_shared_data(web1, web2, lb):
    outcome, status, body = post(web1, 'shared-1')
    assert (outcome.kind, status) == (OK, 201), (outcome, status, body)
    status, read = get_user(web2, body['id'])
    assert (status, read['name']) == (200, 'shared-1'), (status, read)
    outcome, status, body = post(lb.web, 'shared-2')
    assert (outcome.kind, status) == (OK, 201), (outcome, status, body)
    for address in (lb.web, lb.web, web1, web2):
        status, read = get_user(address, body['id'])
        assert (status, read['name']) == (200, 'shared-2'), (address, status, read)
    print('ok: a: a user created through one instance is read through the other and through HAProxy')


def test_concurrent_names(web1, web2, rounds):
    until = time.monotonic() + 60
    for r in range(rounds):
        assert time.monotonic() < until, 'round %d past 60 s' % r
        name = 'race-%d' % r
        barrier = threading.Barrier(2, timeout=10)
        statuses = [None, None]

        def one(i, address):
            client = common.Web(address)
            # Connected first: the barrier lines up the requests themselves.
            client.request('GET', '/healthz')
            barrier.wait()
            outcome, status, _ = client.request('POST', '/api/users', {'name': name})
            statuses[i] = status if outcome.kind == OK else outcome.kind
            client.close()

        threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate((web1, web2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sorted(statuses, key=str) == [201, 409], 'round %d: %r' % (r, statuses)
    print('ok: b: %d rounds of one name at once on both instances: one 201 and one 409 each' % rounds)


def test_kill(pg, proc1, lb, seconds=4.0):
    stop = threading.Event()
    results = []   # (writer, outcome, status, body, sent)
    lock = threading.Lock()

    def writer(w):
        client = common.Web(lb.web)
        i = 0
        until = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < until:
            i += 1
            outcome, status, body = client.request('POST', '/api/users',
                                                   {'name': 'kill-w%d-%d' % (w, i)})
            sent = outcome.sent if outcome.sent is not None else time.monotonic()
            with lock:
                results.append((w, outcome, status, body, sent))
        client.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    os.kill(proc1.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    proc1.p.wait(10)
    time.sleep(seconds * 2 / 3)
    stop.set()
    for t in threads:
        t.join(40)
    assert not any(t.is_alive() for t in threads)

    acked = {body['id']: body['name'] for _, o, status, body, _ in results
             if o.kind == OK and status == 201}
    failed = [(w, o, status, sent - killed_at) for w, o, status, body, sent in results
              if not (o.kind == OK and status == 201)]
    rows = dict(line.split('|', 1) for line in
                pg.psql("SELECT id, name FROM users WHERE name LIKE 'kill-%'").splitlines())
    rows = {int(k): v for k, v in rows.items()}
    lost = {uid: name for uid, name in acked.items() if rows.get(uid) != name}
    assert not lost, 'acknowledged users not in the database: %r' % lost
    assert len(failed) <= WRITERS, 'more failures than requests in flight: %r' % failed
    late = [f for f in failed if not -KILL_WINDOW <= f[3] <= KILL_WINDOW]
    assert not late, 'failures away from the kill: %r' % late
    assert len(acked) <= len(rows) <= len(acked) + len(failed), (len(acked), len(rows), len(failed))
    after = [r for r in results if r[4] > killed_at + DOWN_WITHIN]
    assert after and all(o.kind == OK and s == 201 for _, o, s, _, _ in after), after[:3]
    log = lb.log()
    assert 'reseau_web/web1 is DOWN' in log, log
    print('ok: c: kill -9 of one instance under %d writers: %d acknowledged, all in the '
          'database; %d failed, all in flight at the kill (%s); %d answered by the other '
          'after; HAProxy marked it DOWN'
          % (WRITERS, len(acked), len(failed),
             ', '.join('%s %+.3f s' % (s or o.kind, t) for _, o, s, t in failed) or 'none',
             len(after)))


def test_tcp_mode(lb, adders, echoes, requests=20):
    for n in range(requests):
        ints = list(range(n + 1))
        outcome = common.adder_request(lb.adder, ints)
        assert outcome.kind == OK, outcome
        message = b'deploy %02d' % n
        outcome = common.echo_request(lb.echo, message)
        assert outcome.kind == OK, outcome
    per_adder = [metrics_test.value(metrics_test.scrape(m), 'reseau_adder_requests_total',
                                    format='pickle') for _, _, m in adders]
    # Bytes, not messages: HAProxy's connect checks are empty messages.
    per_echo = [metrics_test.value(metrics_test.scrape(m), 'reseau_echo_bytes_total')
                for _, _, m in echoes]
    # Every request reached exactly one instance, and both instances served.
    # Not an exact half each: HAProxy's round robin is exact only while no
    # check or retry intervenes (a CI run saw 11 and 9, every answer right),
    # and that split is HAProxy's behaviour, not reseau's.
    assert sum(per_adder) == requests, per_adder
    assert min(per_adder) > 0, per_adder
    assert sum(per_echo) == len(message) * requests, per_echo
    assert min(per_echo) > 0, per_echo
    print('ok: d: %d adder and %d echo requests through HAProxy TCP mode, correct; '
          'adder requests per instance %r, echo bytes per instance %r'
          % (requests, requests, per_adder, per_echo))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=50)
    args = parser.parse_args()
    from cluster import Cluster
    procs = []
    with tempfile.TemporaryDirectory(prefix='reseau-deploy-') as tmp, Cluster() as pg:
        try:
            adders = [plain_instance(tmp, 'adder', n) for n in (1, 2)]
            echoes = [plain_instance(tmp, 'echo', n) for n in (1, 2)]
            procs += [p for p, _, _ in adders + echoes]
            proc1, web1 = web_instance(tmp, pg.url, 1)
            procs.append(proc1)
            proc2, web2 = web_instance(tmp, pg.url, 2)
            procs.append(proc2)
            with HAProxy([web1, web2], [a for _, a, _ in adders],
                         [e for _, e, _ in echoes]) as lb:
                test_tcp_mode(lb, adders, echoes)
                test_shared_data(web1, web2, lb)
                test_concurrent_names(web1, web2, args.rounds)
                test_kill(pg, proc1, lb)
        finally:
            for p in procs:
                p.stop()


if __name__ == '__main__':
    main()
