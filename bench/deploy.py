#!/usr/bin/env python3
"""The site's data on SQLite, on PostgreSQL, and on two instances behind
HAProxy: POST /api/users and GET /api/users/{id}, requests/s, p99 and the
CPU each process used, in one run. Prints a markdown section.

    python3 bench/deploy.py [--duration S] [--connections N] [--smoke]
                            [--reseau target/release/reseau]

Rows, each measured by wrk (the load generator: wrk's Lua scripts make
each POST's name unique and each GET's id one that exists):

  sqlite        one `reseau web --db FILE`
  pg-1          one `reseau web --db postgresql://...` (a private cluster,
                tests/postgres/cluster.py)
  pg-2+haproxy  two such instances behind HAProxy (tests/deploy/haproxy.py,
                the README's config), wrk at HAProxy

CPU is read from /proc/PID/stat (utime + stime) before and after each row,
for the reseau instances, every postgres process (the postmaster and its
children: backends, WAL writer, checkpointer), HAProxy and wrk: the
column "CPU ms/request" is the servers' (reseau + postgres + haproxy) CPU
divided by the requests answered. On this 2-core machine everything shares
the cores, so the figures are bounded by the sum, not by one part.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lifecycle'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'deploy'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'postgres'))
import common  # noqa: E402
from haproxy import HAProxy  # noqa: E402
from cluster import Cluster  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')

POST_LUA = r'''
counter = 0
threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  prefix = args[1] or "u"
end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/users", {["Content-Type"] = "application/json"},
    '{"name": "' .. prefix .. '-' .. id .. '-' .. counter .. '"}')
end
'''

GET_LUA = r'''
function init(args)
  top = tonumber(args[1])
  math.randomseed(os.time() + tonumber(args[2] or 0))
end
request = function()
  return wrk.format("GET", "/api/users/" .. math.random(1, top))
end
'''

DONE_LUA = r'''
function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d\n", summary.requests, summary.duration,
                         latency:percentile(99), bad))
end
'''


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def children(ppid):
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def postgres_pids(pg):
    with open(os.path.join(pg.folder, 'data', 'postmaster.pid')) as f:
        master = int(f.readline())
    return [master] + children(master)


class Cpu:
    """CPU seconds used by groups of processes between start() and stop().
    `groups` maps a name to a function giving its PIDs now (postgres
    starts a backend per connection: its PIDs are read at the end too, and
    a backend that ended during the row is not counted)."""

    def __init__(self, groups):
        self.groups = groups

    def start(self):
        self.before = {g: {p: cpu_ticks(p) for p in pids()} for g, pids in self.groups.items()}

    def stop(self):
        used = {}
        for g, pids in self.groups.items():
            ticks = 0
            for p in set(pids()) | set(self.before[g]):
                ticks += cpu_ticks(p) - self.before[g].get(p, 0)
            used[g] = max(ticks, 0) / TICK
        return used


def wrk(target, lua, args, duration, connections, cpu, extra_pids):
    """Runs wrk; returns (requests, seconds, p99 ms, errors, cpu seconds by group)."""
    with tempfile.NamedTemporaryFile('w', suffix='.lua', delete=False) as f:
        f.write(lua + DONE_LUA)
        script = f.name
    try:
        cmd = ['wrk', '-t', '2', '-c', str(connections), '-d', '%ds' % duration,
               '-s', script, 'http://%s:%d' % target, '--'] + args
        cpu.start()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        extra_pids.append(proc.pid)
        # wrk's own CPU is read while it still runs: sample it just before
        # its end.
        time.sleep(max(duration - 0.3, 0.1))
        wrk_ticks = cpu_ticks(proc.pid)
        out, _ = proc.communicate(timeout=duration + 60)
        used = cpu.stop()
        used['wrk'] = wrk_ticks / TICK
        extra_pids.remove(proc.pid)
    finally:
        os.unlink(script)
    m = re.search(r'RESULT (\d+) (\d+) (\d+) (\d+)', out)
    if not m:
        raise RuntimeError('wrk gave no result:\n' + out)
    requests, micros, p99, errors = map(int, m.groups())
    return requests, micros / 1e6, p99 / 1000.0, errors, used


def measure(name, target, groups, duration, connections, top_id, rows):
    cpu = Cpu(groups)
    extra = []
    for route, lua, args in (('POST /api/users', POST_LUA, [re.sub('[^a-z0-9]', '', name)]),
                             ('GET /api/users/{id}', GET_LUA, [str(top_id)])):
        requests, seconds, p99, errors, used = wrk(target, lua, args, duration,
                                                   connections, cpu, extra)
        served = sum(v for g, v in used.items() if g != 'wrk')
        rows.append((name, route, requests / seconds, p99, errors, used,
                     1000.0 * served / max(requests, 1)))
        print('  %s %s: %.0f req/s, p99 %.2f ms, %d errors, cpu %s'
              % (name, route, requests / seconds, p99, errors,
                 {g: round(v, 2) for g, v in used.items()}), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--duration', type=int, default=10)
    parser.add_argument('--connections', type=int, default=32)
    parser.add_argument('--smoke', action='store_true', help='2 s a row')
    parser.add_argument('--reseau', default=common.RESEAU)
    args = parser.parse_args()
    common.RESEAU = os.path.abspath(args.reseau)
    duration = 2 if args.smoke else args.duration
    rows = []
    procs = []
    # The GETs read ids the POSTs of the same row made (at least this many).
    top_id = 200
    with tempfile.TemporaryDirectory(prefix='reseau-bench-deploy-') as tmp, \
            Cluster(settings={'max_connections': '200'}) as pg:
        try:
            proc, web = common.start_web(tmp, os.path.join(tmp, 'users.db'), 'sqlite.log')
            procs.append(proc)
            measure('sqlite', web, {'reseau': lambda: [proc.pid]}, duration,
                    args.connections, top_id, rows)
            proc.stop()

            proc1, web1 = common.start_web(tmp, pg.url, 'pg1.log')
            procs.append(proc1)
            measure('pg-1', web1, {'reseau': lambda: [proc1.pid],
                                   'postgres': lambda: postgres_pids(pg)},
                    duration, args.connections, top_id, rows)
            proc2, web2 = common.start_web(tmp, pg.url, 'pg2.log')
            procs.append(proc2)
            with HAProxy([web1, web2]) as lb:
                measure('pg-2+haproxy', lb.web,
                        {'reseau': lambda: [proc1.pid, proc2.pid],
                         'postgres': lambda: postgres_pids(pg),
                         'haproxy': lambda: [lb.pid]},
                        duration, args.connections, top_id, rows)
        finally:
            for p in procs:
                p.stop()
    print(report(rows, duration, args.connections))


def report(rows, duration, connections):
    lines = [
        '## Deploying: SQLite, PostgreSQL, two instances behind HAProxy',
        '',
        'wrk, 2 threads, %d connections, %d s a row (`python3 bench/deploy.py`); '
        'CPU is seconds of CPU over the row from /proc (utime + stime), '
        'all on the same 2 cores.' % (connections, duration),
        '',
        '| setup | route | requests/s | p99 ms | errors | CPU s: reseau | postgres '
        '| haproxy | wrk | server CPU ms/request |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for name, route, rate, p99, errors, used, per in rows:
        lines.append('| %s | %s | %.0f | %.2f | %d | %.2f | %s | %s | %.2f | %.3f |' % (
            name, route, rate, p99, errors, used.get('reseau', 0),
            '%.2f' % used['postgres'] if 'postgres' in used else '-',
            '%.2f' % used['haproxy'] if 'haproxy' in used else '-',
            used.get('wrk', 0), per))
    lines += ['', estimate(rows, duration)]
    return '\n'.join(lines) + '\n'


# Cores of each machine in the paper estimate.
CORES = 8


def estimate(rows, duration):
    """What the measured CPU per request gives on machines of their own:
    each process's CPU seconds over the requests it served, and the
    requests/s that CORES cores would give it when nothing else shares
    them. The two-instance rows are the ones that include HAProxy."""
    lines = [
        'Paper estimate for machines of their own (%d cores each), from the CPU per request '
        'of each process in the rows above (CPU seconds / requests; the cores it would '
        'take alone): requests/s = %d cores x 1000 / (ms of CPU per request). It ignores the network between '
        'machines (a round trip per query instead of loopback), and for POST the disk: '
        'each commit waits for a WAL flush, which group commit shares between concurrent '
        'writers.' % (CORES, CORES),
        '',
        '| route | setup | reseau ms CPU/request | one instance, req/s | postgres ms CPU/request '
        '| one database, req/s | haproxy ms CPU/request | one HAProxy, req/s |',
        '|---|---|---:|---:|---:|---:|---:|---:|',
    ]
    for name, route, rate, _p99, _errors, used, _per in rows:
        requests = max(rate * duration, 1)
        cells = []
        for group in ('reseau', 'postgres', 'haproxy'):
            if group in used and used[group] > 0:
                ms = 1000.0 * used[group] / requests
                cells += ['%.3f' % ms, '%.0f' % (CORES * 1000.0 / ms)]
            else:
                cells += ['-', '-']
        lines.append('| %s | %s | %s |' % (route, name, ' | '.join(cells)))
    lines += ['', 'Instances per database = (one database, req/s) / (one instance, req/s) '
              'for the same route: past that, more instances do not help, the database is '
              'the bound.']
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
