#!/usr/bin/env bash
# `reseau nic` (smoltcp over a TAP device) against Linux's own TCP/IP stack,
# inside a private network namespace:
#   bash tests/nic/netns_test.sh
# Needs root (CAP_NET_ADMIN) and a built target/release/reseau. Without
# CAP_NET_ADMIN it is skipped, except in CI (CI=true), where it must run.
# Everything it makes (the namespace, its TAP device, the nic process) is
# removed on exit, also on failure. Only 192.168.69.0/24 is used, and it
# exists only inside the namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."

RESEAU=target/release/reseau
NS="reseau-test-$$"
NIC_ADDR=192.168.69.2
LOG_DIR=$(mktemp -d)
NIC_PID=""

cleanup() {
  local status=$?
  if [ -n "$NIC_PID" ] && kill -0 "$NIC_PID" 2>/dev/null; then
    kill "$NIC_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$NIC_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$NIC_PID" 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "--- nic stderr" >&2
    cat "$LOG_DIR/nic.err" >&2 2>/dev/null || true
    echo "--- nic stdout" >&2
    cat "$LOG_DIR/nic.out" >&2 2>/dev/null || true
  fi
  rm -rf "$LOG_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if ! ip netns add "$NS" 2>/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    fail "cannot create a network namespace (CAP_NET_ADMIN is needed in CI)"
  fi
  echo "skipping: no CAP_NET_ADMIN"
  exit 0
fi

[ -x "$RESEAU" ] || fail "$RESEAU is missing: cargo build --release first"

in_ns() { timeout 20 ip netns exec "$NS" "$@"; }

ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add dev tap0 mode tap
ip netns exec "$NS" ip addr add 192.168.69.1/24 dev tap0
ip netns exec "$NS" ip link set tap0 up

ip netns exec "$NS" "$RESEAU" nic --tap tap0 --address "$NIC_ADDR/24" \
  >"$LOG_DIR/nic.out" 2>"$LOG_DIR/nic.err" &
NIC_PID=$!

# Up when it says so and answers on the adder's port (ARP included).
up=""
for _ in $(seq 100); do
  kill -0 "$NIC_PID" 2>/dev/null || fail "reseau nic exited early"
  if grep -q "nic: listening on $NIC_ADDR (tap tap0)" "$LOG_DIR/nic.err" &&
    in_ns python3 -c "
import socket, sys
s = socket.create_connection(('$NIC_ADDR', 6001), timeout=1)
s.close()
" 2>/dev/null; then
    up=yes
    break
  fi
  sleep 0.1
done
[ -n "$up" ] || fail "reseau nic did not come up within 10 s"

expect() {
  local want=$1 what=$2
  shift 2
  local got
  got=$(in_ns "$@") || fail "$what: exit status $?"
  [ "$got" = "$want" ] || fail "$what: expected '$want', got '$got'"
  echo "ok: $what"
}

expect 6 "adder_client.py (default protocol)" \
  python3 tests/peers/adder_client.py --host "$NIC_ADDR" --port 6001 1 2 3
for protocol in 0 1 2 3 4 5; do
  expect 6 "adder_client.py --protocol $protocol" \
    python3 tests/peers/adder_client.py --host "$NIC_ADDR" --port 6001 --protocol "$protocol" 1 2 3
done
# As in the course, a pickle request is its connection's last: the server
# replies and closes first, so a second request on it finds it closed
# (the peer prints `closed` and exits 3).
got=$(in_ns python3 tests/peers/adder_client.py --host "$NIC_ADDR" --port 6001 --requests 2 1 2 3) && status=0 || status=$?
[ "$status" = 3 ] && [ "$got" = "$(printf '6\nclosed')" ] ||
  fail "adder_client.py --requests 2: expected '6', 'closed' and status 3, got '$got' and $status"
echo "ok: a second request on one connection finds it closed by the server"
expect 6 "reseau adder sum --encoding native" \
  "$RESEAU" adder sum --to "$NIC_ADDR:6001" --encoding native 1 2 3
expect 6 "reseau adder sum (pickle)" \
  "$RESEAU" adder sum --to "$NIC_ADDR:6001" 1 2 3
expect hello "reseau echo send" \
  "$RESEAU" echo send --to "$NIC_ADDR:6000" hello

# More clients at once than listening sockets: smoltcp resets the extra
# SYNs, so each client retries; all must get their sum.
in_ns python3 - "$NIC_ADDR" <<'EOF' || fail "concurrent adder clients"
import pickle, socket, struct, sys, threading, time
host = sys.argv[1]
results = []
def client(i):
    for attempt in range(50):
        try:
            s = socket.create_connection((host, 6001), timeout=5)
            payload = pickle.dumps([i, 1000])
            s.sendall(struct.pack('I', len(payload)) + payload)
            reply = b''
            while len(reply) < 4:
                chunk = s.recv(4 - len(reply))
                if not chunk:
                    raise ConnectionResetError()
                reply += chunk
            s.close()
            results.append(struct.unpack('I', reply)[0] == i + 1000)
            return
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.05)
    results.append(False)
threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
for t in threads: t.start()
for t in threads: t.join(15)
sys.exit(0 if len(results) == 12 and all(results) else 1)
EOF
echo "ok: 12 concurrent adder clients"

in_ns python3 - "$NIC_ADDR" <<'EOF' || fail "chat datagram"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('192.168.69.1', 5055))
s.sendto(b'hello from the namespace', (sys.argv[1], 5000))
EOF
seen=""
for _ in $(seq 50); do
  if grep -qx "192.168.69.1:5055: hello from the namespace" "$LOG_DIR/nic.out"; then
    seen=yes
    break
  fi
  sleep 0.1
done
[ -n "$seen" ] || fail "the chat datagram did not show up on the nic's stdout"
echo "ok: chat datagram printed"

# A log line per finished connection, as the std servers write.
for _ in $(seq 50); do
  grep -q "^echo: 192.168.69.1:[0-9]*: \"hello" "$LOG_DIR/nic.err" && break
  sleep 0.1
done
# The adder server closes first after a pickle request (as the course's
# does); the echo client closes first (after sending, half-closing).
grep -q "^adder: 192.168.69.1:[0-9]*: 1 request answered (3 ints); closed by server$" "$LOG_DIR/nic.err" ||
  fail "no adder log line ending in 'closed by server'"
grep -q "^echo: 192.168.69.1:[0-9]*: \"hello.*; closed by peer$" "$LOG_DIR/nic.err" ||
  fail "no echo log line ending in 'closed by peer'"
echo "ok: log lines"

# SIGTERM stops it cleanly, within 5 s.
kill -TERM "$NIC_PID"
stopped=""
for _ in $(seq 50); do
  if ! kill -0 "$NIC_PID" 2>/dev/null; then
    stopped=yes
    break
  fi
  sleep 0.1
done
[ -n "$stopped" ] || fail "reseau nic did not stop on SIGTERM"
status=0
wait "$NIC_PID" || status=$?
NIC_PID=""
[ "$status" -eq 0 ] || fail "reseau nic exited with $status on SIGTERM"
grep -q "nic: stopped" "$LOG_DIR/nic.err" || fail "no 'nic: stopped' line"
echo "ok: stops on SIGTERM"

echo "nic netns test passed"
