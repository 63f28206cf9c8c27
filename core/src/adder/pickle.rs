//! The course's payload: `pickle.dumps(list_of_ints)`, read and written
//! without ever running the pickle machine.
//!
//! [`PickleSummer`] reads the opcodes that CPython's pickler uses for a list
//! of ints, protocols 0 to 5, and sums the ints as they go by. Every other
//! opcode (`GLOBAL`, `REDUCE`, strings, floats, nested containers, ...) is
//! refused as soon as its first byte is seen, without reading its argument
//! and without acting on it: a pickle that would run code on a Python server
//! is, here, a protocol error.
//!
//! The accepted grammar, with `INT` any of the integer opcodes:
//!
//! ```text
//! pickle := [PROTO n] list STOP          (n <= 5; FRAME may appear between opcodes)
//! list   := EMPTY_LIST memo* items*      (protocols 1 to 5)
//!         | MARK INT* LIST memo* items*  (protocol 0 writes MARK LIST)
//! items  := INT APPEND | MARK INT* APPENDS
//! memo   := PUT | BINPUT | LONG_BINPUT | MEMOIZE  (ignored: nothing refers back)
//! INT    := INT | LONG | BININT | BININT1 | BININT2 | LONG1 | LONG4 | NEWTRUE | NEWFALSE
//! ```
//!
//! Booleans count as 0 and 1, as they do in Python's `sum`. Each int must fit
//! in an `i128`; larger ones are refused. The sum is exact whatever the
//! partial sums do: only the total has to fit.
//!
//! Everything accepted here means what it means to CPython's C unpickler
//! (`_pickle`), and nothing it refuses is accepted: where the two differ,
//! this module refuses. So:
//!
//! - The text of `INT` and `LONG` (protocols 0 and 1) must be a canonical
//!   decimal: `0` or `-?[1-9][0-9]*`, and for `INT` also `00` and `01`
//!   (False and True, as CPython writes them). CPython reads `INT` with C's
//!   `strtol(text, 0)` and `LONG` with `int(text, 0)`, so `I010` is 8, `I08`
//!   and `L010L` are errors, and it takes spaces, `+`, `0x`, `0o`, `0b` and
//!   `_`: all refused here ([`PickleError::BadLiteral`]).
//! - A `FRAME` must not announce more bytes than the payload has up to its
//!   `STOP` (CPython checks that the bytes are there;
//!   [`PickleError::FrameOverrun`]).
//! - `LONG4`'s length is signed, as CPython reads it
//!   ([`PickleError::NegativeLength`]).
//! - A memo index (`PUT`, `BINPUT`, `LONG_BINPUT`) is at most
//!   [`MAX_MEMO_INDEX`]: CPython sizes its memo table from the index (twice
//!   it, in pointers), so a large one is a memory error there, or 64 GiB
//!   ([`PickleError::MemoIndex`]). `PUT`'s text is canonical, as above.
//! - CPython ignores bytes after `STOP`; they are refused here
//!   ([`PickleError::TrailingBytes`]), and so is everything CPython accepts
//!   but no pickler writes for a list of ints (a second `PROTO`, a memo
//!   entry for an int, ...). Every error names the byte offset where it is
//!   found, and does not depend on how the payload was cut into pieces.
//!
//! [`PickleEncoder`] writes what `pickle.dumps(ints, protocol=2)` writes,
//! byte for byte, one int at a time.

use core::fmt;

use crate::writer::Writer;

/// The pickle opcodes this module knows by name (for messages).
mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const INT: u8 = b'I';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const LONG: u8 = b'L';
    pub const BININT2: u8 = b'M';
    pub const APPEND: u8 = b'a';
    pub const APPENDS: u8 = b'e';
    pub const LIST: u8 = b'l';
    pub const EMPTY_LIST: u8 = b']';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const PROTO: u8 = 0x80;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;
}

/// The highest pickle protocol (Python 3.8 and later write up to 5).
pub const HIGHEST_PROTOCOL: u8 = 5;

/// The largest memo index accepted (`PUT`, `BINPUT`, `LONG_BINPUT`).
/// CPython's pickler memoizes only the list, at index 0.
pub const MAX_MEMO_INDEX: u32 = 65_535;

/// One opcode of an accepted payload, as [`PickleDecoder::feed_opcodes`]
/// hands it out: where it is, how long it is (its argument included) and
/// what its argument means. The explaining view of the same decoder that
/// sums: `reseau explain` and the traces print these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    /// Offset of the opcode byte in the payload.
    pub offset: u64,
    /// Bytes of the opcode and its argument.
    pub len: u64,
    /// The opcode byte ([`opcode_name`] names it).
    pub code: u8,
    /// What its argument says.
    pub argument: Argument,
}

/// The meaning of an opcode's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    /// No argument (`MARK`, `EMPTY_LIST`, `APPENDS`, `STOP`, ...).
    None,
    /// An int of the list (`BININT1`, `LONG1`, `NEWTRUE`, ...).
    Int(i128),
    /// `PROTO`'s protocol number.
    Protocol(u8),
    /// `FRAME`'s length: the bytes of the frame that follow it.
    Frame(u64),
    /// A memo index (`PUT`, `BINPUT`, `LONG_BINPUT`; `MEMOIZE` takes the
    /// next free one, which this decoder does not count: `None`).
    Memo(Option<u32>),
}

/// Whether `bytes` can begin a pickled list of ints, as far as they go:
/// `PROTO` with a protocol this module reads, protocol 0's `MARK`, or
/// protocol 1's `EMPTY_LIST`. `reseau explain` asks it to tell a payload
/// given alone from one behind its frame header.
pub fn could_start(bytes: &[u8]) -> bool {
    match bytes {
        [op::PROTO, protocol, ..] => *protocol <= HIGHEST_PROTOCOL,
        [op::PROTO] | [op::MARK, ..] | [op::EMPTY_LIST, ..] => true,
        _ => false,
    }
}

/// The name of a pickle opcode, for error messages.
pub fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown opcode",
    }
}

/// A pickle payload is not a list of ints this module accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickleError {
    /// An opcode outside the subset a list of ints needs (`REDUCE`,
    /// `GLOBAL`, a string, ...). Refused without reading its argument.
    Forbidden {
        /// The opcode byte.
        opcode: u8,
        /// Its offset in the payload.
        offset: u64,
    },
    /// An opcode of the subset, where a list of ints cannot have it
    /// (an `APPEND` with no list, a second list, ...).
    Misplaced {
        /// The opcode byte.
        opcode: u8,
        /// Its offset in the payload.
        offset: u64,
    },
    /// `PROTO` names a protocol above [`HIGHEST_PROTOCOL`].
    Protocol {
        /// The protocol number.
        protocol: u8,
    },
    /// A text `INT`, `LONG` or `PUT` argument is not a canonical decimal
    /// number (no leading zero, `+`, space, `_` or other base).
    BadLiteral {
        /// Offset of the opcode.
        offset: u64,
    },
    /// A `FRAME` announces more bytes than the payload has up to its `STOP`.
    FrameOverrun {
        /// Offset of the `STOP` opcode, the payload's last byte.
        offset: u64,
    },
    /// A `LONG4` length with its sign bit set (negative to CPython).
    NegativeLength {
        /// Offset of the opcode.
        offset: u64,
    },
    /// A memo index above [`MAX_MEMO_INDEX`].
    MemoIndex {
        /// Offset of the opcode.
        offset: u64,
    },
    /// An int does not fit in an `i128`.
    IntOutOfRange {
        /// Offset of the opcode.
        offset: u64,
    },
    /// Bytes follow the `STOP` opcode.
    TrailingBytes {
        /// Offset of the first byte after `STOP`.
        offset: u64,
    },
    /// The payload ended before `STOP`.
    Truncated,
    /// The list's total (not a partial sum) is outside the `i128` range.
    Overflow,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PickleError::Forbidden { opcode, offset } => write!(
                f,
                "pickle opcode {} (0x{opcode:02x}) at byte {offset} is not allowed: only a list of ints is accepted",
                opcode_name(opcode)
            ),
            PickleError::Misplaced { opcode, offset } => write!(
                f,
                "pickle opcode {} at byte {offset} does not fit a list of ints",
                opcode_name(opcode)
            ),
            PickleError::Protocol { protocol } => write!(
                f,
                "pickle protocol {protocol} is not supported (0 to {HIGHEST_PROTOCOL} are)"
            ),
            PickleError::BadLiteral { offset } => write!(
                f,
                "pickle text number at byte {offset} is not a canonical decimal integer (no leading zero, '+', space, '_' or other base)"
            ),
            PickleError::FrameOverrun { offset } => write!(
                f,
                "a pickle FRAME announces more bytes than the payload has: its STOP opcode is at byte {offset}"
            ),
            PickleError::NegativeLength { offset } => {
                write!(f, "pickle LONG4 at byte {offset} has a negative length")
            }
            PickleError::MemoIndex { offset } => write!(
                f,
                "pickle memo index at byte {offset} is over the limit of {MAX_MEMO_INDEX}"
            ),
            PickleError::IntOutOfRange { offset } => {
                write!(f, "pickle int at byte {offset} does not fit in 128 bits")
            }
            PickleError::TrailingBytes { offset } => {
                write!(f, "bytes after the pickle's STOP opcode, at byte {offset}")
            }
            PickleError::Truncated => f.write_str("pickle payload ends before its STOP opcode"),
            PickleError::Overflow => f.write_str("the sum does not fit in 128 bits"),
        }
    }
}

