//! `reseau bench adder` and `reseau bench echo`: a load generator that
//! keeps N clients busy for a while, checks every reply and reports
//! requests/s, latency percentiles and, for echo, MB/s.
//!
//! One thread drives every client with mio, so the generator costs little
//! CPU next to the server it measures on the same machine. With `--tls`,
//! each connection is a rustls `ClientConnection` over the non-blocking
//! socket (`Link`), its bytes moved here as the servers' runtime moves
//! theirs; with `--connect-per-request` too, every connection makes a full
//! handshake (no resumption), as a new client process does.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use reseau_core::adder::client::{AdderClient, MAX_IN_FLIGHT, Outcome};
use reseau_core::adder::{Format, RequestEncoder};
use rustls::ClientConnection;

use crate::net;
use crate::tls::client::TlsClient;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server.
    pub to: String,
    /// Clients at once.
    pub clients: usize,
    /// How long to send requests.
    pub duration: Duration,
    /// A new connection for every request, as the course's client does.
    pub connect_per_request: bool,
    /// How a client closes its connection after each request, with
    /// `connect_per_request`.
    pub close: Close,
    /// What each request is.
    pub workload: Workload,
    /// Adder requests a persistent connection sends before it reads their
    /// replies (pipelining), 1 to [`MAX_IN_FLIGHT`]: a load that costs the
    /// generator less per request, to measure a server past one core.
    pub pipeline: usize,
    /// TLS over every connection (`--tls`), or plain TCP.
    pub tls: Option<TlsClient>,
}

/// How a connection-per-request client closes each connection once it has
/// read its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// `close()` as the course's client does: a FIN (whichever side
    /// closes first keeps the connection in TIME_WAIT).
    Fin,
    /// A reset (`SO_LINGER` 0): no TIME_WAIT on either side, which no
    /// course client does.
    Reset,
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Close::Fin => "closed with a FIN",
            Close::Reset => "closed with a reset",
        })
    }
}

/// What each request is, and how its reply is checked.
#[derive(Debug, Clone, Copy)]
pub enum Workload {
    /// An adder request of the ints 1, 2, ..., `ints`; the reply must be
    /// their sum.
    Adder {
        /// Ints per request.
        ints: u32,
        /// Payload format.
        format: Format,
    },
    /// An echo message of `size` bytes; the same bytes must come back.
    Echo {
        /// Bytes per message.
        size: usize,
    },
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Adder { ints, format } => write!(f, "{ints} ints per request, {format}"),
            Workload::Echo { size } => write!(f, "echo of {size} bytes"),
        }
    }
}

