//! A sans-IO HTTP/1.1 server connection: bytes in, requests out; responses
//! in, bytes out. It reads no socket and no clock and starts no thread;
//! [`super::serve`] drives it on the shared event loop.
//!
//! It is the part of the web site that faces the network, so it is where
//! the limits live: a request head over [`HttpLimits::max_header`] gets 431,
//! a body over [`HttpLimits::max_body`] gets 413 (before a byte of it is
//! read when `Content-Length` says so; a chunked one once it grows over),
//! a request that does not arrive in time 408 (the driver's timer, see
//! [`Connection::time_out`]), and anything that is not HTTP/1.x 400, 417,
//! 501 or 505. Each of those answers closes the connection. Request heads are parsed by
//! `httparse`, once the blank line that ends them has arrived, so a client
//! that sends its head a byte at a time costs one scan of each byte.
//!
//! # Call order
//!
//! 1. [`handle_input`](Connection::handle_input) with bytes from the peer;
//!    offer what it did not take again later (it takes nothing while a
//!    request is being handled or answered: pipelined requests wait).
//! 2. [`poll_request`](Connection::poll_request): a complete request, to
//!    hand to the application; then [`respond`](Connection::respond) once
//!    with its response (from any later call; the connection waits).
//! 3. [`poll_transmit`](Connection::poll_transmit) until it returns 0.
//! 4. At end of stream, [`handle_eof`](Connection::handle_eof).
//! 5. Close the transport once [`is_finished`](Connection::is_finished).
//!
//! [`poll_rejection`](Connection::poll_rejection) tells, for the log, when
//! the connection answered an invalid request itself.
//!
//! # Example
//!
//! ```
//! use reseau_host::web::config::HttpLimits;
//! use reseau_host::web::http::{Connection, Response};
//!
//! let mut conn = Connection::new(HttpLimits::default());
//! let request = b"GET /?name=Ada HTTP/1.1\r\nHost: x\r\n\r\n";
//! assert_eq!(conn.handle_input(request), request.len());
//! let got = conn.poll_request().unwrap();
//! assert_eq!(got.target, "/?name=Ada");
//! conn.respond(Response::bytes(200, "text/plain", b"Hello Ada".to_vec()));
//! let mut out = [0u8; 256];
//! let n = conn.poll_transmit(&mut out);
//! let text = std::str::from_utf8(&out[..n]).unwrap();
//! assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(text.ends_with("\r\n\r\nHello Ada"));
//! ```

use std::fmt::{self, Write as _};
use std::io::{self, Read};
use std::time::Duration;

use super::config::HttpLimits;

/// Headers in one request head, at most: more is a 431.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line of a chunked body (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 1024;

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

/// A response to send.
pub struct Response {
    pub status: u16,
    /// Headers other than `Content-Length`, `Transfer-Encoding` and
    /// `Connection`, which the connection writes itself (and drops from
    /// here).
    pub headers: Vec<(String, String)>,
    /// The body, read as it is sent.
    pub body: Box<dyn Read + Send>,
    /// The body's length if known; `None` sends it chunked (HTTP/1.1) or
    /// until the connection closes (HTTP/1.0).
    pub length: Option<u64>,
}

impl Response {
    /// A response with a body in memory.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            length: Some(body.len() as u64),
            body: Box::new(io::Cursor::new(body)),
        }
    }

    /// A JSON error body, `{"error": "..."}`, as every error of the site.
    pub fn error(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::bytes(status, "application/json", body.into_bytes())
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// A request the connection refused and answered itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

/// How the body of the current request is delimited.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// This many bytes are still to come.
    Length(usize),
    /// Chunked: waiting for a chunk-size line.
    ChunkSize,
    /// Chunked: this many bytes of the current chunk, then CRLF.
    ChunkData(usize),
    /// Chunked: the CRLF after a chunk's data.
    ChunkEnd,
    /// Chunked: trailer lines until an empty one; this many bytes of
    /// them so far (limited like a head).
    Trailers(usize),
}

#[derive(Debug)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Reading the body of `request`.
    Body { request: Request, framing: Framing },
    /// A request was handed out; waiting for [`Connection::respond`].
    Handling,
    /// Sending a response's body (after its head, which is in `out`).
    Sending(Sending),
    /// Nothing more will be read; close once `out` is sent.
    Closing,
}

struct Sending {
    body: Box<dyn Read + Send>,
    /// Bytes of a sized body still to send.
    remaining: Option<u64>,
    chunked: bool,
}

impl fmt::Debug for Sending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sending")
            .field("remaining", &self.remaining)
            .field("chunked", &self.chunked)
            .finish_non_exhaustive()
    }
}

/// One HTTP/1.1 server connection.
#[derive(Debug)]
pub struct Connection {
    limits: HttpLimits,
    state: State,
    /// Head bytes so far, or a partial chunk-size or trailer line.
    buf: Vec<u8>,
    /// Bytes to send before anything else (a response head, a small body,
    /// a `100 Continue`), from `sent`.
    out: Vec<u8>,
    sent: usize,
    /// A request waiting for [`Connection::poll_request`].
    ready: Option<Request>,
    rejection: Option<Rejection>,
    /// Whether the connection stays open after the current response.
    keep_alive: bool,
    /// The current request is HEAD: its response has no body.
    head_only: bool,
    /// The current request's version.
    version: Version,
    /// The peer sent its end of stream.
    eof: bool,
    /// Blank lines came before the next request: it has begun, for the
    /// request timeout, though none of its bytes are kept.
    blank_lines: bool,
    /// The current request's line has ended and was checked (RFC 9112
    /// section 3): a line that is not `method SP target SP HTTP/x.y` is
    /// refused as soon as its line ends, not once the head would end.
    line_checked: bool,
}

