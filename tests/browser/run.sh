#!/usr/bin/env bash
# The browser tests (tests/browser/test_site.py): headless Chromium, driven
# by Playwright, against `reseau web`. From the repository:
#   bash tests/browser/run.sh [pytest args...]
# Needs `cargo build --release --workspace` first and Debian's chromium
# (/usr/bin/chromium, or CHROMIUM=path): without it, the tests are skipped
# with a note, except in CI (CI=true), where scripts/test installs it with
# apt-get first and its absence is an error.
# The Python packages (tests/browser/requirements.txt, pinned) go into a
# venv, target/test-venv; Playwright never downloads a browser of its own.
# Screenshots of every step: target/browser-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: $chromium is missing: CI must run the browser tests (apt-get install chromium)" >&2
    exit 1
  fi
  echo "note: $chromium is missing: the browser tests are skipped (apt-get install chromium to run them)"
  exit 0
fi
export CHROMIUM="$chromium"

venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/browser/requirements.txt

screenshots="${RESEAU_SCREENSHOTS:-$PWD/target/browser-screenshots}"
export RESEAU_SCREENSHOTS="$screenshots"
rm -rf "$screenshots"
# No .pyc or pytest cache in the work tree.
export PYTHONDONTWRITEBYTECODE=1
if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/browser "$@"; then
  echo "browser tests failed: screenshots of every step are in $screenshots" >&2
  exit 1
fi
echo "screenshots: $screenshots"
