//! The web site's settings and the CherryPy config file that sets them.
//!
//! The course starts its site with `cherrypy.quickstart(WebApp(), '/', 'server.conf')`
//! and a file like
//!
//! ```text
//! [global]
//! server.socket_port: 9090
//!
//! [/static]
//! tools.staticdir.on: True
//! tools.staticdir.root: os.path.abspath(os.getcwd())
//! tools.staticdir.dir: './public'
//! ```
//!
//! [`Settings::load`] reads that file unchanged, and any file of CherryPy's
//! config tree: `[global]` for the server (`server.*`, `log.*`, reseau's
//! own `reseau.*`), and any URL path section (`[/]`, `[/static/css]`,
//! `[/favicon.ico]`) for the tools (`tools.staticdir.*`,
//! `tools.staticfile.*`, `tools.gzip.on`, `tools.encode.*`; in `[global]`
//! too, as CherryPy allows).
//!
//! # How settings resolve for a path
//!
//! Reading the file only stores each section's keys ([`ConfigTree`]).
//! Each request then asks the tree for its path
//! ([`ConfigTree::tools`]): `[global]`, then `[/]`, then the section of
//! every longer prefix of the path, each laid over the previous one key by
//! key, as CherryPy's dispatcher merges `request.config`. So a value set in
//! `[/]` (a shared `tools.staticdir.root`, the tutorial's way) holds in
//! every section that does not set it again, and a child section overrides
//! its parent. The site then runs, in CherryPy's order, the static tools,
//! the routes if they found nothing, and gzip ([`super::app`]).
//!
//! # Values and errors
//!
//! CherryPy evaluates each value as Python; we accept the literals that its
//! config files use (quoted strings, ints, `True`, `False`) and the one
//! expression the handout writes, `os.path.abspath(os.getcwd())`, the
//! working directory. Anything else stops the start with the file and the
//! line, so that nothing is silently ignored: a bad value, a server key
//! outside `[global]`, a key CherryPy has and reseau does not implement
//! (said as such: `tools.sessions.on is a CherryPy setting that reseau
//! does not support`), or an unknown key (a typo).
//!
//! Static paths are resolved as CherryPy's tools do: an absolute `dir` or
//! `filename` is used as is, a relative one is joined to its `root`.
//! CherryPy answers 500 to a relative one without a `root`; we resolve it
//! against the config file's own folder instead, so that `web/server.conf`
//! can say `dir: 'public'` and work from any working directory. A file in
//! which no section sets `tools.staticdir.dir` keeps the site's own static
//! folder at `/static` (the course's first file has only a port).
//!
//! # Layout
//!
//! - `tokens`: the syntax: lines, section headers, `key: value` /
//!   `key = value`, and the Python literals a value may be.
//! - `keys`: the table of keys, one row per key: its name, its section,
//!   the value it takes, where it goes in [`Settings`] and how
//!   [`Settings::render`] writes it back. Adding a key is adding a row.
//! - `statics`: the static-folder rules: a static tool turned on must
//!   find its folder or file, and a file that names no folder keeps the
//!   site's own.
//! - [`Settings::parse`] runs the three in that order.

mod keys;
mod statics;
mod tokens;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tree;
pub use super::tree::ConfigTree;
use crate::web::db::Location;
pub use statics::{default_static_dir, set_installed_static_dir};
pub use tokens::is_unsafe_char;
use tokens::{Section, Token, clean, section_name};

/// Where the site listens, what it serves, its logs and its limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `server.socket_host` (default `127.0.0.1`).
    pub host: String,
    /// `server.socket_port` (default 8080).
    pub port: u16,
    /// The tool settings of `[global]` and of every path section.
    pub tree: ConfigTree,
    /// `log.access_file`, `log.error_file`, `log.screen`.
    pub log: LogSettings,
    /// The database (`reseau.db`): a SQLite file, or a PostgreSQL URL.
    pub db: Location,
    /// Limits of the HTTP front end.
    pub limits: HttpLimits,
    /// TLS: CherryPy's `server.ssl_*` keys.
    pub ssl: SslSettings,
}

