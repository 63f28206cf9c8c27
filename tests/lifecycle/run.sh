#!/usr/bin/env bash
# The lifecycle tests of the servers, with the real `reseau` binary and
# course-style Python clients (standard library only, no venv needed):
#
#   bash tests/lifecycle/run.sh
#
# 1. shutdown.py: SIGTERM to `reseau serve` under load (every request sent
#    before the signal answered, nothing half-written, exit 0 soon), a
#    connection that never drains (listeners closed at once, exit 0 at the
#    10 s deadline), a second signal (the drain ends at once).
# 2. durability.py: `kill -9` of `reseau web` during concurrent POST
#    /api/users, 5 times on the same database file: every user acknowledged
#    with 201 is there after each kill, and PRAGMA integrity_check is ok.
# 3. soak.py: one minute of steady mixed load (adder, echo, web pages and
#    API, chat datagrams with a `reseau chat` peer), RSS, descriptors and
#    threads sampled every second: no error, no lost reply, no growth.
# About 2 minutes in all. Longer campaigns: durability.py --kills 60,
# soak.py --duration 600 (see the figures in the issue 12 note).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p reseau-host --quiet
python3 tests/lifecycle/shutdown.py
python3 tests/lifecycle/durability.py --kills 5
python3 tests/lifecycle/soak.py --duration 60 --warmup 10
