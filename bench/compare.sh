#!/usr/bin/env bash
# Measures our adder server (`reseau adder serve`) against its peers, side by
# side in the same run: the tokio + serde-pickle server (bench/tokio-adder)
# and the course-style Python server (tests/peers/adder_server.py).
#
# Usage (from anywhere; build first with `cargo build --release --workspace`):
#   bench/compare.sh [REPORT.md]        # default: bench/results/latest.md
#   ROUNDS=1 SECS=1 bench/compare.sh /tmp/quick.md
#
# Environment: ROUNDS (default 5) rounds per scenario, SECS (default 5)
# seconds per load run, PAUSE (default 1) seconds of rest between runs.
# With the defaults the whole run takes about 5 minutes.
#
# Scenarios:
#   1. 64 persistent clients, 10 ints/request: ours vs tokio
#   2. 64 persistent clients, 1000 ints/request: ours vs tokio
#   3. a new connection per request, 64 clients, 10 ints: ours vs tokio vs python
#   4. server and load generator pinned together on CPU 0: ours vs tokio
#   5. ten million ints in one request: answers and the server's memory growth
#   6. 10,000 idle connections held open: a request and a 1-client bench still
#      work, and the server's memory
# Servers of one comparison run at the same time and the runs alternate
# (ours, tokio[, python], ours, tokio, ...) so that noise from other work on
# the machine hits all of them alike. The report gives per-round req/s, the
# per-round ratios and their medians, and the median p50/p99 latencies.
#
# Only 127.0.0.1 is used; servers bind port 0 and the real port is read from
# their first log line. Only processes started here are stopped (by PID),
# also on exit through a trap. Every wait loop is bounded and every client
# command runs under `timeout`. The binaries are copied to a temporary
# directory first, so a concurrent `cargo build` cannot swap them mid-run.
# Exit status: 0 when every check passed, 1 when one failed (the report is
# still written), 2 on a usage or setup error.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
PAUSE=${PAUSE:-1}
OUT=${1:-bench/results/latest.md}
CLIENTS=64
HOLD_N=10000

# Shared helpers: die, stop_pids, log/md/check, start_server, bench_run,
# summarize and the report header lines.
# shellcheck source=bench/lib.sh
. bench/lib.sh
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] && ((ROUNDS <= 100)) || die "ROUNDS must be an integer in 1..100"
[[ $SECS =~ ^[1-9][0-9]*$ ]] && ((SECS <= 600)) || die "SECS must be an integer in 1..600"
[[ $PAUSE =~ ^[0-9]+$ ]] && ((PAUSE <= 60)) || die "PAUSE must be an integer in 0..60"
for tool in python3 taskset timeout awk seq sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
for bin in target/release/reseau target/release/tokio-adder; do
  [[ -x $bin ]] || die "$bin is missing: run cargo build --release --workspace"
done
[[ -f tests/peers/adder_server.py && -f bench/hold_connections.py ]] || die "peer scripts missing"
mkdir -p "$(dirname "$OUT")"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reseau-compare.XXXXXX")
PIDS=()        # every background process this script started and has not reaped
HOLD_FD_OPEN=0 # 1 while fd 3 (the hold helper's stdin) is open

# Closes the hold helper's stdin before its process is stopped.
cleanup_extra() {
  if ((HOLD_FD_OPEN)); then exec 3>&-; HOLD_FD_OPEN=0; fi
}
on_exit_clean_up

# The file-descriptor limit: scenario 6 needs 10,000 connections (the Python
# helper and the server raise their own soft limits too).
NOFILE_BEFORE=$(ulimit -n)
NOFILE_HARD=$(ulimit -Hn)
if [[ $NOFILE_HARD == unlimited ]]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$NOFILE_HARD"; fi
NOFILE=$(ulimit -n)

# Snapshot of the binaries (identical to target/release at the start).
BIN=$TMP/bin
mkdir -p "$BIN"
cp target/release/reseau target/release/tokio-adder "$BIN/"
R=$BIN/reseau
T=$BIN/tokio-adder
PY=tests/peers/adder_server.py

BODY=$TMP/body.md       # the scenarios' sections
SUMMARY=$TMP/summary.md # one line per check / headline number
CMDS=$TMP/cmds.txt      # commands of the current scenario, in order
TSV=$TMP/runs.tsv       # scenario, round, server, req/s, p50, p99, p99.9, max, errors, rc,
                        # requests, server CPU s, load generator CPU s, MB/s ("-")
CLK_TCK=$(getconf CLK_TCK)
: >"$BODY"; : >"$SUMMARY"; : >"$CMDS"; : >"$TSV"
FAILED=0

