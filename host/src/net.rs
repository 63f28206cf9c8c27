//! The one server runtime: binding, the event loop, limits, idle timeouts,
//! per-connection log lines and signals, shared by every TCP server.
//!
//! A server is a [`Service`] (which session to run per connection, and how
//! to summarise its events in the log) driven by [`Server::run`]: a
//! single-threaded mio event loop, edge-triggered, that pumps bytes between
//! each socket and its [`StreamSession`]. The protocol lives in the session
//! (in `reseau-core`); nothing here knows what the bytes mean.
//!
//! A session may also wait for work done elsewhere (the web site's
//! handlers run on worker threads): it gets a [`Notify`] when it is made,
//! and whoever finishes the work calls [`Notify::wake`] to have the
//! connection pumped again.
//!
//! Memory per connection is the session plus a socket: input is read into
//! one 16 KiB buffer shared by all connections, and a connection keeps only
//! what its session did not take (at most one read, and only while it waits
//! for its peer to read replies) and what its socket did not take (at most
//! 16 KiB of output).
//!
//! # Stopping
//!
//! A [`Stopper`] or a signal ([`Server::stop_on_signals`]: SIGINT, SIGTERM)
//! stops a server gracefully, the same way for every server:
//!
//! 1. The connections the kernel completed but the loop had not accepted
//!    yet are accepted, then the listener is closed: a new connection is
//!    refused from then on.
//! 2. Every connection drains: it is read, and what it sent is answered,
//!    until its input runs dry: the socket has nothing more to read, no
//!    request is half received ([`Service::receiving_request`]), and the
//!    session has nothing more to send. Then the connection ends as any
//!    connection the server ends (its sending side shut down, the peer's
//!    bytes read and dropped until it closes, 2 s at most), except that
//!    a request still being answered elsewhere ([`Service::answering`]:
//!    the web site's workers) is waited for first, and its response says
//!    `Connection: close`. A response is written whole; none is begun
//!    once the input ended. Idle connections end at once.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use reseau_core::session::StreamSession;

/// What a server runs for each connection.
pub trait Service {
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

    /// Adds an event to the connection's summary; may write a line to
    /// `log` too (the web site's access log).
    fn record(
        &self,
        summary: &mut Self::Summary,
        peer: SocketAddr,
        event: <Self::Session as StreamSession>::Event,
        log: &mut dyn Write,
    );

    /// Whether the server's own lines (connection ends, signals) go to
    /// stderr: the web site's `log.screen: False` turns them off.
    fn logs_to_screen(&self) -> bool {
        true
    }

    /// Whether the session is in the middle of receiving a request (for
    /// [`Limits::request_timeout`], and a stopping server waits for the
    /// rest of it). Sessions that have no such notion never are.
    fn receiving_request(&self, _session: &Self::Session) -> bool {
        false
    }

    /// Whether the session has a request whose answer is being made
    /// elsewhere (the web site's worker threads): a stopping server tells
    /// such a session its input has ended and waits for the answer. Other
    /// sessions have answered all they read when they have nothing to
    /// send.
    fn answering(&self, _session: &Self::Session) -> bool {
        false
    }

    /// The session's request did not arrive within
    /// [`Limits::request_timeout`]. A session may answer it (the web
    /// site's 408) and finish, then the connection closes as after any
    /// last answer; `false` (the default) closes it at once.
    fn request_timed_out(&self, _session: &mut Self::Session, _after: Duration) -> bool {
        false
    }
}

/// The limits every server enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A connection that has been receiving one request for this long is
    /// closed, however often it sends a byte: a slow client ("slowloris")
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

/// Stops a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    /// Asks the server to stop; [`Server::run`] returns soon after.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // If the wake fails the loop still sees the flag within a second.
        let _ = self.waker.wake();
    }
}

/// Wakes one connection of a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct Notify {
    slot: usize,
    ready: Option<Arc<Ready>>,
}

/// The connections woken since the event loop last looked, and how to
/// wake the loop.
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
/// How often idle connections are looked for.
const TICK: Duration = Duration::from_millis(500);
/// Bytes one connection may read in a row before the others get their
/// turn: a client that never stops sending cannot starve the rest.
const READ_BUDGET: usize = 256 * 1024;
/// How long a log line may wait in the buffer.
const LOG_DELAY: Duration = Duration::from_millis(20);
/// How long a connection the server ends is read (and the bytes dropped)
/// after its last byte is sent, so that the peer reads that last byte
/// (see `Connection::lingering_until`).
const LINGER: Duration = Duration::from_secs(2);

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
    /// The connection must close.
    Close(End),
}