/// CherryPy's `server.ssl_certificate`, `server.ssl_private_key` and
/// `server.ssl_certificate_chain`: TLS is on when the first two are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslSettings {
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    pub chain: Option<PathBuf>,
    /// `server.ssl_module`: `builtin` (the default) or `pyopenssl`, both
    /// served by rustls; kept only to be written back.
    pub module: Option<String>,
}

impl SslSettings {
    /// The files TLS is served with; `None`: plain HTTP. One key without
    /// the other is refused.
    pub fn files(&self) -> Result<Option<crate::tls::server::TlsFiles>, String> {
        match (&self.certificate, &self.private_key) {
            (Some(cert), Some(key)) => Ok(Some(crate::tls::server::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                chain: self.chain.clone(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("server.ssl_certificate is set without server.ssl_private_key".to_owned())
            }
            (None, Some(_)) => {
                Err("server.ssl_private_key is set without server.ssl_certificate".to_owned())
            }
        }
    }
}

/// Where the site's log lines go (CherryPy's `log.*` keys).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `log.access_file`: a line per request, appended.
    pub access_file: Option<PathBuf>,
    /// `log.error_file`: start-up, errors, connection ends, appended.
    pub error_file: Option<PathBuf>,
    /// `log.screen`: both kinds of lines on stderr too (default `True`).
    pub screen: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            access_file: None,
            error_file: None,
            screen: true,
        }
    }
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
    /// A connection with no traffic for this long (between requests, or
    /// while a handler runs) is closed.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Threads that run the handlers; `0`: [`HttpLimits::handler_threads`]
    /// decides from the number of event loops.
    pub workers: usize,
    /// Event loops that share the connections; `0`: one per available
    /// core.
    pub threads: usize,
}

impl HttpLimits {
    /// Threads that run the handlers next to `loops` event loops:
    /// [`HttpLimits::workers`], or four per loop (at least 8) when it is 0.
    /// Handlers block (SQLite, files), so a loop that keeps its core busy
    /// needs a few of them ready for the requests it reads.
    pub fn handler_threads(&self, loops: usize) -> usize {
        match self.workers {
            0 => loops.saturating_mul(4).max(8),
            n => n,
        }
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header: 16 * 1024,
            max_body: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            workers: 0,
            threads: 0,
        }
    }
}

impl Default for Settings {
    /// CherryPy's defaults (`127.0.0.1:8080`), the default static folder
    /// ([`default_static_dir`]) under `/static`, and `reseau.db` in the
    /// working directory.
    fn default() -> Self {
        Settings {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            tree: ConfigTree::static_folder(default_static_dir()),
            log: LogSettings::default(),
            db: Location::Sqlite(PathBuf::from("reseau.db")),
            limits: HttpLimits::default(),
            ssl: SslSettings::default(),
        }
    }
}

/// Why a config file was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file, as given.
        file: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A line of the file is wrong.
    Line {
        /// The file, as given.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, source } => {
                write!(
                    f,
                    "{}: cannot read the config file: {source}",
                    file.display()
                )
            }
            ConfigError::Line {
                file,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", file.display()),
        }
    }
}

impl ConfigError {
    /// The process exit code ([`crate::exit`]): the site could not start.
    pub fn exit_code(&self) -> u8 {
        crate::exit::SETUP
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::Line { .. } => None,
        }
    }
}

/// A line of the file refused: where, and why (still the file's text:
/// [`Settings::parse`] escapes it).
struct LineError {
    line: usize,
    message: String,
}

impl LineError {
    fn new(line: usize, message: String) -> LineError {
        LineError { line, message }
    }
}

impl Settings {
    /// `host:port` to bind (`[host]:port` for an IPv6 host).
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sets the host and port from `host:port` (`[::1]:8080` for IPv6), as
    /// `--bind` gives them.
    pub fn set_address(&mut self, addr: &str) -> Result<(), String> {
        let bad = || format!("--bind {addr:?} is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)");
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse::<u16>().map_err(|_| bad())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        self.host = host.to_owned();
        self.port = port;
        Ok(())
    }

