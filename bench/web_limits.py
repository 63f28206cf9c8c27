#!/usr/bin/env python3
"""Measures how an HTTP/1.1 server holds up on an open network (issue 5's
targets): a burst of keep-alive connections opened at the same instant, and
normal requests while idle and slowloris connections are held open.

Run against a server that is already listening (its PID is read for the
thread count and memory in /proc/PID/status):

    python3 bench/web_limits.py --addr 127.0.0.1:8080 --pid PID [--name reseau]
        [--md REPORT.md] [--expect-cut-after 10] [--idle 1000] [--slow 50]

(bench/run runs it against reseau.)

(a) burst: ROUNDS times, 32 threads wait at a barrier, then each connects,
    sends `GET / HTTP/1.1` (keep-alive) and reads the full answer; the time
    from the barrier to the end of the answer is reported per connection
    (p50, max; target: all within 100 ms).
(b) hold: 1000 idle connections (connected, nothing sent) and 50 slowloris
    connections (a partial head, then one more header line every few
    seconds, never finished). Meanwhile a normal request on a fresh
    connection every 0.5 s (target: answered within 50 ms). For every held
    connection, when the server cuts it (EOF or reset), measured from its
    opening (target: slowloris cut after about --expect-cut-after seconds).
    Threads, VmRSS and VmHWM of the server before, during and after.

Plain Python 3 standard library. Every wait is bounded: each socket
operation has a timeout, each opening of connections stops after --open-max
seconds, and the hold ends after --hold-max seconds at most.
Only the given address is contacted (use a loopback address).
Exit status: 0 when every target was met, 1 when one was not, 2 on error.
"""

import argparse
import errno
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time


def log(msg):
    print('[%s] web_limits: %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr, flush=True)


def proc_status(pid):
    """Threads, VmRSS and VmHWM (kB) of pid, and its open fds."""
    out = {}
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                if k in ('Threads', 'VmRSS', 'VmHWM'):
                    out[k] = int(v.split()[0])
        out['fds'] = len(os.listdir('/proc/%d/fd' % pid))
    except OSError as e:
        out['error'] = str(e)
    return out


def fmt_status(s):
    if 'error' in s:
        return 'unreadable (%s)' % s['error']
    return '%d threads, VmRSS %d kB, VmHWM %d kB, %d fds' % (
        s.get('Threads', -1), s.get('VmRSS', -1), s.get('VmHWM', -1), s.get('fds', -1))


def read_response(sock, deadline):
    """Reads one HTTP/1.1 response (Content-Length or chunked) from sock
    until deadline. Returns (status code, total bytes). Raises on error."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError('closed before the end of the head')
        buf += chunk
    head, _, body = buf.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    parts = lines[0].split()
    if len(parts) < 2 or not parts[0].startswith(b'HTTP/1.'):
        raise ValueError('bad status line %r' % lines[0][:80])
    status = int(parts[1])
    length, chunked = None, False
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        k = k.strip().lower()
        if k == b'content-length':
            length = int(v.strip())
        elif k == b'transfer-encoding' and b'chunked' in v.lower():
            chunked = True

    def more():
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        c = sock.recv(65536)
        if not c:
            raise ConnectionError('closed before the end of the body')
        return c

    if chunked:
        while not body.endswith(b'0\r\n\r\n'):
            body += more()
    elif length is not None:
        while len(body) < length:
            body += more()
    # else: no body length; treat as having none (HEAD-like, 204, 304)
    return status, len(head) + 4 + len(body)


def request_line(host, path):
    return ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: web_limits\r\n\r\n' % (path, host)).encode()


def probe(addr, path, timeout):
    """One GET on a fresh connection; returns (seconds, status or error)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(request_line(addr[0], path))
            status, _ = read_response(s, t0 + timeout)
        return time.monotonic() - t0, status
    except (OSError, ValueError) as e:
        return time.monotonic() - t0, 'error: %s' % (e.__class__.__name__ if not str(e) else e)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float('nan')
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def burst(addr, path, n, timeout):
    """n threads, one barrier, a connection and a request each. Returns a
    list of (seconds or None, status or error)."""
    barrier = threading.Barrier(n, timeout=30)
    results = [None] * n
    socks = [None] * n

    def worker(i):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            results[i] = (None, 'error: barrier broken')
            return
        t0 = time.monotonic()
        try:
            s = socket.create_connection(addr, timeout=timeout)
            socks[i] = s  # kept open (keep-alive) until every thread is done
            s.sendall(request_line(addr[0], path))
            status, _ = read_response(s, t0 + timeout)
            results[i] = (time.monotonic() - t0, status)
        except (OSError, ValueError) as e:
            results[i] = (None, 'error after %.3f s: %s' % (time.monotonic() - t0, e))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 35)
    for s in socks:
        if s is not None:
            s.close()
    return [r if r is not None else (None, 'error: thread did not finish') for r in results]


