//! The integer adder: a client sends a list of ints, the server answers
//! their sum.
//!
//! A request is one frame ([`crate::frame`]) whose payload is either the
//! course's `pickle.dumps(list_of_ints)` ([`pickle`]) or reseau's
//! [`native`] format, told apart by the payload's first byte. A pickle
//! request is answered with 4 raw bytes, the sum as a little-endian `u32`
//! (`struct.pack('I', total)`); a native one with a frame carrying a
//! [`native::Reply`].
//!
//! [`AdderSession`] is the server side of one connection,
//! [`client::AdderClient`] the client side (it frames a request and reads
//! its reply with [`ReplyDecoder`]); [`RequestEncoder`] writes a payload,
//! [`RequestSummer`] and [`RequestDecoder`] read one in the format its
//! first byte says ([`Format::of_first_byte`], the one place that
//! decides); [`explain`] shows a request or reply byte by byte, with the
//! same decoders. None of them allocates or does I/O.

pub mod client;
pub mod explain;
pub mod native;
pub mod pickle;

use core::fmt;

use crate::frame::{self, FrameDecoder, FrameError, Item};
use crate::session::StreamSession;
use crate::writer::Writer;
use native::{ErrorCode, NativeDecoder, NativeEncoder, NativeSummer, Reply};
use pickle::{PickleDecoder, PickleEncoder, PickleError, PickleSummer};

/// The two payload formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `pickle.dumps(list_of_ints)`, answered by a raw 4-byte `u32`.
    Pickle,
    /// Postcard `i64`s, answered by a framed [`native::Reply`].
    Native,
}

impl Format {
    /// The format of a payload that starts with `first`.
    pub const fn of_first_byte(first: u8) -> Format {
        if first == native::MAGIC {
            Format::Native
        } else {
            Format::Pickle
        }
    }

    /// The format of `payload`, by its first byte; an empty payload is a
    /// pickle one (the server refuses it as a truncated pickle).
    pub const fn of_payload(payload: &[u8]) -> Format {
        match payload.first() {
            Some(&first) => Format::of_first_byte(first),
            None => Format::Pickle,
        }
    }

    /// Whether `bytes` can begin a payload of either format, as far as
    /// they go (a native payload's [`native::MAGIC`], or
    /// [`pickle::could_start`]).
    pub fn could_start_payload(bytes: &[u8]) -> bool {
        bytes.first() == Some(&native::MAGIC) || pickle::could_start(bytes)
    }

    /// Lower-case name, as the command line spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Pickle => "pickle",
            Format::Native => "native",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request was not answered with its sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The frame header was refused; the connection closes.
    Frame(FrameError),
    /// The pickle payload is not an acceptable list of ints; the
    /// connection closes, since the course protocol cannot say why.
    Pickle(PickleError),
    /// The sum of a pickle request is outside `0..=u32::MAX`, which the
    /// course's 4-byte reply cannot carry; the connection closes.
    OutOfRange {
        /// The sum.
        sum: i128,
    },
    /// A native request was refused with an error reply; the connection
    /// stays open.
    Native(ErrorCode),
    /// The peer closed the connection in the middle of a frame.
    Truncated,
}

impl Error {
    /// True if the connection closes after this error.
    pub const fn is_fatal(&self) -> bool {
        !matches!(self, Error::Native(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(error) => error.fmt(f),
            Error::Pickle(error) => error.fmt(f),
            Error::OutOfRange { sum } => write!(
                f,
                "sum {sum} does not fit the 4-byte unsigned reply (0 to {})",
                u32::MAX
            ),
            Error::Native(code) => code.fmt(f),
            Error::Truncated => f.write_str("the connection ended inside a frame"),
        }
    }
}

impl core::error::Error for Error {}

/// What an [`AdderSession`] reports to its driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A request was answered with its sum.
    Answered {
        /// The request's format.
        format: Format,
        /// How many ints it held.
        ints: u64,
        /// Their sum.
        sum: i64,
    },
    /// A request was refused. If the error [is fatal](Error::is_fatal),
    /// the session finishes once its output is sent.
    Rejected(Error),
}

/// What the log line of an adder connection says, built from its
/// [`Event`]s: `1 request answered (3 ints)`, with `, N refused` for native
/// requests refused on a connection that went on, and `, protocol error:
/// MESSAGE` for the refusal that ended it. Every server's log line (std,
/// `reseau nic`, a firmware's console) is written with it.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    requests: u64,
    ints: u64,
    refused: u64,
    error: Option<Error>,
}

