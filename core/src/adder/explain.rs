//! The adder's bytes, explained: one [`Row`] per field of a request or a
//! reply (where it is, its first bytes, what it means), then the server's
//! [`Verdict`] on each request. What `reseau explain`, the `--trace`s and
//! Python's `reseau.explain` print, in the spirit of `pickletools.dis`,
//! but for the whole frame.
//!
//! Nothing here parses twice: the rows come from the decoders that serve
//! requests ([`FrameDecoder`], [`PickleDecoder::feed_opcodes`],
//! [`NativeDecoder`]), and each verdict is the [`Event`] of a real
//! [`AdderSession`] fed the same bytes. So what is explained is what the
//! server does, byte for byte, including why and where it refuses.
//!
//! # Call order
//!
//! 1. [`RequestExplainer::new`] (or [`ReplyExplainer::new`]).
//! 2. [`feed`](RequestExplainer::feed) with the bytes in order, in pieces of
//!    any size; each call hands the rows and verdicts it completes to its
//!    callback, in byte order. Memory is constant: a row carries at most
//!    [`HEAD`] of its bytes.
//! 3. [`finish`](RequestExplainer::finish) at the end of the input: the
//!    bytes never read become one [`Field::Unread`] row, then comes the
//!    verdict that closed the connection (a refusal, or a request cut
//!    short): it waits for the end, so that it follows every row.
//!
//! Every byte of the input is in exactly one row.
//!
//! ```
//! use reseau_core::adder::explain::{Field, Item, RequestExplainer};
//! use reseau_core::adder::pickle::Argument;
//! use reseau_core::adder::Event;
//!
//! // struct.pack('I', 12) + pickle.dumps([1, 2], protocol=2)
//! let request = b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.";
//! let mut rows = Vec::new();
//! let mut verdicts = Vec::new();
//! let mut explainer = RequestExplainer::new(Default::default());
//! let mut take = |item: Item| match item {
//!     Item::Row(row) => rows.push(row),
//!     Item::Verdict(verdict) => verdicts.push(verdict),
//! };
//! explainer.feed(request, &mut take);
//! explainer.finish(&mut take);
//! assert_eq!(rows[0].field, Field::Length(12));
//! assert_eq!(rows[0].head.as_slice(), b"\x0c\x00\x00\x00");
//! assert_eq!(rows.len(), 9); // PROTO, EMPTY_LIST, BINPUT, MARK, 2 ints, APPENDS, STOP
//! assert_eq!(
//!     rows[6].field,
//!     Field::Pickle { code: b'K', argument: Argument::Int(2), sum: Some(3) }
//! );
//! assert!(matches!(verdicts[0].event, Event::Answered { sum: 3, .. }));
//! assert_eq!(verdicts[0].reply.as_slice(), b"\x03\x00\x00\x00");
//! ```

use crate::frame::{FrameDecoder, HEADER_LEN, Item as FrameItem};
use crate::session::StreamSession;

use super::native::{self, ErrorCode, NativeDecoder, Reply};
use super::pickle::{Argument, ExactSum, PickleDecoder, PickleError};
use super::{AdderConfig, AdderSession, Error, Event, Format, MAX_REPLY};

/// Bytes of each field that a [`Row`] carries (the rest is counted).
pub const HEAD: usize = 16;

/// The first bytes of a field.
pub type Head = heapless::Vec<u8, HEAD>;

