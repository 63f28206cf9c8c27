#!/usr/bin/env bash
# The operators' tests, with the real `reseau` binary:
#
#   bash tests/deploy/run.sh
#
# 1. metrics_test.py: GET /metrics parsed whole by prometheus_client's
#    parser (pinned, in target/deploy-venv) and strict checks; exact counts
#    after known traffic; 1000 unknown paths add one series; --metrics on
#    `adder serve` and `echo serve`.
# 2. deploy_test.py: two `reseau web` on one PostgreSQL database behind
#    HAProxy (HTTP mode, /healthz checks), two adders and two echoes behind
#    its TCP mode: shared data, one 201 and one 409 for a name raced on
#    both, kill -9 of an instance under writes, load spread.
# 3. readme_test.py: README's HAProxy config (tests/deploy/haproxy.cfg, as
#    printed) with loopback addresses: HTTPS through it to two TLS
#    instances, /metrics refused from outside, the adder over TLS.
# HAProxy and PostgreSQL: installed with apt-get when CI=true; otherwise a
# missing one skips deploy_test.py with a note. About 30 s.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p reseau-host --quiet
venv=target/deploy-venv
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet prometheus-client==0.21.1
fi
"$venv/bin/python" tests/deploy/metrics_test.py

if ! command -v haproxy >/dev/null; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "installing HAProxy (apt-get install haproxy)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends haproxy >/dev/null
    else
        echo "note: haproxy is not installed (apt-get install haproxy, or CI=true): deploy_test.py skipped"
        exit 0
    fi
fi
status=0
bash tests/postgres/install.sh || status=$?
if [[ $status -eq 3 ]]; then
    exit 0
elif [[ $status -ne 0 ]]; then
    exit "$status"
fi
"$venv/bin/python" tests/deploy/deploy_test.py
"$venv/bin/python" tests/deploy/readme_test.py
