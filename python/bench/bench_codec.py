#!/usr/bin/env python3
"""Times reseau's adder codec against what the course's Python does by hand.

Issue 6's targets, for a pickled list of 1,000,000 ints, in the same process:

  sum     reseau.sum_request(b)            vs  sum(pickle.loads(b))        >= 10x
  decode  reseau.decode_sum_request(b)     vs  pickle.loads(b)             >= 2x
          reseau.decode_sum_request_array(b)  vs  pickle.loads(b)          >= 2x
          (the same ints as an array.array('q'): no int objects to make)
  encode  reseau.encode_sum_request(ints)  vs  struct.pack('I', len(p)) + p,
                                               p = pickle.dumps(ints)      >= 2x

`b` is a request's payload (the pickle, without the 4-byte length), made with
two protocols, both measured:

  protocol 4  what `pickle.dumps(msg)` writes on Python 3.8+ (DEFAULT_PROTOCOL
              is 4 on 3.11): what the course's client sends today; it has FRAME
              and MEMOIZE opcodes.
  protocol 2  what `reseau adder sum` and reseau.encode_sum_request write
              (`pickle.dumps(ints, protocol=2)`, no FRAME opcodes).

The encode baseline is measured with both protocols too; the target is judged
against the course's client, i.e. the default protocol. The same operations on
a list of 10 ints show the cost of a call (no target). A few rows marked
"info" carry no target either: the native postcard format, and the "floor" of
decoding, `array('q', ints).tolist()`, which only makes the list of int
objects (no decoder that returns a list can be faster than that).

Method (timeit): every operation is a timeit statement on names bound in its
globals, so reseau and the baseline pay the same name look-ups. Each is
calibrated to take at least --min-time seconds per measurement (timeit's
autorange), then measured --rounds times; within a round the two sides of a
comparison run back to back, in alternating order from round to round, so
that noise from other work on the machine hits both alike. Per side the
minimum and the median time per call are reported; the ratio is
baseline / reseau, as the median of the per-round ratios (the verdict) and as
the ratio of the minimums. The garbage collector is off while timing
(timeit's default), for both sides.

Before timing, every result of reseau is checked against Python's (sums,
decoded lists, and that the encoded frame unpickles to the same list with a
correct length header); a mismatch is an error.

Usage:
    python bench_codec.py [--n 1000000] [--small 10] [--rounds 11]
                          [--min-time 0.2] [--values range|small|random]
                          [--md REPORT.md] [--only sum,decode,encode]

Standard library and reseau only. Prints a Markdown report on stdout (and
writes it to --md when given). Exit status: 0 when every target was met, 1 when
one was not, 2 when reseau is missing or gave a wrong result.
"""

import argparse
import array
import datetime
import gc
import importlib.metadata
import os
import pickle
import platform
import random
import statistics
import struct
import sys
import time
import timeit

reseau = None  # imported by main(), after the arguments (so that --help works without it)


class Mismatch(Exception):
    """reseau's result differs from Python's."""


def course_encode(ints):
    """The course's client, by hand: length header, then the default-protocol pickle."""
    p = pickle.dumps(ints)
    return struct.pack('I', len(p)) + p


def course_encode_p2(ints):
    """The same with protocol 2 (what reseau writes)."""
    p = pickle.dumps(ints, 2)
    return struct.pack('I', len(p)) + p


def make_values(kind, n, seed=6):
    """The list of ints to send."""
    if kind == 'range':
        # 0..n-1: 256 one-byte ints (BININT1), 65,280 two-byte (BININT2), the
        # rest four-byte (BININT); the sum of a million is 499,999,500,000.
        return list(range(n))
    if kind == 'small':
        # 0..255 only (BININT1, all cached small ints in CPython).
        return [i % 256 for i in range(n)]
    if kind == 'random':
        # signed 32-bit ints, uniformly drawn (mostly BININT, negative half).
        rnd = random.Random(seed)
        return [rnd.randint(-2**31, 2**31 - 1) for _ in range(n)]
    raise ValueError(kind)


