//! The one server runtime: binding, the event loops, limits, timeouts,
//! per-connection log lines and signals, shared by every TCP server.
//!
//! A server is a [`Service`] (which session to run per connection, and how
//! to summarise its events in the log) driven by [`Server::run`]: one mio
//! event loop per core ([`Limits::threads`]), edge-triggered, each pumping
//! bytes between its sockets and their [`StreamSession`]s. The protocol
//! lives in the session (in `reseau-core`), and so do the rules that need
//! time ([`Timed`]: idle timeout, request timeout, lingering close): a loop
//! reads its clock, passes the time in, and asks each connection when it
//! next needs it. Nothing here knows what the bytes mean or when a
//! connection is late.
//!
//! # Loops
//!
//! The loops share one listening socket: each has it in its own poller, so
//! each hears of every new connection, and the loop that serves the fewest
//! connections accepts it (a few at a time, then it looks again), which
//! then lives on that loop to its end. Connections spread evenly however
//! they arrive: 64 connections on 4 loops give 16 each. `SO_REUSEPORT` (one
//! socket per loop, the kernel choosing by a hash of the addresses) was
//! measured against it and gave 12 to 20 (BENCHMARKS.md, "Event loops").
//! The connection cap ([`Limits::max_connections`]) is one count for the
//! whole server.
//!
//! A session may also wait for work done elsewhere (the web site's
//! handlers run on worker threads): it gets a [`Notify`] when it is made,
//! and whoever finishes the work calls [`Notify::wake`] to have the
//! connection pumped again by its loop.
//!
//! Memory per connection is the session plus a socket: input is read into
//! one 16 KiB buffer per loop shared by its connections, and a connection
//! keeps only what its session did not take (at most one read, and only
//! while it waits for its peer to read replies) and what its socket did
//! not take (at most 16 KiB of output).
//!
//! # TLS
//!
//! [`Server::with_tls`] puts TLS on every connection of a server, the same
//! for every service: the connection's transport is then a
//! [`TlsStream`] (rustls over the socket)
//! instead of the socket, with the same contract (`WouldBlock`, `0` at the
//! end of input, a short read only when the socket ran dry), so the pump
//! and the sessions do not change. The records rustls holds are sent first
//! at every pump (step 1 of `pump_connection`); a connection the server
//! ends sends `close_notify`, then its FIN, then lingers as any other; one
//! closed another way (a timeout, the peer's end) gets a `close_notify` if
//! its socket takes it. A peer's FIN without `close_notify` is the end of
//! its input. Bad TLS input sends its alert and closes the connection with
//! one log line (`tls: ...`, escaped). A handshake not finished within
//! [`HANDSHAKE_TIMEOUT`] (or the request or idle timeout, when shorter) is
//! closed at the next tick (`tls handshake not finished within N s`).
//! SIGHUP reloads the certificate ([`Server::stop_on_signals`]).
//!
//! # Stopping
//!
//! A [`Stopper`] or a signal ([`Server::stop_on_signals`]: SIGINT, SIGTERM)
//! stops a server gracefully, the same way for every server:
//!
//! 1. The connections the kernel completed but no loop had accepted yet
//!    are accepted, then the listener is closed: a new connection is
//!    refused from then on.
//! 2. Every connection drains: it is read, and what it sent is answered,
//!    until its input runs dry: the socket has nothing more to read, no
//!    request is half received ([`StreamSession::is_receiving`]), and the
//!    session has nothing more to send. A request still being answered
//!    elsewhere ([`StreamSession::is_answering`]: the web site's workers)
//!    is waited for, its session told that the input ended, so that its
//!    response says `Connection: close`. A response is written whole; none
//!    is begun once the input ended. The connection then ends as any
//!    connection the server ends (its sending side shut down, the peer's bytes read and
//!    dropped until it closes, [`Timeouts::linger`] at most). Idle
//!    connections end at once.
//! 3. Once no connection is left, or at [`SHUTDOWN_DEADLINE`] after the
//!    stop, whichever comes first, [`Server::run`] returns `Ok`: past the
//!    deadline the connections left (a peer that does not read its reply,
//!    a request that never ends) are closed as they are. A second signal
//!    during the drain closes them at once.
//!
//! The log says `stopping: N connections draining`, then `stopped`.

use std::fmt::{self, Display};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use reseau_core::session::{End, StreamSession};
use reseau_core::time;
use reseau_core::timed::{Timed, Timeouts};

use crate::tls::server::{ServerTls, TlsStream};

/// What a server runs for each connection.
pub trait Service: Send + Sync + 'static {
    /// The protocol session of one connection.
    type Session: StreamSession;
    /// What the log line of a connection says about its events.
    type Summary: Default + Display;

    /// Short name for log lines ("adder", "echo").
    fn name(&self) -> &'static str;

    /// A session for a new connection from `peer`; `notify` wakes the
    /// connection up when work the session handed to another thread is
    /// done.
    fn session(&self, peer: SocketAddr, notify: Notify) -> Self::Session;

    /// Adds an event to the connection's summary.
    fn record(&self, summary: &mut Self::Summary, event: <Self::Session as StreamSession>::Event);
}

/// The limits every server enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once, by all the loops together; more are
    /// accepted and closed at once.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A connection that has been receiving one request for this long is
    /// closed (or answered, if its session has an answer: the web site's
    /// 408), however often it sends a byte: a slow client ("slowloris")
    /// cannot hold a connection forever. `None`: no such limit.
    pub request_timeout: Option<Duration>,
    /// Event loops that share the connections; `0`: one per available
    /// core.
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16_384,
            idle_timeout: Duration::from_secs(60),
            request_timeout: None,
            threads: 0,
        }
    }
}

