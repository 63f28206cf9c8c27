//! A blocking driver: any [`StreamSession`] over any
//! `embedded_io::Read + embedded_io::Write` stream (a UART, a TCP socket
//! of an embedded stack, or a std stream through `embedded-io-adapters`).
//!
//! [`run`] owns nothing: the caller lends the transport, the session and
//! two buffers (one for received bytes, one for the session's output), so
//! the driver allocates nothing and its memory is what the caller gave.
//! [`sum_blocking`] is the client side of one adder request.
//!
//! # The loop
//!
//! 1. Offer the received bytes that the session has not yet taken to
//!    [`handle_input`](StreamSession::handle_input).
//! 2. Hand every [`poll_event`](StreamSession::poll_event) to the caller's
//!    `on_event`.
//! 3. Flush: [`poll_transmit`](StreamSession::poll_transmit) into the
//!    write buffer and write it all, until the session has nothing more.
//! 4. Hand over any events again; if the session [is
//!    finished](StreamSession::is_finished), flush the transport and
//!    return.
//! 5. If the session left received bytes untaken, go to 1 without reading.
//!    Otherwise read (blocking) into the read buffer; `Ok(0)` is end of
//!    stream and is given to [`handle_eof`](StreamSession::handle_eof),
//!    once, and nothing more is read.
//!
//! # Why output is flushed before every read
//!
//! A blocking read cannot be interrupted: once the driver waits in `read`,
//! nothing it holds is sent until the peer sends again. A request/response
//! peer (the adder's client) sends a request and then waits for the reply;
//! if that reply were still in the session when the driver started to
//! read, both sides would wait forever. So step 3 runs to the end (the
//! session's output is empty) before every read.
//!
//! # Why untaken input cannot deadlock
//!
//! A session takes less input than offered only while its output is full
//! (the [`session`](crate::session) contract). The driver never reads
//! while it holds untaken bytes: it flushes the session's output
//! completely (step 3) and offers the rest again, and a session with empty
//! output takes at least one more byte, or finishes. Each pass of the loop
//! therefore takes input, sends output, or returns; a session that does
//! none of these breaks the contract and [`run`] returns
//! [`Error::Stalled`] instead of spinning.
//!
//! The one wait left is the transport's: `write` blocks while the peer
//! does not read. That is TCP's back-pressure and is meant; but a peer
//! that writes everything before it reads anything, with more in flight
//! than the buffers between the two can hold, blocks both sides (an echo
//! client must read and write from two threads, or interleave).
//!
//! # Example
//!
//! An adder server for one connection, over a std socket:
//!
//! ```
//! use std::io::{Read as _, Write as _};
//! use std::net::{TcpListener, TcpStream};
//!
//! use embedded_io_adapters::std::FromStd;
//! use reseau_core::adder::{AdderSession, Event};
//! use reseau_core::drive::embedded_io::run;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || {
//!     let (stream, _) = listener.accept()?;
//!     let mut session = AdderSession::default();
//!     let (mut read_buf, mut write_buf) = ([0u8; 512], [0u8; 64]);
//!     let mut sums = Vec::new();
//!     run(&mut session, FromStd::new(stream), &mut read_buf, &mut write_buf, |event| {
//!         if let Event::Answered { sum, .. } = event {
//!             sums.push(sum);
//!         }
//!     })
//!     .map_err(|e| std::io::Error::other(e.to_string()))?;
//!     Ok::<_, std::io::Error>(sums)
//! });
//!
//! let mut client = TcpStream::connect(addr)?;
//! // struct.pack("I", 12) + pickle.dumps([1, 2], protocol=2)
//! client.write_all(b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.")?;
//! let mut reply = [0u8; 4];
//! client.read_exact(&mut reply)?;
//! assert_eq!(u32::from_le_bytes(reply), 3);
//! drop(client); // end of stream: the server's session finishes
//!
//! assert_eq!(server.join().unwrap()?, [3]);
//! # Ok::<(), std::io::Error>(())
//! ```

use core::fmt;

use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::adder::client::{AdderClient, Outcome as SumOutcome};
use crate::adder::native::Reply;
use crate::adder::{EncodeError, Format, ReplyError, RequestEncoder};
use crate::frame;
use crate::session::StreamSession;

