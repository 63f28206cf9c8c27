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

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::tree::ConfigTree;

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
    /// The SQLite file (`reseau.db`).
    pub db: PathBuf,
    /// Limits of the HTTP front end.
    pub limits: HttpLimits,
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
    /// Threads that run the handlers.
    pub workers: usize,
    /// Event loops that share the connections; `0`: one per available
    /// core.
    pub threads: usize,
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
            threads: 0,
        }
    }
}

/// The static folder when no config file names one: `web/public` under the
/// working directory if there is one (an installed site), else the
/// repository's own `web/public` (`cargo run` from anywhere). Absolute
/// either way: a config file's relative folders are resolved against the
/// file's own folder, and this one is not the file's.
pub fn default_static_dir() -> PathBuf {
    let local = Path::new("web").join("public");
    if local.is_dir() {
        std::path::absolute(&local).unwrap_or(local)
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/public"))
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
            db: PathBuf::from("reseau.db"),
            limits: HttpLimits::default(),
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

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::Line { .. } => None,
        }
    }
}

/// A value as CherryPy's config reader would evaluate it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
}

/// A section of the file: `[global]` (`None`) or a path (`Some("/static")`).
type Section = Option<String>;

fn section_name(section: &Section) -> String {
    match section {
        None => "[global]".to_owned(),
        Some(path) => format!("[{path}]"),
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

    /// These settings as a config file: every key, in a fixed order, then
    /// each path section that sets a tool key, in path order. Parsed again
    /// (from a file in the same folder), it gives the same settings, and
    /// renders to the same text: the fuzzer's round trip.
    pub fn render(&self) -> String {
        fn text(value: &Path) -> String {
            python_str(&value.to_string_lossy())
        }
        fn flag(value: bool) -> &'static str {
            if value { "True" } else { "False" }
        }
        let limits = &self.limits;
        let log = &self.log;
        let none = PathBuf::new();
        let mut out = String::from("[global]\n");
        let mut key = |name: &str, value: String| {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&value);
            out.push('\n');
        };
        key("server.socket_host", python_str(&self.host));
        key("server.socket_port", self.port.to_string());
        key("server.max_request_body_size", limits.max_body.to_string());
        key(
            "server.max_request_header_size",
            limits.max_header.to_string(),
        );
        key("server.thread_pool", limits.workers.to_string());
        key(
            "server.socket_timeout",
            limits.idle_timeout.as_secs().to_string(),
        );
        key(
            "reseau.request_timeout",
            limits.request_timeout.as_secs().to_string(),
        );
        key("reseau.max_connections", limits.max_connections.to_string());
        key("reseau.db", text(&self.db));
        key("log.screen", flag(log.screen).to_owned());
        key(
            "log.access_file",
            text(log.access_file.as_deref().unwrap_or(&none)),
        );
        key(
            "log.error_file",
            text(log.error_file.as_deref().unwrap_or(&none)),
        );
        for (section, tools) in self.tree.sections() {
            if let Some(path) = section {
                out.push_str(&format!("[{path}]\n"));
            }
            let mut key = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    out.push_str(&format!("tools.{name}: {value}\n"));
                }
            };
            key("staticdir.on", tools.staticdir_on.map(|b| flag(b).into()));
            key("staticdir.root", tools.staticdir_root.as_deref().map(text));
            key("staticdir.dir", tools.staticdir_dir.as_deref().map(text));
            key(
                "staticdir.index",
                tools.staticdir_index.as_deref().map(python_str),
            );
            key("staticfile.on", tools.staticfile_on.map(|b| flag(b).into()));
            key(
                "staticfile.filename",
                tools.staticfile_filename.as_deref().map(text),
            );
            key(
                "staticfile.root",
                tools.staticfile_root.as_deref().map(text),
            );
            key("gzip.on", tools.gzip_on.map(|b| flag(b).into()));
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
        let error = |line: usize, message: String| ConfigError::Line {
            file: file.to_owned(),
            line,
            message: clean(&message),
        };
        let mut settings = Settings::default();
        let mut tree = ConfigTree::new(folder.to_owned());
        let mut section: Option<Section> = None;
        let mut seen_sections: Vec<Section> = Vec::new();
        let mut seen_keys: Vec<(Section, String)> = Vec::new();
        // Where a tool is turned on: it must find its folder or file there.
        let mut turned_on: Vec<(&'static str, Section, usize)> = Vec::new();

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']') else {
                    return Err(error(
                        line,
                        format!("section header {trimmed} has no closing ']'"),
                    ));
                };
                let found = match name.trim() {
                    "global" => None,
                    path if path.len() > 1 && path.ends_with('/') => {
                        return Err(error(
                            line,
                            format!(
                                "section [{}] ends with '/': CherryPy compares paths without it and would never apply this section; write [{}]",
                                path.escape_debug(),
                                path.trim_end_matches('/').escape_debug()
                            ),
                        ));
                    }
                    path if path.starts_with('/') && path.contains("//") => {
                        return Err(error(
                            line,
                            format!(
                                "section [{}] has an empty segment ('//'): CherryPy drops empty segments from request paths and would never apply this section",
                                path.escape_debug(),
                            ),
                        ));
                    }
                    path if path.starts_with('/') => Some(path.to_owned()),
                    other => {
                        return Err(error(
                            line,
                            format!(
                                "unknown section [{}]: sections are [global] and URL paths such as [/] or [/static]",
                                other.escape_debug()
                            ),
                        ));
                    }
                };
                if seen_sections.contains(&found) {
                    return Err(error(
                        line,
                        format!("section {} appears twice", section_name(&found)),
                    ));
                }
                seen_sections.push(found.clone());
                section = Some(found);
                continue;
            }
            let Some(split) = trimmed.find([':', '=']) else {
                return Err(error(
                    line,
                    format!("expected 'key: value' or 'key = value', got '{trimmed}'"),
                ));
            };
            let (key, value) = trimmed.split_at(split);
            let key = key.trim();
            let value = value.get(1..).unwrap_or_default().trim();
            let Some(current) = &section else {
                return Err(error(
                    line,
                    format!("{key} comes before any section: put it under [global]"),
                ));
            };
            if seen_keys.iter().any(|(s, k)| s == current && k == key) {
                return Err(error(
                    line,
                    format!("{key} is set twice in {}", section_name(current)),
                ));
            }
            seen_keys.push((current.clone(), key.to_owned()));
            let literal =
                parse_literal(value).map_err(|message| error(line, format!("{key}: {message}")))?;
            let bad = |expected: &str| {
                error(
                    line,
                    format!("{key} must be {expected}, got {}", show(value)),
                )
            };
            let tools = tree.section_mut(current.as_deref());
            let global = current.is_none();
            match key {
                "server.socket_host" if global => {
                    settings.host = string(&literal).ok_or_else(|| bad("a string"))?
                }
                "server.socket_port" if global => {
                    settings.port = int(&literal, 0, u16::MAX.into())
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| bad("an int from 0 to 65535"))?
                }
                "server.max_request_body_size" if global => {
                    settings.limits.max_body = size(&literal).ok_or_else(|| bad(SIZE))?
                }
                "server.max_request_header_size" if global => {
                    settings.limits.max_header = size(&literal).ok_or_else(|| bad(SIZE))?
                }
                "server.thread_pool" if global => {
                    settings.limits.workers =
                        count(&literal, 1024).ok_or_else(|| bad("an int from 1 to 1024"))?
                }
                "server.socket_timeout" if global => {
                    settings.limits.idle_timeout = seconds(&literal).ok_or_else(|| bad(SECONDS))?
                }
                "reseau.request_timeout" if global => {
                    settings.limits.request_timeout =
                        seconds(&literal).ok_or_else(|| bad(SECONDS))?
                }
                "reseau.max_connections" if global => {
                    settings.limits.max_connections =
                        count(&literal, 1 << 20).ok_or_else(|| bad("an int from 1 to 1048576"))?
                }
                "reseau.db" if global => {
                    settings.db = path(&literal).ok_or_else(|| bad("a non-empty string"))?
                }
                "log.screen" if global => {
                    settings.log.screen = boolean(&literal).ok_or_else(|| bad("True or False"))?
                }
                "log.access_file" if global => {
                    settings.log.access_file = log_file(&literal).ok_or_else(|| bad("a string"))?
                }
                "log.error_file" if global => {
                    settings.log.error_file = log_file(&literal).ok_or_else(|| bad("a string"))?
                }
                _ if global_only(key) && !global => {
                    return Err(error(
                        line,
                        format!(
                            "{key} is a [global] setting: it cannot be set in {}",
                            section_name(current)
                        ),
                    ));
                }
                "tools.staticdir.on" => {
                    let on = boolean(&literal).ok_or_else(|| bad("True or False"))?;
                    tools.staticdir_on = Some(on);
                    if on {
                        turned_on.push(("tools.staticdir", current.clone(), line));
                    }
                }
                "tools.staticdir.root" => {
                    tools.staticdir_root = Some(absolute(&literal).ok_or_else(|| bad(ABSOLUTE))?)
                }
                "tools.staticdir.dir" => {
                    tools.staticdir_dir =
                        Some(path(&literal).ok_or_else(|| bad("a non-empty string"))?)
                }
                "tools.staticdir.index" => {
                    tools.staticdir_index = Some(
                        string(&literal)
                            .filter(|s| !s.is_empty() && !s.contains(['/', '\\', '\0']))
                            .ok_or_else(|| bad("a file name (no '/')"))?,
                    )
                }
                "tools.staticfile.on" => {
                    let on = boolean(&literal).ok_or_else(|| bad("True or False"))?;
                    tools.staticfile_on = Some(on);
                    if on {
                        turned_on.push(("tools.staticfile", current.clone(), line));
                    }
                }
                "tools.staticfile.filename" => {
                    tools.staticfile_filename =
                        Some(path(&literal).ok_or_else(|| bad("a non-empty string"))?)
                }
                "tools.staticfile.root" => {
                    tools.staticfile_root = Some(absolute(&literal).ok_or_else(|| bad(ABSOLUTE))?)
                }
                "tools.gzip.on" => {
                    tools.gzip_on = Some(boolean(&literal).ok_or_else(|| bad("True or False"))?)
                }
                // reseau's pages are UTF-8 bytes: the encode tool (on by
                // default in CherryPy) is what makes CherryPy's the same.
                "tools.encode.on" => match boolean(&literal) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(error(
                            line,
                            "tools.encode.on: False is not supported: reseau's pages are always encoded as UTF-8 (CherryPy without the encode tool answers 500 to a page that returns text)".to_owned(),
                        ));
                    }
                    None => return Err(bad("True or False")),
                },
                "tools.encode.encoding" => match string(&literal) {
                    Some(name) if is_utf8(&name) => {}
                    Some(_) => {
                        return Err(error(
                            line,
                            format!(
                                "tools.encode.encoding {} is not supported: reseau's pages are UTF-8, so only 'utf-8' is",
                                show(value)
                            ),
                        ));
                    }
                    None => return Err(bad("a string")),
                },
                _ if is_cherrypy_key(key) => {
                    return Err(error(
                        line,
                        format!(
                            "{} is a CherryPy setting that reseau does not support",
                            key.escape_debug()
                        ),
                    ));
                }
                _ => {
                    return Err(error(
                        line,
                        format!(
                            "unknown key {} in {}",
                            key.escape_debug(),
                            section_name(current)
                        ),
                    ));
                }
            }
        }

        // CherryPy would answer 500 to every request there (the tool's
        // argument is missing); we say so at start instead.
        for (tool, section, line) in turned_on {
            let (merged, _) = tree.merged_section(section.as_deref().unwrap_or("/"));
            let (missing, needs) = match tool {
                "tools.staticdir" => (
                    merged.staticdir_on == Some(true) && merged.staticdir_dir.is_none(),
                    "tools.staticdir.dir",
                ),
                _ => (
                    merged.staticfile_on == Some(true) && merged.staticfile_filename.is_none(),
                    "tools.staticfile.filename",
                ),
            };
            if missing {
                return Err(error(
                    line,
                    format!(
                        "{} has {tool}.on: True but no {needs}, in it or a parent section",
                        section_name(&section)
                    ),
                ));
            }
        }

        // A file that names no static folder keeps the site's own at
        // /static, as before path sections existed (the course's first
        // server.conf has only a port).
        if !tree.has_staticdir() {
            let own = tree.section_mut(Some("/static"));
            if own.staticdir_on.is_none() {
                own.staticdir_on = Some(true);
                own.staticdir_dir = Some(default_static_dir());
            }
        }
        settings.tree = tree;
        Ok(settings)
    }
}

