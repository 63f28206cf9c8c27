#!/usr/bin/env bash
# Measures our echo server (`reseau echo serve`) against the tokio echo
# server (bench/tokio-echo: a task per connection, `tokio::io::copy`), side
# by side in the same run, and checks that a client that sends without
# reading cannot make our server's memory grow.
#
# Usage (from anywhere; build first with `cargo build --release --workspace`):
#   bench/compare_echo.sh [REPORT.md]        # default: bench/results/echo-latest.md
#   ROUNDS=1 SECS=1 bench/compare_echo.sh /tmp/quick.md
#
# Environment: ROUNDS (default 5) rounds per scenario, SECS (default 5)
# seconds per load run, PAUSE (default 1) seconds of rest between runs,
# FLOOD_SECS (default 10) seconds the flooding client of E4 runs per server.
# With the defaults the whole run takes about 3 minutes.
#
# Scenarios:
#   E1. 64 persistent clients, 64-byte messages: round trips/s, ours vs tokio
#   E2. 1 client, 64 KiB messages: MB/s, ours vs tokio
#   E3. server and load generator pinned together on CPU 0, 64 clients,
#       64-byte messages: ours vs tokio
#   E4. a client (bench/flood.py) sends up to 1 GiB and never reads: how
#       much the kernel accepts before TCP holds it back, the server's
#       VmRSS/VmHWM meanwhile, and whether `reseau echo send ... hello` is
#       still answered during the flood; ours, then tokio for reference
# Servers of one comparison run at the same time, and runs alternate within
# each round, in the order ours, tokio in odd rounds and tokio, ours in even
# ones, so that noise from other work on the machine hits both alike. The
# report gives the per-round figures, the per-round ratios and their
# medians, latencies, and the server CPU per request.
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

# Shared helpers: die, stop_pids, log/md/check, start_server, bench_run,
# summarize and the report header lines.
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
PAUSE=${PAUSE:-1}
FLOOD_SECS=${FLOOD_SECS:-10}
OUT=${1:-bench/results/echo-latest.md}
FLOOD_BYTES=$((1 << 30))
RSS_LIMIT_KB=$((16 * 1024))

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] && ((ROUNDS <= 100)) || die "ROUNDS must be an integer in 1..100"
[[ $SECS =~ ^[1-9][0-9]*$ ]] && ((SECS <= 600)) || die "SECS must be an integer in 1..600"
[[ $PAUSE =~ ^[0-9]+$ ]] && ((PAUSE <= 60)) || die "PAUSE must be an integer in 0..60"
[[ $FLOOD_SECS =~ ^[1-9][0-9]*$ ]] && ((FLOOD_SECS <= 600)) || die "FLOOD_SECS must be an integer in 1..600"
for tool in python3 taskset timeout awk sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
for bin in target/release/reseau target/release/tokio-echo; do
  [[ -x $bin ]] || die "$bin is missing: run cargo build --release --workspace"
done
[[ -f bench/flood.py ]] || die "bench/flood.py is missing"
mkdir -p "$(dirname "$OUT")"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/reseau-compare-echo.XXXXXX")
PIDS=() # every background process this script started and has not reaped

on_exit_clean_up

# Snapshot of the binaries (identical to target/release at the start).
BIN=$TMP/bin
mkdir -p "$BIN"
cp target/release/reseau target/release/tokio-echo "$BIN/"
R=$BIN/reseau
T=$BIN/tokio-echo

BODY=$TMP/body.md       # the scenarios' sections
SUMMARY=$TMP/summary.md # one line per check / headline number
CMDS=$TMP/cmds.txt      # commands of the current scenario, in order
TSV=$TMP/runs.tsv       # one row per load run, columns in bench/lib.sh
CLK_TCK=$(getconf CLK_TCK)
: >"$BODY"; : >"$SUMMARY"; : >"$CMDS"; : >"$TSV"
FAILED=0