def fmt_time(seconds):
    """A time per call, in a unit that keeps three or four digits."""
    if seconds >= 1:
        return '%.3f s' % seconds
    if seconds >= 1e-3:
        return '%.3f ms' % (seconds * 1e3)
    if seconds >= 1e-6:
        return '%.2f us' % (seconds * 1e6)
    return '%.1f ns' % (seconds * 1e9)


def calibrate(timer, min_time):
    """timeit's autorange, with our own floor: calls per measurement."""
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= min_time:
            return number
        # aim a little past min_time in one step when the first try was quick
        if t > 0:
            number = max(number * 2, int(number * min_time * 1.2 / t) + 1)
        else:
            number *= 10


def compare(stmt_reseau, stmt_base, env, rounds, min_time):
    """Times two statements, alternating; returns per-call times and ratios."""
    t_r = timeit.Timer(stmt_reseau, globals=env)
    t_b = timeit.Timer(stmt_base, globals=env)
    # warm-up (first-call effects: page faults of a fresh list, caches)
    t_r.timeit(1)
    t_b.timeit(1)
    n_r = calibrate(t_r, min_time)
    n_b = calibrate(t_b, min_time)
    per_r, per_b, ratios = [], [], []
    for i in range(rounds):
        if i % 2 == 0:
            r = t_r.timeit(n_r) / n_r
            b = t_b.timeit(n_b) / n_b
        else:
            b = t_b.timeit(n_b) / n_b
            r = t_r.timeit(n_r) / n_r
        per_r.append(r)
        per_b.append(b)
        ratios.append(b / r)
    return {
        'r_min': min(per_r), 'r_med': statistics.median(per_r), 'n_r': n_r,
        'b_min': min(per_b), 'b_med': statistics.median(per_b), 'n_b': n_b,
        'ratio_med': statistics.median(ratios), 'ratio_minmin': min(per_b) / min(per_r),
        'ratio_lo': min(ratios), 'ratio_hi': max(ratios),
    }


def check_results(values, payloads, native_payload):
    """Checks reseau's answers against Python's before anything is timed."""
    expected_sum = sum(values)
    for label, b in payloads.items():
        got = reseau.sum_request(b)
        if got != expected_sum:
            raise Mismatch('sum_request(%s) = %r, expected %r' % (label, got, expected_sum))
        got = reseau.decode_sum_request(b)
        if list(got) != values:
            raise Mismatch('decode_sum_request(%s) differs from pickle.loads' % label)
        got = reseau.decode_sum_request_array(b)
        if got.typecode != 'q' or got.tolist() != values:
            raise Mismatch('decode_sum_request_array(%s) differs from pickle.loads' % label)
    frame = reseau.encode_sum_request(values)
    if not isinstance(frame, bytes):
        raise Mismatch('encode_sum_request returned %s, not bytes' % type(frame).__name__)
    (length,) = struct.unpack('<I', frame[:4])
    if length != len(frame) - 4:
        raise Mismatch('encode_sum_request: header says %d, payload is %d bytes'
                       % (length, len(frame) - 4))
    if pickle.loads(frame[4:]) != values:
        raise Mismatch('encode_sum_request: the payload does not unpickle to the list')
    proto = frame[5] if frame[4:5] == b'\x80' else 0
    if native_payload is not None:
        if reseau.sum_request(native_payload) != expected_sum:
            raise Mismatch('sum_request(native) differs')
        if list(reseau.decode_sum_request(native_payload)) != values:
            raise Mismatch('decode_sum_request(native) differs')
    return {'frame_bytes': len(frame), 'frame_protocol': proto}


