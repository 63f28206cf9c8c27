//! The client side of adder connections: frame a request, read its reply.
//!
//! [`AdderClient`] holds the client's rules, once, for every driver (the
//! `reseau adder sum` command, the load generator, the `embedded_io`
//! driver, the Python binding): a request is the frame header
//! `struct.pack('I', len)` and then exactly `len` payload bytes; its reply
//! is read with [`ReplyDecoder`], whose format is the one the server
//! picks, by the payload's first byte ([`Format::of_first_byte`]); an end
//! of stream before the reply is [`Outcome::ClosedBeforeReply`].

use core::fmt;

use super::native::{ErrorCode, Reply};
use super::{Format, ReplyDecoder};
use crate::frame;

/// Requests one [`AdderClient`] lets be in flight at once (sent, or being
/// sent, and not yet answered), answers not yet polled included.
pub const MAX_IN_FLIGHT: usize = 16;

/// How a request ended, as [`AdderClient::poll_outcome`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with the sum.
    Sum(i64),
    /// The server refused a native request with an error reply; the
    /// connection stays open for the next request.
    Refused(ErrorCode),
    /// The server closed the connection before the reply was complete. A
    /// server closes without replying when it refuses a pickle request
    /// (the course's format cannot say why), or a frame over its limit.
    ClosedBeforeReply,
    /// The server sent bytes that are not a reply: a malformed native
    /// reply, or bytes when no request was waiting for one.
    MalformedReply,
}

impl Outcome {
    /// The sum, or the outcome that is not one.
    pub const fn sum(self) -> Result<i64, Outcome> {
        match self {
            Outcome::Sum(sum) => Ok(sum),
            other => Err(other),
        }
    }

    /// True if the connection is over after this outcome.
    pub const fn is_fatal(&self) -> bool {
        matches!(self, Outcome::ClosedBeforeReply | Outcome::MalformedReply)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Sum(sum) => write!(f, "the sum {sum}"),
            Outcome::Refused(code) => write!(f, "the server refused the request: {code}"),
            Outcome::ClosedBeforeReply => {
                f.write_str("the server closed the connection before its reply was complete")
            }
            Outcome::MalformedReply => f.write_str("the server's reply is not a valid reply"),
        }
    }
}

/// Why [`AdderClient::start`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// The payload is longer than a frame's 4-byte length can say.
    TooLarge {
        /// The payload's length in bytes.
        len: u64,
    },
    /// The previous request is not all transmitted yet, or
    /// [`MAX_IN_FLIGHT`] requests are waiting for their replies (or for
    /// [`AdderClient::poll_outcome`]).
    Busy,
    /// The connection is over ([`AdderClient::is_finished`]).
    Finished,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::TooLarge { len } => write!(
                f,
                "the request is {len} bytes, more than a frame's 4-byte length can say ({})",
                u32::MAX
            ),
            StartError::Busy => f.write_str(
                "the previous request is not all transmitted, or too many are waiting for replies",
            ),
            StartError::Finished => f.write_str("the connection is over"),
        }
    }
}

impl core::error::Error for StartError {}

/// What one [`AdderClient::poll_transmit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transmit {
    /// Payload bytes taken from the front of the offered payload.
    pub taken: usize,
    /// Bytes written to the front of `out`, to send in that order.
    pub written: usize,
}

