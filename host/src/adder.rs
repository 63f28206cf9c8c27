//! The integer adder over std sockets: the server's [`Service`] and the
//! `sum` client. The protocol itself is `reseau_core::adder`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;

use reseau_core::adder::client::{AdderClient, Outcome};
use reseau_core::adder::{
    AdderConfig, AdderSession, EncodeError, Error, Event, Format, RequestEncoder, Summary,
};

use crate::metrics::{Count, Counter, Families, Kind, Text};
use crate::net::{self, Notify, Service};
use crate::tls::client::{TlsClient, TlsError};
use crate::trace::{self, AdderWatch, Role, Trace, TracedStream, What};

/// The adder server's default address, as in the course.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6001";

/// Runs an [`AdderSession`] per connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdderService {
    /// Settings of every session.
    pub config: AdderConfig,
}

impl Service for AdderService {
    type Session = AdderSession;
    type Summary = Summary;

    fn name(&self) -> &'static str {
        "adder"
    }

    fn session(&self, _peer: SocketAddr, _notify: Notify) -> AdderSession {
        AdderSession::new(self.config)
    }

    fn record(&self, summary: &mut Summary, event: Event) {
        summary.record(event);
    }
}

/// Why `reseau adder sum` failed.
#[derive(Debug)]
pub enum SumError {
    /// An argument or a word on stdin is not an integer.
    NotAnInt(String),
    /// An int the chosen format cannot carry.
    Encode(EncodeError),
    /// The request is longer than a frame can say.
    TooLong(u64),
    /// Could not connect.
    Connect { addr: String, error: io::Error },
    /// The TLS handshake failed (`--tls`): a certificate check, or a
    /// server that does not speak TLS.
    Tls { addr: String, error: Box<TlsError> },
    /// The server closed the connection without a reply.
    Closed(Format),
    /// The server answered a native request with an error code.
    Refused(reseau_core::adder::native::ErrorCode),
    /// The reply could not be read.
    BadReply,
    /// Other I/O failure (reading stdin, the spool, the socket).
    Io(io::Error),
}

impl SumError {
    /// The process exit code ([`crate::exit`]): bad input or no server is
    /// a setup failure, a server that would not answer a run-time one.
    pub fn exit_code(&self) -> u8 {
        match self {
            SumError::Closed(_) | SumError::Refused(_) | SumError::BadReply => crate::exit::FAILED,
            _ => crate::exit::SETUP,
        }
    }
}

impl fmt::Display for SumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SumError::NotAnInt(word) => write!(f, "{word:?} is not an integer"),
            SumError::Encode(error) => error.fmt(f),
            SumError::TooLong(len) => write!(
                f,
                "the request is {len} bytes, more than a frame's 4-byte length can say"
            ),
            SumError::Connect { addr, error } => {
                write!(f, "server not found at {addr}, cannot connect: {error}")
            }
            SumError::Tls { addr, error } => write!(f, "TLS with {addr} failed: {error}"),
            SumError::Closed(Format::Pickle) => f.write_str(
                "the server closed the connection without replying: it refused the request \
                 (a request over its frame limit, or a sum outside 0 to 4294967295, the most \
                 the course's format carries; the native encoding carries 64-bit sums)",
            ),
            SumError::Closed(Format::Native) => f.write_str(
                "the server closed the connection without replying: it refused the request \
                 (a request over its frame limit, or a server that only speaks the course's \
                 format; try the pickle encoding)",
            ),
            SumError::Refused(code) => write!(f, "the server refused the request: {code}"),
            SumError::BadReply => f.write_str("the server's reply is not a valid reply"),
            SumError::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SumError {}

impl From<io::Error> for SumError {
    fn from(error: io::Error) -> Self {
        SumError::Io(error)
    }
}

/// Parses one decimal integer, as the command line and stdin spell it.
pub fn parse_int(word: &str) -> Result<i128, SumError> {
    word.parse::<i128>().map_err(|_| {
        let mut shown: String = word.chars().take(40).collect();
        if shown.len() < word.len() {
            shown.push('…');
        }
        SumError::NotAnInt(shown)
    })
}

/// Encodes ints into `sink` as a request payload; returns its length.
/// Stops at the first word that is not an int.
fn encode_payload(
    format: Format,
    ints: impl Iterator<Item = Result<i128, SumError>>,
    sink: &mut impl Write,
) -> Result<u64, SumError> {
    let mut failure: Option<SumError> = None;
    let ints = ints.map_while(|word| match word {
        Ok(value) => Some(value),
        Err(error) => {
            failure = Some(error);
            None
        }
    });
    let mut written = Ok(());
    let len = RequestEncoder::encode_all(format, ints, |bytes| {
        if written.is_ok() {
            written = sink.write_all(bytes);
        }
    })
    .map_err(SumError::Encode)?;
    match failure {
        Some(error) => Err(error),
        None => written.map(|()| len).map_err(SumError::Io),
    }
}