impl core::error::Error for PickleError {}

/// Where the pickle stack stands: which opcodes may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    /// Nothing yet.
    Empty,
    /// A MARK with ints above it, no list yet (protocol 0's `MARK LIST`).
    Marked,
    /// The list, alone.
    List,
    /// The list and one int, waiting for APPEND.
    ListItem,
    /// The list, a MARK and ints, waiting for APPENDS.
    ListMarked,
    /// STOP was read.
    Done,
}

/// An opcode's argument being gathered across input pieces.
#[derive(Debug, Clone)]
enum Arg {
    /// The next byte is an opcode.
    Opcode,
    /// `need` bytes of fixed-size argument, `have` of them in `bytes`.
    Fixed {
        opcode: u8,
        bytes: [u8; 8],
        have: u8,
        need: u8,
    },
    /// A text argument ending in `\n` (INT, LONG, PUT).
    Line {
        opcode: u8,
        text: heapless::Vec<u8, MAX_LINE, u8>,
    },
    /// The little-endian two's-complement bytes of LONG1 or LONG4.
    Long(LongBytes),
}

/// Longest text argument accepted: an `i128` has 39 digits, and a
/// canonical decimal no leading zero; leave room for a sign and an `L`.
const MAX_LINE: usize = 48;

/// Gathers a LONG1/LONG4 argument of any length in constant space.
///
/// The low 16 bytes make the `i128`; every byte above them must repeat the
/// sign, or the value does not fit.
#[derive(Debug, Clone, Copy)]
struct LongBytes {
    /// LONG1 or LONG4.
    opcode: u8,
    remaining: u32,
    index: u32,
    low: u128,
    high_all_zero: bool,
    high_all_ones: bool,
}

impl LongBytes {
    fn new(opcode: u8, len: u32) -> Self {
        LongBytes {
            opcode,
            remaining: len,
            index: 0,
            low: 0,
            high_all_zero: true,
            high_all_ones: true,
        }
    }

    fn push(&mut self, byte: u8) {
        if self.index < 16 {
            self.low |= u128::from(byte) << (8 * self.index);
        } else {
            self.high_all_zero &= byte == 0x00;
            self.high_all_ones &= byte == 0xff;
        }
        self.index += 1;
        self.remaining -= 1;
    }

    /// The value, once `remaining` is 0.
    fn value(&self) -> Option<i128> {
        let len = self.index;
        if len == 0 {
            return Some(0);
        }
        if len < 16 {
            // Sign-extend from `len` bytes.
            let shift = 128 - 8 * len;
            return Some(((self.low << shift) as i128) >> shift);
        }
        let value = self.low as i128;
        let fits = if len == 16 {
            true
        } else if value < 0 {
            self.high_all_ones
        } else {
            self.high_all_zero
        };
        fits.then_some(value)
    }
}

/// Sums a pickled list of ints as its bytes arrive.
///
/// Feed the payload with [`feed`](Self::feed), in pieces of any size, then
/// call [`finish`](Self::finish). The first error is final. Memory is
/// constant: the biggest thing held is a 48-byte text argument.
///
/// ```
/// use reseau_core::adder::pickle::PickleSummer;
///
/// // pickle.dumps([1, 2, 300], protocol=4)
/// let payload = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02M,\x01e.";
/// let mut summer = PickleSummer::new();
/// for byte in payload.chunks(1) {
///     summer.feed(byte).unwrap();
/// }
/// assert_eq!(summer.finish(), Ok(303));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PickleSummer {
    decoder: PickleDecoder,
    sum: ExactSum,
}

impl PickleSummer {
    /// A summer at the start of a payload.
    pub const fn new() -> Self {
        PickleSummer {
            decoder: PickleDecoder::new(),
            sum: ExactSum::new(),
        }
    }

    /// How many ints have been read so far.
    pub fn count(&self) -> u64 {
        self.decoder.count()
    }

    /// Reads the next piece of the payload.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), PickleError> {
        self.decoder.feed_visitor(input, &mut self.sum)
    }

    /// The payload is complete: the sum of the list, or why there is none.
    ///
    /// The sum is exact, as Python's `sum` is: partial sums may leave the
    /// `i128` range and come back (the running sum has 192 bits); only a
    /// total outside it is [`PickleError::Overflow`].
    pub fn finish(&self) -> Result<i128, PickleError> {
        self.decoder.finish()?;
        self.sum.total().ok_or(PickleError::Overflow)
    }
}

/// The exact sum of any number of `i128`s, in constant space.
///
/// Python's `sum` never overflows, so the course's server answers
/// `[2**127 - 1, 2**127 - 1, -(2**127 - 1), -(2**127 - 1), 5]` with 5. A
/// checked `i128` would refuse it at the second int. Here the running sum
/// is a 192-bit two's-complement number, `high * 2^128 + low`: each value
/// is sign-extended to 192 bits and added with carry, three machine adds.
/// A payload holds fewer than 2^32 ints, so `high` stays far inside an
/// `i64` and partial sums can never be lost: the total is exact for every
/// list whose ints are each within `i128` (the decoder's per-int limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExactSum {
    low: u128,
    high: i64,
}

impl ExactSum {
    /// Zero.
    pub(crate) const fn new() -> Self {
        ExactSum { low: 0, high: 0 }
    }

    /// Adds `value` exactly.
    #[inline]
    pub(crate) fn add(&mut self, value: i128) {
        let (low, carry) = self.low.overflowing_add(value as u128);
        self.low = low;
        // The sign extension of `value` (all ones if negative), plus the
        // carry out of the low 128 bits.
        self.high = self
            .high
            .wrapping_add((value >> 127) as i64)
            .wrapping_add(i64::from(carry));
    }

    /// The sum, if it fits in an `i128`: the 192 bits are the sign
    /// extension of their low 128.
    pub(crate) const fn total(&self) -> Option<i128> {
        let low = self.low as i128;
        if self.high == (low >> 127) as i64 {
            Some(low)
        } else {
            None
        }
    }
}