/// What a run of bytes means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A frame header: the payload's length (`struct.pack('I', len)`).
    Length(u32),
    /// A pickle opcode and its argument; `sum` is the running sum of the
    /// frame's ints, once an int was read (`None` while a partial sum is
    /// beyond 128 bits).
    Pickle {
        /// The opcode byte ([`super::pickle::opcode_name`] names it).
        code: u8,
        /// What its argument says.
        argument: Argument,
        /// The running sum, for an int.
        sum: Option<i128>,
    },
    /// The native format's first byte, [`native::MAGIC`].
    Magic,
    /// The native format's version byte.
    Version(u8),
    /// One postcard varint of a native request, and the running sum.
    Int {
        /// The int.
        value: i64,
        /// The sum so far (`None` once beyond 128 bits).
        sum: Option<i128>,
    },
    /// The answer to a pickle request: the sum as a little-endian `u32`.
    Reply(u32),
    /// The body of a native reply frame.
    NativeReply(Reply),
    /// Bytes not read: after a refusal that closes the connection, the
    /// rest of a refused native frame, or a field cut by the end of input.
    Unread,
}

impl Field {
    /// The field's name: CPython's opcode names (`pickletools`) for the
    /// pickle, lower-case words for the rest.
    pub fn name(&self) -> &'static str {
        match self {
            Field::Length(_) => "length",
            Field::Pickle { code, .. } => super::pickle::opcode_name(*code),
            Field::Magic => "magic",
            Field::Version(_) => "version",
            Field::Int { .. } => "int",
            Field::Reply(_) => "reply",
            Field::NativeReply(Reply::Sum(_)) => "sum",
            Field::NativeReply(Reply::Error(_)) => "error",
            Field::Unread => "unread",
        }
    }
}

/// One field of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Offset of its first byte, from the start of the input.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Its first bytes (all of them up to [`HEAD`]).
    pub head: Head,
    /// What it means.
    pub field: Field,
}

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Offset of the request's frame header.
    pub frame: u64,
    /// The server's event: the sum it answers, or why it refuses.
    pub event: Event,
    /// Where the refusal was found, from the start of the input, when it
    /// is at one byte (a refused opcode, a bad literal, an oversized
    /// header); `None` for an answer or a refusal of the whole request.
    pub at: Option<u64>,
    /// The bytes the server sends back (none when it just closes).
    pub reply: heapless::Vec<u8, MAX_REPLY>,
}

/// What an explainer hands out, in byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A field.
    Row(Row),
    /// The server's verdict on the request whose rows came before.
    Verdict(Verdict),
}

/// Turns offsets into rows: keeps the first bytes of the field being read
/// when it spans several input pieces. Rows come in byte order and cover
/// every byte once, so the field being read starts where the last row
/// ended.
#[derive(Debug, Clone, Default)]
struct Rows {
    /// Where the last row ended: the next row starts here.
    next: u64,
    /// The first bytes from `next` that came in earlier pieces.
    carry: Head,
}

impl Rows {
    /// The row of `len` bytes at `next`, which ends in `piece` (its first
    /// byte at offset `base`).
    fn row(&mut self, piece: &[u8], base: u64, len: u64, field: Field) -> Item {
        let offset = self.next;
        let want = len.min(HEAD as u64) as usize;
        // The row's bytes that came in earlier pieces are at the front of
        // the carry; the carry keeps what comes after them.
        let before = base.saturating_sub(offset).min(len) as usize;
        let (used, kept) = self.carry.split_at(before.min(self.carry.len()));
        let mut head = Head::from_slice(used.get(..want).unwrap_or(used)).unwrap_or_default();
        self.carry = Head::from_slice(kept).unwrap_or_default();
        let start = (offset + before as u64).saturating_sub(base) as usize;
        let more = want - head.len();
        let from = piece.get(start..).unwrap_or_default();
        let _ = head.extend_from_slice(from.get(..more).unwrap_or(from));
        self.next = offset + len;
        Item::Row(Row {
            offset,
            len,
            head,
            field,
        })
    }

    /// The piece at `base` is all read: keep the first bytes of the field
    /// still open.
    fn end_of_piece(&mut self, piece: &[u8], base: u64) {
        let start = self.next.saturating_sub(base) as usize;
        let from = piece.get(start..).unwrap_or_default();
        let room = HEAD - self.carry.len();
        let _ = self
            .carry
            .extend_from_slice(from.get(..room).unwrap_or(from));
    }