/// The client side of one adder connection.
///
/// It does no I/O and never allocates: the driver owns the socket and the
/// buffers, and the payload, already encoded (with
/// [`RequestEncoder`](super::RequestEncoder)), stays with the driver, which
/// offers it in pieces as it reads it (a spool file of millions of ints,
/// say). The frame's header needs the payload's length before its first
/// byte: a caller that has ints, not bytes, learns it by encoding them
/// once into nothing ([`encode_all`](super::RequestEncoder::encode_all)
/// with a sink that drops the bytes) or into a spool.
///
/// The reply's format is the one the server uses: the format of the
/// payload's first byte ([`Format::of_first_byte`]; an empty payload is a
/// pickle one).
///
/// # Call order
///
/// For each request:
///
/// 1. [`start`](Self::start) with the payload's length.
/// 2. [`poll_transmit`](Self::poll_transmit) with the payload bytes not yet
///    taken and a buffer, and send the bytes it wrote, until
///    [`is_sending`](Self::is_sending) is false. It writes the header first,
///    then payload bytes, never more than the length given to `start`.
///    The client counts them as sent: a driver that cannot send them all at
///    once keeps the rest.
/// 3. [`handle_input`](Self::handle_input) with the bytes received, and
///    [`handle_eof`](Self::handle_eof) once at end of stream.
/// 4. [`poll_outcome`](Self::poll_outcome) until `None`: one
///    [`Outcome`] per request, in the order they were started.
///
/// A persistent connection starts the next request after step 2 (at most
/// [`MAX_IN_FLIGHT`] pipelined) or after its outcome; the course's client
/// sends one request per connection and closes once it has the outcome.
/// Close the connection once [`is_finished`](Self::is_finished): after end
/// of stream or a malformed reply, every request in flight gets a fatal
/// outcome and no more can be started.
///
/// ```
/// use reseau_core::adder::client::{AdderClient, Outcome};
///
/// // pickle.dumps([1, 2], protocol=2), the course's payload.
/// let payload = b"\x80\x02]q\x00(K\x01K\x02e.";
/// let mut client = AdderClient::new();
/// client.start(payload.len() as u64).unwrap();
/// let mut out = [0u8; 8];
/// let mut sent = Vec::new();
/// let mut taken = 0;
/// while client.is_sending() {
///     let t = client.poll_transmit(&payload[taken..], &mut out);
///     taken += t.taken;
///     sent.extend_from_slice(&out[..t.written]);
/// }
/// assert_eq!(sent, b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.");
///
/// // The reply, struct.pack('I', 3), in two reads.
/// assert_eq!(client.handle_input(&[3, 0]), 2);
/// assert_eq!(client.poll_outcome(), None);
/// assert_eq!(client.handle_input(&[0, 0]), 2);
/// assert_eq!(client.poll_outcome(), Some(Outcome::Sum(3)));
/// // The course's server closes after its reply: nothing is lost.
/// client.handle_eof();
/// assert_eq!(client.poll_outcome(), None);
/// assert!(client.is_finished());
/// ```
#[derive(Debug, Clone)]
pub struct AdderClient {
    /// The header of the request being sent.
    header: [u8; frame::HEADER_LEN],
    /// Bytes of `header` already written out; `HEADER_LEN` once all are.
    header_sent: usize,
    /// Payload bytes of the request being sent, not yet taken.
    payload_left: u64,
    /// The request being sent has a payload whose first byte (its format)
    /// has not been taken yet.
    format_pending: bool,
    /// The formats of the requests waiting for a reply, oldest first.
    waiting: heapless::Deque<Format, MAX_IN_FLIGHT>,
    /// Reads the reply of the oldest waiting request.
    replies: ReplyDecoder,
    outcomes: heapless::Deque<Outcome, { MAX_IN_FLIGHT + 1 }>,
    /// End of stream or a malformed reply: nothing more goes either way.
    finished: bool,
}

impl Default for AdderClient {
    fn default() -> Self {
        Self::new()
    }
}

impl AdderClient {
    /// A client at the start of a connection.
    pub const fn new() -> Self {
        AdderClient {
            header: [0; frame::HEADER_LEN],
            header_sent: frame::HEADER_LEN,
            payload_left: 0,
            format_pending: false,
            waiting: heapless::Deque::new(),
            replies: ReplyDecoder::new(Format::Pickle),
            outcomes: heapless::Deque::new(),
            finished: false,
        }
    }

