//! The course's web site: the CherryPy application of the handout, on
//! rouille, with its data in SQLite and a REST API.
//!
//! - [`config`]: the CherryPy-style config file (`server.conf`) and the
//!   settings it gives; [`tree`]: its path sections, which tools are on
//!   for a URL path.
//! - [`db`]: the SQLite database of users.
//! - [`app`]: the routes, as one rouille handler ([`app::App::handle`]).
//! - [`api`]: the JSON routes: `/listusers`, `/adduser` and the REST API.
//! - [`html`]: the page templates and the one HTML-escaping function.
//! - [`static_files`]: CherryPy's `staticdir` and `staticfile` tools,
//!   confined to their folder.
//! - [`gzip`]: CherryPy's `gzip` tool.
//! - [`log`]: the access and error logs (`log.*`).
//! - [`metrics`]: the site's families at `/metrics`, and the page.
//! - [`http`]: a sans-IO HTTP/1.1 connection: request heads and bodies in,
//!   responses out, with the limits of an open network.
//! - [`serve`]: the front end that runs [`http`] connections on the shared
//!   event loop ([`crate::net`]) and the handlers on a bounded pool of
//!   worker threads.

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod gzip;
pub mod html;
pub mod http;
pub mod log;
pub mod metrics;
pub mod serve;
pub mod static_files;
pub mod tree;

use std::fmt;
use std::sync::Arc;

use crate::metrics::Registry;
use crate::tls::server::ServerTls;
use app::{App, WebError};
use config::Settings;
use log::{LogError, SiteLog};
use serve::WebServer;

/// Why the site did not start.
#[derive(Debug)]
pub enum StartError {
    /// The database or the static folder.
    Site(WebError),
    /// A log file.
    Log(LogError),
    /// The address could not be bound.
    Bind { addr: String, error: std::io::Error },
    /// The `server.ssl_*` keys name one file without the other.
    SslKeys(String),
    /// The certificate or key (`server.ssl_*`, `--tls-cert`, `--tls-key`).
    Tls(crate::tls::server::TlsError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Site(error) => error.fmt(f),
            StartError::Log(error) => error.fmt(f),
            StartError::Bind { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
            StartError::SslKeys(message) => f.write_str(message),
            StartError::Tls(error) => error.fmt(f),
        }
    }
}

impl StartError {
    /// The process exit code ([`crate::exit`]): the site could not start.
    pub fn exit_code(&self) -> u8 {
        crate::exit::SETUP
    }
}

impl std::error::Error for StartError {}

/// Opens the site of `settings` (its database, its static folder) and
/// binds its address: what `reseau web`, `reseau serve` and the Python
/// binding run.
pub fn bind(settings: &Settings) -> Result<WebServer, StartError> {
    let log = Arc::new(SiteLog::open(&settings.log).map_err(StartError::Log)?);
    let registry = Arc::new(Registry::default());
    let app = Arc::new(
        App::open(settings)
            .map_err(StartError::Site)?
            .with_log(log.clone())
            .with_metrics(registry.clone()),
    );
    let tls = match settings.ssl.files().map_err(StartError::SslKeys)? {
        Some(files) => {
            Some(ServerTls::load(&files, crate::tls::server::HTTP_1_1).map_err(StartError::Tls)?)
        }
        None => None,
    };
    if let Some(tls) = &tls {
        log.error(format_args!("tls: {}", tls.about()));
    }
    let addr = settings.address();
    WebServer::bind(
        &addr,
        Arc::new(move |request| app.handle(request)),
        settings.limits,
        log,
        registry,
        tls,
    )
    .map_err(|error| StartError::Bind { addr, error })
}
