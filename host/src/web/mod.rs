//! The course's web site: the CherryPy application of the handout, on
//! rouille, with its data in SQLite and a REST API.
//!
//! - [`config`]: the CherryPy-style config file (`server.conf`) and the
//!   settings it gives.
//! - [`db`]: the SQLite database of users.
//! - [`app`]: the routes, as one rouille handler ([`app::App::handle`]).
//! - [`http`]: a sans-IO HTTP/1.1 connection: request heads and bodies in,
//!   responses out, with the limits of an open network.
//! - [`serve`]: the front end that runs [`http`] connections on the shared
//!   event loop ([`crate::net`]) and the handlers on a bounded pool of
//!   worker threads.

pub mod app;
pub mod config;
pub mod db;
pub mod http;
pub mod serve;