/// Reads a pickled list of ints as its bytes arrive, and hands each int to
/// a visitor: the grammar of this module, written once, under
/// [`PickleSummer`] and under anything else that wants the ints themselves.
///
/// Feed the payload with [`feed`](Self::feed), in pieces of any size, then
/// call [`finish`](Self::finish). The first error is final, including an
/// error the visitor returns (it stops the decoding). Memory is constant.
///
/// ```
/// use reseau_core::adder::pickle::PickleDecoder;
///
/// // pickle.dumps([1, 2, 300], protocol=2)
/// let payload = b"\x80\x02]q\x00(K\x01K\x02M,\x01e.";
/// let mut ints = [0i128; 3];
/// let mut n = 0;
/// let mut decoder = PickleDecoder::new();
/// for piece in payload.chunks(3) {
///     decoder
///         .feed(piece, |value| {
///             ints[n] = value;
///             n += 1;
///             Ok(())
///         })
///         .unwrap();
/// }
/// assert_eq!(decoder.finish(), Ok(()));
/// assert_eq!(ints, [1, 2, 300]);
/// ```
#[derive(Debug, Clone)]
pub struct PickleDecoder {
    stack: Stack,
    arg: Arg,
    /// Offset of the next byte in the payload.
    offset: u64,
    /// Offset of the opcode whose argument is being read.
    opcode_offset: u64,
    count: u64,
    failed: Option<PickleError>,
    /// Where the FRAME that reaches furthest ends (0: no FRAME yet).
    frame_end: u64,
}

impl Default for PickleDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PickleDecoder {
    /// A decoder at the start of a payload.
    pub const fn new() -> Self {
        PickleDecoder {
            stack: Stack::Empty,
            arg: Arg::Opcode,
            offset: 0,
            opcode_offset: 0,
            count: 0,
            failed: None,
            frame_end: 0,
        }
    }

    /// How many ints have been read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Reads the next piece of the payload, calling `visit` with each int
    /// in the list's order. An error from `visit` stops the decoding and
    /// is returned, now and by every later call.
    pub fn feed<F>(&mut self, input: &[u8], mut visit: F) -> Result<(), PickleError>
    where
        F: FnMut(i128) -> Result<(), PickleError>,
    {
        self.feed_visitor(input, &mut visit)
    }

    /// Reads the next piece of the payload like [`feed`](Self::feed), but
    /// hands out every opcode it accepts, in order, with its place and
    /// meaning: what `reseau explain` prints. The rules are the same (it
    /// is the same decoder); only the fast paths that read runs of ints
    /// at once are left out, so it is slower than `feed`.
    ///
    /// ```
    /// use reseau_core::adder::pickle::{Argument, PickleDecoder, opcode_name};
    ///
    /// // pickle.dumps(12), as the course's slides print it: b'\x80\x03K\x0c.'
    /// // is no list; pickle.dumps([12], protocol=3) is:
    /// let payload = b"\x80\x03]q\x00K\x0ca.";
    /// let mut names = Vec::new();
    /// let mut decoder = PickleDecoder::new();
    /// decoder
    ///     .feed_opcodes(payload, |op| names.push((op.offset, opcode_name(op.code), op.argument)))
    ///     .unwrap();
    /// assert_eq!(decoder.finish(), Ok(()));
    /// assert_eq!(names[0], (0, "PROTO", Argument::Protocol(3)));
    /// assert_eq!(names[3], (5, "BININT1", Argument::Int(12)));
    /// assert_eq!(names.len(), 6); // ... APPEND, STOP
    /// ```
    pub fn feed_opcodes<F>(&mut self, input: &[u8], visit: F) -> Result<(), PickleError>
    where
        F: FnMut(Opcode),
    {
        self.feed_visitor(input, &mut Opcodes(visit))
    }