/// Why [`run`] or [`sum_blocking`] stopped.
///
/// `E` is the transport's error (`T::Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// Reading from the transport failed.
    Read(E),
    /// Writing to (or flushing) the transport failed.
    Write(E),
    /// The transport's `write` accepted no byte of a non-empty buffer,
    /// which `embedded_io` allows only as an error.
    WriteZero,
    /// The read buffer has no room: a read into it could not tell data
    /// from end of stream.
    EmptyReadBuffer,
    /// The write buffer has no room: the session's output could never be
    /// sent.
    EmptyWriteBuffer,
    /// The session took no input, gave no output and did not finish,
    /// which the [`StreamSession`] contract rules out; the driver stops
    /// rather than spin. `eof` tells whether end of stream was seen.
    Stalled {
        /// End of stream had been given to the session.
        eof: bool,
    },
    /// [`sum_blocking`]: its buffer is shorter than [`SUM_BUF_MIN`].
    BufferTooSmall {
        /// The buffer's length.
        len: usize,
    },
    /// [`sum_blocking`]: an int does not fit the request's format.
    Encode(EncodeError),
    /// [`sum_blocking`]: the request's payload is over the frame's
    /// 4-byte length.
    RequestTooLarge {
        /// The payload's length in bytes.
        len: u64,
    },
    /// [`sum_blocking`]: `ints` encoded to another length the second time
    /// (a clone that is not the same ints); nothing more was sent.
    RequestChanged,
    /// [`sum_blocking`]: the server's reply is not a valid reply.
    Reply(ReplyError),
    /// [`sum_blocking`]: the server closed the connection before its
    /// reply was complete (it refused the request, or went away).
    ClosedBeforeReply,
}

impl<E: embedded_io::Error> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(e) => write!(f, "reading the transport failed ({}): {e}", e.kind()),
            Error::Write(e) => write!(f, "writing the transport failed ({}): {e}", e.kind()),
            Error::WriteZero => f.write_str("the transport accepted 0 bytes of a write"),
            Error::EmptyReadBuffer => f.write_str("the read buffer is empty (0 bytes)"),
            Error::EmptyWriteBuffer => f.write_str("the write buffer is empty (0 bytes)"),
            Error::Stalled { eof } => write!(
                f,
                "the session took no input, gave no output and did not finish{}",
                if *eof { " after end of stream" } else { "" }
            ),
            Error::BufferTooSmall { len } => write!(
                f,
                "a buffer of {len} bytes is under the {SUM_BUF_MIN} bytes a request needs"
            ),
            Error::Encode(e) => e.fmt(f),
            Error::RequestTooLarge { len } => write!(
                f,
                "request payload of {len} bytes is over the frame limit of {} bytes",
                u32::MAX
            ),
            Error::RequestChanged => {
                f.write_str("the ints encoded to another length when sent than when measured")
            }
            Error::Reply(e) => e.fmt(f),
            Error::ClosedBeforeReply => {
                f.write_str("the server closed the connection before its reply was complete")
            }
        }
    }
}

impl<E: embedded_io::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Read(e) | Error::Write(e) => Some(e),
            Error::Encode(e) => Some(e),
            Error::Reply(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: embedded_io::Error + 'static> embedded_io::Error for Error<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Read(e) | Error::Write(e) => e.kind(),
            Error::WriteZero => ErrorKind::WriteZero,
            Error::EmptyReadBuffer
            | Error::EmptyWriteBuffer
            | Error::BufferTooSmall { .. }
            | Error::Encode(_)
            | Error::RequestTooLarge { .. }
            | Error::RequestChanged => ErrorKind::InvalidInput,
            Error::Reply(_) => ErrorKind::InvalidData,
            Error::ClosedBeforeReply => ErrorKind::ConnectionAborted,
            Error::Stalled { .. } => ErrorKind::Other,
        }
    }
}

/// How a [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes read from the transport.
    pub received: u64,
    /// Bytes written to it.
    pub sent: u64,
    /// True if the peer closed (a read returned end of stream); false if
    /// the session finished first, e.g. after a fatal protocol error. In
    /// that case the driver read no further: bytes the peer sent after
    /// the session's last input are left unread, and closing a TCP socket
    /// with unread bytes makes it send a reset instead of a FIN.
    pub peer_closed: bool,
}