impl Summary {
    /// Counts `event`.
    pub fn record(&mut self, event: Event) {
        match event {
            Event::Answered { ints, .. } => {
                self.requests += 1;
                self.ints += ints;
            }
            Event::Rejected(error) => {
                if !error.is_fatal() {
                    self.refused += 1;
                }
                self.error = Some(error);
            }
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.requests == 1 { "" } else { "s" };
        write!(
            f,
            "{} request{plural} answered ({} ints)",
            self.requests, self.ints
        )?;
        if self.refused > 0 {
            write!(f, ", {} refused", self.refused)?;
        }
        match &self.error {
            Some(error) if error.is_fatal() => write!(f, ", protocol error: {error}"),
            _ => Ok(()),
        }
    }
}

/// Settings of an [`AdderSession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdderConfig {
    /// Largest payload accepted; see [`frame::DEFAULT_MAX_FRAME`].
    pub max_frame: u32,
    /// Whether a connection goes on after a pickle request is answered.
    ///
    /// `false` (the default) is the course's protocol: one pickle request
    /// per connection, and **the server closes first**, right after the
    /// reply. The side that closes first is the one left in TIME_WAIT; a
    /// server keeps its TIME_WAITs on its own port, whereas a client that
    /// has to close first spends one of its ephemeral ports on each, and
    /// runs out of them after about 28,000 connections in a minute. The
    /// course's client reads the 4-byte reply and closes; with `false` it
    /// finds the server's FIN already there.
    ///
    /// `true` answers pickle requests one after another on the same
    /// connection until the client closes (for clients written for it).
    /// Native requests are always answered one after another: the native
    /// format is reseau's own, and its clients keep their connection.
    pub keep_alive: bool,
}

impl Default for AdderConfig {
    fn default() -> Self {
        AdderConfig {
            max_frame: frame::DEFAULT_MAX_FRAME,
            keep_alive: false,
        }
    }
}

/// Sums a request payload while it is read, in the format of its first
/// byte: the server's reader, also the Python binding's `sum_request`.
///
/// ```
/// use reseau_core::adder::{Format, RequestSummer};
///
/// // pickle.dumps([1, 2], protocol=2), in two pieces.
/// let payload = b"\x80\x02]q\x00(K\x01K\x02e.";
/// let mut summer = RequestSummer::new(Format::of_payload(payload));
/// assert_eq!(summer.format(), Format::Pickle);
/// summer.feed(&payload[..5]).unwrap();
/// summer.feed(&payload[5..]).unwrap();
/// assert_eq!(summer.finish(), Ok(3));
/// ```
#[derive(Debug, Clone)]
pub enum RequestSummer {
    /// The course's pickle.
    Pickle(PickleSummer),
    /// reseau's native format.
    Native(NativeSummer),
}

impl RequestSummer {
    /// A summer for a payload in `format` (that of its first byte:
    /// [`Format::of_payload`]).
    pub const fn new(format: Format) -> Self {
        match format {
            Format::Pickle => RequestSummer::Pickle(PickleSummer::new()),
            Format::Native => RequestSummer::Native(NativeSummer::new()),
        }
    }

    /// The payload's format.
    pub const fn format(&self) -> Format {
        match self {
            RequestSummer::Pickle(_) => Format::Pickle,
            RequestSummer::Native(_) => Format::Native,
        }
    }

    /// Ints summed so far.
    pub fn count(&self) -> u64 {
        match self {
            RequestSummer::Pickle(s) => s.count(),
            RequestSummer::Native(s) => s.count(),
        }
    }

    /// Reads the next bytes of the payload. A native payload's errors are
    /// reported by [`finish`](Self::finish).
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        match self {
            RequestSummer::Pickle(s) => s.feed(input).map_err(Error::Pickle),
            RequestSummer::Native(s) => {
                s.feed(input);
                Ok(())
            }
        }
    }

    /// The sum, once the whole payload was fed: exact to 128 bits for a
    /// pickle, within 64 bits for a native payload.
    pub fn finish(&self) -> Result<i128, Error> {
        match self {
            RequestSummer::Pickle(s) => s.finish().map_err(Error::Pickle),
            RequestSummer::Native(s) => s.finish().map(i128::from).map_err(Error::Native),
        }
    }
}

