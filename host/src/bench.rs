//! `reseau bench adder`: a load generator that keeps N clients busy for a
//! while, checks every reply and reports requests/s and latency
//! percentiles.
//!
//! One thread drives every client with mio, so the generator costs little
//! CPU next to the server it measures on the same machine.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use reseau_core::adder::native::Reply;
use reseau_core::adder::{Format, ReplyDecoder, RequestEncoder};
use reseau_core::frame;

use crate::net;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server.
    pub to: String,
    /// Clients at once.
    pub clients: usize,
    /// How long to send requests.
    pub duration: Duration,
    /// Ints per request: 1, 2, ..., `ints`.
    pub ints: u32,
    /// A new connection for every request, as the course's client does.
    pub connect_per_request: bool,
    /// Payload format.
    pub format: Format,
}

/// What was measured.
pub struct Report {
    config: Config,
    /// Replies received and checked.
    pub requests: u64,
    /// Requests that failed (no reply, wrong sum, connection error).
    pub errors: u64,
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

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let mode = if c.connect_per_request {
            "one connection per request"
        } else {
            "persistent connections"
        };
        let us = |q: f64| self.latency.value_at_quantile(q);
        writeln!(
            f,
            "{} clients, {} ints per request, {}, {mode}, {:.1} s",
            c.clients,
            c.ints,
            c.format,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "requests: {} ({:.0} req/s)", self.requests, self.rate())?;
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
            write!(f, " (first: {error})")?;
        }
        Ok(())
    }
}

enum State {
    Connecting,
    Sending { sent: usize },
    Receiving,
}

struct Client {
    stream: TcpStream,
    state: State,
    decoder: ReplyDecoder,
    started: Instant,
}

/// The request every client sends, framed, and its expected sum.
fn request(ints: u32, format: Format) -> (Vec<u8>, i64) {
    let mut payload = Vec::new();
    // Ints up to u32::MAX fit both formats: no error.
    let _ = RequestEncoder::encode_all(format, (1..=ints).map(i128::from), |b| {
        payload.extend_from_slice(b)
    });
    let mut framed = frame::encode_header(payload.len() as u32).to_vec();
    framed.extend_from_slice(&payload);
    let n = i64::from(ints);
    (framed, n * (n + 1) / 2)
}

/// Runs the benchmark.
pub fn run(config: Config) -> io::Result<Report> {
    let addr = net::resolve(&config.to)?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other("no address"))?;
    net::raise_fd_limit();
    let (request, expected) = request(config.ints, config.format);
    if config.format == Format::Pickle && u32::try_from(expected).is_err() {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the sum of 1..={} is over the pickle format's 32-bit reply",
                config.ints
            ),
        ));
    }
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut report = Report {
        config: config.clone(),
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: Histogram::new(3).map_err(|e| io::Error::other(e.to_string()))?,
    };
    let mut fail = |report: &mut Report, why: String| {
        report.errors += 1;
        report.first_error.get_or_insert(why);
    };

    let mut clients: Vec<Option<Client>> = Vec::new();
    for i in 0..config.clients {
        clients.push(Some(connect(&poll, addr, i, config.format)?));
    }
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let timeout = deadline.saturating_duration_since(Instant::now());
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
                match step(client, &request, expected, &mut buf, &mut latency) {
                    Step::Blocked => break,
                    Step::Done => {
                        report.requests += 1;
                        if Instant::now() >= deadline {
                            break;
                        }
                        if config.connect_per_request {
                            // The next request on a new connection, driven
                            // at once: on loopback it is usually connected
                            // before `connect` returns.
                            replace(
                                &poll,
                                &mut clients,
                                i,
                                addr,
                                config.format,
                                &mut report,
                                &mut fail,
                            );
                        }
                    }
                    Step::Failed(why) => {
                        fail(&mut report, why);
                        // Wait for the next event before trying again.
                        if Instant::now() < deadline {
                            replace(
                                &poll,
                                &mut clients,
                                i,
                                addr,
                                config.format,
                                &mut report,
                                &mut fail,
                            );
                        }
                        break;
                    }
                }
            }
        }
    }
    report.elapsed = start.elapsed();
    report.latency = latency;
    Ok(report)
}

fn replace(
    poll: &Poll,
    clients: &mut [Option<Client>],
    i: usize,
    addr: SocketAddr,
    format: Format,
    report: &mut Report,
    fail: &mut impl FnMut(&mut Report, String),
) {
    if let Some(slot) = clients.get_mut(i) {
        // Closed with a reset, not a FIN: the side that closes first keeps
        // the connection in TIME_WAIT, and on one machine those would use
        // up the ephemeral ports (about 28,000, reusable after a second)
        // and cap every server alike near 14,000 connections/s. Closing
        // also takes the socket out of the poller.
        if let Some(old) = slot.take() {
            let _ = socket2::SockRef::from(&old.stream).set_linger(Some(Duration::ZERO));
        }
        match connect(poll, addr, i, format) {
            Ok(client) => *slot = Some(client),
            Err(error) => fail(report, format!("connect: {error}")),
        }
    }
}

fn connect(poll: &Poll, addr: SocketAddr, i: usize, format: Format) -> io::Result<Client> {
    let mut stream = TcpStream::connect(addr)?;
    poll.registry().register(
        &mut stream,
        Token(i),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(Client {
        stream,
        state: State::Connecting,
        decoder: ReplyDecoder::new(format),
        started: Instant::now(),
    })
}

enum Step {
    Blocked,
    Done,
    Failed(String),
}

fn step(
    client: &mut Client,
    request: &[u8],
    expected: i64,
    buf: &mut [u8],
    latency: &mut Histogram<u64>,
) -> Step {
    loop {
        match client.state {
            State::Connecting => match client.stream.peer_addr() {
                Ok(_) => {
                    let _ = client.stream.set_nodelay(true);
                    client.started = Instant::now();
                    client.state = State::Sending { sent: 0 };
                }
                Err(error) if error.kind() == ErrorKind::NotConnected => {
                    if let Ok(Some(error)) | Err(error) = client.stream.take_error() {
                        return Step::Failed(format!("connect: {error}"));
                    }
                    return Step::Blocked;
                }
                Err(error) => return Step::Failed(format!("connect: {error}")),
            },
            State::Sending { sent } => {
                match client.stream.write(request.get(sent..).unwrap_or_default()) {
                    Ok(n) => {
                        let sent = sent + n;
                        client.state = if sent == request.len() {
                            State::Receiving
                        } else {
                            State::Sending { sent }
                        };
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => return Step::Blocked,
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(error) => return Step::Failed(format!("send: {error}")),
                }
            }
            State::Receiving => match client.stream.read(buf) {
                Ok(0) => return Step::Failed("the server closed the connection".into()),
                Ok(n) => {
                    let (_, reply) = client.decoder.decode(buf.get(..n).unwrap_or_default());
                    match reply {
                        None => {}
                        Some(Ok(Reply::Sum(sum))) if sum == expected => {
                            let micros = client.started.elapsed().as_micros();
                            let _ =
                                latency.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
                            client.started = Instant::now();
                            client.state = State::Sending { sent: 0 };
                            return Step::Done;
                        }
                        Some(other) => {
                            return Step::Failed(format!(
                                "wrong reply {other:?}, expected {expected}"
                            ));
                        }
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Step::Blocked,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Step::Failed(format!("receive: {error}")),
            },
        }
    }
}
