//! reseau's own payload for the adder: postcard-encoded `i64`s, and replies
//! that carry a 64-bit sum or an error code.
//!
//! The course's format can only answer a sum in `0..2^32` and has no way to
//! say what went wrong. The native format fixes both, inside the same
//! frames. Its payloads start with [`MAGIC`], a byte that no pickle starts
//! with, so a server tells the two apart on the first payload byte.
//!
//! ```text
//! request payload: MAGIC VERSION value*     value = postcard i64 (zigzag varint)
//! reply payload:   MAGIC VERSION reply      reply = postcard Reply
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::writer::Writer;

/// The first byte of every native payload. Pickles start with `PROTO`
/// (0x80), `MARK` (`(`) or `EMPTY_LIST` (`]`); 0xFE is no pickle opcode.
pub const MAGIC: u8 = 0xFE;

/// The version of the native format, the second payload byte.
pub const VERSION: u8 = 1;

/// Longest postcard encoding of an `i64`: a 10-byte varint.
pub const MAX_VALUE_LEN: usize = 10;

/// What a native reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The sum of the request's ints.
    Sum(i64),
    /// The request was refused; the connection stays open.
    Error(ErrorCode),
}

/// Why a native request was refused. Encoded as its index (postcard's
/// varint enum tag): `Malformed` is 0, `Overflow` 1, `Version` 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A value is not a valid postcard `i64`, or the payload ends inside one.
    Malformed,
    /// The sum does not fit in an `i64`.
    Overflow,
    /// The payload's version byte is not [`VERSION`].
    Version,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::Malformed => "the request is not a list of postcard i64 values",
            ErrorCode::Overflow => "the sum does not fit in a 64-bit signed integer",
            ErrorCode::Version => "the request's native format version is not supported",
        })
    }
}

/// Bytes in the largest reply payload: magic, version, tag, 10-byte varint.
pub const MAX_REPLY_PAYLOAD: usize = 3 + MAX_VALUE_LEN;

/// Writes a reply payload (not its frame header) into `out`.
pub fn encode_reply(reply: Reply, out: &mut Writer<'_>) {
    out.put(&[MAGIC, VERSION]);
    let mut buf = [0u8; MAX_REPLY_PAYLOAD];
    // A Reply takes at most 11 of these 13 bytes: serializing cannot fail.
    if let Ok(bytes) = postcard::to_slice(&reply, &mut buf) {
        out.put(bytes);
    }
}

/// Reads a reply payload.
pub fn decode_reply(payload: &[u8]) -> Option<Reply> {
    match payload {
        [MAGIC, VERSION, rest @ ..] => match postcard::take_from_bytes::<Reply>(rest) {
            Ok((reply, [])) => Some(reply),
            _ => None,
        },
        _ => None,
    }
}

/// The adder's sum of 64-bit ints: exact while ints are added (a partial
/// sum may leave the i64 range and come back), and it must fit in an i64
/// at the end, as the native reply carries it. Every shape that sums ints
/// (the native payload, the web site's `/api/sum`) uses this rule.
///
/// ```
/// use reseau_core::adder::native::{ErrorCode, Sum};
///
/// let mut sum = Sum::new();
/// for n in [i64::MAX, 1, -2] {
///     sum.add(n);
/// }
/// assert_eq!(sum.finish(), Ok(i64::MAX - 1));
/// sum.add(2);
/// assert_eq!(sum.finish(), Err(ErrorCode::Overflow));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sum {
    total: i128,
    overflow: bool,
}

impl Sum {
    /// The empty sum, 0.
    pub const fn new() -> Self {
        Sum {
            total: 0,
            overflow: false,
        }
    }

    /// Adds one int.
    pub fn add(&mut self, value: i64) {
        // 2^64 ints of at most 2^63 each would be needed to overflow an
        // i128: stay checked all the same.
        match self.total.checked_add(i128::from(value)) {
            Some(total) => self.total = total,
            None => self.overflow = true,
        }
    }

    /// The sum, or [`ErrorCode::Overflow`] if it does not fit in an i64.
    pub fn finish(&self) -> Result<i64, ErrorCode> {
        if self.overflow {
            return Err(ErrorCode::Overflow);
        }
        i64::try_from(self.total).map_err(|_| ErrorCode::Overflow)
    }
}

/// Sums a native request payload as its bytes arrive.
///
/// ```
/// use reseau_core::adder::native::{NativeSummer, ErrorCode};
///
/// // MAGIC, VERSION, then 1, -2, 300 as zigzag varints.
/// let mut summer = NativeSummer::new();
/// summer.feed(&[0xFE, 0x01, 0x02, 0x03, 0xd8, 0x04]);
/// assert_eq!(summer.finish(), Ok(299));
/// ```
#[derive(Debug, Clone, Default)]
pub struct NativeSummer {
    decoder: NativeDecoder,
    sum: Sum,
}

