//! The rules of a connection that need a clock, written once: the idle
//! timeout, the request timeout and the lingering close.
//!
//! [`Timed`] wraps any [`StreamSession`] and is driven like it, with the
//! time passed in ([`Instant`]). It says when it next needs the time
//! ([`poll_timeout`](Timed::poll_timeout)) and is told when that time has
//! come ([`handle_timeout`](Timed::handle_timeout)), as quinn-proto's
//! connections are. The driver reads its clock and keeps a timer; it never
//! decides what a late connection means.
//!
//! - **Idle timeout**: a connection that moves no byte for
//!   [`Timeouts::idle`] ends with [`End::Idle`].
//! - **Request timeout**: a request whose first byte came more than
//!   [`Timeouts::request`] ago and whose last has not
//!   ([`StreamSession::is_receiving`]) is late, however often a byte
//!   trickles in (a "slowloris" client). The session is told
//!   ([`StreamSession::handle_request_timeout`]: the web site answers 408
//!   and finishes); if it is still receiving, the connection ends with
//!   [`End::SlowRequest`].
//! - **Lingering close**: when the server ends a connection that the peer
//!   has not closed, the driver shuts its sending side down and calls
//!   [`linger`](Timed::linger). Closing a socket with unread input makes
//!   the kernel send a reset, and a reset makes the peer's kernel drop
//!   what it received but had not handed over yet: our last response. So
//!   the peer's bytes are read and dropped until it closes too, for
//!   [`Timeouts::linger`] at most, then the connection ends with
//!   [`End::ClosedByServer`].
//!
//! # Call order
//!
//! 1. [`Timed::new`] when the connection opens, with the time.
//! 2. As for any [`StreamSession`] ([`crate::session`]'s call order):
//!    [`handle_input`](Timed::handle_input), [`poll_event`](Timed::poll_event),
//!    [`poll_transmit`](Timed::poll_transmit),
//!    [`handle_eof`](Timed::handle_eof), each with the time.
//! 3. After each of those, arm a timer for
//!    [`poll_timeout`](Timed::poll_timeout) (`None`: no timer); when it
//!    fires, [`handle_timeout`](Timed::handle_timeout), then 2 again: a
//!    session told that its request is late may have a response to send.
//! 4. When the session [is finished](StreamSession::is_finished) and the
//!    peer has not closed, shut the sending side down and
//!    [`linger`](Timed::linger); read and drop the peer's bytes.
//! 5. Close the connection once [`end`](Timed::end) is `Some`, or the peer
//!    closes.
//!
//! # Example
//!
//! ```
//! use core::time::Duration;
//! use reseau_core::echo::EchoSession;
//! use reseau_core::session::End;
//! use reseau_core::time::Instant;
//! use reseau_core::timed::{Timed, Timeouts};
//!
//! let timeouts = Timeouts { idle: Duration::from_secs(60), ..Timeouts::default() };
//! let start = Instant::from_millis(0);
//! let mut conn = Timed::new(EchoSession::new(), timeouts, start);
//! assert_eq!(conn.poll_timeout(), Some(start + Duration::from_secs(60)));
//!
//! // A byte 10 s later pushes the idle deadline back.
//! let later = start + Duration::from_secs(10);
//! assert_eq!(conn.handle_input(b"x", later), 1);
//! let deadline = conn.poll_timeout().unwrap();
//! assert_eq!(deadline, later + Duration::from_secs(60));
//!
//! conn.handle_timeout(deadline);
//! assert_eq!(conn.end(), Some(End::Idle(Duration::from_secs(60))));
//! ```

use core::time::Duration;

use crate::session::{End, StreamSession};
use crate::time::Instant;

/// How long a connection may wait for each thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// No byte moved either way for this long: the connection ends.
    pub idle: Duration,
    /// A request still arriving this long after its first byte is late.
    /// `None`: no such limit (the adder's and echo's default: their
    /// requests end when the client says so).
    pub request: Option<Duration>,
    /// How long a connection the server ended waits for the peer to close
    /// its side.
    pub linger: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            idle: Duration::from_secs(60),
            request: None,
            linger: Duration::from_secs(2),
        }
    }
}

