//! A sans-IO HTTP/1.1 server connection: bytes in, requests out; response
//! heads and body bytes in, bytes out. It reads no socket, no file and no
//! clock and starts no thread; [`super::serve`] drives it on the shared
//! event loop and reads response bodies on its worker threads.
//!
//! Split by concept, as hyper splits its h1:
//!
//! - [`head`]: the request head (request line, target, `Host`, field
//!   validation, the framing headers) and where it ends;
//! - [`body`]: request bodies, `Content-Length` and chunked, with their
//!   limits and trailers;
//! - [`encode`]: the response head and the chunked encoding of response
//!   bodies;
//! - [`connection`]: the [`Connection`] state machine that ties them,
//!   with its call order.
//!
//! It is the part of the web site that faces the network, so it is where
//! the limits live: a request head over [`HttpLimits::max_header`] gets
//! 431, a body over [`HttpLimits::max_body`] gets 413 (before a byte of
//! it is read when `Content-Length` says so; a chunked one once it grows
//! over), a request that does not arrive in time 408 (the driver's timer,
//! see [`Connection::time_out`]), and anything that is not HTTP/1.x 400,
//! 414, 417, 501 or 505: every [`Refusal`]. Each of those answers closes
//! the connection.
//!
//! [`HttpLimits::max_header`]: super::config::HttpLimits::max_header
//! [`HttpLimits::max_body`]: super::config::HttpLimits::max_body

use std::fmt;

pub mod body;
pub mod connection;
pub mod encode;
pub mod head;

pub use connection::Connection;

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless the
    /// client asked for keep-alive.
    Http10,
    /// HTTP/1.1: the connection stays open unless someone says `close`.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A complete request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path and query (`/api/users?page=2`), as sent.
    pub target: String,
    pub version: Version,
    /// Name and value of each header, in order (values decoded as UTF-8,
    /// lossily).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// A response to send: its head, and its body or how long the body that
/// follows will be.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Headers other than `Content-Length`, `Transfer-Encoding` and
    /// `Connection`, which the connection writes itself (and drops from
    /// here).
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A response's body, as the connection is given it: bytes, never a
/// reader, so that the loop thread that drives the connection never
/// waits on a disk or a pipe.
#[derive(Debug)]
pub enum Body {
    /// The whole body, in memory: sent with its `Content-Length`.
    Full(Vec<u8>),
    /// A body that follows in pieces, each given with
    /// [`Connection::send_data`] when [`Connection::wants_data`] asks,
    /// until [`Connection::finish`] (or [`Connection::abort`]). With its
    /// length if known; else sent chunked (HTTP/1.1) or until the
    /// connection closes (HTTP/1.0).
    Stream { length: Option<u64> },
}

impl Response {
    /// A response with a body in memory.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Full(body),
        }
    }

    /// A JSON error body, `{"error": "..."}`, as every error of the site.
    pub fn error(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::bytes(status, "application/json", body.into_bytes())
    }
}

/// The statuses with which the connection refuses a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalStatus {
    /// 400: not HTTP/1.x, or ambiguous framing.
    BadRequest,
    /// 408: the request did not arrive within the request timeout.
    RequestTimeout,
    /// 413: the body is over the body limit.
    ContentTooLarge,
    /// 414: the request line alone is over the head limit.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the head (or the trailers) over the head limit, or too many
    /// fields.
    HeaderFieldsTooLarge,
    /// 501: CONNECT, or a transfer coding other than chunked.
    NotImplemented,
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl RefusalStatus {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            RefusalStatus::BadRequest => 400,
            RefusalStatus::RequestTimeout => 408,
            RefusalStatus::ContentTooLarge => 413,
            RefusalStatus::UriTooLong => 414,
            RefusalStatus::ExpectationFailed => 417,
            RefusalStatus::HeaderFieldsTooLarge => 431,
            RefusalStatus::NotImplemented => 501,
            RefusalStatus::VersionNotSupported => 505,
        }
    }
}

impl PartialEq<u16> for RefusalStatus {
    fn eq(&self, code: &u16) -> bool {
        self.code() == *code
    }
}

impl fmt::Display for RefusalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), reason(self.code()))
    }
}

/// A request the connection refused, and answered itself with `status`
/// and `{"error": reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: RefusalStatus,
    /// Why, in words, for the client and the access log.
    pub reason: String,
}

impl Refusal {
    pub(crate) fn new(status: RefusalStatus, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    pub(crate) fn bad(reason: impl Into<String>) -> Refusal {
        Refusal::new(RefusalStatus::BadRequest, reason)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for Refusal {}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