impl Limits {
    /// The number of event loops these limits ask for: [`Limits::threads`],
    /// or the available cores when it is 0 (at most [`MAX_THREADS`]).
    pub fn loops(&self) -> usize {
        let wanted = match self.threads {
            0 => thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        wanted.clamp(1, MAX_THREADS)
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            idle: self.idle_timeout,
            request: self.request_timeout,
            linger: LINGER,
        }
    }
}

/// Event loops of one server, at most.
pub const MAX_THREADS: usize = 1024;

/// Resolves `addr` (`127.0.0.1:6001`, `[::1]:6001`, `localhost:6001`).
pub fn resolve(addr: &str) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            ErrorKind::NotFound,
            format!("{addr} resolves to no address"),
        ));
    }
    Ok(addrs)
}

/// Connects to the first address of `addr` that answers (10 s at most
/// each): the client side of every TCP program.
pub fn connect(addr: &str) -> io::Result<std::net::TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "no address");
    for candidate in resolve(addr)? {
        match std::net::TcpStream::connect_timeout(&candidate, Duration::from_secs(10)) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Raises this process's open-file limit as far as allowed, and returns
/// it: every connection is a file descriptor.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// A server's log on stderr: whole lines, buffered, written by the event
/// loops at most [`LOG_DELAY`] after they were made (under load, one
/// `write` carries many lines). Clones share the buffer; [`Log::off`]
/// drops every line (the web site's `log.screen: False`).
#[derive(Debug, Clone)]
pub struct Log {
    lines: Option<Arc<Lines>>,
}

/// The buffered lines of a [`Log`], and whether there are any (read by
/// every loop at every turn, so without the lock).
#[derive(Debug, Default)]
struct Lines {
    buffer: Mutex<Vec<u8>>,
    waiting: AtomicBool,
}

/// Bytes of lines that make a log write at once rather than at the next
/// flush.
const LOG_FULL: usize = 64 * 1024;

impl Log {
    /// Lines go to stderr.
    pub fn stderr() -> Log {
        Log {
            lines: Some(Arc::default()),
        }
    }

    /// Lines go nowhere.
    pub fn off() -> Log {
        Log { lines: None }
    }

    /// Adds a line (the newline is added).
    pub fn line(&self, line: fmt::Arguments<'_>) {
        let Some(lines) = &self.lines else {
            return;
        };
        let mut buffer = lines.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(buffer, "{line}");
        if buffer.len() >= LOG_FULL {
            write_out(&mut buffer);
        } else {
            lines.waiting.store(true, Ordering::Release);
        }
    }

    /// Writes the buffered lines out now.
    pub fn flush(&self) {
        if let Some(lines) = &self.lines {
            let mut buffer = lines.buffer.lock().unwrap_or_else(|e| e.into_inner());
            lines.waiting.store(false, Ordering::Release);
            write_out(&mut buffer);
        }
    }

    fn has_lines(&self) -> bool {
        self.lines
            .as_ref()
            .is_some_and(|lines| lines.waiting.load(Ordering::Acquire))
    }
}

fn write_out(buffer: &mut Vec<u8>) {
    if !buffer.is_empty() {
        let _ = io::stderr().write_all(buffer);
        buffer.clear();
    }
}

/// What every loop of a server shares.
#[derive(Debug)]
struct Shared {
    /// Set to stop the server.
    stop: AtomicBool,
    /// Set by a second signal: close the draining connections now.
    hurry: AtomicBool,
    /// Connections open on all the loops.
    live: AtomicUsize,
    /// One waker per loop.
    wakers: Vec<Arc<Waker>>,
    /// Connections open on each loop.
    loads: Vec<AtomicUsize>,
    /// Loops still running.
    running: AtomicUsize,
    /// Set for a loop that another loop woke to accept.
    nudged: Vec<AtomicBool>,
    /// Connections served since the start, and those closed at once for
    /// the cap: what [`Stats`] reads.
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl Shared {
    fn wake_all(&self) {
        for waker in &self.wakers {
            // If a wake fails, the loop still sees the flags within a tick.
            let _ = waker.wake();
        }
    }
}

/// Counts a loop thread out when it ends, panics included, and wakes the
/// others (the first loop waits for them; see
/// `EventLoop::wait_for_the_other_loops`).
struct Leaving(Arc<Shared>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
        self.0.wake_all();
    }
}

/// Stops a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
}

impl Stopper {
    /// The connections open on each event loop now.
    pub fn connections_per_loop(&self) -> Vec<usize> {
        self.shared
            .loads
            .iter()
            .map(|load| load.load(Ordering::SeqCst))
            .collect()
    }

    /// Asks the server to stop; [`Server::run`] returns soon after.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake_all();
    }
}

/// A running [`Server`]'s connection counts, read from any thread (the
/// `/metrics` page): counted where the connection cap's count changes.
#[derive(Debug, Clone)]
pub struct Stats {
    shared: Arc<Shared>,
}

impl Stats {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.shared.live.load(Ordering::Relaxed)
    }

    /// Connections served since the start.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections closed at once because [`Limits::max_connections`]
    /// were open.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }
}

/// Wakes one connection of a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct Notify {
    slot: usize,
    ready: Option<Arc<Ready>>,
}

/// The connections of one loop woken since it last looked, and how to
/// wake it.
#[derive(Debug)]
struct Ready {
    slots: Mutex<Vec<usize>>,
    /// The loop's one waker (mio allows one per poller), shared with
    /// [`Stopper`].
    waker: Arc<Waker>,
}