# compare SCEN TITLE TARGETS PIN INTS EXTRA-BENCH-ARGS... : one comparison
# scenario with its own fresh servers. PIN=1 pins servers and the load
# generator to CPU 0. Servers in the scenario: ours, tokio (+ python when
# EXTRA contains --connect-per-request).
compare() {
  local scen=$1 title=$2 targets=$3 pin=$4 ints=$5
  shift 5
  local extra=("$@") pre=() servers=(ours tokio) s r
  ((pin)) && pre=(taskset -c 0)
  [[ " ${extra[*]-} " == *" --connect-per-request "* ]] && servers+=(python)
  log "scenario $scen: $title"
  declare -A pid port
  start_server "ours$scen" "${pre[@]}" "$R" adder serve --bind 127.0.0.1:0
  pid[ours]=$SRV_PID; port[ours]=$SRV_PORT
  start_server "tokio$scen" "${pre[@]}" "$T" --bind 127.0.0.1:0
  pid[tokio]=$SRV_PID; port[tokio]=$SRV_PORT
  if [[ " ${servers[*]} " == *" python "* ]]; then
    start_server "python$scen" "${pre[@]}" python3 "$PY" --host 127.0.0.1 --port 0
    pid[python]=$SRV_PID; port[python]=$SRV_PORT
  fi
  for ((r = 1; r <= ROUNDS; r++)); do
    for s in "${servers[@]}"; do
      bench_run "$scen" "$r" "$s" "${pid[$s]}" "${port[$s]}" "${pre[@]}" -- adder \
        --clients "$CLIENTS" --duration "$SECS" --ints "$ints" "${extra[@]}"
    done
  done
  stop_servers
  md "## $scen. $title" ''
  md "$CLIENTS clients, $ints ints per request, ${SECS} s per run, $ROUNDS rounds; runs alternate $(IFS=/; echo "${servers[*]}") within each round."
  ((pin)) && md 'Both the server and the load generator run under `taskset -c 0` (one core shared by both), so req/s here is inversely proportional to the CPU spent per request by server + client.'
  md ''
  summarize "$scen" "$(IFS=,; echo "${servers[*]}")" "$targets" "Scenario $scen ($title)"
  flush_cmds
  md ''
}

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_S=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TW_START=$(timewait)
log "report: $OUT (ROUNDS=$ROUNDS SECS=$SECS)"

compare 1 "persistent connections, 10 ints" "tokio:1.2" 0 10
compare 2 "persistent connections, 1000 ints" "" 0 1000
compare 3 "one connection per request, 10 ints" "tokio:1.0,python:1.5" 0 10 --connect-per-request
compare 3b "pinned to CPU 0, one connection per request, 10 ints" "" 1 10 --connect-per-request
compare 4 "pinned to CPU 0, persistent connections, 10 ints" "" 1 10

# ---------------------------------------------------------------- scenario 5
log "scenario 5: ten million ints in one request"
start_server ours5 "$R" adder serve --bind 127.0.0.1:0
pid5=$SRV_PID; addr5=127.0.0.1:$SRV_PORT
rss_before=$(vm "$pid5" VmRSS); hwm_before=$(vm "$pid5" VmHWM)
note "grep -E '^Vm(RSS|HWM):' /proc/$pid5/status    # before"

cmd_native="seq 1 10000000 | timeout 300 $(show "$R" adder sum --to "$addr5" --encoding native)"
note "$cmd_native"
t0=$(date +%s.%N)
native=$(seq 1 10000000 | timeout 300 "$R" adder sum --to "$addr5" --encoding native 2>"$TMP/native.err") || native="exit $?: $(head -c 300 "$TMP/native.err")"
t1=$(date +%s.%N)
rss_mid=$(vm "$pid5" VmRSS)

# 9,999,999 zeros then a 7: the sum (7) fits the pickle reply's u32.
cmd_pickle="awk 'BEGIN { for (i = 1; i < 10000000; i++) print 0; print 7 }' | timeout 300 $(show "$R" adder sum --to "$addr5")"
note "$cmd_pickle"
t2=$(date +%s.%N)
pickled=$(awk 'BEGIN { for (i = 1; i < 10000000; i++) print 0; print 7 }' | timeout 300 "$R" adder sum --to "$addr5" 2>"$TMP/pickle.err") || pickled="exit $?: $(head -c 300 "$TMP/pickle.err")"
t3=$(date +%s.%N)
# The pickle payload size, for the record (same framing as the client's).
pickle_bytes=$(python3 -c 'import pickle; print(len(pickle.dumps([0] * 9999999 + [7])))')
sleep 0.2
rss_after=$(vm "$pid5" VmRSS); hwm_after=$(vm "$pid5" VmHWM)
note "grep -E '^Vm(RSS|HWM):' /proc/$pid5/status    # after"
stop_servers

