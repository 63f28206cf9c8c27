//! Length-prefixed frames: a 4-byte little-endian length, then that many bytes.
//!
//! This is the framing of the course's integer adder: the client sends
//! `struct.pack('I', len(msg))` and then `msg`. On every machine the course
//! runs on, `'I'` is a little-endian `u32`, so that is what is written here.
//!
//! [`FrameDecoder`] is incremental: it accepts input cut anywhere (one byte at
//! a time, or many frames in one read) and hands out the payload in pieces as
//! they arrive, so a frame never has to fit in memory. The maximum length is
//! checked on the header alone, before a single payload byte is read.
//!
//! ```
//! use reseau_core::frame::{FrameDecoder, Item, encode_header};
//!
//! let mut wire = [0u8; 7];
//! wire[..4].copy_from_slice(&encode_header(3));
//! wire[4..].copy_from_slice(b"abc");
//!
//! let mut decoder = FrameDecoder::new(1024);
//! let mut input = &wire[..];
//! let mut payload = [0u8; 3];
//! let mut got = 0;
//! while !input.is_empty() {
//!     let (used, item) = decoder.decode(input).unwrap();
//!     input = &input[used..];
//!     match item {
//!         Some(Item::Start { len }) => assert_eq!(len, 3),
//!         Some(Item::Data(piece)) => {
//!             payload[got..got + piece.len()].copy_from_slice(piece);
//!             got += piece.len();
//!         }
//!         Some(Item::End) => break,
//!         None => {}
//!     }
//! }
//! assert_eq!(&payload, b"abc");
//! ```

use core::fmt;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 4;

/// The default limit on a frame's payload: 64 MiB.
///
/// Large enough for a request of ten million ints in the pickle format
/// (5 bytes each), small enough that a hostile header is refused at once.
pub const DEFAULT_MAX_FRAME: u32 = 64 * 1024 * 1024;

/// The header of a frame of `len` payload bytes.
pub const fn encode_header(len: u32) -> [u8; HEADER_LEN] {
    len.to_le_bytes()
}

