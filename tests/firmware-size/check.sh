#!/usr/bin/env bash
# Builds the Cortex-M4F firmware (thumbv7em-none-eabihf, opt-level "z", fat
# LTO) that links reseau-core's adder, echo and chat with a smoltcp
# interface, and prints its flash and RAM footprint:
#
#   firmware (thumbv7em, opt-level z): text T data D bss B
#
# with `size` (Berkeley format: text is code, read-only data and the vector
# table). Without `size`, the sums of the allocated sections that
# `readelf -S` lists; without either, the ELF file's size. If the target
# cannot be installed (no rustup, or offline), it says so and exits 0.
# See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=thumbv7em-none-eabihf
# Keep the build inside this directory whatever the caller's environment.
export CARGO_TARGET_DIR="$here/target"

if ! rustc --print target-libdir --target "$target" 2>/dev/null | xargs -r test -d; then
    if ! command -v rustup >/dev/null 2>&1 || ! rustup target add "$target" >/dev/null 2>&1; then
        echo "firmware size: skipped, the $target target could not be installed (rustup target add $target)"
        exit 0
    fi
fi

cargo build --release --quiet --target "$target" --manifest-path "$here/Cargo.toml"
elf="$CARGO_TARGET_DIR/$target/release/firmware-size"

if command -v size >/dev/null 2>&1; then
    # A header line, then "text data bss dec hex filename".
    read -r text data bss _ < <(size "$elf" | awk 'NR == 2')
    echo "firmware (thumbv7em, opt-level z): text $text data $data bss $bss"
elif command -v readelf >/dev/null 2>&1; then
    # As `size` counts: allocated sections; executable or read-only ones are
    # text, writable PROGBITS data, writable NOBITS bss. `readelf -W -S`
    # prints "[Nr] Name Type Address Off Size ES Flg ..." (the sed joins
    # "[ N]" into one field).
    text=0 data=0 bss=0
    while read -r nr _ type _ _ size _ flags _; do
        [[ $nr =~ ^\[[0-9]+\]$ && $flags == *A* ]] || continue
        if [[ $flags != *W* ]]; then
            text=$((text + 16#$size))
        elif [[ $type == NOBITS ]]; then
            bss=$((bss + 16#$size))
        else
            data=$((data + 16#$size))
        fi
    done < <(readelf -W -S "$elf" | sed 's/^ *\[ *\([0-9]*\)\]/[\1]/')
    echo "firmware (thumbv7em, opt-level z): text $text data $data bss $bss"
else
    echo "firmware (thumbv7em, opt-level z): ELF file $(stat -c %s "$elf") bytes (no size or readelf)"
fi
