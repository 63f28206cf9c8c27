# shellcheck shell=bash
# Helpers of bench/run. Sourced, never run; defines functions only.
#
# The functions use these variables of the sourcing script:
#   TMP      its temporary directory          PIDS     background PIDs it started
#   CLK_TCK  `getconf CLK_TCK`

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
  # shellcheck disable=SC2034 # read by the sourcing script
  CHILDREN_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f\n", t }' "$TMP/times")
}

# start_server NAME CMD... : starts a server in the background, waits for its
# "listening on 127.0.0.1:PORT" line and sets SRV_PID and SRV_PORT.
start_server() {
  local name=$1 i port=
  shift
  local logf=$TMP/$name.log
  # Emptied here, not by the child's redirection: a reused name must not
  # show the port of the previous server.
  : >"$logf"
  "$@" >>"$logf" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  for ((i = 0; i < 200; i++)); do
    port=$(grep -o -m1 'listening on 127\.0\.0\.1:[0-9]*' "$logf" 2>/dev/null | sed 's/.*://' || true)
    [[ -n $port ]] && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$logf" >&2; die "$name exited at start"; }
    sleep 0.05
  done
  [[ -n $port ]] || { cat "$logf" >&2; die "$name did not print its port within 10 s"; }
  # shellcheck disable=SC2034 # read by the sourcing script
  SRV_PORT=$port
  log "$name: pid $SRV_PID listening on 127.0.0.1:$port"
}

timewait() { if command -v ss >/dev/null; then ss -s | sed -n 's/.*timewait \([0-9]*\).*/\1/p'; else echo '?'; fi; }

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