# compare SCEN TITLE TARGETS PIN CLIENTS SIZE METRIC : one comparison
# scenario with its own fresh servers (ours, tokio). PIN=1 pins both servers
# and the load generator to CPU 0. METRIC: rps or mbps, what the ratios
# compare.
compare() {
  local scen=$1 title=$2 targets=$3 pin=$4 clients=$5 size=$6 metric=$7
  local pre=() s r order
  ((pin)) && pre=(taskset -c 0)
  log "scenario $scen: $title"
  declare -A pid port
  start_server "ours$scen" "${pre[@]}" "$R" echo serve --bind 127.0.0.1:0
  pid[ours]=$SRV_PID; port[ours]=$SRV_PORT
  start_server "tokio$scen" "${pre[@]}" "$T" --bind 127.0.0.1:0
  pid[tokio]=$SRV_PID; port[tokio]=$SRV_PORT
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(ours tokio); else order=(tokio ours); fi
    for s in "${order[@]}"; do
      bench_run "$scen" "$r" "$s" "${pid[$s]}" "${port[$s]}" "${pre[@]}" -- echo \
        --clients "$clients" --duration "$SECS" --size "$size"
    done
  done
  local threads_tokio
  threads_tokio=$(awk '/^Threads:/ {print $2}' "/proc/${pid[tokio]}/status" 2>/dev/null || echo '?')
  stop_servers
  md "## $scen. $title" ''
  md "$clients client(s), $size-byte messages, ${SECS} s per run, $ROUNDS rounds; runs alternate ours/tokio (odd rounds) and tokio/ours (even rounds). The load generator checks every echoed byte. tokio-echo had $threads_tokio threads at the end."
  ((pin)) && md 'Both servers and the load generator run under `taskset -c 0` (one core shared by all), so the rate here is inversely proportional to the CPU spent per round trip by server + client. tokio sizes its worker pool from the affinity mask: one worker.'
  md ''
  summarize "$scen" ours,tokio "$targets" "$scen ($title)" "$metric"
  flush_cmds
  md ''
}

