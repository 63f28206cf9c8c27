//! The raw HTTP/1.1 client of the web tests (`web.rs`,
//! `http_rfc9112.rs`): a `TcpStream`, so that every byte sent is the
//! test's choice, and a reader of responses (`Content-Length`, chunked, or
//! until close) where every wait has a deadline.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{WAIT, connect};

/// One HTTP response, as read off the wire.
pub struct Response {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type`, lowercased, `""` without one.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the response) if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {self:?}"))
    }

    /// Asserts the status, showing the whole response otherwise.
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{self:?}");
        self
    }

    /// Asserts a JSON error answer: `status`, a JSON content type and a
    /// body `{"error": "<a message>"}`.
    pub fn assert_json_error(&self, status: u16) -> String {
        self.assert_status(status);
        assert!(
            self.content_type().starts_with("application/json"),
            "an error of the API is JSON: {self:?}"
        );
        let body = self.json();
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no string `error` in {body}: {self:?}"));
        assert!(!message.is_empty(), "empty error message: {self:?}");
        message.to_string()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        let shown: String = text.chars().take(3000).collect();
        write!(
            f,
            "{} {} {:?} body ",
            self.version, self.status, self.headers
        )?;
        if shown.len() < text.len() {
            write!(f, "({} bytes) {shown:?}...", self.body.len())
        } else {
            write!(f, "{shown:?}")
        }
    }
}

/// A request's bytes: the request line, `Host`, `headers`, and
/// `Content-Length` when there is a body or the method usually has one.
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        || headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    if !has_length && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A client connection: the socket and what was read but not used yet
/// (pipelined responses).
pub struct Conn {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: connect(addr),
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the server");
    }

    /// Sends `bytes`; a server that already refused and closed may reset
    /// the connection before all are sent, which is not an error here.
    pub fn send_lossy(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// The first 300 characters not read yet, for messages.
    pub fn shown(&self) -> String {
        String::from_utf8_lossy(&self.buf)
            .chars()
            .take(300)
            .collect()
    }

    /// Sends one request and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(&request_bytes(method, target, headers, body));
        self.response(method)
    }

    /// Sends one request (with `Connection: close`) and reads its response
    /// within `timeout`.
    pub fn try_response_to(
        &mut self,
        method: &str,
        target: &str,
        timeout: Duration,
    ) -> Result<Response, String> {
        self.send(&request_bytes(
            method,
            target,
            &[("Connection", "close")],
            b"",
        ));
        self.try_response(method, timeout)
    }

    /// Reads one response to a `method` request (within [`WAIT`]).
    pub fn response(&mut self, method: &str) -> Response {
        self.try_response(method, WAIT)
            .unwrap_or_else(|e| panic!("no response to {method}: {e}"))
    }

    pub fn try_response(&mut self, method: &str, timeout: Duration) -> Result<Response, String> {
        self.response_by(method, Instant::now() + timeout)
    }

    /// Reads one response to a `method` request, by `deadline`.
    pub fn response_by(&mut self, method: &str, deadline: Instant) -> Result<Response, String> {
        let mut response = self.read_head(deadline)?;
        let status = response.status;
        if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(response);
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let line = self.take_line(deadline)?;
                let line = String::from_utf8_lossy(&line).into_owned();
                let size = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|e| format!("bad chunk size {line:?}: {e}"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.take_line(deadline)?.is_empty() {}
                    break;
                }
                let chunk = self.take(size, deadline)?;
                response.body.extend_from_slice(&chunk);
                if !self.take_line(deadline)?.is_empty() {
                    return Err("a chunk is not followed by CRLF".into());
                }
            }
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length
                .trim()
                .parse()
                .map_err(|e| format!("bad Content-Length {length:?}: {e}"))?;
            response.body = self.take(length, deadline)?;
        } else {
            // Delimited by the end of the connection.
            loop {
                match self.fill(deadline) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Err(e),
                }
            }
            response.body = std::mem::take(&mut self.buf);
        }
        Ok(response)
    }

    /// Reads more bytes into the buffer: `Ok(false)` when the server closed.
    pub fn fill(&mut self, deadline: Instant) -> Result<bool, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out with {} bytes unread", self.buf.len()));
        }
        self.stream
            .set_read_timeout(Some(left))
            .expect("read timeout");
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(false),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!(
                        "timed out with {} bytes unread: {:?}",
                        self.buf.len(),
                        String::from_utf8_lossy(&self.buf)
                    ));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// The status line and headers of a response (its body empty).
    pub fn read_head(&mut self, deadline: Instant) -> Result<Response, String> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if !self.fill(deadline)? {
                return Err(format!(
                    "closed before a full response head; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        if !version.starts_with("HTTP/1.") {
            return Err(format!("not an HTTP/1 status line: {status_line:?}"));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("bad header line {line:?}"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(Response {
            version,
            status,
            headers,
            body: Vec::new(),
        })
    }

    /// One line, without its CRLF.
    pub fn take_line(&mut self, deadline: Instant) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if !self.fill(deadline)? {
                return Err("closed in the middle of a chunked body".into());
            }
        }
    }

    pub fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            if !self.fill(deadline)? {
                return Err(format!("closed after {} of {n} body bytes", self.buf.len()));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Waits until the server closes the connection (within `timeout`);
    /// returns the bytes it sent before, unread ones included.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + timeout;
        while self.fill(deadline)? {}
        Ok(std::mem::take(&mut self.buf))
    }
}
