//! Drives [`Connection`] as the event loop does, with the input cut into
//! pieces, and checks what it produced.

use std::time::Duration;

use reseau_host::web::config::HttpLimits;
use reseau_host::web::http::{Body, Connection, Response};

/// Most headers in a request head (`MAX_HEADERS` in `web/http/head.rs`).
pub const MAX_HEADERS: usize = 100;

/// Statuses the connection may answer by itself.
pub const REJECTION_STATUSES: [u16; 8] = [400, 408, 413, 414, 417, 431, 501, 505];

/// The body of the fixed answer to every request.
pub const ANSWER: &[u8] = b"fixed answer";

/// What came out of the connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Request {
        method: String,
        target: String,
        version: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Rejection {
        status: u16,
        reason: String,
    },
}

/// How the input ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The peer closes.
    Eof,
    /// The request timeout fires, then the peer closes.
    TimeOutThenEof,
}

/// How the fixed answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length`.
    Sized,
    /// Length unknown: chunked (HTTP/1.1) or until close.
    Unsized,
}

/// One run of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<Event>,
    pub output: Vec<u8>,
    /// Whether the connection said it was finished at the end.
    pub finished: bool,
}

/// The fixed answer.
pub fn answer(framing: Framing) -> Response {
    let mut response = Response::bytes(200, "text/plain", ANSWER.to_vec());
    if framing == Framing::Unsized {
        // Its body follows in one piece, given when the connection wants
        // it (see `run`).
        response.body = Body::Stream { length: None };
    }
    response
}

/// Feeds `input` to a new connection in pieces of `pieces` bytes (cycled;
/// empty: all at once), answers each request with [`answer`], reads the
/// output through a buffer of `out_size` bytes, and ends with `end`.
pub fn run(
    limits: HttpLimits,
    input: &[u8],
    pieces: &[usize],
    out_size: usize,
    end: End,
    framing: Framing,
) -> Run {
    let mut conn = Connection::new(limits);
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut stash: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut piece = 0;
    let mut ended = false;
    let mut out = vec![0u8; out_size.max(1)];
    // Bounded: a round without progress ends the input, then the run.
    let rounds = 4 * input.len() + 64 + 4 * (input.len() / out.len() + 1) * 16;
    for _ in 0..rounds {
        let mut progress = false;
        if stash.is_empty() && at < input.len() {
            let size = match pieces.get(piece % pieces.len().max(1)) {
                Some(&size) => size.max(1),
                None => input.len(),
            };
            piece += 1;
            let n = size.min(input.len() - at);
            stash.extend_from_slice(&input[at..at + n]);
            at += n;
            progress = true;
        }
        if !stash.is_empty() {
            let used = conn.handle_input(&stash);
            assert!(used <= stash.len(), "took {used} of {} bytes", stash.len());
            stash.drain(..used);
            progress |= used > 0;
        }
        if let Some(rejection) = conn.poll_rejection() {
            events.push(Event::Rejection {
                status: rejection.status.code(),
                reason: rejection.reason,
            });
            progress = true;
        }
        if let Some(request) = conn.poll_request() {
            events.push(Event::Request {
                method: request.method,
                target: request.target,
                version: request.version.to_string(),
                headers: request.headers,
                body: request.body,
            });
            conn.respond(answer(framing));
            if framing == Framing::Unsized && conn.is_streaming() {
                conn.send_data(ANSWER);
                conn.finish();
            }
            progress = true;
        }
        loop {
            let n = conn.poll_transmit(&mut out);
            assert!(n <= out.len());
            if n == 0 {
                break;
            }
            output.extend_from_slice(&out[..n]);
            progress = true;
        }
        if conn.is_finished() {
            break;
        }
        if !progress {
            if ended {
                break;
            }
            ended = true;
            if end == End::TimeOutThenEof {
                conn.time_out(Duration::from_secs(10));
            }
            conn.handle_eof();
        }
    }
    Run {
        events,
        output,
        finished: conn.is_finished(),
    }
}

/// Characters of a header value, with U+FFFD (what a byte that is not
/// UTF-8 became) counted as the one byte it was at least.
fn raw_len(text: &str) -> usize {
    text.chars()
        .map(|c| if c == '\u{FFFD}' { 1 } else { c.len_utf8() })
        .sum()
}

