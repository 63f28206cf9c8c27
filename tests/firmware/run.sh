#!/usr/bin/env bash
# The firmware of examples/firmware on an emulated microcontroller (QEMU's
# lm3s6965evb, a Cortex-M3 with the Stellaris Ethernet controller), reached
# over a TAP device by the course's clients:
#   bash tests/firmware/run.sh
# Builds the firmware with every service and with the adder only
# (examples/firmware/size.sh prints their flash and RAM), then for each:
# makes a private network namespace with tap0 (192.168.69.1/24), boots
# QEMU on it and runs firmware_test.py inside the namespace (the board is
# 192.168.69.2). Needs root (CAP_NET_ADMIN), qemu-system-arm, the
# thumbv7m-none-eabi target and a built target/release/reseau. In CI
# (CI=true) it installs qemu-system-arm with apt-get and the target with
# rustup, and must run; elsewhere a missing piece skips it with a note.
# The namespace and QEMU are removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

RESEAU=target/release/reseau
NS="reseau-fw-$$"
ci=${CI:-}

skip() {
  if [ "$ci" = "true" ]; then
    echo "FAIL: $*" >&2
    exit 1
  fi
  echo "note: $*: the firmware test is skipped"
  exit 0
}

as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
if ! command -v qemu-system-arm >/dev/null; then
  if [ "$ci" = "true" ]; then
    echo "installing qemu-system-arm (apt-get install qemu-system-arm)"
    $as_root apt-get update -qq >/dev/null
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      qemu-system-arm >/dev/null
  else
    skip "qemu-system-arm is not installed (apt-get install qemu-system-arm, or CI=true)"
  fi
fi
if ! rustc --print target-libdir --target thumbv7m-none-eabi 2>/dev/null | xargs -r test -d; then
  rustup target add thumbv7m-none-eabi >/dev/null 2>&1 ||
    skip "the thumbv7m-none-eabi target cannot be installed (rustup target add thumbv7m-none-eabi)"
fi
[ -x "$RESEAU" ] || { echo "FAIL: $RESEAU is missing: cargo build --release first" >&2; exit 1; }

fw=examples/firmware/Cargo.toml
host=$(rustc -vV | sed -n 's/^host: //p')
cargo fmt --manifest-path "$fw" --check
cargo clippy --quiet --manifest-path "$fw" --target thumbv7m-none-eabi --release -- -D warnings
cargo clippy --quiet --manifest-path "$fw" --target thumbv7m-none-eabi --release --no-default-features -- -D warnings
# The library part (the frame format, the console's lines) on the host.
cargo clippy --quiet --manifest-path "$fw" --lib --tests --target "$host" -- -D warnings
cargo test --quiet --manifest-path "$fw" --lib --target "$host"
bash examples/firmware/size.sh

cleanup() {
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for build in full adder; do
  ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace (needs root)"
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip tuntap add dev tap0 mode tap
  ip netns exec "$NS" ip addr add 192.168.69.1/24 dev tap0
  ip netns exec "$NS" ip link set tap0 up
  args=()
  [ "$build" = "adder" ] && args+=(--adder-only)
  echo "-- firmware-$build.elf in QEMU"
  # The test starts QEMU itself (inside the namespace) and stops it by PID.
  timeout 300 ip netns exec "$NS" python3 tests/firmware/firmware_test.py \
    --elf "examples/firmware/target/firmware-$build.elf" --reseau "$RESEAU" "${args[@]}"
  ip netns del "$NS"
done
echo "firmware test passed"