/// Why a connection ended, for its log line.
enum End {
    PeerClosed,
    Finished,
    Idle(Duration),
    SlowRequest(Duration),
    Io(io::Error),
    /// Drained while the server stops.
    Shutdown,
    /// Still open at the shutdown deadline.
    Deadline,
}

impl Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::PeerClosed => f.write_str("closed by peer"),
            End::Finished => f.write_str("closed by server"),
            End::Idle(after) => write!(f, "idle for {}s, closed", after.as_secs()),
            End::SlowRequest(after) => write!(
                f,
                "request not received within {}s, closed",
                after.as_secs_f64()
            ),
            End::Io(error) => write!(f, "{error}"),
            End::Shutdown => f.write_str("server shutting down"),
            End::Deadline => f.write_str("not drained by the shutdown deadline, closed"),
        }
    }
}

struct Connection<S: Service> {
    stream: TcpStream,
    peer: SocketAddr,
    session: S::Session,
    summary: S::Summary,
    /// Input the session did not take yet.
    stash: Stash,
    /// Output the socket did not take yet.
    unsent: Vec<u8>,
    last_active: Instant,
    /// When the session started receiving its current request.
    request_started: Option<Instant>,
    /// The poller said the peer closed its side: read until end of stream.
    read_closed: bool,
    eof: bool,
    /// The server is stopping and this connection's input ran dry: its
    /// session was told the input ended, and the socket is read no more.
    input_cut: bool,
    /// Set when the server has ended the connection but the peer may
    /// still be sending (an error response to a request whose body is on
    /// its way, say): until then, the peer's bytes are read and dropped.
    /// Closing a socket with unread input makes the kernel send a reset,
    /// and a reset makes the peer's kernel drop what it received but had
    /// not handed over yet: our last response. So the server shuts its
    /// side down (the peer gets all we sent, then the end of the stream)
    /// and waits for the peer to close too, [`LINGER`] at most.
    lingering_until: Option<Instant>,
}

/// A TCP server running one [`Service`].
pub struct Server<S: Service> {
    poll: Poll,
    /// `None` once the server is stopping.
    listener: Option<TcpListener>,
    local: SocketAddr,
    service: S,
    limits: Limits,
    connections: Vec<Option<Connection<S>>>,
    free: Vec<usize>,
    live: usize,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    /// Connections woken by a [`Notify`].
    ready: Arc<Ready>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    log: io::BufWriter<io::Stderr>,
    read_buf: Box<[u8]>,
    /// One buffer for output on its way to a socket.
    write_buf: Box<[u8]>,
    /// Connections whose read budget ran out, to pump again.
    again: Vec<usize>,
    /// Accepting paused until then (the process ran out of descriptors).
    accept_paused_until: Option<Instant>,
    /// Set once the server is stopping: when the connections left are
    /// closed.
    drain_deadline: Option<Instant>,
    /// The signal that stopped the server, for the log.
    stopped_by: Option<&'static str>,
}

impl<S: Service> Server<S> {
    /// Binds `addr` (the first of its addresses that binds).
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

    fn with_listener(mut listener: TcpListener, service: S, limits: Limits) -> io::Result<Self> {
        // Replies are small and must not wait for Nagle's algorithm. Set on
        // the listener, TCP_NODELAY is inherited by every accepted socket
        // (Linux), which saves a system call per connection.
        socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let local = listener.local_addr()?;
        let ready = Arc::new(Ready {
            slots: Mutex::new(Vec::new()),
            waker: waker.clone(),
        });
        Ok(Server {
            poll,
            listener: Some(listener),
            local,
            service,
            limits,
            connections: Vec::new(),
            free: Vec::new(),
            live: 0,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            ready,
            signals: None,
            log: io::BufWriter::new(io::stderr()),
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            write_buf: vec![0; WRITE_BUF].into_boxed_slice(),
            again: Vec::new(),
            accept_paused_until: None,
            drain_deadline: None,
            stopped_by: None,
        })
    }

