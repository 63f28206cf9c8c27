#!/usr/bin/env bash
# Measures our web server (`reseau web`) against its peers, side by side in
# the same run (issue 5's targets): the course's application on CherryPy
# (bench/cherrypy/app.py, in a venv) and the same routes on axum
# (bench/axum-web).
#
# Usage (from anywhere; installs wrk and CherryPy when missing, builds
# reseau-host and axum-web in release):
#   bench/compare_web.sh [REPORT.md]    # default: bench/results/web-DATE.md
#   ROUNDS=1 SECS=2 bench/compare_web.sh /tmp/quick.md
#   SCENARIOS=limits bench/compare_web.sh /tmp/limits.md    # only bench/web_limits.py
#
# Environment: ROUNDS (default 3) rounds per route, SECS (default 5) seconds
# per wrk run, CONNS (default 64) connections, PAUSE (default 1) seconds of
# rest between runs, SCENARIOS (default "wrk limits"), NO_BUILD=1 to use
# target/release as it is, VENV (default target/bench-venv), AXUM_ARGS
# (flags of axum-web; default `--index-template web/templates/index.html`,
# so that it serves reseau's page on /; add --db-inline to query SQLite on
# the runtime thread), ROUTES (default
# "/ /listusers /static/style.css"), RESEAU_BIN (default
# target/release/reseau: another build to measure). With the defaults the
# whole run takes about 5 minutes.
#
# Scenarios:
#   wrk     for each route (/, /listusers, /static/style.css): `wrk -t1
#           -c$CONNS -d${SECS}s` against each server in turn, ROUNDS rounds,
#           the order rotating every round; requests/s, p50/p99/p99.9
#           latency, errors, server CPU; ratios reseau/CherryPy (target
#           >= 15x, and p99 below CherryPy's) and reseau/axum (aim >= 0.8x)
#           as the median of the per-round ratios.
#   limits  bench/web_limits.py against each server, fresh: 32 keep-alive
#           connections opened at the same instant (target: every first
#           answer within 100 ms), then 1000 idle + 50 slowloris connections
#           (a request still answered within 50 ms, the slow ones cut after
#           the 10 s header timeout, threads and memory bounded).
# The machine has 2 cores: wrk takes one, the server the other. Every server
# gets a fresh SQLite database in a temporary folder and a port of its own on
# 127.0.0.1; all three serve the same static folder (web/public if it has
# style.css, else bench/cherrypy/public). Only processes started here are
# stopped (by PID, also on exit through a trap); every wait is bounded and
# every client command runs under `timeout`. The binaries are copied first,
# so that a concurrent `cargo build` cannot swap them mid-run.
# Exit status: 0 when every check passed, 1 when one failed (the report is
# still written), 2 on a usage or setup error.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-64}
PAUSE=${PAUSE:-1}
SCENARIOS=${SCENARIOS:-wrk limits}
VENV=${VENV:-target/bench-venv}
OUT=${1:-bench/results/web-$(date -u +%Y-%m-%d).md}
# By default axum serves reseau's own page on / (the same 1.3 KB body);
# AXUM_ARGS= (empty) gives it the course's 19-byte fragment instead.
read -ra AXUM_EXTRA <<<"${AXUM_ARGS---index-template web/templates/index.html}"
read -ra ROUTES <<<"${ROUTES:-/ /listusers /static/style.css}"

# Shared helpers: die, stop_pids, log/md/check, show/note/flush_cmds, vm,
# proc_cpu, children_cpu, summarize and the report header lines.
# shellcheck source=bench/lib.sh
. bench/lib.sh
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] && ((ROUNDS <= 100)) || die "ROUNDS must be an integer in 1..100"
[[ $SECS =~ ^[1-9][0-9]*$ ]] && ((SECS <= 600)) || die "SECS must be an integer in 1..600"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] && ((CONNS <= 10000)) || die "CONNS must be an integer in 1..10000"
[[ $PAUSE =~ ^[0-9]+$ ]] && ((PAUSE <= 60)) || die "PAUSE must be an integer in 0..60"
for tool in python3 timeout awk curl sha256sum cargo; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

# ------------------------------------------------------------------ set-up
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt-get)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; } \
    || die "cannot install wrk with apt-get"
fi
if ! "$VENV/bin/python" -c 'import cherrypy' 2>/dev/null; then
  log "installing CherryPy into $VENV"
  python3 -m venv "$VENV" || die "cannot create the venv $VENV"
  "$VENV/bin/pip" install -q cherrypy || die "cannot install cherrypy from PyPI"
