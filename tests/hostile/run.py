#!/usr/bin/env python3
"""Hostile clients against every server of the real `reseau` binary.

Starts `reseau adder serve` (twice: the course's way with a small
--max-frame, and --keep-alive with the default one), `reseau echo serve`,
`reseau chat` and `reseau web`, each with a small connection limit and short
timeouts, then runs every case of cases.py against them, one at a time,
each bounded in time (CASE_TIMEOUT). After each case:

- a normal client gets the correct answer (the adder sums [1, 2, 3] to 6,
  echo sends back 'ping', the chat prints a datagram, the site answers
  POST /api/sum);
- the server's open files (/proc/PID/fd) are back to their number before
  the first case, within FD_WAIT seconds, and its resident memory
  (/proc/PID/status VmRSS) is within RSS_SLACK of it;
- every line the server wrote since (stderr, and the chat's stdout) is
  valid UTF-8 with no control character but the newline that ends it, no
  DEL, no C1 control and no bidi control.

Prints one line per case: `ok`/`FAIL`, the case, its time, the resource
figures, and why it failed. Exits 1 if any case failed.

Usage:
    python3 tests/hostile/run.py [--reseau target/release/reseau] [-k WORD] [--list] [--rounds N]
Standard library only.
"""

import argparse
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from common import (CASE_TIMEOUT, FD_WAIT, IDLE_TIMEOUT, MAX_CONNECTIONS,  # noqa: E402
                    REQUEST_TIMEOUT, ADDER_MAX_FRAME, RSS_SLACK, CaseTimeout, Server, Skip,
                    check_lines, normal_check)
from cases import CASES  # noqa: E402


# ---------------------------------------------------------------- the run


def start_servers(reseau, tmp):
    limits = ['--max-connections', str(MAX_CONNECTIONS), '--idle-timeout', str(IDLE_TIMEOUT)]
    conf = os.path.join(tmp, 'server.conf')
    with open(conf, 'w') as f:
        f.write("[global]\n"
                "server.socket_host: '127.0.0.1'\n"
                "server.socket_port: 0\n"
                "server.thread_pool: 2\n"
                "server.socket_timeout: %d\n"
                "reseau.max_connections: %d\n"
                "reseau.request_timeout: %d\n" % (IDLE_TIMEOUT, MAX_CONNECTIONS, REQUEST_TIMEOUT))
    servers = {}
    try:
        servers['adder'] = Server('adder', [reseau, 'adder', 'serve', '--bind', '127.0.0.1:0',
                                            '--max-frame', str(ADDER_MAX_FRAME)] + limits, tmp)
        servers['adder-keepalive'] = Server('adder-keepalive', [reseau, 'adder', 'serve', '--bind',
                                                                '127.0.0.1:0', '--keep-alive'] + limits, tmp)
        servers['echo'] = Server('echo', [reseau, 'echo', 'serve', '--bind', '127.0.0.1:0'] + limits, tmp)
        servers['chat'] = Server('chat', [reseau, 'chat', '--bind', '127.0.0.1:0'], tmp, stdin=True)
        servers['web'] = Server('web', [reseau, 'web', '--config', conf, '--bind', '127.0.0.1:0',
                                        '--db', os.path.join(tmp, 'site.db')], tmp)
    except Exception:
        for srv in servers.values():
            srv.stop()
        raise
    return servers


def settle(srv, baseline_fds):
    """Waits (FD_WAIT at most) for the open files to come back; returns
    (fds, rss)."""
    deadline = time.monotonic() + FD_WAIT
    while True:
        fds = srv.fds()
        if fds <= baseline_fds or time.monotonic() >= deadline:
            return fds, srv.rss()
        time.sleep(0.05)


def on_alarm(signum, frame):
    raise CaseTimeout('case still running after %ds' % CASE_TIMEOUT)