const SIZE: &str = "an int from 1 to 4294967295 (bytes)";
const SECONDS: &str = "an int from 1 to 86400 (seconds)";
const ABSOLUTE: &str = "an absolute path";

/// Keys that only mean something for the whole server.
fn global_only(key: &str) -> bool {
    ["server.", "log.", "reseau.", "engine.", "checker."]
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// CherryPy's tools (`dir(cherrypy.tools)` in CherryPy 18).
const CHERRYPY_TOOLS: &[&str] = &[
    "accept",
    "allow",
    "auth_basic",
    "auth_digest",
    "autovary",
    "caching",
    "decode",
    "encode",
    "err_redirect",
    "etags",
    "expires",
    "flatten",
    "gzip",
    "ignore_headers",
    "json_in",
    "json_out",
    "log_headers",
    "log_hooks",
    "log_tracebacks",
    "params",
    "proxy",
    "redirect",
    "referer",
    "response_headers",
    "session_auth",
    "sessions",
    "staticdir",
    "staticfile",
    "trailing_slash",
    "xmlrpc",
];

/// CherryPy's `server.*` keys (the attributes of `cherrypy._cpserver.Server`).
const CHERRYPY_SERVER_KEYS: &[&str] = &[
    "accepted_queue_size",
    "accepted_queue_timeout",
    "bind_addr",
    "instance",
    "max_request_body_size",
    "max_request_header_size",
    "nodelay",
    "peercreds",
    "peercreds_resolve",
    "protocol_version",
    "shutdown_timeout",
    "socket_file",
    "socket_host",
    "socket_port",
    "socket_queue_size",
    "socket_timeout",
    "ssl_certificate",
    "ssl_certificate_chain",
    "ssl_ciphers",
    "ssl_context",
    "ssl_module",
    "ssl_private_key",
    "statistics",
    "thread_pool",
    "thread_pool_max",
    "wsgi_version",
];

/// Whether CherryPy knows `key`: a tool's argument, a server attribute, or
/// a key of the namespaces that are CherryPy's alone. A typo in a tool's
/// or a server key's name is still "unknown", not "not supported".
fn is_cherrypy_key(key: &str) -> bool {
    if let Some(rest) = key.strip_prefix("tools.") {
        let tool = rest.split('.').next().unwrap_or_default();
        return CHERRYPY_TOOLS.contains(&tool) && rest.len() > tool.len() + 1;
    }
    if let Some(rest) = key.strip_prefix("server.") {
        return CHERRYPY_SERVER_KEYS.contains(&rest);
    }
    if let Some(rest) = key.strip_prefix("log.") {
        return matches!(rest, "access_file" | "error_file" | "screen");
    }
    key == "environment"
        || [
            "engine.",
            "checker.",
            "request.",
            "response.",
            "hooks.",
            "error_page.",
            "wsgi.",
            "tree.",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix) && key.len() > prefix.len())
}