fi
if [[ ${NO_BUILD:-0} != 1 ]]; then
  log "building reseau-host and axum-web (release)"
  cargo build --release -p reseau-host -p axum-web >&2 || die "cargo build failed"
fi
RESEAU_BIN=${RESEAU_BIN:-target/release/reseau}
for bin in "$RESEAU_BIN" target/release/axum-web; do
  [[ -x $bin ]] || die "$bin is missing: run cargo build --release -p reseau-host -p axum-web"
done
# The servers, ours first: the ratios are ours / each peer.
SERVERS=(reseau cherrypy axum)
"$RESEAU_BIN" web --help >/dev/null 2>&1 || die "$RESEAU_BIN has no 'web' subcommand"
mkdir -p "$(dirname "$OUT")"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reseau-web.XXXXXX")
PIDS=() # every background process this script started and has not reaped

on_exit_clean_up

# The file-descriptor limit: the limits scenario holds 1000+ connections
# (the servers inherit it; web_limits.py raises its own too).
NOFILE_HARD=$(ulimit -Hn)
if [[ $NOFILE_HARD == unlimited ]]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$NOFILE_HARD"; fi

# Snapshot of the binaries (identical to target/release at the start).
BIN=$TMP/bin
mkdir -p "$BIN"
cp "$RESEAU_BIN" "$BIN/reseau"
cp target/release/axum-web "$BIN/"
R=$BIN/reseau
AX=$BIN/axum-web
PY=$VENV/bin/python
if [[ -f web/public/style.css ]]; then STATIC=$PWD/web/public; else STATIC=$PWD/bench/cherrypy/public; fi

BODY=$TMP/body.md       # the scenarios' sections
SUMMARY=$TMP/summary.md # one line per check / headline number
CMDS=$TMP/cmds.txt      # commands of the current scenario, in order
TSV=$TMP/runs.tsv       # scenario, round, server, req/s, p50, p99, p99.9, max, errors, rc,
                        # requests, server CPU s, load generator CPU s, "-"
CLK_TCK=$(getconf CLK_TCK)
: >"$BODY"; : >"$SUMMARY"; : >"$CMDS"; : >"$TSV"
FAILED=0

# wrk prints this script's line at the end of a run: exact percentiles (us),
# requests and every kind of error (non-2xx/3xx answers included).
cat >"$TMP/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests %d duration_us %d p50 %d p99 %d p999 %d max %d errors %d connect %d read %d write %d status %d timeout %d bytes %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout, summary.bytes))
end
LUA

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_web NAME CMD... : starts a server on $PORT (chosen by the caller),
# waits until GET / answers and sets SRV_PID and SRV_LOG. Its output is
# appended (O_APPEND) to a log that the runs truncate.
start_web() {
  local name=$1 i
  shift
  SRV_LOG=$TMP/$name.log
  : >"$SRV_LOG"
  "$@" >>"$SRV_LOG" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  note "$(show "$@") &"
  for ((i = 0; i < 300; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$SRV_LOG" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  ((i < 300)) || { cat "$SRV_LOG" >&2; die "$name did not answer GET / within 30 s"; }
  log "$name: pid $SRV_PID on 127.0.0.1:$PORT"
}

# start_one SERVER SUFFIX: one server with a fresh database; sets pid[SERVER],
# port[SERVER], logf[SERVER].
declare -A pid port logf
start_one() {
  local s=$1 sfx=$2 dbdir=$TMP/db-$2
  mkdir -p "$dbdir"
  PORT=$(free_port)
  case $s in
    reseau)
      # The course's config format, which `reseau web` reads unchanged.
      cat >"$TMP/reseau-$sfx.conf" <<EOF
[global]
server.socket_host: '127.0.0.1'
server.socket_port: $PORT

[/static]
tools.staticdir.on: True
tools.staticdir.root: '$(dirname "$STATIC")'
tools.staticdir.dir: './$(basename "$STATIC")'
EOF
      start_web "reseau-$sfx" "$R" web --config "$TMP/reseau-$sfx.conf" --bind "127.0.0.1:$PORT" --db "$dbdir/reseau.db" ;;
    axum) start_web "axum-$sfx" "$AX" --bind "127.0.0.1:$PORT" --db "$dbdir/axum.db" --static "$STATIC" "${AXUM_EXTRA[@]}" ;;
    cherrypy) start_web "cherrypy-$sfx" "$PY" bench/cherrypy/app.py --port "$PORT" --db "$dbdir/cherrypy.db" --static "$STATIC" ;;
    *) die "unknown server $s" ;;
  esac
  pid[$s]=$SRV_PID; port[$s]=$PORT; logf[$s]=$SRV_LOG
}

