//! Structured HTTP/1.1 requests: generated from fuzzer bytes, encoded the
//! way a conforming client may write them (any valid framing), and the
//! [`Event`] the connection must give back for each.

use arbitrary::Arbitrary;

use crate::http::Event;

/// Methods sent (the connection hands out any token; these are the ones
/// the site has).
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
];

/// Characters of a path segment (RFC 3986 `pchar`, without `%`).
const PCHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";

/// Characters of a header field name after its `X-`.
const TCHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";

/// A request as the fuzzer describes it.
#[derive(Debug, Arbitrary)]
pub struct RequestSpec {
    method: u8,
    /// Absolute form (`http://host/path`) instead of origin form.
    absolute: bool,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    http10: bool,
    /// Where the Host header goes among the others.
    host_at: u8,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    framing: BodySpec,
    expect_continue: bool,
    /// A `Connection: close` on the last request.
    close: bool,
}

/// How the body is delimited.
#[derive(Debug, Arbitrary)]
pub enum BodySpec {
    /// No framing header (only for an empty body; a body gets a length).
    None,
    /// `Content-Length`, with this many leading zeros.
    Length(u8),
    /// Chunked: each byte is a chunk size of 1 to 256 (cycled), with an
    /// extension per chunk when there is one, trailer fields after the
    /// last chunk, upper-case hex or not.
    Chunked {
        sizes: Vec<u8>,
        extensions: Vec<Option<(Vec<u8>, Vec<u8>)>>,
        trailers: Vec<(Vec<u8>, Vec<u8>)>,
        upper: bool,
    },
}

fn pick(set: &[u8], b: u8) -> u8 {
    set[usize::from(b) % set.len()]
}

fn token(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| char::from(pick(TCHARS, b)))
        .collect()
}

/// A field value: visible ASCII, spaces and tabs inside, a few non-ASCII
/// characters (sent as UTF-8, which is `obs-text` to HTTP); never blank
/// at either end.
fn value(bytes: &[u8], max: usize) -> String {
    let mut out: String = bytes
        .iter()
        .take(max)
        .map(|&b| match b {
            0x21..=0x7e => char::from(b),
            0x00..=0x0f => ' ',
            0x10..=0x17 => '\t',
            0x80..=0x9f => 'é',
            0xa0..=0xbf => '中',
            _ => char::from(0x21 + b % 0x5e),
        })
        .collect();
    let trimmed = out.trim_matches([' ', '\t']).len();
    if trimmed == 0 {
        out = "v".into();
    } else {
        out = out.trim_matches([' ', '\t']).to_owned();
    }
    out
}

impl RequestSpec {
    /// The bytes of the request and the event the connection must give.
    /// `last`: whether it is the last of the connection (only it may
    /// close the connection).
    pub fn encode(&self, last: bool) -> (Vec<u8>, Event) {
        let method = METHODS[usize::from(self.method) % METHODS.len()];
        let mut path = String::from("/");
        path.extend(self.path.iter().take(64).map(|&b| {
            // Some slashes, so that paths have segments.
            if b % 11 == 0 {
                '/'
            } else {
                char::from(pick(PCHARS, b))
            }
        }));
        if let Some(query) = &self.query {
            path.push('?');
            path.extend(query.iter().take(64).map(|&b| {
                if b % 13 == 0 {
                    '?'
                } else {
                    char::from(pick(PCHARS, b))
                }
            }));
        }
        let sent_target = if self.absolute {
            format!("http://example.org:8080{path}")
        } else {
            path.clone()
        };
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };

        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .take(16)
            .map(|(name, val)| (format!("X-{}", token(name, 24)), value(val, 48)))
            .collect();
        let host_at = usize::from(self.host_at) % (headers.len() + 1);
        headers.insert(host_at, ("Host".into(), "example.org".into()));
        if self.http10 && !(last && self.close) {
            headers.push(("Connection".into(), "keep-alive".into()));
        } else if last && self.close {
            headers.push(("Connection".into(), "close".into()));
        }
        let body = &self.body;
        // HTTP/1.0 has no chunked coding (RFC 9112, 6.1).
        let chunked = matches!(self.framing, BodySpec::Chunked { .. }) && !self.http10;
        if self.expect_continue && !self.http10 {
            headers.push(("Expect".into(), "100-continue".into()));
        }
        if chunked {
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
        } else {
            match self.framing {
                BodySpec::None if body.is_empty() => {}
                BodySpec::Length(zeros) => headers.push((
                    "Content-Length".into(),
                    format!("{}{}", "0".repeat(usize::from(zeros % 4)), body.len()),
                )),
                _ => headers.push(("Content-Length".into(), body.len().to_string())),
            }
        }

        let mut bytes = format!("{method} {sent_target} {version}\r\n").into_bytes();
        for (name, value) in &headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        if let BodySpec::Chunked {
            sizes,
            extensions,
            trailers,
            upper,
        } = &self.framing
            && chunked
        {
            let mut rest = &body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let size = sizes
                    .get(i % sizes.len().max(1))
                    .map_or(rest.len(), |&b| usize::from(b) + 1)
                    .min(rest.len());
                let (chunk, after) = rest.split_at(size);
                let mut line = if *upper {
                    format!("{size:X}")
                } else {
                    format!("{size:x}")
                };
                if let Some(Some((name, val))) = extensions.get(i) {
                    line.push_str(&format!(";{}={}", token(name, 8), token(val, 8)));
                }
                bytes.extend_from_slice(line.as_bytes());
                bytes.extend_from_slice(b"\r\n");
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
                rest = after;
                i += 1;
            }
            bytes.extend_from_slice(b"0\r\n");
            for (name, val) in trailers.iter().take(4) {
                bytes.extend_from_slice(
                    format!("X-{}: {}\r\n", token(name, 16), value(val, 32)).as_bytes(),
                );
            }
            bytes.extend_from_slice(b"\r\n");
        } else {
            bytes.extend_from_slice(body);
        }
        let event = Event::Request {
            method: method.to_owned(),
            target: path,
            version: version.to_owned(),
            headers,
            body: body.clone(),
        };
        (bytes, event)
    }
}