    /// [`feed`](Self::feed), for any [`Visitor`].
    fn feed_visitor<V: Visitor>(&mut self, input: &[u8], visit: &mut V) -> Result<(), PickleError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let result = self.feed_inner(input, visit);
        if let Err(error) = result {
            self.failed = Some(error);
        }
        result
    }

    /// The payload is complete: `Ok` if it was a whole list of ints.
    pub fn finish(&self) -> Result<(), PickleError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        match (self.stack, &self.arg) {
            (Stack::Done, Arg::Opcode) => Ok(()),
            _ => Err(PickleError::Truncated),
        }
    }

    fn feed_inner<V: Visitor>(
        &mut self,
        mut input: &[u8],
        visit: &mut V,
    ) -> Result<(), PickleError> {
        while let Some((&byte, rest)) = input.split_first() {
            match &mut self.arg {
                Arg::Opcode => {
                    self.opcode_offset = self.offset;
                    // Fast path: a small int whose argument is all here.
                    if !V::OPCODES
                        && let Some(used) = self.fast_int(input, visit)?
                    {
                        input = input.get(used..).unwrap_or_default();
                        self.offset += used as u64;
                        // Inside `MARK ... APPENDS` (or protocol 0's `MARK
                        // ... LIST`) more ints leave the stack as it is:
                        // read the whole run of them in a tight loop.
                        if matches!(self.stack, Stack::ListMarked | Stack::Marked) {
                            let used = self.int_run(input, visit)?;
                            input = input.get(used..).unwrap_or_default();
                        }
                        continue;
                    }
                    self.opcode(byte, visit)?;
                }
                Arg::Fixed {
                    opcode,
                    bytes,
                    have,
                    need,
                } => {
                    if let Some(slot) = bytes.get_mut(usize::from(*have)) {
                        *slot = byte;
                    }
                    *have += 1;
                    if *have == *need {
                        let (opcode, bytes, need) = (*opcode, *bytes, *need);
                        self.arg = Arg::Opcode;
                        self.fixed_arg(opcode, bytes, need, visit)?;
                    }
                }
                Arg::Line { opcode, text } => {
                    if byte == b'\n' {
                        let opcode = *opcode;
                        let text = core::mem::take(text);
                        self.arg = Arg::Opcode;
                        self.line_arg(opcode, &text, visit)?;
                    } else if text.push(byte).is_err() {
                        return Err(match opcode {
                            &mut op::PUT => PickleError::BadLiteral {
                                offset: self.opcode_offset,
                            },
                            _ => PickleError::IntOutOfRange {
                                offset: self.opcode_offset,
                            },
                        });
                    }
                }
                Arg::Long(long) => {
                    long.push(byte);
                    if long.remaining == 0 {
                        let value = long.value().ok_or(PickleError::IntOutOfRange {
                            offset: self.opcode_offset,
                        })?;
                        let opcode = long.opcode;
                        self.arg = Arg::Opcode;
                        self.int(value, opcode, visit)?;
                    }
                }
            }
            input = rest;
            self.offset += 1;
        }
        Ok(())
    }

    /// Reads BININT1, BININT2 or BININT straight from the input when the
    /// whole opcode is there: the common case, without the byte-at-a-time
    /// argument machinery. Returns the bytes used.
    fn fast_int<V: Visitor>(
        &mut self,
        input: &[u8],
        visit: &mut V,
    ) -> Result<Option<usize>, PickleError> {
        let Some((value, used)) = small_int(input) else {
            return Ok(None);
        };
        let opcode = input.first().copied().unwrap_or_default();
        self.int(i128::from(value), opcode, visit)?;
        Ok(Some(used))
    }

    /// Reads the run of BININT1, BININT2 and BININT opcodes at the start of
    /// `input`, inside a MARK, where an int changes nothing but the count:
    /// CPython writes up to 1000 of them between `MARK` and `APPENDS`. The
    /// offset and count stay in registers until the run ends, and a visitor
    /// that wants only the total ([`Visitor::TOTAL_ONLY`]) gets the run's
    /// sum, added in an `i64`: this loop is several times faster than one
    /// opcode at a time through [`feed_inner`](Self::feed_inner). Returns the
    /// bytes used; stops at anything else (another opcode, or an int cut by
    /// the input's end), which the general path then reads.
    #[inline]
    fn int_run<V: Visitor>(&mut self, input: &[u8], visit: &mut V) -> Result<usize, PickleError> {
        // `pos` indexes 5-byte windows (the longest small int): one bounds
        // check an int. A run's last ints, closer than 5 bytes to the
        // input's end, are left to the general path.
        let mut pos = 0;
        let mut count = 0u64;
        let result = if V::TOTAL_ONLY {
            // Each int takes 2 bytes at least and is within i32, so the
            // total of a run read from at most 2^32 bytes stays under 2^62:
            // the i64 cannot overflow.
            // (`u32::MAX as usize` is the whole slice on 32-bit targets.)
            let input = input.get(..u32::MAX as usize).unwrap_or(input);
            let mut total = 0i64;
            let mut ints = 0u64;
            while let Some((value, used)) = small_int_at(input, pos) {
                total += value;
                pos += used;
                ints += 1;
                // CPython writes similar ints with the same opcode: while
                // the next ones share this one's, their places are known in
                // advance, and eight are read at once.
                let opcode = match used {
                    2 => op::BININT1,
                    3 => op::BININT2,
                    _ => op::BININT,
                };
                if input.get(pos) != Some(&opcode) {
                    continue;
                }
                let (sum, n) = match used {
                    2 => sum_uniform::<2, 16>(input, pos, opcode),
                    3 => sum_uniform::<3, 24>(input, pos, opcode),
                    _ => sum_uniform::<5, 40>(input, pos, opcode),
                };
                total += sum;
                pos += n * used;
                ints += n as u64;
            }
            count = ints;
            visit.int(i128::from(total))
        } else {
            loop {
                let Some((value, used)) = small_int_at(input, pos) else {
                    break Ok(());
                };
                if let Err(error) = visit.int(i128::from(value)) {
                    break Err(error);
                }
                count += 1;
                pos += used;
            }
        };
        self.count += count;
        self.offset += pos as u64;
        result.map(|()| pos)
    }

    /// A byte after STOP. [`int`](Self::int) says so too, for the ints of
    /// the fast path (which does not go through [`opcode`](Self::opcode)):
    /// the reason must not depend on where the input was cut.
    fn trailing(&self) -> PickleError {
        PickleError::TrailingBytes {
            offset: self.opcode_offset,
        }
    }

    fn misplaced(&self, opcode: u8) -> PickleError {
        PickleError::Misplaced {
            opcode,
            offset: self.opcode_offset,
        }
    }

    fn expect_arg(&mut self, opcode: u8, need: u8) {
        self.arg = Arg::Fixed {
            opcode,
            bytes: [0; 8],
            have: 0,
            need,
        };
    }

    fn opcode<V: Visitor>(&mut self, opcode: u8, visit: &mut V) -> Result<(), PickleError> {
        if self.stack == Stack::Done {
            return Err(self.trailing());
        }
        match opcode {
            op::PROTO if self.offset == 0 => self.expect_arg(opcode, 1),
            op::FRAME => self.expect_arg(opcode, 8),
            op::BININT1 | op::BINPUT | op::LONG1 => self.expect_arg(opcode, 1),
            op::BININT2 => self.expect_arg(opcode, 2),
            op::BININT | op::LONG_BINPUT | op::LONG4 => self.expect_arg(opcode, 4),
            op::INT | op::LONG | op::PUT => {
                self.arg = Arg::Line {
                    opcode,
                    text: heapless::Vec::new(),
                }
            }
            op::NEWTRUE => self.int(1, opcode, visit)?,
            op::NEWFALSE => self.int(0, opcode, visit)?,
            op::MEMOIZE => self.memo(opcode, None, visit)?,
            op::MARK => {
                self.stack = match self.stack {
                    Stack::Empty => Stack::Marked,
                    Stack::List => Stack::ListMarked,
                    _ => return Err(self.misplaced(opcode)),
                }
            }
            op::EMPTY_LIST => {
                self.stack = match self.stack {
                    Stack::Empty => Stack::List,
                    _ => return Err(self.misplaced(opcode)),
                }
            }
            op::LIST => {
                self.stack = match self.stack {
                    Stack::Marked => Stack::List,
                    _ => return Err(self.misplaced(opcode)),
                }
            }
            op::APPEND => {
                self.stack = match self.stack {
                    Stack::ListItem => Stack::List,
                    _ => return Err(self.misplaced(opcode)),
                }
            }
            op::APPENDS => {
                self.stack = match self.stack {
                    Stack::ListMarked => Stack::List,
                    _ => return Err(self.misplaced(opcode)),
                }
            }
            op::STOP => {
                self.stack = match self.stack {
                    Stack::List => Stack::Done,
                    _ => return Err(self.misplaced(opcode)),
                };
                // The payload ends here (bytes after STOP are refused): every
                // FRAME must end here or before.
                if self.frame_end > self.opcode_offset + 1 {
                    return Err(PickleError::FrameOverrun {
                        offset: self.opcode_offset,
                    });
                }
            }
            op::PROTO => return Err(self.misplaced(opcode)),
            _ => {
                return Err(PickleError::Forbidden {
                    opcode,
                    offset: self.opcode_offset,
                });
            }
        }
        if matches!(
            opcode,
            op::MARK | op::EMPTY_LIST | op::LIST | op::APPEND | op::APPENDS | op::STOP
        ) {
            self.emit(visit, opcode, Argument::None);
        }
        Ok(())
    }

    fn fixed_arg<V: Visitor>(
        &mut self,
        opcode: u8,
        bytes: [u8; 8],
        need: u8,
        visit: &mut V,
    ) -> Result<(), PickleError> {
        let [a, b, c, d, ..] = bytes;
        match opcode {
            op::PROTO if a > HIGHEST_PROTOCOL => {
                return Err(PickleError::Protocol { protocol: a });
            }
            op::PROTO => self.emit(visit, opcode, Argument::Protocol(a)),
            op::FRAME => {
                // The frame's bytes start after this, the argument's last.
                let len = u64::from_le_bytes(bytes);
                let end = (self.offset + 1).saturating_add(len);
                self.frame_end = self.frame_end.max(end);
                self.emit(visit, opcode, Argument::Frame(len));
            }
            op::BINPUT => self.memo(opcode, Some(u32::from(a)), visit)?,
            op::LONG_BINPUT => {
                let index = u32::from_le_bytes([a, b, c, d]);
                if index > MAX_MEMO_INDEX {
                    return Err(PickleError::MemoIndex {
                        offset: self.opcode_offset,
                    });
                }
                self.memo(opcode, Some(index), visit)?
            }
            op::BININT1 => self.int(i128::from(a), opcode, visit)?,
            op::BININT2 => self.int(i128::from(u16::from_le_bytes([a, b])), opcode, visit)?,
            op::BININT => self.int(i128::from(i32::from_le_bytes([a, b, c, d])), opcode, visit)?,
            op::LONG1 | op::LONG4 => {
                let len = if need == 1 {
                    u32::from(a)
                } else {
                    u32::from_le_bytes([a, b, c, d])
                };
                // CPython reads LONG4's length as a signed int.
                if len > i32::MAX as u32 {
                    return Err(PickleError::NegativeLength {
                        offset: self.opcode_offset,
                    });
                }
                if len == 0 {
                    self.int(0, opcode, visit)?;
                } else {
                    self.arg = Arg::Long(LongBytes::new(opcode, len));
                }
            }
            _ => return Err(self.misplaced(opcode)),
        }
        Ok(())
    }

    fn line_arg<V: Visitor>(
        &mut self,
        opcode: u8,
        text: &[u8],
        visit: &mut V,
    ) -> Result<(), PickleError> {
        let bad = PickleError::BadLiteral {
            offset: self.opcode_offset,
        };
        let out_of_range = PickleError::IntOutOfRange {
            offset: self.opcode_offset,
        };
        match (opcode, text) {
            (op::PUT, _) => {
                let index = match parse_decimal(text) {
                    Some(Some(index)) if index >= 0 => index,
                    Some(None) => i128::MAX,
                    _ => return Err(bad),
                };
                if index > i128::from(MAX_MEMO_INDEX) {
                    return Err(PickleError::MemoIndex {
                        offset: self.opcode_offset,
                    });
                }
                // At most MAX_MEMO_INDEX (checked above): it fits.
                self.memo(opcode, u32::try_from(index).ok(), visit)
            }
            // What CPython's pickler writes for False and True (`strtol`
            // reads them as 0 and 1, and a 2-digit 0 or 1 is a bool).
            (op::INT, b"00") => self.int(0, opcode, visit),
            (op::INT, b"01") => self.int(1, opcode, visit),
            _ => {
                // Python 3 writes LONG as `L123L\n`; the trailing L is optional.
                let text = match (opcode, text.split_last()) {
                    (op::LONG, Some((b'L', digits))) => digits,
                    _ => text,
                };
                let value = parse_decimal(text).ok_or(bad)?.ok_or(out_of_range)?;
                self.int(value, opcode, visit)
            }
        }
    }

    fn memo<V: Visitor>(
        &mut self,
        opcode: u8,
        index: Option<u32>,
        visit: &mut V,
    ) -> Result<(), PickleError> {
        match self.stack {
            Stack::List => {
                self.emit(visit, opcode, Argument::Memo(index));
                Ok(())
            }
            _ => Err(self.misplaced(opcode)),
        }
    }

    /// Hands the opcode that ends at the current byte to a visitor that
    /// wants every opcode (a no-op for the others).
    #[inline(always)]
    fn emit<V: Visitor>(&self, visit: &mut V, code: u8, argument: Argument) {
        if V::OPCODES {
            visit.opcode(Opcode {
                offset: self.opcode_offset,
                len: self.offset + 1 - self.opcode_offset,
                code,
                argument,
            });
        }
    }

    fn int<V: Visitor>(
        &mut self,
        value: i128,
        opcode: u8,
        visit: &mut V,
    ) -> Result<(), PickleError> {
        self.stack = match self.stack {
            Stack::Marked => Stack::Marked,
            Stack::List => Stack::ListItem,
            Stack::ListMarked => Stack::ListMarked,
            Stack::Done => return Err(self.trailing()),
            _ => return Err(self.misplaced(opcode)),
        };
        visit.int(value)?;
        self.count += 1;
        self.emit(visit, opcode, Argument::Int(value));
        Ok(())
    }
}

