//! Echo over std sockets: the server's [`Service`] and the `send` client.
//! The protocol is `reseau_core::echo`.

use std::fmt;
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;

use reseau_core::echo::{EchoSession, Event, Summary};

use crate::escape::TerminalWriter;
use crate::exit;
use crate::metrics::{Count, Counter, Families, Kind, Text};
use crate::net::{self, Notify, Service};
use crate::tls::client::{self, TlsClient, TlsError, TlsWriter};
use crate::trace::{self, Role, TextWatch, Trace, TracedStream, What};

/// The echo server's default address, as in the course.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6000";

/// Runs an [`EchoSession`] per connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

impl Service for EchoService {
    type Session = EchoSession;
    type Summary = Summary;

    fn name(&self) -> &'static str {
        "echo"
    }

    fn session(&self, _peer: SocketAddr, _notify: Notify) -> EchoSession {
        EchoSession::new()
    }

    fn record(&self, summary: &mut Summary, event: Event) {
        summary.record(event);
    }
}

/// Why `reseau echo send` failed.
#[derive(Debug)]
pub enum EchoError {
    /// Could not connect.
    Connect { addr: String, error: io::Error },
    /// The TLS handshake failed (`--tls`).
    Tls { addr: String, error: Box<TlsError> },
    /// Reading the message or the echo failed.
    Io(io::Error),
}

impl EchoError {
    /// The process exit code ([`crate::exit`]): no server is a setup
    /// failure, the rest a run-time one.
    pub fn exit_code(&self) -> u8 {
        match self {
            EchoError::Connect { .. } | EchoError::Tls { .. } => exit::SETUP,
            EchoError::Io(_) => exit::FAILED,
        }
    }
}

impl fmt::Display for EchoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EchoError::Connect { addr, error } => {
                write!(f, "server not found at {addr}, cannot connect: {error}")
            }
            EchoError::Tls { addr, error } => write!(f, "TLS with {addr} failed: {error}"),
            EchoError::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for EchoError {}

/// What came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Bytes sent.
    pub sent: u64,
    /// Bytes echoed back (written to `out`).
    pub echoed: u64,
}

/// `reseau echo send`: sends `message` (or stdin, if `None`) to `addr`
/// (over TLS with `tls`), half-closes, and copies what comes back to `out`
/// until the server closes.
pub fn send(
    addr: &str,
    message: Option<&[u8]>,
    out: &mut impl Write,
    tls: Option<&TlsClient>,
    trace: Option<&Trace>,
) -> Result<Sent, EchoError> {
    let stream = net::connect(addr).map_err(|error| EchoError::Connect {
        addr: addr.to_string(),
        error,
    })?;
    let conversation = match stream.peer_addr() {
        Ok(peer) => trace::client(trace, "echo", peer, TextWatch),
        Err(_) => None,
    };
    let traced = |inner| TracedStream::new(inner, conversation.clone());
    let owned = message.map(<[u8]>::to_vec);
    let sent = match tls {
        None => {
            let writer = stream.try_clone().map_err(EchoError::Io)?;
            exchange(traced(stream), traced(writer), owned, out)
        }
        Some(tls) => {
            let stream = tls
                .handshake(stream, addr)
                .map_err(|error| EchoError::Tls {
                    addr: addr.to_string(),
                    error: Box::new(error),
                })?;
            let (reader, writer) = client::split(stream).map_err(EchoError::Io)?;
            exchange(
                TracedStream::new(reader, conversation.clone()),
                TracedStream::new(writer, conversation.clone()),
                owned,
                out,
            )
        }
    };
    if let Some(c) = conversation {
        c.lock()
            .unwrap_or_else(|e| e.into_inner())
            .event(Role::Client, What::Close);
    }
    sent
}

/// The sending side of an echo connection, which ends with a half-close.
trait HalfClose: Write + Send + 'static {
    /// Ends the sending direction; the other stays open.
    fn close_write(&mut self) -> io::Result<()>;
}

impl HalfClose for TcpStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl HalfClose for TlsWriter {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown()
    }
}

impl<T: HalfClose> HalfClose for TracedStream<T, TextWatch> {
    fn close_write(&mut self) -> io::Result<()> {
        self.get_mut().close_write()?;
        self.with(|c| c.client_done());
        Ok(())
    }
}

/// Sends `message` (stdin if `None`) on `writer` and copies what `reader`
/// gives to `out` until the end.
fn exchange(
    mut reader: impl Read,
    mut writer: impl HalfClose,
    message: Option<Vec<u8>>,
    out: &mut impl Write,
) -> Result<Sent, EchoError> {
    // Send from a thread while this one reads the echo: a server that
    // echoes as it reads would otherwise fill both directions and stall.
    let sending = thread::spawn(move || -> io::Result<u64> {
        let sent = match message {
            Some(bytes) => {
                writer.write_all(&bytes)?;
                bytes.len() as u64
            }
            None => io::copy(&mut io::stdin().lock(), &mut writer)?,
        };
        writer.close_write()?;
        Ok(sent)
    });
    let mut echoed = 0u64;
    let mut buf = [0u8; 16 * 1024];
    let read_result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                echoed += n as u64;
                if let Err(error) = out.write_all(buf.get(..n).unwrap_or_default()) {
                    break Err(error);
                }
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // The course's server closes without reading everything back:
            // a reset after the message is the end of its echo.
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    let _ = out.flush();
    let sent = match sending.join() {
        Ok(result) => result,
        Err(_) => Err(io::Error::other("the sending thread failed")),
    };
    read_result.map_err(EchoError::Io)?;
    // A server that closed early makes the rest of the send fail: that is
    // its answer, not ours to report as an error.
    let sent = match sent {
        Ok(sent) => sent,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ) =>
        {
            0
        }
        Err(error) => return Err(EchoError::Io(error)),
    };
    Ok(Sent { sent, echoed })
}

/// [`send`] to this process's stdout, as `reseau echo send` does: the echo
/// as it is when stdout is a file or a pipe (it is data, byte for byte),
/// escaped by [`crate::escape`]'s rule when stdout is a terminal, where a
/// hostile server's bytes would otherwise drive it (newlines still end
/// lines).
pub fn send_to_stdout(
    addr: &str,
    message: Option<&[u8]>,
    tls: Option<&TlsClient>,
    trace: Option<&Trace>,
) -> Result<Sent, EchoError> {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        let mut out = TerminalWriter::new(stdout.lock());
        let sent = send(addr, message, &mut out, tls, trace);
        let _ = out.finish();
        sent
    } else {
        send(addr, message, &mut stdout.lock(), tls, trace)
    }
}

/// The echo's families at `/metrics` (run it as
/// `metrics::Counted<EchoService, EchoCounts>`): a message is a
/// connection's whole input, complete when the peer half-closes.
#[derive(Debug, Default)]
pub struct EchoCounts {
    messages: Counter,
    bytes: Counter,
}

impl Count<Event> for EchoCounts {
    fn count(&self, event: &Event) {
        let Event::Message { len, .. } = event;
        self.messages.add(1);
        self.bytes.add(*len);
    }
}

impl Families for EchoCounts {
    fn write(&self, text: &mut Text) {
        let name = "reseau_echo_messages_total";
        let help = "Echo messages complete (the peer half-closed) and echoed.";
        text.family(name, Kind::Counter, help);
        text.sample(name, &[], self.messages.get());
        let name = "reseau_echo_bytes_total";
        text.family(
            name,
            Kind::Counter,
            "Bytes of the complete messages echoed.",
        );
        text.sample(name, &[], self.bytes.get());
    }
}