/// Decodes a request payload's ints while it is read, in the format of
/// its first byte (the Python binding's `decode_sum_request`).
///
/// ```
/// use reseau_core::adder::{Format, RequestDecoder};
///
/// let payload = [0xFE, 0x01, 0x02, 0x03]; // native: version 1, then 1, -2
/// let mut decoder = RequestDecoder::new(Format::of_payload(&payload));
/// let mut ints = Vec::new();
/// decoder.feed(&payload, |value| ints.push(value)).unwrap();
/// decoder.finish().unwrap();
/// assert_eq!(ints, [1, -2]);
/// ```
#[derive(Debug, Clone)]
pub enum RequestDecoder {
    /// The course's pickle.
    Pickle(PickleDecoder),
    /// reseau's native format.
    Native(NativeDecoder),
}

impl RequestDecoder {
    /// A decoder for a payload in `format` (that of its first byte:
    /// [`Format::of_payload`]).
    pub const fn new(format: Format) -> Self {
        match format {
            Format::Pickle => RequestDecoder::Pickle(PickleDecoder::new()),
            Format::Native => RequestDecoder::Native(NativeDecoder::new()),
        }
    }

    /// Reads the next bytes of the payload, handing each int to `visit`.
    /// A native payload's errors are reported by [`finish`](Self::finish).
    pub fn feed(&mut self, input: &[u8], mut visit: impl FnMut(i128)) -> Result<(), Error> {
        match self {
            RequestDecoder::Pickle(d) => d
                .feed(input, |value| {
                    visit(value);
                    Ok(())
                })
                .map_err(Error::Pickle),
            RequestDecoder::Native(d) => {
                d.feed(input, |value| visit(i128::from(value)));
                Ok(())
            }
        }
    }

    /// Checks that the payload is complete and valid.
    pub fn finish(&self) -> Result<(), Error> {
        match self {
            RequestDecoder::Pickle(d) => d.finish().map_err(Error::Pickle),
            RequestDecoder::Native(d) => d.finish().map_err(Error::Native),
        }
    }
}

/// The request being read.
#[derive(Debug, Clone)]
enum Request {
    /// A header was read, no payload byte yet.
    Started,
    Summing(RequestSummer),
}

/// Output buffer: room for several replies, so a pipelining client is
/// answered in batches.
const OUT_CAP: usize = 64;
/// The largest reply: a frame header and a native reply payload.
pub const MAX_REPLY: usize = frame::HEADER_LEN + native::MAX_REPLY_PAYLOAD;
/// Events held until the driver polls them.
const EVENT_CAP: usize = 4;

/// The server side of one adder connection.
///
/// # Call order
///
/// A driver owns one session per connection and repeats:
///
/// 1. [`handle_input`](StreamSession::handle_input) with the bytes it read
///    and has not yet given; the session returns how many it took. It takes
///    fewer than offered when its output buffer is full (the peer sends
///    requests faster than it reads replies), so the driver keeps the rest
///    and stops reading the socket until output drains: that is what keeps
///    memory bounded.
/// 2. [`poll_event`](StreamSession::poll_event) until `None`, to log.
/// 3. [`poll_transmit`](StreamSession::poll_transmit) until it returns 0 or
///    the socket is full.
/// 4. When the peer closes its side, [`handle_eof`](StreamSession::handle_eof)
///    once, then steps 2 and 3.
/// 5. Close the connection when [`is_finished`](StreamSession::is_finished).
///    The session finishes by itself (the server closes first) after a
///    fatal error and, unless [`AdderConfig::keep_alive`], after answering a
///    pickle request: bytes the peer sent after that request are not taken,
///    and the driver drops them.
///
/// The session sums while it parses: its memory is constant (432 bytes on
/// x86-64, with its 64-byte output buffer) whatever the request's size.
///
/// ```
/// use reseau_core::adder::{AdderSession, Event, Format};
/// use reseau_core::session::StreamSession;
///
/// let mut session = AdderSession::default();
/// // struct.pack("I", 12) + pickle.dumps([1, 2], protocol=2)
/// let request = b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.";
/// assert_eq!(session.handle_input(request), request.len());
/// assert_eq!(
///     session.poll_event(),
///     Some(Event::Answered { format: Format::Pickle, ints: 2, sum: 3 })
/// );
/// let mut out = [0u8; 8];
/// assert_eq!(session.poll_transmit(&mut out), 4);
/// assert_eq!(&out[..4], &3u32.to_le_bytes());
/// // One pickle request per connection, as in the course: the server closes.
/// assert!(session.is_finished());
/// ```
#[derive(Debug, Clone)]
pub struct AdderSession {
    frames: FrameDecoder,
    request: Request,
    out: [u8; OUT_CAP],
    out_start: usize,
    out_end: usize,
    events: heapless::Deque<Event, EVENT_CAP>,
    /// No more input will be taken: the peer closed, a fatal error, or a
    /// pickle request was answered without [`AdderConfig::keep_alive`].
    closing: bool,
    keep_alive: bool,
}