/// The smallest head that can have produced `event`'s request.
pub fn min_head_len(method: &str, target: &str, headers: &[(String, String)]) -> usize {
    // "M T HTTP/1.x\n", "name:value\n" each, "\n": a bare LF ends a
    // line too (RFC 9112, 2.2).
    let line = method.len() + 1 + target.len() + 1 + 8 + 1;
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.len() + 1 + raw_len(value) + 1)
        .sum();
    line + fields + 1
}

/// Checks one run against the limits and the rules of HTTP/1.1 framing.
pub fn check_run(run: &Run, limits: &HttpLimits, framing: Framing) -> Result<(), String> {
    if !run.finished {
        return Err("the connection is not finished after the end of input".into());
    }
    for (i, event) in run.events.iter().enumerate() {
        let last = i + 1 == run.events.len();
        match event {
            Event::Rejection { status, .. } => {
                if !REJECTION_STATUSES.contains(status) {
                    return Err(format!("rejection status {status} is not documented"));
                }
                if !last {
                    return Err(format!("event after a {status} rejection"));
                }
            }
            Event::Request {
                method,
                target,
                version,
                headers,
                body,
            } => {
                if method.is_empty() || !method.bytes().all(is_tchar) {
                    return Err(format!("method {method:?} is not a token"));
                }
                if !target.starts_with('/') {
                    return Err(format!("target {target:?} is not a path"));
                }
                if headers.len() > MAX_HEADERS {
                    return Err(format!("{} headers", headers.len()));
                }
                let head = min_head_len(method, target, headers);
                if head > limits.max_header {
                    return Err(format!(
                        "a head of at least {head} bytes is over the {} limit",
                        limits.max_header
                    ));
                }
                if body.len() > limits.max_body {
                    return Err(format!(
                        "a body of {} bytes is over the {} limit",
                        body.len(),
                        limits.max_body
                    ));
                }
                if !last && closes(version, headers, framing) {
                    return Err("a request after the one that closed the connection".into());
                }
            }
        }
    }
    check_output(&run.output, &run.events, framing)
}

/// Whether the connection closes after this request (RFC 9112, 9.3),
/// answered with `framing`: an answer of unknown length to HTTP/1.0 ends
/// with the connection (it has no chunked coding).
pub fn closes(version: &str, headers: &[(String, String)], framing: Framing) -> bool {
    if version == "HTTP/1.0" && framing == Framing::Unsized {
        return true;
    }
    let tokens = || {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
    };
    let close = tokens().any(|t| t.eq_ignore_ascii_case("close"));
    let keep_alive = tokens().any(|t| t.eq_ignore_ascii_case("keep-alive"));
    close || (version == "HTTP/1.0" && !keep_alive)
}

/// RFC 9110's `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The output is one response per event, in order (interim `100
/// Continue`s and the connection's own answers to `OPTIONS *` aside): 200 with the fixed body for a request (no body for
/// HEAD), the rejection's status with a JSON body otherwise.
pub fn check_output(output: &[u8], events: &[Event], framing: Framing) -> Result<(), String> {
    responses(output, events, framing).map(|_| ())
}

/// One response of the output: its head as sent, its body decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub head: Vec<u8>,
    pub body: Vec<u8>,
}