    /// Requests started and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.waiting.len() + usize::from(self.format_pending)
    }

    /// True while the request last started has bytes left to transmit.
    pub fn is_sending(&self) -> bool {
        !self.finished && (self.header_sent < frame::HEADER_LEN || self.payload_left > 0)
    }

    /// Payload bytes of the request being sent that are still to be
    /// offered to [`poll_transmit`](Self::poll_transmit).
    pub fn payload_left(&self) -> u64 {
        if self.finished { 0 } else { self.payload_left }
    }

    /// The connection is over: close it.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Starts a request whose payload is `len` bytes.
    pub fn start(&mut self, len: u64) -> Result<(), StartError> {
        if self.finished {
            return Err(StartError::Finished);
        }
        let header = u32::try_from(len).map_err(|_| StartError::TooLarge { len })?;
        if self.is_sending() || self.in_flight() + self.outcomes.len() >= MAX_IN_FLIGHT {
            return Err(StartError::Busy);
        }
        self.header = frame::encode_header(header);
        self.header_sent = 0;
        self.payload_left = len;
        if len == 0 {
            self.wait_for(Format::Pickle);
        } else {
            self.format_pending = true;
        }
        Ok(())
    }

    /// The request being sent now waits for a reply in `format`.
    fn wait_for(&mut self, format: Format) {
        if self.waiting.is_empty() {
            self.replies = ReplyDecoder::new(format);
        }
        // Room was checked by `start`.
        let _ = self.waiting.push_back(format);
    }

    /// Writes into `out` what is next to send: the rest of the header,
    /// then payload bytes taken from the front of `payload` (the bytes
    /// after those taken so far), up to the length given to
    /// [`start`](Self::start). Bytes past that length are not taken.
    pub fn poll_transmit(&mut self, payload: &[u8], out: &mut [u8]) -> Transmit {
        let mut done = Transmit::default();
        if self.finished {
            return done;
        }
        let header = self.header.get(self.header_sent..).unwrap_or_default();
        let n = header.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), header.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.header_sent += n;
        done.written = n;
        if self.header_sent < frame::HEADER_LEN {
            return done;
        }
        let left = usize::try_from(self.payload_left).unwrap_or(usize::MAX);
        let take = payload.len().min(left).min(out.len() - n);
        if let (Some(dst), Some(src)) = (out.get_mut(n..n + take), payload.get(..take)) {
            dst.copy_from_slice(src);
        }
        if self.format_pending && take > 0 {
            self.format_pending = false;
            self.wait_for(Format::of_payload(payload));
        }
        self.payload_left -= take as u64;
        done.taken = take;
        done.written += take;
        done
    }

    /// Takes bytes received from the server; returns how many. It takes
    /// them all unless the connection ends (a malformed reply), after
    /// which it takes nothing.
    pub fn handle_input(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        while !self.finished {
            let Some(rest) = input.get(used..).filter(|rest| !rest.is_empty()) else {
                break;
            };
            if self.waiting.is_empty() {
                // Bytes no request asked for.
                self.end(Outcome::MalformedReply);
                break;
            }
            let (n, reply) = self.replies.decode(rest);
            used += n;
            let outcome = match reply {
                None if n == 0 => Outcome::MalformedReply,
                None => continue,
                Some(Ok(Reply::Sum(sum))) => Outcome::Sum(sum),
                Some(Ok(Reply::Error(code))) => Outcome::Refused(code),
                Some(Err(_)) => Outcome::MalformedReply,
            };
            if outcome.is_fatal() {
                self.end(outcome);
                break;
            }
            self.waiting.pop_front();
            if let Some(&next) = self.waiting.front() {
                self.replies = ReplyDecoder::new(next);
            }
            // `start` left room for every waiting request's outcome.
            let _ = self.outcomes.push_back(outcome);
        }
        used
    }

    /// The server closed its side: every request still in flight is
    /// [`Outcome::ClosedBeforeReply`], and the connection is over.
    pub fn handle_eof(&mut self) {
        if !self.finished {
            self.end(Outcome::ClosedBeforeReply);
        }
    }

    /// Ends the connection: `outcome` for every request in flight, or once
    /// if none is (bytes that no request asked for).
    fn end(&mut self, outcome: Outcome) {
        let lost = match self.in_flight() {
            0 if outcome == Outcome::MalformedReply => 1,
            n => n,
        };
        for _ in 0..lost {
            // Room: one per request in flight, plus one.
            let _ = self.outcomes.push_back(outcome);
        }
        self.waiting.clear();
        self.format_pending = false;
        self.payload_left = 0;
        self.header_sent = frame::HEADER_LEN;
        self.finished = true;
    }

    /// The next request's outcome, in the order they were started.
    pub fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcomes.pop_front()
    }
}