impl NativeSummer {
    /// A summer at the start of a payload.
    pub const fn new() -> Self {
        NativeSummer {
            decoder: NativeDecoder::new(),
            sum: Sum::new(),
        }
    }

    /// How many ints have been read so far.
    pub fn count(&self) -> u64 {
        self.decoder.count()
    }

    /// Reads the next piece of the payload. After an error the rest is
    /// skipped: the frame still says where the next request begins.
    pub fn feed(&mut self, input: &[u8]) {
        let sum = &mut self.sum;
        self.decoder.feed(input, |value| sum.add(value));
    }

    /// The payload is complete: the sum, or the error to reply with.
    pub fn finish(&self) -> Result<i64, ErrorCode> {
        self.decoder.finish()?;
        self.sum.finish()
    }
}

/// Reads a native request payload as its bytes arrive, and hands each int
/// to a visitor: the format's rules, written once, under [`NativeSummer`]
/// and under anything else that wants the ints themselves.
///
/// ```
/// use reseau_core::adder::native::NativeDecoder;
///
/// let mut ints = [0i64; 3];
/// let mut n = 0;
/// let mut decoder = NativeDecoder::new();
/// decoder.feed(&[0xFE, 0x01, 0x02, 0x03, 0xd8, 0x04], |value| {
///     ints[n] = value;
///     n += 1;
/// });
/// assert_eq!(decoder.finish(), Ok(()));
/// assert_eq!(ints, [1, -2, 300]);
/// ```
#[derive(Debug, Clone)]
pub struct NativeDecoder {
    /// Payload bytes read so far, counting up to the end of the prefix.
    prefix: u8,
    value: [u8; MAX_VALUE_LEN],
    have: u8,
    count: u64,
    failed: Option<ErrorCode>,
}

impl Default for NativeDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeDecoder {
    /// A decoder at the start of a payload.
    pub const fn new() -> Self {
        NativeDecoder {
            prefix: 0,
            value: [0; MAX_VALUE_LEN],
            have: 0,
            count: 0,
            failed: None,
        }
    }

    /// How many ints have been read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Reads the next piece of the payload, calling `visit` with each int
    /// in order. After an error the rest is skipped: the frame still says
    /// where the next request begins.
    #[inline]
    pub fn feed(&mut self, input: &[u8], mut visit: impl FnMut(i64)) {
        for &byte in input {
            if self.failed.is_some() {
                return;
            }
            if self.prefix < 2 {
                let expected = if self.prefix == 0 { MAGIC } else { VERSION };
                if byte != expected {
                    self.failed = Some(if self.prefix == 0 {
                        ErrorCode::Malformed
                    } else {
                        ErrorCode::Version
                    });
                }
                self.prefix += 1;
                continue;
            }
            let Some(slot) = self.value.get_mut(usize::from(self.have)) else {
                self.failed = Some(ErrorCode::Malformed);
                return;
            };
            *slot = byte;
            self.have += 1;
            if byte & 0x80 == 0 {
                self.take_value(&mut visit);
            }
        }
    }

    #[inline(always)]
    fn take_value(&mut self, visit: &mut impl FnMut(i64)) {
        let bytes = self.value.get(..usize::from(self.have)).unwrap_or_default();
        self.have = 0;
        match postcard::from_bytes::<i64>(bytes) {
            Ok(value) => {
                self.count += 1;
                visit(value);
            }
            Err(_) => self.failed = Some(ErrorCode::Malformed),
        }
    }

    /// The error that stopped the decoding, as soon as it is found
    /// ([`finish`](Self::finish) also reports a payload that ends early).
    pub fn error(&self) -> Option<ErrorCode> {
        self.failed
    }

    /// The payload is complete: `Ok` if it was a whole list of ints, or
    /// the error to reply with ([`ErrorCode::Malformed`] or
    /// [`ErrorCode::Version`]).
    pub fn finish(&self) -> Result<(), ErrorCode> {
        if let Some(code) = self.failed {
            return Err(code);
        }
        if self.prefix < 2 || self.have != 0 {
            return Err(ErrorCode::Malformed);
        }
        Ok(())
    }
}

/// Writes a native request payload, one int at a time.
#[derive(Debug, Clone, Default)]
pub struct NativeEncoder;

impl NativeEncoder {
    /// Bytes that one call may write at most.
    pub const MAX_WRITE: usize = MAX_VALUE_LEN;

