//! The shape shared by every stream session: bytes in, bytes out, events.
//!
//! A session is a sans-IO state machine for one connection. It never
//! touches a socket, a clock or a thread; a *driver* moves bytes between
//! the session and the transport (std sockets in `reseau-host`, a smoltcp
//! socket, an `embedded_io` stream). Because every driver speaks to this
//! trait, a protocol rule lives in the session, once.
//!
//! # Call order
//!
//! 1. [`handle_input`](StreamSession::handle_input) with received bytes;
//!    keep what it did not take and offer it again later.
//! 2. [`poll_event`](StreamSession::poll_event) until `None`.
//! 3. [`poll_transmit`](StreamSession::poll_transmit) until it returns 0
//!    or the transport is full.
//! 4. At end of stream, [`handle_eof`](StreamSession::handle_eof) once,
//!    then 2 and 3 again.
//! 5. Close the transport once [`is_finished`](StreamSession::is_finished).
//!
//! Time reaches a session through [`Timed`](crate::timed::Timed), which
//! wraps it and owns the rules that need a clock (idle timeout, request
//! timeout, lingering close): a session only says whether it is
//! [receiving a request](StreamSession::is_receiving), and is told when
//! that request is [late](StreamSession::handle_request_timeout).
//!
//! A session takes less input than offered only while it has output
//! waiting; after `poll_transmit` has drained it, it takes more. Drivers
//! rely on that to apply back-pressure without unbounded buffers.

/// A sans-IO session over a byte stream.
pub trait StreamSession {
    /// What the session reports to its driver (to log or print).
    type Event;

    /// Consumes bytes from the peer; returns how many were taken.
    fn handle_input(&mut self, input: &[u8]) -> usize;

    /// The peer will send nothing more.
    fn handle_eof(&mut self);

    /// Writes pending output into `out`; returns how many bytes. `0` means
    /// nothing to send now.
    fn poll_transmit(&mut self, out: &mut [u8]) -> usize;

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// Nothing more will be read or written: close the connection.
    fn is_finished(&self) -> bool;

    /// Whether a request is partly received: its first byte came, its
    /// last has not. The request timeout runs only then, and a stopping
    /// server waits for the rest. Sessions with no notion of a request
    /// (echo: the stream is the message) never are.
    fn is_receiving(&self) -> bool {
        false
    }

    /// Whether a request was received whose answer is being made
    /// elsewhere and is not ready to send yet (the web site's handlers run
    /// on worker threads). A stopping server tells such a session its
    /// input ended and waits for the answer; other sessions have answered
    /// all they read once they have nothing to send.
    fn is_answering(&self) -> bool {
        false
    }

    /// The request being received did not arrive within the request
    /// timeout (`after`). A session may answer it (the web site's 408)
    /// and then finish; one that is still receiving afterwards is closed
    /// at once, which is what the default does.
    fn handle_request_timeout(&mut self, after: core::time::Duration) {
        let _ = after;
    }
}

/// How a connection ended: the one vocabulary of every driver's log line
/// (the std servers' and the smoltcp driver's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The peer closed its side first, and everything was sent.
    ClosedByPeer,
    /// The session finished and the server closed the connection.
    ClosedByServer,
    /// No traffic for this long ([`Timeouts::idle`](crate::timed::Timeouts::idle)).
    Idle(core::time::Duration),
    /// A request took longer than this to arrive
    /// ([`Timeouts::request`](crate::timed::Timeouts::request)).
    SlowRequest(core::time::Duration),
    /// The connection was reset, failed, or (smoltcp) timed out.
    Reset,
    /// Drained while the server stops.
    Shutdown,
    /// Still open at the server's shutdown deadline, closed as it was.
    Deadline,
}

impl core::fmt::Display for End {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            End::ClosedByPeer => f.write_str("closed by peer"),
            End::ClosedByServer => f.write_str("closed by server"),
            End::Idle(after) => write!(f, "idle for {}s, closed", after.as_secs()),
            End::SlowRequest(after) => {
                write!(f, "request not received within ")?;
                seconds(f, *after)?;
                f.write_str("s, closed")
            }
            End::Reset => f.write_str("reset or timed out"),
            End::Shutdown => f.write_str("server shutting down"),
            End::Deadline => f.write_str("not drained by the shutdown deadline, closed"),
        }
    }
}

/// Writes `duration` in seconds with exact decimals and no trailing zeros
/// (`10`, `2.5`, `0.25`): what `{}` of an `f64` shows for the timeouts
/// people set, without floating point, whose formatting would add about
/// 10 KiB to a firmware that logs how its connections end.
fn seconds(f: &mut core::fmt::Formatter<'_>, duration: core::time::Duration) -> core::fmt::Result {
    write!(f, "{}", duration.as_secs())?;
    let mut nanos = duration.subsec_nanos();
    if nanos == 0 {
        return Ok(());
    }
    let mut digits = 9;
    while nanos.is_multiple_of(10) {
        nanos /= 10;
        digits -= 1;
    }
    write!(f, ".{nanos:0digits$}")
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::time::Duration;
    use std::format;

    use super::End;

    #[test]
    fn slow_request_seconds_read_as_an_f64_would() {
        for (after, shown) in [
            (Duration::from_secs(10), "10"),
            (Duration::from_millis(2500), "2.5"),
            (Duration::from_millis(250), "0.25"),
            (Duration::from_nanos(1_000_000_001), "1.000000001"),
        ] {
            assert_eq!(format!("{}", after.as_secs_f64()), shown);
            assert_eq!(
                format!("{}", End::SlowRequest(after)),
                format!("request not received within {shown}s, closed")
            );
        }
    }
}
