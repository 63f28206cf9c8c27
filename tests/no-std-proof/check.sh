#!/usr/bin/env bash
# Builds the no_std proof in release, runs it, and reports its size; then
# builds it with the `release-size` profile (opt-level "z"), runs that too,
# and reports its text size.
#
# The build itself is the proof: it fails with E0152 (duplicate lang item)
# if a dependency of reseau-core links std, and with "no global memory
# allocator found" if one links alloc. Running it checks the adder session
# gave the right replies, driven by hand, through the embedded-io driver
# and through a smoltcp interface and the smoltcp driver, and that the
# chat's datagram left through a smoltcp UDP socket (exit status 0).
# See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Keep the build inside this directory whatever the caller's environment.
export CARGO_TARGET_DIR="$here/target"

# Runs the binary built with profile $1 (its directory is $2); fails the
# script if it does not exit 0.
build_and_run() {
    local profile="$1" dir="$2"
    cargo build --profile "$profile" --quiet --manifest-path "$here/Cargo.toml"
    local bin="$CARGO_TARGET_DIR/$dir/no-std-proof"
    local status=0
    "$bin" || status=$?
    if [[ $status -ne 0 ]]; then
        echo "no_std proof: FAILED, $bin exited with status $status" >&2
        exit 1
    fi
}

build_and_run release release
build_and_run release-size release-size

bin="$CARGO_TARGET_DIR/release/no-std-proof"
small="$CARGO_TARGET_DIR/release-size/no-std-proof"
bytes="$(stat -c %s "$bin")"
sections=""
small_text=""
if command -v size >/dev/null 2>&1; then
    # Berkeley format: a header line, then "text data bss dec hex filename".
    sections="$(size "$bin" | awk 'NR == 2 { printf " (text %s data %s bss %s)", $1, $2, $3 }')"
    small_text="$(size "$small" | awk 'NR == 2 { printf "; opt-level z: text %s bytes", $1 }')"
fi
echo "no_std proof: ok, binary $bytes bytes$sections$small_text"