/// A session with the rules that need time: see the [module](self).
#[derive(Debug, Clone)]
pub struct Timed<S> {
    session: S,
    timeouts: Timeouts,
    /// When a byte last moved.
    last_active: Instant,
    /// When the request being received began, while one is.
    request_since: Option<Instant>,
    /// Set by [`Timed::linger`]: the peer may close until then.
    linger_until: Option<Instant>,
    end: Option<End>,
}

impl<S: StreamSession> Timed<S> {
    /// A new connection at `now`.
    pub fn new(session: S, timeouts: Timeouts, now: Instant) -> Self {
        let mut timed = Timed {
            session,
            timeouts,
            last_active: now,
            request_since: None,
            linger_until: None,
            end: None,
        };
        timed.watch_request(now);
        timed
    }

    /// The session.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The session, to change it.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// [`StreamSession::handle_input`] at `now`.
    pub fn handle_input(&mut self, input: &[u8], now: Instant) -> usize {
        let used = self.session.handle_input(input);
        if used > 0 {
            self.last_active = now;
        }
        self.watch_request(now);
        used
    }

    /// [`StreamSession::handle_eof`] at `now`.
    pub fn handle_eof(&mut self, now: Instant) {
        self.session.handle_eof();
        self.last_active = now;
        self.watch_request(now);
    }

    /// [`StreamSession::poll_transmit`] at `now`.
    pub fn poll_transmit(&mut self, out: &mut [u8], now: Instant) -> usize {
        let n = self.session.poll_transmit(out);
        if n > 0 {
            self.last_active = now;
        }
        self.watch_request(now);
        n
    }

    /// [`StreamSession::poll_event`].
    pub fn poll_event(&mut self) -> Option<S::Event> {
        self.session.poll_event()
    }

    /// The session is finished, or the connection ended on a timeout.
    pub fn is_finished(&self) -> bool {
        self.end.is_some() || self.session.is_finished()
    }

    /// The server has ended the connection and shut its sending side
    /// down at `now`: wait for the peer to close, [`Timeouts::linger`] at
    /// most.
    pub fn linger(&mut self, now: Instant) {
        self.linger_until = Some(now + self.timeouts.linger);
    }

    /// Whether the connection is lingering (see [`Timed::linger`]).
    pub fn is_lingering(&self) -> bool {
        self.linger_until.is_some()
    }