# flood NAME SERVER-CMD... : scenario E4 against one server. Sets F_SENT,
# F_LINE, F_HELLO, F_HELLO_AFTER, F_RSS0, F_HWM0, F_RSS_MAX, F_HWM, F_SS,
# F_PROGRESS.
flood() {
  local name=$1
  shift
  start_server "$name" "$@"
  local pid=$SRV_PID port=$SRV_PORT addr=127.0.0.1:$SRV_PORT
  F_RSS0=$(vm "$pid" VmRSS); F_HWM0=$(vm "$pid" VmHWM)
  note "grep -E '^Vm(RSS|HWM):' /proc/$pid/status    # before, every 0.2 s during the flood, after"
  local fcmd=(timeout -k 5 $((FLOOD_SECS + 30)) python3 bench/flood.py --host 127.0.0.1 --port "$port" --bytes "$FLOOD_BYTES" --seconds "$FLOOD_SECS")
  note "$(show "${fcmd[@]}") &"
  "${fcmd[@]}" >"$TMP/flood-$name.out" 2>"$TMP/flood-$name.err" &
  local fpid=$!
  PIDS+=("$fpid")
  local i rss hello_done=0 t0=$SECONDS
  F_RSS_MAX=$F_RSS0; F_HELLO='(not run)'; F_SS='(ss not available)'
  local hcmd=(timeout -k 2 10 "$R" echo send --to "$addr" hello)
  # Bounded: the flooder stops after FLOOD_SECS (timeout kills it 30 s later).
  for ((i = 0; i < (FLOOD_SECS + 40) * 5; i++)); do
    kill -0 "$fpid" 2>/dev/null || break
    rss=$(vm "$pid" VmRSS)
    ((rss > F_RSS_MAX)) && F_RSS_MAX=$rss
    # About two seconds in, the flooder has long been stalled: look at the
    # sockets, then ask for an echo on another connection.
    if ((!hello_done && SECONDS - t0 >= 2)); then
      hello_done=1
      if command -v ss >/dev/null; then
        note "ss -tnm '( sport = :$port or dport = :$port )'    # ~2 s into the flood"
        F_SS=$(ss -tnm "( sport = :$port or dport = :$port )" 2>&1 || true)
      fi
      note "$(show "${hcmd[@]}")    # ~2 s into the flood"
      F_HELLO=$("${hcmd[@]}" 2>&1) || F_HELLO="exit $?: $F_HELLO"
    fi
    sleep 0.2
  done
  local frc=0
  wait "$fpid" || frc=$?
  forget_pid "$fpid"
  F_LINE=$(sed -n 's/^sent /sent /p' "$TMP/flood-$name.out")
  F_SENT=$(sed -n 's/^sent \([0-9]*\) .*/\1/p' "$TMP/flood-$name.out")
  [[ -n $F_SENT && $frc == 0 ]] || F_LINE="flood.py failed (exit $frc): $(head -c 300 "$TMP/flood-$name.err")"
  # Each change of the total, then where it stood at the end.
  F_PROGRESS=$(awk '$1 == "progress" { if ($3 != last) { printf "%s%s s: %.1f MiB", sep, $2, $3 / 1048576; sep = "; " } last = $3; t = $2 }
                    END { if (t != "") printf "%sunchanged through %s s", sep, t }' "$TMP/flood-$name.out")
  sleep 0.2
  note "$(show "${hcmd[@]}")    # after the flood"
  F_HELLO_AFTER=$("${hcmd[@]}" 2>&1) || F_HELLO_AFTER="exit $?: $F_HELLO_AFTER"
  rss=$(vm "$pid" VmRSS)
  ((rss > F_RSS_MAX)) && F_RSS_MAX=$rss
  F_RSS1=$rss
  F_HWM=$(vm "$pid" VmHWM)
  stop_servers
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
kib2mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_S=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "report: $OUT (ROUNDS=$ROUNDS SECS=$SECS)"

compare E1 "64 clients, 64-byte messages" "tokio:1.2" 0 64 64 rps
compare E2 "1 client, 64 KiB messages" "tokio:0.9" 0 1 65536 mbps
compare E3 "pinned to CPU 0, 64 clients, 64-byte messages" "" 1 64 64 rps

# ---------------------------------------------------------------- E4
log "scenario E4: a client that sends $FLOOD_BYTES bytes and never reads"
declare -A FL
for s in ours tokio; do
  if [[ $s == ours ]]; then
    flood oursE4 "$R" echo serve --bind 127.0.0.1:0
  else
    flood tokioE4 "$T" --bind 127.0.0.1:0
  fi
  FL[$s,sent]=${F_SENT:-0}; FL[$s,line]=$F_LINE; FL[$s,hello]=$F_HELLO; FL[$s,after]=$F_HELLO_AFTER
  FL[$s,rss0]=$F_RSS0; FL[$s,hwm0]=$F_HWM0; FL[$s,rssmax]=$F_RSS_MAX; FL[$s,rss1]=$F_RSS1; FL[$s,hwm]=$F_HWM
  FL[$s,ss]=$F_SS; FL[$s,progress]=$F_PROGRESS
  log "  $s: ${FL[$s,line]}; VmRSS max ${FL[$s,rssmax]} kB, VmHWM ${FL[$s,hwm]} kB; hello during the flood: ${FL[$s,hello]}"
done

ours_sent=${FL[ours,sent]}
if ((ours_sent > 0 && ours_sent < FLOOD_BYTES)); then
  check OK "E4: the flooding client got $(mib "$ours_sent") MiB ($ours_sent bytes) into our server in $FLOOD_SECS s, then TCP held it back (it tried to send 1 GiB); tokio-echo: $(mib "${FL[tokio,sent]}") MiB"
else
  check FAIL "E4: the flooding client got $ours_sent bytes into our server (expected a stall well below 1 GiB): ${FL[ours,line]}"
fi
ours_hwm=${FL[ours,hwm]}
if ((ours_hwm < RSS_LIMIT_KB)); then
  check OK "E4: our server's memory during the flood: VmHWM ${FL[ours,hwm]} kB ($(kib2mib "${FL[ours,hwm]}") MiB, < 16 MiB), largest VmRSS sampled ${FL[ours,rssmax]} kB, VmRSS before ${FL[ours,rss0]} kB; tokio-echo: VmHWM ${FL[tokio,hwm]} kB"
else
  check FAIL "E4: our server's memory during the flood: VmHWM ${FL[ours,hwm]} kB ($(kib2mib "${FL[ours,hwm]}") MiB), limit 16 MiB; largest VmRSS sampled ${FL[ours,rssmax]} kB"
fi
[[ ${FL[ours,hello]} == hello ]] && check OK "E4: \`reseau echo send hello\` on another connection during the flood was answered \`hello\` (after the flood: \`${FL[ours,after]}\`)" \
  || check FAIL "E4: \`reseau echo send hello\` during the flood gave '${FL[ours,hello]}' (after the flood: '${FL[ours,after]}')"

md "## E4. A client that sends 1 GiB and never reads" ''
md "A fresh server per run; \`bench/flood.py\` connects, sends as fast as the kernel accepts for $FLOOD_SECS s or until 1 GiB ($FLOOD_BYTES bytes) was accepted, and never reads (non-blocking socket, \`select\` with timeouts). The echo fills the flooder's receive buffer and the server's send buffer; a server that then stops reading lets its receive buffer and the flooder's send buffer fill, and TCP stalls the flooder. The server's memory is read from \`/proc/PID/status\` every 0.2 s; about 2 s into the flood, \`ss\` shows the sockets and \`reseau echo send hello\` runs on a second connection. Socket buffer limits: \`net.ipv4.tcp_rmem\` = $(tr '\t' ' ' </proc/sys/net/ipv4/tcp_rmem), \`net.ipv4.tcp_wmem\` = $(tr '\t' ' ' </proc/sys/net/ipv4/tcp_wmem)."
md '' '| Measure | ours | tokio-echo |' '|---|---:|---:|'
md "| bytes the flooder got through | **${FL[ours,sent]}** ($(mib "${FL[ours,sent]}") MiB) | ${FL[tokio,sent]} ($(mib "${FL[tokio,sent]}") MiB) |"
md "| flooder's own summary | ${FL[ours,line]} | ${FL[tokio,line]} |"
md "| server VmRSS before | ${FL[ours,rss0]} kB | ${FL[tokio,rss0]} kB |"
md "| largest server VmRSS sampled during the flood | ${FL[ours,rssmax]} kB | ${FL[tokio,rssmax]} kB |"
md "| server VmRSS after the flood | ${FL[ours,rss1]} kB | ${FL[tokio,rss1]} kB |"
md "| **server VmHWM at the end** (peak) | **${FL[ours,hwm]} kB** ($(kib2mib "${FL[ours,hwm]}") MiB; limit 16 MiB) | ${FL[tokio,hwm]} kB ($(kib2mib "${FL[tokio,hwm]}") MiB) |"
md "| \`echo send hello\` ~2 s into the flood | \`${FL[ours,hello]}\` | \`${FL[tokio,hello]}\` |"
md "| \`echo send hello\` after the flood | \`${FL[ours,after]}\` | \`${FL[tokio,after]}\` |"
md '' "Bytes accepted, sampled every second (ours): ${FL[ours,progress]:-none}" ''
md "Bytes accepted, sampled every second (tokio-echo): ${FL[tokio,progress]:-none}" ''
md 'Sockets of the flood connection ~2 s in, ours (`Recv-Q`/`Send-Q`: bytes queued; `skmem` `rb`/`tb`: receive/send buffer sizes); the server side has the listening port as its local address:' '' '```' "${FL[ours,ss]}" '```' ''
md 'The same for tokio-echo:' '' '```' "${FL[tokio,ss]}" '```'
flush_cmds
md ''

# ---------------------------------------------------------------- the report
END=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
REPORT=$TMP/report.md
tokio_version=$(awk '/^name = "tokio"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock 2>/dev/null || echo '?')
{
  echo "# reseau echo: ours vs tokio"
  echo
  echo "- Run: $START to $END ($((SECONDS - START_S)) s), \`ROUNDS=$ROUNDS SECS=$SECS PAUSE=$PAUSE FLOOD_SECS=$FLOOD_SECS bench/compare_echo.sh\`"
  machine_line
  echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END (other work on the machine adds noise; that is why runs alternate)"
  source_line
  echo "- \`\$BIN\`: a copy of \`target/release\` taken at the start; sha256 \`reseau\` $(sha256sum "$R" | cut -c1-16)…, \`tokio-echo\` $(sha256sum "$T" | cut -c1-16)…"
  echo "- Servers: ours is \`reseau echo serve\` (one mio thread, a 4 KiB buffer per connection); tokio-echo is \`bench/tokio-echo\` (tokio $tokio_version, multi-threaded runtime, a task per connection, \`tokio::io::copy\` between the halves of the socket, 8 KiB buffer, \`TCP_NODELAY\`)"
  echo "- Load generator: \`reseau bench echo\` (one mio thread; checks every echoed byte); $(python3 --version 2>&1) for \`bench/flood.py\`; servers and clients on 127.0.0.1 only"
} >"$REPORT"
finish_report