impl Connection {
    pub fn new(limits: HttpLimits) -> Connection {
        Connection {
            limits,
            state: State::Head,
            buf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            ready: None,
            rejection: None,
            keep_alive: true,
            head_only: false,
            version: Version::Http11,
            eof: false,
            blank_lines: false,
            line_checked: false,
        }
    }

    /// Consumes bytes from the peer; returns how many were taken.
    pub fn handle_input(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            if rest.is_empty() {
                return used;
            }
            let taken = match self.state {
                State::Head => self.read_head(rest),
                State::Body { .. } => self.read_body(rest),
                // One request at a time: the next waits in the driver.
                State::Handling | State::Sending(_) => return used,
                // Closing: what the peer still sends is dropped.
                State::Closing => rest.len(),
            };
            if taken == 0 {
                return used;
            }
            used += taken;
        }
    }

    /// The peer will send nothing more. A request being handled is still
    /// answered; then the connection closes.
    pub fn handle_eof(&mut self) {
        self.eof = true;
        self.keep_alive = false;
        match self.state {
            State::Head | State::Body { .. } => {
                self.buf.clear();
                self.state = State::Closing;
            }
            State::Handling | State::Sending(_) | State::Closing => {}
        }
    }

    /// A complete request, once: the caller answers it with
    /// [`Connection::respond`].
    pub fn poll_request(&mut self) -> Option<Request> {
        self.ready.take()
    }

    /// An invalid request the connection answered itself, once.
    pub fn poll_rejection(&mut self) -> Option<Rejection> {
        self.rejection.take()
    }

    /// Whether a request was handed out and waits for its response.
    pub fn is_handling(&self) -> bool {
        matches!(self.state, State::Handling)
    }

    /// Whether the connection is in the middle of receiving a request (it
    /// has part of a head, or a body to read): what the request timeout
    /// applies to.
    pub fn is_receiving(&self) -> bool {
        match self.state {
            // Blank lines count: a client that sends only them, now and
            // then, must not hold the connection forever.
            State::Head => !self.buf.is_empty() || self.blank_lines,
            State::Body { .. } => true,
            _ => false,
        }
    }

    /// The request has taken longer than `after` to arrive (the server's
    /// request timeout): answers 408 and closes. Does nothing unless a
    /// request is being received.
    pub fn time_out(&mut self, after: Duration) {
        if self.is_receiving() {
            self.reject(
                408,
                format!(
                    "the request did not arrive within {} s",
                    after.as_secs_f64()
                ),
            );
        }
    }

    /// Sends `response` to the request last handed out. Ignored if no
    /// request waits for one.
    pub fn respond(&mut self, response: Response) {
        if !self.is_handling() {
            return;
        }
        let Response {
            status,
            headers,
            body,
            length,
        } = response;
        // 1xx, 204 and 304 have no body; HEAD's response says how long the
        // body would be but sends none.
        let bodyless = status < 200 || status == 204 || status == 304;
        let mut chunked = false;
        let mut head = String::with_capacity(256);
        let _ = write!(head, "HTTP/1.1 {status} {}\r\n", reason(status));
        for (name, value) in &headers {
            if is_framing_header(name) || !is_valid_header(name, value) {
                continue;
            }
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if !bodyless {
            match length {
                Some(length) => {
                    let _ = write!(head, "Content-Length: {length}\r\n");
                }
                None if self.head_only => {}
                None if self.keep_alive && self.version == Version::Http11 => {
                    head.push_str("Transfer-Encoding: chunked\r\n");
                    chunked = true;
                }
                // The end of the body is the end of the connection.
                None => self.keep_alive = false,
            }
        }
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        } else if self.version == Version::Http10 {
            // An HTTP/1.0 client keeps the connection only if told so
            // (RFC 9112 section C.2.2).
            head.push_str("Connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        self.out.extend_from_slice(head.as_bytes());
        if bodyless || self.head_only || length == Some(0) {
            self.finish_response();
        } else {
            self.state = State::Sending(Sending {
                body,
                remaining: length,
                chunked,
            });
        }
    }

    /// Writes output into `out`; returns how many bytes (0: nothing now).
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut written = 0;
        loop {
            let space = out.get_mut(written..).unwrap_or_default();
            if space.is_empty() {
                return written;
            }
            // Head and small bodies first.
            let pending = self.out.get(self.sent..).unwrap_or_default();
            if !pending.is_empty() {
                let n = pending.len().min(space.len());
                space
                    .get_mut(..n)
                    .unwrap_or_default()
                    .copy_from_slice(pending.get(..n).unwrap_or_default());
                self.sent += n;
                if self.sent == self.out.len() {
                    self.out.clear();
                    self.sent = 0;
                }
                written += n;
                continue;
            }
            let State::Sending(sending) = &mut self.state else {
                return written;
            };
            match read_body(sending, space) {
                // Too little room for a chunk's framing: next call.
                Ok(BodyRead::Bytes(0)) => return written,
                Ok(BodyRead::Bytes(n)) => written += n,
                Ok(BodyRead::Done(n)) => {
                    written += n;
                    self.finish_response();
                }
                // A body that cannot be read (a file that vanished) or
                // that is shorter than it said: the response cannot be
                // completed, so the connection ends.
                Err(_) => {
                    self.keep_alive = false;
                    self.state = State::Closing;
                    return written;
                }
            }
        }
    }

    /// Nothing more will be read or written: close the connection.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closing) && self.out.len() == self.sent
    }

    fn finish_response(&mut self) {
        self.state = if self.keep_alive && !self.eof {
            State::Head
        } else {
            State::Closing
        };
    }

    /// Answers an invalid request with `status` and closes.
    fn reject(&mut self, status: u16, reason: String) -> usize {
        self.buf.clear();
        self.keep_alive = false;
        self.head_only = false;
        self.state = State::Handling;
        self.respond(Response::error(status, &reason));
        self.rejection = Some(Rejection { status, reason });
        0
    }

    fn reject_long_head(&mut self) -> usize {
        let limit = self.limits.max_header;
        if !self.line_checked {
            // The request line alone is over the limit: a target longer
            // than we parse is 414 (RFC 9112 section 3).
            return self.reject(
                414,
                format!("the request line is over the {limit}-byte limit"),
            );
        }
        self.reject(
            431,
            format!("the request head is over the {limit}-byte limit"),
        )
    }

    /// Takes head bytes; parses the head once its blank line is in.
    fn read_head(&mut self, input: &[u8]) -> usize {
        // Blank lines before a request are allowed (RFC 9112, 2.2).
        if self.buf.is_empty() {
            let skip = input
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if skip > 0 {
                self.blank_lines = true;
                return skip;
            }
        }
        let room = self.limits.max_header.saturating_sub(self.buf.len());
        if !self.line_checked
            && let Some(newline) = input
                .get(..room.min(input.len()))
                .unwrap_or_default()
                .iter()
                .position(|&b| b == b'\n')
        {
            // `buf` holds no newline yet: the line is buf + input[..=newline].
            self.line_checked = true;
            let mut line = self.buf.clone();
            line.extend_from_slice(input.get(..newline).unwrap_or_default());
            if let Err((status, reason)) = check_request_line(&line) {
                return self.reject(status, reason);
            }
        }
        // Where the head ends, if in `buf` + `input`: only the new bytes
        // (and the three before them) are scanned.
        let scan_from = self.buf.len().saturating_sub(3);
        let end = if self.buf.is_empty() {
            head_end(input)
        } else {
            let mut joined = self.buf.get(scan_from..).unwrap_or_default().to_vec();
            joined.extend_from_slice(input.get(..room.min(input.len())).unwrap_or_default());
            head_end(&joined).map(|end| end + scan_from)
        };
        let Some(end) = end else {
            if input.len() > room {
                return self.reject_long_head();
            }
            self.buf.extend_from_slice(input);
            return input.len();
        };
        if end > self.limits.max_header {
            return self.reject_long_head();
        }
        // The head is buf + input[..taken]: it ends in the new bytes, since
        // `buf` alone held no blank line (saturating all the same).
        let taken = end.saturating_sub(self.buf.len());
        let head = if self.buf.is_empty() {
            self.parse_head(input.get(..taken).unwrap_or_default())
        } else {
            let mut whole = std::mem::take(&mut self.buf);
            whole.extend_from_slice(input.get(..taken).unwrap_or_default());
            self.parse_head(&whole)
        };
        self.buf.clear();
        match head {
            Ok(()) => taken,
            Err((status, reason)) => self.reject(status, reason),
        }
    }

    /// Parses a complete head and decides what comes next.
    fn parse_head(&mut self, bytes: &[u8]) -> Result<(), (u16, String)> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut slots);
        match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err((400, "the request head is incomplete".into()));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err((431, format!("more than {MAX_HEADERS} headers")));
            }
            Err(httparse::Error::Version) => {
                return Err((505, "only HTTP/1.0 and HTTP/1.1 are served".into()));
            }
            Err(error) => return Err((400, format!("malformed request: {error}"))),
        }
        let version = match parsed.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        let method = parsed.method.unwrap_or_default().to_string();
        let target = request_target(&method, parsed.path.unwrap_or_default())?;
        let mut headers = Vec::with_capacity(parsed.headers.len());
        let mut length: Option<usize> = None;
        // The transfer codings of every Transfer-Encoding line, in order.
        let mut codings: Option<Vec<String>> = None;
        let mut hosts = 0;
        let mut keep_alive = version == Version::Http11;
        let mut expect_continue = false;
        for header in parsed.headers.iter() {
            let name = header.name;
            // RFC 9110 section 5.5: CR, LF and NUL in a value are refused
            // (httparse already refuses CR and LF and other controls but
            // tab).
            if header.value.contains(&0) {
                return Err((400, format!("header {name} holds a NUL byte")));
            }
            let value = String::from_utf8_lossy(header.value)
                .trim_matches([' ', '\t'])
                .to_string();
            if name.eq_ignore_ascii_case("content-length") {
                // RFC 9112 section 6.3: one Content-Length of 1*DIGIT.
                if length.is_some() {
                    return Err((400, "a repeated Content-Length header".into()));
                }
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err((400, format!("Content-Length {value:?} is not a length")));
                }
                // All digits: only too large a number fails to parse.
                length = Some(value.parse::<usize>().unwrap_or(usize::MAX));
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                codings.get_or_insert_with(Vec::new).extend(
                    value
                        .split(',')
                        .map(|coding| coding.trim_matches([' ', '\t']).to_ascii_lowercase())
                        .filter(|coding| !coding.is_empty()),
                );
            } else if name.eq_ignore_ascii_case("host") {
                hosts += 1;
                if !is_valid_host(&value) {
                    return Err((400, format!("Host {value:?} is not a host[:port]")));
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") && version == Version::Http10
                    {
                        keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case("expect") {
                if !value.eq_ignore_ascii_case("100-continue") {
                    return Err((417, format!("Expect {value:?} is not supported")));
                }
                // RFC 9110 section 10.1.1: ignored in HTTP/1.0.
                expect_continue = version == Version::Http11;
            }
            headers.push((name.to_string(), value));
        }
        // RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one
        // in HTTP/1.0.
        if hosts > 1 {
            return Err((400, "more than one Host header".into()));
        }
        if version == Version::Http11 && hosts == 0 {
            return Err((400, "an HTTP/1.1 request needs a Host header".into()));
        }
        let chunked = match codings {
            None => false,
            Some(codings) => {
                check_codings(version, &codings, length.is_some())?;
                true
            }
        };
        if let Some(n) = length
            && n > self.limits.max_body
        {
            // usize::MAX stands for a length too large to parse.
            let at_least = if n == usize::MAX { "at least " } else { "" };
            return Err((
                413,
                format!(
                    "a body of {at_least}{n} bytes is over the {}-byte limit",
                    self.limits.max_body
                ),
            ));
        }
        self.keep_alive = keep_alive;
        self.head_only = method == "HEAD";
        self.version = version;
        if target == "*" {
            // OPTIONS * (the only method `request_target` lets through with
            // it): the server's methods, answered here.
            self.line_checked = false;
            self.blank_lines = false;
            self.state = State::Handling;
            // RFC 9110 section 9.3.7: Content-Length: 0 when there is no
            // content.
            let mut response = Response::bytes(200, "text/plain", Vec::new());
            response.headers = vec![("Allow".into(), SERVER_METHODS.into())];
            self.respond(response);
            if chunked || length.is_some_and(|n| n > 0) {
                // Its body would have to be read and dropped: simpler to
                // close after the answer.
                self.keep_alive = false;
                self.state = State::Closing;
            }
            return Ok(());
        }
        let framing = match (chunked, length) {
            (true, _) => Framing::ChunkSize,
            (false, Some(n)) if n > 0 => Framing::Length(n),
            _ => {
                self.hand_out(Request {
                    method,
                    target,
                    version,
                    headers,
                    body: Vec::new(),
                });
                return Ok(());
            }
        };
        if expect_continue {
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        // What arrives, not what the head announces: a head alone must
        // not make us reserve up to the body limit.
        let capacity = match framing {
            Framing::Length(n) => n.min(64 * 1024),
            _ => 0,
        };
        self.state = State::Body {
            request: Request {
                method,
                target,
                version,
                headers,
                body: Vec::with_capacity(capacity),
            },
            framing,
        };
        Ok(())
    }

    fn hand_out(&mut self, request: Request) {
        self.blank_lines = false;
        self.line_checked = false;
        self.ready = Some(request);
        self.state = State::Handling;
    }

    /// Takes body bytes (and chunk framing) of the current request.
    fn read_body(&mut self, input: &[u8]) -> usize {
        let State::Body { request, framing } = &mut self.state else {
            return 0;
        };
        match take_body(request, framing, &mut self.buf, self.limits, input) {
            Ok((used, false)) => used,
            Ok((used, true)) => {
                if let State::Body { request, .. } =
                    std::mem::replace(&mut self.state, State::Handling)
                {
                    self.hand_out(request);
                }
                used
            }
            Err((status, reason)) => self.reject(status, reason),
        }
    }
}

/// Moves body bytes from `input` into `request.body`, following
/// `framing`; `line` holds a partial chunk line. Returns the bytes taken
/// and whether the body is complete.
fn take_body(
    request: &mut Request,
    framing: &mut Framing,
    line: &mut Vec<u8>,
    limits: HttpLimits,
    input: &[u8],
) -> Result<(usize, bool), (u16, String)> {
    let max_body = limits.max_body;
    let too_long = |framing: Framing| match framing {
        Framing::Trailers(_) => (
            431,
            format!(
                "the trailer section is over the {}-byte limit",
                limits.max_header
            ),
        ),
        _ => (400, "a chunk line is too long".to_string()),
    };
    let mut used = 0;
    loop {
        let rest = input.get(used..).unwrap_or_default();
        match *framing {
            Framing::Length(0) => return Ok((used, true)),
            Framing::Length(n) | Framing::ChunkData(n) => {
                let take = n.min(rest.len());
                if take == 0 {
                    return Ok((used, false));
                }
                request
                    .body
                    .extend_from_slice(rest.get(..take).unwrap_or_default());
                used += take;
                *framing = match *framing {
                    Framing::ChunkData(n) if n == take => Framing::ChunkEnd,
                    Framing::ChunkData(n) => Framing::ChunkData(n - take),
                    _ => Framing::Length(n - take),
                };
            }
            Framing::ChunkSize | Framing::ChunkEnd | Framing::Trailers(_) => {
                // A chunk-size line, or the CRLF after a chunk, is at most
                // MAX_CHUNK_LINE long; a trailer line as long as the rest
                // of the trailer section may be.
                let line_limit = match *framing {
                    Framing::Trailers(so_far) => limits.max_header.saturating_sub(so_far),
                    _ => MAX_CHUNK_LINE,
                };
                let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                    if line.len() + rest.len() > line_limit {
                        return Err(too_long(*framing));
                    }
                    line.extend_from_slice(rest);
                    return Ok((used + rest.len(), false));
                };
                if line.len() + newline > line_limit {
                    return Err(too_long(*framing));
                }
                line.extend_from_slice(rest.get(..newline).unwrap_or_default());
                used += newline + 1;
                let whole = std::mem::take(line);
                let text = whole.strip_suffix(b"\r").unwrap_or(&whole);
                match *framing {
                    Framing::ChunkSize => match chunk_size(text) {
                        Some(0) => *framing = Framing::Trailers(0),
                        Some(size) if request.body.len().saturating_add(size) <= max_body => {
                            *framing = Framing::ChunkData(size);
                        }
                        Some(_) => {
                            return Err((
                                413,
                                format!("the body is over the {max_body}-byte limit"),
                            ));
                        }
                        None => return Err((400, "malformed chunk size".into())),
                    },
                    Framing::ChunkEnd if text.is_empty() => *framing = Framing::ChunkSize,
                    Framing::ChunkEnd => {
                        return Err((400, "chunk data longer than its size".into()));
                    }
                    // Trailer fields are checked, counted against the head
                    // limit, and dropped (RFC 9112 section 7.1.2).
                    Framing::Trailers(_) if text.is_empty() => return Ok((used, true)),
                    Framing::Trailers(so_far) => {
                        if !is_field_line(text) {
                            return Err((400, "a malformed trailer field".into()));
                        }
                        let so_far = so_far + whole.len() + 1;
                        if so_far > limits.max_header {
                            return Err(too_long(*framing));
                        }
                        *framing = Framing::Trailers(so_far);
                    }
                    Framing::Length(_) | Framing::ChunkData(_) => {}
                }
            }
        }
    }
}