/// The small int at `input[pos..]`, if at least 5 bytes (the longest small
/// int) are there: the loop of [`PickleDecoder::int_run`], where one bounds
/// check covers the opcode and its argument.
#[inline(always)]
fn small_int_at(input: &[u8], pos: usize) -> Option<(i64, usize)> {
    let &[opcode, a, b, c, d] = input.get(pos..)?.first_chunk::<5>()?;
    match opcode {
        op::BININT1 => Some((i64::from(a), 2)),
        op::BININT2 => Some((i64::from(u16::from_le_bytes([a, b])), 3)),
        op::BININT => Some((i64::from(i32::from_le_bytes([a, b, c, d])), 5)),
        _ => None,
    }
}

/// Sums the ints at `input[pos..]` a group at a time while a group is all
/// `opcode` (of `LEN` bytes each, its argument included; a group is `CHUNK`
/// bytes, a multiple of `LEN`): with the stride fixed, no load waits on the
/// previous int's length. Returns their sum and count; stops before the
/// first group that is not all `opcode` or not all in `input`.
#[inline(always)]
fn sum_uniform<const LEN: usize, const CHUNK: usize>(
    input: &[u8],
    mut pos: usize,
    opcode: u8,
) -> (i64, usize) {
    let (mut total, mut ints) = (0i64, 0usize);
    while let Some(chunk) = input.get(pos..).and_then(<[u8]>::first_chunk::<CHUNK>) {
        let mut same = true;
        let mut sum = 0i64;
        for int in chunk.chunks_exact(LEN) {
            same &= int.first() == Some(&opcode);
            sum += match int {
                [_, a] => i64::from(*a),
                [_, a, b] => i64::from(u16::from_le_bytes([*a, *b])),
                [_, a, b, c, d] => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
                _ => 0,
            };
        }
        if !same {
            break;
        }
        total += sum;
        ints += CHUNK / LEN;
        pos += CHUNK;
    }
    (total, ints)
}

/// A BININT1, BININT2 or BININT opcode whose argument is all in `input`:
/// its value and length.
#[inline(always)]
fn small_int(input: &[u8]) -> Option<(i64, usize)> {
    match input {
        [op::BININT1, a, ..] => Some((i64::from(*a), 2)),
        [op::BININT2, a, b, ..] => Some((i64::from(u16::from_le_bytes([*a, *b])), 3)),
        [op::BININT, a, b, c, d, ..] => Some((i64::from(i32::from_le_bytes([*a, *b, *c, *d])), 5)),
        _ => None,
    }
}

/// What [`PickleDecoder`] hands the ints to: any `FnMut(i128)` closure
/// (each int, in order), or an [`ExactSum`], which only wants their total
/// and so may be given the sum of a run of ints at once.
trait Visitor {
    /// Whether the ints may be handed over summed, a run at a time.
    const TOTAL_ONLY: bool = false;

    /// Whether every opcode is wanted: the fast paths, which read runs of
    /// ints without stopping at each, are then left out.
    const OPCODES: bool = false;

    /// Takes the next int (or, if `TOTAL_ONLY`, the sum of the next ints).
    fn int(&mut self, value: i128) -> Result<(), PickleError>;

    /// Takes the opcode just accepted (only called if `OPCODES`).
    fn opcode(&mut self, _opcode: Opcode) {}
}

/// The visitor of [`PickleDecoder::feed_opcodes`]: every opcode, the
/// ints among them.
struct Opcodes<F>(F);

impl<F: FnMut(Opcode)> Visitor for Opcodes<F> {
    const OPCODES: bool = true;

    fn int(&mut self, _value: i128) -> Result<(), PickleError> {
        Ok(())
    }

    fn opcode(&mut self, opcode: Opcode) {
        (self.0)(opcode)
    }
}

impl<F: FnMut(i128) -> Result<(), PickleError>> Visitor for F {
    #[inline(always)]
    fn int(&mut self, value: i128) -> Result<(), PickleError> {
        self(value)
    }
}

impl Visitor for ExactSum {
    const TOTAL_ONLY: bool = true;

    #[inline(always)]
    fn int(&mut self, value: i128) -> Result<(), PickleError> {
        self.add(value);
        Ok(())
    }
}

/// Parses a canonical decimal, `0` or `-?[1-9][0-9]*`: what CPython reads
/// as the same number whether as C's `strtol(text, 0)`, `int(text, 0)` or
/// `int(text, 10)`. `None`: not one; `Some(None)`: out of range.
fn parse_decimal(text: &[u8]) -> Option<Option<i128>> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let canonical = match digits {
        [b'0'] => !negative,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    let mut value: i128 = 0;
    for &digit in digits {
        let digit = i128::from(digit - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(digit)
            } else {
                v.checked_add(digit)
            }
        });
        match next {
            Some(next) => value = next,
            None => return Some(None),
        }
    }
    Some(Some(value))
}