    /// Everything from `next` to `end` as one unread row, if not empty.
    fn unread(&mut self, piece: &[u8], base: u64, end: u64) -> Option<Item> {
        (end > self.next).then(|| self.row(piece, base, end - self.next, Field::Unread))
    }
}

/// The payload of the frame being read.
#[derive(Debug, Clone)]
enum Payload {
    /// No payload byte yet.
    Empty,
    /// A pickle, with its running sum.
    Pickle(PickleDecoder, ExactSum),
    /// A native payload: its decoder, the running sum, the bytes read.
    Native(NativeDecoder, Option<i128>, u64),
    /// Refused (or cut short): the rest of the frame is unread.
    Stopped,
}

/// Explains the client's side of an adder connection: frames and their
/// payloads, and the server's verdict on each.
///
/// The verdicts are those of an [`AdderSession`] with the given config
/// and `keep_alive` on, so that a stream of several requests is explained
/// to its end (the course's server reads one per connection).
#[derive(Debug, Clone)]
pub struct RequestExplainer {
    frames: FrameDecoder,
    payload: Payload,
    rows: Rows,
    session: AdderSession,
    /// Offset of the next input byte.
    offset: u64,
    /// Offset of the next byte to give the session.
    session_at: u64,
    /// Offset of the current frame's header.
    frame: u64,
    /// Where the annotating decoders found the current frame's error.
    error_at: Option<u64>,
    /// The session closed the connection: nothing more is read.
    closed: bool,
    /// The verdict that closed it, handed out by `finish`, after the row
    /// of the bytes left unread.
    last: Option<Verdict>,
}

impl RequestExplainer {
    /// An explainer at the start of a connection.
    pub fn new(config: AdderConfig) -> Self {
        RequestExplainer {
            // The header's limit is the session's to enforce: here every
            // header is read, so that its row shows the length refused.
            frames: FrameDecoder::new(u32::MAX),
            payload: Payload::Empty,
            rows: Rows::default(),
            session: AdderSession::new(AdderConfig {
                keep_alive: true,
                ..config
            }),
            offset: 0,
            session_at: 0,
            frame: 0,
            error_at: None,
            closed: false,
            last: None,
        }
    }

    /// Reads the next piece of input and hands out what it completes.
    pub fn feed(&mut self, piece: &[u8], out: &mut impl FnMut(Item)) {
        let base = self.offset;
        let mut pos = 0;
        while !self.closed {
            let rest = piece.get(pos..).unwrap_or_default();
            let Ok((used, item)) = self.frames.decode(rest) else {
                break; // Never: this decoder has no limit.
            };
            let at = base + pos as u64;
            pos += used;
            match item {
                None => break,
                Some(FrameItem::Start { len }) => {
                    self.frame = at + used as u64 - HEADER_LEN as u64;
                    self.error_at = None;
                    self.payload = Payload::Empty;
                    out(self
                        .rows
                        .row(piece, base, HEADER_LEN as u64, Field::Length(len)));
                    self.feed_session(piece, base, base + pos as u64, out);
                }
                Some(FrameItem::Data(data)) => self.payload(data, piece, base, at, out),
                Some(FrameItem::End) => {
                    if let Some(row) = self.rows.unread(piece, base, base + pos as u64) {
                        out(row);
                    }
                    self.feed_session(piece, base, base + pos as u64, out);
                }
            }
        }
        self.offset = base + piece.len() as u64;
        if !self.closed {
            self.feed_session(piece, base, self.offset, out);
        }
        self.rows.end_of_piece(piece, base);
    }

    /// The input ended: the unread bytes, and the verdict on a request cut
    /// short.
    pub fn finish(&mut self, out: &mut impl FnMut(Item)) {
        if let Some(row) = self.rows.unread(&[], self.offset, self.offset) {
            out(row);
        }
        if !self.closed {
            self.session.handle_eof();
            self.verdicts(out);
        }
        if let Some(verdict) = self.last.take() {
            out(Item::Verdict(verdict));
        }
    }