enum BodyRead {
    Bytes(usize),
    /// The body ended, after these bytes.
    Done(usize),
}

/// Reads the next piece of a response body into `space`, framed.
fn read_body(sending: &mut Sending, space: &mut [u8]) -> io::Result<BodyRead> {
    if sending.chunked {
        // "<hex size>\r\n<data>\r\n"; the last chunk is "0\r\n\r\n".
        const FRAME: usize = 8 + 2 + 2;
        if space.len() < FRAME + 1 {
            return Ok(BodyRead::Bytes(0));
        }
        let data_room = space.len() - FRAME;
        let n = read_some(
            &mut sending.body,
            space.get_mut(10..10 + data_room).unwrap_or_default(),
        )?;
        if n == 0 {
            let last = b"0\r\n\r\n";
            space
                .get_mut(..last.len())
                .unwrap_or_default()
                .copy_from_slice(last);
            return Ok(BodyRead::Done(last.len()));
        }
        let size = format!("{n:08x}\r\n");
        space
            .get_mut(..10)
            .unwrap_or_default()
            .copy_from_slice(size.as_bytes());
        space
            .get_mut(10 + n..12 + n)
            .unwrap_or_default()
            .copy_from_slice(b"\r\n");
        return Ok(BodyRead::Bytes(12 + n));
    }
    let want = match sending.remaining {
        Some(remaining) => usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(space.len()),
        None => space.len(),
    };
    let n = read_some(&mut sending.body, space.get_mut(..want).unwrap_or_default())?;
    match &mut sending.remaining {
        Some(remaining) => {
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the body is shorter than its Content-Length",
                ));
            }
            *remaining -= n as u64;
            Ok(if *remaining == 0 {
                BodyRead::Done(n)
            } else {
                BodyRead::Bytes(n)
            })
        }
        None if n == 0 => Ok(BodyRead::Done(0)),
        None => Ok(BodyRead::Bytes(n)),
    }
}

