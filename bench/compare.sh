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

die() { echo "compare.sh: $*" >&2; exit 2; }
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

# Stops the given PIDs (which this script started): SIGTERM, up to 5 s of
# grace, then SIGKILL, then reaps them.
stop_pids() {
  local pid i alive
  (($# > 0)) || return 0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "$@"; do
      if kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        alive=1
      fi
    done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((HOLD_FD_OPEN)); then exec 3>&-; HOLD_FD_OPEN=0; fi
  stop_pids "${PIDS[@]}"
  PIDS=()
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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
                        # requests, server CPU s, load generator CPU s
CLK_TCK=$(getconf CLK_TCK)
: >"$BODY"; : >"$SUMMARY"; : >"$CMDS"; : >"$TSV"
FAILED=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
md() { printf '%s\n' "$@" >>"$BODY"; }
check() { # check OK|FAIL TEXT
  printf -- '- **%s** %s\n' "$1" "$2" >>"$SUMMARY"
  [[ $1 == OK ]] || FAILED=1
}
# Shows a command as it was run, with $BIN for the snapshot directory.
show() { local s; s=$(printf '%q ' "$@"); s=${s% }; printf '%s' "${s//"$BIN"/\$BIN}"; }
note() { printf '%s\n' "$1" >>"$CMDS"; }
# Writes the distinct commands of the scenario (with how often each ran).
flush_cmds() {
  md '' 'Commands (`$BIN` = snapshot of `target/release`, see header; the number of runs is on the right):' '' '```sh'
  awk '{ if (!($0 in n)) order[++k] = $0; n[$0]++ }
       END { for (i = 1; i <= k; i++) printf "%s%s\n", order[i], (n[order[i]] > 1 ? "    # x" n[order[i]] : "") }' "$CMDS" >>"$BODY"
  md '```'
  : >"$CMDS"
}

vm() { # vm PID VmRSS -> kB
  local v
  v=$(awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true)
  [[ -n $v ]] || die "cannot read $2 of pid $1 (did the server exit?)"
  printf '%s\n' "$v"
}

# CPU seconds (user + system, all threads) a process has used so far.
proc_cpu() { awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"; }
# CPU seconds used so far by this shell's reaped children (the load runs),
# in CHILDREN_CPU. Not in $(...): `times` must run in this shell itself.
children_cpu() {
  times >"$TMP/times"
  CHILDREN_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f\n", t }' "$TMP/times")
}

# start_server NAME CMD... : starts a server in the background, waits for its
# "listening on 127.0.0.1:PORT" line and sets SRV_PID and SRV_PORT.
start_server() {
  local name=$1 i port=
  shift
  local logf=$TMP/$name.log
  "$@" >"$logf" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  note "$(show "$@") &"
  for ((i = 0; i < 200; i++)); do
    port=$(grep -o -m1 'listening on 127\.0\.0\.1:[0-9]*' "$logf" 2>/dev/null | sed 's/.*://' || true)
    [[ -n $port ]] && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$logf" >&2; die "$name exited at start"; }
    sleep 0.05
  done
  [[ -n $port ]] || { cat "$logf" >&2; die "$name did not print its port within 10 s"; }
  SRV_PORT=$port
  log "$name: pid $SRV_PID listening on 127.0.0.1:$port"
}

stop_servers() {
  stop_pids "${PIDS[@]}"
  PIDS=()
}

# bench_run SCEN ROUND SERVER PID PORT PREFIX... -- BENCH-ARGS...
# Runs one load run against 127.0.0.1:PORT and appends a row to $TSV.
bench_run() {
  local scen=$1 round=$2 server=$3 pid=$4 port=$5
  shift 5
  local prefix=()
  while (($# > 0)) && [[ $1 != -- ]]; do prefix+=("$1"); shift; done
  shift
  kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is not running before round $round of scenario $scen"
  local cmd=(timeout -k 5 $((SECS + 60)) "${prefix[@]}" "$R" bench adder --to "127.0.0.1:$port" "$@")
  note "$(show "${cmd[@]}")"
  local out rc=0 srv0 srv1 cli0 cli1
  srv0=$(proc_cpu "$pid"); children_cpu; cli0=$CHILDREN_CPU
  out=$("${cmd[@]}" 2>&1) || rc=$?
  srv1=$(proc_cpu "$pid"); children_cpu; cli1=$CHILDREN_CPU
  printf '%s\n' "$out" >"$TMP/run-$scen-$round-$server.txt"
  local rps p50 p99 p999 max errors requests
  requests=$(sed -n 's/^requests: \([0-9]*\) (.*/\1/p' <<<"$out")
  rps=$(sed -n 's/^requests: [0-9]* (\([0-9.]*\) req\/s)$/\1/p' <<<"$out")
  read -r p50 p99 p999 max < <(sed -n 's/^latency: p50 \([0-9]*\) us, p99 \([0-9]*\) us, p99\.9 \([0-9]*\) us, max \([0-9]*\) us$/\1 \2 \3 \4/p' <<<"$out") || true
  errors=$(sed -n 's/^errors: \([0-9]*\)$/\1/p' <<<"$out")
  if [[ -z $rps || -z $p50 ]]; then
    printf '%s\n' "$out" >&2
    die "could not parse the bench output ($server, scenario $scen, round $round, exit $rc)"
  fi
  local srv_cpu cli_cpu
  srv_cpu=$(awk -v a="$srv0" -v b="$srv1" 'BEGIN { printf "%.2f", b - a }')
  cli_cpu=$(awk -v a="$cli0" -v b="$cli1" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$round" "$server" "$rps" "$p50" "$p99" "$p999" "$max" "${errors:-?}" "$rc" "${requests:-0}" "$srv_cpu" "$cli_cpu" >>"$TSV"
  log "  scenario $scen round $round $server: $rps req/s, p50 $p50 us, p99 $p99 us, errors ${errors:-?}, server CPU $srv_cpu s, load generator CPU $cli_cpu s"
  sleep "$PAUSE"
}

# Tables and medians of one comparison scenario, from $TSV.
cat >"$TMP/summarize.py" <<'PY'
import statistics, sys

tsv, scen, servers, targets, title = sys.argv[1:6]
secs = float(sys.argv[8])
servers = servers.split(',')
targets = dict(t.split(':') for t in targets.split(',') if t)
runs = {}
for line in open(tsv):
    f = line.rstrip('\n').split('\t')
    if f[0] != scen:
        continue
    runs[(int(f[1]), f[2])] = dict(rps=float(f[3]), p50=int(f[4]), p99=int(f[5]),
                                   p999=int(f[6]), max=int(f[7]), errors=f[8], rc=f[9],
                                   requests=int(f[10]), srv_cpu=float(f[11]), cli_cpu=float(f[12]))
rounds = sorted({r for r, _ in runs})
ours, peers = servers[0], servers[1:]

def fmt_rps(x):
    return '{:,.0f}'.format(x)

out = []
head = ['Round'] + ['%s req/s' % s for s in servers] + ['%s/%s' % (ours, p) for p in peers]
out.append('| ' + ' | '.join(head) + ' |')
out.append('|' + '---:|' * len(head))
ratios = {p: [] for p in peers}
for r in rounds:
    row = [str(r)] + [fmt_rps(runs[(r, s)]['rps']) for s in servers]
    for p in peers:
        ratio = runs[(r, ours)]['rps'] / runs[(r, p)]['rps'] if runs[(r, p)]['rps'] else float('inf')
        ratios[p].append(ratio)
        row.append('%.2f' % ratio)
    out.append('| ' + ' | '.join(row) + ' |')
med_row = ['**median**'] + ['**%s**' % fmt_rps(statistics.median(runs[(r, s)]['rps'] for r in rounds)) for s in servers]
med_row += ['**%.2f**' % statistics.median(ratios[p]) for p in peers]
out.append('| ' + ' | '.join(med_row) + ' |')
out.append('')
out.append('| Server | median req/s | median p50 (us) | median p99 (us) | median p99.9 (us) | worst max (us) | errors (all rounds) | server CPU (cores) | server CPU per request (us) | load generator CPU (cores) |')
out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
cpu_per_req = {}
for s in servers:
    rs = [runs[(r, s)] for r in rounds]
    errs = sum(int(x['errors']) for x in rs if x['errors'].isdigit())
    cpu_per_req[s] = statistics.median(x['srv_cpu'] / x['requests'] * 1e6 if x['requests'] else float('nan') for x in rs)
    out.append('| %s | %s | %g | %g | %g | %d | %d | %.2f | %.2f | %.2f |' % (
        s, fmt_rps(statistics.median(x['rps'] for x in rs)),
        statistics.median(x['p50'] for x in rs), statistics.median(x['p99'] for x in rs),
        statistics.median(x['p999'] for x in rs), max(x['max'] for x in rs), errs,
        statistics.median(x['srv_cpu'] for x in rs) / secs, cpu_per_req[s],
        statistics.median(x['cli_cpu'] for x in rs) / secs))
out.append('')
out.append('CPU columns: user + system time of the server process (all its threads, from `/proc/PID/stat`) '
           'and of the load generator (`times` of this shell), per run, divided by the run time or by the '
           'requests answered; medians over the rounds. On this 2-core machine, server + load generator '
           'can use at most 2 cores.')
out.append('')
summary = []
for p in peers:
    m = statistics.median(ratios[p])
    lo, hi = min(ratios[p]), max(ratios[p])
    t = float(targets[p]) if p in targets else None
    line = '%s: median req/s %s/%s = **%.2fx**%s (per round: %s; range %.2f..%.2f); median server CPU per request: %s %.2f us, %s %.2f us' % (
        title, ours, p, m, ', target >= %.1fx' % t if t is not None else '',
        ', '.join('%.2f' % x for x in ratios[p]), lo, hi, ours, cpu_per_req[ours], p, cpu_per_req[p])
    if t is not None:
        summary.append('%s\t%s' % ('OK' if m >= t else 'FAIL', line))
    else:
        summary.append('INFO\t%s' % line)
    out.append('Median ratio %s/%s: **%.2fx**%s' % (
        ours, p, m, (' (target >= %.1fx: %s)' % (float(targets[p]), 'met' if m >= float(targets[p]) else '**NOT met**')) if p in targets else ''))
    out.append('')
errors_total = sum(int(x['errors']) for x in runs.values() if x['errors'].isdigit())
if errors_total or any(x['rc'] != '0' for x in runs.values()):
    summary.append('FAIL\t%s: %d request errors in the load runs (or a non-zero exit)' % (title, errors_total))
with open(sys.argv[6], 'w') as f:
    f.write('\n'.join(out) + '\n')
with open(sys.argv[7], 'w') as f:
    f.write('\n'.join(summary) + '\n')
PY

summarize() { # summarize SCEN SERVERS TARGETS TITLE
  python3 "$TMP/summarize.py" "$TSV" "$1" "$2" "$3" "$4" "$TMP/table.md" "$TMP/sum.txt" "$SECS"
  cat "$TMP/table.md" >>"$BODY"
  local verdict text
  while IFS=$'\t' read -r verdict text; do
    [[ -n $verdict ]] || continue
    if [[ $verdict == INFO ]]; then printf -- '- %s\n' "$text" >>"$SUMMARY"; else check "$verdict" "$text"; fi
  done <"$TMP/sum.txt"
}

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
      bench_run "$scen" "$r" "$s" "${pid[$s]}" "${port[$s]}" "${pre[@]}" -- \
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
timewait() { if command -v ss >/dev/null; then ss -s | sed -n 's/.*timewait \([0-9]*\).*/\1/p'; else echo '?'; fi; }
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
keep=()
for p in "${PIDS[@]}"; do [[ $p == "$hold_pid" ]] || keep+=("$p"); done
PIDS=("${keep[@]}")
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
  echo "- Machine: \`nproc\` = $(nproc); \`uname -r\` = $(uname -r); CPU: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); affinity $(taskset -p $$ | awk '{print $NF}')"
  echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END (other work on the machine adds noise; that is why runs alternate)"
  echo "- Source: \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git diff --quiet HEAD 2>/dev/null || echo ' plus uncommitted changes')"
  echo "- \`\$BIN\`: a copy of \`target/release\` taken at the start; sha256 \`reseau\` $(sha256sum "$R" | cut -c1-16)…, \`tokio-adder\` $(sha256sum "$T" | cut -c1-16)…"
  echo "- TCP sockets in TIME_WAIT on the machine (\`ss -s\`) at start: $TW_START; at end: $TW_END"
  echo "- $(python3 --version 2>&1); servers and clients on 127.0.0.1 only; ours logs one line per connection to a file, as do the Python server's errors"
  echo
  echo "## Summary"
  echo
  cat "$SUMMARY"
  echo
  cat "$BODY"
} >"$REPORT"
cp "$REPORT" "$OUT"
cat "$REPORT"
log "report written to $OUT"
exit "$FAILED"