impl Notify {
    /// A `Notify` that wakes nothing, for drivers that poll every session
    /// anyway (`reseau nic`).
    pub fn detached() -> Notify {
        Notify {
            slot: 0,
            ready: None,
        }
    }

    /// Has the server pump this connection again soon. A connection that
    /// closed meanwhile is not harmed: at worst another one in its slot is
    /// pumped once for nothing.
    pub fn wake(&self) {
        let Some(ready) = &self.ready else {
            return;
        };
        let mut slots = ready.slots.lock().unwrap_or_else(|e| e.into_inner());
        let first = slots.is_empty();
        slots.push(self.slot);
        drop(slots);
        // Under load, one wake carries many connections.
        if first {
            let _ = ready.waker.wake();
        }
    }
}

/// How long a stopped server waits for its connections to drain before it
/// closes the ones left and returns: the one shutdown bound of every
/// server (`reseau adder serve`, `echo serve`, `web`, `serve`). Longer than
/// the web site's handlers need for a request (SQLite's busy timeout is
/// 5 s), short enough for a service manager's stop timeout (systemd's
/// default is 90 s).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Connections a loop accepts in a row before it serves the others (and
/// the other loops get a chance to accept the next ones).
const ACCEPT_BATCH: usize = 4;

/// Connections accepted, at most, from the listener's backlog as the server
/// stops (mio's backlog is 1024).
const LAST_ACCEPTS: usize = 1024;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);

/// Bytes read from a socket at a time, into the loop's one buffer.
const READ_BUF: usize = 16 * 1024;
/// Bytes taken from a session's output at a time.
const WRITE_BUF: usize = 16 * 1024;
/// How often a loop looks for connections whose time has come: timeouts
/// fire up to this late.
const TICK: Duration = Duration::from_millis(500);
/// Bytes one connection may read in a row before the others get their
/// turn: a client that never stops sending cannot starve the rest.
pub const READ_BUDGET: usize = 256 * 1024;
/// How long a log line may wait in the buffer.
pub const LOG_DELAY: Duration = Duration::from_millis(20);
/// How long a connection the server ends waits for its peer to close
/// ([`Timeouts::linger`]).
pub const LINGER: Duration = Duration::from_secs(2);

/// Input a session did not take yet: the rest of one read at most (the
/// socket is read only when this is empty), given back from an offset so
/// that a session with a small buffer does not make us move it each time.
#[derive(Debug, Default)]
struct Stash {
    bytes: Vec<u8>,
    start: usize,
}

impl Stash {
    fn pending(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.start >= self.bytes.len()
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.is_empty() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    fn keep(&mut self, rest: &[u8]) {
        self.bytes.extend_from_slice(rest);
    }
}

/// What a pump of one connection left.
enum Pumped {
    /// The socket would block: wait for its next event.
    Idle,
    /// The read budget ran out with input still waiting: pump it again
    /// after the others.
    Again,
    /// The connection must close; with the socket's error if it failed.
    Close(End, Option<io::Error>),
}

/// A connection's bytes: plain TCP, or TLS over it. The pump uses both
/// alike: `WouldBlock` when the socket would block, `0` at the end of
/// input, and a short read only when the socket ran dry.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    /// Sends what the transport holds (TLS records); plain TCP holds
    /// nothing.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(tls) => tls.flush(),
        }
    }

    /// The server ends the connection: FIN (after `close_notify`).
    fn close_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.shutdown(Shutdown::Write),
            Transport::Tls(tls) => tls.close_write(),
        }
    }

    /// Reads the raw bytes a lingering close drops (after sending what the
    /// transport still holds).
    fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => {
                tls.flush()?;
                tls.read_raw(buf)
            }
        }
    }

    /// Before the socket closes: a TLS connection says `close_notify`.
    fn finish(&mut self) {
        if let Transport::Tls(tls) = self {
            tls.finish();
        }
    }

    /// The end of input is known but not yet read (TLS: `close_notify`
    /// or a FIN met by a read that returned bytes): no event will say so.
    fn end_pending(&self) -> bool {
        matches!(self, Transport::Tls(tls) if tls.end_pending())
    }

    fn handshake_late(&self, now: Instant) -> bool {
        matches!(self, Transport::Tls(tls) if tls.handshake_late(now))
    }
}

/// A TLS handshake must end within this long (or the request timeout, or
/// the idle timeout, when shorter): a client that never finishes it, or
/// sends it a byte at a time, cannot hold a connection longer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct Connection<S: Service> {
    stream: Transport,
    peer: SocketAddr,
    /// The session, with the rules that need time.
    timed: Timed<S::Session>,
    summary: S::Summary,
    /// Input the session did not take yet.
    stash: Stash,
    /// Output the socket did not take yet.
    unsent: Vec<u8>,
    /// The poller said the peer closed its side: read until end of stream.
    read_closed: bool,
    eof: bool,
    /// The server is stopping and this connection's input ran dry: its
    /// session was told the input ended, and the socket is read no more.
    input_cut: bool,
}

/// What one event loop starts with: made at bind, so that a [`Stopper`]
/// can wake every loop before they run.
struct LoopParts {
    poll: Poll,
    listener: TcpListener,
    ready: Arc<Ready>,
}

/// A TCP server running one [`Service`] on [`Limits::loops`] event loops.
pub struct Server<S: Service> {
    parts: Vec<LoopParts>,
    local: SocketAddr,
    service: Arc<S>,
    limits: Limits,
    shared: Arc<Shared>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    log: Log,
    tls: Option<Arc<ServerTls>>,
}