    /// The address the server listens on (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle that stops the server from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Makes SIGINT and SIGTERM stop the server (for the command line).
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Serves until stopped by a [`Stopper`] or a signal, then drains the
    /// connections (see the module's "Stopping"): returns `Ok` once none
    /// is left, [`SHUTDOWN_DEADLINE`] after the stop at most.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TICK;
        let mut next_flush = Instant::now();
        loop {
            // Log lines wait at most LOG_DELAY: under load, one write
            // carries many of them.
            let now = Instant::now();
            if now >= next_flush && !self.log.buffer().is_empty() {
                let _ = self.log.flush();
                next_flush = now + LOG_DELAY;
            }
            let mut wake = next_tick;
            if let Some(deadline) = self.drain_deadline {
                wake = wake.min(deadline);
            }
            if !self.log.buffer().is_empty() {
                wake = wake.min(next_flush);
            }
            let timeout = if self.again.is_empty() {
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
            // One clock read per batch of events: enough for idle timeouts.
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {
                        let ready = std::mem::take(
                            &mut *self.ready.slots.lock().unwrap_or_else(|e| e.into_inner()),
                        );
                        for slot in ready {
                            self.pump(slot, false, now);
                        }
                    }
                    SIGNALS => self.on_signals(now),
                    Token(slot) => self.pump(slot, event.is_read_closed(), now),
                }
            }
            for slot in std::mem::take(&mut self.again) {
                self.pump(slot, false, now);
            }
            if self.stop.load(Ordering::SeqCst) && self.drain_deadline.is_none() {
                self.begin_drain(now);
            }
            if let Some(deadline) = self.drain_deadline {
                let now = Instant::now();
                if self.live == 0 || now >= deadline {
                    self.finish_drain();
                    return Ok(());
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                self.close_idle(now);
                if self.accept_paused_until.is_some_and(|until| now >= until) {
                    self.accept_paused_until = None;
                    self.accept();
                }
            }
        }
    }

    fn say(&mut self, line: fmt::Arguments<'_>) {
        if !self.service.logs_to_screen() {
            return;
        }
        let _ = writeln!(self.log, "{}: {line}", self.service.name());
    }

    /// The signals that arrived: the first stops the server, one more
    /// during the drain closes the connections left at once.
    fn on_signals(&mut self, now: Instant) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        let received: Vec<i32> = signals.pending().collect();
        for signal in received {
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
                let live = self.live;
                self.say(format_args!(
                    "{name} received again: closing the {live} connection{} left",
                    if live == 1 { "" } else { "s" }
                ));
                self.drain_deadline = Some(now);
            } else if self.stopped_by.is_none() {
                self.stopped_by = Some(name);
                if self.drain_deadline.is_some() {
                    self.say(format_args!("{name} received, stopping"));
                }
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Stops accepting (after taking in the connections the kernel already
    /// completed) and starts draining every connection.
    fn begin_drain(&mut self, now: Instant) {
        self.accept_paused_until = None;
        self.accept_at_most(LAST_ACCEPTS);
        if let Some(mut listener) = self.listener.take() {
            // Closing the socket refuses new connections from now on.
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.drain_deadline = Some(now + SHUTDOWN_DEADLINE);
        let live = self.live;
        if let Some(signal) = self.stopped_by {
            self.say(format_args!("{signal} received, stopping"));
        }
        self.say(format_args!(
            "stopping: {live} connection{} draining (deadline {} s)",
            if live == 1 { "" } else { "s" },
            SHUTDOWN_DEADLINE.as_secs()
        ));
        // Idle connections get no event: each is pumped once, which ends
        // it if its input is dry.
        for slot in 0..self.connections.len() {
            self.pump(slot, false, now);
        }
    }

    /// Closes what is left at the end of the drain, and says so.
    fn finish_drain(&mut self) {
        let mut left = 0;
        for slot in 0..self.connections.len() {
            let Some(Some(conn)) = self.connections.get(slot) else {
                continue;
            };
            // A lingering connection was drained: only its peer's close
            // was still awaited.
            if conn.lingering_until.is_some() {
                self.close(slot, End::Shutdown);
            } else {
                left += 1;
                self.close(slot, End::Deadline);
            }
        }
        if left == 0 {
            self.say(format_args!("stopped"));
        } else {
            self.say(format_args!(
                "stopped: {left} connection{} closed at the {} s deadline",
                if left == 1 { "" } else { "s" },
                SHUTDOWN_DEADLINE.as_secs()
            ));
        }
        let _ = self.log.flush();
    }

    fn accept(&mut self) {
        self.accept_at_most(usize::MAX);
    }

    /// Accepts until the listener would block, accepting is paused, or
    /// `most` connections came.
    fn accept_at_most(&mut self, most: usize) {
        let mut accepted = 0;
        while self.accept_paused_until.is_none() && accepted < most {
            let Some(listener) = &self.listener else {
                return;
            };
            accepted += 1;
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
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
                    self.accept_paused_until = Some(Instant::now() + TICK);
                    return;
                }
            };
            if self.live >= self.limits.max_connections {
                let max = self.limits.max_connections;
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
                continue;
            }
            let notify = Notify {
                slot,
                ready: Some(self.ready.clone()),
            };
            if let Some(entry) = self.connections.get_mut(slot) {
                *entry = Some(Connection {
                    stream,
                    peer,
                    session: self.service.session(peer, notify),
                    summary: S::Summary::default(),
                    stash: Stash::default(),
                    unsent: Vec::new(),
                    last_active: Instant::now(),
                    request_started: None,
                    read_closed: false,
                    eof: false,
                    input_cut: false,
                    lingering_until: None,
                });
                self.live += 1;
            }
        }
    }

    /// Moves bytes between connection `slot` and its session until the
    /// socket would block, then closes it if the session is finished.
    fn pump(&mut self, slot: usize, read_closed: bool, now: Instant) {
        let Some(Some(conn)) = self.connections.get_mut(slot) else {
            return;
        };
        conn.last_active = now;
        conn.read_closed |= read_closed;
        if conn.lingering_until.is_some() {
            match drop_input(conn, &mut self.read_buf) {
                Pumped::Idle => {}
                Pumped::Again => self.again.push(slot),
                Pumped::Close(end) => self.close(slot, end),
            }
            return;
        }
        let pumped = pump_connection(
            conn,
            &self.service,
            &mut self.read_buf,
            &mut self.write_buf,
            &mut self.log,
            self.drain_deadline.is_some(),
        );
        if self.service.receiving_request(&conn.session) {
            conn.request_started.get_or_insert(now);
        } else {
            conn.request_started = None;
        }
        match pumped {
            Pumped::Idle => {}
            Pumped::Again => self.again.push(slot),
            Pumped::Close(End::Finished) if !conn.eof => {
                // The server ends it, the peer has not: see `lingering_until`.
                match conn.stream.shutdown(Shutdown::Write) {
                    Ok(()) => {
                        conn.lingering_until = Some(now + LINGER);
                        // Bytes may be waiting already, and no new event
                        // would say so.
                        self.again.push(slot);
                    }
                    Err(error) => self.close(slot, End::Io(error)),
                }
            }
            Pumped::Close(end) => self.close(slot, end),
        }
    }

    fn close(&mut self, slot: usize, end: End) {
        let Some(entry) = self.connections.get_mut(slot) else {
            return;
        };
        // Closing the socket also takes it out of the poller.
        if let Some(conn) = entry.take() {
            let end = match end {
                // Ended by the server while it stops.
                End::Finished if self.drain_deadline.is_some() => End::Shutdown,
                end => end,
            };
            self.live -= 1;
            self.free.push(slot);
            if !self.service.logs_to_screen() {
                return;
            }
            let _ = writeln!(
                self.log,
                "{}: {}: {}; {end}",
                self.service.name(),
                conn.peer,
                conn.summary
            );
        }
    }

    fn close_idle(&mut self, now: Instant) {
        let idle = self.limits.idle_timeout;
        let slow = self.limits.request_timeout;
        let expired: Vec<(usize, End)> = self
            .connections
            .iter()
            .enumerate()
            .filter_map(|(slot, conn)| {
                let conn = conn.as_ref()?;
                if let Some(until) = conn.lingering_until {
                    return (now >= until).then_some((slot, End::Finished));
                }
                if let (Some(limit), Some(started)) = (slow, conn.request_started)
                    && now.duration_since(started) >= limit
                {
                    return Some((slot, End::SlowRequest(limit)));
                }
                (now.duration_since(conn.last_active) >= idle).then_some((slot, End::Idle(idle)))
            })
            .collect();
        for (slot, end) in expired {
            if let End::SlowRequest(after) = end
                && let Some(Some(conn)) = self.connections.get_mut(slot)
                && self.service.request_timed_out(&mut conn.session, after)
            {
                self.pump(slot, false, now);
            } else {
                self.close(slot, end);
            }
        }
    }
}

