//! Echo (RFC 862, TCP): every byte received is sent back.
//!
//! The course's echo server reads until its client closes, prints the
//! message and closes; its client sends a message and closes without
//! reading. [`EchoSession`] serves both that client and real echo clients:
//! it sends every byte back as it comes, and when the peer half-closes it
//! reports the message (its length and first bytes) and finishes once the
//! echo is sent.
//!
//! Memory is bounded: bytes wait in a fixed buffer until they are sent
//! back, and the session takes no more input while that buffer is full. A
//! client that sends without reading is held back by TCP, not buffered.

use core::fmt;

use crate::escape::Quoted;
use crate::session::StreamSession;

/// Bytes held between receiving and echoing them. Small on purpose: the
/// whole session stays under 1 KiB, so a microcontroller can afford one
/// per connection, and a driver that wants large writes gathers several
/// `poll_transmit` calls into one (as `reseau-host` does).
pub const BUFFER: usize = 512;

/// Bytes of each message kept for the report.
pub const PREVIEW: usize = 96;

/// What an [`EchoSession`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer half-closed: its message is complete.
    Message {
        /// The message's length in bytes.
        len: u64,
        /// Its first bytes (at most [`PREVIEW`]).
        head: heapless::Vec<u8, PREVIEW>,
    },
}

/// What the log line of an echo connection says, from its [`Event`]:
/// `"hello"... (N bytes)` (the first [`PREVIEW`] bytes, escaped and
/// quoted), or `no complete message`.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    message: Option<Event>,
}

impl Summary {
    /// Counts `event`.
    pub fn record(&mut self, event: Event) {
        self.message = Some(event);
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            None => f.write_str("no complete message"),
            Some(Event::Message { len, head }) => {
                let text = Quoted(head);
                let cut = if *len > head.len() as u64 { "..." } else { "" };
                let plural = if *len == 1 { "" } else { "s" };
                write!(f, "{text}{cut} ({len} byte{plural})")
            }
        }
    }
}

/// The server side of one echo connection.
///
/// # Call order
///
/// As for every [`StreamSession`]: `handle_input` (it takes at most the
/// free room of its buffer), `poll_event`, `poll_transmit`, `handle_eof`
/// at end of stream, and close once `is_finished`.
///
/// ```
/// use reseau_core::echo::{EchoSession, Event};
/// use reseau_core::session::StreamSession;
///
/// let mut session = EchoSession::new();
/// assert_eq!(session.handle_input(b"Hello World!"), 12);
/// let mut out = [0u8; 64];
/// assert_eq!(session.poll_transmit(&mut out), 12);
/// assert_eq!(&out[..12], b"Hello World!");
/// session.handle_eof();
/// match session.poll_event() {
///     Some(Event::Message { len, head }) => assert_eq!((len, &head[..]), (12, &b"Hello World!"[..])),
///     other => panic!("{other:?}"),
/// }
/// assert!(session.is_finished());
/// ```
#[derive(Debug, Clone)]
pub struct EchoSession {
    buf: [u8; BUFFER],
    /// Next byte to send.
    start: usize,
    /// Bytes waiting, from `start` (wrapping).
    len: usize,
    total: u64,
    head: heapless::Vec<u8, PREVIEW>,
    eof: bool,
    reported: bool,
}

impl Default for EchoSession {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoSession {
    /// A session at the start of a connection.
    pub const fn new() -> Self {
        EchoSession {
            buf: [0; BUFFER],
            start: 0,
            len: 0,
            total: 0,
            head: heapless::Vec::new(),
            eof: false,
            reported: false,
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.total
    }
}

impl StreamSession for EchoSession {
    type Event = Event;

