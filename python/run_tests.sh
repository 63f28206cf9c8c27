#!/usr/bin/env bash
# The Python bindings' tests: builds and installs `reseau` (python/) into a
# venv, checks its type stubs against the module, then runs pytest on
# python/tests (the API, interop with the course-style peers of tests/peers,
# the GIL, Ctrl-C, examples/course and the notebook examples/reseau_course.ipynb).
# From the repository:
#   bash python/run_tests.sh [pytest args...]
# Needs cargo and python3. The venv is target/test-venv, shared with the
# browser tests (tests/browser/run.sh): the two requirement files pin the
# same versions of what they share. The wheel is built by maturin into the
# workspace's target/ (a warm rebuild takes seconds); nothing is written in
# the work tree (no .pyc, no pytest or mypy cache).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
# maturin's build backend runs the `maturin` command: the venv's, on PATH.
export PATH="$PWD/$venv/bin:$PATH"
pip=("$py" -m pip --quiet --disable-pip-version-check)

"${pip[@]}" install -r python/requirements-test.txt
# No build isolation: the pinned maturin above builds it, without a
# download per install. --force-reinstall: the version number does not
# change from one build to the next.
if ! "${pip[@]}" install --no-build-isolation --no-deps --force-reinstall ./python; then
  echo "error: pip install ./python failed: maturin's output is above" >&2
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
export MYPY_CACHE_DIR="$PWD/target/mypy-cache"
# The hand-written stubs (.pyi) must match what the module really has.
"$py" -m mypy.stubtest reseau._native

"$py" -m pytest -q python/tests "$@"