/// Moves bytes between one connection and its session until the socket
/// would block, the read budget runs out, or the connection must close.
/// While the server is `draining`, input that runs dry ends (see
/// [`cut_input`]).
fn pump_connection<S: Service>(
    conn: &mut Connection<S>,
    service: &S,
    read_buf: &mut [u8],
    out: &mut [u8],
    log: &mut dyn Write,
    draining: bool,
) -> Pumped {
    let mut read_total = 0;
    // A read that did not fill the buffer emptied the socket: with
    // edge-triggered readiness, data that arrives later wakes us again, so
    // the read that would only say "would block" is skipped. Not once the
    // peer's FIN is known to be queued: it may have come with the data, and
    // then no later event would tell us.
    let mut drained = false;
    loop {
        // 1. Send what the socket did not take last time.
        if !conn.unsent.is_empty() {
            match conn.stream.write(&conn.unsent) {
                Ok(n) => {
                    conn.unsent.drain(..n);
                    continue;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Pumped::Idle,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return peer_gone(conn, service, error, log),
            }
        }
        // 2. Send the session's output, gathered into one write: when the
        //    session runs dry it is offered the input it did not take
        //    before, so a session with a small buffer still makes large
        //    writes (one system call per WRITE_BUF, not per session buffer).
        let mut filled = 0;
        loop {
            let n = conn
                .session
                .poll_transmit(out.get_mut(filled..).unwrap_or_default());
            filled += n;
            if filled == out.len() || (n == 0 && conn.stash.is_empty()) {
                break;
            }
            if n == 0 {
                let used = conn.session.handle_input(conn.stash.pending());
                conn.stash.consume(used);
                drain_events(conn, service, log);
                if used == 0 {
                    break;
                }
            }
        }
        // Output can come with events too (the web site logs a request
        // when its response is handed over).
        drain_events(conn, service, log);
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
                Err(error) => return peer_gone(conn, service, error, log),
            }
            continue;
        }
        if conn.session.is_finished() {
            return Pumped::Close(if conn.eof {
                End::PeerClosed
            } else {
                End::Finished
            });
        }
        // 3. Input the session would not take: it waits for the peer to
        //    read what was sent (the socket is full), so wait for that.
        if !conn.stash.is_empty() {
            return Pumped::Idle;
        }
        if conn.eof || conn.input_cut {
            return Pumped::Idle;
        }
        if drained {
            if draining {
                match cut_input(conn, service, log) {
                    Cut::NotYet => {}
                    Cut::Answering => continue,
                    Cut::Done => return Pumped::Close(End::Finished),
                }
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
                conn.session.handle_eof();
                drain_events(conn, service, log);
            }
            Ok(n) => {
                read_total += n;
                drained = n < read_buf.len() && !conn.read_closed;
                let input = read_buf.get(..n).unwrap_or_default();
                let used = conn.session.handle_input(input);
                conn.stash.keep(input.get(used..).unwrap_or_default());
                drain_events(conn, service, log);
            }
            // Nothing to read now: the input ran dry, handled above.
            Err(error) if error.kind() == ErrorKind::WouldBlock => drained = true,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return peer_gone(conn, service, error, log),
        }
    }
}