/// The whitespace-separated ints of a reader, one at a time, in constant
/// memory whatever the length of its lines.
struct Words<R> {
    reader: R,
    word: Vec<u8>,
    failed: bool,
}

/// A word longer than this is no int (an `i128` has at most 40 characters).
const MAX_WORD: usize = 64;

impl<R: BufRead> Iterator for Words<R> {
    type Item = Result<i128, SumError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.word.clear();
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(SumError::Io(error)));
                }
            };
            if buf.is_empty() {
                break;
            }
            let mut used = 0;
            let mut complete = false;
            for &byte in buf {
                used += 1;
                if byte.is_ascii_whitespace() {
                    if !self.word.is_empty() {
                        complete = true;
                        break;
                    }
                } else if self.word.len() < MAX_WORD {
                    self.word.push(byte);
                } else {
                    self.word.extend_from_slice(b"...");
                    complete = true;
                    break;
                }
            }
            self.reader.consume(used);
            if complete {
                break;
            }
        }
        if self.word.is_empty() {
            return None;
        }
        let result = parse_int(&String::from_utf8_lossy(&self.word));
        self.failed = result.is_err();
        Some(result)
    }
}

/// A file that disappears when closed, in the temporary directory: the
/// spool of a request whose length must be known before its first byte is
/// sent (the ints of stdin here, a Python iterable in the binding's `sum`).
pub fn spool() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for attempt in 0..100u32 {
        let path = dir.join(format!("reseau-sum-{}-{attempt}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("cannot create a spool file in {}: {error}", dir.display()),
                ));
            }
        }
    }
    Err(io::Error::other(
        "cannot create a spool file in the temporary directory",
    ))
}

/// `reseau adder sum`: sends `ints` (or, if `None`, the ints on stdin) to
/// the server at `addr` (over TLS with `tls`) and returns the sum.
pub fn sum(
    addr: &str,
    format: Format,
    ints: Option<&[String]>,
    tls: Option<&TlsClient>,
    trace: Option<&Trace>,
) -> Result<i64, SumError> {
    // Encode first: a bad int is reported before anything is sent.
    let (header, mut payload): (u64, Box<dyn Read>) = match ints {
        Some(words) => {
            let mut bytes = Vec::new();
            let len = encode_payload(format, words.iter().map(|w| parse_int(w)), &mut bytes)?;
            (len, Box::new(io::Cursor::new(bytes)))
        }
        None => {
            let mut file = BufWriter::new(spool()?);
            let len = encode_payload(
                format,
                Words {
                    reader: io::stdin().lock(),
                    word: Vec::new(),
                    failed: false,
                },
                &mut file,
            )?;
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            (len, Box::new(io::BufReader::with_capacity(64 * 1024, file)))
        }
    };
    send_payload(addr, format, header, &mut payload, tls, trace)
}

/// Sends one request whose payload (`len` bytes, already encoded in
/// `format`) `payload` reads, to the server at `addr`, and returns the sum
/// it answers: the client side of `reseau adder sum` once the ints are
/// encoded, shared with the Python binding. The rules are
/// [`AdderClient`]'s; this moves its bytes over a blocking socket, in TLS
/// with `tls`; with `trace`, its bytes are traced (in clear, above TLS).
pub fn send_payload(
    addr: &str,
    format: Format,
    len: u64,
    payload: &mut dyn Read,
    tls: Option<&TlsClient>,
    trace: Option<&Trace>,
) -> Result<i64, SumError> {
    let mut client = AdderClient::new();
    client.start(len).map_err(|_| SumError::TooLong(len))?;
    let stream = net::connect(addr).map_err(|error| SumError::Connect {
        addr: addr.to_string(),
        error,
    })?;
    let conversation = match (trace, stream.peer_addr()) {
        (Some(trace), Ok(peer)) => {
            let watch = AdderWatch::new(AdderConfig::default());
            trace::client(Some(trace), "adder", peer, watch)
        }
        _ => None,
    };
    let result = match tls {
        None => exchange(
            &mut client,
            format,
            payload,
            TracedStream::new(stream, conversation.clone()),
        ),
        Some(tls) => {
            let stream = tls.handshake(stream, addr).map_err(|error| SumError::Tls {
                addr: addr.to_string(),
                error: Box::new(error),
            })?;
            let stream = TracedStream::new(stream, conversation.clone());
            exchange(&mut client, format, payload, stream)
        }
    };
    if let Some(c) = conversation {
        c.lock()
            .unwrap_or_else(|e| e.into_inner())
            .event(Role::Client, What::Close);
    }
    result
}