    /// Rows of a piece of payload, `data`, whose first byte is at `at`.
    fn payload(
        &mut self,
        data: &[u8],
        piece: &[u8],
        base: u64,
        at: u64,
        out: &mut impl FnMut(Item),
    ) {
        if let (Payload::Empty, Some(&first)) = (&self.payload, data.first()) {
            self.payload = match Format::of_first_byte(first) {
                Format::Pickle => Payload::Pickle(PickleDecoder::new(), ExactSum::new()),
                Format::Native => Payload::Native(NativeDecoder::new(), Some(0), 0),
            };
        }
        let payload_start = self.frame + HEADER_LEN as u64;
        let rows = &mut self.rows;
        match &mut self.payload {
            Payload::Pickle(decoder, sum) => {
                let result = decoder.feed_opcodes(data, |op| {
                    let sum = match op.argument {
                        Argument::Int(value) => {
                            sum.add(value);
                            sum.total()
                        }
                        _ => None,
                    };
                    let field = Field::Pickle {
                        code: op.code,
                        argument: op.argument,
                        sum,
                    };
                    out(rows.row(piece, base, op.len, field));
                });
                if let Err(error) = result {
                    self.error_at = pickle_error_offset(&error).map(|o| payload_start + o);
                    self.payload = Payload::Stopped;
                    // The session refuses it at the same byte, and closes:
                    // hear it now, so that the rest of the input is one
                    // unread row wherever the input was cut.
                    self.feed_session(piece, base, at + data.len() as u64, out);
                }
            }
            Payload::Native(decoder, sum, read) => {
                // One byte at a time: the decoder says when a value ends
                // (it hands it over) or is refused.
                let mut refused = None;
                for (i, byte) in data.iter().enumerate() {
                    let mut value = None;
                    decoder.feed(core::slice::from_ref(byte), |v| value = Some(v));
                    *read += 1;
                    let end = at + i as u64 + 1;
                    let field = match (decoder.error(), *read, value) {
                        (Some(_), _, _) => {
                            refused = Some(rows.next);
                            break;
                        }
                        (None, 1, _) => Field::Magic,
                        (None, 2, _) => Field::Version(*byte),
                        (None, _, Some(value)) => {
                            *sum = sum.and_then(|s| s.checked_add(i128::from(value)));
                            Field::Int { value, sum: *sum }
                        }
                        (None, _, None) => continue,
                    };
                    out(rows.row(piece, base, end - rows.next, field));
                }
                if refused.is_some() {
                    self.error_at = refused;
                    self.payload = Payload::Stopped;
                }
            }
            Payload::Empty | Payload::Stopped => {}
        }
    }

    /// Gives the session the input up to `end` and hands out its verdicts.
    fn feed_session(&mut self, piece: &[u8], base: u64, end: u64, out: &mut impl FnMut(Item)) {
        let start = self.session_at.saturating_sub(base) as usize;
        let stop = end.saturating_sub(base) as usize;
        let mut input = piece.get(start..stop).unwrap_or_default();
        while !input.is_empty() && !self.closed {
            let used = self.session.handle_input(input);
            input = input.get(used..).unwrap_or_default();
            self.session_at += used as u64;
            let answered = self.verdicts(out);
            if used == 0 && !answered {
                break;
            }
        }
    }

    /// Hands out the session's verdicts; true if there was one.
    fn verdicts(&mut self, out: &mut impl FnMut(Item)) -> bool {
        let mut any = false;
        while let Some(event) = self.session.poll_event() {
            any = true;
            let mut reply = heapless::Vec::new();
            let mut buf = [0u8; MAX_REPLY];
            let n = self.session.poll_transmit(&mut buf);
            let _ = reply.extend_from_slice(buf.get(..n).unwrap_or_default());
            let at = match event {
                Event::Rejected(Error::Frame(_)) => Some(self.frame),
                Event::Rejected(_) => self.error_at,
                Event::Answered { .. } => None,
            };
            let verdict = Verdict {
                frame: self.frame,
                event,
                at,
                reply,
            };
            match event {
                Event::Rejected(error) if error.is_fatal() => {
                    self.closed = true;
                    self.last = Some(verdict);
                }
                _ => out(Item::Verdict(verdict)),
            }
        }
        any
    }
}

