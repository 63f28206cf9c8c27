//! The web site's families at `/metrics`, and the page itself.
//!
//! A request is counted by its route's pattern (`/api/users/{id}`), its
//! method and its status; a path that is no route is `static` if it was
//! served (a static file: a status below 400) and `other` if not, and a
//! method that is none of the usual ones is `other`: a client cannot add
//! a series by inventing paths or methods. The latency histogram is the
//! handler's time, as its worker measures it (the access log's `ms`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rouille::Response;

use crate::metrics::{CONTENT_TYPE, Families, Histogram, Kind, Registry, Text};

/// The routes of the site ([`super::app`] and [`super::api`]), as their
/// patterns; `{id}` is one path segment.
const ROUTES: [&str; 16] = [
    "/",
    "/index",
    "/home",
    "/accueil",
    "/loginform",
    "/login",
    "/app",
    "/listusers",
    "/adduser",
    "/api",
    "/api/users",
    "/api/sum",
    "/api/openapi.json",
    "/healthz",
    "/metrics",
    "/api/users/{id}",
];

/// The methods counted by name; any other is `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// The route pattern `target` matches, if any.
pub fn route_of(target: &str) -> Option<&'static str> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if let Some(route) = ROUTES.iter().find(|route| **route == path) {
        return Some(route);
    }
    match path.strip_prefix("/api/users/") {
        Some(id) if !id.is_empty() && !id.contains('/') => Some("/api/users/{id}"),
        _ => None,
    }
}

/// The `route` label of a request whose target matched `route`, answered
/// with `status`.
pub fn route_label(route: Option<&'static str>, status: u16) -> &'static str {
    match route {
        Some(route) => route,
        None if status < 400 => "static",
        None => "other",
    }
}

/// The `method` label of `method`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other")
}

/// Requests by route, method and status, and their latency.
#[derive(Debug, Default)]
pub struct WebCounts {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    latency: Histogram,
}

impl WebCounts {
    /// Notes one answered or refused request (refused: no handler ran,
    /// so no latency).
    pub fn count(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        took: Option<Duration>,
    ) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route, method, status))
            .or_default() += 1;
        if let Some(took) = took {
            self.latency.observe(took);
        }
    }
}

impl Families for WebCounts {
    fn write(&self, text: &mut Text) {
        let name = "reseau_http_requests_total";
        text.family(
            name,
            Kind::Counter,
            "HTTP requests answered, by route pattern, method and status.",
        );
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((route, method, status), count) in requests {
            let status = status.to_string();
            let labels = [("route", route), ("method", method), ("status", &status)];
            text.sample(name, &labels, count);
        }
        self.latency.write(
            text,
            "reseau_http_request_duration_seconds",
            "Time the handler took to answer a request.",
        );
    }
}

/// `GET /metrics`: the registry's text.
pub fn page(registry: &Registry) -> Response {
    Response::from_data(CONTENT_TYPE, registry.render())
}

/// The site of a `--metrics ADDR` flag (adder, echo): `/metrics` and
/// `/healthz` (200 while the process runs), 404 for anything else.
pub fn handler(registry: Arc<Registry>) -> super::serve::Handler {
    Arc::new(
        move |request| match (request.method(), request.url().as_str()) {
            ("GET" | "HEAD", "/metrics") => page(&registry),
            ("GET" | "HEAD", "/healthz") => Response::text("ok\n"),
            _ => Response::text("not found\n").with_status_code(404),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        let label = |target, status| route_label(route_of(target), status);
        assert_eq!(label("/api/users/12?x=1", 200), "/api/users/{id}");
        assert_eq!(label("/api/users/12/x", 404), "other");
        assert_eq!(label("/hello?name=a", 404), "other");
        assert_eq!(label("/static/site.css", 200), "static");
        assert_eq!(label("/", 200), "/");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("GET"), "GET");
    }
}
