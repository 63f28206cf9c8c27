//! The course's web site: the CherryPy application of the handout, on
//! rouille, with its data in SQLite and a REST API.
//!
//! - [`config`]: the CherryPy-style config file (`server.conf`) and the
//!   settings it gives.
//! - [`db`]: the SQLite database of users.
//! - [`app`]: the routes, as one rouille handler ([`app::App::handle`]).
//! - [`api`]: the JSON routes: `/listusers`, `/adduser` and the REST API.
//! - [`html`]: the page templates and the one HTML-escaping function.
//! - [`static_files`]: `/static/...`, confined to the static folder.
//! - [`http`]: a sans-IO HTTP/1.1 connection: request heads and bodies in,
//!   responses out, with the limits of an open network.
//! - [`serve`]: the front end that runs [`http`] connections on the shared
//!   event loop ([`crate::net`]) and the handlers on a bounded pool of
//!   worker threads.

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod html;
pub mod http;
pub mod serve;
pub mod static_files;

use std::fmt;
use std::sync::Arc;

use app::{App, WebError};
use config::Settings;
use serve::WebServer;

/// Why the site did not start.
#[derive(Debug)]
pub enum StartError {
    /// The database or the static folder.
    Site(WebError),
    /// The address could not be bound.
    Bind { addr: String, error: std::io::Error },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Site(error) => error.fmt(f),
            StartError::Bind { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Opens the site of `settings` (its database, its static folder) and
/// binds its address: what `reseau web`, `reseau serve` and the Python
/// binding run.
pub fn bind(settings: &Settings) -> Result<WebServer, StartError> {
    let app = Arc::new(App::open(settings).map_err(StartError::Site)?);
    let addr = settings.address();
    WebServer::bind(
        &addr,
        Arc::new(move |request| app.handle(request)),
        settings.limits,
    )
    .map_err(|error| StartError::Bind { addr, error })
}
