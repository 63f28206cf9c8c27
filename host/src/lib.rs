//! reseau-host: the course's servers and clients over real sockets.
//!
//! The protocols are `reseau_core`'s sans-IO sessions; this crate binds
//! sockets, runs the event loop ([`net`]) and offers each program to the
//! command line and to the Python binding.

pub mod adder;
pub mod bench;
pub mod chat;
pub mod echo;
pub mod escape;
pub mod exit;
pub mod explain;
pub mod metrics;
pub mod net;
pub mod nic;
pub mod resolve;
pub mod tls;
pub mod trace;
pub mod web;
