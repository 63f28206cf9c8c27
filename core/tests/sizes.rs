//! The memory of one session, as the embedded drivers hold it: the sizes
//! of the session state machines and of the client's reply decoder.
//!
//! `cargo test --release -p reseau-core --test sizes -- --nocapture`
//! prints them. The bounds are today's (x86-64); the goal is under 1 KiB
//! per session, which `EchoSession` (its 4 KiB echo buffer) does not meet
//! yet.
#![allow(clippy::print_stderr)]

use core::mem::size_of;

use reseau_core::adder::{AdderSession, ReplyDecoder};
use reseau_core::echo::{self, EchoSession};

/// As documented on `AdderSession`: 416 bytes on x86-64, with its 64-byte
/// output buffer.
const ADDER_MAX: usize = 416;
/// The echo buffer plus a little bookkeeping (counters, the preview).
const ECHO_MAX: usize = echo::BUFFER + 256;

#[test]
fn session_sizes() {
    let adder = size_of::<AdderSession>();
    let echo = size_of::<EchoSession>();
    let decoder = size_of::<ReplyDecoder>();
    eprintln!("size_of::<AdderSession>() = {adder} bytes");
    eprintln!("size_of::<EchoSession>()  = {echo} bytes");
    eprintln!("size_of::<ReplyDecoder>() = {decoder} bytes");
    assert!(adder <= ADDER_MAX, "AdderSession is {adder} bytes");
    assert!(echo <= ECHO_MAX, "EchoSession is {echo} bytes");
    // The client's decoder is far smaller than a session.
    assert!(decoder < adder, "ReplyDecoder is {decoder} bytes");
}