fn read_some(body: &mut Box<dyn Read + Send>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match body.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Where a request head ends in `bytes` (just after its blank line).
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        let newline = at + i;
        match bytes.get(newline + 1..) {
            Some([b'\n', ..]) => return Some(newline + 2),
            Some([b'\r', b'\n', ..]) => return Some(newline + 3),
            _ => at = newline + 1,
        }
    }
    None
}

/// The methods some resource of the site takes: the answer to `OPTIONS *`.
const SERVER_METHODS: &str = "GET, HEAD, POST, PUT, DELETE";

/// A `tchar` of RFC 9110 section 5.6.2: what a token (a method, a header
/// name) is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks a request line (without its LF) the moment it ends: `method SP
/// request-target SP HTTP-version` (RFC 9112 section 3), one space each.
/// A line without a version (HTTP/0.9's `GET /`) is refused at once
/// rather than waited on as the start of a head; a well-formed version
/// other than 1.0 and 1.1 is 505.
fn check_request_line(line: &[u8]) -> Result<(), (u16, String)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&b'\r') {
        return Err((400, "a bare CR in the request line".into()));
    }
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err((
            400,
            if parts.len() == 2 {
                "the request line has no HTTP version (HTTP/0.9 is not served)".into()
            } else {
                "the request line is not `method target HTTP/x.y` with one space each".into()
            },
        ));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err((400, "the method is not a token".into()));
    }
    if target.is_empty() || !target.iter().all(u8::is_ascii_graphic) {
        return Err((400, "the request target has bytes a URI cannot hold".into()));
    }
    match *version {
        b"HTTP/1.0" | b"HTTP/1.1" => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err((505, "only HTTP/1.0 and HTTP/1.1 are served".into()))
        }
        _ => Err((400, "the HTTP version is not HTTP/x.y".into())),
    }
}

