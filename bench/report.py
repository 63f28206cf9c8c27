#!/usr/bin/env python3
"""Writes BENCHMARKS.md from bench/run's measurements and a template.

Usage (bench/run calls it; standard library only):
    python3 bench/report.py DATA_DIR TEMPLATE OUT

DATA_DIR holds what one run of bench/run measured:
  meta.tsv   key, value: machine, date, command, settings
  scen.tsv   id, group, title, servers (ours first, comma-separated),
             targets (peer:minimum ratio, comma-separated), metric (rps|mbps)
  runs.tsv   one load run a line: scenario, round, server, req/s, p50, p99,
             p99.9, max (us), errors, exit status, requests, server CPU s,
             load generator CPU s, MB/s ("-"), connect errors, first error
  facts.tsv  key, value: the single measurements (memory, criterion, sizes)
  codec.md   python/bench/bench_codec.py's report
  deploy.md  bench/deploy.py's table (SQLite, PostgreSQL, two instances behind HAProxy)
  explain.md bench/explain.py's table (reseau explain vs pickletools)
  wheel.md   python/bench/wheel_figures.sh's report on the abi3 wheel
TEMPLATE is Markdown with {{name}} placeholders; every one must be known
here or be a key of meta.tsv or facts.tsv, else this fails (exit 2).
"""

import json
import math
import os
import re
import statistics
import sys


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path, encoding='utf-8'):
            line = line.rstrip('\n')
            if line:
                k, _, v = line.partition('\t')
                out[k] = v
    return out