/// A frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The header announced more payload than the limit allows.
    TooLarge {
        /// The length in the header.
        len: u32,
        /// The decoder's limit.
        max: u32,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the {max}-byte limit")
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// What [`FrameDecoder::decode`] found in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A header was read: a frame of `len` payload bytes begins.
    Start {
        /// Payload bytes that follow.
        len: u32,
    },
    /// A piece of the current frame's payload, borrowed from the input.
    /// Never empty.
    Data(&'a [u8]),
    /// The current frame's payload is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `have` bytes of the header are in `header`.
    Header { header: [u8; HEADER_LEN], have: u8 },
    /// `remaining` payload bytes are still to come.
    Payload { remaining: u32 },
    /// The payload is complete; `End` has not been handed out yet.
    End,
}

/// Incremental decoder of length-prefixed frames.
///
/// Call [`decode`](Self::decode) with the unread input; it returns how many
/// bytes it used and at most one [`Item`]. Call it again with the rest.
/// For each frame the items come in the order `Start`, zero or more `Data`,
/// `End`. A call that uses no bytes and returns no item needs more input.
///
/// After an error the decoder stays in error: the stream cannot be
/// re-synchronised, since the header was the only thing that said where the
/// next frame begins.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: u32,
    state: State,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` payload bytes.
    pub const fn new(max: u32) -> Self {
        FrameDecoder {
            max,
            state: State::Header {
                header: [0; HEADER_LEN],
                have: 0,
            },
            failed: None,
        }
    }

    /// The limit on a frame's payload.
    pub const fn max_frame(&self) -> u32 {
        self.max
    }

    /// True between frames: no byte of a next frame has been read.
    ///
    /// An end of stream here is clean; anywhere else it truncates a frame.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0, .. }) && self.failed.is_none()
    }

    /// Consumes bytes from `input`; returns how many, and what they made.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Item<'a>>), FrameError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        match &mut self.state {
            State::Header { header, have } => {
                let start = usize::from(*have);
                let wanted = HEADER_LEN - start;
                let take = wanted.min(input.len());
                let (Some(dst), Some(src)) =
                    (header.get_mut(start..start + take), input.get(..take))
                else {
                    return Ok((0, None));
                };
                dst.copy_from_slice(src);
                // `take` is at most 4.
                *have += take as u8;
                if usize::from(*have) < HEADER_LEN {
                    return Ok((take, None));
                }
                let len = u32::from_le_bytes(*header);
                if len > self.max {
                    let error = FrameError::TooLarge { len, max: self.max };
                    self.failed = Some(error);
                    return Err(error);
                }
                self.state = if len == 0 {
                    State::End
                } else {
                    State::Payload { remaining: len }
                };
                Ok((take, Some(Item::Start { len })))
            }
            State::Payload { remaining } => {
                let take = input.len().min(*remaining as usize);
                let Some(piece) = input.get(..take) else {
                    return Ok((0, None));
                };
                if take == 0 {
                    return Ok((0, None));
                }
                // `take` is at most `remaining`, a `u32`.
                *remaining -= take as u32;
                if *remaining == 0 {
                    self.state = State::End;
                }
                Ok((take, Some(Item::Data(piece))))
            }
            State::End => {
                self.state = State::Header {
                    header: [0; HEADER_LEN],
                    have: 0,
                };
                Ok((0, Some(Item::End)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; collects payloads into `out`
    /// (concatenated, frames separated by a `|`).
    fn run(
        decoder: &mut FrameDecoder,
        input: &[u8],
        step: usize,
        out: &mut heapless::Vec<u8, 256>,
    ) {
        for chunk in input.chunks(step) {
            let mut rest = chunk;
            loop {
                let (used, item) = decoder.decode(rest).unwrap();
                rest = &rest[used..];
                match item {
                    Some(Item::Data(d)) => out.extend_from_slice(d).unwrap(),
                    Some(Item::End) => out.push(b'|').unwrap(),
                    Some(Item::Start { .. }) => {}
                    None => break,
                }
            }
        }
    }

    #[test]
    fn any_chunking_gives_the_same_payloads() {
        let mut wire = heapless::Vec::<u8, 64>::new();
        for payload in [&b"hello"[..], b"", b"x", b"world!"] {
            wire.extend_from_slice(&encode_header(payload.len() as u32))
                .unwrap();
            wire.extend_from_slice(payload).unwrap();
        }
        for step in 1..=wire.len() {
            let mut decoder = FrameDecoder::new(100);
            let mut out = heapless::Vec::new();
            run(&mut decoder, &wire, step, &mut out);
            assert_eq!(&out[..], b"hello||x|world!|", "step {step}");
            assert!(decoder.is_idle());
        }
    }

    #[test]
    fn too_large_is_refused_from_the_header() {
        let mut decoder = FrameDecoder::new(10);
        assert_eq!(
            decoder.decode(&encode_header(10)),
            Ok((4, Some(Item::Start { len: 10 })))
        );
        let mut decoder = FrameDecoder::new(10);
        let error = decoder.decode(&encode_header(11)).unwrap_err();
        assert_eq!(error, FrameError::TooLarge { len: 11, max: 10 });
        assert_eq!(decoder.decode(b"more"), Err(error));
        let mut text = heapless::String::<64>::new();
        core::fmt::write(&mut text, format_args!("{error}")).unwrap();
        assert_eq!(text, "frame of 11 bytes is over the 10-byte limit");
    }

    #[test]
    fn idle_only_between_frames() {
        let mut decoder = FrameDecoder::new(10);
        assert!(decoder.is_idle());
        decoder.decode(&[1, 0]).unwrap();
        assert!(!decoder.is_idle());
    }
}