/// What was measured.
pub struct Report {
    config: Config,
    /// Replies received and checked.
    pub requests: u64,
    /// Requests that failed (no reply, wrong sum, connection error),
    /// connection attempts that failed included.
    pub errors: u64,
    /// Of `errors`, the connection attempts that failed.
    pub connect_errors: u64,
    /// The first error, for the report.
    pub first_error: Option<String>,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Report {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

impl Report {
    /// Counts a failed request or connection attempt; keeps the first
    /// reason for the report.
    fn fail(&mut self, why: String) {
        self.errors += 1;
        self.first_error.get_or_insert(why);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let mode = if c.connect_per_request {
            format!("one connection per request, {}", c.close)
        } else if c.pipeline > 1 {
            format!(
                "persistent connections, {} requests in flight each",
                c.pipeline
            )
        } else {
            "persistent connections".to_string()
        };
        let us = |q: f64| self.latency.value_at_quantile(q);
        let tls = if c.tls.is_some() { ", TLS" } else { "" };
        writeln!(
            f,
            "{} clients, {}, {mode}{tls}, {:.1} s",
            c.clients,
            c.workload,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "requests: {} ({:.0} req/s)", self.requests, self.rate())?;
        if let Workload::Echo { size } = c.workload {
            let bytes = self.requests as f64 * size as f64;
            writeln!(
                f,
                "throughput: {:.1} MB/s echoed",
                bytes / self.elapsed.as_secs_f64() / 1e6
            )?;
        }
        writeln!(
            f,
            "latency: p50 {} us, p99 {} us, p99.9 {} us, max {} us",
            us(0.5),
            us(0.99),
            us(0.999),
            self.latency.max()
        )?;
        write!(f, "errors: {}", self.errors)?;
        if let Some(error) = &self.first_error {
            write!(
                f,
                " ({} of them connecting; first: {error})",
                self.connect_errors
            )?;
        }
        Ok(())
    }
}

enum State {
    Connecting,
    /// The request is being sent and its reply read.
    Exchanging,
}

struct Client {
    link: Link,
    state: State,
    exchange: Exchange,
    started: Instant,
}

/// A client's connection: its socket, with TLS over it or not. As a
/// non-blocking socket, its `read` and `write` move plaintext and say
/// `WouldBlock` when they cannot; with TLS, [`Link::flush`] sends the
/// records waiting, and must be called whenever the socket may take them.
struct Link {
    stream: TcpStream,
    /// Boxed: a connection's state is a kilobyte.
    tls: Option<Box<ClientConnection>>,
}

impl Link {
    /// Sends the TLS records waiting; `Ok(false)` when the socket is full.
    fn flush(&mut self) -> io::Result<bool> {
        match &mut self.tls {
            None => Ok(true),
            Some(tls) => send_records(tls, &mut self.stream),
        }
    }
}

/// Writes `tls`'s records to `stream` until none are left (`Ok(true)`) or
/// the socket is full (`Ok(false)`).
fn send_records(tls: &mut ClientConnection, stream: &mut TcpStream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

impl Write for Link {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.stream.write(data);
        };
        // rustls holds a bounded amount (64 KiB) of plaintext to send: full,
        // it takes nothing until the socket has taken its records.
        let n = tls.writer().write(data)?;
        send_records(tls, &mut self.stream)?;
        if n == 0 && !data.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Link::flush(self).map(|_| ())
    }
}

impl Read for Link {
    /// Plaintext; `Ok(0)` at the end (a TLS server's close, with or without
    /// its `close_notify`).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.stream.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) => return Err(error),
            }
            // Ok(0), the socket's end, is seen by the connection: its
            // reader then says so.
            tls.read_tls(&mut self.stream)?;
            tls.process_new_packets()
                .map_err(|error| io::Error::new(ErrorKind::InvalidData, error))?;
            // The handshake's next messages, if any.
            send_records(tls, &mut self.stream)?;
        }
    }
}

/// One request and its reply, as their bytes go out and come in.
#[derive(Debug, Clone)]
enum Exchange {
    /// The adder's client session sends the payload and reads the reply.
    Sum {
        /// Boxed: the session holds its replies' outcomes (400 bytes).
        session: Box<AdderClient>,
        /// Payload bytes the session has taken, of the request being sent.
        taken: usize,
        /// Bytes the session gave that the socket has not taken yet.
        unsent: Vec<u8>,
        expected: i64,
        /// Requests sent in a row before their replies are read.
        pipeline: usize,
        /// Of those, the ones started and the ones answered so far.
        started: usize,
        answered: usize,
    },
    Echo {
        /// Bytes of the message written.
        sent: usize,
        /// Bytes of the echo checked.
        matched: usize,
    },
}

impl Exchange {
    fn new(workload: Workload, pipeline: usize) -> Exchange {
        match workload {
            Workload::Adder { ints, .. } => {
                let n = i64::from(ints);
                Exchange::Sum {
                    session: Box::new(AdderClient::new()),
                    taken: 0,
                    unsent: Vec::new(),
                    expected: n * (n + 1) / 2,
                    pipeline: pipeline.max(1),
                    started: 0,
                    answered: 0,
                }
            }
            Workload::Echo { .. } => Exchange::Echo {
                sent: 0,
                matched: 0,
            },
        }
    }

    /// Requests one round is made of: [`Exchange::read`] is `Ok` once all
    /// are answered.
    fn round(&self) -> u64 {
        match self {
            Exchange::Sum { pipeline, .. } => *pipeline as u64,
            Exchange::Echo { .. } => 1,
        }
    }