def machine():
    """A line or two on where this ran."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return '%d CPUs (%s), %s %s' % (os.cpu_count() or 0, cpu, platform.system(), platform.release())


def reseau_version():
    v = getattr(reseau, '__version__', None)
    try:
        dist = importlib.metadata.version('reseau')
    except importlib.metadata.PackageNotFoundError:
        dist = None
    return v or dist or 'unknown', getattr(reseau, '__file__', '?')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--n', type=int, default=1_000_000, help='ints in the large list')
    ap.add_argument('--small', type=int, default=10, help='ints in the small list')
    ap.add_argument('--rounds', type=int, default=11, help='measurements per side')
    ap.add_argument('--min-time', type=float, default=0.2,
                    help='seconds per measurement, at least (calibrated)')
    ap.add_argument('--values', choices=['range', 'small', 'random'], default='range',
                    help='the ints: 0..n-1 (default), 0..255 repeated, or random 32-bit signed')
    ap.add_argument('--only', default='sum,decode,encode',
                    help='comma-separated subset of sum,decode,encode')
    ap.add_argument('--no-native', action='store_true', help='skip the info rows of the native format')
    ap.add_argument('--md', help='also write the report to this file')
    args = ap.parse_args()
    if not 1 <= args.rounds <= 1000 or not 0 < args.min_time <= 10:
        ap.error('--rounds must be in 1..1000 and --min-time in (0, 10]')
    if args.n < 1 or args.small < 1:
        ap.error('--n and --small must be positive')
    only = set(args.only.split(','))
    if not only <= {'sum', 'decode', 'encode'}:
        ap.error('--only takes sum, decode, encode')

    global reseau
    try:
        import reseau
    except ImportError as e:
        print('bench_codec.py: cannot import reseau (%s); install it first: pip install ./python'
              % e, file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    version, where = reseau_version()

    rows = []  # (section, size, what, protocol, result dict, target or None)
    details = {}
    for size in (args.n, args.small):
        values = make_values(args.values, size)
        payloads = {
            'protocol %d (default)' % pickle.DEFAULT_PROTOCOL: pickle.dumps(values),
            'protocol 2': pickle.dumps(values, 2),
        }
        native = None
        if not args.no_native:
            frame = reseau.encode_sum_request(values, encoding='native')
            native = frame[4:]
        try:
            details[size] = check_results(values, payloads, native)
        except Mismatch as e:
            print('bench_codec.py: wrong result for %d ints: %s' % (size, e), file=sys.stderr)
            return 2
        details[size]['payload_bytes'] = {k: len(v) for k, v in payloads.items()}
        if native is not None:
            details[size]['payload_bytes']['native'] = len(native)
        large = size == args.n
        env = {
            'sum_request': reseau.sum_request,
            'decode_sum_request': reseau.decode_sum_request,
            'decode_sum_request_array': reseau.decode_sum_request_array,
            'encode_sum_request': reseau.encode_sum_request,
            'loads': pickle.loads, 'sum': sum,
            'course_encode': course_encode, 'course_encode_p2': course_encode_p2,
            'ints': values,
        }

        def run(section, label, stmt_r, stmt_b, target, **extra):
            print('[%s] %s, %d ints, %s ...' % (time.strftime('%H:%M:%S'), section, size, label),
                  file=sys.stderr, flush=True)
            env.update(extra)
            res = compare(stmt_r, stmt_b, env, args.rounds, args.min_time)
            rows.append((section, size, label, stmt_r, stmt_b, res, target if large else None))

        for label, b in payloads.items():
            if 'sum' in only:
                run('sum', label, 'sum_request(b)', 'sum(loads(b))', 10.0, b=b)
            if 'decode' in only:
                run('decode', label, 'decode_sum_request(b)', 'loads(b)', 2.0, b=b)
                run('decode', label, 'decode_sum_request_array(b)', 'loads(b)', 2.0, b=b)
        if 'encode' in only:
            run('encode', 'baseline protocol %d (default, the course\'s client)'
                % pickle.DEFAULT_PROTOCOL, 'encode_sum_request(ints)', 'course_encode(ints)', 2.0)
            run('encode', 'baseline protocol 2', 'encode_sum_request(ints)',
                'course_encode_p2(ints)', 2.0)
        p4 = payloads['protocol %d (default)' % pickle.DEFAULT_PROTOCOL]
        if 'decode' in only:
            # No decoder that returns a list of Python ints can beat the time
            # CPython takes to make (and free) those ints and the list: the
            # array module's tolist() does only that, from machine ints.
            run('decode (floor)', 'list building alone vs pickle protocol %d: the best ratio any '
                'list-returning decoder can reach' % pickle.DEFAULT_PROTOCOL,
                'arr.tolist()', 'loads(b)', None, arr=array.array('q', values), b=p4)
        if native is not None:
            if 'sum' in only:
                run('sum (info)', 'native payload vs pickle protocol %d' % pickle.DEFAULT_PROTOCOL,
                    'sum_request(nb)', 'sum(loads(b))', None, nb=native, b=p4)
            if 'encode' in only:
                run('encode (info)', 'encoding="native" vs baseline protocol %d'
                    % pickle.DEFAULT_PROTOCOL,
                    'encode_sum_request(ints, encoding="native")', 'course_encode(ints)', None)
        del values, payloads, native, env
        gc.collect()

    elapsed = time.perf_counter() - t0
    load_end = os.getloadavg()
    out = []
    w = out.append
    w('# reseau codec vs the course\'s Python, %s' % started.strftime('%Y-%m-%d %H:%M UTC'))
    w('')
    w('- Python %s (%s), `pickle.DEFAULT_PROTOCOL` = %d' % (
        platform.python_version(), platform.python_implementation(), pickle.DEFAULT_PROTOCOL))
    w('- reseau %s (`%s`)' % (version, where))
    w('- machine: %s' % machine())
    w('- load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end'
      % (load_start + load_end))
    w('- values: `%s`; %d and %d ints; %d rounds per side, each measurement at least %.2f s; '
      'ran %.0f s' % (args.values, args.n, args.small, args.rounds, args.min_time, elapsed))
    w('- command: `%s`' % ' '.join(['python'] + [os.path.basename(sys.argv[0])] + sys.argv[1:]))
    for size, d in details.items():
        w('- %d ints: payload bytes %s; `encode_sum_request` frame %d bytes, pickle protocol %d'
          % (size, ', '.join('%s %d' % kv for kv in d['payload_bytes'].items()),
             d['frame_bytes'], d['frame_protocol']))
    w('')
    w('Ratio = baseline time / reseau time (higher is better for reseau). Verdict on the median '
      'of the per-round ratios.')
    w('')
    w('| op | ints | payload / baseline | reseau (min / median) | baseline (min / median) '
      '| ratio: median of rounds (range) | ratio of mins | target |')
    w('|---|---:|---|---:|---:|---:|---:|---|')
    failed = False
    for section, size, label, stmt_r, stmt_b, res, target in rows:
        if target is None:
            verdict = 'info' if '(' in section else 'no target (call overhead)'
        elif res['ratio_med'] >= target:
            verdict = '>= %gx: **PASS**' % target
        else:
            verdict = '>= %gx: **FAIL**' % target
            failed = True
        ints_per_s = ''
        if size >= 100_000:
            ints_per_s = '<br>%.0f M ints/s' % (size / res['r_min'] / 1e6)
        w('| %s: `%s` vs `%s` | %s | %s | %s / %s%s | %s / %s | **%.2fx** (%.2f to %.2f) | %.2fx | %s |' % (
            section, stmt_r, stmt_b, '{:,}'.format(size), label,
            fmt_time(res['r_min']), fmt_time(res['r_med']), ints_per_s,
            fmt_time(res['b_min']), fmt_time(res['b_med']),
            res['ratio_med'], res['ratio_lo'], res['ratio_hi'], res['ratio_minmin'], verdict))
    w('')
    w('Baselines: `sum(loads(b))` and `loads(b)` are `pickle.loads` (C `_pickle`); '
      '`course_encode(ints)` is `p = pickle.dumps(ints); struct.pack(\'I\', len(p)) + p`, '
      '`course_encode_p2` the same with `protocol=2`.')
    report = '\n'.join(out) + '\n'
    sys.stdout.write(report)
    if args.md:
        with open(args.md, 'w') as f:
            f.write(report)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