    /// When [`handle_timeout`](Timed::handle_timeout) is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        if let Some(until) = self.linger_until {
            return Some(until);
        }
        let idle = self.last_active + self.timeouts.idle;
        let request = match (self.request_since, self.timeouts.request) {
            (Some(since), Some(limit)) => Some(since + limit),
            _ => None,
        };
        Some(request.map_or(idle, |request| request.min(idle)))
    }

    /// Time has come to `now`: applies every deadline that has passed.
    /// Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        if let Some(until) = self.linger_until {
            if now >= until {
                self.end = Some(End::ClosedByServer);
            }
            return;
        }
        if let (Some(since), Some(limit)) = (self.request_since, self.timeouts.request)
            && now >= since + limit
        {
            self.session.handle_request_timeout(limit);
            if self.session.is_receiving() {
                self.end = Some(End::SlowRequest(limit));
                return;
            }
            // Answered: the session finishes once its answer is sent.
            self.request_since = None;
            self.last_active = now;
        }
        if now >= self.last_active + self.timeouts.idle {
            self.end = Some(End::Idle(self.timeouts.idle));
        }
    }

    /// How the connection ended on a timeout, once it has.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    fn watch_request(&mut self, now: Instant) {
        if self.session.is_receiving() {
            self.request_since.get_or_insert(now);
        } else {
            self.request_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session whose requests are lines: receiving from a line's first
    /// byte to its newline; a late request is answered "late\n" if
    /// `answers_late`.
    #[derive(Default)]
    struct Lines {
        receiving: bool,
        answers_late: bool,
        out: &'static [u8],
        finished: bool,
    }

    impl StreamSession for Lines {
        type Event = ();
        fn handle_input(&mut self, input: &[u8]) -> usize {
            if let Some(&last) = input.last() {
                self.receiving = last != b'\n';
            }
            input.len()
        }
        fn handle_eof(&mut self) {
            self.finished = true;
        }
        fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
            let n = self.out.len().min(out.len());
            out[..n].copy_from_slice(&self.out[..n]);
            self.out = &self.out[n..];
            if self.out.is_empty() && !self.receiving && self.answers_late && n > 0 {
                self.finished = true;
            }
            n
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn is_finished(&self) -> bool {
            self.finished
        }
        fn is_receiving(&self) -> bool {
            self.receiving
        }
        fn handle_request_timeout(&mut self, _after: Duration) {
            if self.answers_late {
                self.receiving = false;
                self.out = b"late\n";
            }
        }
    }

    const fn secs(n: u64) -> Instant {
        Instant::from_millis(n * 1000)
    }

    fn timeouts() -> Timeouts {
        Timeouts {
            idle: Duration::from_secs(60),
            request: Some(Duration::from_secs(10)),
            linger: Duration::from_secs(2),
        }
    }

    #[test]
    fn a_trickling_request_is_late_at_its_deadline_not_at_the_last_byte_plus_it() {
        let mut conn = Timed::new(Lines::default(), timeouts(), secs(0));
        conn.handle_input(b"G", secs(1));
        for t in 2..=10 {
            conn.handle_input(b"E", secs(t));
            assert_eq!(conn.poll_timeout(), Some(secs(11)));
        }
        conn.handle_timeout(Instant::from_millis(10_999));
        assert_eq!(conn.end(), None);
        conn.handle_timeout(secs(11));
        assert_eq!(conn.end(), Some(End::SlowRequest(Duration::from_secs(10))));
        assert!(conn.is_finished());
        assert_eq!(conn.poll_timeout(), None);
    }

    #[test]
    fn a_request_that_ends_in_time_clears_its_deadline() {
        let mut conn = Timed::new(Lines::default(), timeouts(), secs(0));
        conn.handle_input(b"GET", secs(1));
        conn.handle_input(b"\n", secs(5));
        assert_eq!(conn.poll_timeout(), Some(secs(65)));
        conn.handle_timeout(secs(11));
        assert_eq!(conn.end(), None);
    }

    #[test]
    fn a_session_that_answers_a_late_request_sends_its_answer_then_finishes() {
        let session = Lines {
            answers_late: true,
            ..Lines::default()
        };
        let mut conn = Timed::new(session, timeouts(), secs(0));
        conn.handle_input(b"GE", secs(0));
        conn.handle_timeout(secs(10));
        assert_eq!(conn.end(), None);
        let mut out = [0u8; 16];
        let n = conn.poll_transmit(&mut out, secs(10));
        assert_eq!(&out[..n], b"late\n");
        assert!(conn.is_finished());
        assert_eq!(conn.end(), None);
    }

    #[test]
    fn idle_counts_from_the_last_byte_either_way() {
        let session = Lines {
            out: b"hello",
            ..Lines::default()
        };
        let mut conn = Timed::new(session, timeouts(), secs(0));
        let mut out = [0u8; 2];
        assert_eq!(conn.poll_transmit(&mut out, secs(30)), 2);
        assert_eq!(conn.poll_timeout(), Some(secs(90)));
        // Nothing moved at 40 s: the deadline stays.
        conn.handle_input(b"", secs(40));
        assert_eq!(conn.poll_timeout(), Some(secs(90)));
        conn.handle_timeout(secs(89));
        assert_eq!(conn.end(), None);
        conn.handle_timeout(secs(90));
        assert_eq!(conn.end(), Some(End::Idle(Duration::from_secs(60))));
    }

    #[test]
    fn lingering_ends_at_its_own_deadline_whatever_the_others() {
        let mut conn = Timed::new(Lines::default(), timeouts(), secs(0));
        conn.handle_input(b"GE", secs(0));
        conn.linger(secs(3));
        assert!(conn.is_lingering());
        assert_eq!(conn.poll_timeout(), Some(secs(5)));
        conn.handle_timeout(secs(4));
        assert_eq!(conn.end(), None);
        conn.handle_timeout(secs(5));
        assert_eq!(conn.end(), Some(End::ClosedByServer));
    }

    #[test]
    fn deadlines_far_in_the_future_saturate() {
        let limits = Timeouts {
            idle: Duration::MAX,
            ..timeouts()
        };
        let conn = Timed::new(Lines::default(), limits, secs(1));
        assert_eq!(conn.poll_timeout(), Some(Instant::from_millis(u64::MAX)));
    }
}
