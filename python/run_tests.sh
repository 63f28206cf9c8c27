#!/usr/bin/env bash
# The Python bindings' tests, on what a student installs: builds the wheel
# and the sdist of `reseau` (python/), checks them, installs the wheel into
# a fresh venv where neither cargo nor rustc is on PATH, then checks the
# type stubs against the installed module and runs pytest on python/tests
# (the API, interop with the course-style peers of tests/peers, the GIL,
# Ctrl-C, examples/course and the notebook examples/reseau_course.ipynb)
# from that install. From the repository:
#   bash python/run_tests.sh [pytest args...]
# Needs cargo and python3. Steps:
#  1-2. python/build_wheel.sh: target/dist/ gets the abi3 manylinux2014
#     wheel (Zig) and the sdist, checked (auditwheel show, twine check
#     --strict, the sdist's contents).
#  3. target/release/reseau (cargo, while it is on PATH), which some tests
#     start (named to them by RESEAU_BIN).
#  4. target/wheel-venv, made anew each run, with PATH = its bin, /usr/bin
#     and /bin (`command -v cargo` and `rustc` must fail there): the pinned
#     test requirements (python/requirements-test.txt), the wheel
#     (--no-index), then mypy.stubtest and pytest, on the installed package
#     (checked: `reseau.__file__` is in the venv, not python/pysrc). Where
#     a Python 3.9 is found (PATH or pyenv), the wheel also goes into
#     target/wheel-venv-3.9, where every module of the package must import.
#  5. The wheel goes into target/test-venv too (tests/hostile runs the
#     binding from there; the browser tests share that venv).
#  6. python/bench/wheel_figures.sh: the wheel's size, install and import
#     times, as information (timings never fail the tests).
# Nothing is written in the work tree (no .pyc, no pytest or mypy cache).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
step() { printf -- '-- [%(%H:%M:%S)T] %s\n' -1 "$*"; }

# 1-2. The wheel and the sdist, built and checked (python/build_wheel.sh).
bash python/build_wheel.sh
wheel=$(echo "$root"/target/dist/reseau-*-cp39-abi3-manylinux*_x86_64.whl)

# 3. The binary some tests start.
step "cargo build --release -p reseau-host --bin reseau"
cargo build --release --quiet -p reseau-host --bin reseau
export RESEAU_BIN="$root/target/release/reseau"

# 4. A fresh venv without a Rust toolchain.
venv=$root/target/wheel-venv
rm -rf "$venv"
# The interpreter itself (python3 may be a shim that needs the full PATH).
python=$(python3 -c 'import sys; print(sys.executable)')
"$python" -m venv "$venv"
nocargo=(env PATH="$venv/bin:/usr/bin:/bin")
for tool in cargo rustc; do
  if "${nocargo[@]}" sh -c "command -v $tool" >/dev/null; then
    echo "error: $tool is on the test PATH ($("${nocargo[@]}" sh -c "command -v $tool"))" >&2
    exit 1
  fi
done
py=("${nocargo[@]}" "$venv/bin/python")
pip=("${py[@]}" -m pip --quiet --disable-pip-version-check)
step "fresh venv target/wheel-venv, no cargo or rustc on PATH: test requirements, then the wheel"
"${pip[@]}" install -r python/requirements-test.txt
"${pip[@]}" install --no-index --no-deps "$wheel"

export PYTHONDONTWRITEBYTECODE=1
export MYPY_CACHE_DIR="$root/target/mypy-cache"
where=$("${py[@]}" -c 'import reseau; print(reseau.__file__)')
case $where in
  "$venv"/lib/*) echo "reseau imported from $where" ;;
  *) echo "error: reseau is imported from $where, not from the installed wheel" >&2; exit 1 ;;
esac
# The hand-written stubs (.pyi) must match what the module really has.
step "mypy.stubtest reseau._native, mypy --strict on the package's Python"
"${py[@]}" -m mypy.stubtest reseau._native
"${py[@]}" -m mypy --strict python/pysrc/reseau

# The wheel says CPython 3.9 and later: where a 3.9 is at hand (pyenv's),
# the package and every module in it must import there too (the tests run
# on python3 only).
# (pyenv's python3.9 on PATH may be a shim that runs only where 3.9 is the
# selected version: each candidate is tried.)
oldest=
for candidate in "$(command -v python3.9 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9; do
  if [ -z "$oldest" ] && [ -x "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then
    oldest=$candidate
  fi
done
if [ -n "$oldest" ]; then
  step "the wheel on $("$oldest" --version 2>&1)"
  rm -rf "$root/target/wheel-venv-3.9"
  "$oldest" -m venv "$root/target/wheel-venv-3.9"
  env PATH="$root/target/wheel-venv-3.9/bin:/usr/bin:/bin" "$root/target/wheel-venv-3.9/bin/python" -m pip \
    --quiet --disable-pip-version-check install --no-index --no-deps "$wheel"
  env PATH="$root/target/wheel-venv-3.9/bin:/usr/bin:/bin" "$root/target/wheel-venv-3.9/bin/python" -c '
import importlib, pkgutil, sys
import reseau
for module in pkgutil.walk_packages(reseau.__path__, "reseau."):
    importlib.import_module(module.name)
payload = reseau.FrameDecoder().feed(reseau.encode_sum_request([1, 2, 3]))[0]
assert reseau.decode_sum_request(payload) == [1, 2, 3] and reseau.sum_request(payload) == 6
print("reseau imports and encodes on Python %d.%d" % sys.version_info[:2])'
else
  echo "note: no python3.9 here: the wheel is tested on $("$python" --version 2>&1) only"
fi

# 5. target/test-venv (tests/hostile, the browser tests' venv) gets the wheel.
if [ ! -x target/test-venv/bin/python ]; then
  "$python" -m venv target/test-venv
fi
target/test-venv/bin/python -m pip install --quiet --disable-pip-version-check --no-index \
  --no-deps --force-reinstall "$wheel"

# 6. The figures, as information (before pytest: its processes are gone).
step "figures (information, not assertions)"
timeout -k 5 300 bash python/bench/wheel_figures.sh "$wheel" || echo "note: wheel_figures.sh could not measure"

step "pytest python/tests, on the installed wheel"
"${py[@]}" -m pytest -q python/tests "$@"