    /// Starts the next round, of `request` (the adder's payload, or the
    /// echo's message).
    fn begin(&mut self, request: &[u8]) -> Result<(), String> {
        match self {
            Exchange::Sum {
                session,
                taken,
                started,
                answered,
                ..
            } => {
                (*taken, *started, *answered) = (0, 1, 0);
                session
                    .start(request.len() as u64)
                    .map_err(|error| format!("request: {error}"))
            }
            Exchange::Echo { sent, matched } => {
                (*sent, *matched) = (0, 0);
                Ok(())
            }
        }
    }

    /// True once the whole request is written.
    fn written(&self, request: &[u8]) -> bool {
        match self {
            Exchange::Sum {
                session,
                unsent,
                pipeline,
                started,
                ..
            } => unsent.is_empty() && !session.is_sending() && started == pipeline,
            Exchange::Echo { sent, .. } => *sent == request.len(),
        }
    }

    /// Writes what is next of the request to `stream` (`buf` is scratch
    /// room); `Ok(true)` once all of it is written.
    fn write(&mut self, stream: &mut Link, request: &[u8], buf: &mut [u8]) -> io::Result<bool> {
        match self {
            Exchange::Sum {
                session,
                taken,
                unsent,
                pipeline,
                started,
                ..
            } => {
                // The round's requests are gathered into one write, as a
                // pipelining client does (64 KiB at most at a time).
                while unsent.len() < buf.len() {
                    if session.is_sending() {
                        let room = buf.len() - unsent.len();
                        let out = buf.get_mut(..room).unwrap_or_default();
                        let t =
                            session.poll_transmit(request.get(*taken..).unwrap_or_default(), out);
                        *taken += t.taken;
                        unsent.extend_from_slice(out.get(..t.written).unwrap_or_default());
                        if t.written == 0 {
                            // Nothing more now: never spin on a session
                            // that gives nothing.
                            break;
                        }
                    } else if started < pipeline {
                        *taken = 0;
                        *started += 1;
                        session
                            .start(request.len() as u64)
                            .map_err(|error| io::Error::other(format!("request: {error}")))?;
                    } else {
                        break;
                    }
                }
                if !unsent.is_empty() {
                    let n = stream.write(unsent)?;
                    unsent.drain(..n);
                }
                Ok(unsent.is_empty() && !session.is_sending() && started == pipeline)
            }
            Exchange::Echo { sent, .. } => {
                if *sent < request.len() {
                    *sent += stream.write(request.get(*sent..).unwrap_or_default())?;
                }
                Ok(*sent == request.len())
            }
        }
    }

    /// Checks received bytes (`None`: end of stream); `Some` once the reply
    /// is complete: whether it was right.
    fn read(&mut self, input: Option<&[u8]>, request: &[u8]) -> Option<Result<(), String>> {
        match (self, input) {
            (
                Exchange::Sum {
                    session,
                    expected,
                    pipeline,
                    answered,
                    ..
                },
                input,
            ) => {
                match input {
                    Some(input) => {
                        session.handle_input(input);
                    }
                    None => session.handle_eof(),
                }
                while let Some(outcome) = session.poll_outcome() {
                    match outcome {
                        Outcome::Sum(sum) if sum == *expected => *answered += 1,
                        Outcome::Sum(sum) => {
                            return Some(Err(format!("wrong sum {sum}, expected {expected}")));
                        }
                        other => return Some(Err(other.to_string())),
                    }
                }
                (answered == pipeline).then_some(Ok(()))
            }
            (Exchange::Echo { .. }, None) => Some(Err("the server closed the connection".into())),
            (Exchange::Echo { matched, .. }, Some(input)) => {
                let end = *matched + input.len();
                if request.get(*matched..end) != Some(input) {
                    return Some(Err(format!(
                        "the echo differs from what was sent, within bytes {matched}..{end}"
                    )));
                }
                *matched = end;
                (end == request.len()).then_some(Ok(()))
            }
        }
    }
}