# wrk_run SCEN ROUND SERVER ROUTE: one wrk run, one row of $TSV.
wrk_run() {
  local scen=$1 round=$2 server=$3 route=$4
  local p=${pid[$server]}
  kill -0 "$p" 2>/dev/null || die "$server (pid $p) is not running before round $round of $route"
  local cmd=(timeout -k 5 $((SECS + 60)) wrk -t1 "-c$CONNS" "-d${SECS}s" --latency -s "$TMP/report.lua" "http://127.0.0.1:${port[$server]}$route")
  note "$(show "${cmd[@]}" | sed "s|$TMP/report.lua|report.lua|")"
  local out rc=0 srv0 srv1 cli0 cli1
  srv0=$(proc_cpu "$p"); children_cpu; cli0=$CHILDREN_CPU
  out=$("${cmd[@]}" 2>&1) || rc=$?
  srv1=$(proc_cpu "$p"); children_cpu; cli1=$CHILDREN_CPU
  printf '%s\n' "$out" >"$TMP/run-$scen-$round-$server.txt"
  : >"${logf[$server]}" # the access log of this run is not kept
  local line
  line=$(grep '^RESULT ' <<<"$out" || true)
  [[ -n $line ]] || { printf '%s\n' "$out" >&2; die "could not parse wrk's output ($server, $route, round $round, exit $rc)"; }
  local requests dur p50 p99 p999 max errors
  read -r requests dur p50 p99 p999 max errors < <(awk '{print $3, $5, $7, $9, $11, $13, $15}' <<<"$line")
  local rps srv_cpu cli_cpu
  rps=$(awk -v n="$requests" -v d="$dur" 'BEGIN { printf "%.1f", (d > 0 ? n / (d / 1e6) : 0) }')
  srv_cpu=$(awk -v a="$srv0" -v b="$srv1" 'BEGIN { printf "%.2f", b - a }')
  cli_cpu=$(awk -v a="$cli0" -v b="$cli1" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\n' "$scen" "$round" "$server" "$rps" "$p50" "$p99" "$p999" "$max" "$errors" "$rc" "$requests" "$srv_cpu" "$cli_cpu" >>"$TSV"
  printf '%s\t%s\t%s\n' "$scen" "$server" "${line#RESULT }" >>"$TMP/wrk-errors.tsv"
  log "  $route round $round $server: $rps req/s, p50 $p50 us, p99 $p99 us, errors $errors, server CPU $srv_cpu s"
  sleep "$PAUSE"
}

# What each server answers on each route (checked before the runs).
describe_routes() {
  md '| Route | Server | status | Content-Type | body bytes | check |' '|---|---|---:|---|---:|---|'
  local route s code ctype size ok body
  for route in "${ROUTES[@]}"; do
    for s in "${SERVERS[@]}"; do
      body=$TMP/body-$s
      IFS=$'\t' read -r code ctype size < <(curl -s -o "$body" --max-time 5 -w '%{http_code}\t%{content_type}\t%{size_download}\n' \
        "http://127.0.0.1:${port[$s]}$route") || true
      case $route in
        /) grep -q 'Hello <b>World</b>!' "$body" && ok=OK || ok=FAIL ;;
        /listusers) python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["users"][:3] == ["CBF", "LUR", "VRL"]' "$body" 2>/dev/null && ok=OK || ok=FAIL ;;
        *) cmp -s "$body" "$STATIC/${route#/static/}" && ok=OK || ok=FAIL ;;
      esac
      md "| \`$route\` | $s | $code | \`${ctype:-?}\` | ${size:-?} | $ok |"
      [[ $ok == OK && $code == 200 ]] || check FAIL "$s: GET $route answered $code, body check $ok"
    done
  done
  md ''
}

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_S=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 20 { printf "%s%s (%s%%)", s, $2, $1; s = ", " }')
log "report: $OUT (ROUNDS=$ROUNDS SECS=$SECS CONNS=$CONNS SCENARIOS=$SCENARIOS)"