/// Writes all of `bytes`; `Ok(0)` is [`Error::WriteZero`], not a panic as
/// in `Write::write_all`. An `Interrupted` error is retried, as std's
/// `write_all` does.
fn write_all<T: Write>(transport: &mut T, mut bytes: &[u8]) -> Result<(), Error<T::Error>> {
    while !bytes.is_empty() {
        match transport.write(bytes) {
            Ok(0) => return Err(Error::WriteZero),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Write(e)),
        }
    }
    Ok(())
}

/// Reads into `buf`, retrying on `Interrupted` (a signal arrived before
/// any byte did, as with a std socket through `FromStd`).
fn read<T: Read>(transport: &mut T, buf: &mut [u8]) -> Result<usize, Error<T::Error>> {
    loop {
        match transport.read(buf) {
            Ok(n) => return Ok(n.min(buf.len())),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Read(e)),
        }
    }
}

/// Runs `session` over `transport` until the session is finished;
/// returns what was read and written.
///
/// Events go to `on_event` as the session reports them. `read_buf` holds
/// received bytes until the session takes them (its size is the most read
/// at once); `write_buf` holds the session's output on its way to the
/// transport. Both must be non-empty; any sizes work, larger ones make
/// fewer calls to the transport. Pass `&mut transport` to keep the
/// transport, or the transport itself to close it on return (dropping a
/// std stream closes it).
///
/// End of stream (a read returning `Ok(0)`) is given to the session once,
/// and nothing more is read after it. Before every read, the session's
/// output is flushed completely, and once the session is finished the
/// transport's own `flush` is called. See the [module
/// documentation](self) for the loop and why it cannot deadlock.
///
/// # Errors
///
/// [`Error::Read`] or [`Error::Write`] with the transport's error,
/// [`Error::WriteZero`], an empty buffer, or [`Error::Stalled`] if the
/// session breaks its contract. The session is left as it was at the
/// error; events already reported were delivered.
pub fn run<S, T>(
    session: &mut S,
    mut transport: T,
    read_buf: &mut [u8],
    write_buf: &mut [u8],
    mut on_event: impl FnMut(S::Event),
) -> Result<Outcome, Error<T::Error>>
where
    S: StreamSession,
    T: Read + Write,
{
    if read_buf.is_empty() {
        return Err(Error::EmptyReadBuffer);
    }
    if write_buf.is_empty() {
        return Err(Error::EmptyWriteBuffer);
    }
    let mut outcome = Outcome {
        received: 0,
        sent: 0,
        peer_closed: false,
    };
    // Received bytes not yet taken: read_buf[start..end].
    let (mut start, mut end) = (0, 0);
    loop {
        let pending = read_buf.get(start..end).unwrap_or_default();
        let took = if pending.is_empty() {
            0
        } else {
            session.handle_input(pending).min(pending.len())
        };
        start += took;
        let mut events = 0usize;
        while let Some(event) = session.poll_event() {
            on_event(event);
            events += 1;
        }
        let mut sent = 0;
        loop {
            let n = session.poll_transmit(write_buf).min(write_buf.len());
            if n == 0 {
                break;
            }
            write_all(&mut transport, write_buf.get(..n).unwrap_or_default())?;
            sent += n;
        }
        outcome.sent += sent as u64;
        // Events the output may have caused, before the session can finish.
        while let Some(event) = session.poll_event() {
            on_event(event);
            events += 1;
        }
        if session.is_finished() {
            transport.flush().map_err(Error::Write)?;
            return Ok(outcome);
        }
        if start < end {
            // The session's output is empty now (and its events taken), so
            // it must take more.
            if took == 0 && sent == 0 && events == 0 {
                return Err(Error::Stalled { eof: false });
            }
            continue;
        }
        if outcome.peer_closed {
            // Everything was taken and sent after end of stream, and still
            // the session is not finished: nothing can make it progress.
            return Err(Error::Stalled { eof: true });
        }
        (start, end) = (0, read(&mut transport, read_buf)?);
        outcome.received += end as u64;
        if end == 0 {
            outcome.peer_closed = true;
            session.handle_eof();
        }
    }
}