/// The request of `client` and its reply, over `stream`.
fn exchange(
    client: &mut AdderClient,
    format: Format,
    payload: &mut dyn Read,
    mut stream: impl Read + Write,
) -> Result<i64, SumError> {
    match transmit(client, payload, &mut stream) {
        Ok(()) => {}
        // The server may refuse and close before reading it all: its reply
        // (or its silence) says more than the broken pipe.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ) => {}
        Err(error) => return Err(SumError::Io(error)),
    }
    match receive(client, &mut stream)? {
        Outcome::Sum(sum) => Ok(sum),
        Outcome::Refused(code) => Err(SumError::Refused(code)),
        Outcome::ClosedBeforeReply => Err(SumError::Closed(format)),
        Outcome::MalformedReply => Err(SumError::BadReply),
    }
}

/// Writes the request `client` has started, reading its payload from
/// `payload` 64 KiB at a time.
fn transmit(
    client: &mut AdderClient,
    payload: &mut dyn Read,
    stream: &mut impl Write,
) -> io::Result<()> {
    let mut piece = vec![0u8; 64 * 1024];
    let mut out = vec![0u8; 64 * 1024];
    // Payload bytes read and not yet taken: piece[start..end].
    let (mut start, mut end) = (0, 0);
    while client.is_sending() {
        if start == end && client.payload_left() > 0 {
            (start, end) = match payload.read(&mut piece) {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the payload ended before its announced length",
                    ));
                }
                Ok(n) => (0, n),
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
        }
        let sent = client.poll_transmit(piece.get(start..end).unwrap_or_default(), &mut out);
        start += sent.taken;
        stream.write_all(out.get(..sent.written).unwrap_or_default())?;
    }
    stream.flush()
}

/// Reads until `client` has the outcome of its request.
fn receive(client: &mut AdderClient, stream: &mut impl Read) -> Result<Outcome, SumError> {
    let mut buf = [0u8; 64];
    loop {
        if let Some(outcome) = client.poll_outcome() {
            return Ok(outcome);
        }
        // Each pass gives the client input or its end: after the end, the
        // request in flight has its outcome.
        match stream.read(&mut buf) {
            Ok(0) => client.handle_eof(),
            Ok(n) => {
                client.handle_input(buf.get(..n).unwrap_or_default());
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // A reset, or a TLS server that closes without its
            // `close_notify` (as the course's servers do): the end.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                ) =>
            {
                client.handle_eof()
            }
            Err(error) => return Err(SumError::Io(error)),
        }
    }
}

/// The adder's families at `/metrics` (run it as
/// `metrics::Counted<AdderService, AdderCounts>`).
#[derive(Debug, Default)]
pub struct AdderCounts {
    /// Requests answered with their sum, by format.
    answered: [Counter; 2],
    ints: Counter,
    /// Requests refused, by [`REFUSALS`].
    refused: [Counter; REFUSALS.len()],
}

/// The `reason` label of a refused request: one per kind of [`Error`].
const REFUSALS: [&str; 5] = ["frame", "pickle", "out_of_range", "native", "truncated"];

impl Count<Event> for AdderCounts {
    fn count(&self, event: &Event) {
        let counter = match event {
            Event::Answered { format, ints, .. } => {
                self.ints.add(*ints);
                self.answered.get(usize::from(*format == Format::Native))
            }
            Event::Rejected(error) => self.refused.get(match error {
                Error::Frame(_) => 0,
                Error::Pickle(_) => 1,
                Error::OutOfRange { .. } => 2,
                Error::Native(_) => 3,
                Error::Truncated => 4,
            }),
        };
        if let Some(counter) = counter {
            counter.add(1);
        }
    }
}

impl Families for AdderCounts {
    fn write(&self, text: &mut Text) {
        let name = "reseau_adder_requests_total";
        text.family(
            name,
            Kind::Counter,
            "Adder requests answered with their sum.",
        );
        for (format, counter) in [Format::Pickle, Format::Native].iter().zip(&self.answered) {
            text.sample(name, &[("format", format.name())], counter.get());
        }
        let name = "reseau_adder_ints_total";
        text.family(name, Kind::Counter, "Ints summed in the requests answered.");
        text.sample(name, &[], self.ints.get());
        let name = "reseau_adder_refused_total";
        text.family(name, Kind::Counter, "Adder requests refused, by reason.");
        for (reason, counter) in REFUSALS.iter().zip(&self.refused) {
            text.sample(name, &[("reason", reason)], counter.get());
        }
    }
}