impl<S: Service> Server<S> {
    /// Binds `addr` (the first of its addresses that binds), with the
    /// server's lines on stderr ([`Server::with_log`] to change that).
    pub fn bind(addr: &str, service: S, limits: Limits) -> io::Result<Self> {
        let mut last_error = None;
        for candidate in resolve(addr)? {
            match TcpListener::bind(candidate) {
                Ok(listener) => return Self::with_listener(listener, service, limits),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no address to bind")))
    }

    fn with_listener(listener: TcpListener, service: S, limits: Limits) -> io::Result<Self> {
        // Replies are small and must not wait for Nagle's algorithm. Set on
        // the listener, TCP_NODELAY is inherited by every accepted socket
        // (Linux), which saves a system call per connection.
        socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
        let local = listener.local_addr()?;
        let loops = limits.loops();
        let mut listeners = Vec::with_capacity(loops);
        for _ in 1..loops {
            let copy = socket2::SockRef::from(&listener).try_clone()?;
            listeners.push(TcpListener::from_std(copy.into()));
        }
        listeners.push(listener);
        let mut parts = Vec::with_capacity(loops);
        let mut wakers = Vec::with_capacity(loops);
        for mut listener in listeners {
            let poll = Poll::new()?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            wakers.push(waker.clone());
            let ready = Arc::new(Ready {
                slots: Mutex::new(Vec::new()),
                waker,
            });
            parts.push(LoopParts {
                poll,
                listener,
                ready,
            });
        }
        Ok(Server {
            parts,
            local,
            service: Arc::new(service),
            limits,
            shared: Arc::new(Shared {
                stop: AtomicBool::new(false),
                hurry: AtomicBool::new(false),
                live: AtomicUsize::new(0),
                loads: wakers.iter().map(|_| AtomicUsize::new(0)).collect(),
                running: AtomicUsize::new(wakers.len()),
                nudged: wakers.iter().map(|_| AtomicBool::new(false)).collect(),
                wakers,
                accepted: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
            signals: None,
            log: Log::stderr(),
            tls: None,
        })
    }

    /// Where the server's own lines (connection ends, signals) go.
    pub fn with_log(mut self, log: Log) -> Self {
        self.log = log;
        self
    }

    /// Serves TLS with `tls` on every connection (see [`crate::tls`]); call
    /// before [`Server::stop_on_signals`], which then hears SIGHUP too.
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(Arc::new(tls));
        self
    }

    /// The address the server listens on (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The number of event loops [`Server::run`] runs.
    pub fn loops(&self) -> usize {
        self.parts.len()
    }

    /// A handle that stops the server from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shared: self.shared.clone(),
        }
    }

    /// The server's connection counts.
    pub fn stats(&self) -> Stats {
        Stats {
            shared: self.shared.clone(),
        }
    }

    /// Makes SIGINT and SIGTERM stop the server (for the command line),
    /// and, with TLS, SIGHUP reload its certificate and key: new
    /// connections get the new ones, open ones keep theirs; files that
    /// fail the checks leave the old ones, said in one log line.
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = if self.tls.is_some() {
            signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP])?
        } else {
            signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM])?
        };
        if let Some(first) = self.parts.first() {
            first
                .poll
                .registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)?;
        }
        self.signals = Some(signals);
        Ok(())
    }

    /// Serves until stopped by a [`Stopper`] or a signal, then drains the
    /// connections (see the module's "Stopping"): returns `Ok` once none
    /// is left, [`SHUTDOWN_DEADLINE`] after the stop at most. The first
    /// loop runs on the calling thread, the others on threads of their
    /// own.
    pub fn run(self) -> io::Result<()> {
        let Server {
            parts,
            service,
            limits,
            shared,
            mut signals,
            log,
            tls,
            ..
        } = self;
        let name = service.name();
        let mut others = Vec::new();
        let mut first = None;
        for (n, part) in parts.into_iter().enumerate() {
            let (service, own, log) = (service.clone(), shared.clone(), log.clone());
            let tls = tls.clone();
            if n == 0 {
                let signals = signals.take();
                first =
                    Some(EventLoop::new(part, service, limits, own, log, signals, 0).with_tls(tls));
                continue;
            }
            // Built on its own thread: sessions never cross threads.
            let spawned = thread::Builder::new()
                .name(format!("{name}-loop-{n}"))
                .spawn(move || {
                    let leaving = Leaving(own.clone());
                    let result = EventLoop::new(part, service, limits, own, log, None, n)
                        .with_tls(tls)
                        .run();
                    if result.is_err() {
                        // One loop failing stops the server.
                        leaving.0.stop.store(true, Ordering::SeqCst);
                    }
                    result
                });
            match spawned {
                Ok(handle) => others.push(handle),
                Err(error) => {
                    Stopper { shared }.stop();
                    for handle in others {
                        let _ = handle.join();
                    }
                    return Err(error);
                }
            }
        }
        let mut result = first.map_or(Ok(0), EventLoop::run);
        if result.is_err() {
            // One loop failing stops the server.
            Stopper {
                shared: shared.clone(),
            }
            .stop();
        }
        for handle in others {
            let joined = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("an event loop panicked")));
            result = match (result, joined) {
                (Ok(left), Ok(more)) => Ok(left + more),
                (Err(error), _) | (Ok(_), Err(error)) => Err(error),
            };
        }
        let left = result?;
        if left == 0 {
            log.line(format_args!("{name}: stopped"));
        } else {
            log.line(format_args!(
                "{name}: stopped: {left} connection{} closed at the {} s deadline",
                if left == 1 { "" } else { "s" },
                SHUTDOWN_DEADLINE.as_secs()
            ));
        }
        log.flush();
        Ok(())
    }
}