/// The output as responses, checked against the events as
/// [`check_output`] says. Two outputs with the same responses differ at
/// most in where a chunked body is cut into chunks, which follows the room
/// each `poll_transmit` call had.
pub fn responses(output: &[u8], events: &[Event], framing: Framing) -> Result<Vec<Sent>, String> {
    let mut rest = output;
    let mut expected = events.iter();
    let mut sent = Vec::new();
    loop {
        if rest.is_empty() {
            return match expected.next() {
                None => Ok(sent),
                Some(event) => Err(format!("no response for {event:?}")),
            };
        }
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut slots);
        let head = match response.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            other => {
                return Err(format!(
                    "output is not a response: {other:?} at {:?}",
                    String::from_utf8_lossy(&rest[..rest.len().min(80)])
                ));
            }
        };
        let status = response.code.unwrap_or_default();
        if response.version != Some(1) {
            return Err("a response that is not HTTP/1.1".into());
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).into_owned())
        };
        let length = header("content-length");
        let chunked = header("transfer-encoding").is_some();
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head_bytes = rest[..head].to_vec();
        rest = &rest[head..];
        // Interim `100 Continue`s, and the answer to `OPTIONS *` (200,
        // `Allow`, no body), which the connection gives itself: no event.
        let options = status == 200 && header("allow").is_some() && length.as_deref() == Some("0");
        if status == 100 || options {
            sent.push(Sent {
                head: head_bytes,
                body: Vec::new(),
            });
            continue;
        }
        let Some(event) = expected.next() else {
            return Err(format!("a {status} response with no request"));
        };
        let (want, head_only) = match event {
            Event::Request { method, .. } => (200, method == "HEAD"),
            Event::Rejection { status, .. } => (*status, false),
        };
        if status != want {
            return Err(format!("status {status} for {event:?}"));
        }
        let body: Vec<u8> = if head_only {
            Vec::new()
        } else if let Some(length) = &length {
            let n: usize = length.parse().map_err(|_| "bad Content-Length")?;
            if rest.len() < n {
                return Err("body shorter than its Content-Length".into());
            }
            let (body, after) = rest.split_at(n);
            rest = after;
            body.to_vec()
        } else if chunked {
            let (body, used) = dechunk(rest)?;
            rest = &rest[used..];
            body
        } else {
            if !close {
                return Err("a body delimited by nothing".into());
            }
            let body = rest.to_vec();
            rest = &[];
            body
        };
        match event {
            Event::Request { .. } if !head_only && body != ANSWER => {
                return Err(format!("answer body {:?}", String::from_utf8_lossy(&body)));
            }
            Event::Rejection { .. } => {
                let value: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| format!("rejection body is not JSON: {e}"))?;
                if !value["error"].is_string() {
                    return Err(format!("rejection body {value}"));
                }
            }
            _ => {}
        }
        if framing == Framing::Sized && !head_only && length.is_none() {
            return Err("a sized answer sent without Content-Length".into());
        }
        sent.push(Sent {
            head: head_bytes,
            body,
        });
    }
}

/// Decodes a chunked body; returns it and the bytes it took.
fn dechunk(bytes: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = bytes[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let line = std::str::from_utf8(&bytes[at..at + line_end]).map_err(|e| e.to_string())?;
        let size =
            usize::from_str_radix(line, 16).map_err(|e| format!("chunk size {line:?}: {e}"))?;
        at += line_end + 2;
        if size == 0 {
            if bytes.get(at..at + 2) != Some(b"\r\n") {
                return Err("no CRLF after the last chunk".into());
            }
            return Ok((body, at + 2));
        }
        let data = bytes.get(at..at + size).ok_or("chunk data cut short")?;
        body.extend_from_slice(data);
        at += size;
        if bytes.get(at..at + 2) != Some(b"\r\n") {
            return Err("no CRLF after chunk data".into());
        }
        at += 2;
    }
}

/// Whether two runs of the same input are the same: the same events, and
/// the same output bytes, chunked answers included.
pub fn same_runs(whole: &Run, split: &Run) -> Result<(), String> {
    if whole.events != split.events {
        return Err(format!(
            "the events differ:\nwhole {:#?}\nsplit {:#?}",
            whole.events, split.events
        ));
    }
    if whole.finished != split.finished {
        return Err("only one run finished".into());
    }
    // Chunked answers too: a chunk is framed when it is given, whatever
    // room each `poll_transmit` call has.
    if whole.output != split.output {
        return Err(format!(
            "the output differs:\nwhole {:?}\nsplit {:?}",
            String::from_utf8_lossy(&whole.output),
            String::from_utf8_lossy(&split.output)
        ));
    }
    Ok(())
}

/// Piece sizes from fuzzer bytes: each byte is a size of 1 to 256.
pub fn pieces(cuts: &[u8]) -> Vec<usize> {
    cuts.iter().map(|&b| usize::from(b) + 1).collect()
}