/// Writes a list of ints as `pickle.dumps(ints, protocol=2)` does, one int
/// at a time, so a list of any length streams through a small buffer.
///
/// Protocol 2 is read by every Python since 2.3 and needs no `FRAME`
/// opcodes, so the output does not depend on the length of the list.
/// CPython writes a one-item list as `item APPEND` and longer lists in
/// batches of 1000 as `MARK items APPENDS`; to match it byte for byte, the
/// first int is held back until the second arrives or the list ends.
#[derive(Debug, Clone)]
pub struct PickleEncoder {
    /// Ints written so far (including a held one).
    count: u64,
    /// Ints in the batch that is open (its MARK is written).
    batch: u16,
    /// The first int, until we know whether the list has a second.
    held: Option<i128>,
}

impl Default for PickleEncoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Ints in one `MARK ... APPENDS` batch, as CPython writes them.
const BATCH: u16 = 1000;

impl PickleEncoder {
    /// Bytes that [`begin`](Self::begin), [`push`](Self::push) or
    /// [`finish`](Self::finish) may write at most in one call.
    pub const MAX_WRITE: usize = 2 + 2 * MAX_INT_LEN;

    /// A new encoder.
    pub const fn new() -> Self {
        PickleEncoder {
            count: 0,
            batch: 0,
            held: None,
        }
    }

    /// Writes the start of the pickle: `PROTO 2`, `EMPTY_LIST`, `BINPUT 0`.
    pub fn begin(&mut self, out: &mut Writer<'_>) {
        out.put(&[op::PROTO, 2, op::EMPTY_LIST, op::BINPUT, 0]);
    }

    /// Writes one int (or holds it back, for the first).
    pub fn push(&mut self, value: i128, out: &mut Writer<'_>) {
        self.count += 1;
        if self.count == 1 {
            self.held = Some(value);
            return;
        }
        if self.batch == 0 {
            out.put(&[op::MARK]);
        }
        if let Some(first) = self.held.take() {
            write_int(first, out);
            self.batch += 1;
        }
        write_int(value, out);
        self.batch += 1;
        if self.batch == BATCH {
            out.put(&[op::APPENDS]);
            self.batch = 0;
        }
    }

    /// Writes as many of `values` as fit in `out`, the same bytes as
    /// [`push`](Self::push) on each of them; returns how many it wrote.
    ///
    /// The fast path for machine ints (the Python binding reads a few
    /// hundred ints out of a list, then hands them over): the bookkeeping of `push`
    /// (the held first int, `MARK` and `APPENDS`) is done once per run of
    /// ints instead of once per int. Given a non-empty `values` and at
    /// least [`MAX_WRITE`](Self::MAX_WRITE) bytes of room, it writes one
    /// int or more; with less room it may write none. Hand the rest to a
    /// fresh writer.
    ///
    /// ```
    /// use reseau_core::adder::pickle::PickleEncoder;
    /// use reseau_core::writer::Writer;
    ///
    /// let mut buf = [0u8; 64];
    /// let mut out = Writer::new(&mut buf);
    /// let mut encoder = PickleEncoder::new();
    /// encoder.begin(&mut out);
    /// assert_eq!(encoder.push_i64s(&[1, 300, -5], &mut out), 3);
    /// encoder.finish(&mut out);
    /// // pickle.dumps([1, 300, -5], protocol=2)
    /// assert_eq!(out.written(), b"\x80\x02]q\x00(K\x01M,\x01J\xfb\xff\xff\xffe.");
    /// ```
    pub fn push_i64s(&mut self, values: &[i64], out: &mut Writer<'_>) -> usize {
        let mut rest = values;
        // Until the list has two ints, the first may be held back: one by
        // one, through the general path.
        while self.count < 2 {
            let Some((&value, tail)) = rest.split_first() else {
                break;
            };
            if out.remaining() < Self::MAX_WRITE {
                return values.len() - rest.len();
            }
            self.push(i128::from(value), out);
            rest = tail;
        }
        loop {
            // Room for a MARK, the ints and an APPENDS.
            let room = out.remaining().saturating_sub(2) / MAX_I64_LEN;
            let open = usize::from(BATCH - self.batch);
            let take = rest.len().min(open).min(room);
            let Some((run, tail)) = rest.split_at_checked(take) else {
                break;
            };
            if run.is_empty() {
                break;
            }
            if self.batch == 0 {
                out.put(&[op::MARK]);
            }
            out.nested(|out| {
                for &value in run {
                    write_i64(value, out);
                }
            });
            // take <= open <= BATCH: both fit.
            self.count += take as u64;
            self.batch += take as u16;
            if self.batch == BATCH {
                out.put(&[op::APPENDS]);
                self.batch = 0;
            }
            rest = tail;
        }
        values.len() - rest.len()
    }

    /// Writes the end of the list and `STOP`.
    pub fn finish(&mut self, out: &mut Writer<'_>) {
        if let Some(only) = self.held.take() {
            write_int(only, out);
            out.put(&[op::APPEND]);
        } else if self.batch > 0 {
            out.put(&[op::APPENDS]);
        }
        self.batch = 0;
        out.put(&[op::STOP]);
    }
}

/// The longest encoding of one int: LONG1, a length byte, 16 bytes.
const MAX_INT_LEN: usize = 18;

/// The longest encoding of an `i64`: LONG1, a length byte, 8 bytes.
const MAX_I64_LEN: usize = 10;

/// Writes one int with the smallest opcode, as CPython's pickler does.
fn write_int(value: i128, out: &mut Writer<'_>) {
    match i64::try_from(value) {
        Ok(value) => write_i64(value, out),
        Err(_) => write_long1(value, out),
    }
}

/// [`write_int`] for machine ints, which never need more than 8 bytes.
#[inline]
fn write_i64(value: i64, out: &mut Writer<'_>) {
    if let Ok(small) = u8::try_from(value) {
        out.put(&[op::BININT1, small]);
    } else if let Ok(small) = u16::try_from(value) {
        let [a, b] = small.to_le_bytes();
        out.put(&[op::BININT2, a, b]);
    } else if let Ok(small) = i32::try_from(value) {
        let [a, b, c, d] = small.to_le_bytes();
        out.put(&[op::BININT, a, b, c, d]);
    } else {
        write_long1(i128::from(value), out);
    }
}