/// The names Python gives UTF-8 (`codecs.lookup`): case and `-`/`_` aside.
fn is_utf8(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    matches!(folded.as_str(), "utf8" | "u8" | "utf" | "cp65001")
}

/// Whether `c` must not reach a terminal as is: a control character
/// (C0, DEL, C1: escape sequences, line breaks, backspaces) or an
/// invisible formatting one (bidi overrides and isolates, zero-width
/// characters, the byte order mark) that makes text read other than it is.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// `text` with [`is_unsafe_char`] characters escaped (`\u{1b}`).
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A value for an error message: as written if it is quoted already,
/// else in quotes; control characters escaped.
fn show(value: &str) -> String {
    let clean = clean(value);
    if clean.starts_with(['\'', '"']) {
        clean
    } else {
        format!("'{clean}'")
    }
}

fn string(literal: &Literal) -> Option<String> {
    match literal {
        Literal::Str(s) => Some(s.clone()),
        _ => None,
    }
}

fn boolean(literal: &Literal) -> Option<bool> {
    match literal {
        Literal::Bool(b) => Some(*b),
        _ => None,
    }
}

fn path(literal: &Literal) -> Option<PathBuf> {
    string(literal).filter(|s| !s.is_empty()).map(PathBuf::from)
}

fn absolute(literal: &Literal) -> Option<PathBuf> {
    path(literal).filter(|p| p.is_absolute())
}

