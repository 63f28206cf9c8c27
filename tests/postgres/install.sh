#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) and psql
# are installed. With CI=true (a clean clone, as root) installs the Debian
# package `postgresql` with apt-get; otherwise prints a note and exits 3 so the
# caller skips. Exit 0: ready.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

have() {
    python3 -c "import sys; sys.path.insert(0, '$here'); import cluster; cluster.bindir()" 2>/dev/null \
        && command -v psql >/dev/null
}

if have; then
    exit 0
fi
if [[ "${CI:-}" == "true" ]]; then
    echo "installing PostgreSQL (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The package's own cluster is not used: the tests start private ones.
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
    have || { echo "PostgreSQL still missing after apt-get" >&2; exit 1; }
    exit 0
fi
echo "note: PostgreSQL server binaries not found (install the Debian package postgresql," \
     "or run with CI=true); skipping the PostgreSQL tests" >&2
exit 3