/// `LONG1`: the fewest bytes that hold the value in two's complement.
fn write_long1(value: i128, out: &mut Writer<'_>) {
    let significant = if value < 0 {
        128 - value.leading_ones()
    } else {
        128 - value.leading_zeros()
    };
    let len = (significant + 1).div_ceil(8) as usize;
    let bytes = value.to_le_bytes();
    out.put(&[op::LONG1, len as u8]);
    out.put(bytes.get(..len).unwrap_or(&bytes));
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn sum(payload: &[u8]) -> Result<i128, PickleError> {
        let mut summer = PickleSummer::new();
        summer.feed(payload)?;
        summer.finish()
    }

    // Each pickle below was produced by CPython 3.11's pickle.dumps.
    #[test]
    fn every_protocol_of_cpython() {
        // [1, 2, 300, -5, 70000, 2**40]
        let cases: [&[u8]; 6] = [
            b"(lp0\nI1\naI2\naI300\naI-5\naI70000\naI1099511627776\na.",
            b"]q\x00(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00L1099511627776L\ne.",
            b"\x80\x02]q\x00(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01e.",
            b"\x80\x03]q\x00(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01e.",
            b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01e.",
            b"\x80\x05\x95\x1e\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01e.",
        ];
        for payload in cases {
            assert_eq!(sum(payload), Ok(1 + 2 + 300 - 5 + 70000 + (1 << 40)));
        }
    }

    #[test]
    fn what_a_pickled_list_can_start_with() {
        for start in [&b"\x80\x05\x95"[..], b"\x80", b"(lp0\n", b"]q\x00"] {
            assert!(could_start(start), "{start:?}");
        }
        for start in [&b"\x80\x06"[..], b"", b"K\x01", b"\x0c\x00\x00\x00"] {
            assert!(!could_start(start), "{start:?}");
        }
    }

    #[test]
    fn protocol_0_long_and_bools() {
        assert_eq!(
            sum(b"(lp0\nL-1180591620717411303424L\naI01\naI00\na."),
            Ok(1 - (1 << 70))
        );
        assert_eq!(sum(b"\x80\x02]q\x00(\x88\x89e."), Ok(1));
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(sum(b"\x80\x04]\x94."), Ok(0));
        assert_eq!(sum(b"(lp0\n."), Ok(0));
        assert_eq!(sum(b"\x80\x02]q\x00K\x07a."), Ok(7));
    }

    #[test]
    fn long1_edges() {
        // 2**127 - 1 fits; 2**127 needs 17 bytes and does not.
        let mut max = [0xffu8; 16];
        max[15] = 0x7f;
        let mut payload = heapless::Vec::<u8, 64>::new();
        payload
            .extend_from_slice(b"\x80\x02]q\x00\x8a\x10")
            .unwrap();
        payload.extend_from_slice(&max).unwrap();
        payload.extend_from_slice(b"a.").unwrap();
        assert_eq!(sum(&payload), Ok(i128::MAX));

        let mut big = heapless::Vec::<u8, 64>::new();
        big.extend_from_slice(b"\x80\x02]q\x00\x8a\x11").unwrap();
        big.extend_from_slice(&[0; 16]).unwrap();
        big.extend_from_slice(b"\x01a.").unwrap();
        assert_eq!(sum(&big), Err(PickleError::IntOutOfRange { offset: 5 }));

        // -1 written with redundant sign bytes still reads as -1.
        assert_eq!(sum(b"\x80\x02]\x8a\x14\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffa."), Ok(-1));
        // LONG4 with a zero length is 0.
        assert_eq!(sum(b"\x80\x02]\x8b\x00\x00\x00\x00a."), Ok(0));
    }

    #[test]
    fn forbidden_opcodes_are_refused_on_sight() {
        // A classic exploit: GLOBAL os.system, REDUCE.
        let exploit = b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.";
        assert_eq!(
            sum(exploit),
            Err(PickleError::Forbidden {
                opcode: b'c',
                offset: 0
            })
        );
        // STACK_GLOBAL after a valid start.
        assert_eq!(
            sum(b"\x80\x04]\x94\x93"),
            Err(PickleError::Forbidden {
                opcode: 0x93,
                offset: 4
            })
        );
        // A string inside the list.
        assert_eq!(
            sum(b"\x80\x04]\x94(K\x01X\x01\x00\x00\x00ae."),
            Err(PickleError::Forbidden {
                opcode: b'X',
                offset: 7
            })
        );
        // A nested list.
        assert_eq!(
            sum(b"\x80\x04]\x94(]e."),
            Err(PickleError::Misplaced {
                opcode: b']',
                offset: 5
            })
        );
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            sum(b"K\x01."),
            Err(PickleError::Misplaced {
                opcode: b'K',
                offset: 0
            })
        );
        assert_eq!(
            sum(b"\x80\x06]."),
            Err(PickleError::Protocol { protocol: 6 })
        );
        assert_eq!(sum(b"\x80\x02]"), Err(PickleError::Truncated));
        assert_eq!(sum(b"\x80\x02]\x8a\x02\x01"), Err(PickleError::Truncated));
        assert_eq!(sum(b""), Err(PickleError::Truncated));
        assert_eq!(
            sum(b"\x80\x02]..."),
            Err(PickleError::TrailingBytes { offset: 4 })
        );
        assert_eq!(
            sum(b"(lp0\nI1x\na."),
            Err(PickleError::BadLiteral { offset: 5 })
        );
        assert_eq!(
            sum(b"]\x80\x02."),
            Err(PickleError::Misplaced {
                opcode: 0x80,
                offset: 1
            })
        );
    }

    /// Cuts `payload` at every offset: the result must not depend on it.
    fn sum_split_everywhere(payload: &[u8]) -> Result<i128, PickleError> {
        let whole = sum(payload);
        for cut in 0..=payload.len() {
            let mut summer = PickleSummer::new();
            let (a, b) = payload.split_at(cut);
            let result = summer.feed(a).and_then(|()| summer.feed(b));
            let result = result.and_then(|()| summer.finish());
            assert_eq!(result, whole, "cut at {cut} of {payload:?}");
        }
        whole
    }

    #[test]
    fn text_ints_are_canonical_decimals() {
        let bad = |offset| Err(PickleError::BadLiteral { offset });
        // CPython: strtol(text, 0) reads I010 as 8; int(text, 0) refuses
        // I08 and L010L. Refused here, as every non-canonical form.
        for text in [
            &b"010"[..],
            b"08",
            b"+5",
            b" 5",
            b"5 ",
            b"0x10",
            b"0o7",
            b"0b1",
            b"1_000",
            b"-0",
            b"-",
            b"",
            b"007",
            b"5\r",
            b"5\0",
        ] {
            for opcode in [b'I', b'L'] {
                let mut payload = std::vec::Vec::from(&b"(l"[..]);
                payload.push(opcode);
                payload.extend_from_slice(text);
                payload.extend_from_slice(b"\na.");
                assert_eq!(sum_split_everywhere(&payload), bad(2), "{payload:?}");
            }
        }
        assert_eq!(sum_split_everywhere(b"(lL010L\na."), bad(2));
        assert_eq!(sum_split_everywhere(b"(lL00L\na."), bad(2));
        // LONG has no bools: L01L is an error to CPython too.
        assert_eq!(sum_split_everywhere(b"(lL01L\na."), bad(2));
        // What CPython writes: 0, negatives, the bools I00 and I01.
        assert_eq!(
            sum_split_everywhere(b"(lI0\naI-7\naI00\naI01\naI01\na."),
            Ok(-5)
        );
        assert_eq!(sum_split_everywhere(b"(lL0L\naL-12L\naL12\na."), Ok(0));
        // 39 digits, one past i128::MAX.
        assert_eq!(
            sum_split_everywhere(b"(lL170141183460469231731687303715884105728L\na."),
            Err(PickleError::IntOutOfRange { offset: 2 })
        );
    }

    #[test]
    fn a_frame_must_end_by_stop() {
        // pickle.dumps([1], protocol=4): a frame of 6 bytes, up to STOP.
        let ok = b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94K\x01a.";
        assert_eq!(sum_split_everywhere(ok), Ok(1));
        let mut over = *ok;
        over[3] = 7;
        assert_eq!(
            sum_split_everywhere(&over),
            Err(PickleError::FrameOverrun { offset: 16 })
        );
        let mut huge = *ok;
        huge[3..11].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            sum_split_everywhere(&huge),
            Err(PickleError::FrameOverrun { offset: 16 })
        );
        // A shorter frame is fine (CPython reads on).
        let mut short = *ok;
        short[3] = 1;
        assert_eq!(sum_split_everywhere(&short), Ok(1));
        // The furthest of several frames is the one checked.
        assert_eq!(
            sum_split_everywhere(b"\x80\x04\x95\x0c\0\0\0\0\0\0\0]\x95\0\0\0\0\0\0\0\0."),
            Err(PickleError::FrameOverrun { offset: 21 })
        );
    }

    #[test]
    fn memo_indices_and_long4_lengths_are_bounded() {
        assert_eq!(sum_split_everywhere(b"(lp65535\n."), Ok(0));
        assert_eq!(
            sum_split_everywhere(b"(lp65536\n."),
            Err(PickleError::MemoIndex { offset: 2 })
        );
        assert_eq!(
            sum_split_everywhere(b"(lp9999999999999999999999999999999999999999\n."),
            Err(PickleError::MemoIndex { offset: 2 })
        );
        assert_eq!(
            sum_split_everywhere(b"(lp00\n."),
            Err(PickleError::BadLiteral { offset: 2 })
        );
        assert_eq!(sum_split_everywhere(b"]r\xff\xff\x00\x00."), Ok(0));
        assert_eq!(
            sum_split_everywhere(b"]r\xff\xff\xff\xff."),
            Err(PickleError::MemoIndex { offset: 1 })
        );
        assert_eq!(
            sum_split_everywhere(b"]\x8b\x00\x00\x00\x80a."),
            Err(PickleError::NegativeLength { offset: 1 })
        );
    }

    #[test]
    fn an_int_after_stop_is_a_trailing_byte_however_cut() {
        for tail in [&b"K\x01"[..], b"M\x01\x02", b"J\x01\x02\x03\x04", b"K"] {
            let mut payload = std::vec::Vec::from(&b"\x80\x02]."[..]);
            payload.extend_from_slice(tail);
            assert_eq!(
                sum_split_everywhere(&payload),
                Err(PickleError::TrailingBytes { offset: 4 })
            );
        }
    }

    #[test]
    fn a_total_beyond_128_bits_is_an_overflow() {
        let mut buf = [0u8; 256];
        let n = encode(&[i128::MAX, 1], &mut buf);
        assert_eq!(sum(&buf[..n]), Err(PickleError::Overflow));
        let n = encode(&[i128::MIN + 1, -1, -1], &mut buf);
        assert_eq!(sum(&buf[..n]), Err(PickleError::Overflow));
    }

    #[test]
    fn partial_sums_beyond_128_bits_do_not_matter_only_the_total() {
        // What the course's server (Python's sum) answers: 5.
        let mut buf = [0u8; 256];
        let ints = [i128::MAX, i128::MAX, -i128::MAX, -i128::MAX, 5];
        let n = encode(&ints, &mut buf);
        assert_eq!(sum(&buf[..n]), Ok(5));
        // Down past i128::MIN twice, then back.
        let n = encode(
            &[
                i128::MIN + 1,
                -1,
                i128::MIN + 1,
                -1,
                i128::MAX,
                i128::MAX,
                9,
            ],
            &mut buf,
        );
        // (-2^127) * 2 + (2^127 - 1) * 2 + 9 = 7
        assert_eq!(sum(&buf[..n]), Ok(7));
    }

    #[test]
    fn exact_sum_matches_wide_arithmetic() {
        // The 192-bit model: sums of i128 in i128 pairs (high, low) by hand.
        let cases: [&[i128]; 4] = [
            &[
                i128::MAX,
                i128::MAX,
                i128::MAX,
                -i128::MAX,
                -i128::MAX,
                -i128::MAX,
            ],
            &[i128::MIN, i128::MIN, i128::MAX, i128::MAX, 2],
            &[i128::MIN, -1],
            &[i128::MAX, 1, -1],
        ];
        let expected = [Some(0), Some(0), None, Some(i128::MAX)];
        for (ints, want) in cases.iter().zip(expected) {
            let mut exact = ExactSum::new();
            for &v in *ints {
                exact.add(v);
            }
            assert_eq!(exact.total(), want, "{ints:?}");
        }
    }

    fn encode(ints: &[i128], buf: &mut [u8]) -> usize {
        let mut encoder = PickleEncoder::new();
        let mut len = 0;
        let mut chunk = [0u8; PickleEncoder::MAX_WRITE];
        let mut w = Writer::new(&mut chunk);
        encoder.begin(&mut w);
        let mut copy = |w: Writer<'_>| {
            buf[len..len + w.len()].copy_from_slice(w.written());
            len += w.len();
        };
        copy(w);
        for &value in ints {
            let mut w = Writer::new(&mut chunk);
            encoder.push(value, &mut w);
            assert!(!w.overflowed());
            copy(w);
        }
        let mut w = Writer::new(&mut chunk);
        encoder.finish(&mut w);
        copy(w);
        len
    }

    #[test]
    fn encoder_matches_cpython_protocol_2() {
        let mut buf = [0u8; 256];
        let n = encode(&[], &mut buf);
        assert_eq!(&buf[..n], b"\x80\x02]q\x00.");
        let n = encode(&[7], &mut buf);
        assert_eq!(&buf[..n], b"\x80\x02]q\x00K\x07a.");
        // pickle.dumps([1, 2, 300, -5, 70000, 2**40, -2**39, -2**31-1], 2)
        let n = encode(
            &[1, 2, 300, -5, 70000, 1 << 40, -(1 << 39), -(1 << 31) - 1],
            &mut buf,
        );
        assert_eq!(
            &buf[..n],
            &b"\x80\x02]q\x00(K\x01K\x02M,\x01J\xfb\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x05\x00\x00\x00\x00\x80\x8a\x05\xff\xff\xff\x7f\xffe."[..]
        );
    }

    #[test]
    fn the_decoder_visits_every_int_in_order() {
        let ints = [
            0,
            1,
            -1,
            255,
            256,
            65536,
            i128::MAX,
            i128::MIN + 1,
            -(1 << 70),
        ];
        let mut buf = [0u8; 256];
        let n = encode(&ints, &mut buf);
        for cut in 0..=n {
            let mut seen = heapless::Vec::<i128, 16>::new();
            let mut decoder = PickleDecoder::new();
            let mut visit = |v| {
                seen.push(v).unwrap();
                Ok(())
            };
            decoder.feed(&buf[..cut], &mut visit).unwrap();
            decoder.feed(&buf[cut..n], &mut visit).unwrap();
            assert_eq!(decoder.finish(), Ok(()));
            assert_eq!(&seen[..], &ints[..], "cut at {cut}");
        }
        // Protocol 0 (`MARK INT* LIST`), as CPython writes it.
        let mut seen = heapless::Vec::<i128, 4>::new();
        let mut decoder = PickleDecoder::new();
        decoder
            .feed(b"(lp0\nI1\naL-2L\na.", |v| {
                seen.push(v).unwrap();
                Ok(())
            })
            .unwrap();
        assert_eq!(decoder.finish(), Ok(()));
        assert_eq!(&seen[..], &[1, -2]);
    }

    #[test]
    fn an_error_from_the_visitor_stops_the_decoder() {
        let mut decoder = PickleDecoder::new();
        let stop = PickleError::Overflow;
        assert_eq!(
            decoder.feed(b"\x80\x02](K\x01K\x02e.", |v| if v == 2 {
                Err(stop)
            } else {
                Ok(())
            }),
            Err(stop)
        );
        assert_eq!(decoder.count(), 1);
        assert_eq!(decoder.feed(b"", |_| Ok(())), Err(stop));
        assert_eq!(decoder.finish(), Err(stop));
        // A forbidden opcode is refused before the visitor sees anything.
        let mut decoder = PickleDecoder::new();
        assert!(matches!(
            decoder.feed(b"\x80\x02cos\nsystem\n", |_| unreachable!()),
            Err(PickleError::Forbidden { opcode: b'c', .. })
        ));
    }

    #[test]
    fn encoder_round_trips_extremes() {
        let ints = [
            0,
            255,
            256,
            65535,
            65536,
            -1,
            i32::MIN as i128,
            i32::MAX as i128 + 1,
            i128::MIN + 1,
            i128::MAX,
        ];
        let mut buf = [0u8; 256];
        let n = encode(&ints, &mut buf);
        let mut summer = PickleSummer::new();
        summer.feed(&buf[..n]).unwrap();
        assert_eq!(
            summer.finish(),
            Ok(ints.iter().fold(0i128, |a, b| a.wrapping_add(*b)))
        );
        assert_eq!(summer.count(), ints.len() as u64);
    }
}
