//! The response side of the wire: the status line and fields of a
//! response head, the framing the connection chooses for its body
//! (`Content-Length`, chunked, or until close), and the chunked encoding
//! of body pieces (RFC 9112 sections 4, 6 and 7).

use std::fmt::Write as _;

use super::Version;
use super::head::{is_field_value, is_tchar};

/// How a response's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimit {
    /// No body follows the head (1xx, 204, 304, HEAD's answer, or a
    /// `Content-Length: 0`).
    None,
    /// `Content-Length`: this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (HTTP/1.0, or a closing connection).
    Close,
}

/// What the connection knows of the request when it writes a head.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub version: Version,
    pub keep_alive: bool,
    /// The request was HEAD: the head says how long the body would be,
    /// and no body is sent.
    pub head_only: bool,
}

/// Writes a response head into `out`; returns how the body is delimited
/// and whether the connection stays open afterwards. The handler's own
/// framing headers, and any header that would split the response, are
/// dropped.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(String, String)],
    length: Option<u64>,
    context: Context,
) -> (Delimit, bool) {
    let Context {
        version,
        mut keep_alive,
        head_only,
    } = context;
    // 1xx, 204 and 304 have no body; HEAD's response says how long the
    // body would be but sends none.
    let bodyless = status < 200 || status == 204 || status == 304;
    let mut head = String::with_capacity(256);
    let _ = write!(head, "HTTP/1.1 {status} {}\r\n", super::reason(status));
    for (name, value) in headers {
        if is_framing_header(name) || !is_valid_header(name, value) {
            continue;
        }
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let mut delimit = Delimit::None;
    if !bodyless {
        match length {
            Some(length) => {
                let _ = write!(head, "Content-Length: {length}\r\n");
                if !head_only && length > 0 {
                    delimit = Delimit::Length(length);
                }
            }
            None if head_only => {}
            None if keep_alive && version == Version::Http11 => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                delimit = Delimit::Chunked;
            }
            // The end of the body is the end of the connection.
            None => {
                keep_alive = false;
                delimit = Delimit::Close;
            }
        }
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    } else if version == Version::Http10 {
        // An HTTP/1.0 client keeps the connection only if told so (RFC
        // 9112 section C.2.2).
        head.push_str("Connection: keep-alive\r\n");
    }
    head.push_str("\r\n");
    out.extend_from_slice(head.as_bytes());
    (delimit, keep_alive)
}

/// Appends one chunk (`<hex size>\r\n<data>\r\n`) to `out`; nothing for
/// empty data, which would end the body.
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    // A fixed-width size: the frame's length does not depend on the data's.
    let _ = write!(SizeLine(out), "{:08x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and an empty trailer section: the end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

struct SizeLine<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for SizeLine<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
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