/// One event loop: its poller, its share of the connections, its buffers.
struct EventLoop<S: Service> {
    poll: Poll,
    /// `None` once the server is stopping.
    listener: Option<TcpListener>,
    service: Arc<S>,
    limits: Limits,
    timeouts: Timeouts,
    shared: Arc<Shared>,
    /// Connections woken by a [`Notify`].
    ready: Arc<Ready>,
    /// The first loop hears the signals, and speaks for the server.
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// This loop's number; 0 is the first.
    index: usize,
    log: Log,
    connections: Vec<Option<Connection<S>>>,
    free: Vec<usize>,
    /// Connections open on this loop.
    live: usize,
    read_buf: Box<[u8]>,
    /// One buffer for output on its way to a socket.
    write_buf: Box<[u8]>,
    /// Connections whose read budget ran out, to pump again.
    again: Vec<usize>,
    /// Accepting paused until then (the process ran out of descriptors).
    accept_paused_until: Option<Instant>,
    /// The last accept stopped at [`ACCEPT_BATCH`]: accept again once the
    /// connections that were ready are served.
    accept_again: bool,
    /// Set once the server is stopping: when the connections left are
    /// closed.
    drain_deadline: Option<Instant>,
    /// The signal that stopped the server, for the log.
    stopped_by: Option<&'static str>,
    /// The clock's origin: sessions get the time as milliseconds since.
    origin: Instant,
    /// The TLS identity every new connection gets, if the server speaks TLS.
    tls: Option<Arc<ServerTls>>,
    /// How long a TLS handshake may take ([`HANDSHAKE_TIMEOUT`] at most).
    handshake_timeout: Duration,
}

impl<S: Service> EventLoop<S> {
    fn new(
        parts: LoopParts,
        service: Arc<S>,
        limits: Limits,
        shared: Arc<Shared>,
        log: Log,
        signals: Option<signal_hook_mio::v1_0::Signals>,
        index: usize,
    ) -> Self {
        EventLoop {
            poll: parts.poll,
            listener: Some(parts.listener),
            service,
            limits,
            timeouts: limits.timeouts(),
            shared,
            ready: parts.ready,
            signals,
            index,
            log,
            connections: Vec::new(),
            free: Vec::new(),
            live: 0,
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            write_buf: vec![0; WRITE_BUF].into_boxed_slice(),
            again: Vec::new(),
            accept_paused_until: None,
            accept_again: false,
            drain_deadline: None,
            stopped_by: None,
            origin: Instant::now(),
            tls: None,
            handshake_timeout: HANDSHAKE_TIMEOUT
                .min(limits.idle_timeout)
                .min(limits.request_timeout.unwrap_or(HANDSHAKE_TIMEOUT)),
        }
    }

    fn with_tls(mut self, tls: Option<Arc<ServerTls>>) -> Self {
        self.tls = tls;
        self
    }

    /// The time as the sessions count it.
    fn at(&self, now: Instant) -> time::Instant {
        let millis = now.saturating_duration_since(self.origin).as_millis();
        time::Instant::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// Serves until the server stops and this loop's connections are
    /// drained; returns how many were closed at the deadline instead.
    fn run(mut self) -> io::Result<usize> {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TICK;
        let mut next_flush = Instant::now();
        loop {
            // Log lines wait at most LOG_DELAY: under load, one write
            // carries many of them.
            let now = Instant::now();
            let logged = self.log.has_lines();
            if logged && now >= next_flush {
                self.log.flush();
                next_flush = now + LOG_DELAY;
            }
            let mut wake = next_tick;
            if let Some(deadline) = self.drain_deadline {
                wake = wake.min(deadline);
            }
            if logged {
                wake = wake.min(next_flush);
            }
            let timeout = if self.again.is_empty() && !self.accept_again {
                wake.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            // One clock read per batch of events: enough for timeouts.
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now, true),
                    WAKER => {
                        if self
                            .shared
                            .nudged
                            .get(self.index)
                            .is_some_and(|nudged| nudged.swap(false, Ordering::SeqCst))
                        {
                            self.accept(now, false);
                        }
                        let ready = std::mem::take(
                            &mut *self.ready.slots.lock().unwrap_or_else(|e| e.into_inner()),
                        );
                        for slot in ready {
                            self.pump(slot, false, now);
                        }
                    }
                    SIGNALS => self.on_signals(),
                    Token(slot) => self.pump(slot, event.is_read_closed(), now),
                }
            }
            for slot in std::mem::take(&mut self.again) {
                self.pump(slot, false, now);
            }
            if std::mem::take(&mut self.accept_again) {
                self.accept(now, false);
            }
            if self.shared.stop.load(Ordering::SeqCst) && self.drain_deadline.is_none() {
                self.begin_drain(now);
            }
            if let Some(deadline) = self.drain_deadline {
                let now = Instant::now();
                // A second signal (`hurry`) ends the drain at once.
                if self.live == 0 || now >= deadline || self.shared.hurry.load(Ordering::SeqCst) {
                    let left = self.finish_drain();
                    self.wait_for_the_other_loops();
                    return Ok(left);
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                self.fire_timers(now);
                if self.accept_paused_until.is_some_and(|until| now >= until) {
                    self.accept_paused_until = None;
                    self.accept(now, false);
                }
            }
        }
    }