/// The path and query the site sees for a request target (RFC 9112
/// section 3.2): origin form (`/a?b`) as is; absolute form
/// (`http://host/a?b`, sent to proxies) reduced to it; the asterisk form
/// only for OPTIONS; the authority form only for CONNECT, which is not
/// served (501: this is not a proxy).
fn request_target(method: &str, target: &str) -> Result<String, (u16, String)> {
    if method == "CONNECT" {
        return Err(if is_valid_host(target) && target.contains(':') {
            (
                501,
                "CONNECT is not served: this server is not a proxy".into(),
            )
        } else {
            (400, "a CONNECT target is host:port".into())
        });
    }
    if target == "*" {
        return if method == "OPTIONS" {
            Ok(target.to_string())
        } else {
            Err((400, "the target * is only for OPTIONS".into()))
        };
    }
    if target.starts_with('/') {
        return Ok(target.to_string());
    }
    let scheme_end = target.find("://").unwrap_or(0);
    let scheme = target.get(..scheme_end).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err((400, format!("request target {target:?} is not a path")));
    }
    let rest = target.get(scheme_end + 3..).unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    // RFC 9110 section 4.2.1: an empty host is invalid; section 4.2.4:
    // userinfo is treated as an error.
    if authority.is_empty() || authority.starts_with(':') || !is_valid_host(authority) {
        return Err((400, format!("request target {target:?} has no valid host")));
    }
    let path = rest.get(authority_end..).unwrap_or_default();
    Ok(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// A `Host` value (RFC 9110 section 7.2): `uri-host [":" port]`, or empty.
/// The host is a bracketed IP literal or a reg-name (unreserved,
/// pct-encoded, sub-delims: no `@`, `/`, space...).
fn is_valid_host(value: &str) -> bool {
    let (host, port) = if value.starts_with('[') {
        let Some(close) = value.find(']') else {
            return false;
        };
        let literal = value.get(1..close).unwrap_or_default();
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":._~-!$&'()*+,;=".contains(&b))
        {
            return false;
        }
        match value.get(close + 1..).unwrap_or_default() {
            "" => return true,
            after => ("", after.strip_prefix(':').map_or("x", |port| port)),
        }
    } else {
        match value.split_once(':') {
            Some((host, port)) => (host, port),
            None => (value, ""),
        }
    };
    let mut bytes = host.bytes();
    while let Some(b) = bytes.next() {
        let ok = if b == b'%' {
            bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
        } else {
            b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
        };
        if !ok {
            return false;
        }
    }
    port.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a request's transfer codings (every `Transfer-Encoding` line's,
/// in order): chunked, once and last (RFC 9112 sections 6.1, 6.3, 7), in
/// HTTP/1.1, without `Content-Length`. Chunked not last leaves the body's
/// length unknown (400); another coding before it is not implemented
/// (501).
fn check_codings(
    version: Version,
    codings: &[String],
    has_length: bool,
) -> Result<(), (u16, String)> {
    if version == Version::Http10 {
        return Err((400, "Transfer-Encoding in an HTTP/1.0 request".into()));
    }
    // Both would let two parsers see two different requests (request
    // smuggling): refused.
    if has_length {
        return Err((
            400,
            "Content-Length and Transfer-Encoding together are refused".into(),
        ));
    }
    if codings.last().map(String::as_str) != Some("chunked") {
        return Err((400, "Transfer-Encoding does not end with chunked".into()));
    }
    if codings.iter().filter(|coding| *coding == "chunked").count() > 1 {
        return Err((400, "chunked is applied more than once".into()));
    }
    if let Some(other) = codings.iter().find(|coding| *coding != "chunked") {
        return Err((
            501,
            format!("Transfer-Encoding {other:?} is not supported (only chunked)"),
        ));
    }
    Ok(())
}

/// A chunk-size line (RFC 9112 section 7.1): hex digits, then optional
/// `;extensions` (after optional spaces), which are ignored but may hold
/// no control character.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let (digits, extensions) = match line.iter().position(|&b| b == b';') {
        Some(at) => (
            line.get(..at)?.trim_ascii_end(),
            line.get(at + 1..).unwrap_or_default(),
        ),
        None => (line, &[][..]),
    };
    if extensions
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return None;
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let significant = digits
        .iter()
        .position(|&b| b != b'0')
        .map_or(&[][..], |at| digits.get(at..).unwrap_or_default());
    if significant.len() > 8 {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// A field line (`name: value`, RFC 9112 section 5): a token, a colon
/// right after it, a value without control characters but tab.
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = line.split_at(colon);
    !name.is_empty()
        && name.iter().all(|&b| is_tchar(b))
        && is_field_value(value.get(1..).unwrap_or_default())
}

