//! CherryPy's `gzip` tool (`cherrypy.lib.encoding.gzip`): compresses an
//! answer when the path's config has `tools.gzip.on` and the client
//! accepts gzip.
//!
//! As CherryPy's tool, with its default arguments:
//!
//! - it runs on every answer: pages, static files, and error pages and
//!   redirects too (CherryPy runs `before_finalize` after setting an
//!   `HTTPError`'s response), but for a 500 from a handler that panicked;
//! - every answer gets `Vary: Accept-Encoding`;
//! - only `text/html` and `text/plain` are compressed (its default
//!   `mime_types`, compared on the media type without parameters), at
//!   level 5, and never an empty body;
//! - `Accept-Encoding` is read in CherryPy's order (by q-value, highest
//!   first, then by the element's text, last first): the first of
//!   `identity` with q > 0 (no compression), `gzip`/`x-gzip` with q = 0 (no
//!   compression) or with q > 0 (compression) decides; no
//!   `Accept-Encoding` is no compression; a header that names none of them
//!   is 406 Not Acceptable.
//!
//! The body is compressed as it is sent (a reader over the handler's
//! reader), so a large file costs no buffer. A compressed answer's strong
//! ETag becomes weak: its bytes are no longer the file's.

use std::io::Read;

use flate2::Compression;
use flate2::read::GzEncoder;
use rouille::{Response, ResponseBody};

/// What CherryPy compresses by default.
const MIME_TYPES: [&str; 2] = ["text/html", "text/plain"];

/// CherryPy's default `compress_level`.
const LEVEL: u32 = 5;

/// What `Accept-Encoding` says about gzip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    /// Compress (if the type is compressible).
    Gzip,
    /// Send as is.
    Identity,
    /// Nothing acceptable: 406.
    NotAcceptable,
}

/// Reads `Accept-Encoding` as CherryPy's gzip tool does.
pub fn negotiate(accept_encoding: Option<&str>) -> Negotiated {
    let Some(header) = accept_encoding.filter(|h| !h.trim().is_empty()) else {
        return Negotiated::Identity;
    };
    let mut codings: Vec<(f32, String, String)> = header
        .split(',')
        .map(str::trim)
        .filter(|element| !element.is_empty())
        .take(64)
        .map(|element| {
            let mut parts = element.split(';');
            let value = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .unwrap_or(1.0);
            (q, element.to_owned(), value)
        })
        .collect();
    // Highest q first; equal q: the element's text, greatest first.
    codings.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    for (q, _, value) in codings {
        match value.as_str() {
            "identity" if q != 0.0 => return Negotiated::Identity,
            "gzip" | "x-gzip" if q == 0.0 => return Negotiated::Identity,
            "gzip" | "x-gzip" => return Negotiated::Gzip,
            _ => {}
        }
    }
    Negotiated::NotAcceptable
}

/// Whether CherryPy's default `mime_types` hold this Content-Type.
fn compressible(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    MIME_TYPES.contains(&media_type)
}

/// The tool on one answer: `Vary`, then compression or 406.
pub fn apply(response: Response, accept_encoding: Option<&str>) -> Response {
    let response = with_vary(response);
    let (reader, length) = response.data.into_reader_and_size();
    let mut response = Response {
        data: match length {
            Some(length) => ResponseBody::from_reader_and_size(reader, length),
            None => ResponseBody::from_reader(reader),
        },
        ..response
    };
    if length == Some(0) {
        return response;
    }
    match negotiate(accept_encoding) {
        Negotiated::Identity => response,
        Negotiated::NotAcceptable => super::app::error_page(
            406,
            "This answer is available as identity or gzip; the request's Accept-Encoding allows neither.",
        ),
        Negotiated::Gzip => {
            let content_type = response
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            if !compressible(&content_type) {
                return response;
            }
            let (reader, _) = response.data.into_reader_and_size();
            let body: Box<dyn Read + Send> =
                Box::new(GzEncoder::new(reader, Compression::new(LEVEL)));
            response.data = ResponseBody::from_reader(body);
            for (name, value) in &mut response.headers {
                if name.eq_ignore_ascii_case("ETag") && !value.starts_with("W/") {
                    *value = format!("W/{value}").into();
                }
            }
            response.with_unique_header("Content-Encoding", "gzip")
        }
    }
}

/// Adds `Accept-Encoding` to the answer's `Vary`, once.
fn with_vary(mut response: Response) -> Response {
    let existing = response
        .headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("Vary"));
    match existing {
        Some((_, value)) => {
            if !value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("Accept-Encoding"))
            {
                *value = format!("{value}, Accept-Encoding").into();
            }
            response
        }
        None => response.with_unique_header("Vary", "Accept-Encoding"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_cherrypy() {
        assert_eq!(negotiate(None), Negotiated::Identity);
        assert_eq!(negotiate(Some("gzip")), Negotiated::Gzip);
        assert_eq!(negotiate(Some("x-gzip")), Negotiated::Gzip);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Negotiated::Gzip);
        assert_eq!(negotiate(Some("gzip;q=0")), Negotiated::Identity);
        assert_eq!(
            negotiate(Some("gzip;q=0, identity;q=0")),
            Negotiated::Identity
        );
        assert_eq!(negotiate(Some("identity")), Negotiated::Identity);
        // Equal q: "identity" sorts after "gzip" and comes first.
        assert_eq!(negotiate(Some("gzip, identity")), Negotiated::Identity);
        assert_eq!(negotiate(Some("identity;q=0.5, gzip")), Negotiated::Gzip);
        assert_eq!(negotiate(Some("br")), Negotiated::NotAcceptable);
        assert_eq!(negotiate(Some("*")), Negotiated::NotAcceptable);
    }

    #[test]
    fn only_html_and_plain_text_are_compressed() {
        assert!(compressible("text/html;charset=utf-8"));
        assert!(compressible("text/plain"));
        assert!(!compressible("text/css"));
        assert!(!compressible("application/json"));
    }

    #[test]
    fn a_compressed_answer_decompresses_to_the_original() {
        let page = "Hello <b>World</b>! ".repeat(100);
        let response = apply(Response::html(page.clone()), Some("gzip"));
        assert_eq!(
            response
                .headers
                .iter()
                .find(|(k, _)| k == "Content-Encoding")
                .map(|(_, v)| v.to_string()),
            Some("gzip".to_owned())
        );
        let (reader, _) = response.data.into_reader_and_size();
        let mut text = String::new();
        flate2::read::GzDecoder::new(reader)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, page);
    }

    #[test]
    fn error_pages_are_compressed_too() {
        let response = apply(Response::html("x").with_status_code(404), Some("gzip"));
        assert!(
            response
                .headers
                .iter()
                .any(|(k, v)| k == "Content-Encoding" && v == "gzip")
        );
    }

    #[test]
    fn an_empty_body_only_gets_vary() {
        let response = apply(Response::html("").with_status_code(304), Some("gzip"));
        assert!(
            !response
                .headers
                .iter()
                .any(|(k, _)| k == "Content-Encoding")
        );
        assert!(
            response
                .headers
                .iter()
                .any(|(k, v)| k == "Vary" && v == "Accept-Encoding")
        );
    }
}