/// The smallest buffer [`sum_blocking`] takes: a frame header and one
/// [`RequestEncoder`] write, so that each batch it writes is worth a call
/// to the transport.
pub const SUM_BUF_MIN: usize = frame::HEADER_LEN + RequestEncoder::MAX_WRITE;

/// Client side of one adder request: sends `ints` as one framed request
/// in `format` over `transport`, then reads and returns the server's
/// reply. The rules (the frame, the reply's format, an end of stream
/// before the reply) are [`AdderClient`]'s; this moves its bytes.
///
/// The payload is encoded twice (once to learn its length for the frame
/// header, once to send it), so `ints` must be cloneable; nothing is held
/// but `buf`, which batches the bytes sent and receives the reply. A
/// larger `buf` makes fewer writes. The transport stays open, ready for
/// another request.
///
/// A pickle request is answered with [`Reply::Sum`]; a native one with
/// [`Reply::Sum`] or [`Reply::Error`]. A server that refuses a pickle
/// request closes the connection: that is
/// [`Error::ClosedBeforeReply`].
///
/// # Errors
///
/// The transport's errors, [`Error::Encode`] for an int the native format
/// cannot carry, [`Error::RequestTooLarge`], [`Error::RequestChanged`],
/// [`Error::Reply`] for a malformed reply, [`Error::ClosedBeforeReply`], or
/// [`Error::BufferTooSmall`] if `buf` is shorter than [`SUM_BUF_MIN`].
pub fn sum_blocking<T, I>(
    mut transport: T,
    format: Format,
    ints: I,
    buf: &mut [u8],
) -> Result<Reply, Error<T::Error>>
where
    T: Read + Write,
    I: IntoIterator<Item = i128> + Clone,
{
    if buf.len() < SUM_BUF_MIN {
        return Err(Error::BufferTooSmall { len: buf.len() });
    }
    let len = RequestEncoder::encode_all(format, ints.clone(), |_| {}).map_err(Error::Encode)?;
    let mut client = AdderClient::new();
    client
        .start(len)
        .map_err(|_| Error::RequestTooLarge { len })?;

    // The client's bytes wait in buf[..used] until it is full.
    let mut used = 0;
    let mut failed = None;
    let mut changed = false;
    let mut send = |payload: &[u8], client: &mut AdderClient| {
        let mut rest = payload;
        while failed.is_none() {
            let room = buf.get_mut(used..).unwrap_or_default();
            let sent = client.poll_transmit(rest, room);
            used += sent.written;
            rest = rest.get(sent.taken..).unwrap_or_default();
            if used == buf.len() {
                if let Err(e) = write_all(&mut transport, buf) {
                    failed = Some(e);
                }
                used = 0;
            } else if sent.written == 0 {
                // Everything is taken, or bytes past the announced length
                // are left.
                changed |= !rest.is_empty();
                break;
            }
        }
    };
    RequestEncoder::encode_all(format, ints, |bytes| send(bytes, &mut client))
        .map_err(Error::Encode)?;
    if let Some(e) = failed {
        return Err(e);
    }
    // A clone of `ints` that is not the same ints would send a request of
    // another length than its header says.
    if changed || client.is_sending() {
        return Err(Error::RequestChanged);
    }
    write_all(&mut transport, buf.get(..used).unwrap_or_default())?;
    transport.flush().map_err(Error::Write)?;

    loop {
        if let Some(outcome) = client.poll_outcome() {
            return match outcome {
                SumOutcome::Sum(sum) => Ok(Reply::Sum(sum)),
                SumOutcome::Refused(code) => Ok(Reply::Error(code)),
                SumOutcome::ClosedBeforeReply => Err(Error::ClosedBeforeReply),
                SumOutcome::MalformedReply => Err(Error::Reply(ReplyError::Malformed)),
            };
        }
        match read(&mut transport, buf)? {
            0 => client.handle_eof(),
            n => {
                client.handle_input(buf.get(..n).unwrap_or_default());
            }
        }
    }
}
