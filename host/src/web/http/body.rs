//! Request bodies: delimited by `Content-Length` or by the chunked coding
//! (RFC 9112 sections 6 and 7), each limited to
//! [`HttpLimits::max_body`]: a `Content-Length` over it is refused before
//! a byte of the body is read, a chunked body as soon as a chunk's size
//! would take it over. Trailer fields are checked, counted against the
//! head limit, and dropped.

use super::head::is_field_line;
use super::{Refusal, RefusalStatus};
use crate::web::config::HttpLimits;

/// Longest chunk-size line of a chunked body (size, extensions, CRLF).
pub const MAX_CHUNK_LINE: usize = 1024;

/// How the body of the current request is delimited, and how far it has
/// been read.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
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

impl Framing {
    /// The framing a head announces: `None` when there is no body. A
    /// `Content-Length` over the limit is a 413 at once.
    pub fn of(
        chunked: bool,
        length: Option<usize>,
        limits: HttpLimits,
    ) -> Result<Option<Framing>, Refusal> {
        if let Some(n) = length
            && n > limits.max_body
        {
            // usize::MAX stands for a length too large to parse.
            let at_least = if n == usize::MAX { "at least " } else { "" };
            return Err(Refusal::new(
                RefusalStatus::ContentTooLarge,
                format!(
                    "a body of {at_least}{n} bytes is over the {}-byte limit",
                    limits.max_body
                ),
            ));
        }
        Ok(match (chunked, length) {
            (true, _) => Some(Framing::ChunkSize),
            (false, Some(n)) if n > 0 => Some(Framing::Length(n)),
            _ => None,
        })
    }

    /// What to reserve for the body: what a `Content-Length` says, up to
    /// 64 KiB (a head alone must not make us reserve up to the limit).
    pub fn capacity(self) -> usize {
        match self {
            Framing::Length(n) => n.min(64 * 1024),
            _ => 0,
        }
    }
}

/// Moves body bytes from `input` into `body`, following `framing`; `line`
/// holds a partial chunk line. Returns the bytes taken and whether the
/// body is complete.
pub fn take_body(
    body: &mut Vec<u8>,
    framing: &mut Framing,
    line: &mut Vec<u8>,
    limits: HttpLimits,
    input: &[u8],
) -> Result<(usize, bool), Refusal> {
    let max_body = limits.max_body;
    let too_long = |framing: Framing| match framing {
        Framing::Trailers(_) => Refusal::new(
            RefusalStatus::HeaderFieldsTooLarge,
            format!(
                "the trailer section is over the {}-byte limit",
                limits.max_header
            ),
        ),
        _ => Refusal::bad("a chunk line is too long"),
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
                body.extend_from_slice(rest.get(..take).unwrap_or_default());
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
                        Some(size) if body.len().saturating_add(size) <= max_body => {
                            *framing = Framing::ChunkData(size);
                        }
                        Some(_) => {
                            return Err(Refusal::new(
                                RefusalStatus::ContentTooLarge,
                                format!("the body is over the {max_body}-byte limit"),
                            ));
                        }
                        None => return Err(Refusal::bad("malformed chunk size")),
                    },
                    Framing::ChunkEnd if text.is_empty() => *framing = Framing::ChunkSize,
                    Framing::ChunkEnd => {
                        return Err(Refusal::bad("chunk data longer than its size"));
                    }
                    // Trailer fields are checked, counted against the head
                    // limit, and dropped (RFC 9112 section 7.1.2).
                    Framing::Trailers(_) if text.is_empty() => return Ok((used, true)),
                    Framing::Trailers(so_far) => {
                        if !is_field_line(text) {
                            return Err(Refusal::bad("a malformed trailer field"));
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

/// A chunk-size line (RFC 9112 section 7.1): hex digits, then optional
/// `;extensions` (after optional spaces), which are ignored but may hold
/// no control character.
pub fn chunk_size(line: &[u8]) -> Option<usize> {
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
