#!/usr/bin/env python3
"""GET /metrics of the real `reseau` binary, read by a strict peer.

Each page is parsed whole by `prometheus_client`'s text parser (pinned, in
the venv of tests/deploy/run.sh) and by the checks here that it does not
make: every family's HELP and TYPE before its samples, its samples
together, no series twice, cumulative buckets whose +Inf is `_count`.

1. `reseau serve`: after known traffic (3 GET /app, 1 POST /api/users, 2
   adder requests, 2 echo messages) the counts are exact.
2. 1000 distinct unknown paths add one series, no more (route="other").
3. `reseau adder serve --metrics ADDR` and `reseau echo serve --metrics
   ADDR`: /metrics with the service's counts, /healthz 200, 404 elsewhere.

    python3 tests/deploy/metrics_test.py
Exits 1 on the first failure.
"""

import http.client
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lifecycle'))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import OK  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


def get(address, path):
    """(status, Content-Type, body text) of one GET on a new connection."""
    conn = http.client.HTTPConnection(*address, timeout=common.TIMEOUT)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.getheader('Content-Type'), r.read().decode()
    finally:
        conn.close()


def strict(text):
    """The checks the parser leaves out; returns the samples as a dict
    {(name, sorted labels): value}."""
    declared = {}   # family -> type
    done = set()    # families whose samples have ended
    current = None
    series = set()
    for line in text.splitlines():
        if line.startswith('# HELP '):
            continue
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ', 3)
            assert name not in declared, 'family %s declared twice' % name
            declared[name] = kind
            if current:
                done.add(current)
            current = name
            continue
        assert line and not line.startswith('#'), 'unexpected line %r' % line
        name = line.split('{')[0].split(' ')[0]
        family = name
        for suffix in ('_bucket', '_sum', '_count'):
            if name.endswith(suffix) and name[:-len(suffix)] in declared:
                family = name[:-len(suffix)]
        assert family in declared, 'sample %r before its TYPE' % line
        assert family == current, 'sample %r outside its family' % line
        assert family not in done
        key = line.rsplit(' ', 1)[0]
        assert key not in series, 'series twice: %r' % key
        series.add(key)
    samples = {}
    for family in text_string_to_metric_families(text):
        # The parser names a counter's family without its `_total`.
        kind = declared.get(family.name) or declared.get(family.name + '_total')
        assert kind == family.type, (family.name, kind, family.type)
        if family.type == 'histogram':
            buckets = [s for s in family.samples if s.name.endswith('_bucket')]
            counts = [s.value for s in buckets]
            assert counts == sorted(counts), 'buckets not cumulative: %r' % counts
            assert buckets[-1].labels['le'] == '+Inf'
            total = [s.value for s in family.samples if s.name.endswith('_count')]
            assert total == [counts[-1]], (total, counts)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def scrape(address):
    status, content_type, body = get(address, '/metrics')
    assert status == 200, status
    assert content_type == CONTENT_TYPE, content_type
    return strict(body)


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def http_series(samples):
    return {k for k in samples if k[0] == 'reseau_http_requests_total'}


def test_serve(tmp):
    proc, web, echo, adder = common.start_serve(tmp, ['--threads', '1'])
    try:
        client = common.Web(web)
        for _ in range(3):
            outcome, status, _ = client.request('GET', '/app')
            assert (outcome.kind, status) == (OK, 200), (outcome, status)
        outcome, status, _ = client.request('POST', '/api/users', {'name': 'metrics-1'})
        assert (outcome.kind, status) == (OK, 201), (outcome, status)
        client.close()
        for ints in ([1, 2, 3], [40, 2]):
            assert common.adder_request(adder, ints).kind == OK
        for message in (b'hello', b'metrics!'):
            assert common.echo_request(echo, message).kind == OK
        s = scrape(web)
        expected = [
            ('reseau_http_requests_total', dict(route='/app', method='GET', status='200'), 3),
            ('reseau_http_requests_total',
             dict(route='/api/users', method='POST', status='201'), 1),
            ('reseau_adder_requests_total', dict(format='pickle'), 2),
            ('reseau_adder_ints_total', {}, 5),
            ('reseau_echo_messages_total', {}, 2),
            ('reseau_echo_bytes_total', {}, 13),
            ('reseau_connections_accepted_total', dict(service='adder'), 2),
            ('reseau_connections_accepted_total', dict(service='echo'), 2),
        ]
        for name, labels, want in expected:
            got = value(s, name, **labels)
            assert got == want, '%s%r: %r, not %r' % (name, labels, got, want)
        # The histogram counts every request a handler answered (the
        # scrape itself is counted once it is answered).
        count = value(s, 'reseau_http_request_duration_seconds_count')
        assert count == 4, count
        print('ok: serve: exact counts after known traffic')

        before = http_series(s)
        client = common.Web(web)
        for n in range(1000):
            outcome, status, _ = client.request('GET', '/no/such/page-%d?q=%d' % (n, n))
            assert (outcome.kind, status) == (OK, 404), (outcome, status)
        client.close()
        s = scrape(web)
        added = http_series(s) - before
        other = ('reseau_http_requests_total',
                 (('method', 'GET'), ('route', 'other'), ('status', '404')))
        metrics_route = ('reseau_http_requests_total',
                         (('method', 'GET'), ('route', '/metrics'), ('status', '200')))
        assert added - {metrics_route} == {other}, added
        assert s[other] == 1000, s[other]
        print('ok: serve: 1000 unknown paths add one series (route="other"), counted 1000')
    finally:
        proc.stop()


def test_standalone(tmp, command, traffic, family, want):
    from haproxy import free_port
    metrics = ('127.0.0.1', free_port())
    proc = common.Proc([command, 'serve', '--bind', '127.0.0.1:0',
                        '--metrics', '%s:%d' % metrics], os.path.join(tmp, command + '.log'))
    try:
        served = common.addr(proc.wait_for(r'%s: listening on (\S+)' % command).group(1))
        proc.wait_for(r'metrics: listening on')
        assert get(metrics, '/healthz')[0] == 200
        assert get(metrics, '/other')[0] == 404
        traffic(served)
        s = scrape(metrics)
        got = value(s, family[0], **family[1])
        assert got == want, '%s: %r, not %r' % (family, got, want)
        assert value(s, 'reseau_connections_accepted_total', service=command) == 2
        print('ok: %s serve --metrics: /healthz 200, other paths 404, exact counts' % command)
    finally:
        proc.stop()


def main():
    with tempfile.TemporaryDirectory(prefix='reseau-metrics-') as tmp:
        test_serve(tmp)

        def adder(address):
            for ints in ([1, 2], [3]):
                assert common.adder_request(address, ints).kind == OK

        def echo(address):
            for message in (b'a', b'bc'):
                assert common.echo_request(address, message).kind == OK

        test_standalone(tmp, 'adder', adder, ('reseau_adder_requests_total', dict(format='pickle')), 2)
        test_standalone(tmp, 'echo', echo, ('reseau_echo_bytes_total', {}), 3)


if __name__ == '__main__':
    main()