/// The bytes of one request: the adder's payload (the client session
/// frames it), or the echo's message.
fn request(workload: Workload) -> Vec<u8> {
    match workload {
        Workload::Adder { ints, format } => {
            let mut payload = Vec::new();
            // Ints up to u32::MAX fit both formats: no error.
            let _ = RequestEncoder::encode_all(format, (1..=ints).map(i128::from), |b| {
                payload.extend_from_slice(b)
            });
            payload
        }
        // Printable, and different at every offset, so a byte out of place
        // shows.
        Workload::Echo { size } => (0..size).map(|i| b'!' + (i % 94) as u8).collect(),
    }
}

/// Runs the benchmark.
pub fn run(config: Config) -> io::Result<Report> {
    let addr = net::resolve(&config.to)?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other("no address"))?;
    net::raise_fd_limit();
    let workload = config.workload;
    if let Workload::Adder {
        ints,
        format: Format::Pickle,
    } = workload
    {
        let n = u64::from(ints);
        if n * (n + 1) / 2 > u64::from(u32::MAX) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("the sum of 1..={ints} is over the pickle format's 32-bit reply"),
            ));
        }
    }
    let request = request(workload);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut report = Report {
        config: config.clone(),
        requests: 0,
        errors: 0,
        connect_errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: Histogram::new(3).map_err(|e| io::Error::other(e.to_string()))?,
    };
    let pipeline = config.pipeline;
    if !(1..=MAX_IN_FLIGHT).contains(&pipeline)
        || (pipeline > 1
            && (config.connect_per_request || matches!(workload, Workload::Echo { .. })))
    {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "--pipeline is 1 to {MAX_IN_FLIGHT}, for adder requests on persistent connections"
            ),
        ));
    }
    // With TLS, one blocking handshake first: a certificate that fails a
    // check stops the run with its reason, not with an error per request.
    let tls = match &config.tls {
        Some(tls) => {
            let stream = net::connect(&config.to)?;
            tls.handshake(stream, &config.to).map_err(|error| {
                io::Error::other(format!("TLS with {} failed: {error}", config.to))
            })?;
            Some(tls.without_resumption())
        }
        None => None,
    };
    let dial = Dial {
        addr,
        to: config.to.clone(),
        tls,
        close: config.close,
        workload,
        pipeline,
    };
    let mut clients: Vec<Option<Client>> = Vec::new();
    for i in 0..config.clients {
        clients.push(Some(dial.connect(&poll, i)?));
    }
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        // A client whose new connection could not be made (the machine out
        // of ports, the server's backlog full) tries again every
        // millisecond; each failure counts as an error.
        let mut retrying = false;
        for i in 0..clients.len() {
            if let Some(None) = clients.get(i) {
                dial.replace(&poll, &mut clients, i, &mut report);
                retrying |= matches!(clients.get(i), Some(None));
            }
        }
        let mut timeout = deadline.saturating_duration_since(Instant::now());
        if retrying {
            timeout = timeout.min(Duration::from_millis(1));
        }
        if let Err(error) = poll.poll(&mut events, Some(timeout)) {
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in events.iter() {
            let i = event.token().0;
            // Drive this client as far as it goes without blocking.
            while let Some(Some(client)) = clients.get_mut(i) {
                let failed = match step(client, &request, &mut buf, &mut latency) {
                    Step::Blocked => break,
                    Step::Done(requests) => {
                        report.requests += requests;
                        false
                    }
                    Step::Failed(why) => {
                        report.fail(why);
                        true
                    }
                };
                if Instant::now() >= deadline {
                    break;
                }
                if failed || config.connect_per_request {
                    // A new connection: after a success it is driven at
                    // once (on loopback it is usually connected before
                    // `connect` returns), after a failure on its event.
                    dial.replace(&poll, &mut clients, i, &mut report);
                }
                if failed {
                    break;
                }
            }
        }
    }
    report.elapsed = start.elapsed();
    report.latency = latency;
    Ok(report)
}

/// Where and how clients (re)connect.
struct Dial {
    addr: SocketAddr,
    /// The server as typed, whose host its certificate must name.
    to: String,
    /// Without resumption: each connection makes a full handshake.
    tls: Option<TlsClient>,
    close: Close,
    workload: Workload,
    pipeline: usize,
}