    /// These settings as a config file: every `[global]` key, in the
    /// table's order (`keys::KEYS`), then each path section that sets a
    /// tool key, in path order. Parsed again (from a file in the same
    /// folder), it gives the same settings, and renders to the same text:
    /// the fuzzer's round trip.
    pub fn render(&self) -> String {
        let mut out = String::from("[global]\n");
        for key in keys::KEYS {
            if let keys::Place::Global { get, .. } = key.place {
                out.push_str(&format!("{}: {}\n", key.name, get(self)));
            }
        }
        for (section, tools) in self.tree.sections() {
            if let Some(path) = section {
                out.push_str(&format!("[{path}]\n"));
            }
            for key in keys::KEYS {
                if let keys::Place::Tool { get, .. } = key.place
                    && let Some(value) = get(tools)
                {
                    out.push_str(&format!("{}: {value}\n", key.name));
                }
            }
        }
        out
    }

    /// The settings of the config file at `path`, or the defaults for `None`.
    ///
    /// Keys the file does not set keep their default.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let Some(path) = path else {
            return Ok(Settings::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        Settings::parse(&text, path, &folder)
    }

    /// Parses config text; `file` names it in errors, `folder` is where a
    /// relative static `dir` or `filename` without a `root` is resolved.
    /// [`Settings::load`] is this on a file's text.
    pub fn parse(text: &str, file: &Path, folder: &Path) -> Result<Settings, ConfigError> {
        // Messages quote the file's text: control and bidi characters in
        // it are escaped, so that an error printed on a terminal is text.
        Settings::parse_text(text, folder).map_err(|error| ConfigError::Line {
            file: file.to_owned(),
            line: error.line,
            message: clean(&error.message),
        })
    }

    /// [`Settings::parse`], with errors that say only the line: the
    /// tokens (`tokens`) in order, each key set by its row of the table
    /// (`keys`), then the static-folder rules (`statics`).
    fn parse_text(text: &str, folder: &Path) -> Result<Settings, LineError> {
        let mut settings = Settings {
            tree: ConfigTree::new(folder.to_owned()),
            ..Settings::default()
        };
        let mut section: Option<Section> = None;
        let mut seen_sections: Vec<Section> = Vec::new();
        let mut seen_keys: Vec<(Section, &str)> = Vec::new();
        let mut turned_on = statics::TurnedOn::default();

        for (line, token) in tokens::tokens(text) {
            let error = |message: String| LineError::new(line, message);
            match token.map_err(error)? {
                Token::Section(found) => {
                    if seen_sections.contains(&found) {
                        return Err(error(format!(
                            "section {} appears twice",
                            section_name(&found)
                        )));
                    }
                    seen_sections.push(found.clone());
                    section = Some(found);
                }
                Token::Entry { key, value } => {
                    let Some(current) = &section else {
                        return Err(error(format!(
                            "{key} comes before any section: put it under [global]"
                        )));
                    };
                    if seen_keys.iter().any(|(s, k)| s == current && *k == key) {
                        return Err(error(format!(
                            "{key} is set twice in {}",
                            section_name(current)
                        )));
                    }
                    seen_keys.push((current.clone(), key));
                    let literal = tokens::parse_literal(value)
                        .map_err(|message| error(format!("{key}: {message}")))?;
                    let value = keys::Value {
                        literal,
                        text: value,
                    };
                    keys::set(&mut settings, current, key, &value).map_err(error)?;
                    turned_on.note(key, &value.literal, current, line);
                }
            }
        }
        turned_on.check(&settings.tree)?;
        statics::keep_own_folder(&mut settings.tree);
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COURSE: &str = "[global]\nserver.socket_port: 9090\n\n[/static]\ntools.staticdir.on: True\ntools.staticdir.root: os.path.abspath(os.getcwd())\ntools.staticdir.dir: './public'";

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::parse(text, Path::new("server.conf"), Path::new("/etc/site"))
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(settings) => panic!("accepted: {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The static folder in force at `path`.
    fn folder(settings: &Settings, path: &str) -> Option<PathBuf> {
        settings.tree.tools(path).staticdir.map(|d| d.folder)
    }

    #[test]
    fn the_course_file() {
        let settings = parse(COURSE).unwrap();
        assert_eq!(settings.port, 9090);
        assert_eq!(settings.host, "127.0.0.1");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            folder(&settings, "/static/a.css"),
            Some(cwd.join("./public"))
        );
    }

    #[test]
    fn defaults() {
        let settings = Settings::load(None).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.db, Location::parse("reseau.db"));
        assert!(settings.log.screen);
        assert!(
            folder(&settings, "/static/x")
                .unwrap()
                .ends_with("web/public")
        );
        // The course's first file: only a port. The default static folder stays.
        // It is the site's own folder, not one below the file's folder.
        let settings = parse("[global]\nserver.socket_port: 9090\n").unwrap();
        assert_eq!(settings.port, 9090);
        assert_eq!(folder(&settings, "/static/x"), Some(default_static_dir()));
        assert!(default_static_dir().is_absolute() && default_static_dir().is_dir());
    }

