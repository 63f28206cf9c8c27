//! The site: the course's CherryPy `WebApp` as one rouille handler.
//!
//! | path | methods | answer |
//! |---|---|---|
//! | `/`, `/index`, `/home`, `/accueil` | GET | "Hello <b>NAME</b>!" (`?name=`, default World) |
//! | `/loginform` | GET | the login form |
//! | `/login` | POST | "Bonjour NAME !", or a 400 page |
//! | `/listusers` | GET | `{"users": [names]}` |
//! | `/adduser` | POST | `{"OK": true}` |
//! | `/app` | GET | the front-end page |
//! | `/api/...` | | the REST API ([`super::api`]) |
//! | anything else | any | the 404 page |
//!
//! Before the routes, as CherryPy's handler tools run before its handler:
//! the config's `tools.staticdir` and `tools.staticfile` for the request's
//! path ([`super::tree`], [`super::static_files`]; `/static/...` in the
//! default config), for GET and HEAD. A file they find is the answer; else
//! the routes answer, so a static section over a route's path serves its
//! files there and leaves the route its other paths. After the routes,
//! `tools.gzip` ([`super::gzip`]).
//!
//! The HTTP front end turns HEAD into GET before calling [`App::handle`];
//! a HEAD that arrives anyway is answered as a GET. `handle` never panics
//! on any input: a bug that would panic is caught and answered 500.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

use rouille::{Request, Response};

use super::api;
use super::config::{ConfigTree, Settings};
use super::db::{Db, DbError};
use super::gzip;
use super::html;
use super::log::SiteLog;
use super::metrics;
use super::static_files;
use crate::metrics::Registry;

/// Why the site could not start.
#[derive(Debug)]
pub enum WebError {
    /// The database could not be opened.
    Db(DbError),
    /// The static folder is missing or unreadable.
    StaticDir {
        /// The folder, as configured.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Db(e) => e.fmt(f),
            WebError::StaticDir { path, source } => {
                write!(f, "static folder {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for WebError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebError::Db(e) => Some(e),
            WebError::StaticDir { source, .. } => Some(source),
        }
    }
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> Self {
        WebError::Db(e)
    }
}

/// The site: one handler for every route. `Send + Sync`: the front end
/// calls [`App::handle`] from several worker threads at once.
#[derive(Debug)]
pub struct App {
    db: Db,
    /// The tool settings of the config's sections.
    tree: ConfigTree,
    log: Arc<SiteLog>,
    max_body: usize,
    /// What `/metrics` shows.
    metrics: Arc<Registry>,
}

impl App {
    /// Opens the database (creating or migrating it) and checks that each
    /// static folder in force where a section sets one exists, so that a
    /// wrong setting stops the start, not a request. Logs go to stderr
    /// until [`App::with_log`].
    pub fn open(settings: &Settings) -> Result<App, WebError> {
        for path in settings.tree.section_paths() {
            let Some(dir) = settings.tree.tools(path).staticdir else {
                continue;
            };
            let bad = |source| WebError::StaticDir {
                path: dir.folder.clone(),
                source,
            };
            let canonical = dir.folder.canonicalize().map_err(bad)?;
            if !canonical.is_dir() {
                return Err(bad(std::io::Error::other("not a directory")));
            }
        }
        Ok(App {
            db: Db::open(&settings.db, pool_size(settings))?,
            tree: settings.tree.clone(),
            log: Arc::new(SiteLog::default()),
            max_body: settings.limits.max_body,
            metrics: Arc::default(),
        })
    }

    /// The site with its error lines going to `log`.
    pub fn with_log(self, log: Arc<SiteLog>) -> App {
        App { log, ..self }
    }

    /// The site with `/metrics` showing `registry`.
    pub fn with_metrics(self, metrics: Arc<Registry>) -> App {
        App { metrics, ..self }
    }

    /// The database, for callers that want to log where it is.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let response =
            catch_unwind(AssertUnwindSafe(|| self.route(request))).unwrap_or_else(|_| {
                self.log.error(format_args!(
                    "internal error on {} {}",
                    request.method().escape_debug(),
                    request.raw_url().escape_debug()
                ));
                error_page(500, "An internal error stopped this request.")
            });
        with_safety_headers(response)
    }

    fn route(&self, request: &Request) -> Response {
        let method = match request.method() {
            "HEAD" => "GET",
            other => other,
        };
        let raw_path = request.raw_url().split('?').next().unwrap_or_default();
        let tools = self.tree.tools(raw_path);
        let response = self.tools_then_routes(request, method, raw_path, &tools);
        if tools.gzip {
            gzip::apply(response, request.header("Accept-Encoding"))
        } else {
            response
        }
    }