impl Default for AdderSession {
    fn default() -> Self {
        Self::new(AdderConfig::default())
    }
}

impl AdderSession {
    /// A session at the start of a connection.
    pub fn new(config: AdderConfig) -> Self {
        AdderSession {
            frames: FrameDecoder::new(config.max_frame),
            request: Request::Started,
            out: [0; OUT_CAP],
            out_start: 0,
            out_end: 0,
            events: heapless::Deque::new(),
            closing: false,
            keep_alive: config.keep_alive,
        }
    }

    /// True if a request is partly read.
    pub fn in_request(&self) -> bool {
        !self.frames.is_idle()
    }

    fn event(&mut self, event: Event) {
        // Room was checked before the request started.
        let _ = self.events.push_back(event);
        match event {
            Event::Rejected(error) if error.is_fatal() => self.closing = true,
            Event::Answered {
                format: Format::Pickle,
                ..
            } if !self.keep_alive => self.closing = true,
            _ => {}
        }
    }

    /// Room for the next request's reply and event?
    fn has_room(&mut self) -> bool {
        if self.out_start == self.out_end {
            self.out_start = 0;
            self.out_end = 0;
        } else if OUT_CAP - self.out_end < MAX_REPLY {
            self.out.copy_within(self.out_start..self.out_end, 0);
            self.out_end -= self.out_start;
            self.out_start = 0;
        }
        OUT_CAP - self.out_end >= MAX_REPLY && !self.events.is_full()
    }

    fn reply(&mut self, bytes: impl FnOnce(&mut Writer<'_>)) {
        let Some(free) = self.out.get_mut(self.out_end..) else {
            return;
        };
        let mut writer = Writer::new(free);
        bytes(&mut writer);
        self.out_end += writer.len();
    }

    fn payload(&mut self, data: &[u8]) {
        if let Request::Started = self.request {
            self.request = Request::Summing(RequestSummer::new(Format::of_payload(data)));
        }
        if let Request::Summing(summer) = &mut self.request
            && let Err(error) = summer.feed(data)
        {
            self.event(Event::Rejected(error));
        }
    }

    fn end_of_request(&mut self) {
        let request = core::mem::replace(&mut self.request, Request::Started);
        let event = match request {
            Request::Started => Event::Rejected(Error::Pickle(PickleError::Truncated)),
            Request::Summing(RequestSummer::Pickle(summer)) => match summer.finish() {
                Err(error) => Event::Rejected(Error::Pickle(error)),
                Ok(sum) => match u32::try_from(sum) {
                    Ok(sum) => {
                        self.reply(|w| w.put(&sum.to_le_bytes()));
                        Event::Answered {
                            format: Format::Pickle,
                            ints: summer.count(),
                            sum: i64::from(sum),
                        }
                    }
                    Err(_) => Event::Rejected(Error::OutOfRange { sum }),
                },
            },
            Request::Summing(RequestSummer::Native(summer)) => {
                let result = summer.finish();
                let reply = match result {
                    Ok(sum) => Reply::Sum(sum),
                    Err(code) => Reply::Error(code),
                };
                self.reply(|w| {
                    let mut payload = [0u8; native::MAX_REPLY_PAYLOAD];
                    let mut p = Writer::new(&mut payload);
                    native::encode_reply(reply, &mut p);
                    w.put(&frame::encode_header(p.len() as u32));
                    w.put(p.written());
                });
                match result {
                    Ok(sum) => Event::Answered {
                        format: Format::Native,
                        ints: summer.count(),
                        sum,
                    },
                    Err(code) => Event::Rejected(Error::Native(code)),
                }
            }
        };
        self.event(event);
    }
}

impl StreamSession for AdderSession {
    type Event = Event;

