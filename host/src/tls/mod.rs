//! TLS for every TCP service and client, with rustls.
//!
//! rustls is sans-IO, as our sessions are: it takes the bytes read from a
//! socket and gives the bytes to write to it. So TLS sits once in the
//! shared runtime ([`crate::net`]), between the socket and the session,
//! and every service (adder, echo, web) gets it without knowing: the
//! session sees the same plaintext bytes it sees on a plain connection.
//!
//! - [`server`]: a server's certificate and key, checked at start and
//!   reloaded on SIGHUP; the transport of one connection.
//! - [`client`]: the clients' side (`--tls`, `--ca`).
//! - [`cert`]: `reseau cert`, a self-signed certificate for development.
//!
//! Only TLS 1.2 and 1.3 are spoken (rustls has nothing older).

pub mod cert;
pub mod client;
pub mod server;
