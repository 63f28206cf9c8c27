//! The table of keys: one row per key reseau reads, with the section it
//! belongs in, the value it takes, where that value goes in [`Settings`]
//! and how it is written back ([`Settings::render`]). Adding a key is
//! adding a row to [`KEYS`] (and a line to `web/server.conf`, which
//! documents each).
//!
//! A key that is not in the table is refused, said apart when CherryPy has
//! it ([`is_cherrypy_key`]: "a CherryPy setting that reseau does not
//! support") from a typo ("unknown key").

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Settings;
use super::tokens::{Literal, Section, section_name, show};
use super::tree::ToolSettings;
use crate::web::db::Location;

/// One key of the config file.
pub(super) struct Key {
    /// The key as the file writes it: `server.socket_port`.
    pub name: &'static str,
    /// What the value must be, for the message that refuses another:
    /// "`server.socket_port` must be {expected}, got ...".
    pub expected: &'static str,
    /// Where it may be set and where its value goes.
    pub place: Place,
}

/// Where a key may be set, and the two directions between its value in
/// the file and its place in [`Settings`].
pub(super) enum Place {
    /// `[global]` only: a setting of the whole server.
    Global {
        set: fn(&mut Settings, &Value<'_>) -> Result<(), Refused>,
        get: fn(&Settings) -> Literal,
    },
    /// Any section, `[global]` too: a tool's setting, merged down the
    /// config tree ([`super::tree`]). `get` is `None` where the section
    /// leaves the key to its parents.
    Tool {
        set: fn(&mut ToolSettings, &Value<'_>) -> Result<(), Refused>,
        get: fn(&ToolSettings) -> Option<Literal>,
    },
}

/// A value of the file: what it evaluates to, and its text for messages.
pub(super) struct Value<'a> {
    pub literal: Literal,
    pub text: &'a str,
}

/// Why a row refused a value.
pub(super) enum Refused {
    /// Not what the row expects: "KEY must be EXPECTED, got VALUE".
    Expected,
    /// A value of the right kind that reseau does not support; the whole
    /// message.
    Unsupported(String),
}

const SIZE: &str = "an int from 1 to 4294967295 (bytes)";
const SECONDS: &str = "an int from 1 to 86400 (seconds)";
const ABSOLUTE: &str = "an absolute path";
const BOOL: &str = "True or False";
const NON_EMPTY: &str = "a non-empty string";

/// Every key reseau reads, in the order [`Settings::render`] writes them:
/// the `[global]` ones, then the tools' (in each section that sets them).
pub(super) static KEYS: &[Key] = &[
    // The server (CherryPy's `server.*`).
    Key::global(
        "server.socket_host",
        "a string",
        |s, v| v.string().map(|host| s.host = host),
        |s| Literal::Str(s.host.clone()),
    ),
    Key::global(
        "server.socket_port",
        "an int from 0 to 65535",
        |s, v| v.int(0, u16::MAX.into()).map(|port| s.port = port),
        |s| Literal::Int(s.port.into()),
    ),
    Key::global(
        "server.max_request_body_size",
        SIZE,
        |s, v| v.int(1, u32::MAX.into()).map(|n| s.limits.max_body = n),
        |s| count(s.limits.max_body),
    ),
    Key::global(
        "server.max_request_header_size",
        SIZE,
        |s, v| v.int(1, u32::MAX.into()).map(|n| s.limits.max_header = n),
        |s| count(s.limits.max_header),
    ),
    Key::global(
        "server.thread_pool",
        "an int from 0 to 1024 (0: four per event loop, at least 8)",
        |s, v| v.int(0, 1024).map(|n| s.limits.workers = n),
        |s| count(s.limits.workers),
    ),
    Key::global(
        "server.socket_timeout",
        SECONDS,
        |s, v| v.seconds().map(|t| s.limits.idle_timeout = t),
        |s| Literal::Int(s.limits.idle_timeout.as_secs().into()),
    ),
    // reseau's own.
    Key::global(
        "reseau.request_timeout",
        SECONDS,
        |s, v| v.seconds().map(|t| s.limits.request_timeout = t),
        |s| Literal::Int(s.limits.request_timeout.as_secs().into()),
    ),
    Key::global(
        "reseau.max_connections",
        "an int from 1 to 1048576",
        |s, v| v.int(1, 1 << 20).map(|n| s.limits.max_connections = n),
        |s| count(s.limits.max_connections),
    ),
    Key::global(
        "reseau.threads",
        "an int from 0 to 1024 (0: one per core)",
        |s, v| v.int(0, 1024).map(|n| s.limits.threads = n),
        |s| count(s.limits.threads),
    ),
    Key::global(
        "reseau.db",
        "a SQLite file path or a postgresql:// URL",
        |s, v| {
            v.path()
                .map(|db| s.db = Location::parse(&db.to_string_lossy()))
        },
        |s| Literal::Str(s.db.as_written()),
    ),
    // TLS (CherryPy's `server.ssl_*`): paths as given, relative ones from
    // the working directory (as CherryPy opens them, and as `reseau.db`).
    Key::global(
        "server.ssl_certificate",
        "a string (a PEM file; '' for none)",
        |s, v| v.log_file().map(|file| s.ssl.certificate = file),
        |s| log_file(s.ssl.certificate.as_ref()),
    ),
    Key::global(
        "server.ssl_private_key",
        "a string (a PEM file; '' for none)",
        |s, v| v.log_file().map(|file| s.ssl.private_key = file),
        |s| log_file(s.ssl.private_key.as_ref()),
    ),
    Key::global(
        "server.ssl_certificate_chain",
        "a string (a PEM file; '' for none)",
        |s, v| v.log_file().map(|file| s.ssl.chain = file),
        |s| log_file(s.ssl.chain.as_ref()),
    ),
    // Both of CherryPy's modules mean TLS by rustls here.
    Key::global(
        "server.ssl_module",
        "'builtin' or 'pyopenssl'",
        |s, v| match v.string()? {
            module if module == "builtin" || module == "pyopenssl" => {
                s.ssl.module = Some(module);
                Ok(())
            }
            _ => Err(Refused::Unsupported(format!(
                "server.ssl_module {} is not supported: 'builtin' and 'pyopenssl' are (both serve TLS with rustls)",
                show(v.text)
            ))),
        },
        |s| Literal::Str(s.ssl.module.clone().unwrap_or_else(|| "builtin".to_owned())),
    ),
    // The logs (CherryPy's `log.*`).
    Key::global(
        "log.screen",
        BOOL,
        |s, v| v.boolean().map(|on| s.log.screen = on),
        |s| Literal::Bool(s.log.screen),
    ),
    Key::global(
        "log.access_file",
        "a string",
        |s, v| v.log_file().map(|file| s.log.access_file = file),
        |s| log_file(s.log.access_file.as_ref()),
    ),
    Key::global(
        "log.error_file",
        "a string",
        |s, v| v.log_file().map(|file| s.log.error_file = file),
        |s| log_file(s.log.error_file.as_ref()),
    ),
    // The tools (CherryPy's `tools.*`), in any section.
    Key::tool(
        "tools.staticdir.on",
        BOOL,
        |t, v| v.boolean().map(|on| t.staticdir_on = Some(on)),
        |t| t.staticdir_on.map(Literal::Bool),
    ),
    Key::tool(
        "tools.staticdir.root",
        ABSOLUTE,
        |t, v| v.absolute().map(|root| t.staticdir_root = Some(root)),
        |t| t.staticdir_root.as_ref().map(path),
    ),
    Key::tool(
        "tools.staticdir.dir",
        NON_EMPTY,
        |t, v| v.path().map(|dir| t.staticdir_dir = Some(dir)),
        |t| t.staticdir_dir.as_ref().map(path),
    ),
    Key::tool(
        "tools.staticdir.index",
        "a file name (no '/')",
        |t, v| {
            v.string()
                .and_then(|name| {
                    let plain = !name.is_empty() && !name.contains(['/', '\\', '\0']);
                    plain.then_some(name).ok_or(Refused::Expected)
                })
                .map(|name| t.staticdir_index = Some(name))
        },
        |t| t.staticdir_index.clone().map(Literal::Str),
    ),
    Key::tool(
        "tools.staticfile.on",
        BOOL,
        |t, v| v.boolean().map(|on| t.staticfile_on = Some(on)),
        |t| t.staticfile_on.map(Literal::Bool),
    ),
    Key::tool(
        "tools.staticfile.filename",
        NON_EMPTY,
        |t, v| v.path().map(|file| t.staticfile_filename = Some(file)),
        |t| t.staticfile_filename.as_ref().map(path),
    ),
    Key::tool(
        "tools.staticfile.root",
        ABSOLUTE,
        |t, v| v.absolute().map(|root| t.staticfile_root = Some(root)),
        |t| t.staticfile_root.as_ref().map(path),
    ),
    Key::tool(
        "tools.gzip.on",
        BOOL,
        |t, v| v.boolean().map(|on| t.gzip_on = Some(on)),
        |t| t.gzip_on.map(Literal::Bool),
    ),
    // reseau's pages are UTF-8 bytes: the encode tool (on by default in
    // CherryPy) is what makes CherryPy's the same. Checked, never stored.
    Key::tool(
        "tools.encode.on",
        BOOL,
        |_, v| {
            match v.boolean()? {
            true => Ok(()),
            false => Err(Refused::Unsupported(
                "tools.encode.on: False is not supported: reseau's pages are always encoded as UTF-8 (CherryPy without the encode tool answers 500 to a page that returns text)".to_owned(),
            )),
        }
        },
        |_| None,
    ),
    Key::tool(
        "tools.encode.encoding",
        "a string",
        |_, v| match v.string()? {
            name if is_utf8(&name) => Ok(()),
            _ => Err(Refused::Unsupported(format!(
                "tools.encode.encoding {} is not supported: reseau's pages are UTF-8, so only 'utf-8' is",
                show(v.text)
            ))),
        },
        |_| None,
    ),
];

impl Key {
    const fn global(
        name: &'static str,
        expected: &'static str,
        set: fn(&mut Settings, &Value<'_>) -> Result<(), Refused>,
        get: fn(&Settings) -> Literal,
    ) -> Key {
        Key {
            name,
            expected,
            place: Place::Global { set, get },
        }
    }

    const fn tool(
        name: &'static str,
        expected: &'static str,
        set: fn(&mut ToolSettings, &Value<'_>) -> Result<(), Refused>,
        get: fn(&ToolSettings) -> Option<Literal>,
    ) -> Key {
        Key {
            name,
            expected,
            place: Place::Tool { set, get },
        }
    }
}

/// Sets `key` to `value` in `settings`, `section` being where the file
/// sets it; or the message that says why not.
pub(super) fn set(
    settings: &mut Settings,
    section: &Section,
    key: &str,
    value: &Value<'_>,
) -> Result<(), String> {
    let global_only_here = || {
        format!(
            "{key} is a [global] setting: it cannot be set in {}",
            section_name(section)
        )
    };
    let Some(row) = KEYS.iter().find(|row| row.name == key) else {
        return Err(if global_only(key) && section.is_some() {
            global_only_here()
        } else if is_cherrypy_key(key) {
            format!(
                "{} is a CherryPy setting that reseau does not support",
                key.escape_debug()
            )
        } else {
            format!(
                "unknown key {} in {}",
                key.escape_debug(),
                section_name(section)
            )
        });
    };
    let set = match row.place {
        Place::Global { set, .. } if section.is_none() => set(settings, value),
        Place::Global { .. } => return Err(global_only_here()),
        Place::Tool { set, .. } => set(settings.tree.section_mut(section.as_deref()), value),
    };
    set.map_err(|refused| match refused {
        Refused::Expected => format!("{key} must be {}, got {}", row.expected, show(value.text)),
        Refused::Unsupported(message) => message,
    })
}

impl Value<'_> {
    fn string(&self) -> Result<String, Refused> {
        match &self.literal {
            Literal::Str(s) => Ok(s.clone()),
            _ => Err(Refused::Expected),
        }
    }

    fn boolean(&self) -> Result<bool, Refused> {
        match self.literal {
            Literal::Bool(b) => Ok(b),
            _ => Err(Refused::Expected),
        }
    }

    /// An int from `min` to `max`, as the field's type.
    fn int<T: TryFrom<i128>>(&self, min: i128, max: i128) -> Result<T, Refused> {
        match self.literal {
            Literal::Int(n) if (min..=max).contains(&n) => {
                T::try_from(n).map_err(|_| Refused::Expected)
            }
            _ => Err(Refused::Expected),
        }
    }

    fn seconds(&self) -> Result<Duration, Refused> {
        self.int(1, 86_400).map(Duration::from_secs)
    }

    fn path(&self) -> Result<PathBuf, Refused> {
        match self.string()? {
            s if s.is_empty() => Err(Refused::Expected),
            s => Ok(PathBuf::from(s)),
        }
    }

    fn absolute(&self) -> Result<PathBuf, Refused> {
        self.path().and_then(|p| {
            if p.is_absolute() {
                Ok(p)
            } else {
                Err(Refused::Expected)
            }
        })
    }

    /// A log or certificate file: `''` is CherryPy's "no file".
    fn log_file(&self) -> Result<Option<PathBuf>, Refused> {
        self.string()
            .map(|s| (!s.is_empty()).then(|| PathBuf::from(s)))
    }
}

fn count(n: usize) -> Literal {
    Literal::Int(i128::try_from(n).unwrap_or(i128::MAX))
}

fn path(path: impl AsRef<Path>) -> Literal {
    let path = path.as_ref();
    Literal::Str(path.to_string_lossy().into_owned())
}

fn log_file(file: Option<&PathBuf>) -> Literal {
    file.map_or(Literal::Str(String::new()), path)
}

/// Keys that only mean something for the whole server: those of the
/// table's [`Place::Global`] rows, and CherryPy's of the same namespaces.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A value other than the default for every row, as `render` writes it.
    const SAMPLES: &[(&str, &str)] = &[
        ("server.socket_host", "'0.0.0.0'"),
        ("server.socket_port", "9090"),
        ("server.max_request_body_size", "2048"),
        ("server.max_request_header_size", "4096"),
        ("server.thread_pool", "3"),
        ("server.socket_timeout", "7"),
        ("reseau.request_timeout", "5"),
        ("reseau.max_connections", "99"),
        ("reseau.threads", "2"),
        ("reseau.db", "'x.db'"),
        ("server.ssl_certificate", "'c.pem'"),
        ("server.ssl_private_key", "'k.pem'"),
        ("server.ssl_certificate_chain", "'ca.pem'"),
        ("server.ssl_module", "'pyopenssl'"),
        ("log.screen", "False"),
        ("log.access_file", "'a.log'"),
        ("log.error_file", "'e.log'"),
        ("tools.staticdir.on", "False"),
        ("tools.staticdir.root", "'/srv'"),
        ("tools.staticdir.dir", "'public'"),
        ("tools.staticdir.index", "'index.html'"),
        ("tools.staticfile.on", "False"),
        ("tools.staticfile.filename", "'f.ico'"),
        ("tools.staticfile.root", "'/srv'"),
        ("tools.gzip.on", "True"),
        ("tools.encode.on", "True"),
        ("tools.encode.encoding", "'utf-8'"),
    ];