def hold(args, addr, md, checks):
    sel = selectors.DefaultSelector()
    conns = {}  # fileno -> dict(kind, sock, opened, cut, how, next_send)

    def register(sock, kind):
        sock.setblocking(False)
        c = dict(kind=kind, sock=sock, opened=time.monotonic(), cut=None, how=None,
                 next_send=time.monotonic() + args.slow_interval, got=0)
        conns[sock.fileno()] = c
        sel.register(sock, selectors.EVENT_READ, c)

    def mark_cut(c, how):
        if c['cut'] is None:
            c['cut'] = time.monotonic() - c['opened']
            c['how'] = how
            try:
                sel.unregister(c['sock'])
            except (KeyError, ValueError):
                pass

    def pump(timeout):
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                data = c['sock'].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                mark_cut(c, 'reset' if e.errno == errno.ECONNRESET else e.__class__.__name__)
                continue
            if not data:
                mark_cut(c, 'EOF' if not c['got'] else 'EOF after an answer')
            else:
                if not c['got']:
                    first = data.split(b'\r\n', 1)[0][:40].decode('latin-1')
                    c['answer'] = first
                c['got'] += len(data)

    before = proc_status(args.pid)
    log('hold: before: %s' % fmt_status(before))
    base = [probe(addr, args.path, args.probe_timeout) for _ in range(10)]

    # Idle connections: connected, nothing sent. Non-blocking connects in
    # batches of 100; after each batch, up to 2 s for the server to accept
    # them (its fd count), since a burst larger than the listen backlog
    # overflows it and leaves connections that only the client sees (SYN
    # cookies). The whole opening stops after --open-max seconds.
    idle_failed = 0
    last_err = ''
    pending = {}
    csel = selectors.DefaultSelector()
    t_open = time.monotonic()
    fds0 = proc_status(args.pid).get('fds', 0)
    opened = 0
    while opened < args.idle and time.monotonic() < t_open + args.open_max:
        for i in range(min(100, args.idle - opened)):
            s = socket.socket(socket.AF_INET6 if ':' in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(addr)
            opened += 1
            if rc in (0, errno.EINPROGRESS):
                pending[s.fileno()] = s
                csel.register(s, selectors.EVENT_WRITE)
            else:
                idle_failed += 1
                last_err = os.strerror(rc)
                s.close()
        while pending and time.monotonic() < t_open + args.open_max:
            for key, _ in csel.select(0.1):
                s = key.fileobj
                csel.unregister(s)
                del pending[s.fileno()]
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    idle_failed += 1
                    last_err = os.strerror(err)
                    s.close()
                else:
                    register(s, 'idle')
        n_ok = sum(1 for c in conns.values() if c['kind'] == 'idle')
        wait_until = min(time.monotonic() + 2.0, t_open + args.open_max)
        while time.monotonic() < wait_until and proc_status(args.pid).get('fds', 0) < fds0 + n_ok * 0.98:
            time.sleep(0.01)
    idle_pending = len(pending)
    for s in pending.values():
        s.close()
    csel.close()
    n_idle = sum(1 for c in conns.values() if c['kind'] == 'idle')
    open_secs = time.monotonic() - t_open
    accepted = proc_status(args.pid).get('fds', 0) - fds0
    log('hold: %d idle connections open in %.1f s (%d failed%s, %d not connected within %g s); server fds +%d' % (
        n_idle, open_secs, idle_failed, ': ' + last_err if last_err else '', idle_pending, args.open_max, accepted))

    # Slowloris connections: a partial head, then a header line now and then.
    slow_failed = 0
    t_open = time.monotonic()
    for i in range(args.slow):
        if time.monotonic() > t_open + args.open_max:
            slow_failed += args.slow - i
            last_err = 'not opened: --open-max reached'
            break
        try:
            s = socket.create_connection(addr, timeout=3)
            s.sendall(('GET / HTTP/1.1\r\nHost: %s\r\nX-Slow-%d: 1\r\n' % (addr[0], i)).encode())
            register(s, 'slow')
        except OSError as e:
            slow_failed += 1
            last_err = str(e)
    n_slow = sum(1 for c in conns.values() if c['kind'] == 'slow')
    slow_opened = time.monotonic()
    log('hold: %d slowloris connections open (%d failed)' % (n_slow, slow_failed))

    probes = []  # (t since the slow ones opened, seconds, status)
    during = None
    next_probe = time.monotonic()
    end = slow_opened + min(args.hold_max, args.expect_cut_after * 2 + 10)
    while time.monotonic() < end:
        now = time.monotonic()
        for c in conns.values():
            if c['kind'] == 'slow' and c['cut'] is None and now >= c['next_send']:
                try:
                    c['sock'].send(b'X-More: 1\r\n')
                except BlockingIOError:
                    pass
                except OSError as e:
                    mark_cut(c, 'send: ' + ('reset' if e.errno == errno.ECONNRESET else
                                            'broken pipe' if e.errno == errno.EPIPE else str(e)))
                c['next_send'] = now + args.slow_interval
        if now >= next_probe:
            dt, st = probe(addr, args.path, args.probe_timeout)
            probes.append((time.monotonic() - slow_opened, dt, st))
            next_probe = time.monotonic() + 0.5
        if during is None and now - slow_opened >= min(2.0, args.expect_cut_after / 2):
            during = proc_status(args.pid)
            log('hold: during: %s' % fmt_status(during))
        pump(0.05)
        if all(c['cut'] is not None for c in conns.values() if c['kind'] == 'slow') \
                and now - slow_opened > args.expect_cut_after + 1:
            break
    if during is None:
        during = proc_status(args.pid)
    pump(0)
    hold_len = time.monotonic() - slow_opened
    still_open = sum(1 for c in conns.values() if c['cut'] is None)
    at_end = proc_status(args.pid)
    for c in conns.values():
        c['sock'].close()
    time.sleep(1.0)
    after = proc_status(args.pid)
    after_probe = [probe(addr, args.path, args.probe_timeout) for _ in range(5)]
    log('hold: after: %s' % fmt_status(after))

    def cut_summary(kind):
        cs = [c for c in conns.values() if c['kind'] == kind]
        cut = [c['cut'] for c in cs if c['cut'] is not None]
        hows = {}
        for c in cs:
            if c['cut'] is not None:
                h = c['how'] + (' (answer: %s)' % c['answer'] if c.get('answer') else '')
                hows[h] = hows.get(h, 0) + 1
        how = ', '.join('%d %s' % (v, k) for k, v in sorted(hows.items(), key=lambda x: -x[1]))
        if cut:
            return len(cs), cut, '%d of %d cut by the server, after %.1f to %.1f s (median %.1f s)%s' % (
                len(cut), len(cs), min(cut), max(cut), statistics.median(cut), ': ' + how if how else '')
        return len(cs), cut, '0 of %d cut by the server within %.0f s' % (len(cs), hold_len)

    n_s, slow_cut, slow_text = cut_summary('slow')
    n_i, idle_cut, idle_text = cut_summary('idle')
    ok_probes = [dt for _, dt, st in probes if isinstance(st, int)]
    bad_probes = [(t, st) for t, _, st in probes if not isinstance(st, int)]
    base_ok = [dt for dt, st in base if isinstance(st, int)]
    after_ok = [dt for dt, st in after_probe if isinstance(st, int)]
    ms = lambda x: '%.1f ms' % (x * 1000)

    probe_max = max(ok_probes) if ok_probes else float('inf')
    ok = bool(probes) and not bad_probes and probe_max < 0.050
    checks.append((ok, '%s: %d requests during the hold (%d idle + %d slowloris open): p50 %s, max %s, %d failed (target: each < 50 ms)' % (
        args.name, len(probes), n_idle, n_slow, ms(pct(ok_probes, 50)) if ok_probes else '-',
        ms(probe_max) if ok_probes else '-', len(bad_probes))))
    lo, hi = args.expect_cut_after * 0.8, args.expect_cut_after * 1.5 + 1
    ok = n_s > 0 and len(slow_cut) == n_s and all(lo <= x <= hi for x in slow_cut)
    checks.append((ok, '%s: slowloris: %s (target: all cut after %.0f s, accepted %.1f..%.1f s)' % (
        args.name, slow_text, args.expect_cut_after, lo, hi)))
    checks.append((None, '%s: idle connections: %s' % (args.name, idle_text)))
    checks.append((None, '%s: server before %s; during %s; at the end of the hold %s; after %s' % (
        args.name, fmt_status(before), fmt_status(during), fmt_status(at_end), fmt_status(after))))

    md.append('### (b) %d idle + %d slowloris connections' % (args.idle, args.slow))
    md.append('')
    md.append('Idle: connected, nothing sent. Slowloris: `GET / HTTP/1.1`, `Host` and one header line, '
              'then one more header line every %g s, never the blank line. A request on a fresh connection '
              'every 0.5 s meanwhile; the hold ends when every slowloris connection is cut (and at least '
              '%g s passed) or after %.0f s; it lasted %.1f s.' % (
                  args.slow_interval, args.expect_cut_after + 1, end - slow_opened, hold_len))
    md.append('')
    md.append('| Measure | Value |')
    md.append('|---|---|')
    md.append('| connections opened | %d idle in %.1f s (%d failed, %d not connected within %g s; the server\'s fds grew by %d), %d slowloris (%d failed)%s |' % (
        n_idle, open_secs, idle_failed, idle_pending, args.open_max, accepted, n_slow, slow_failed,
        '; last error: %s' % last_err if last_err else ''))
    md.append('| requests before the hold (10) | p50 %s, max %s, %d failed |' % (
        ms(pct(base_ok, 50)) if base_ok else '-', ms(max(base_ok)) if base_ok else '-', len(base) - len(base_ok)))
    md.append('| **requests during the hold (%d)** | **p50 %s, p99 %s, max %s**, %d failed%s |' % (
        len(probes), ms(pct(ok_probes, 50)) if ok_probes else '-', ms(pct(ok_probes, 99)) if ok_probes else '-',
        ms(probe_max) if ok_probes else '-', len(bad_probes),
        ' (first: at %.1f s, %s)' % bad_probes[0] if bad_probes else ''))
    md.append('| requests after the hold (5) | p50 %s, max %s, %d failed |' % (
        ms(pct(after_ok, 50)) if after_ok else '-', ms(max(after_ok)) if after_ok else '-',
        len(after_probe) - len(after_ok)))
    md.append('| **slowloris connections** | %s |' % slow_text)
    md.append('| idle connections | %s |' % idle_text)
    md.append('| still open at the end of the hold | %d |' % still_open)
    md.append('| server before | %s |' % fmt_status(before))
    md.append('| server during (%.0f s in) | %s |' % (min(2.0, args.expect_cut_after / 2), fmt_status(during)))
    md.append('| server at the end of the hold | %s |' % fmt_status(at_end))
    md.append('| server 1 s after closing them | %s |' % fmt_status(after))
    md.append('')
    slow_probe_lines = ['%.1f s: %s' % (t, ms(dt) if isinstance(st, int) else st) for t, dt, st in probes]
    if probes and (bad_probes or probe_max >= 0.050):
        md.append('Requests during the hold (time since the slowloris connections opened: latency): ' +
                  '; '.join(slow_probe_lines[:40]) + ('; ...' if len(slow_probe_lines) > 40 else ''))
        md.append('')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--addr', required=True, help='HOST:PORT of the server')
    p.add_argument('--pid', type=int, required=True, help='PID of the server (for /proc/PID/status)')
    p.add_argument('--name', default='server')
    p.add_argument('--path', default='/')
    p.add_argument('--md', help='append a Markdown section to this file')
    p.add_argument('--burst', type=int, default=32, help='connections of the burst (a)')
    p.add_argument('--burst-rounds', type=int, default=5)
    p.add_argument('--idle', type=int, default=1000)
    p.add_argument('--slow', type=int, default=50)
    p.add_argument('--slow-interval', type=float, default=2.0)
    p.add_argument('--expect-cut-after', type=float, default=10.0)
    p.add_argument('--hold-max', type=float, default=60.0,
                   help='upper bound of the hold, seconds from the opening of the slowloris connections')
    p.add_argument('--open-max', type=float, default=20.0,
                   help='upper bound of the opening of the idle connections, seconds')
    p.add_argument('--probe-timeout', type=float, default=5.0)
    p.add_argument('--skip', choices=['burst', 'hold'], action='append', default=[])
    args = p.parse_args()
    host, _, port = args.addr.rpartition(':')
    addr = (host.strip('[]'), int(port))
    if not os.path.exists('/proc/%d/status' % args.pid):
        print('web_limits: no process %d' % args.pid, file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle + args.slow + args.burst + 256
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))

    md = ['## %s (`%s`, pid %d)' % (args.name, args.addr, args.pid), '']
    checks = []  # (True/False/None for information, text)

    if 'burst' not in args.skip:
        rounds = []
        for r in range(args.burst_rounds):
            res = burst(addr, args.path, args.burst, args.probe_timeout)
            rounds.append(res)
            oks = [dt for dt, st in res if dt is not None and isinstance(st, int)]
            log('burst round %d: %d/%d answered, p50 %.1f ms, max %.1f ms' % (
                r + 1, len(oks), len(res), pct(oks, 50) * 1000 if oks else -1, max(oks) * 1000 if oks else -1))
            time.sleep(0.5)
        md.append('### (a) %d keep-alive connections opened at the same instant' % args.burst)
        md.append('')
        md.append('%d threads wait at a barrier, then each connects, sends `GET %s HTTP/1.1` and reads the whole '
                  'answer; time from the barrier to the end of the answer. %d rounds, fresh connections each; '
                  'timeout %g s.' % (args.burst, args.path, args.burst_rounds, args.probe_timeout))
        md.append('')
        md.append('| Round | answered | p50 | max | errors |')
        md.append('|---:|---:|---:|---:|---|')
        worst = 0.0
        all_ok = True
        for i, res in enumerate(rounds):
            oks = [dt for dt, st in res if dt is not None and isinstance(st, int)]
            errs = [st for dt, st in res if not (dt is not None and isinstance(st, int))]
            if errs or len(oks) < args.burst:
                all_ok = False
            worst = max([worst] + oks)
            md.append('| %d | %d/%d | %.1f ms | %s | %s |' % (
                i + 1, len(oks), len(res), pct(oks, 50) * 1000 if oks else float('nan'),
                '%.1f ms' % (max(oks) * 1000) if oks else '-',
                '; '.join(sorted(set(errs)))[:200] if errs else ''))
        md.append('')
        ok = all_ok and worst < 0.100
        checks.append((ok, '%s: %d connections at once, %d rounds: worst time to the first answer %.1f ms%s (target: all < 100 ms)' % (
            args.name, args.burst, args.burst_rounds, worst * 1000, '' if all_ok else ', with failures')))
        after_burst = proc_status(args.pid)
        md.append('Server after the bursts: %s.' % fmt_status(after_burst))
        md.append('')

    if 'hold' not in args.skip:
        hold(args, addr, md, checks)

    if args.md:
        with open(args.md, 'a') as f:
            f.write('\n'.join(md) + '\n')
    failed = False
    for ok, text in checks:
        print('%s\t%s' % ('INFO' if ok is None else 'OK' if ok else 'FAIL', text))
        failed |= ok is False
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
