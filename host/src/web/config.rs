//! The web site's settings and the CherryPy-style config file that sets them.
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
//! [`Settings::load`] reads that file unchanged. CherryPy evaluates each value
//! as Python; we accept the literals that its config files use (quoted
//! strings, ints, `True`, `False`) and the one expression the handout writes,
//! `os.path.abspath(os.getcwd())`, the working directory. Anything else, an
//! unknown key or an unknown section is an error that names the file and the
//! line, so a typo is caught at start-up instead of being silently ignored.
//!
//! The static folder is resolved as CherryPy's `staticdir` tool does: an
//! absolute `tools.staticdir.dir` is used as is, a relative one is joined to
//! `tools.staticdir.root`. CherryPy refuses a relative `dir` without a
//! `root`; we resolve it against the config file's own folder instead, so
//! that `web/server.conf` can say `dir: 'public'` and work from any working
//! directory. A file without a `[/static]` section keeps the default static
//! folder (the site's own styles and scripts); a `[/static]` section serves
//! files only if it says `tools.staticdir.on: True`, as in CherryPy.

use std::fmt;
use std::path::{Path, PathBuf};
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
    /// A connection with no traffic for this long (between requests, or
    /// while a handler runs) is closed.
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

/// The static folder when no config file names one: `web/public` under the
/// working directory if there is one (an installed site), else the
/// repository's own `web/public` (`cargo run` from anywhere).
pub fn default_static_dir() -> PathBuf {
    let local = Path::new("web").join("public");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/public"))
    }
}

impl Default for Settings {
    /// CherryPy's defaults (`127.0.0.1:8080`), the default static folder
    /// ([`default_static_dir`]) and `reseau.db` in the working directory.
    fn default() -> Self {
        Settings {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            static_dir: Some(default_static_dir()),
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

/// The sections we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Global,
    Static,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Global => "[global]",
            Section::Static => "[/static]",
        }
    }
}

/// What `[/static]` said, resolved once the whole file is read.
#[derive(Debug, Default)]
struct StaticSection {
    on: Option<bool>,
    root: Option<PathBuf>,
    dir: Option<(PathBuf, usize)>,
    line: usize,
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
    /// relative static `dir` without a `root` is resolved.
    fn parse(text: &str, file: &Path, folder: &Path) -> Result<Settings, ConfigError> {
        let error = |line: usize, message: String| ConfigError::Line {
            file: file.to_owned(),
            line,
            message,
        };
        let mut settings = Settings::default();
        let mut section: Option<Section> = None;
        let mut seen_sections: Vec<Section> = Vec::new();
        let mut seen_keys: Vec<(Section, String)> = Vec::new();
        let mut statics: Option<StaticSection> = None;

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
                    "global" => Section::Global,
                    "/static" => Section::Static,
                    other => {
                        return Err(error(
                            line,
                            format!(
                                "unknown section [{other}]: only [global] and [/static] are known"
                            ),
                        ));
                    }
                };
                if seen_sections.contains(&found) {
                    return Err(error(
                        line,
                        format!("section {} appears twice", found.name()),
                    ));
                }
                seen_sections.push(found);
                if found == Section::Static {
                    statics = Some(StaticSection {
                        line,
                        ..StaticSection::default()
                    });
                }
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
            let Some(current) = section else {
                return Err(error(
                    line,
                    format!("{key} comes before any section: put it under [global]"),
                ));
            };
            if seen_keys.iter().any(|(s, k)| *s == current && k == key) {
                return Err(error(
                    line,
                    format!("{key} is set twice in {}", current.name()),
                ));
            }
            seen_keys.push((current, key.to_owned()));
            let literal =
                parse_literal(value).map_err(|message| error(line, format!("{key}: {message}")))?;
            let bad = |expected: &str| {
                error(
                    line,
                    format!("{key} must be {expected}, got {}", show(value)),
                )
            };
            match (current, key) {
                (Section::Global, "server.socket_host") => {
                    settings.host = string(&literal).ok_or_else(|| bad("a string"))?
                }
                (Section::Global, "server.socket_port") => {
                    settings.port = int(&literal, 0, u16::MAX.into())
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| bad("an int from 0 to 65535"))?
                }
                (Section::Global, "server.max_request_body_size") => {
                    settings.limits.max_body = size(&literal).ok_or_else(|| bad(SIZE))?
                }
                (Section::Global, "server.max_request_header_size") => {
                    settings.limits.max_header = size(&literal).ok_or_else(|| bad(SIZE))?
                }
                (Section::Global, "server.thread_pool") => {
                    settings.limits.workers =
                        count(&literal, 1024).ok_or_else(|| bad("an int from 1 to 1024"))?
                }
                (Section::Global, "server.socket_timeout") => {
                    settings.limits.idle_timeout = seconds(&literal).ok_or_else(|| bad(SECONDS))?
                }
                (Section::Global, "reseau.request_timeout") => {
                    settings.limits.request_timeout =
                        seconds(&literal).ok_or_else(|| bad(SECONDS))?
                }
                (Section::Global, "reseau.max_connections") => {
                    settings.limits.max_connections =
                        count(&literal, 1 << 20).ok_or_else(|| bad("an int from 1 to 1048576"))?
                }
                (Section::Global, "reseau.db") => {
                    settings.db = string(&literal)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .ok_or_else(|| bad("a non-empty string"))?
                }
                (Section::Static, "tools.staticdir.on") => {
                    let on = match literal {
                        Literal::Bool(b) => b,
                        _ => return Err(bad("True or False")),
                    };
                    if let Some(s) = statics.as_mut() {
                        s.on = Some(on);
                    }
                }
                (Section::Static, "tools.staticdir.root") => {
                    let root = string(&literal)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .ok_or_else(|| bad("a non-empty string"))?;
                    if !root.is_absolute() {
                        return Err(error(
                            line,
                            format!(
                                "tools.staticdir.root must be an absolute path, got {}",
                                show(value)
                            ),
                        ));
                    }
                    if let Some(s) = statics.as_mut() {
                        s.root = Some(root);
                    }
                }
                (Section::Static, "tools.staticdir.dir") => {
                    let dir = string(&literal)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .ok_or_else(|| bad("a non-empty string"))?;
                    if let Some(s) = statics.as_mut() {
                        s.dir = Some((dir, line));
                    }
                }
                (current, key) => {
                    return Err(error(
                        line,
                        format!("unknown key {key} in {}", current.name()),
                    ));
                }
            }
        }

        if let Some(statics) = statics {
            settings.static_dir = match (statics.on, statics.dir) {
                (Some(true), None) => {
                    return Err(error(
                        statics.line,
                        "[/static] has tools.staticdir.on: True but no tools.staticdir.dir"
                            .to_owned(),
                    ));
                }
                (Some(true), Some((dir, _))) if dir.is_absolute() => Some(dir),
                (Some(true), Some((dir, _))) => {
                    let base = statics.root.unwrap_or_else(|| folder.to_owned());
                    Some(base.join(dir))
                }
                _ => None,
            };
        }
        Ok(settings)
    }
}

