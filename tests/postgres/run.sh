#!/usr/bin/env bash
# The site on PostgreSQL, from the test command (scripts/test): installs
# PostgreSQL when CI=true (tests/postgres/install.sh; elsewhere a missing
# server is a note and a skip), then, each on a private cluster of its own
# (tests/postgres/cluster.py: a temporary folder, a free port, an
# unprivileged owner, removed afterwards):
#   1. the storage tests, the same assertions on SQLite and PostgreSQL;
#   2. the HTTP suite (tests/tests/web.rs) with `reseau web --db postgresql://...`;
#   3. the web_security injection table on PostgreSQL;
#   4. tests/postgres/test_postgres.py: 409 from the constraint, one 201 of
#      16 concurrent POSTs of one name, /healthz 200/503/200, an unreachable
#      database at start (exit 2, password masked).
# About 2 minutes once built.
set -euo pipefail
cd "$(dirname "$0")/../.."

rc=0
bash tests/postgres/install.sh || rc=$?
if [ "$rc" = 3 ]; then
  exit 0
elif [ "$rc" != 0 ]; then
  exit "$rc"
fi

cargo build --release -q -p reseau-host --bin reseau
with_cluster() { python3 tests/postgres/cluster.py -- "$@"; }

echo "storage: the same tests on SQLite and PostgreSQL"
with_cluster cargo test --release -q -p reseau-host --lib web::db

echo "HTTP suite (tests/tests/web.rs) on PostgreSQL"
with_cluster cargo test --release -q -p reseau-tests --test web

echo "injection table on PostgreSQL"
with_cluster bash tests/web_security/run.sh

echo "PostgreSQL only: constraint, concurrency, /healthz, start errors"
python3 tests/postgres/test_postgres.py --reseau target/release/reseau