grow_rss=$((rss_after - rss_before)); grow_hwm=$((hwm_after - rss_before))
[[ $native == 50000005000000 ]] && check OK "Scenario 5: native sum of 1..10,000,000 = $native" \
  || check FAIL "Scenario 5: native sum of 1..10,000,000 gave '$native', expected 50000005000000"
[[ $pickled == 7 ]] && check OK "Scenario 5: pickle sum of 9,999,999 zeros and a 7 = $pickled" \
  || check FAIL "Scenario 5: pickle sum of 9,999,999 zeros and a 7 gave '$pickled', expected 7"
((grow_hwm < 1024)) && check OK "Scenario 5: server peak memory growth (VmHWM after - VmRSS before) = $grow_hwm KiB (< 1024 KiB); VmRSS growth $grow_rss KiB" \
  || check FAIL "Scenario 5: server peak memory growth (VmHWM after - VmRSS before) = $grow_hwm KiB, limit 1024 KiB; VmRSS growth $grow_rss KiB"

md "## 5. Ten million ints in one request" ''
md "A fresh server; its memory from \`/proc/PID/status\` before the first request and after both requests."
md '' '| Request | Answer | Expected | Time (s) |' '|---|---:|---:|---:|'
md "| native, \`seq 1 10000000\` | $native | 50000005000000 | $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') |"
md "| pickle, 9,999,999 zeros + 7 (payload $pickle_bytes bytes) | $pickled | 7 | $(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.2f", b-a}') |"
md '' '| Server memory | kB |' '|---|---:|'
md "| VmRSS before | $rss_before |" "| VmHWM before | $hwm_before |" "| VmRSS after the native request | $rss_mid |"
md "| VmRSS after both | $rss_after |" "| VmHWM after both | $hwm_after |"
md "| **growth of VmRSS** | **$grow_rss KiB** |" "| **growth of the peak (VmHWM after - VmRSS before)** | **$grow_hwm KiB** |"
md '' "Limit: growth < 1024 KiB."
flush_cmds
md ''