    /// Writes the prefix.
    pub fn begin(&mut self, out: &mut Writer<'_>) {
        out.put(&[MAGIC, VERSION]);
    }

    /// Writes one int.
    pub fn push(&mut self, value: i64, out: &mut Writer<'_>) {
        let mut buf = [0u8; MAX_VALUE_LEN];
        if let Ok(bytes) = postcard::to_slice(&value, &mut buf) {
            out.put(bytes);
        }
    }

    /// Writes as many of `values` as fit in `out` (each needs up to
    /// [`MAX_WRITE`](Self::MAX_WRITE) bytes of room); returns how many.
    pub fn push_i64s(&mut self, values: &[i64], out: &mut Writer<'_>) -> usize {
        let mut written = 0;
        for &value in values {
            if out.remaining() < Self::MAX_WRITE {
                break;
            }
            self.push(value, out);
            written += 1;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(payload: &[u8]) -> Result<i64, ErrorCode> {
        let mut summer = NativeSummer::new();
        summer.feed(payload);
        summer.finish()
    }

    #[test]
    fn values_and_errors() {
        assert_eq!(sum(&[MAGIC, VERSION]), Ok(0));
        assert_eq!(sum(&[MAGIC, VERSION, 0x01]), Ok(-1));
        assert_eq!(sum(&[MAGIC]), Err(ErrorCode::Malformed));
        assert_eq!(sum(&[MAGIC, 2, 0]), Err(ErrorCode::Version));
        assert_eq!(sum(&[MAGIC, VERSION, 0x80]), Err(ErrorCode::Malformed));
        assert_eq!(
            sum(&[
                MAGIC, VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Err(ErrorCode::Malformed)
        );
    }

    #[test]
    fn the_decoder_visits_every_int_in_order() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let mut encoder = NativeEncoder;
        encoder.begin(&mut w);
        let ints = [0, -1, 1, i64::MIN, i64::MAX, 300, -300];
        for value in ints {
            encoder.push(value, &mut w);
        }
        let n = w.len();
        // Split everywhere: the same ints come out.
        for cut in 0..=n {
            let mut seen = heapless::Vec::<i64, 8>::new();
            let mut decoder = NativeDecoder::new();
            decoder.feed(&buf[..cut], |v| seen.push(v).unwrap());
            decoder.feed(&buf[cut..n], |v| seen.push(v).unwrap());
            assert_eq!(decoder.finish(), Ok(()));
            assert_eq!(&seen[..], &ints[..], "cut at {cut}");
            assert_eq!(decoder.count(), ints.len() as u64);
        }
        // Errors are the summer's, without the sum's overflow.
        let mut decoder = NativeDecoder::new();
        decoder.feed(&[MAGIC, 2], |_| unreachable!());
        assert_eq!(decoder.finish(), Err(ErrorCode::Version));
        let mut decoder = NativeDecoder::new();
        decoder.feed(&[MAGIC, VERSION, 0x80], |_| unreachable!());
        assert_eq!(decoder.finish(), Err(ErrorCode::Malformed));
    }

    #[test]
    fn overflow_of_i64_is_reported() {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        let mut encoder = NativeEncoder;
        encoder.begin(&mut w);
        encoder.push(i64::MAX, &mut w);
        encoder.push(1, &mut w);
        let n = w.len();
        assert_eq!(sum(&buf[..n]), Err(ErrorCode::Overflow));
        // ...but a sum that comes back into range is fine.
        let mut w = Writer::new(&mut buf);
        encoder.begin(&mut w);
        encoder.push(i64::MAX, &mut w);
        encoder.push(1, &mut w);
        encoder.push(-2, &mut w);
        let n = w.len();
        assert_eq!(sum(&buf[..n]), Ok(i64::MAX - 1));
    }

    #[test]
    fn replies_round_trip() {
        for reply in [
            Reply::Sum(0),
            Reply::Sum(i64::MIN),
            Reply::Error(ErrorCode::Overflow),
        ] {
            let mut buf = [0u8; MAX_REPLY_PAYLOAD];
            let mut w = Writer::new(&mut buf);
            encode_reply(reply, &mut w);
            let n = w.len();
            assert_eq!(decode_reply(&buf[..n]), Some(reply));
        }
        let mut buf = [0u8; MAX_REPLY_PAYLOAD];
        let mut w = Writer::new(&mut buf);
        encode_reply(Reply::Sum(5), &mut w);
        assert_eq!(w.written(), &[MAGIC, VERSION, 0, 10]);
        assert_eq!(decode_reply(&[MAGIC, VERSION, 0, 10, 0]), None);
    }
}