/// The payload offset a pickle error names, if any.
fn pickle_error_offset(error: &PickleError) -> Option<u64> {
    match *error {
        PickleError::Forbidden { offset, .. }
        | PickleError::Misplaced { offset, .. }
        | PickleError::BadLiteral { offset }
        | PickleError::FrameOverrun { offset }
        | PickleError::NegativeLength { offset }
        | PickleError::MemoIndex { offset }
        | PickleError::IntOutOfRange { offset }
        | PickleError::TrailingBytes { offset } => Some(offset),
        // PROTO is the payload's first opcode.
        PickleError::Protocol { .. } => Some(0),
        PickleError::Truncated | PickleError::Overflow => None,
    }
}

/// Explains the server's side of an adder connection: the 4-byte answers
/// to pickle requests, or the reply frames of native ones.
#[derive(Debug, Clone)]
pub struct ReplyExplainer {
    format: Format,
    rows: Rows,
    frames: FrameDecoder,
    /// A native reply's payload, gathered (it is at most 13 bytes).
    body: heapless::Vec<u8, { native::MAX_REPLY_PAYLOAD }>,
    offset: u64,
}

impl ReplyExplainer {
    /// Replies to requests in `format`.
    pub fn new(format: Format) -> Self {
        ReplyExplainer {
            format,
            rows: Rows::default(),
            frames: FrameDecoder::new(native::MAX_REPLY_PAYLOAD as u32),
            body: heapless::Vec::new(),
            offset: 0,
        }
    }

    /// Replies in the format their first bytes say: a native reply frame
    /// has [`native::MAGIC`] right after its 4-byte header; anything else
    /// is read as 4-byte answers to pickle requests.
    pub fn for_input(input: &[u8]) -> Self {
        match input.get(HEADER_LEN) {
            Some(&native::MAGIC) => Self::new(Format::Native),
            _ => Self::new(Format::Pickle),
        }
    }

    /// Reads the next piece of input and hands out its rows.
    pub fn feed(&mut self, piece: &[u8], out: &mut impl FnMut(Item)) {
        let base = self.offset;
        self.offset += piece.len() as u64;
        match self.format {
            Format::Pickle => {
                // Each answer is 4 bytes: as many as are complete.
                while self.offset - self.rows.next >= 4 {
                    let start = self.rows.next;
                    let mut bytes = [0u8; 4];
                    for (i, b) in bytes.iter_mut().enumerate() {
                        let at = start + i as u64;
                        *b = match at.checked_sub(base) {
                            Some(i) => piece.get(i as usize).copied().unwrap_or_default(),
                            None => self.rows.carry.get(i).copied().unwrap_or_default(),
                        };
                    }
                    out(self
                        .rows
                        .row(piece, base, 4, Field::Reply(u32::from_le_bytes(bytes))));
                }
            }
            Format::Native => {
                let mut pos = 0;
                loop {
                    let rest = piece.get(pos..).unwrap_or_default();
                    let Ok((used, item)) = self.frames.decode(rest) else {
                        break; // Not a reply frame: the rest is unread.
                    };
                    pos += used;
                    let end = base + pos as u64;
                    match item {
                        None => break,
                        Some(FrameItem::Start { len }) => {
                            self.body.clear();
                            out(self
                                .rows
                                .row(piece, base, HEADER_LEN as u64, Field::Length(len)));
                        }
                        Some(FrameItem::Data(data)) => {
                            let _ = self.body.extend_from_slice(data);
                        }
                        Some(FrameItem::End) => self.native_body(piece, base, end, out),
                    }
                }
            }
        }
        self.rows.end_of_piece(piece, base);
    }

