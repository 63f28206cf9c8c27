#!/usr/bin/env bash
# Figures of a built wheel, as a student meets it (issue 15's targets: the
# wheel under 5 MB, `pip install` under 10 s, `import reseau` under 50 ms).
# They are information: this script fails only when it cannot measure.
#
# Usage (from anywhere):
#   python/bench/wheel_figures.sh WHEEL [FULL_API_WHEEL]
#   PYTHON=python3.12 python/bench/wheel_figures.sh target/dist/reseau-*.whl
#
# Prints:
#   - the wheel's size;
#   - `pip install --no-index WHEEL` into a new venv (reseau has no
#     dependencies: nothing is downloaded), wall time, the venv's creation
#     timed apart; PATH holds only the venv's bin, /usr/bin and /bin, so no
#     cargo or rustc could be used;
#   - `python -c 'import reseau'`: 20 runs each, interleaved with `python -c
#     pass` (the interpreter's own start), the median wall time of each, and
#     the median of the import alone as `python -X importtime` reports it
#     (cumulative microseconds of the `reseau` line);
#   - with FULL_API_WHEEL (a wheel of the same code built without abi3,
#     e.g. `maturin build --release` after removing the abi3-py39 feature):
#     encode_sum_request of list(range(1_000_000)), min and median of 9
#     rounds of 5 calls, with each wheel.
# The venvs are in a temporary directory, removed on exit.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 WHEEL [FULL_API_WHEEL]" >&2; exit 2; }
wheel=$(realpath "$1")
full=${2:+$(realpath "$2")}
PYTHON=$(command -v "${PYTHON:-python3}")
# The interpreter itself, not a shim that needs the full PATH (pyenv).
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')

tmp=$(mktemp -d /tmp/wheel-figures.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

size=$(stat -c %s "$wheel")
printf 'wheel: %s\n  size: %s bytes (%.2f MB; target: under 5 MB)\n' \
  "${wheel##*/}" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')"

# install VENV WHEEL: a new venv, then the wheel, without cargo on PATH.
install() {
  local venv=$1 t0 t1 t2
  t0=$(now)
  "$PYTHON" -m venv "$venv"
  t1=$(now)
  env PATH="$venv/bin:/usr/bin:/bin" "$venv/bin/python" -m pip install --quiet \
    --disable-pip-version-check --no-index "$2"
  t2=$(now)
  VENV_S=$(seconds "$t0" "$t1") PIP_S=$(seconds "$t1" "$t2")
}

install "$tmp/venv" "$wheel"
py=$tmp/venv/bin/python
printf '  pip install --no-index (new venv, no cargo on PATH): %s s (target: under 10 s); the venv: %s s\n' \
  "$PIP_S" "$VENV_S"

# Import time: the whole process, 20 runs, median; and the import alone.
env PATH="$tmp/venv/bin:/usr/bin:/bin" "$py" - "$py" <<'EOF'
import statistics
import subprocess
import sys
import time

py = sys.argv[1]
def wall(cases, runs=20):
    """The median wall time (ms) of each command line, run in turn
    (interleaved, so that a change of load affects them alike)."""
    times = [[] for _ in cases]
    for _ in range(runs):
        for args, out in zip(cases, times):
            t0 = time.perf_counter()
            # No timeout here: with one, subprocess polls for the child's
            # exit (sleeps of up to 50 ms) and every figure rounds up to
            # ~16 ms steps. The script runs under `timeout` (run_tests.sh).
            subprocess.run([py, *args], check=True)
            out.append(time.perf_counter() - t0)
    return [statistics.median(t) * 1e3 for t in times]

def importtime(runs=20):
    times = []
    for _ in range(runs):
        err = subprocess.run([py, "-X", "importtime", "-c", "import reseau"], check=True,
                             capture_output=True, text=True).stderr
        line = [l for l in err.splitlines() if l.rstrip().endswith("| reseau")][-1]
        times.append(int(line.split("|")[1]))
    return statistics.median(times) / 1e3

(whole, bare), alone = wall([["-c", "import reseau"], ["-c", "pass"]]), importtime()
print("  python -c 'import reseau': %.1f ms median of 20 (python -c pass: %.1f ms);"
      " the import alone (-X importtime, cumulative): %.1f ms (target: under 50 ms)"
      % (whole, bare, alone))
EOF

encode() {
  "$1" - <<'EOF'
import statistics
import timeit

import reseau

ints = list(range(1_000_000))
times = [t / 5 * 1e3 for t in timeit.repeat(lambda: reseau.encode_sum_request(ints), number=5, repeat=9)]
print("min %.2f ms, median %.2f ms" % (min(times), statistics.median(times)))
EOF
}
# With a full-API wheel, the cost of abi3 on the binding's hottest read
# (bench_codec.py, in bench/run, has the binding's figures otherwise).
if [ -n "$full" ]; then
  printf '  encode_sum_request(list(range(1_000_000))), this wheel: %s\n' "$(encode "$py")"
  install "$tmp/full" "$full"
  printf '  the same, %s: %s\n' "${full##*/}" "$(encode "$tmp/full/bin/python")"
fi
