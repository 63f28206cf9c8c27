#!/usr/bin/env bash
# The Wireshark dissector (tools/wireshark/reseau.lua) on real traffic:
# tshark captures on lo while the adder, echo and the chat run on 127.0.0.1
# with course-style clients, then the capture is dissected with the Lua
# script and compared with `reseau explain --json` and CPython's
# pickletools on the same bytes (tests/wireshark/test_dissector.py).
#
# Needs tshark: with CI=true it is installed with apt-get (Debian's tshark;
# wireshark-common's question "may non-root users capture?" is answered
# no beforehand, so nothing is asked); elsewhere the test is skipped with a
# note when it is missing. Capturing needs root or dumpcap's capabilities:
# without them it is skipped with a note, except in CI, where it runs
# through sudo. Uses target/release/reseau (built when missing).
# About 10 s once tshark is there.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"

if ! command -v tshark >/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $as_root debconf-set-selections
    $as_root apt-get update -qq >/dev/null
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null
  else
    echo "note: tshark is not installed: the Wireshark dissector test is skipped (apt-get install tshark)"
    exit 0
  fi
fi

[ -x target/release/reseau ] || cargo build --release -p reseau-host

run=()
if [ "$(id -u)" -ne 0 ]; then
  # Can this user capture on lo (dumpcap with cap_net_raw, or in the
  # wireshark group)? One second of capture says.
  if timeout 10 dumpcap -i lo -a duration:1 -q -w /dev/null >/dev/null 2>&1; then
    :
  elif [ "${CI:-}" = "true" ]; then
    run=(sudo)
  else
    echo "note: capturing on lo needs root or dumpcap's capabilities: the Wireshark dissector test is skipped"
    exit 0
  fi
fi

${run[@]+"${run[@]}"} timeout 300 python3 tests/wireshark/test_dissector.py --reseau target/release/reseau
