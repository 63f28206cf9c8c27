# Helpers shared by the benchmark scripts (bench/compare.sh,
# bench/compare_echo.sh, bench/compare_web.sh). Sourced, never run; defines functions only.
#
# The functions use these variables of the sourcing script:
#   TMP      its temporary directory          PIDS     background PIDs it started
#   BIN      the snapshot of target/release   R        $BIN/reseau
#   BODY     Markdown of the scenarios        SUMMARY  one line per check
#   CMDS     commands of the current scenario TSV      one row per load run
#   SECS     seconds per load run             PAUSE    seconds of rest after a run
#   CLK_TCK  `getconf CLK_TCK`                FAILED   set to 1 by a failed check
# TSV columns: scenario, round, server, req/s, p50, p99, p99.9, max, errors,
# exit status, requests, server CPU s, load generator CPU s, MB/s ("-" when
# the load generator prints none, as for the adder).

die() { echo "${0##*/}: $*" >&2; exit 2; }

# Stops the given PIDs (which the script started): SIGTERM, up to 5 s of
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

# Takes PID out of PIDS once the script has reaped it itself.
forget_pid() {
  local p keep=()
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

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

# bench_run SCEN ROUND SERVER PID PORT PREFIX... -- KIND BENCH-ARGS...
# Runs one load run (`reseau bench KIND`, KIND adder or echo) against
# 127.0.0.1:PORT and appends a row to $TSV.
bench_run() {
  local scen=$1 round=$2 server=$3 pid=$4 port=$5
  shift 5
  local prefix=()
  while (($# > 0)) && [[ $1 != -- ]]; do prefix+=("$1"); shift; done
  shift
  local kind=$1
  shift
  kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is not running before round $round of scenario $scen"
  local cmd=(timeout -k 5 $((SECS + 60)) "${prefix[@]}" "$R" bench "$kind" --to "127.0.0.1:$port" "$@")
  note "$(show "${cmd[@]}")"
  local out rc=0 srv0 srv1 cli0 cli1
  srv0=$(proc_cpu "$pid"); children_cpu; cli0=$CHILDREN_CPU
  out=$("${cmd[@]}" 2>&1) || rc=$?
  srv1=$(proc_cpu "$pid"); children_cpu; cli1=$CHILDREN_CPU
  printf '%s\n' "$out" >"$TMP/run-$scen-$round-$server.txt"
  local rps p50 p99 p999 max errors requests mbps
  requests=$(sed -n 's/^requests: \([0-9]*\) (.*/\1/p' <<<"$out")
  rps=$(sed -n 's/^requests: [0-9]* (\([0-9.]*\) req\/s)$/\1/p' <<<"$out")
  mbps=$(sed -n 's/^throughput: \([0-9.]*\) MB\/s echoed$/\1/p' <<<"$out")
  read -r p50 p99 p999 max < <(sed -n 's/^latency: p50 \([0-9]*\) us, p99 \([0-9]*\) us, p99\.9 \([0-9]*\) us, max \([0-9]*\) us$/\1 \2 \3 \4/p' <<<"$out") || true
  errors=$(sed -n 's/^errors: \([0-9]*\).*$/\1/p' <<<"$out")
  if [[ -z $rps || -z $p50 ]]; then
    printf '%s\n' "$out" >&2
    die "could not parse the bench output ($server, scenario $scen, round $round, exit $rc)"
  fi
  local srv_cpu cli_cpu
  srv_cpu=$(awk -v a="$srv0" -v b="$srv1" 'BEGIN { printf "%.2f", b - a }')
  cli_cpu=$(awk -v a="$cli0" -v b="$cli1" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$round" "$server" "$rps" "$p50" "$p99" "$p999" "$max" "${errors:-?}" "$rc" "${requests:-0}" "$srv_cpu" "$cli_cpu" "${mbps:--}" >>"$TSV"
  log "  scenario $scen round $round $server: $rps req/s${mbps:+, $mbps MB/s}, p50 $p50 us, p99 $p99 us, errors ${errors:-?}, server CPU $srv_cpu s, load generator CPU $cli_cpu s"
  sleep "$PAUSE"
}

# Writes the summarizer of one comparison scenario (tables and medians from
# $TSV) to $TMP/summarize.py.
write_summarizer() {
  cat >"$TMP/summarize.py" <<'PY'
import statistics, sys

tsv, scen, servers, targets, title = sys.argv[1:6]
secs = float(sys.argv[8])
# 'rps' compares requests/s; 'mbps' compares MB/s (echo of large messages).
metric = sys.argv[9] if len(sys.argv) > 9 else 'rps'
unit = 'MB/s' if metric == 'mbps' else 'req/s'
servers = servers.split(',')
targets = dict(t.split(':') for t in targets.split(',') if t)
runs = {}
for line in open(tsv):
    f = line.rstrip('\n').split('\t')
    if f[0] != scen:
        continue
    mbps = float(f[13]) if len(f) > 13 and f[13] != '-' else float('nan')
    runs[(int(f[1]), f[2])] = dict(rps=float(f[3]), p50=int(f[4]), p99=int(f[5]),
                                   p999=int(f[6]), max=int(f[7]), errors=f[8], rc=f[9],
                                   requests=int(f[10]), srv_cpu=float(f[11]), cli_cpu=float(f[12]),
                                   mbps=mbps)
rounds = sorted({r for r, _ in runs})
ours, peers = servers[0], servers[1:]

def fmt_rps(x):
    return '{:,.0f}'.format(x)

def fmt_metric(x):
    return '{:,.1f}'.format(x) if metric == 'mbps' else fmt_rps(x)

out = []
head = ['Round'] + ['%s %s' % (s, unit) for s in servers] + ['%s/%s' % (ours, p) for p in peers]
out.append('| ' + ' | '.join(head) + ' |')
out.append('|' + '---:|' * len(head))
ratios = {p: [] for p in peers}
for r in rounds:
    row = [str(r)] + [fmt_metric(runs[(r, s)][metric]) for s in servers]
    for p in peers:
        ratio = runs[(r, ours)][metric] / runs[(r, p)][metric] if runs[(r, p)][metric] else float('inf')
        ratios[p].append(ratio)
        row.append('%.2f' % ratio)
    out.append('| ' + ' | '.join(row) + ' |')
med_row = ['**median**'] + ['**%s**' % fmt_metric(statistics.median(runs[(r, s)][metric] for r in rounds)) for s in servers]
med_row += ['**%.2f**' % statistics.median(ratios[p]) for p in peers]
out.append('| ' + ' | '.join(med_row) + ' |')
out.append('')
if metric == 'mbps':
    out.append('| Server | median MB/s | median req/s | median p50 (us) | median p99 (us) | median p99.9 (us) | worst max (us) | errors (all rounds) | server CPU (cores) | server CPU per request (us) | server CPU per MB (us) | load generator CPU (cores) |')
    out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
else:
    out.append('| Server | median req/s | median p50 (us) | median p99 (us) | median p99.9 (us) | worst max (us) | errors (all rounds) | server CPU (cores) | server CPU per request (us) | load generator CPU (cores) |')
    out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
cpu_per_req = {}
for s in servers:
    rs = [runs[(r, s)] for r in rounds]
    errs = sum(int(x['errors']) for x in rs if x['errors'].isdigit())
    cpu_per_req[s] = statistics.median(x['srv_cpu'] / x['requests'] * 1e6 if x['requests'] else float('nan') for x in rs)
    cols = [s]
    if metric == 'mbps':
        cols.append('{:,.1f}'.format(statistics.median(x['mbps'] for x in rs)))
    cols += [fmt_rps(statistics.median(x['rps'] for x in rs)),
             '%g' % statistics.median(x['p50'] for x in rs), '%g' % statistics.median(x['p99'] for x in rs),
             '%g' % statistics.median(x['p999'] for x in rs), '%d' % max(x['max'] for x in rs), '%d' % errs,
             '%.2f' % (statistics.median(x['srv_cpu'] for x in rs) / secs), '%.2f' % cpu_per_req[s]]
    if metric == 'mbps':
        per_mb = statistics.median(x['srv_cpu'] / (x['mbps'] * secs) * 1e6 if x['mbps'] else float('nan') for x in rs)
        cols.append('%.0f' % per_mb)
    cols.append('%.2f' % (statistics.median(x['cli_cpu'] for x in rs) / secs))
    out.append('| ' + ' | '.join(cols) + ' |')
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
    line = '%s: median %s %s/%s = **%.2fx**%s (per round: %s; range %.2f..%.2f); median server CPU per request: %s %.2f us, %s %.2f us' % (
        title, unit, ours, p, m, ', target >= %.1fx' % t if t is not None else '',
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
}

summarize() { # summarize SCEN SERVERS TARGETS TITLE [METRIC: rps (default) | mbps]
  [[ -f $TMP/summarize.py ]] || write_summarizer
  python3 "$TMP/summarize.py" "$TSV" "$1" "$2" "$3" "$4" "$TMP/table.md" "$TMP/sum.txt" "$SECS" "${5:-rps}"
  cat "$TMP/table.md" >>"$BODY"
  local verdict text
  while IFS=$'\t' read -r verdict text; do
    [[ -n $verdict ]] || continue
    if [[ $verdict == INFO ]]; then printf -- '- %s\n' "$text" >>"$SUMMARY"; else check "$verdict" "$text"; fi
  done <"$TMP/sum.txt"
}

# finish_report: $REPORT holds the report's header; adds the summary and
# the scenarios' sections, copies it to $OUT, prints it and exits with
# $FAILED (0 when every check passed).
finish_report() {
  {
    echo
    echo "## Summary"
    echo
    cat "$SUMMARY"
    echo
    cat "$BODY"
  } >>"$REPORT"
  cp "$REPORT" "$OUT"
  cat "$REPORT"
  log "report written to $OUT"
  exit "$FAILED"
}

timewait() { if command -v ss >/dev/null; then ss -s | sed -n 's/.*timewait \([0-9]*\).*/\1/p'; else echo '?'; fi; }

# Header lines of a report that every script has.
machine_line() {
  echo "- Machine: \`nproc\` = $(nproc); \`uname -r\` = $(uname -r); CPU: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); affinity $(taskset -p $$ | awk '{print $NF}')"
}
source_line() {
  echo "- Source: \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git diff --quiet HEAD 2>/dev/null || echo ' plus uncommitted changes')"
}

# Makes a script clean up after itself, however it ends: on exit (and on
# INT or TERM) it runs the script's `cleanup_extra` if it defines one, stops
# every process in PIDS (the script's array of the background processes it
# started and has not reaped) and removes TMP, its temporary folder.
on_exit_clean_up() {
  trap _clean_up EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_clean_up() {
  local status=$?
  trap - EXIT INT TERM
  if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
  stop_pids "${PIDS[@]}"
  PIDS=()
  rm -rf "$TMP"
  exit "$status"
}
