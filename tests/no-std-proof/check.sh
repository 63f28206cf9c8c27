#!/usr/bin/env bash
# Builds the no_std proof in release, runs it, and reports its size.
#
# The build itself is the proof: it fails with E0152 (duplicate lang item)
# if a dependency of reseau-core links std, and with "no global memory
# allocator found" if one links alloc. Running it checks the adder session
# gave the right replies, driven by hand and through the embedded-io
# driver (exit status 0). See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Keep the build inside this directory whatever the caller's environment.
export CARGO_TARGET_DIR="$here/target"

cargo build --release --quiet --manifest-path "$here/Cargo.toml"

bin="$CARGO_TARGET_DIR/release/no-std-proof"
status=0
"$bin" || status=$?
if [[ $status -ne 0 ]]; then
    echo "no_std proof: FAILED, $bin exited with status $status" >&2
    exit 1
fi

bytes="$(stat -c %s "$bin")"
sections=""
if command -v size >/dev/null 2>&1; then
    # Berkeley format: a header line, then "text data bss dec hex filename".
    sections="$(size "$bin" | awk 'NR == 2 { printf " (text %s data %s bss %s)", $1, $2, $3 }')"
fi
echo "no_std proof: ok, binary $bytes bytes$sections"