# ---------------------------------------------------------------- scenario 6
log "scenario 6: $HOLD_N idle connections"
start_server ours6 "$R" adder serve --bind 127.0.0.1:0 --idle-timeout 300
pid6=$SRV_PID; port6=$SRV_PORT; addr6=127.0.0.1:$port6
rss_idle0=$(vm "$pid6" VmRSS)
fds0=$(find "/proc/$pid6/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
srv_nofile=$(awk '/^Max open files/ {print $4}' "/proc/$pid6/limits")

# Baseline: the same 1-client bench with no idle connections.
base_cmd=(timeout -k 5 60 "$R" bench adder --to "$addr6" --clients 1 --duration 2)
note "$(show "${base_cmd[@]}")    # baseline, before the idle connections"
base_out=$("${base_cmd[@]}" 2>&1) || true

mkfifo "$TMP/hold.in"
hold_cmd=(python3 bench/hold_connections.py --host 127.0.0.1 --port "$port6" -n "$HOLD_N" --timeout 120)
note "$(show "${hold_cmd[@]}") <FIFO &    # stdin closed to release"
"${hold_cmd[@]}" <"$TMP/hold.in" >"$TMP/hold.out" 2>"$TMP/hold.err" &
hold_pid=$!
PIDS+=("$hold_pid")
exec 3>"$TMP/hold.in"
HOLD_FD_OPEN=1
held=
for ((i = 0; i < 600; i++)); do
  held=$(sed -n 's/^holding \([0-9]*\)$/\1/p' "$TMP/hold.out")
  [[ -n $held ]] && break
  kill -0 "$hold_pid" 2>/dev/null || break
  sleep 0.1
done
log "  helper: ${held:-nothing} held"
sleep 0.5 # let the server accept the last ones
fds1=$(find "/proc/$pid6/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
rss_idle1=$(vm "$pid6" VmRSS)

sum_cmd=(timeout -k 5 60 "$R" adder sum --to "$addr6" 1 2 3)
note "$(show "${sum_cmd[@]}")"
sum_out=$("${sum_cmd[@]}" 2>&1) || sum_out="exit $?: $sum_out"
b_cmd=(timeout -k 5 60 "$R" bench adder --to "$addr6" --clients 1 --duration 2)
note "$(show "${b_cmd[@]}")"
b_rc=0
b_out=$("${b_cmd[@]}" 2>&1) || b_rc=$?
rss_idle2=$(vm "$pid6" VmRSS); hwm_idle2=$(vm "$pid6" VmHWM)
fds2=$(find "/proc/$pid6/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)

exec 3>&-
HOLD_FD_OPEN=0
for ((i = 0; i < 300; i++)); do
  kill -0 "$hold_pid" 2>/dev/null || break
  sleep 0.1
done
hold_rc=0
wait "$hold_pid" || hold_rc=$?
forget_pid "$hold_pid"
released=$(sed -n 's/^released //p' "$TMP/hold.out")
stop_servers

b_rps=$(sed -n 's/^requests: [0-9]* (\([0-9.]*\) req\/s)$/\1/p' <<<"$b_out")
b_lat=$(sed -n 's/^latency: //p' <<<"$b_out")
b_err=$(sed -n 's/^errors: //p' <<<"$b_out")
base_rps=$(sed -n 's/^requests: [0-9]* (\([0-9.]*\) req\/s)$/\1/p' <<<"$base_out")
base_lat=$(sed -n 's/^latency: //p' <<<"$base_out")
rss_limit=$((64 * 1024))

[[ $held == "$HOLD_N" ]] && check OK "Scenario 6: the helper held $held connections (server fds: $fds1; released: $released)" \
  || check FAIL "Scenario 6: the helper held '${held:-none}' of $HOLD_N connections: $(head -c 300 "$TMP/hold.err")"
[[ $sum_out == 6 ]] && check OK "Scenario 6: \`adder sum 1 2 3\` with $HOLD_N idle connections open = $sum_out" \
  || check FAIL "Scenario 6: \`adder sum 1 2 3\` with $HOLD_N idle connections open gave '$sum_out'"
[[ $b_rc == 0 && -n $b_rps ]] && check OK "Scenario 6: 1-client bench with $HOLD_N idle connections: $b_rps req/s, $b_lat (without them: $base_rps req/s, $base_lat)" \
  || check FAIL "Scenario 6: 1-client bench with $HOLD_N idle connections failed (exit $b_rc): $(tr '\n' ' ' <<<"$b_out" | head -c 300)"
((rss_idle2 < rss_limit)) && check OK "Scenario 6: server VmRSS with $HOLD_N connections open = $rss_idle2 kB ($(awk -v k="$rss_idle2" 'BEGIN{printf "%.1f", k/1024}') MiB, < 64 MiB)" \
  || check FAIL "Scenario 6: server VmRSS with $HOLD_N connections open = $rss_idle2 kB, limit 64 MiB"
((hold_rc == 0)) || check FAIL "Scenario 6: the hold helper exited with $hold_rc"

md "## 6. $HOLD_N idle connections" ''
md "A fresh server with \`--idle-timeout 300\`; \`bench/hold_connections.py\` opens $HOLD_N connections and holds them idle until its stdin is closed. Open-file limits: this shell $NOFILE (was $NOFILE_BEFORE, hard $NOFILE_HARD), the server $srv_nofile."
md '' '| Measure | Value |' '|---|---:|'
md "| connections held by the helper | ${held:-none} |"
md "| server fds before / while held / after the bench | $fds0 / $fds1 / $fds2 |"
md "| server VmRSS before | $rss_idle0 kB |"
md "| server VmRSS with the connections open | $rss_idle1 kB |"
md "| server VmRSS after the sum and the bench, still open | **$rss_idle2 kB** ($(awk -v k="$rss_idle2" 'BEGIN{printf "%.1f", k/1024}') MiB; limit 64 MiB) |"
md "| server VmHWM at that point | $hwm_idle2 kB |"
md "| \`adder sum 1 2 3\` | $sum_out |"
md "| 1-client bench, connections held | $b_rps req/s; $b_lat; errors ${b_err:-?} |"
md "| 1-client bench, baseline (before) | $base_rps req/s; $base_lat |"
md "| helper on release | ${released:-?} |"
flush_cmds
md ''

# ---------------------------------------------------------------- the report
END=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
TW_END=$(timewait)
REPORT=$TMP/report.md
{
  echo "# reseau adder: ours vs tokio vs the course's Python server"
  echo
  echo "- Run: $START to $END ($((SECONDS - START_S)) s), \`ROUNDS=$ROUNDS SECS=$SECS PAUSE=$PAUSE bench/compare.sh\`"
  machine_line
  echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END (other work on the machine adds noise; that is why runs alternate)"
  source_line
  echo "- \`\$BIN\`: a copy of \`target/release\` taken at the start; sha256 \`reseau\` $(sha256sum "$R" | cut -c1-16)…, \`tokio-adder\` $(sha256sum "$T" | cut -c1-16)…"
  echo "- TCP sockets in TIME_WAIT on the machine (\`ss -s\`) at start: $TW_START; at end: $TW_END"
  echo "- $(python3 --version 2>&1); servers and clients on 127.0.0.1 only; ours logs one line per connection to a file, as do the Python server's errors"
} >"$REPORT"
finish_report