    fn handle_input(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        while !self.closing {
            if self.frames.is_idle() && !self.has_room() {
                break;
            }
            let rest = input.get(used..).unwrap_or_default();
            match self.frames.decode(rest) {
                Err(error) => {
                    self.event(Event::Rejected(Error::Frame(error)));
                }
                Ok((n, item)) => {
                    used += n;
                    match item {
                        None => break,
                        Some(Item::Start { .. }) => self.request = Request::Started,
                        Some(Item::Data(data)) => self.payload(data),
                        Some(Item::End) => self.end_of_request(),
                    }
                }
            }
        }
        used
    }

    fn handle_eof(&mut self) {
        if !self.closing && !self.frames.is_idle() {
            self.event(Event::Rejected(Error::Truncated));
        }
        self.closing = true;
    }

    fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let pending = self
            .out
            .get(self.out_start..self.out_end)
            .unwrap_or_default();
        let n = pending.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), pending.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.out_start += n;
        n
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A frame is partly read.
    fn is_receiving(&self) -> bool {
        self.in_request()
    }

    fn is_finished(&self) -> bool {
        self.closing && self.out_start == self.out_end
    }
}

/// An int that the request's format cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeError {
    /// The int.
    pub value: i128,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not fit in a 64-bit signed integer, which the native format carries",
            self.value
        )
    }
}

impl core::error::Error for EncodeError {}

/// Writes a request payload in either format, one int at a time.
///
/// The frame header needs the payload's length, so a caller that streams
/// an unknown number of ints encodes into a spool (a file, a growing
/// buffer), then sends [`frame::encode_header`] and the spool.
///
/// ```
/// use reseau_core::adder::{Format, RequestEncoder};
/// use reseau_core::writer::Writer;
///
/// let mut buf = [0u8; 64];
/// let mut out = Writer::new(&mut buf);
/// let mut encoder = RequestEncoder::new(Format::Pickle);
/// encoder.begin(&mut out);
/// for value in [1, 2] {
///     encoder.push(value, &mut out).unwrap();
/// }
/// encoder.finish(&mut out);
/// // pickle.dumps([1, 2], protocol=2)
/// assert_eq!(out.written(), b"\x80\x02]q\x00(K\x01K\x02e.");
/// ```
#[derive(Debug, Clone)]
pub enum RequestEncoder {
    /// The course's pickle.
    Pickle(PickleEncoder),
    /// reseau's native format.
    Native(NativeEncoder),
}

impl RequestEncoder {
    /// Room each call needs in its writer.
    pub const MAX_WRITE: usize = PickleEncoder::MAX_WRITE;

    /// An encoder for `format`.
    pub const fn new(format: Format) -> Self {
        match format {
            Format::Pickle => RequestEncoder::Pickle(PickleEncoder::new()),
            Format::Native => RequestEncoder::Native(NativeEncoder),
        }
    }

    /// Writes the start of the payload.
    pub fn begin(&mut self, out: &mut Writer<'_>) {
        match self {
            RequestEncoder::Pickle(e) => e.begin(out),
            RequestEncoder::Native(e) => e.begin(out),
        }
    }

    /// Writes one int.
    pub fn push(&mut self, value: i128, out: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            RequestEncoder::Pickle(e) => e.push(value, out),
            RequestEncoder::Native(e) => e.push(
                i64::try_from(value).map_err(|_| EncodeError { value })?,
                out,
            ),
        }
        Ok(())
    }

    /// Writes as many of `values` as fit in `out`, the same bytes as
    /// [`push`](Self::push) on each; returns how many it wrote. Faster than
    /// `push` for runs of machine ints. With less than
    /// [`MAX_WRITE`](Self::MAX_WRITE) bytes of room it may write none:
    /// hand the rest to a fresh writer.
    pub fn push_i64s(&mut self, values: &[i64], out: &mut Writer<'_>) -> usize {
        match self {
            RequestEncoder::Pickle(e) => e.push_i64s(values, out),
            RequestEncoder::Native(e) => e.push_i64s(values, out),
        }
    }

    /// Writes the end of the payload.
    pub fn finish(&mut self, out: &mut Writer<'_>) {
        match self {
            RequestEncoder::Pickle(e) => e.finish(out),
            RequestEncoder::Native(_) => {}
        }
    }

    /// Encodes a whole payload for `ints`, handing its bytes to `sink` a
    /// few at a time; returns the payload's length.
    ///
    /// ```
    /// use reseau_core::adder::{Format, RequestEncoder};
    ///
    /// let mut payload = [0u8; 16];
    /// let mut len = 0;
    /// let total = RequestEncoder::encode_all(Format::Native, [1, -2, 300], |bytes| {
    ///     payload[len..len + bytes.len()].copy_from_slice(bytes);
    ///     len += bytes.len();
    /// });
    /// assert_eq!(total, Ok(6));
    /// assert_eq!(&payload[..len], &[0xFE, 0x01, 0x02, 0x03, 0xD8, 0x04]);
    /// ```
    pub fn encode_all(
        format: Format,
        ints: impl IntoIterator<Item = i128>,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<u64, EncodeError> {
        let mut encoder = RequestEncoder::new(format);
        let mut chunk = [0u8; RequestEncoder::MAX_WRITE];
        let mut len = 0u64;
        let mut emit = |w: &Writer<'_>| {
            len += w.len() as u64;
            sink(w.written());
        };
        let mut w = Writer::new(&mut chunk);
        encoder.begin(&mut w);
        emit(&w);
        for value in ints {
            let mut w = Writer::new(&mut chunk);
            encoder.push(value, &mut w)?;
            emit(&w);
        }
        let mut w = Writer::new(&mut chunk);
        encoder.finish(&mut w);
        emit(&w);
        Ok(len)
    }
}