    fn handle_input(&mut self, input: &[u8]) -> usize {
        if self.eof {
            return 0;
        }
        let free = BUFFER - self.len;
        let take = input.len().min(free);
        let mut copied = 0;
        // The free room is at most two pieces of the ring.
        while copied < take {
            let end = (self.start + self.len) % BUFFER;
            let room = if end >= self.start || self.len == 0 {
                BUFFER - end
            } else {
                self.start - end
            };
            let n = room.min(take - copied);
            if let (Some(dst), Some(src)) = (
                self.buf.get_mut(end..end + n),
                input.get(copied..copied + n),
            ) {
                dst.copy_from_slice(src);
            }
            self.len += n;
            copied += n;
            if n == 0 {
                break;
            }
        }
        let taken = input.get(..copied).unwrap_or_default();
        let keep = (PREVIEW - self.head.len()).min(taken.len());
        let _ = self
            .head
            .extend_from_slice(taken.get(..keep).unwrap_or_default());
        self.total += copied as u64;
        copied
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut sent = 0;
        while self.len > 0 && sent < out.len() {
            let piece = (BUFFER - self.start).min(self.len).min(out.len() - sent);
            if let (Some(dst), Some(src)) = (
                out.get_mut(sent..sent + piece),
                self.buf.get(self.start..self.start + piece),
            ) {
                dst.copy_from_slice(src);
            }
            self.start = (self.start + piece) % BUFFER;
            self.len -= piece;
            sent += piece;
        }
        if self.len == 0 {
            self.start = 0;
        }
        sent
    }

    fn poll_event(&mut self) -> Option<Event> {
        if self.eof && !self.reported {
            self.reported = true;
            return Some(Event::Message {
                len: self.total,
                head: self.head.clone(),
            });
        }
        None
    }

    fn is_finished(&self) -> bool {
        self.eof && self.reported && self.len == 0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    /// Drives a session: input in `step`-byte pieces, output drained
    /// `out_step` bytes at a time, or not at all while `reader_asleep`.
    fn echo(input: &[u8], step: usize, out_step: usize) -> (Vec<u8>, Vec<Event>) {
        let mut session = EchoSession::new();
        let mut output = Vec::new();
        let mut events = Vec::new();
        let mut pending = input;
        let mut out = std::vec![0u8; out_step];
        for _ in 0..(input.len() * 2 + 16) {
            let offer = &pending[..pending.len().min(step)];
            let used = session.handle_input(offer);
            pending = &pending[used..];
            if pending.is_empty() {
                session.handle_eof();
            }
            events.extend(core::iter::from_fn(|| session.poll_event()));
            let n = session.poll_transmit(&mut out);
            output.extend_from_slice(&out[..n]);
            if session.is_finished() {
                break;
            }
        }
        assert!(session.is_finished());
        (output, events)
    }

    #[test]
    fn a_reader_that_never_reads_holds_back_the_writer() {
        let mut session = EchoSession::new();
        let big = [7u8; 3 * BUFFER];
        assert_eq!(session.handle_input(&big), BUFFER);
        assert_eq!(session.handle_input(&big), 0);
        let mut out = [0u8; 100];
        assert_eq!(session.poll_transmit(&mut out), 100);
        assert_eq!(session.handle_input(&big), 100);
    }

    #[test]
    fn empty_message() {
        let (output, events) = echo(b"", 1, 1);
        assert!(output.is_empty());
        assert_eq!(
            events,
            [Event::Message {
                len: 0,
                head: heapless::Vec::new()
            }]
        );
    }

    proptest! {
        #[test]
        fn echoes_every_byte_in_order(
            input in prop::collection::vec(any::<u8>(), 0..20_000),
            step in 1usize..5000,
            out_step in 1usize..5000,
        ) {
            let (output, events) = echo(&input, step, out_step);
            prop_assert_eq!(&output, &input);
            let keep = input.len().min(PREVIEW);
            let head = heapless::Vec::from_slice(&input[..keep]).unwrap();
            prop_assert_eq!(events, std::vec![Event::Message { len: input.len() as u64, head }]);
        }
    }
}