/// A log file: `''` is CherryPy's "no file".
fn log_file(literal: &Literal) -> Option<Option<PathBuf>> {
    string(literal).map(|s| (!s.is_empty()).then(|| PathBuf::from(s)))
}

fn int(literal: &Literal, min: i128, max: i128) -> Option<i128> {
    match literal {
        Literal::Int(n) if (min..=max).contains(n) => Some(*n),
        _ => None,
    }
}

fn size(literal: &Literal) -> Option<usize> {
    int(literal, 1, u32::MAX.into()).and_then(|n| usize::try_from(n).ok())
}

fn count(literal: &Literal, max: i128) -> Option<usize> {
    int(literal, 1, max).and_then(|n| usize::try_from(n).ok())
}

fn seconds(literal: &Literal) -> Option<Duration> {
    int(literal, 1, 86_400)
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_secs)
}

/// `text` as a one-line Python string literal that [`parse_string`] reads
/// back as `text`.
fn python_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The Python expression the handout writes for "the working directory".
const CWD_EXPRESSION: &str = "os.path.abspath(os.getcwd())";

/// Evaluates a value the way CherryPy would, for the literals we accept.
fn parse_literal(value: &str) -> Result<Literal, String> {
    match value {
        "" => return Err("the value is missing".to_owned()),
        "True" => return Ok(Literal::Bool(true)),
        "False" => return Ok(Literal::Bool(false)),
        _ => {}
    }
    if value.replace(' ', "") == CWD_EXPRESSION {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the working directory: {e}"))?;
        return Ok(Literal::Str(cwd.to_string_lossy().into_owned()));
    }
    if let Some(quote) = value.chars().next().filter(|c| *c == '\'' || *c == '"') {
        return parse_string(value, quote).map(Literal::Str);
    }
    if let Some(n) = parse_int(value) {
        return Ok(Literal::Int(n));
    }
    Err(format!(
        "{} is not a Python literal: use a quoted string, an int, True, False or {CWD_EXPRESSION}",
        show(value)
    ))
}

