#!/usr/bin/env bash
# Builds the firmware with every service (echo, the chat and the console's
# connection log: the default features), with the adder alone
# (`--no-default-features`) and with the adder and the log, and prints what
# each takes of the board:
#
#   firmware (adder, echo, chat, log): flash F B (text+rodata T, .data image D), static RAM R B (data D, bss B)
#
# Flash is what `size -A` counts in .vector_table, .text and .rodata, plus
# the initial values of .data, which the start-up code copies from flash.
# Static RAM is .data and .bss: every socket buffer, session and frame
# buffer is a static. The stack is apart: tests/firmware measures its
# high-water mark. The ELF files are left as target/firmware-NAME.elf (in
# this folder's target), NAME full, adder and adder-log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CARGO_TARGET_DIR="$here/target"
target=thumbv7m-none-eabi

build() {
  local name=$1 what=$2
  shift 2
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --target "$target" "$@"
  cp "$CARGO_TARGET_DIR/$target/release/firmware" "$CARGO_TARGET_DIR/firmware-$name.elf"
  # `size -A`: "section size address" lines.
  size -A "$CARGO_TARGET_DIR/firmware-$name.elf" | awk -v what="$what" '
    $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { text += $2 }
    $1 == ".data" { data += $2 }
    $1 == ".bss" { bss += $2 }
    END {
      printf "firmware (%s): flash %d B (text+rodata %d, .data image %d), static RAM %d B (data %d, bss %d)\n",
        what, text + data, text, data, data + bss, data, bss
    }'
}

build full "adder, echo, chat, log"
build adder "adder alone" --no-default-features
build adder-log "adder, log" --no-default-features --features log
