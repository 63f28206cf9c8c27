//! Drivers: the code that moves bytes between a transport and a session.
//!
//! A session (`AdderSession`, `EchoSession`, ...) never touches a socket;
//! a driver does, once per environment. `reseau-host` has the driver for
//! std sockets; the ones here need no operating system:
//!
//! - `smoltcp` (feature `smoltcp`): a session over a
//!   `smoltcp::socket::tcp::Socket`, without copies: the socket's ring
//!   buffer is handed to the session directly.
//! - `embedded_io` (feature `embedded-io`): a blocking loop over any
//!   `embedded_io::Read + Write` stream (a UART, or a std stream through
//!   `embedded-io-adapters`).

#[cfg(feature = "embedded-io")]
pub mod embedded_io;
#[cfg(feature = "smoltcp")]
pub mod smoltcp;
