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
}