/// What a draining connection whose input ran dry does.
enum Cut {
    /// A request is half received: wait for the rest.
    NotYet,
    /// A request is being answered elsewhere: its session was told the
    /// input ended; wait for the answer.
    Answering,
    /// Everything it sent is answered: end it.
    Done,
}

/// The server is stopping, and the connection has nothing more to read
/// now and nothing to send: see [`Cut`]. Once cut, the socket is read no
/// more.
fn cut_input<S: Service>(conn: &mut Connection<S>, service: &S, log: &mut dyn Write) -> Cut {
    if service.receiving_request(&conn.session) {
        return Cut::NotYet;
    }
    conn.input_cut = true;
    if service.answering(&conn.session) {
        conn.session.handle_eof();
        drain_events(conn, service, log);
        return Cut::Answering;
    }
    Cut::Done
}

/// Reads and drops what the peer of a lingering connection sends: `Close`
/// once it has closed its side (or the socket failed).
fn drop_input<S: Service>(conn: &mut Connection<S>, read_buf: &mut [u8]) -> Pumped {
    let mut read_total = 0;
    loop {
        match conn.stream.read(read_buf) {
            Ok(0) => return Pumped::Close(End::Finished),
            Ok(n) => {
                read_total += n;
                if read_total >= READ_BUDGET {
                    return Pumped::Again;
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Pumped::Idle,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Pumped::Close(End::Finished),
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
    log: &mut dyn Write,
) -> Pumped {
    if !conn.eof {
        conn.session.handle_eof();
        drain_events(conn, service, log);
    }
    Pumped::Close(End::Io(error))
}

fn drain_events<S: Service>(conn: &mut Connection<S>, service: &S, log: &mut dyn Write) {
    while let Some(event) = conn.session.poll_event() {
        service.record(&mut conn.summary, conn.peer, event, log);
    }
}