/// A field value's bytes: no control character but tab (no CR, LF, NUL).
fn is_field_value(value: &[u8]) -> bool {
    !value
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
}

/// Headers the connection writes itself.
fn is_framing_header(name: &str) -> bool {
    ["content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|framing| name.eq_ignore_ascii_case(framing))
}

/// A header that cannot split the response or break its framing: a token
/// for a name, no control character but tab in the value (RFC 9110
/// section 5.5).
fn is_valid_header(name: &str, value: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar) && is_field_value(value.as_bytes())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            max_header: 256,
            max_body: 64,
            ..HttpLimits::default()
        }
    }

    /// Feeds `input` split into pieces of `step` bytes.
    fn feed(conn: &mut Connection, input: &[u8], step: usize) -> usize {
        let mut used = 0;
        for piece in input.chunks(step) {
            let n = conn.handle_input(piece);
            used += n;
            if n < piece.len() {
                break;
            }
        }
        used
    }

    fn drain(conn: &mut Connection) -> String {
        let mut all = Vec::new();
        let mut out = [0u8; 7];
        loop {
            let n = conn.poll_transmit(&mut out);
            if n == 0 {
                break;
            }
            all.extend_from_slice(&out[..n]);
        }
        String::from_utf8(all).unwrap()
    }

    #[test]
    fn a_request_split_at_every_byte_is_parsed_once_whole() {
        let req = b"POST /adduser?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        for step in [1, 2, 3, 7, req.len()] {
            let mut conn = Connection::new(limits());
            assert_eq!(feed(&mut conn, req, step), req.len(), "step {step}");
            let got = conn.poll_request().unwrap();
            assert_eq!(got.method, "POST");
            assert_eq!(got.target, "/adduser?x=1");
            assert_eq!(got.body, b"hello");
            assert!(conn.poll_request().is_none());
        }
    }

    #[test]
    fn keep_alive_answers_pipelined_requests_one_at_a_time_in_order() {
        let two = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut conn = Connection::new(limits());
        let first = conn.handle_input(two);
        assert_eq!(conn.poll_request().unwrap().target, "/a");
        // The second waits while the first is handled.
        assert_eq!(conn.handle_input(&two[first..]), 0);
        conn.respond(Response::bytes(200, "text/plain", b"A".to_vec()));
        let text = drain(&mut conn);
        assert!(text.ends_with("Content-Length: 1\r\n\r\nA"), "{text}");
        assert!(!text.contains("Connection: close"));
        assert_eq!(conn.handle_input(&two[first..]), two.len() - first);
        assert_eq!(conn.poll_request().unwrap().target, "/b");
        assert!(!conn.is_finished());
    }

    #[test]
    fn http_1_0_closes_after_the_response_and_1_1_close_too() {
        for req in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ] {
            let mut conn = Connection::new(limits());
            conn.handle_input(req);
            conn.poll_request().unwrap();
            conn.respond(Response::bytes(200, "text/plain", b"x".to_vec()));
            let text = drain(&mut conn);
            assert!(text.contains("Connection: close\r\n"));
            assert!(conn.is_finished());
        }
    }

    #[test]
    fn a_head_over_the_limit_gets_431_and_the_connection_closes() {
        let mut conn = Connection::new(limits());
        let mut req = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        req.extend(std::iter::repeat_n(b'a', 300));
        feed(&mut conn, &req, 10);
        assert_eq!(conn.poll_rejection().unwrap().status, 431);
        let text = drain(&mut conn);
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
        assert!(conn.is_finished());
        assert!(conn.poll_request().is_none());
    }

    #[test]
    fn a_request_that_times_out_gets_408_and_the_connection_closes() {
        let after = Duration::from_secs(10);
        // Blank lines only (they may precede a request), half a head, half
        // a body.
        for partial in [
            &b"\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n[1,",
        ] {
            let mut conn = Connection::new(limits());
            conn.handle_input(partial);
            assert!(conn.is_receiving());
            conn.time_out(after);
            let rejection = conn.poll_rejection().unwrap();
            assert_eq!(rejection.status, 408);
            assert!(rejection.reason.contains("10 s"), "{}", rejection.reason);
            let text = drain(&mut conn);
            assert!(
                text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
                "{text}"
            );
            assert!(text.contains("Connection: close\r\n"), "{text}");
            assert!(conn.is_finished());
            // What the client still sends is dropped.
            assert_eq!(conn.handle_input(b"more"), 4);
            assert!(conn.poll_request().is_none());
        }
        // Between requests there is nothing to time out, blank lines
        // before the last one included.
        let mut conn = Connection::new(limits());
        conn.handle_input(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.poll_request().unwrap();
        conn.respond(Response::bytes(200, "text/plain", b"x".to_vec()));
        drain(&mut conn);
        assert!(!conn.is_receiving());
        conn.time_out(after);
        assert!(conn.poll_rejection().is_none());
        assert_eq!(drain(&mut conn), "");
        assert!(!conn.is_finished());
    }

    #[test]
    fn a_body_over_the_limit_gets_413_before_it_is_read() {
        let mut conn = Connection::new(limits());
        conn.handle_input(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n");
        assert_eq!(conn.poll_rejection().unwrap().status, 413);
        assert!(drain(&mut conn).contains("\"error\""));
        assert!(conn.is_finished());
    }

    #[test]
    fn chunked_bodies_are_decoded_and_limited() {
        let req = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        for step in [1, 4, req.len()] {
            let mut conn = Connection::new(limits());
            assert_eq!(feed(&mut conn, req, step), req.len());
            assert_eq!(conn.poll_request().unwrap().body, b"hello world");
        }
        let mut conn = Connection::new(limits());
        conn.handle_input(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
        );
        assert_eq!(conn.poll_rejection().unwrap().status, 413);
    }

    #[test]
    fn the_trailer_section_is_limited_like_a_head() {
        // 256-byte heads: 20 trailer lines of 20 bytes are over.
        let mut req =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        for i in 0..20 {
            req.extend_from_slice(format!("X-Trailer-{i:04}: abc\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        for step in [1, 5, req.len()] {
            let mut conn = Connection::new(limits());
            feed(&mut conn, &req, step);
            assert_eq!(
                conn.poll_rejection().map(|r| r.status),
                Some(431),
                "step {step}"
            );
            assert!(conn.poll_request().is_none());
        }
    }

    #[test]
    fn malformed_requests_are_refused_with_the_right_status() {
        let cases: [(&[u8], u16); 13] = [
            (b"NOT HTTP\r\n\r\n", 400),
            // HTTP/0.9: refused when its line ends, not timed out.
            (b"GET /\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            // Chunked not last: the body's length is unknown (RFC 9112 6.3).
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417),
        ];
        for (req, status) in cases {
            let mut conn = Connection::new(limits());
            conn.handle_input(req);
            let rejection = conn.poll_rejection();
            assert_eq!(
                rejection.map(|r| r.status),
                Some(status),
                "{:?}",
                String::from_utf8_lossy(req)
            );
            assert!(drain(&mut conn).starts_with(&format!("HTTP/1.1 {status} ")));
            assert!(conn.is_finished());
        }
    }

    #[test]
    fn expect_100_continue_is_answered_before_the_body() {
        let mut conn = Connection::new(limits());
        conn.handle_input(
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        );
        assert_eq!(drain(&mut conn), "HTTP/1.1 100 Continue\r\n\r\n");
        conn.handle_input(b"ok");
        assert_eq!(conn.poll_request().unwrap().body, b"ok");
    }

    #[test]
    fn head_responses_have_a_length_and_no_body() {
        let mut conn = Connection::new(limits());
        conn.handle_input(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(conn.poll_request().unwrap().method, "HEAD");
        conn.respond(Response::bytes(200, "text/plain", b"hello".to_vec()));
        let text = drain(&mut conn);
        assert!(text.ends_with("Content-Length: 5\r\n\r\n"), "{text}");
        assert!(!conn.is_finished());
    }

    #[test]
    fn bodies_of_unknown_length_are_chunked() {
        let mut conn = Connection::new(limits());
        conn.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.poll_request().unwrap();
        conn.respond(Response {
            status: 200,
            headers: vec![("Content-Length".into(), "999".into())],
            body: Box::new(io::Cursor::new(b"abc".to_vec())),
            length: None,
        });
        let mut out = [0u8; 64];
        let mut text = String::new();
        loop {
            let n = conn.poll_transmit(&mut out);
            if n == 0 {
                break;
            }
            text.push_str(std::str::from_utf8(&out[..n]).unwrap());
        }
        assert!(
            !text.contains("999"),
            "the handler's framing header is dropped"
        );
        assert!(
            text.ends_with("Transfer-Encoding: chunked\r\n\r\n00000003\r\nabc\r\n0\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn headers_that_would_split_the_response_are_dropped() {
        let mut conn = Connection::new(limits());
        conn.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.poll_request().unwrap();
        let mut response = Response::bytes(200, "text/plain", Vec::new());
        response
            .headers
            .push(("X-Evil".into(), "a\r\nSet-Cookie: b".into()));
        conn.respond(response);
        assert!(!drain(&mut conn).contains("Set-Cookie"));
    }

    #[test]
    fn end_of_stream_mid_request_closes_and_after_a_request_still_answers() {
        let mut conn = Connection::new(limits());
        conn.handle_input(b"GET / HTT");
        assert!(conn.is_receiving());
        conn.handle_eof();
        assert!(conn.is_finished());

        let mut conn = Connection::new(limits());
        conn.handle_input(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.handle_eof();
        assert!(conn.poll_request().is_some());
        conn.respond(Response::bytes(200, "text/plain", b"x".to_vec()));
        assert!(drain(&mut conn).ends_with("x"));
        assert!(conn.is_finished());
    }

    #[test]
    fn absolute_form_targets_become_paths() {
        assert_eq!(request_target("GET", "http://h:8080/a?b").unwrap(), "/a?b");
        assert_eq!(request_target("GET", "HTTPS://h").unwrap(), "/");
        assert_eq!(request_target("GET", "http://h?q").unwrap(), "/?q");
        assert_eq!(request_target("GET", "*").unwrap_err().0, 400);
        assert_eq!(request_target("OPTIONS", "*").unwrap(), "*");
        assert_eq!(request_target("GET", "http://u@h/").unwrap_err().0, 400);
        assert_eq!(request_target("GET", "http:///a").unwrap_err().0, 400);
        assert_eq!(request_target("GET", "h:80").unwrap_err().0, 400);
        assert_eq!(request_target("CONNECT", "h:443").unwrap_err().0, 501);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Answers every request of `input`, fed in pieces of the given
        /// sizes, the way a driver does; returns the targets seen and the
        /// bytes sent.
        fn run(input: &[u8], pieces: &[usize]) -> (Vec<String>, Vec<u8>) {
            let mut conn = Connection::new(limits());
            let mut targets = Vec::new();
            let mut sent = Vec::new();
            let mut stash: Vec<u8> = Vec::new();
            let mut at = 0;
            let mut sizes = pieces.iter().cycle();
            let mut out = [0u8; 13];
            // Bounded: every round takes input, sends output or ends.
            for _ in 0..100_000 {
                if at < input.len() && stash.is_empty() {
                    let n = (*sizes.next().unwrap()).max(1).min(input.len() - at);
                    stash.extend_from_slice(&input[at..at + n]);
                    at += n;
                }
                let used = conn.handle_input(&stash);
                stash.drain(..used);
                if let Some(request) = conn.poll_request() {
                    targets.push(request.target);
                    conn.respond(Response::bytes(200, "text/plain", b"ok".to_vec()));
                }
                loop {
                    let n = conn.poll_transmit(&mut out);
                    if n == 0 {
                        break;
                    }
                    sent.extend_from_slice(&out[..n]);
                }
                if conn.is_finished() || (at == input.len() && used == 0 && stash.is_empty()) {
                    break;
                }
                if at == input.len() && used == 0 {
                    // The rest is refused for good (a closed connection).
                    break;
                }
            }
            (targets, sent)
        }

        proptest! {
            /// However the bytes are split, the same requests come out in
            /// the same order with the same answers.
            #[test]
            fn splitting_never_changes_the_requests(
                paths in proptest::collection::vec("[a-z0-9]{0,12}", 1..5),
                pieces in proptest::collection::vec(1usize..40, 1..8),
            ) {
                let mut input = Vec::new();
                for (i, path) in paths.iter().enumerate() {
                    if i % 2 == 0 {
                        input.extend_from_slice(format!("GET /{path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
                    } else {
                        input.extend_from_slice(format!(
                            "POST /{path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                        ).as_bytes());
                    }
                }
                let whole = run(&input, &[input.len()]);
                let split = run(&input, &pieces);
                let expected: Vec<String> = paths.iter().map(|p| format!("/{p}")).collect();
                prop_assert_eq!(&whole.0, &expected);
                prop_assert_eq!(whole, split);
            }

            /// Arbitrary bytes never panic, and the connection either waits
            /// for more, answers, or refuses and closes.
            #[test]
            fn arbitrary_bytes_are_handled(
                input in proptest::collection::vec(any::<u8>(), 0..600),
                pieces in proptest::collection::vec(1usize..64, 1..4),
            ) {
                let (_, sent) = run(&input, &pieces);
                prop_assert!(sent.is_empty() || sent.starts_with(b"HTTP/1.1 "));
            }

            /// Near-HTTP input (a valid head with random damage) never panics.
            #[test]
            fn damaged_heads_are_handled(
                flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..6),
            ) {
                let mut input = b"POST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
                for (at, byte) in flips {
                    let len = input.len();
                    input[at % len] = byte;
                }
                let (_, sent) = run(&input, &[7]);
                prop_assert!(sent.is_empty() || sent.starts_with(b"HTTP/1.1 "));
            }
        }
    }
}
