//! The web site's settings and the CherryPy-style config file that sets them.

use std::path::PathBuf;
use std::time::Duration;

/// Where the site listens, what it serves, and its limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `server.socket_host` (default `127.0.0.1`).
    pub host: String,
    /// `server.socket_port` (default 8080).
    pub port: u16,
    /// `[/static]` `tools.staticdir.root` joined with `tools.staticdir.dir`;
    /// `None` when `tools.staticdir.on` is `False`.
    pub static_dir: Option<PathBuf>,
    /// The SQLite file (`reseau.db`).
    pub db: PathBuf,
    /// Limits of the HTTP front end.
    pub limits: HttpLimits,
}

/// The limits of the HTTP front end.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request head (request line and headers), in bytes: 431 over it.
    pub max_header: usize,
    /// Largest request body, in bytes: 413 over it.
    pub max_body: usize,
    /// The head and body of a request must arrive within this long.
    pub request_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Threads that run the handlers.
    pub workers: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header: 16 * 1024,
            max_body: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            workers: 8,
        }
    }
}