    /// The first loop, drained, still hears the signals until every other
    /// loop has drained too: a second signal must still hurry them (and
    /// not meet the default action, which would kill the process).
    fn wait_for_the_other_loops(&mut self) {
        if self.index != 0 {
            return;
        }
        let mut events = Events::with_capacity(16);
        while self.shared.running.load(Ordering::SeqCst) > 1 {
            match self.poll.poll(&mut events, Some(TICK)) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                // The others end by their own deadline anyway.
                Err(_) => return,
            }
            if events.iter().any(|event| event.token() == SIGNALS) {
                self.on_signals();
            }
            if self.log.has_lines() {
                self.log.flush();
            }
        }
    }

    fn say(&self, line: fmt::Arguments<'_>) {
        self.log
            .line(format_args!("{}: {line}", self.service.name()));
    }

    /// The signals that arrived: the first stops the server, one more
    /// during the drain closes the connections left at once.
    fn on_signals(&mut self) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        let received: Vec<i32> = signals.pending().collect();
        for signal in received {
            if signal == signal_hook::consts::SIGHUP {
                self.reload_tls();
                continue;
            }
            let name = if signal == signal_hook::consts::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            // Only a signal after one this server heard closes the drain:
            // a server that another stopped first (`reseau serve` stops
            // the other servers when one ends) may hear the first signal
            // late.
            if self.stopped_by.is_some() && self.drain_deadline.is_some() {
                let live = self.shared.live.load(Ordering::SeqCst);
                self.say(format_args!(
                    "{name} received again: closing the {live} connection{} left",
                    if live == 1 { "" } else { "s" }
                ));
                self.shared.hurry.store(true, Ordering::SeqCst);
                self.shared.wake_all();
            } else if self.stopped_by.is_none() {
                self.stopped_by = Some(name);
                if self.drain_deadline.is_some() {
                    self.say(format_args!("{name} received, stopping"));
                }
                self.shared.stop.store(true, Ordering::SeqCst);
                self.shared.wake_all();
            }
        }
    }

    /// SIGHUP: reads the certificate and key again (see
    /// [`Server::stop_on_signals`]).
    fn reload_tls(&self) {
        let Some(tls) = &self.tls else {
            return;
        };
        match tls.reload() {
            Ok(about) => self.say(format_args!("tls certificate reloaded: {about}")),
            Err(error) => self.say(format_args!(
                "tls certificate not reloaded: {error}; still serving {}",
                tls.about()
            )),
        }
    }

    /// Stops accepting (after taking in the connections the kernel already
    /// completed) and starts draining every connection.
    fn begin_drain(&mut self, now: Instant) {
        self.accept_paused_until = None;
        let _ = self.accept_at_most(LAST_ACCEPTS, now);
        if let Some(mut listener) = self.listener.take() {
            // Once every loop closed its copy, the socket is closed and new
            // connections are refused.
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.drain_deadline = Some(now + SHUTDOWN_DEADLINE);
        if self.index == 0 {
            if let Some(signal) = self.stopped_by {
                self.say(format_args!("{signal} received, stopping"));
            }
            let live = self.shared.live.load(Ordering::SeqCst);
            self.say(format_args!(
                "stopping: {live} connection{} draining (deadline {} s)",
                if live == 1 { "" } else { "s" },
                SHUTDOWN_DEADLINE.as_secs()
            ));
        }
        // Idle connections get no event: each is pumped once, which ends
        // it if its input is dry.
        for slot in 0..self.connections.len() {
            self.pump(slot, false, now);
        }
    }

    /// Closes what is left at the end of the drain; returns how many were
    /// still being served.
    fn finish_drain(&mut self) -> usize {
        let mut left = 0;
        for slot in 0..self.connections.len() {
            let Some(Some(conn)) = self.connections.get(slot) else {
                continue;
            };
            // A lingering connection was drained: only its peer's close
            // was still awaited.
            if conn.timed.is_lingering() {
                self.close(slot, End::Shutdown, None);
            } else {
                left += 1;
                self.close(slot, End::Deadline, None);
            }
        }
        left
    }

    /// Accepts if this loop serves the fewest connections,
    /// [`ACCEPT_BATCH`] at most before it looks again. Every loop hears of
    /// a new connection (`heard`: this call is that event), so the least
    /// loaded one takes it and connections spread evenly however they
    /// arrive; when no new event will come (connections left in the
    /// backlog after a batch), the least loaded loop is woken instead.
    fn accept(&mut self, now: Instant, heard: bool) {
        let least = (0..self.shared.loads.len())
            .min_by_key(|&n| {
                self.shared
                    .loads
                    .get(n)
                    .map_or(usize::MAX, |load| load.load(Ordering::SeqCst))
            })
            .unwrap_or(self.index);
        let mine = self
            .shared
            .loads
            .get(self.index)
            .map_or(0, |load| load.load(Ordering::SeqCst));
        let fewest = self
            .shared
            .loads
            .get(least)
            .map_or(0, |load| load.load(Ordering::SeqCst));
        if mine > fewest && self.drain_deadline.is_none() {
            if !heard
                && let (Some(nudged), Some(waker)) =
                    (self.shared.nudged.get(least), self.shared.wakers.get(least))
            {
                nudged.store(true, Ordering::SeqCst);
                let _ = waker.wake();
            }
            return;
        }
        if self.accept_at_most(ACCEPT_BATCH, now) {
            self.accept_again = true;
        }
    }

    /// Accepts until the listener would block, accepting is paused, or
    /// `most` connections came; returns `true` in that last case (more
    /// may be waiting).
    fn accept_at_most(&mut self, most: usize, now: Instant) -> bool {
        let mut accepted = 0;
        while self.accept_paused_until.is_none() {
            if accepted == most {
                return true;
            }
            let Some(listener) = &self.listener else {
                return false;
            };
            accepted += 1;
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return false,
                // A client that gave up before we accepted it: next.
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::Interrupted
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::ConnectionReset
                    ) =>
                {
                    continue;
                }
                Err(error) => {
                    // Out of descriptors or memory: wait a tick, keep
                    // serving the connections we have.
                    self.say(format_args!("accept failed: {error}; pausing accepts"));
                    self.accept_paused_until = Some(now + TICK);
                    return false;
                }
            };
            let max = self.limits.max_connections;
            if self.shared.live.fetch_add(1, Ordering::SeqCst) >= max {
                self.shared.live.fetch_sub(1, Ordering::SeqCst);
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
                self.say(format_args!("{peer}: refused, {max} connections already"));
                drop(stream);
                continue;
            }
            let slot = self.free.pop().unwrap_or_else(|| {
                self.connections.push(None);
                self.connections.len() - 1
            });
            if let Err(error) = self.poll.registry().register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                self.say(format_args!("{peer}: {error}"));
                self.free.push(slot);
                self.shared.live.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let stream = match &self.tls {
                None => Transport::Plain(stream),
                Some(tls) => match tls.accept() {
                    Ok(session) => Transport::Tls(Box::new(TlsStream::new(
                        stream,
                        session,
                        now + self.handshake_timeout,
                    ))),
                    Err(error) => {
                        self.say(format_args!("{peer}: tls: {error}"));
                        self.free.push(slot);
                        self.shared.live.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                },
            };
            let notify = Notify {
                slot,
                ready: Some(self.ready.clone()),
            };
            let session = self.service.session(peer, notify);
            let timed = Timed::new(session, self.timeouts, self.at(now));
            if let Some(entry) = self.connections.get_mut(slot) {
                *entry = Some(Connection {
                    stream,
                    peer,
                    timed,
                    summary: S::Summary::default(),
                    stash: Stash::default(),
                    unsent: Vec::new(),
                    read_closed: false,
                    eof: false,
                    input_cut: false,
                });
                self.live += 1;
                self.publish_load();
                self.shared.accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
        false
    }

    /// Moves bytes between connection `slot` and its session until the
    /// socket would block, then closes it if the session is finished.
    fn pump(&mut self, slot: usize, read_closed: bool, now: Instant) {
        let at = self.at(now);
        let draining = self.drain_deadline.is_some();
        let Some(Some(conn)) = self.connections.get_mut(slot) else {
            return;
        };
        conn.read_closed |= read_closed;
        if conn.timed.is_lingering() {
            match drop_input(conn, &mut self.read_buf) {
                Pumped::Idle => {}
                Pumped::Again => self.again.push(slot),
                Pumped::Close(end, error) => self.close(slot, end, error),
            }
            return;
        }
        let pumped = pump_connection(
            conn,
            &*self.service,
            &mut self.read_buf,
            &mut self.write_buf,
            draining,
            at,
        );
        match pumped {
            Pumped::Idle => {}
            Pumped::Again => self.again.push(slot),
            Pumped::Close(End::ClosedByServer, None) if !conn.eof => {
                // The server ends it, the peer has not: see `Timed::linger`.
                match conn.stream.close_write() {
                    Ok(()) => {
                        conn.timed.linger(at);
                        // Bytes may be waiting already, and no new event
                        // would say so.
                        self.again.push(slot);
                    }
                    Err(error) => self.close(slot, End::Reset, Some(error)),
                }
            }
            Pumped::Close(end, error) => self.close(slot, end, error),
        }
    }

    fn close(&mut self, slot: usize, end: End, error: Option<io::Error>) {
        let Some(entry) = self.connections.get_mut(slot) else {
            return;
        };
        // Closing the socket also takes it out of the poller.
        let Some(mut conn) = entry.take() else {
            return;
        };
        if error.is_none() {
            conn.stream.finish();
        }
        let end = match end {
            // Ended by the server while it stops.
            End::ClosedByServer if self.drain_deadline.is_some() => End::Shutdown,
            end => end,
        };
        self.live -= 1;
        self.publish_load();
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
        self.free.push(slot);
        let (name, peer, summary) = (self.service.name(), conn.peer, &conn.summary);
        match error {
            Some(error) => self
                .log
                .line(format_args!("{name}: {peer}: {summary}; {error}")),
            None => self
                .log
                .line(format_args!("{name}: {peer}: {summary}; {end}")),
        }
    }

    fn publish_load(&self) {
        if let Some(load) = self.shared.loads.get(self.index) {
            load.store(self.live, Ordering::SeqCst);
        }
    }

    /// Gives each connection whose time has come the time, then closes it
    /// if that ended it, or pumps it (a late request may have an answer).
    fn fire_timers(&mut self, now: Instant) {
        let at = self.at(now);
        for slot in 0..self.connections.len() {
            let Some(Some(conn)) = self.connections.get_mut(slot) else {
                continue;
            };
            if conn.stream.handshake_late(now) {
                let late = self.handshake_timeout.as_secs_f64();
                let error = io::Error::new(
                    ErrorKind::TimedOut,
                    format!("tls handshake not finished within {late} s"),
                );
                self.close(slot, End::Deadline, Some(error));
                continue;
            }
            if conn.timed.poll_timeout().is_none_or(|due| due > at) {
                continue;
            }
            conn.timed.handle_timeout(at);
            drain_events(conn, &*self.service);
            match conn.timed.end() {
                Some(end) => self.close(slot, end, None),
                None => self.pump(slot, false, now),
            }
        }
    }
}

/// Moves bytes between one connection and its session until the socket
/// would block, the read budget runs out, or the connection must close.
/// While the server is `draining`, input that runs dry ends (see the
/// module's "Stopping").
fn pump_connection<S: Service>(
    conn: &mut Connection<S>,
    service: &S,
    read_buf: &mut [u8],
    out: &mut [u8],
    draining: bool,
    at: time::Instant,
) -> Pumped {
    let mut read_total = 0;
    // A read that did not fill the buffer emptied the socket: with
    // edge-triggered readiness, data that arrives later wakes us again, so
    // the read that would only say "would block" is skipped. Not once the
    // peer's FIN is known to be queued: it may have come with the data, and
    // then no later event would tell us.
    let mut drained = false;
    loop {
        // 1. Send what the socket did not take last time: first what the
        //    transport holds (TLS records: a handshake's, a response's
        //    tail), then what it did not take.
        match conn.stream.flush() {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Pumped::Idle,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return peer_gone(conn, service, error, at),
        }
        if !conn.unsent.is_empty() {
            match conn.stream.write(&conn.unsent) {
                Ok(n) => {
                    conn.unsent.drain(..n);
                    continue;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Pumped::Idle,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return peer_gone(conn, service, error, at),
            }
        }
        // 2. Send the session's output, gathered into one write: when the
        //    session runs dry it is offered the input it did not take
        //    before, so a session with a small buffer still makes large
        //    writes (one system call per WRITE_BUF, not per session buffer).
        let mut filled = 0;
        loop {
            let n = conn
                .timed
                .poll_transmit(out.get_mut(filled..).unwrap_or_default(), at);
            filled += n;
            if filled == out.len() || (n == 0 && conn.stash.is_empty()) {
                break;
            }
            if n == 0 {
                let used = conn.timed.handle_input(conn.stash.pending(), at);
                conn.stash.consume(used);
                drain_events(conn, service);
                if used == 0 {
                    break;
                }
            }
        }
        // Output can come with events too (the web site logs a request
        // when its response is handed over).
        drain_events(conn, service);
        if filled > 0 {
            let bytes = out.get(..filled).unwrap_or_default();
            match conn.stream.write(bytes) {
                Ok(written) => conn
                    .unsent
                    .extend_from_slice(bytes.get(written..).unwrap_or_default()),
                Err(error)
                    if error.kind() == ErrorKind::WouldBlock
                        || error.kind() == ErrorKind::Interrupted =>
                {
                    conn.unsent.extend_from_slice(bytes)
                }
                Err(error) => return peer_gone(conn, service, error, at),
            }
            continue;
        }
        if let Some(end) = conn.timed.end() {
            return Pumped::Close(end, None);
        }
        if conn.timed.is_finished() {
            let end = if conn.eof {
                End::ClosedByPeer
            } else {
                End::ClosedByServer
            };
            return Pumped::Close(end, None);
        }
        // 3. Input the session would not take: it waits for the peer to
        //    read what was sent (the socket is full), so wait for that.
        if !conn.stash.is_empty() || conn.eof || conn.input_cut {
            return Pumped::Idle;
        }
        if drained {
            // Stopping, nothing more to read now, nothing to send, and no
            // request half received: the input ends here. A request being
            // answered elsewhere is waited for, its session told that the
            // input ended (its response then says so).
            if draining && !conn.timed.session().is_receiving() {
                conn.input_cut = true;
                if !conn.timed.session().is_answering() {
                    return Pumped::Close(End::ClosedByServer, None);
                }
                conn.timed.handle_eof(at);
                drain_events(conn, service);
                continue;
            }
            return Pumped::Idle;
        }
        if read_total >= READ_BUDGET {
            return Pumped::Again;
        }
        // 4. Read more.
        match conn.stream.read(read_buf) {
            Ok(0) => {
                conn.eof = true;
                conn.timed.handle_eof(at);
                drain_events(conn, service);
            }
            Ok(n) => {
                read_total += n;
                drained = n < read_buf.len() && !conn.read_closed && !conn.stream.end_pending();
                let input = read_buf.get(..n).unwrap_or_default();
                let used = conn.timed.handle_input(input, at);
                conn.stash.keep(input.get(used..).unwrap_or_default());
                drain_events(conn, service);
            }
            // Nothing to read now: the input ran dry, handled above.
            Err(error) if error.kind() == ErrorKind::WouldBlock => drained = true,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return peer_gone(conn, service, error, at),
        }
    }
}

/// Reads and drops what the peer of a lingering connection sends: `Close`
/// once it has closed its side (or the socket failed).
fn drop_input<S: Service>(conn: &mut Connection<S>, read_buf: &mut [u8]) -> Pumped {
    let mut read_total = 0;
    loop {
        match conn.stream.read_raw(read_buf) {
            Ok(0) => return Pumped::Close(End::ClosedByServer, None),
            Ok(n) => {
                read_total += n;
                if read_total >= READ_BUDGET {
                    return Pumped::Again;
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Pumped::Idle,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Pumped::Close(End::ClosedByServer, None),
        }
    }
}

/// The socket failed (a reset, a broken pipe): the peer will send nothing
/// more. The session hears that as the end of its input, so what it got
/// is still reported (the course's echo client, which closes without
/// reading the echo, often ends with a reset), then the connection closes.
fn peer_gone<S: Service>(
    conn: &mut Connection<S>,
    service: &S,
    error: io::Error,
    at: time::Instant,
) -> Pumped {
    if !conn.eof {
        conn.timed.handle_eof(at);
        drain_events(conn, service);
    }
    Pumped::Close(End::Reset, Some(error))
}

fn drain_events<S: Service>(conn: &mut Connection<S>, service: &S) {
    while let Some(event) = conn.timed.poll_event() {
        service.record(&mut conn.summary, event);
    }
}