    fn parse(text: &str) -> Settings {
        Settings::parse(text, Path::new("server.conf"), Path::new("/etc/site"))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_row_is_parsed_and_rendered_back() {
        assert_eq!(SAMPLES.len(), KEYS.len(), "a sample per row");
        let defaults = parse("[global]\n").render();
        for key in KEYS {
            let (_, sample) = SAMPLES
                .iter()
                .find(|(name, _)| *name == key.name)
                .unwrap_or_else(|| panic!("no sample for {}", key.name));
            let line = format!("{}: {sample}\n", key.name);
            assert!(!defaults.contains(&line), "{line} is a default");
            let (section, rendered) = match key.place {
                Place::Global { .. } => ("[global]\n", true),
                // The encode tool is checked, never stored.
                Place::Tool { .. } => ("[/s]\n", !key.name.starts_with("tools.encode.")),
            };
            let text = parse(&format!("{section}{line}")).render();
            if rendered {
                let at = text.find(section).unwrap_or_else(|| panic!("{text}"));
                assert!(text[at..].contains(&line), "{line} in {text}");
                assert_eq!(parse(&text).render(), text, "{line}");
            } else {
                assert!(!text.contains(key.name), "{text}");
            }
        }
    }

    #[test]
    fn global_rows_are_the_global_only_keys() {
        for key in KEYS {
            let global = matches!(key.place, Place::Global { .. });
            assert_eq!(global_only(key.name), global, "{}", key.name);
            assert!(is_cherrypy_key(key.name) || key.name.starts_with("reseau."));
        }
    }

    #[test]
    fn a_refused_value_names_what_the_row_expects() {
        let error = |text: &str| {
            Settings::parse(text, Path::new("server.conf"), Path::new("/etc/site"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("[global]\nreseau.threads: 1025\n"),
            "server.conf:2: reseau.threads must be an int from 0 to 1024 (0: one per core), got '1025'"
        );
        assert_eq!(
            error("[/]\nreseau.threads: 1\n"),
            "server.conf:2: reseau.threads is a [global] setting: it cannot be set in [/]"
        );
        assert_eq!(parse("[global]\nreseau.threads: 0\n").limits.threads, 0);
        assert_eq!(
            parse("[global]\nreseau.threads: 1024\n").limits.threads,
            1024
        );
    }
}