/// A Python decimal int: optional sign, digits, single underscores between
/// digits (`1_048_576`). No leading zeros, as in Python 3.
fn parse_int(value: &str) -> Option<i128> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let bytes = digits.as_bytes();
    if bytes.first().is_none_or(|b| !b.is_ascii_digit())
        || bytes.last().is_none_or(|b| !b.is_ascii_digit())
        || digits.contains("__")
        || !bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
        return None;
    }
    let n: i128 = clean.parse().ok()?;
    Some(if negative { -n } else { n })
}

/// A one-line Python string literal in `quote`s, with the common escapes.
fn parse_string(value: &str, quote: char) -> Result<String, String> {
    let mut chars = value.chars();
    chars.next();
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err(format!("string {} has no closing {quote}", show(value))),
            Some(c) if c == quote => break,
            Some('\\') => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('\'') => out.push('\''),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => {
                    return Err(format!(
                        "string {}: escape \\{other} is not supported",
                        show(value)
                    ));
                }
                None => return Err(format!("string {} has no closing {quote}", show(value))),
            },
            Some(c) => out.push(c),
        }
    }
    let rest = chars.as_str().trim();
    if !rest.is_empty() {
        return Err(format!(
            "unexpected {} after the string (comments go on their own line)",
            show(rest)
        ));
    }
    Ok(out)
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
        assert_eq!(settings.db, PathBuf::from("reseau.db"));
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
        let text = "# a comment\n; another\n[global]\nserver.socket_host = \"0.0.0.0\"\nserver.socket_port: 0\nserver.max_request_body_size: 1_048_576\nserver.max_request_header_size: 8192\nserver.thread_pool: 4\nserver.socket_timeout: 5\nreseau.db: 'data/users.db'\nreseau.max_connections: 100\nreseau.request_timeout: 3\nlog.screen: False\nlog.access_file: 'access.log'\nlog.error_file: ''\ntools.encode.on: True\ntools.encode.encoding: 'UTF-8'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\ntools.staticdir.index: 'index.html'\ntools.gzip.on: True\n[/favicon.ico]\ntools.staticfile.on: True\ntools.staticfile.root: '/srv'\ntools.staticfile.filename: 'f.ico'\n";
        let s = parse(text).unwrap();
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.port, 0);
        assert_eq!(s.limits.max_body, 1_048_576);
        assert_eq!(s.limits.max_header, 8192);
        assert_eq!(s.limits.workers, 4);
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.limits.request_timeout, Duration::from_secs(3));
        assert_eq!(s.limits.max_connections, 100);
        assert_eq!(s.db, PathBuf::from("data/users.db"));
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
        assert!(error("[global]\nserver.socket_host: '127.0.0.1\n").starts_with("server.conf:2:"));
        assert!(error("[global]\nserver.socket_host: 'a' # c\n").starts_with("server.conf:2:"));
        assert!(error("[global]\nserver.socket_host: os.getcwd()\n").starts_with("server.conf:2:"));
        assert!(error("[global]\nserver.thread_pool: 0\n").starts_with("server.conf:2:"));
        assert!(error("[global]\nserver.socket_port: 1\nserver.socket_port: 2\n").contains(":3: "));
        assert!(error("[/static]\ntools.staticdir.on: 1\n").starts_with("server.conf:2:"));
        assert!(error("[/static]\ntools.staticdir.root: 'rel'\n").starts_with("server.conf:2:"));
        assert_eq!(
            error("[global]\n[/static]\ntools.staticdir.on: True\n"),
            "server.conf:3: [/static] has tools.staticdir.on: True but no tools.staticdir.dir, in it or a parent section"
        );
        assert_eq!(
            error("[/f]\ntools.staticfile.on: True\n"),
            "server.conf:2: [/f] has tools.staticfile.on: True but no tools.staticfile.filename, in it or a parent section"
        );
        assert!(error("[global]\n[global]\n").contains(":2: section [global] appears twice"));
        assert!(error("[/a]\n[/a]\n").contains(":2: section [/a] appears twice"));
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
            "server.ssl_module: 'builtin'",
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
    fn literals() {
        assert_eq!(parse_literal("'a\\'b'"), Ok(Literal::Str("a'b".into())));
        assert_eq!(parse_literal("\"x\""), Ok(Literal::Str("x".into())));
        assert_eq!(parse_literal("-12"), Ok(Literal::Int(-12)));
        assert_eq!(parse_literal("1_000"), Ok(Literal::Int(1000)));
        assert_eq!(parse_literal("0"), Ok(Literal::Int(0)));
        assert!(parse_literal("012").is_err());
        assert!(parse_literal("1__0").is_err());
        assert!(parse_literal("_1").is_err());
        assert!(parse_literal("1.5").is_err());
        assert!(parse_literal("None").is_err());
        assert!(parse_literal("true").is_err());
        assert!(parse_literal("").is_err());
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
