//! The request head: where it ends, its request line (checked the moment
//! the line ends), its target, its fields, and the framing they announce
//! (RFC 9112 sections 2 to 6). Parsed by `httparse` once the blank line
//! that ends it has arrived, so a client that sends its head a byte at a
//! time costs one scan of each byte.

use super::{Refusal, RefusalStatus, Version};

/// Headers in one request head, at most: more is a 431.
pub const MAX_HEADERS: usize = 100;

/// The methods some resource of the site takes: the answer to `OPTIONS *`.
pub const SERVER_METHODS: &str = "GET, HEAD, POST, PUT, DELETE";

/// A parsed request head and what it says of the body and the connection.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    /// In origin form (`/a?b`), or `*` for `OPTIONS *`.
    pub target: String,
    pub version: Version,
    /// Every field, in order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// `Content-Length` (`usize::MAX`: too large a number to parse).
    pub length: Option<usize>,
    /// `Transfer-Encoding: chunked` (the only coding served).
    pub chunked: bool,
    /// Whether the connection stays open after this request's response.
    pub keep_alive: bool,
    /// `Expect: 100-continue` in HTTP/1.1.
    pub expect_continue: bool,
}

/// Parses a complete head (up to and with its blank line).
pub fn parse(bytes: &[u8]) -> Result<Head, Refusal> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refusal::bad("the request head is incomplete"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::new(
                RefusalStatus::HeaderFieldsTooLarge,
                format!("more than {MAX_HEADERS} headers"),
            ));
        }
        Err(httparse::Error::Version) => {
            return Err(Refusal::new(
                RefusalStatus::VersionNotSupported,
                "only HTTP/1.0 and HTTP/1.1 are served",
            ));
        }
        Err(error) => return Err(Refusal::bad(format!("malformed request: {error}"))),
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
            return Err(Refusal::bad(format!("header {name} holds a NUL byte")));
        }
        let value = String::from_utf8_lossy(header.value)
            .trim_matches([' ', '\t'])
            .to_string();
        if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 section 6.3: one Content-Length of 1*DIGIT.
            if length.is_some() {
                return Err(Refusal::bad("a repeated Content-Length header"));
            }
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::bad(format!(
                    "Content-Length {value:?} is not a length"
                )));
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
                return Err(Refusal::bad(format!("Host {value:?} is not a host[:port]")));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == Version::Http10 {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case("100-continue") {
                return Err(Refusal::new(
                    RefusalStatus::ExpectationFailed,
                    format!("Expect {value:?} is not supported"),
                ));
            }
            // RFC 9110 section 10.1.1: ignored in HTTP/1.0.
            expect_continue = version == Version::Http11;
        }
        headers.push((name.to_string(), value));
    }
    // RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one in
    // HTTP/1.0.
    if hosts > 1 {
        return Err(Refusal::bad("more than one Host header"));
    }
    if version == Version::Http11 && hosts == 0 {
        return Err(Refusal::bad("an HTTP/1.1 request needs a Host header"));
    }
    let chunked = match codings {
        None => false,
        Some(codings) => {
            check_codings(version, &codings, length.is_some())?;
            true
        }
    };
    Ok(Head {
        method,
        target,
        version,
        headers,
        length,
        chunked,
        keep_alive,
        expect_continue,
    })
}

/// Where a request head ends in `bytes` (just after its blank line).
pub fn head_end(bytes: &[u8]) -> Option<usize> {
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

/// A `tchar` of RFC 9110 section 5.6.2: what a token (a method, a header
/// name) is made of.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks a request line (without its LF) the moment it ends: `method SP
/// request-target SP HTTP-version` (RFC 9112 section 3), one space each.
/// A line without a version (HTTP/0.9's `GET /`) is refused at once
/// rather than waited on as the start of a head; a well-formed version
/// other than 1.0 and 1.1 is 505.
pub fn check_request_line(line: &[u8]) -> Result<(), Refusal> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&b'\r') {
        return Err(Refusal::bad("a bare CR in the request line"));
    }
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(Refusal::bad(if parts.len() == 2 {
            "the request line has no HTTP version (HTTP/0.9 is not served)"
        } else {
            "the request line is not `method target HTTP/x.y` with one space each"
        }));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(Refusal::bad("the method is not a token"));
    }
    if target.is_empty() || !target.iter().all(u8::is_ascii_graphic) {
        return Err(Refusal::bad(
            "the request target has bytes a URI cannot hold",
        ));
    }
    match *version {
        b"HTTP/1.0" | b"HTTP/1.1" => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Refusal::new(
                RefusalStatus::VersionNotSupported,
                "only HTTP/1.0 and HTTP/1.1 are served",
            ))
        }
        _ => Err(Refusal::bad("the HTTP version is not HTTP/x.y")),
    }
}