/// A reply could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// A native reply frame is not a valid reply.
    Malformed,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Malformed => f.write_str("the server's reply is not a valid native reply"),
        }
    }
}

impl core::error::Error for ReplyError {}

/// Reads the server's replies, on the client side.
///
/// ```
/// use reseau_core::adder::{Format, ReplyDecoder};
/// use reseau_core::adder::native::Reply;
///
/// let mut decoder = ReplyDecoder::new(Format::Pickle);
/// assert_eq!(decoder.decode(&[3, 0]), (2, None));
/// assert_eq!(decoder.decode(&[0, 0]), (2, Some(Ok(Reply::Sum(3)))));
/// ```
#[derive(Debug, Clone)]
pub struct ReplyDecoder {
    format: Format,
    frames: FrameDecoder,
    buf: [u8; native::MAX_REPLY_PAYLOAD],
    have: usize,
}

impl ReplyDecoder {
    /// A decoder for replies to requests in `format`.
    pub const fn new(format: Format) -> Self {
        ReplyDecoder {
            format,
            frames: FrameDecoder::new(native::MAX_REPLY_PAYLOAD as u32),
            buf: [0; native::MAX_REPLY_PAYLOAD],
            have: 0,
        }
    }

    /// True between replies: an end of stream here loses nothing.
    pub fn is_idle(&self) -> bool {
        self.have == 0 && self.frames.is_idle()
    }

    /// Consumes bytes of `input`; returns how many, and a reply once one is
    /// complete. Call again with the rest.
    pub fn decode(&mut self, input: &[u8]) -> (usize, Option<Result<Reply, ReplyError>>) {
        match self.format {
            Format::Pickle => {
                let take = (4 - self.have).min(input.len());
                if let (Some(dst), Some(src)) = (
                    self.buf.get_mut(self.have..self.have + take),
                    input.get(..take),
                ) {
                    dst.copy_from_slice(src);
                }
                self.have += take;
                if self.have < 4 {
                    return (take, None);
                }
                self.have = 0;
                let [a, b, c, d, ..] = self.buf;
                (
                    take,
                    Some(Ok(Reply::Sum(i64::from(u32::from_le_bytes([a, b, c, d]))))),
                )
            }
            Format::Native => {
                let mut used = 0;
                loop {
                    let rest = input.get(used..).unwrap_or_default();
                    let (n, item) = match self.frames.decode(rest) {
                        Ok(decoded) => decoded,
                        Err(_) => return (used, Some(Err(ReplyError::Malformed))),
                    };
                    used += n;
                    match item {
                        None => return (used, None),
                        Some(Item::Start { .. }) => self.have = 0,
                        Some(Item::Data(data)) => {
                            if let Some(dst) = self.buf.get_mut(self.have..self.have + data.len()) {
                                dst.copy_from_slice(data);
                            }
                            self.have += data.len();
                        }
                        Some(Item::End) => {
                            let payload = self.buf.get(..self.have).unwrap_or_default();
                            let reply = native::decode_reply(payload).ok_or(ReplyError::Malformed);
                            self.have = 0;
                            return (used, Some(reply));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