    /// The input ended: what was not read.
    pub fn finish(&mut self, out: &mut impl FnMut(Item)) {
        if let Some(row) = self.rows.unread(&[], self.offset, self.offset) {
            out(row);
        }
    }

    /// The rows of a whole native reply payload, which ends at `end`.
    fn native_body(&mut self, piece: &[u8], base: u64, end: u64, out: &mut impl FnMut(Item)) {
        match native::decode_reply(&self.body) {
            Some(reply) => {
                out(self.rows.row(piece, base, 1, Field::Magic));
                out(self
                    .rows
                    .row(piece, base, 1, Field::Version(native::VERSION)));
                let field = Field::NativeReply(reply);
                out(self.rows.row(piece, base, end - self.rows.next, field));
            }
            None => {
                if let Some(row) = self.rows.unread(piece, base, end) {
                    out(row);
                }
            }
        }
    }
}

/// The error a native reply carries, by name (as `--json` prints it).
pub fn error_code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Malformed => "Malformed",
        ErrorCode::Overflow => "Overflow",
        ErrorCode::Version => "Version",
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    fn explain(input: &[u8], cuts: &[usize]) -> Vec<Item> {
        let mut items = Vec::new();
        let mut explainer = RequestExplainer::new(AdderConfig::default());
        let mut push = |item| items.push(item);
        let mut last = 0;
        for &cut in cuts.iter().chain([input.len()].iter()) {
            explainer.feed(&input[last..cut], &mut push);
            last = cut;
        }
        explainer.finish(&mut push);
        items
    }

    /// Every byte is in exactly one row, in order.
    fn check_cover(items: &[Item], input: &[u8]) {
        let mut next = 0u64;
        for item in items {
            if let Item::Row(row) = item {
                assert_eq!(row.offset, next, "{items:?}");
                let start = row.offset as usize;
                let end = start + (row.len as usize).min(HEAD);
                assert_eq!(row.head.as_slice(), &input[start..end]);
                next += row.len;
            }
        }
        assert_eq!(next, input.len() as u64);
    }

    const REQUEST: &[u8] = b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.";

    #[test]
    fn rows_do_not_depend_on_how_the_input_is_cut() {
        let whole = explain(REQUEST, &[]);
        check_cover(&whole, REQUEST);
        for cut in 0..=REQUEST.len() {
            assert_eq!(explain(REQUEST, &[cut]), whole, "cut at {cut}");
        }
        let bytes: Vec<usize> = (1..REQUEST.len()).collect();
        assert_eq!(explain(REQUEST, &bytes), whole);
        // A refused pickle whose frame ends before the input does (found
        // by the fuzz target): one unread row from the refused byte to the
        // end, however cut.
        let refused = b"\x06\x00\x00\x00\xc8\xc8\xc8\xc8\xc8\xc8\xc8\xc8";
        let whole = explain(refused, &[]);
        check_cover(&whole, refused);
        assert_eq!(whole.len(), 3, "{whole:?}");
        for cut in 0..=refused.len() {
            assert_eq!(explain(refused, &[cut]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_refused_opcode_is_where_the_verdict_says_and_the_rest_is_unread() {
        // A frame of 10: PROTO 2, then GLOBAL.
        let input = b"\x0a\x00\x00\x00\x80\x02cos\nsystem\n";
        let items = explain(input, &[7]);
        check_cover(&items, input);
        let Some(Item::Verdict(verdict)) = items.last() else {
            panic!("{items:?}")
        };
        assert_eq!(verdict.at, Some(6));
        assert!(verdict.reply.is_empty());
        assert!(matches!(
            verdict.event,
            Event::Rejected(Error::Pickle(PickleError::Forbidden {
                opcode: b'c',
                offset: 2
            }))
        ));
        let Some(Item::Row(unread)) = items.get(items.len() - 2) else {
            panic!()
        };
        assert_eq!((unread.offset, unread.field), (6, Field::Unread));
    }

    #[test]
    fn native_requests_and_a_refused_one_in_one_stream() {
        // [1, -2], then a bad version, then [3]: native errors keep the
        // connection open.
        let input = b"\x04\x00\x00\x00\xfe\x01\x02\x03\x03\x00\x00\x00\xfe\x07\x00\x03\x00\x00\x00\xfe\x01\x06";
        let items = explain(input, &[]);
        check_cover(&items, input);
        let fields: Vec<&str> = items
            .iter()
            .map(|item| match item {
                Item::Row(row) => row.field.name(),
                Item::Verdict(_) => "verdict",
            })
            .collect();
        assert_eq!(
            fields,
            [
                "length", "magic", "version", "int", "int", "verdict", "length", "magic", "unread",
                "verdict", "length", "magic", "version", "int", "verdict"
            ]
        );
        let verdicts: Vec<&Verdict> = items
            .iter()
            .filter_map(|i| match i {
                Item::Verdict(v) => Some(v),
                Item::Row(_) => None,
            })
            .collect();
        assert!(matches!(
            verdicts[0].event,
            Event::Answered {
                sum: -1,
                ints: 2,
                ..
            }
        ));
        assert_eq!(
            verdicts[1].event,
            Event::Rejected(Error::Native(ErrorCode::Version))
        );
        assert_eq!(verdicts[1].at, Some(13));
        assert!(matches!(verdicts[2].event, Event::Answered { sum: 3, .. }));
    }

    #[test]
    fn an_oversized_header_is_shown_then_refused() {
        let input = b"\xff\xff\xff\x7fabc";
        let items = explain(input, &[2]);
        check_cover(&items, input);
        assert!(matches!(
            items[0],
            Item::Row(Row {
                field: Field::Length(0x7fff_ffff),
                ..
            })
        ));
        assert!(matches!(
            &items[2],
            Item::Verdict(Verdict {
                at: Some(0),
                event: Event::Rejected(Error::Frame(_)),
                ..
            })
        ));
    }

    #[test]
    fn a_request_cut_short_is_truncated() {
        let input = &REQUEST[..9];
        let items = explain(input, &[]);
        check_cover(&items, input);
        assert!(matches!(
            items.last(),
            Some(Item::Verdict(Verdict {
                event: Event::Rejected(Error::Truncated),
                ..
            }))
        ));
    }

    #[test]
    fn replies_of_both_formats() {
        let mut rows = Vec::new();
        let input = b"\x2f\x01\x00\x00\x03\x00";
        let mut explainer = ReplyExplainer::for_input(input);
        explainer.feed(&input[..2], &mut |i| rows.push(i));
        explainer.feed(&input[2..], &mut |i| rows.push(i));
        explainer.finish(&mut |i| rows.push(i));
        check_cover(&rows, input);
        assert!(matches!(
            rows[0],
            Item::Row(Row {
                field: Field::Reply(303),
                ..
            })
        ));
        assert!(matches!(
            rows[1],
            Item::Row(Row {
                field: Field::Unread,
                len: 2,
                ..
            })
        ));

        let mut rows = Vec::new();
        let input = b"\x04\x00\x00\x00\xfe\x01\x00\x00\x05\x00\x00\x00\xfe\x01\x00\xe8\x07";
        let mut explainer = ReplyExplainer::for_input(input);
        for byte in input.chunks(1) {
            explainer.feed(byte, &mut |i| rows.push(i));
        }
        explainer.finish(&mut |i| rows.push(i));
        check_cover(&rows, input);
        let fields: Vec<Field> = rows
            .iter()
            .filter_map(|i| match i {
                Item::Row(r) => Some(r.field),
                Item::Verdict(_) => None,
            })
            .collect();
        assert_eq!(fields[3], Field::NativeReply(Reply::Sum(0)));
        assert_eq!(fields[7], Field::NativeReply(Reply::Sum(500)));
    }
}
