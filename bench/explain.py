#!/usr/bin/env python3
"""`reseau explain` next to CPython's pickletools on the same requests.

Each request is what the course's client sends: struct.pack('I', len(p)) +
pickle.dumps(list(range(N))) (CPython's default protocol). Measured, each
as its own process, on the same file:

- `reseau explain --summary --file F`: counts of each field, then the
  verdict (streamed: the file is read 64 KiB at a time);
- `reseau explain --file F > /dev/null`: every field's row;
- pickletools, the course's own tool for the same job: the counts of
  `pickletools.genops` (summary) and `pickletools.dis` (every opcode),
  on the payload read from the same file.

Each command runs ROUNDS times; the table gives the median wall time and
the largest resident set size (GNU time's %M: /usr/bin/time is needed).

Usage:
    python3 bench/explain.py --reseau target/release/reseau [--n 1000000 10000000] [--rounds 5]
Prints a Markdown table on stdout. Standard library only.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MAKE_PY = (
    "import pickle, struct, sys\n"
    "p = pickle.dumps(list(range(int(sys.argv[2]))))\n"
    "open(sys.argv[1], 'wb').write(struct.pack('I', len(p)) + p)\n"
)
SUMMARY_PY = (
    "import collections, pickletools, sys\n"
    "p = open(sys.argv[1], 'rb').read()[4:]\n"
    "c = collections.Counter(op.name for op, _, _ in pickletools.genops(p))\n"
    "print(sorted(c.items()))\n"
)
DIS_PY = (
    "import pickletools, sys\n"
    "p = open(sys.argv[1], 'rb').read()[4:]\n"
    "pickletools.dis(p, out=open(__import__('os').devnull, 'w'))\n"
)


def run(cmd):
    """Wall time (s) and max RSS (KiB) of one run of cmd, output dropped.

    The RSS is GNU time's (%M): measured in a process of its own, so that
    the fork of this Python process does not count.
    """
    start = time.perf_counter()
    # No timeout here: with one, subprocess polls for the child's exit
    # (sleeps of up to 50 ms), which rounds short runs up. bench/run runs
    # this script under `timeout`.
    with open(os.devnull, "wb") as null:
        done = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=null,
                              stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    # explain exits 1 when the server refuses the request (sums past 2^32).
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed, int(done.stderr.decode().strip().splitlines()[-1])


def measure(cmd, rounds):
    runs = [run(cmd) for _ in range(rounds)]
    return statistics.median(t for t, _ in runs), max(r for _, r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reseau", required=True)
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="reseau-explain-bench-") as tmp:
        for n in args.n:
            path = os.path.join(tmp, f"request-{n}.bin")
            # Written by a process of its own: this one stays small.
            subprocess.run([sys.executable, "-c", MAKE_PY, path, str(n)], check=True)
            size = os.path.getsize(path)
            # pickletools.dis of ten million opcodes takes minutes: only
            # the smaller inputs get it.
            cases = [
                ("`reseau explain --summary`", [args.reseau, "explain", "--summary", "--file", path]),
                ("pickletools.genops, counted", [sys.executable, "-c", SUMMARY_PY, path]),
                ("`reseau explain` (every row)", [args.reseau, "explain", "--file", path]),
            ]
            if n <= 1_000_000:
                cases.append(("pickletools.dis (every opcode)", [sys.executable, "-c", DIS_PY, path]))
            for label, cmd in cases:
                rounds = args.rounds if "reseau" in label else max(1, min(args.rounds, 3))
                seconds, rss = measure(cmd, rounds)
                rows.append((f"{n:,}", f"{size / 1e6:.1f} MB", label, seconds, rss, rounds))
    print("| ints | request | command | median time | max RSS | runs |")
    print("|---:|---:|---|---:|---:|---:|")
    for n, size, label, seconds, rss, rounds in rows:
        print(f"| {n} | {size} | {label} | {seconds * 1000:,.0f} ms | {rss / 1024:,.1f} MiB | {rounds} |")


if __name__ == "__main__":
    main()