/// The path and query the site sees for a request target (RFC 9112
/// section 3.2): origin form (`/a?b`) as is; absolute form
/// (`http://host/a?b`, sent to proxies) reduced to it; the asterisk form
/// only for OPTIONS; the authority form only for CONNECT, which is not
/// served (501: this is not a proxy).
pub fn request_target(method: &str, target: &str) -> Result<String, Refusal> {
    if method == "CONNECT" {
        return Err(if is_valid_host(target) && target.contains(':') {
            Refusal::new(
                RefusalStatus::NotImplemented,
                "CONNECT is not served: this server is not a proxy",
            )
        } else {
            Refusal::bad("a CONNECT target is host:port")
        });
    }
    if target == "*" {
        return if method == "OPTIONS" {
            Ok(target.to_string())
        } else {
            Err(Refusal::bad("the target * is only for OPTIONS"))
        };
    }
    if target.starts_with('/') {
        return Ok(target.to_string());
    }
    let scheme_end = target.find("://").unwrap_or(0);
    let scheme = target.get(..scheme_end).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Refusal::bad(format!(
            "request target {target:?} is not a path"
        )));
    }
    let rest = target.get(scheme_end + 3..).unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    // RFC 9110 section 4.2.1: an empty host is invalid; section 4.2.4:
    // userinfo is treated as an error.
    if authority.is_empty() || authority.starts_with(':') || !is_valid_host(authority) {
        return Err(Refusal::bad(format!(
            "request target {target:?} has no valid host"
        )));
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
pub fn is_valid_host(value: &str) -> bool {
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
fn check_codings(version: Version, codings: &[String], has_length: bool) -> Result<(), Refusal> {
    if version == Version::Http10 {
        return Err(Refusal::bad("Transfer-Encoding in an HTTP/1.0 request"));
    }
    // Both would let two parsers see two different requests (request
    // smuggling): refused.
    if has_length {
        return Err(Refusal::bad(
            "Content-Length and Transfer-Encoding together are refused",
        ));
    }
    if codings.last().map(String::as_str) != Some("chunked") {
        return Err(Refusal::bad("Transfer-Encoding does not end with chunked"));
    }
    if codings.iter().filter(|coding| *coding == "chunked").count() > 1 {
        return Err(Refusal::bad("chunked is applied more than once"));
    }
    if let Some(other) = codings.iter().find(|coding| *coding != "chunked") {
        return Err(Refusal::new(
            RefusalStatus::NotImplemented,
            format!("Transfer-Encoding {other:?} is not supported (only chunked)"),
        ));
    }
    Ok(())
}

/// A field line (`name: value`, RFC 9112 section 5): a token, a colon
/// right after it, a value without control characters but tab.
pub fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = line.split_at(colon);
    !name.is_empty()
        && name.iter().all(|&b| is_tchar(b))
        && is_field_value(value.get(1..).unwrap_or_default())
}

/// A field value's bytes: no control character but tab (no CR, LF, NUL).
pub fn is_field_value(value: &[u8]) -> bool {
    !value
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_targets_become_paths() {
        let status = |method, target| request_target(method, target).unwrap_err().status;
        assert_eq!(request_target("GET", "http://h:8080/a?b").unwrap(), "/a?b");
        assert_eq!(request_target("GET", "HTTPS://h").unwrap(), "/");
        assert_eq!(request_target("GET", "http://h?q").unwrap(), "/?q");
        assert_eq!(status("GET", "*"), 400);
        assert_eq!(request_target("OPTIONS", "*").unwrap(), "*");
        assert_eq!(status("GET", "http://u@h/"), 400);
        assert_eq!(status("GET", "http:///a"), 400);
        assert_eq!(status("GET", "h:80"), 400);
        assert_eq!(status("CONNECT", "h:443"), 501);
    }
}