    /// CherryPy's handler tools (`staticdir` first, then `staticfile`),
    /// then the routes if neither answered.
    fn tools_then_routes(
        &self,
        request: &Request,
        method: &str,
        raw_path: &str,
        tools: &super::tree::PathTools,
    ) -> Response {
        if method == "GET" {
            if let Some(dir) = &tools.staticdir
                && let Some(response) = static_files::staticdir(request, dir, raw_path)
            {
                return response;
            }
            if let Some(file) = &tools.staticfile
                && let Some(response) = static_files::staticfile(request, file)
            {
                return response;
            }
        }
        let path = request.url();
        match path.as_str() {
            "/" | "/index" | "/home" | "/accueil" => match method {
                "GET" => index(request),
                _ => page_method_not_allowed(method, "GET, HEAD"),
            },
            "/loginform" => match method {
                "GET" => Response::html(html::LOGIN_FORM),
                _ => page_method_not_allowed(method, "GET, HEAD"),
            },
            "/login" => match method {
                "POST" => self.login(request),
                _ => page_method_not_allowed(method, "POST"),
            },
            "/app" => match method {
                "GET" => Response::html(html::APP),
                _ => page_method_not_allowed(method, "GET, HEAD"),
            },
            "/metrics" => match method {
                "GET" => metrics::page(&self.metrics),
                _ => page_method_not_allowed(method, "GET, HEAD"),
            },
            "/listusers" => match method {
                "GET" => api::list_user_names(&self.db),
                _ => api::method_not_allowed(method, "GET, HEAD"),
            },
            "/adduser" => match method {
                "POST" => api::add_user_course(request, &self.db, self.max_body),
                _ => api::method_not_allowed(method, "POST"),
            },
            "/healthz" => match method {
                "GET" => api::healthz(&self.db),
                _ => api::method_not_allowed(method, "GET, HEAD"),
            },
            "/api" => api::error(
                404,
                "the API is under /api/users, /api/sum and /api/openapi.json",
            ),
            _ => match path.strip_prefix("/api/") {
                Some(_) => {
                    let rest = path.get("/api".len()..).unwrap_or_default();
                    api::route(request, method, rest, &self.db, self.max_body)
                }
                None => not_found(&path),
            },
        }
    }

    /// `POST /login`: the form's `name` (also taken from the query string,
    /// as CherryPy merges both).
    fn login(&self, request: &Request) -> Response {
        let form = match request.header("Content-Type") {
            None => Vec::new(),
            Some(ct) if media_type_is(ct, "application/x-www-form-urlencoded") => {
                match api::read_body(request, self.max_body) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        let (status, message) = e.status_and_message();
                        return error_page(status, &message);
                    }
                }
            }
            Some(ct) => {
                return error_page(
                    415,
                    &format!(
                        "The form must be sent as application/x-www-form-urlencoded, not {ct}."
                    ),
                );
            }
        };
        let name =
            field(&form, "name").or_else(|| field(request.raw_query_string().as_bytes(), "name"));
        match name {
            None => error_page(
                400,
                "The field \"name\" is missing: type a name in the form.",
            ),
            Some(name) if name.trim().is_empty() => {
                error_page(400, "The field \"name\" is empty: type a name in the form.")
            }
            Some(name) => Response::html(html::render(html::LOGIN, &[("name", &name)])),
        }
    }
}

/// PostgreSQL's connections: one per handler thread, the most that can ask
/// at once (a handler holds one connection at a time).
fn pool_size(settings: &Settings) -> usize {
    let loops = crate::net::Limits {
        threads: settings.limits.threads,
        ..crate::net::Limits::default()
    }
    .loops();
    settings.limits.handler_threads(loops)
}

/// "Hello <b>NAME</b>!" in the index page.
fn index(request: &Request) -> Response {
    let name =
        field(request.raw_query_string().as_bytes(), "name").unwrap_or_else(|| "World".to_owned());
    Response::html(html::render(html::INDEX, &[("name", &name)]))
}

/// The first value of `key` in a urlencoded string.
fn field(urlencoded: &[u8], key: &str) -> Option<String> {
    rouille::url::form_urlencoded::parse(urlencoded)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// True if a Content-Type's media type (before any `;`) is `expected`.
fn media_type_is(content_type: &str, expected: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(expected)
}

/// The 404 page, with the URL that was asked for.
fn not_found(url: &str) -> Response {
    Response::html(html::render(html::NOT_FOUND, &[("url", url)])).with_status_code(404)
}

/// An HTML error page.
pub(super) fn error_page(status: u16, message: &str) -> Response {
    let reason = super::http::reason(status);
    let status_text = status.to_string();
    Response::html(html::render(
        html::ERROR,
        &[
            ("status", &status_text),
            ("reason", reason),
            ("message", message),
        ],
    ))
    .with_status_code(status)
}

/// The HTML 405 page, with `Allow`.
fn page_method_not_allowed(method: &str, allow: &'static str) -> Response {
    error_page(
        405,
        &format!("Method {method} is not allowed here; allowed: {allow}."),
    )
    .with_unique_header("Allow", allow)
}

/// Headers every answer carries: no content-type sniffing, and for HTML a
/// policy that runs only the site's own scripts (a second wall behind the
/// escaping of [`html::render`]).
fn with_safety_headers(response: Response) -> Response {
    let is_html = response
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("Content-Type") && v.starts_with("text/html"));
    let response = response.with_unique_header("X-Content-Type-Options", "nosniff");
    if is_html {
        response
            .with_unique_header(
                "Content-Security-Policy",
                "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            )
            .with_unique_header("Referrer-Policy", "same-origin")
    } else {
        response
    }
}

#[cfg(test)]
mod tests;
