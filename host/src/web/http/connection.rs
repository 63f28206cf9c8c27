//! The [`Connection`] state machine: one HTTP/1.1 server connection,
//! bytes in, requests out, responses in, bytes out, one request at a
//! time (pipelined requests wait in the driver's buffer).
//!
//! A response is a head and body bytes handed over, as h11 does: the
//! whole body with the head ([`Body::Full`]), or pieces of it that the
//! connection asks for one at a time ([`Body::Stream`], then
//! [`send_data`](Connection::send_data) whenever
//! [`wants_data`](Connection::wants_data) says so, then
//! [`finish`](Connection::finish)). The connection never reads a file:
//! whoever drives it reads bodies where blocking is allowed, and it holds
//! at most one piece of a body at a time.
//!
//! # Call order
//!
//! 1. [`handle_input`](Connection::handle_input) with bytes from the peer;
//!    offer what it did not take again later (it takes nothing while a
//!    request is being handled or answered: pipelined requests wait).
//! 2. [`poll_request`](Connection::poll_request): a complete request, to
//!    hand to the application; then [`respond`](Connection::respond) once
//!    with its response (from any later call; the connection waits).
//! 3. For a [`Body::Stream`] response: while
//!    [`wants_data`](Connection::wants_data) is `Some(n)`, give it up to
//!    `n` bytes with [`send_data`](Connection::send_data) (again from any
//!    later call), and end with [`finish`](Connection::finish), or
//!    [`abort`](Connection::abort) if the body cannot be had (the
//!    connection then closes: the response cannot be completed).
//! 4. [`poll_transmit`](Connection::poll_transmit) until it returns 0,
//!    after each of the calls above.
//! 5. At end of stream, [`handle_eof`](Connection::handle_eof); when the
//!    request takes too long to arrive, [`time_out`](Connection::time_out).
//! 6. Close the transport once [`is_finished`](Connection::is_finished).
//!
//! [`poll_rejection`](Connection::poll_rejection) tells, for the log, when
//! the connection answered an invalid request itself.
//!
//! # Example
//!
//! ```
//! use reseau_host::web::config::HttpLimits;
//! use reseau_host::web::http::{Body, Connection, Response};
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
//!
//! // A body of unknown length, in pieces: chunked.
//! conn.handle_input(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
//! conn.poll_request().unwrap();
//! let headers = vec![("Content-Type".to_string(), "text/plain".to_string())];
//! conn.respond(Response { status: 200, headers, body: Body::Stream { length: None } });
//! let mut sent = Vec::new();
//! let mut pieces = [&b"Hello "[..], b"Ada"].into_iter();
//! loop {
//!     let n = conn.poll_transmit(&mut out);
//!     sent.extend_from_slice(&out[..n]);
//!     if n > 0 || conn.wants_data().is_none() {
//!         if n == 0 { break; }
//!         continue;
//!     }
//!     match pieces.next() {
//!         Some(piece) => conn.send_data(piece),
//!         None => conn.finish(),
//!     }
//! }
//! let text = std::str::from_utf8(&sent).unwrap();
//! assert!(text.ends_with("00000006\r\nHello \r\n00000003\r\nAda\r\n0\r\n\r\n"));
//! ```

use std::time::Duration;

use super::body::{Framing, take_body};
use super::encode::{self, Context, Delimit, LAST_CHUNK};
use super::head::{self, SERVER_METHODS, check_request_line, head_end};
use super::{Body, Refusal, RefusalStatus, Request, Response, Version};
use crate::web::config::HttpLimits;

#[derive(Debug)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Reading the body of `request`.
    Body { request: Request, framing: Framing },
    /// A request was handed out; waiting for [`Connection::respond`].
    Handling,
    /// A [`Body::Stream`] response's head was written; its body comes by
    /// [`Connection::send_data`].
    Streaming(Stream),
    /// The whole response is in `out`: the next request waits until it
    /// is sent.
    Flushing,
    /// Nothing more will be read; close once `out` is sent.
    Closing,
}

/// The body of a [`Body::Stream`] response, as it is sent.
#[derive(Debug)]
struct Stream {
    /// How its bytes are framed (Length, Chunked or Close).
    delimit: Delimit,
    /// Bytes of a sized body still to send.
    remaining: u64,
}

