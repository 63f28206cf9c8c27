#!/usr/bin/env bash
# The differential test: CherryPy (the oracle) and `reseau web` on the same
# config files (tests/cherrypy_diff/configs), the same static folder and
# the same requests; see diff.py for what is compared.
#
#   bash tests/cherrypy_diff/run.sh
#
# Installs the pinned CherryPy (requirements.txt) into target/cherrypy-venv
# and builds the reseau binary (release). Without network access to PyPI
# the test is skipped with a note, except in CI (CI=true), where it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=target/cherrypy-venv
REQS=tests/cherrypy_diff/requirements.txt
if ! "$VENV/bin/python" -c 'import cherrypy' 2>/dev/null \
    || ! cmp -s "$REQS" "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  if ! "$VENV/bin/pip" install -q -r "$REQS"; then
    if [ "${CI:-}" = "true" ]; then
      echo "cannot install CherryPy from PyPI" >&2
      exit 1
    fi
    echo "note: cannot install CherryPy from PyPI: the CherryPy differential test is skipped"
    exit 0
  fi
  cp "$REQS" "$VENV/requirements.txt"
fi
cargo build --release -p reseau-host --quiet
"$VENV/bin/python" tests/cherrypy_diff/diff.py target/release/reseau