    #[test]
    fn every_key() {
        let text = "# a comment\n; another\n[global]\nserver.socket_host = \"0.0.0.0\"\nserver.socket_port: 0\nserver.max_request_body_size: 1_048_576\nserver.max_request_header_size: 8192\nserver.thread_pool: 4\nserver.socket_timeout: 5\nreseau.db: 'data/users.db'\nreseau.max_connections: 100\nreseau.threads: 2\nreseau.request_timeout: 3\nlog.screen: False\nlog.access_file: 'access.log'\nlog.error_file: ''\ntools.encode.on: True\ntools.encode.encoding: 'UTF-8'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\ntools.staticdir.index: 'index.html'\ntools.gzip.on: True\n[/favicon.ico]\ntools.staticfile.on: True\ntools.staticfile.root: '/srv'\ntools.staticfile.filename: 'f.ico'\n";
        let s = parse(text).unwrap();
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.port, 0);
        assert_eq!(s.limits.max_body, 1_048_576);
        assert_eq!(s.limits.max_header, 8192);
        assert_eq!(s.limits.workers, 4);
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.limits.request_timeout, Duration::from_secs(3));
        assert_eq!(s.limits.max_connections, 100);
        assert_eq!(s.limits.threads, 2);
        assert_eq!(s.db, Location::parse("data/users.db"));
        assert!(!s.log.screen);
        assert_eq!(s.log.access_file, Some(PathBuf::from("access.log")));
        assert_eq!(s.log.error_file, None);
        let tools = s.tree.tools("/static/a.txt");
        // Relative dir, no root: the config file's folder.
        let dir = tools.staticdir.unwrap();
        assert_eq!(dir.folder, PathBuf::from("/etc/site/public"));
        assert_eq!(dir.index.as_deref(), Some("index.html"));
        assert!(tools.gzip);
        assert_eq!(
            s.tree.tools("/favicon.ico").staticfile,
            Some(PathBuf::from("/srv/f.ico"))
        );
    }

    #[test]
    fn static_dir_resolution() {
        let abs = parse("[/static]\ntools.staticdir.on: True\ntools.staticdir.root: '/srv'\ntools.staticdir.dir: '/var/www'\n").unwrap();
        assert_eq!(folder(&abs, "/static/x"), Some(PathBuf::from("/var/www")));
        let rooted = parse("[/static]\ntools.staticdir.on: True\ntools.staticdir.root: '/srv'\ntools.staticdir.dir: 'files'\n").unwrap();
        assert_eq!(
            folder(&rooted, "/static/x"),
            Some(PathBuf::from("/srv/files"))
        );
        let off =
            parse("[/static]\ntools.staticdir.on: False\ntools.staticdir.dir: 'x'\n").unwrap();
        assert_eq!(folder(&off, "/static/x"), None);
        let unset = parse("[/static]\ntools.staticdir.dir: 'x'\n").unwrap();
        assert_eq!(folder(&unset, "/static/x"), None);
        // CherryPy's static-content tutorial: the root in [/], shared.
        let shared = parse("[/]\ntools.staticdir.root: '/srv'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\n").unwrap();
        assert_eq!(
            folder(&shared, "/static/x"),
            Some(PathBuf::from("/srv/public"))
        );
        assert_eq!(folder(&shared, "/x"), None);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            error("[global]\n\nserver.socket_port: 'abc'\n"),
            "server.conf:3: server.socket_port must be an int from 0 to 65535, got 'abc'"
        );
        assert_eq!(
            error("[global]\nserver.socket_port: abc\n"),
            "server.conf:2: server.socket_port: 'abc' is not a Python literal: use a quoted string, an int, True, False or os.path.abspath(os.getcwd())"
        );
        assert_eq!(
            error("[global]\nserver.socket_port: 70000\n"),
            "server.conf:2: server.socket_port must be an int from 0 to 65535, got '70000'"
        );
        assert_eq!(
            error("[global]\nserver.sockt_port: 1\n"),
            "server.conf:2: unknown key server.sockt_port in [global]"
        );
        assert_eq!(
            error("[static]\n"),
            "server.conf:1: unknown section [static]: sections are [global] and URL paths such as [/] or [/static]"
        );
        assert_eq!(
            error("server.socket_port: 1\n"),
            "server.conf:1: server.socket_port comes before any section: put it under [global]"
        );
        assert_eq!(
            error("[global]\njust words\n"),
            "server.conf:2: expected 'key: value' or 'key = value', got 'just words'"
        );
        for (text, message) in [
            (
                "[global]\nserver.socket_host: '127.0.0.1\n",
                "server.conf:2: server.socket_host: string '127.0.0.1 has no closing '",
            ),
            (
                "[global]\nserver.socket_host: 'a' # c\n",
                "server.conf:2: server.socket_host: unexpected '# c' after the string (comments go on their own line)",
            ),
            (
                "[global]\nserver.socket_host: os.getcwd()\n",
                "server.conf:2: server.socket_host: 'os.getcwd()' is not a Python literal: use a quoted string, an int, True, False or os.path.abspath(os.getcwd())",
            ),
            (
                "[global]\nserver.thread_pool: 1025\n",
                "server.conf:2: server.thread_pool must be an int from 0 to 1024 (0: four per event loop, at least 8), got '1025'",
            ),
            (
                "[global]\nserver.socket_port: 1\nserver.socket_port: 2\n",
                "server.conf:3: server.socket_port is set twice in [global]",
            ),
            (
                "[/static]\ntools.staticdir.on: 1\n",
                "server.conf:2: tools.staticdir.on must be True or False, got '1'",
            ),
            (
                "[/static]\ntools.staticdir.root: 'rel'\n",
                "server.conf:2: tools.staticdir.root must be an absolute path, got 'rel'",
            ),
            (
                "[global]\n[global]\n",
                "server.conf:2: section [global] appears twice",
            ),
            ("[/a]\n[/a]\n", "server.conf:2: section [/a] appears twice"),
        ] {
            assert_eq!(error(text), message, "{text:?}");
        }
        assert_eq!(
            error("[global]\n[/static]\ntools.staticdir.on: True\n"),
            "server.conf:3: [/static] has tools.staticdir.on: True but no tools.staticdir.dir, in it or a parent section"
        );
        assert_eq!(
            error("[/f]\ntools.staticfile.on: True\n"),
            "server.conf:2: [/f] has tools.staticfile.on: True but no tools.staticfile.filename, in it or a parent section"
        );
        assert_eq!(
            error("[/a/]\n"),
            "server.conf:1: section [/a/] ends with '/': CherryPy compares paths without it and would never apply this section; write [/a]"
        );
    }

    /// Found by the web_config fuzz target: keys, section names and
    /// lines were quoted raw in errors, so a config file could write
    /// escape sequences (or a line break, or a bidi override) to the
    /// terminal that prints the error.
    #[test]
    fn errors_escape_control_and_bidi_characters() {
        assert_eq!(
            error("[global]\nserver.\u{1b}[2J: 1\n"),
            "server.conf:2: unknown key server.\\u{1b}[2J in [global]"
        );
        assert_eq!(
            error("x\u{1b}]0;title\u{7}: 1\n"),
            "server.conf:1: x\\u{1b}]0;title\\u{7} comes before any section: put it under [global]"
        );
        assert_eq!(
            error("[/a\u{202e}b]\n[/a\u{202e}b]\n"),
            "server.conf:2: section [/a\\u{202e}b] appears twice"
        );
        assert_eq!(
            error("[global]\nbell\u{8}\u{8}\n"),
            "server.conf:2: expected 'key: value' or 'key = value', got 'bell\\u{8}\\u{8}'"
        );
    }

    /// Found by the web_config fuzz target: the check that a tool turned
    /// on has its folder looked the section up by percent-decoding its
    /// name again, so `[/a%41]` (what `/a%2541` reaches) was checked as
    /// `/aA`: its own settings were not seen, and another section's
    /// missing `dir` was blamed on its line. Sections with an empty
    /// segment, which no request reaches, are refused.
    #[test]
    fn a_section_is_checked_under_its_own_name() {
        assert_eq!(
            error("[/a%41]\ntools.staticdir.on: True\n"),
            "server.conf:2: [/a%41] has tools.staticdir.on: True but no tools.staticdir.dir, in it or a parent section"
        );
        let settings =
            parse("[/a%41]\ntools.staticdir.on: True\ntools.staticdir.dir: '/srv'\n").unwrap();
        assert_eq!(folder(&settings, "/a%2541/x"), Some(PathBuf::from("/srv")));
        assert_eq!(
            error(
                "[/a%41]\ntools.staticdir.on: True\ntools.staticdir.dir: '/srv'\n[global]\ntools.staticdir.on: True\n"
            ),
            "server.conf:5: [global] has tools.staticdir.on: True but no tools.staticdir.dir, in it or a parent section"
        );
        assert_eq!(
            error("[/a//b]\n"),
            "server.conf:1: section [/a//b] has an empty segment ('//'): CherryPy drops empty segments from request paths and would never apply this section"
        );
    }

    /// What the web_config fuzz target checks of every config that
    /// parses: it renders to a config that parses to the same settings.
    #[test]
    fn a_config_renders_to_a_config_that_parses_the_same() {
        let text = "[global]\nserver.socket_host: 'a\\'b\\\\c\\n\\t\u{1}'\nserver.socket_port: 0\nreseau.db: 'x.db'\nlog.access_file: 'a.log'\ntools.gzip.on: True\ntools.encode.on: True\n[/]\ntools.staticdir.root: '/srv'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\ntools.staticdir.index: 'i.html'\n[/f]\ntools.staticfile.on: True\ntools.staticfile.filename: 'f.ico'\n[/empty]\ntools.encode.on: True\n";
        let settings = parse(text).unwrap();
        assert_eq!(settings.host, "a'b\\c\n\t\u{1}");
        let rendered = settings.render();
        assert!(!rendered.contains("[/empty]"), "{rendered}");
        let again = parse(&rendered).unwrap();
        assert_eq!(again.render(), rendered);
        assert_eq!(again.host, settings.host);
        assert_eq!(again.port, 0);
        assert_eq!(again.log.access_file, Some(PathBuf::from("a.log")));
        assert_eq!(
            again.tree.tools("/static/x"),
            settings.tree.tools("/static/x")
        );
        assert_eq!(again.tree.tools("/f"), settings.tree.tools("/f"));
        assert!(again.tree.tools("/x").gzip);
        // Defaults render too, with the site's own static folder.
        let defaults = parse("[global]\n").unwrap();
        assert_eq!(
            parse(&defaults.render()).unwrap().render(),
            defaults.render()
        );
    }

    #[test]
    fn cherrypy_keys_reseau_lacks_are_named_as_such() {
        for key in [
            "tools.sessions.on: True",
            "tools.staticdir.match: 'x'",
            "tools.gzip.mime_types: 'x'",
            "server.ssl_ciphers: 'HIGH'",
            "engine.autoreload.on: False",
            "request.show_tracebacks: False",
            "response.headers.server: 'x'",
        ] {
            assert_eq!(
                error(&format!("[global]\n{key}\n")),
                format!(
                    "server.conf:2: {} is a CherryPy setting that reseau does not support",
                    key.split(':').next().unwrap()
                ),
                "{key}"
            );
        }
        // A typo in a tool's name is not CherryPy's.
        assert_eq!(
            error("[/]\ntools.staticdri.on: True\n"),
            "server.conf:2: unknown key tools.staticdri.on in [/]"
        );
    }

    #[test]
    fn ssl_keys_name_the_files_tls_is_served_with() {
        let s = parse(
            "[global]\nserver.ssl_module: 'pyopenssl'\nserver.ssl_certificate: 'c.pem'\nserver.ssl_private_key: 'k.pem'\nserver.ssl_certificate_chain: 'ca.pem'\n",
        )
        .unwrap();
        assert_eq!(
            s.ssl.files(),
            Ok(Some(crate::tls::server::TlsFiles {
                cert: PathBuf::from("c.pem"),
                key: PathBuf::from("k.pem"),
                chain: Some(PathBuf::from("ca.pem")),
            }))
        );
    }

    #[test]
    fn ssl_module_other_than_cherrypys_two_is_refused() {
        assert_eq!(
            error("[global]\nserver.ssl_module: 'openssl'\n"),
            "server.conf:2: server.ssl_module 'openssl' is not supported: 'builtin' and 'pyopenssl' are (both serve TLS with rustls)"
        );
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let s = parse("[global]\nserver.ssl_certificate: 'c.pem'\n").unwrap();
        assert_eq!(
            s.ssl.files(),
            Err("server.ssl_certificate is set without server.ssl_private_key".to_owned())
        );
    }

    #[test]
    fn server_keys_belong_in_global() {
        assert_eq!(
            error("[/]\nserver.socket_port: 1\n"),
            "server.conf:2: server.socket_port is a [global] setting: it cannot be set in [/]"
        );
        assert_eq!(
            error("[/static]\nlog.screen: False\n"),
            "server.conf:2: log.screen is a [global] setting: it cannot be set in [/static]"
        );
    }

    #[test]
    fn encode_is_utf_8_only() {
        assert!(parse("[global]\ntools.encode.on: True\ntools.encode.encoding: 'utf8'\n").is_ok());
        assert_eq!(
            error("[global]\ntools.encode.encoding: 'latin-1'\n"),
            "server.conf:2: tools.encode.encoding 'latin-1' is not supported: reseau's pages are UTF-8, so only 'utf-8' is"
        );
        assert!(
            error("[/]\ntools.encode.on: False\n")
                .starts_with("server.conf:2: tools.encode.on: False is not supported")
        );
    }

    #[test]
    fn the_shipped_file() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/server.conf"));
        let settings = Settings::load(Some(path)).unwrap();
        let defaults = Settings::default();
        assert_eq!(settings.host, defaults.host);
        assert_eq!(settings.port, defaults.port);
        assert_eq!(settings.db, defaults.db);
        assert_eq!(settings.limits.max_body, defaults.limits.max_body);
        assert_eq!(settings.limits.max_header, defaults.limits.max_header);
        assert_eq!(settings.limits.workers, defaults.limits.workers);
        assert_eq!(settings.limits.idle_timeout, defaults.limits.idle_timeout);
        assert_eq!(
            settings.limits.request_timeout,
            defaults.limits.request_timeout
        );
        assert_eq!(
            settings.limits.max_connections,
            defaults.limits.max_connections
        );
        assert_eq!(settings.limits.threads, defaults.limits.threads);
        assert!(
            folder(&settings, "/static/style.css")
                .unwrap()
                .join("style.css")
                .is_file()
        );
    }

    #[test]
    fn missing_file() {
        let e = Settings::load(Some(Path::new("/nonexistent/server.conf"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/server.conf: cannot read")
        );
    }
}