const SIZE: &str = "an int from 1 to 4294967295 (bytes)";
const SECONDS: &str = "an int from 1 to 86400 (seconds)";

/// A value for an error message: as written if it is quoted already,
/// else in quotes; control characters escaped.
fn show(value: &str) -> String {
    let mut clean = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
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

    #[test]
    fn the_course_file() {
        let settings = parse(COURSE).unwrap();
        assert_eq!(settings.port, 9090);
        assert_eq!(settings.host, "127.0.0.1");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(settings.static_dir, Some(cwd.join("./public")));
    }

    #[test]
    fn defaults() {
        let settings = Settings::load(None).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.db, PathBuf::from("reseau.db"));
        assert!(settings.static_dir.unwrap().ends_with("web/public"));
        // The course's first file: only a port. The default static folder stays.
        let settings = parse("[global]\nserver.socket_port: 9090\n").unwrap();
        assert_eq!(settings.port, 9090);
        assert!(settings.static_dir.is_some());
    }

    #[test]
    fn every_key() {
        let text = "# a comment\n; another\n[global]\nserver.socket_host = \"0.0.0.0\"\nserver.socket_port: 0\nserver.max_request_body_size: 1_048_576\nserver.max_request_header_size: 8192\nserver.thread_pool: 4\nserver.socket_timeout: 5\nreseau.db: 'data/users.db'\nreseau.max_connections: 100\nreseau.request_timeout: 3\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\n";
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
        // Relative dir, no root: the config file's folder.
        assert_eq!(s.static_dir, Some(PathBuf::from("/etc/site/public")));
    }

    #[test]
    fn static_dir_resolution() {
        let abs = parse("[/static]\ntools.staticdir.on: True\ntools.staticdir.root: '/srv'\ntools.staticdir.dir: '/var/www'\n").unwrap();
        assert_eq!(abs.static_dir, Some(PathBuf::from("/var/www")));
        let rooted = parse("[/static]\ntools.staticdir.on: True\ntools.staticdir.root: '/srv'\ntools.staticdir.dir: 'files'\n").unwrap();
        assert_eq!(rooted.static_dir, Some(PathBuf::from("/srv/files")));
        let off =
            parse("[/static]\ntools.staticdir.on: False\ntools.staticdir.dir: 'x'\n").unwrap();
        assert_eq!(off.static_dir, None);
        let unset = parse("[/static]\ntools.staticdir.dir: 'x'\n").unwrap();
        assert_eq!(unset.static_dir, None);
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
            error("[/]\n"),
            "server.conf:1: unknown section [/]: only [global] and [/static] are known"
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
            "server.conf:2: [/static] has tools.staticdir.on: True but no tools.staticdir.dir"
        );
        assert!(error("[global]\n[global]\n").contains(":2: section [global] appears twice"));
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
        assert!(settings.static_dir.unwrap().join("style.css").is_file());
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
