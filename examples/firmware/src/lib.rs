//! The parts of the firmware that do not need the board to run: the
//! Ethernet controller's frame format and the console's lines. They are a
//! library so that they are tested and fuzzed on the host too
//! (`cargo test --lib --target x86_64-unknown-linux-gnu` here, and the
//! `firmware_rx` and `firmware_console` targets of `core/fuzz`); the board's
//! start-up and the main loop are `main.rs`.
#![no_std]

pub mod console;
pub mod mmio;
pub mod stellaris;