# ------------------------------------------------------------------ wrk
if [[ " $SCENARIOS " == *" wrk "* ]]; then
  log "scenario wrk: three servers, ${#ROUTES[@]} routes"
  for s in "${SERVERS[@]}"; do start_one "$s" wrk; done
  md "## Responses" '' "What each server answers (curl, before the runs); the static folder is \`${STATIC#"$PWD"/}\`." ''
  describe_routes
  : >"$CMDS"
  [[ ${SERVERS[0]} == reseau ]] && note "$(show "$R" web --config reseau.conf --bind 127.0.0.1:PORT --db DIR/reseau.db) &    # reseau.conf: [global] server.socket_host/port, [/static] the static folder"
  note "$(show "$AX" --bind 127.0.0.1:PORT --db DIR/axum.db --static "$STATIC" "${AXUM_EXTRA[@]}") &"
  note "$(show "$PY" bench/cherrypy/app.py --port PORT --db DIR/cherrypy.db --static "$STATIC") &"
  CMDS_SERVERS=$(cat "$CMDS")
  : >"$CMDS"
  order=("${SERVERS[@]}")
  n_srv=${#order[@]}
  n=0
  for route in "${ROUTES[@]}"; do
    n=$((n + 1))
    scen=W$n
    for ((r = 1; r <= ROUNDS; r++)); do
      # Rotate the order every round: reseau/cherrypy/axum, cherrypy/axum/reseau, ...
      k=$(((r - 1) % n_srv))
      for s in "${order[@]:k}" "${order[@]:0:k}"; do
        wrk_run "$scen" "$r" "$s" "$route"
      done
    done
    md "## $scen. GET $route" ''
    md "\`wrk -t1 -c$CONNS -d${SECS}s\` (one thread, $CONNS keep-alive connections), $ROUNDS round(s); the order of the servers rotates every round. Latencies are wrk's (from its own percentile script); errors count connect/read/write errors, timeouts (2 s) and non-2xx/3xx answers."
    md ''
    # Targets: >= 15x CherryPy everywhere; >= 0.8x axum on / and /listusers.
    targets="cherrypy:15"
    [[ $route == /static/* ]] || targets+=",axum:0.8"
    summarize "$scen" "$(IFS=,; echo "${SERVERS[*]}")" "$targets" "$scen (GET $route)"
    # lib.sh's summarize fails a scenario on any request error, the peers'
    # included; here only ours count (CherryPy's timeouts are a result).
    awk -v t="$scen (GET $route): " '!(index($0, t) && index($0, " request errors in the load runs"))' "$SUMMARY" >"$TMP/summary.tmp"
    mv "$TMP/summary.tmp" "$SUMMARY"
    FAILED=0
    if grep -q '^- \*\*FAIL' "$SUMMARY"; then FAILED=1; fi
    errs=$(awk -F'\t' -v s="$scen" '$1 == s { e[$3] += $9; if ($10 != 0) bad[$3]++ } END { for (k in e) printf "%s %d%s, ", k, e[k], (bad[k] ? " (wrk exited non-zero)" : "") }' "$TSV")
    ours_errs=$(awk -F'\t' -v s="$scen" -v o="${SERVERS[0]}" '$1 == s && $3 == o { e += $9; if ($10 != 0) e++ } END { print e + 0 }' "$TSV")
    if ((ours_errs == 0)); then
      printf -- '- %s (GET %s): request errors over the rounds: %s\n' "$scen" "$route" "${errs%, }" >>"$SUMMARY"
    else
      check FAIL "$scen (GET $route): ${SERVERS[0]} had request errors; over the rounds: ${errs%, }"
    fi
    # p99 below CherryPy's (median of the rounds' p99).
    ours=${SERVERS[0]}
    read -r p99_ours p99_cp < <(awk -F'\t' -v s="$scen" -v o="$ours" '$1 == s && $3 == o { a[++n] = $6 } $1 == s && $3 == "cherrypy" { b[++m] = $6 }
      function med(x, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }
      END { print med(a, n), med(b, m) }' "$TSV")
    if awk -v a="$p99_ours" -v b="$p99_cp" 'BEGIN { exit !(a < b) }'; then
      check OK "$scen (GET $route): median p99 $ours $p99_ours us < CherryPy $p99_cp us"
    else
      check FAIL "$scen (GET $route): median p99 $ours $p99_ours us, not below CherryPy's $p99_cp us"
    fi
    md '' 'Errors by kind (sum over the rounds):' '' '| Server | connect | read | write | status (non-2xx/3xx) | timeout |' '|---|---:|---:|---:|---:|---:|'
    for s in "${order[@]}"; do
      md "$(awk -F'\t' -v sc="$scen" -v s="$s" '$1 == sc && $2 == s { k = split($3, f, " "); for (i = 1; i < k; i += 2) v[f[i]] += f[i + 1] }
        END { printf "| %s | %d | %d | %d | %d | %d |", s, v["connect"], v["read"], v["write"], v["status"], v["timeout"] }' "$TMP/wrk-errors.tsv")"
    done
    md '' 'Commands (`$BIN` = snapshot of `target/release`, see header; PORT and DIR differ per server and run):' '' '```sh'
    printf '%s\n' "$CMDS_SERVERS" >>"$BODY"
    md '```'
    flush_cmds
    md ''
  done
  threads_line=""
  for s in "${order[@]}"; do
    threads_line+="$s $(awk '/^Threads:/ {print $2}' "/proc/${pid[$s]}/status") threads, VmRSS $(vm "${pid[$s]}" VmRSS) kB, VmHWM $(vm "${pid[$s]}" VmHWM) kB; "
  done
  md "After the wrk runs: ${threads_line%; }." ''
  stop_servers
fi

# ------------------------------------------------------------------ limits
if [[ " $SCENARIOS " == *" limits "* ]]; then
  log "scenario limits: bench/web_limits.py against each server"
  md "## L. Bursts, idle and slowloris connections (\`bench/web_limits.py\`)" ''
  md "Each server fresh, alone, measured in turn. CherryPy's defaults: 10 worker threads, socket timeout 10 s; axum (hyper) sets no header timeout by default, so its slowloris connections are only ended by the end of the hold." ''
  for s in "${SERVERS[@]}"; do
    start_one "$s" "limits-$s"
    lcmd=(timeout -k 5 300 python3 bench/web_limits.py --addr "127.0.0.1:${port[$s]}" --pid "${pid[$s]}" --name "$s"
      --md "$BODY" --expect-cut-after 10 --hold-max 60)
    note "$(show "${lcmd[@]}" | sed "s|$BODY|REPORT|")"
    lrc=0
    "${lcmd[@]}" >"$TMP/limits-$s.out" 2>"$TMP/limits-$s.err" || lrc=$?
    : >"${logf[$s]}"
    while IFS=$'\t' read -r verdict text; do
      [[ -n $verdict ]] || continue
      # CherryPy and axum are measured for comparison; only reseau's targets count.
      if [[ $verdict == INFO || $s != reseau ]]; then printf -- '- %s%s\n' "$([[ $verdict == INFO ]] || echo "($verdict) ")" "$text" >>"$SUMMARY"
      else check "$verdict" "$text"; fi
    done <"$TMP/limits-$s.out"
    if ((lrc > 1)); then
      check FAIL "web_limits.py against $s exited with $lrc: $(tail -c 300 "$TMP/limits-$s.err")"
    fi
    stop_servers
    md ''
  done
  md 'Commands:' '' '```sh'
  cat "$CMDS" >>"$BODY"
  md '```' ''
  : >"$CMDS"
fi

# ------------------------------------------------------------------ the report
END=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
REPORT=$TMP/report.md
{
  echo "# reseau web: ours vs CherryPy (the course's app) vs axum"
  echo
  echo "- Run: $START to $END ($((SECONDS - START_S)) s), \`ROUNDS=$ROUNDS SECS=$SECS CONNS=$CONNS PAUSE=$PAUSE SCENARIOS='$SCENARIOS' bench/compare_web.sh\`"
  machine_line
  echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END; processes above 20% CPU at start: ${BUSY_START:-none} (other work on the machine adds noise; that is why runs alternate)"
  source_line
  [[ $RESEAU_BIN == target/release/reseau ]] || echo "- reseau binary: \`$RESEAU_BIN\` (RESEAU_BIN), not \`target/release/reseau\`"
  echo "- \`\$BIN\`: a copy of \`target/release\` taken at the start; sha256 \`reseau\` $(sha256sum "$R" | cut -c1-16)…, \`axum-web\` $(sha256sum "$AX" | cut -c1-16)…"
  echo "- Servers: reseau is \`reseau web\` (its access log to a file); axum-web is \`bench/axum-web\` (axum $(awk '/^name = "axum"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock), tokio multi-threaded runtime, SQLite query $([[ ${AXUM_ARGS:-} == *--db-inline* ]] && echo 'on the runtime thread (`--db-inline`)' || echo 'in `spawn_blocking`') on a pool of one connection per worker, \`tower_http\` \`ServeDir\`); CherryPy is \`bench/cherrypy/app.py\` (CherryPy $("$PY" -c 'import cherrypy; print(cherrypy.__version__)'), $("$PY" --version 2>&1), its defaults except \`log.screen: False\`; a new sqlite3 connection per \`/listusers\` request)"
  echo "- Load generator: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2) with one thread; servers and clients on 127.0.0.1 only"
} >"$REPORT"
finish_report