def run_case(case, srv, ctx):
    """Runs one case and the checks after it; returns (error or None,
    figures or None)."""
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(CASE_TIMEOUT)
    error, figures = None, None
    try:
        detail = case.fn(srv, ctx)
        if not srv.alive():
            error = 'the server died (exit %s)' % srv.proc.returncode
        else:
            normal_check(case.server, srv)
            fds, rss = settle(srv, srv.baseline[0])
            base_fds, base_rss = srv.baseline
            figures = 'fds %d->%d, rss %.1f->%.1f MiB' % (base_fds, fds, base_rss / 2**20, rss / 2**20)
            if detail:
                figures += ', ' + detail
            if fds > base_fds:
                error = 'open files not back within %.0fs: %s' % (FD_WAIT, figures)
            elif rss > base_rss + RSS_SLACK:
                error = 'resident memory grew by more than %d MiB: %s' % (RSS_SLACK >> 20, figures)
    except Skip as why:
        signal.alarm(0)
        return None, 'skipped: %s' % why
    except (AssertionError, CaseTimeout) as failure:
        error = str(failure) or failure.__class__.__name__
    except Exception as failure:
        error = '%s: %s' % (failure.__class__.__name__, failure)
    finally:
        signal.alarm(0)
    # The lines written during the case, whatever became of it.
    try:
        check_lines(srv)
    except AssertionError as unsafe:
        error = error or str(unsafe)
    return error, figures


def main(argv=None):
    parser = argparse.ArgumentParser(description='Hostile clients against every reseau server.')
    parser.add_argument('--reseau', default=os.path.join(ROOT, 'target', 'release', 'reseau'))
    parser.add_argument('-k', dest='word', help='only the cases whose name contains WORD')
    parser.add_argument('--list', action='store_true', help='list the cases and exit')
    parser.add_argument('--rounds', type=int, default=1,
                        help='run every case this many times against the same servers (a longer campaign)')
    args = parser.parse_args(argv)

    cases = [c for c in CASES if not args.word or args.word in c.name]
    if args.list:
        for c in cases:
            print('%-40s %s' % (c.name, c.doc))
        return 0
    # The servers run in a temporary folder: a relative path would not
    # name the binary there.
    args.reseau = os.path.abspath(args.reseau)
    if not os.access(args.reseau, os.X_OK):
        print('no reseau binary at %s (cargo build --release -p reseau-host)' % args.reseau)
        return 2

    started = time.monotonic()
    failed = 0
    skipped = 0
    with tempfile.TemporaryDirectory(prefix='reseau-hostile-') as tmp:
        servers = start_servers(args.reseau, tmp)
        ctx = {'tmp': tmp, 'reseau': args.reseau, 'root': ROOT, 'servers': servers}
        try:
            for name, srv in servers.items():
                # Warm up (first connection, database, worker threads).
                normal_check(name, srv)
                time.sleep(0.2)
                srv.baseline = (srv.fds(), srv.rss())
                check_lines(srv)
            for case in cases * max(1, args.rounds):
                srv = servers[case.server]
                t0 = time.monotonic()
                error, figures = run_case(case, srv, ctx)
                took = time.monotonic() - t0
                if error:
                    failed += 1
                    if len(error) > 400:
                        error = error[:400] + '... (%d characters)' % len(error)
                    print('FAIL %-40s %5.1fs  %s' % (case.name, took, error), flush=True)
                elif figures.startswith('skipped: '):
                    skipped += 1
                    print('skip %-40s %5.1fs  %s' % (case.name, took, figures[len('skipped: '):]), flush=True)
                else:
                    print('ok   %-40s %5.1fs  %s' % (case.name, took, figures), flush=True)
        finally:
            codes = {name: srv.stop() for name, srv in servers.items()}
        for name, srv in servers.items():
            try:
                check_lines(srv)
            except AssertionError as error:
                failed += 1
                print('FAIL %-40s %s' % (name + '.log_at_exit', error))
        # The chat ends at the end of its input with 0; the servers with 0
        # on SIGTERM (PROTOCOL.md).
        for name, code in codes.items():
            if code != 0:
                failed += 1
                print('FAIL %-40s exit status %s' % (name + '.exit', code))
    print('%d cases run, %d failed, %d skipped, %.0fs' % (len(cases) * max(1, args.rounds), failed, skipped,
                                                          time.monotonic() - started))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