/// One HTTP/1.1 server connection.
#[derive(Debug)]
pub struct Connection {
    limits: HttpLimits,
    state: State,
    /// Head bytes so far, or a partial chunk-size or trailer line.
    buf: Vec<u8>,
    /// Bytes to send (a response head, a body or a piece of one, a `100
    /// Continue`), from `sent`.
    out: Vec<u8>,
    sent: usize,
    /// A request waiting for [`Connection::poll_request`].
    ready: Option<Request>,
    rejection: Option<Refusal>,
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
                State::Handling | State::Streaming(_) | State::Flushing => return used,
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
            State::Handling | State::Streaming(_) | State::Flushing | State::Closing => {}
        }
    }

    /// A complete request, once: the caller answers it with
    /// [`Connection::respond`].
    pub fn poll_request(&mut self) -> Option<Request> {
        self.ready.take()
    }

    /// An invalid request the connection answered itself, once.
    pub fn poll_rejection(&mut self) -> Option<Refusal> {
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
            self.reject(Refusal::new(
                RefusalStatus::RequestTimeout,
                format!(
                    "the request did not arrive within {} s",
                    after.as_secs_f64()
                ),
            ));
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
        } = response;
        let length = match &body {
            Body::Full(bytes) => Some(bytes.len() as u64),
            Body::Stream { length } => *length,
        };
        let context = Context {
            version: self.version,
            keep_alive: self.keep_alive,
            head_only: self.head_only,
        };
        let (delimit, keep_alive) =
            encode::write_head(&mut self.out, status, &headers, length, context);
        self.keep_alive = keep_alive;
        match (delimit, body) {
            (Delimit::None, _) => self.finish_response(),
            (_, Body::Full(bytes)) => {
                self.out.extend_from_slice(&bytes);
                self.state = State::Flushing;
            }
            (delimit, Body::Stream { .. }) => {
                self.state = State::Streaming(Stream {
                    delimit,
                    remaining: match delimit {
                        Delimit::Length(n) => n,
                        _ => 0,
                    },
                });
            }
        }
    }

    /// Whether the body of the response being sent wants more bytes: up to
    /// how many (a sized body's rest; else `u64::MAX`). `None` unless a
    /// [`Body::Stream`] is being sent and every byte given so far is
    /// sent: the connection holds one piece at a time.
    pub fn wants_data(&self) -> Option<u64> {
        let State::Streaming(stream) = &self.state else {
            return None;
        };
        if self.sent < self.out.len() {
            return None;
        }
        Some(match stream.delimit {
            Delimit::Length(_) => stream.remaining,
            _ => u64::MAX,
        })
    }

    /// Whether a [`Body::Stream`] body is being sent and is not complete:
    /// it will want more with [`wants_data`](Connection::wants_data).
    pub fn is_streaming(&self) -> bool {
        matches!(self.state, State::Streaming(_))
    }

    /// The next piece of a [`Body::Stream`] body. Bytes past a sized
    /// body's length are dropped; the body ends with its last byte.
    /// Ignored if no such body is being sent (a HEAD's answer).
    pub fn send_data(&mut self, data: &[u8]) {
        let State::Streaming(stream) = &mut self.state else {
            return;
        };
        match stream.delimit {
            Delimit::Chunked => encode::write_chunk(&mut self.out, data),
            Delimit::Length(_) => {
                let take = usize::try_from(stream.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.out
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                stream.remaining -= take as u64;
                if stream.remaining == 0 {
                    self.state = State::Flushing;
                }
            }
            Delimit::Close | Delimit::None => self.out.extend_from_slice(data),
        }
    }

    /// The end of a [`Body::Stream`] body. A sized body that is shorter
    /// than it said cannot be completed: the connection closes.
    pub fn finish(&mut self) {
        let State::Streaming(stream) = &self.state else {
            return;
        };
        match stream.delimit {
            Delimit::Chunked => {
                self.out.extend_from_slice(LAST_CHUNK);
                self.state = State::Flushing;
            }
            Delimit::Length(_) => self.abort(),
            Delimit::Close | Delimit::None => self.state = State::Flushing,
        }
    }

    /// The rest of a [`Body::Stream`] body cannot be had (a file that
    /// vanished): what was given is sent, the body is not ended, and the
    /// connection closes.
    pub fn abort(&mut self) {
        if matches!(self.state, State::Streaming(_)) {
            self.keep_alive = false;
            self.state = State::Closing;
        }
    }

    /// Writes output into `out`; returns how many bytes (0: nothing now).
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let pending = self.out.get(self.sent..).unwrap_or_default();
        let n = pending.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(pending.get(..n).unwrap_or_default());
        self.sent += n;
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            if matches!(self.state, State::Flushing) {
                self.finish_response();
            }
        }
        n
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

    /// Answers an invalid request with its refusal's status and closes.
    fn reject(&mut self, refusal: Refusal) -> usize {
        self.buf.clear();
        self.keep_alive = false;
        self.head_only = false;
        self.state = State::Handling;
        self.respond(Response::error(refusal.status.code(), &refusal.reason));
        self.rejection = Some(refusal);
        0
    }

    fn reject_long_head(&mut self) -> usize {
        let limit = self.limits.max_header;
        if !self.line_checked {
            // The request line alone is over the limit: a target longer
            // than we parse is 414 (RFC 9112 section 3).
            return self.reject(Refusal::new(
                RefusalStatus::UriTooLong,
                format!("the request line is over the {limit}-byte limit"),
            ));
        }
        self.reject(Refusal::new(
            RefusalStatus::HeaderFieldsTooLarge,
            format!("the request head is over the {limit}-byte limit"),
        ))
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
            if let Err(refusal) = check_request_line(&line) {
                return self.reject(refusal);
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
            self.start_request(input.get(..taken).unwrap_or_default())
        } else {
            let mut whole = std::mem::take(&mut self.buf);
            whole.extend_from_slice(input.get(..taken).unwrap_or_default());
            self.start_request(&whole)
        };
        self.buf.clear();
        match head {
            Ok(()) => taken,
            Err(refusal) => self.reject(refusal),
        }
    }

    /// Parses a complete head and decides what comes next.
    fn start_request(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let head = head::parse(bytes)?;
        let framing = Framing::of(head.chunked, head.length, self.limits)?;
        self.keep_alive = head.keep_alive;
        self.head_only = head.method == "HEAD";
        self.version = head.version;
        let request = Request {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body: Vec::with_capacity(framing.map_or(0, Framing::capacity)),
        };
        if request.target == "*" {
            // OPTIONS * (the only method `head::request_target` lets
            // through with it): the server's methods, answered here.
            self.line_checked = false;
            self.blank_lines = false;
            self.state = State::Handling;
            // RFC 9110 section 9.3.7: Content-Length: 0 when there is no
            // content.
            let mut response = Response::bytes(200, "text/plain", Vec::new());
            response.headers = vec![("Allow".into(), SERVER_METHODS.into())];
            self.respond(response);
            if framing.is_some() {
                // Its body would have to be read and dropped: simpler to
                // close after the answer.
                self.keep_alive = false;
                self.state = State::Closing;
            }
            return Ok(());
        }
        let Some(framing) = framing else {
            self.hand_out(request);
            return Ok(());
        };
        if head.expect_continue {
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.state = State::Body { request, framing };
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
        match take_body(
            &mut request.body,
            framing,
            &mut self.buf,
            self.limits,
            input,
        ) {
            Ok((used, false)) => used,
            Ok((used, true)) => {
                if let State::Body { request, .. } =
                    std::mem::replace(&mut self.state, State::Handling)
                {
                    self.hand_out(request);
                }
                used
            }
            Err(refusal) => self.reject(refusal),
        }
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
                conn.poll_rejection().map(|r| r.status.code()),
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
                rejection.map(|r| r.status.code()),
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
            body: Body::Stream { length: None },
        });
        let mut text = drain(&mut conn);
        assert_eq!(conn.wants_data(), Some(u64::MAX));
        conn.send_data(b"abc");
        assert_eq!(conn.wants_data(), None, "one piece at a time");
        text.push_str(&drain(&mut conn));
        conn.finish();
        text.push_str(&drain(&mut conn));
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

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// What a run saw, in order.
        #[derive(Debug, Clone, PartialEq, Eq)]
        enum Seen {
            /// A request's target, and whether it was HEAD (no body).
            Request(String, bool),
            Refused(u16),
        }

        /// Answers every request of `input`, fed in pieces of the given
        /// sizes, the way a driver does; returns the requests and refusals
        /// seen, the bytes sent, and whether the connection finished.
        fn run_all(input: &[u8], pieces: &[usize]) -> (Vec<Seen>, Vec<u8>, bool) {
            let mut conn = Connection::new(limits());
            let mut seen = Vec::new();
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
                if let Some(refusal) = conn.poll_rejection() {
                    seen.push(Seen::Refused(refusal.status.code()));
                }
                if let Some(request) = conn.poll_request() {
                    seen.push(Seen::Request(request.target, request.method == "HEAD"));
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
            (seen, sent, conn.is_finished())
        }

        /// The targets of the requests a run handed out, and its output.
        fn run(input: &[u8], pieces: &[usize]) -> (Vec<String>, Vec<u8>) {
            let (seen, sent, _) = run_all(input, pieces);
            let targets = seen
                .into_iter()
                .filter_map(|seen| match seen {
                    Seen::Request(target, _) => Some(target),
                    Seen::Refused(_) => None,
                })
                .collect();
            (targets, sent)
        }

        /// Checks a run's output against what it saw: exactly one response
        /// per request (200, `ok`) and per refusal (its status, a JSON
        /// error), in order, a refusal last and the connection then
        /// finished; interim 100s and `OPTIONS *`'s own answers aside; no
        /// byte more or less.
        fn check(seen: &[Seen], sent: &[u8], finished: bool) -> Result<(), String> {
            let mut rest = sent;
            let mut expected = seen.iter();
            while !rest.is_empty() {
                let mut slots = [httparse::EMPTY_HEADER; 16];
                let mut response = httparse::Response::new(&mut slots);
                let Ok(httparse::Status::Complete(head)) = response.parse(rest) else {
                    return Err(format!(
                        "not a whole response: {:?}",
                        String::from_utf8_lossy(rest)
                    ));
                };
                let status = response.code.unwrap_or_default();
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).into_owned())
                };
                let length: usize = match header("content-length") {
                    Some(length) => length.parse().map_err(|_| "a bad Content-Length")?,
                    None if status == 100 => 0,
                    None => return Err(format!("a {status} without Content-Length")),
                };
                if status == 100 || (status == 200 && header("allow").is_some()) {
                    rest = &rest[head..];
                    continue;
                }
                let next = expected.next();
                let length = match next {
                    Some(Seen::Request(_, true)) => 0,
                    _ => length,
                };
                let body = rest.get(head..head + length).ok_or("a body cut short")?;
                rest = &rest[head + length..];
                match next {
                    Some(Seen::Request(_, false)) if status == 200 && body == b"ok" => {}
                    Some(Seen::Request(_, true)) if status == 200 && length == 0 => {}
                    Some(Seen::Refused(code))
                        if status == *code && body.starts_with(b"{\"error\":") => {}
                    other => {
                        return Err(format!(
                            "a {status} {:?} for {other:?}",
                            String::from_utf8_lossy(body)
                        ));
                    }
                }
            }
            if let Some(missing) = expected.next() {
                return Err(format!("no response for {missing:?}"));
            }
            if let Some(at) = seen.iter().position(|s| matches!(s, Seen::Refused(_))) {
                if at + 1 != seen.len() {
                    return Err(format!("something after a refusal: {seen:?}"));
                }
                if !finished {
                    return Err("a refusal did not close the connection".into());
                }
            }
            Ok(())
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
            /// for more, answers, or refuses and closes: exactly one
            /// response per request or refusal, and the same however the
            /// bytes are cut.
            #[test]
            fn arbitrary_bytes_are_handled(
                input in proptest::collection::vec(any::<u8>(), 0..600),
                pieces in proptest::collection::vec(1usize..64, 1..4),
            ) {
                let (seen, sent, finished) = run_all(&input, &pieces);
                prop_assert_eq!(check(&seen, &sent, finished), Ok(()));
                prop_assert_eq!((seen, sent, finished), run_all(&input, &[input.len().max(1)]));
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
                let (seen, sent, finished) = run_all(&input, &[7]);
                prop_assert_eq!(check(&seen, &sent, finished), Ok(()));
                prop_assert_eq!((seen, sent, finished), run_all(&input, &[input.len()]));
            }
        }
    }
}