impl Dial {
    /// Closes client `i`'s connection, if any, and opens a new one; a
    /// failed connect is counted and leaves the slot empty, to retry.
    fn replace(&self, poll: &Poll, clients: &mut [Option<Client>], i: usize, report: &mut Report) {
        let Some(slot) = clients.get_mut(i) else {
            return;
        };
        // Closed at once, as the course's client does once it has its
        // reply (it does not wait for the server's FIN): with a FIN, or with
        // a reset when asked (no TIME_WAIT on either side). Closing also
        // takes the socket out of the poller.
        if let Some(mut old) = slot.take() {
            if self.close == Close::Reset {
                let _ = socket2::SockRef::from(&old.link.stream).set_linger(Some(Duration::ZERO));
            } else if let Some(tls) = &mut old.link.tls {
                // A TLS client that is done says so (`close_notify`) before
                // its FIN, if the socket takes it at once.
                tls.send_close_notify();
                let _ = send_records(tls, &mut old.link.stream);
            }
        }
        match self.connect(poll, i) {
            Ok(client) => *slot = Some(client),
            Err(error) => {
                report.connect_errors += 1;
                report.fail(format!("connect: {error}"));
            }
        }
    }

    /// A new client in slot `i`, its connection under way.
    fn connect(&self, poll: &Poll, i: usize) -> io::Result<Client> {
        let tls = match &self.tls {
            Some(tls) => Some(Box::new(
                tls.connection(&self.to)
                    .map_err(|error| io::Error::other(error.to_string()))?,
            )),
            None => None,
        };
        let mut stream = TcpStream::connect(self.addr)?;
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Client {
            link: Link { stream, tls },
            state: State::Connecting,
            exchange: Exchange::new(self.workload, self.pipeline),
            started: Instant::now(),
        })
    }
}

enum Step {
    Blocked,
    /// A round of this many requests was answered.
    Done(u64),
    Failed(String),
}

fn step(client: &mut Client, request: &[u8], buf: &mut [u8], latency: &mut Histogram<u64>) -> Step {
    loop {
        if let State::Connecting = client.state {
            match client.link.stream.peer_addr() {
                Ok(_) => {
                    let _ = client.link.stream.set_nodelay(true);
                    client.started = Instant::now();
                    client.state = State::Exchanging;
                    if let Err(why) = client.exchange.begin(request) {
                        return Step::Failed(why);
                    }
                    continue;
                }
                Err(error) if error.kind() == ErrorKind::NotConnected => {
                    if let Ok(Some(error)) | Err(error) = client.link.stream.take_error() {
                        return Step::Failed(format!("connect: {error}"));
                    }
                    return Step::Blocked;
                }
                Err(error) => return Step::Failed(format!("connect: {error}")),
            }
        }
        // TLS records left from an earlier step go first.
        if let Err(error) = client.link.flush() {
            return Step::Failed(format!("send: {error}"));
        }
        // Write until the request is sent or the socket is full; read when
        // there is nothing more to write, so that a large echo, which comes
        // back while it is being sent, cannot stall both sides.
        let write_blocked = client.exchange.written(request)
            || match client.exchange.write(&mut client.link, request, buf) {
                // The whole request is out: the reply cannot be here yet,
                // and its arrival is an event of its own.
                Ok(true) => return Step::Blocked,
                Ok(false) => continue,
                Err(error) if error.kind() == ErrorKind::WouldBlock => true,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Step::Failed(format!("send: {error}")),
            };
        let input = match client.link.read(buf) {
            Ok(0) => None,
            Ok(n) => Some(buf.get(..n).unwrap_or_default()),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                if write_blocked {
                    return Step::Blocked;
                }
                continue;
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Step::Failed(format!("receive: {error}")),
        };
        match client.exchange.read(input, request) {
            None => {}
            Some(Ok(())) => {
                // With pipelining, a round's latency: its first request
                // sent to its last reply.
                let micros = client.started.elapsed().as_micros();
                let _ = latency.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
                client.started = Instant::now();
                let round = client.exchange.round();
                if let Err(why) = client.exchange.begin(request) {
                    return Step::Failed(why);
                }
                return Step::Done(round);
            }
            Some(Err(why)) => return Step::Failed(why),
        }
    }
}