def num(x, digits=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '?'
    return '{:,.{}f}'.format(x, digits)


class Data:
    def __init__(self, d):
        self.meta = read_kv(os.path.join(d, 'meta.tsv'))
        self.facts = read_kv(os.path.join(d, 'facts.tsv'))
        self.scens = []
        for line in open(os.path.join(d, 'scen.tsv'), encoding='utf-8'):
            f = line.rstrip('\n').split('\t')
            if len(f) < 6:
                continue
            targets = dict((t.split(':')[0], float(t.split(':')[1])) for t in f[4].split(',') if t)
            self.scens.append(dict(id=f[0], group=f[1], title=f[2], servers=f[3].split(','),
                                   targets=targets, metric=f[5]))
        self.runs = {}
        path = os.path.join(d, 'runs.tsv')
        for line in open(path, encoding='utf-8') if os.path.exists(path) else []:
            f = line.rstrip('\n').split('\t')
            f += [''] * (16 - len(f))
            self.runs.setdefault(f[0], {}).setdefault(f[2], {})[int(f[1])] = dict(
                rps=float(f[3]), p50=int(f[4]), p99=int(f[5]), p999=int(f[6]), max=int(f[7]),
                errors=int(f[8]) if f[8].isdigit() else 0, rc=f[9], requests=int(f[10] or 0),
                srv_cpu=float(f[11] or 0), mbps=float(f[13]) if f[13] not in ('', '-') else float('nan'),
                connect=int(f[14]) if f[14].isdigit() else 0, first=f[15])
        limits = os.path.join(d, 'limits.md')
        self.limits = open(limits, encoding='utf-8').read().strip() if os.path.exists(limits) else '(not run)'
        codec = os.path.join(d, 'codec.md')
        self.codec = open(codec, encoding='utf-8').read().strip() if os.path.exists(codec) else '(not run)'
        deploy = os.path.join(d, 'deploy.md')
        self.deploy = open(deploy, encoding='utf-8').read().strip() if os.path.exists(deploy) else '(not run)'
        wheel = os.path.join(d, 'wheel.md')
        self.wheel = open(wheel, encoding='utf-8').read().strip() if os.path.exists(wheel) else '(not run)'
        explain = os.path.join(d, 'explain.md')
        self.explain = open(explain, encoding='utf-8').read().strip() if os.path.exists(explain) else '(not run)'

    def stats(self, scen):
        """Per server: medians and error totals; per peer: the per-round ratios."""
        runs = self.runs.get(scen['id'], {})
        metric = scen['metric']
        ours = scen['servers'][0]
        out = {'servers': {}, 'ratios': {}}
        for s in scen['servers']:
            rs = list(runs.get(s, {}).values())
            if not rs:
                continue
            out['servers'][s] = dict(
                value=statistics.median(r[metric] for r in rs),
                p50=statistics.median(r['p50'] for r in rs),
                p99=statistics.median(r['p99'] for r in rs),
                p999=statistics.median(r['p999'] for r in rs),
                max=max(r['max'] for r in rs),
                errors=sum(r['errors'] for r in rs),
                connect=sum(r['connect'] for r in rs),
                bad_exit=sum(1 for r in rs if r['rc'] not in ('0', '1')),
                first=next((r['first'] for r in rs if r['first']), ''),
                cpu_us=statistics.median(r['srv_cpu'] / r['requests'] * 1e6 for r in rs if r['requests'])
                if any(r['requests'] for r in rs) else float('nan'),
                rounds=len(rs))
        for p in scen['servers'][1:]:
            ratios = []
            for rnd, r in sorted(runs.get(ours, {}).items()):
                q = runs.get(p, {}).get(rnd)
                if q is None:
                    continue
                ratios.append(r[metric] / q[metric] if q[metric] else float('inf'))
            if ratios:
                out['ratios'][p] = ratios
        return out


def unit(metric):
    return 'MB/s' if metric == 'mbps' else 'req/s'


def fmt_value(v, metric):
    return num(v, 1 if metric == 'mbps' else 0) + ' ' + unit(metric)


def ratio_text(scen, st, peer):
    rs = st['ratios'].get(peer)
    if not rs:
        return '%s: not measured' % peer
    if any(math.isinf(r) for r in rs):
        return '%s: n/a (it answered nothing in a round)' % peer
    m = statistics.median(rs)
    return '**%.2fx** %s (%.2f to %.2f, %d round%s)' % (m, peer, min(rs), max(rs), len(rs), 's' if len(rs) > 1 else '')


def verdict(scen, st):
    parts = []
    for peer, t in scen['targets'].items():
        rs = st['ratios'].get(peer)
        if not rs or any(math.isinf(r) for r in rs):
            parts.append('>= %gx %s: not measured' % (t, peer))
            continue
        ok = statistics.median(rs) >= t
        parts.append('>= %gx %s: %s' % (t, peer, 'met' if ok else '**not met**'))
    text = '; '.join(parts) if parts else '(none)'
    if parts and any(x['errors'] or x['bad_exit'] for x in st['servers'].values()):
        text += ' (runs with errors: see errors)'
    return text


def errors_text(st):
    parts = []
    for s, x in st['servers'].items():
        if x['errors'] or x['bad_exit']:
            t = '%s **%s**' % (s, num(x['errors']))
            if x['connect']:
                t += ' (%s connecting)' % num(x['connect'])
            if x['bad_exit']:
                t += ' (%d runs failed)' % x['bad_exit']
            parts.append(t)
    return ', '.join(parts) if parts else 'none'


def group_table(data, group):
    scens = [s for s in data.scens if s['group'] == group]
    if not scens:
        return '(not run)'
    servers = []
    for s in scens:
        for x in s['servers']:
            if x not in servers:
                servers.append(x)
    head = ['scenario'] + servers + ['ours / peer: median of the per-round ratios (range)', 'errors', 'target']
    out = ['| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * len(servers) + '---|---|---|']
    for scen in scens:
        st = data.stats(scen)
        cells = [scen['title']]
        for x in servers:
            v = st['servers'].get(x)
            cells.append(fmt_value(v['value'], scen['metric']) if v else '')
        cells.append(', '.join(ratio_text(scen, st, p) for p in scen['servers'][1:]))
        cells.append(errors_text(st))
        cells.append(verdict(scen, st))
        out.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(out)


def latency_table(data, group):
    scens = [s for s in data.scens if s['group'] == group]
    if not scens:
        return '(not run)'
    out = ['| scenario | server | p50 | p99 | p99.9 | max | server CPU per request | first error |',
           '|---|---|---:|---:|---:|---:|---:|---|']
    for scen in scens:
        st = data.stats(scen)
        first = True
        for s in scen['servers']:
            x = st['servers'].get(s)
            if not x:
                continue
            out.append('| %s | %s | %s us | %s us | %s us | %s us | %s us | %s |' % (
                scen['title'] if first else '', s, num(x['p50']), num(x['p99']), num(x['p999']),
                num(x['max']), num(x['cpu_us'], 2), x['first'].replace('|', '/') or ''))
            first = False
    return '\n'.join(out)


def web_p99(data):
    lines = []
    for scen in [s for s in data.scens if s['group'] == 'web']:
        st = data.stats(scen)
        ours, cp = st['servers'].get(scen['servers'][0]), st['servers'].get('cherrypy')
        if not ours or not cp:
            lines.append('- %s: CherryPy not measured' % scen['title'])
            continue
        lines.append('- %s: p99 %s us, CherryPy %s us: %s' % (
            scen['title'], num(ours['p99']), num(cp['p99']), 'met' if ours['p99'] < cp['p99'] else '**not met**'))
    return '\n'.join(lines)


def criterion(root, group, bench, n=None):
    """(seconds per iteration, throughput dict) of one criterion benchmark, or None."""
    parts = [root, group, bench] + ([str(n)] if n is not None else []) + ['new']
    d = os.path.join(*parts)
    try:
        est = json.load(open(os.path.join(d, 'estimates.json')))
        meta = json.load(open(os.path.join(d, 'benchmark.json')))
    except OSError:
        return None
    return est['median']['point_estimate'] / 1e9, meta.get('throughput') or {}


def fmt_time(s):
    if s < 1e-6:
        return '%.1f ns' % (s * 1e9)
    if s < 1e-3:
        return '%.2f us' % (s * 1e6)
    return '%.3f ms' % (s * 1e3)


def core_table(data):
    root = data.meta.get('criterion_dir', 'target/criterion')
    out = ['| n ints | pickle payload | `PickleSummer` (streaming pickle sum) | memcpy of the same bytes | pickle sum / memcpy | native frame | `AdderSession` (native) | memcpy of the same bytes | native / memcpy | serde-pickle to `Vec<i64>`, then sum |',
           '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    verdicts = []
    for n in (10, 1000, 100_000):
        rp = criterion(root, 'sum_request', 'reseau_pickle', n)
        mp = criterion(root, 'sum_request', 'memcpy_pickle', n)
        rn = criterion(root, 'sum_request', 'reseau_native_session', n)
        mn = criterion(root, 'sum_request', 'memcpy_native', n)
        sp = criterion(root, 'sum_request', 'serde_pickle_vec', n)
        if not (rp and mp and rn and mn and sp):
            out.append('| %s | (not measured) |||||||||' % num(n))
            continue
        pb, nb = mp[1].get('Bytes', 0), mn[1].get('Bytes', 0)

        def cell(t, b):
            return '%s (%s M ints/s, %.2f GB/s)' % (fmt_time(t), num(n / t / 1e6), b / t / 1e9)

        def mcell(t, b):
            return '%s (%.2f GB/s)' % (fmt_time(t), b / t / 1e9)
        share_p, share_n = mp[0] / rp[0], mn[0] / rn[0]
        out.append('| %s | %s B | %s | %s | %.0f%% | %s B | %s | %s | %.0f%% | %s (%s M ints/s) |' % (
            num(n), num(pb), cell(rp[0], pb), mcell(mp[0], pb), share_p * 100, num(nb), cell(rn[0], nb),
            mcell(mn[0], nb), share_n * 100, fmt_time(sp[0]), num(n / sp[0] / 1e6)))
        if n == 100_000:
            gbs = pb / rp[0] / 1e9
            verdicts.append('Streaming pickle sum of 100,000 ints: **%.2f GB/s**, **%.0f%%** of memcpy (%.2f GB/s) in the same run; target >= 1 GB/s and >= 25%% of memcpy: %s.' % (
                gbs, share_p * 100, pb / mp[0] / 1e9,
                'met' if gbs >= 1 and share_p >= 0.25 else '**not met**'
                + (' (%s)' % ' and '.join(x for x, bad in (('under 1 GB/s', gbs < 1), ('under 25% of memcpy', share_p < 0.25)) if bad))))
    return '\n'.join(out + [''] + verdicts)


def drivers_table(data):
    root = data.meta.get('criterion_dir', 'target/criterion')
    out = ['| path | time per request | throughput |', '|---|---:|---:|']
    for bench, label in (('smoltcp_loopback', 'smoltcp `Loopback` (the whole TCP/IP stack in the process, `TcpDriver`)'),
                         ('std_loopback_sockets', "std loopback sockets (the kernel's stack, `drive::embedded_io::run` through `FromStd`)")):
        r = criterion(root, 'adder_1M_ints', bench)
        if not r:
            out.append('| %s | (not measured) | |' % label)
            continue
        b = r[1].get('Bytes', 0)
        out.append('| %s | %s | %s MiB/s |' % (label, fmt_time(r[0]), num(b / r[0] / 2**20)))
    return '\n'.join(out)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    data = Data(sys.argv[1])
    template = open(sys.argv[2], encoding='utf-8').read()
    gen = {
        'adder_table': lambda: group_table(data, 'adder'),
        'adder_latency': lambda: latency_table(data, 'adder'),
        'echo_table': lambda: group_table(data, 'echo'),
        'echo_latency': lambda: latency_table(data, 'echo'),
        'web_table': lambda: group_table(data, 'web'),
        'loops_table': lambda: group_table(data, 'loops'),
        'web_latency': lambda: latency_table(data, 'web'),
        'tls_table': lambda: group_table(data, 'tls'),
        'tls_latency': lambda: latency_table(data, 'tls'),
        'web_p99': lambda: web_p99(data),
        'core_table': lambda: core_table(data),
        'drivers_table': lambda: drivers_table(data),
        'codec': lambda: data.codec,
        'deploy': lambda: data.deploy,
        'explain': lambda: data.explain,
        'wheel': lambda: data.wheel,
        'web_limits': lambda: data.limits,
    }
    missing = []

    def fill(m):
        k = m.group(1)
        if k in gen:
            return gen[k]()
        if k in data.facts:
            return data.facts[k]
        if k in data.meta:
            return data.meta[k]
        missing.append(k)
        return '(missing: %s)' % k
    text = re.sub(r'\{\{([a-z0-9_]+)\}\}', fill, template)
    with open(sys.argv[3], 'w', encoding='utf-8') as f:
        f.write(text)
    if missing:
        print('report.py: no value for ' + ', '.join(sorted(set(missing))), file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
