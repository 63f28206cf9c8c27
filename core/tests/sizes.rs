//! The memory of one session, as the embedded drivers hold it: the sizes
//! of the session state machines and of the client's reply decoder.
//!
//! `cargo test --release -p reseau-core --test sizes -- --nocapture`
//! prints them. Each session stays under 1 KiB (x86-64), buffers
//! included, so a microcontroller can hold one per connection.
#![allow(clippy::print_stderr)]

use core::mem::size_of;

use reseau_core::adder::{AdderSession, ReplyDecoder};
use reseau_core::echo::EchoSession;

/// As documented on `AdderSession`: 432 bytes on x86-64, with its 64-byte
/// output buffer.
const ADDER_MAX: usize = 432;
/// The echo buffer (`echo::BUFFER`, 512 bytes), the 96-byte preview and
/// counters.
const ECHO_MAX: usize = 1024;

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
