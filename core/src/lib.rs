//! Sans-IO protocol core of reseau: the programs of a network-programming
//! course (an integer adder, echo, a UDP chat) as state machines that take
//! bytes in and give bytes out.
//!
//! Nothing here opens a socket, reads a clock or starts a thread, and
//! nothing allocates: every buffer is fixed and bounded. The same sessions
//! are driven by `reseau-host` over std sockets, by the Python binding, and
//! on a microcontroller over smoltcp.
//!
//! - [`frame`]: the 4-byte little-endian length prefix.
//! - [`adder`]: the integer adder, in the course's pickle format and in
//!   reseau's native format.
//! - [`echo`]: the echo server's session (RFC 862, bounded).
//! - [`chat`]: the UDP chat's commands.
//! - [`escape`]: text from the network made safe for a terminal or a log.
//! - [`session`]: the trait every stream session implements, the order in
//!   which drivers call it, and how a connection ends.
//! - [`time`] and [`timed`]: time as an input, and the rules that need it
//!   (idle timeout, request timeout, lingering close), once for every
//!   driver.
//! - [`drive`]: drivers that run sessions over smoltcp sockets (feature
//!   `smoltcp`) and over `embedded_io` streams (feature `embedded-io`).
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod adder;
pub mod chat;
pub mod drive;
pub mod echo;
pub mod escape;
pub mod frame;
pub mod session;
pub mod time;
pub mod timed;
pub mod writer;
