//! The web site's front end: HTTP/1.1 connections ([`super::http`]) on the
//! shared event loops ([`crate::net`], one per core), the application's
//! handlers on a pool of worker threads sized with the loops
//! ([`HttpLimits::handler_threads`]).
//!
//! # Why not rouille's own server
//!
//! rouille serves with tiny_http, which has no read or idle timeouts, no
//! header or body limit, a thread per connection with no cap, and a
//! thread-pool race that can keep new keep-alive connections waiting for
//! seconds. rouille stays the application framework (its `Request`,
//! `Response`, router and helpers); what faces the network is ours, and is
//! the same event loop as the adder's and echo's servers, so the limits,
//! timeouts, logging and signals are written once:
//!
//! - a few event loops read and write every connection (thousands of
//!   idle or slow ones cost memory, not threads), with the connection cap,
//!   the idle timeout and the request timeout of [`crate::net::Limits`];
//! - when a connection has a complete request, it goes to the first free
//!   worker, which runs the handler
//!   (handlers block: SQLite, files) and hands the response back through
//!   a [`Notify`]; the connection reads nothing more until it is answered;
//! - response bodies are read by the workers too, never by the loop thread
//!   (a static file is a reader over a `File`, which may be a slow disk or
//!   a FIFO): a body of known length up to [`BODY_PIECE`] is read whole
//!   with the handler's answer, so most responses cost one trip to a
//!   worker; a longer one, or one of unknown length, goes in pieces of
//!   [`BODY_PIECE`], each a short job sent when the connection has handed
//!   the last one to the socket. A worker never waits on a slow client,
//!   and a connection holds at most one piece;
//! - a handler that panics answers 500 and its worker lives on.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use reseau_core::session::StreamSession;

use super::config::HttpLimits;
use super::http::{self, Body, Connection, Version};
use super::log::SiteLog;
use super::metrics::{self, WebCounts};
use crate::metrics::Registry;
use crate::net::{Limits, Notify, Server, Service, Stopper};
use crate::tls::server::ServerTls;

/// How long a stopped server waits for its workers once its event loop
/// has returned. A worker is only still busy if the loop ended at the
/// shutdown deadline with its request unanswered.
pub const WORKER_GRACE: Duration = Duration::from_secs(1);

/// What answers requests: rouille's handler shape.
pub type Handler = Arc<dyn Fn(&rouille::Request) -> rouille::Response + Send + Sync>;

/// A bound web server, ready to [`run`](WebServer::run).
pub struct WebServer {
    server: Server<WebService>,
    workers: Vec<JoinHandle<()>>,
    log: Arc<SiteLog>,
    registry: Arc<Registry>,
}

impl WebServer {
    /// Binds `addr` and starts the worker threads; with `tls`, serves
    /// HTTPS (the handlers' requests say so: rouille's `is_secure`).
    /// Access lines go to `log`; the connections and requests are counted
    /// in `registry`.
    pub fn bind(
        addr: &str,
        handler: Handler,
        limits: HttpLimits,
        log: Arc<SiteLog>,
        registry: Arc<Registry>,
        tls: Option<ServerTls>,
    ) -> io::Result<WebServer> {
        // Unbounded in type, bounded in fact: a connection has at most
        // one request at a worker, and connections are capped.
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let counts = Arc::new(WebCounts::default());
        let service = WebService {
            jobs,
            limits,
            log: log.clone(),
            counts: counts.clone(),
        };
        let secure = tls.is_some();
        let server = Server::bind(
            addr,
            service,
            Limits {
                max_connections: limits.max_connections,
                idle_timeout: limits.idle_timeout,
                request_timeout: Some(limits.request_timeout),
                threads: limits.threads,
            },
        )?
        .with_log(log.stderr());
        let server = match tls {
            Some(tls) => server.with_tls(tls),
            None => server,
        };
        registry.add_server("web", server.stats());
        registry.add(counts);
        let count = limits.handler_threads(server.loops());
        let mut workers = Vec::with_capacity(count);
        for n in 0..count {
            let queue = queue.clone();
            let handler = handler.clone();
            let worker = thread::Builder::new()
                .name(format!("web-worker-{n}"))
                .spawn(move || work(&queue, &handler, secure))?;
            workers.push(worker);
        }
        Ok(WebServer {
            server,
            workers,
            log,
            registry,
        })
    }

    /// What its `/metrics` shows: other servers of the process add theirs
    /// (`reseau serve`).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that stops the server from another thread.
    pub fn stopper(&self) -> Stopper {
        self.server.stopper()
    }

    /// Writes `web: listening on ADDR` to the error log (CherryPy's
    /// "Serving on" line goes there too): the line scripts wait for.
    pub fn announce(&self) {
        self.log
            .error(format_args!("listening on {}", self.local_addr()));
    }

    /// Makes SIGINT and SIGTERM stop the server.
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        self.server.stop_on_signals()
    }

    /// Serves until stopped, then drains (see [`crate::net`]'s
    /// "Stopping"): a request at a worker is answered before its
    /// connection closes. Returns once every worker has ended, or
    /// [`WORKER_GRACE`] after the loop if a handler is still running past
    /// the shutdown deadline (it is abandoned: SQLite's transactions make
    /// an unfinished write leave no trace).
    pub fn run(self) -> io::Result<()> {
        let result = self.server.run();
        // The loop is gone with every session, and so is every sender of
        // jobs: each worker finishes its request and ends.
        let until = Instant::now() + WORKER_GRACE;
        let mut busy = self.workers;
        while !busy.is_empty() && Instant::now() < until {
            busy.retain(|worker| !worker.is_finished());
            if !busy.is_empty() {
                thread::sleep(Duration::from_millis(5));
            }
        }
        if !busy.is_empty() {
            self.log.error(format_args!(
                "{} worker{} still running a handler; not waited for",
                busy.len(),
                if busy.len() == 1 { " is" } else { "s are" }
            ));
        }
        result
    }
}

/// The most of a response body a worker reads at once: a body up to this
/// long (with a known length) goes whole with its head; a longer one, or
/// one of unknown length, goes in pieces of this size, each read when the
/// connection has sent the one before.
pub const BODY_PIECE: usize = 64 * 1024;

/// A response body still to read (a static file, a gzip stream).
type BodyReader = Box<dyn Read + Send>;

/// Where a worker leaves what it made, for the session to collect.
type Slot = Arc<Mutex<Option<Made>>>;

/// Work for a worker: a handler to run, or a piece of a body to read.
/// Neither waits on a client: the loop thread sends the bytes.
enum Job {
    /// Run the handler for a request.
    Request {
        request: http::Request,
        peer: SocketAddr,
        slot: Slot,
        notify: Notify,
    },
    /// Read the next piece of a body, at most `want` bytes.
    Read {
        reader: BodyReader,
        want: u64,
        slot: Slot,
        notify: Notify,
    },
}

/// What a worker made.
enum Made {
    /// A request's response; for a [`Body::Stream`], its first piece;
    /// and how long the worker took to make them (the access log's time:
    /// the worker reads the clock, the connection never does).
    Answer(http::Response, Option<Piece>, Duration),
    /// The next piece of a body.
    Piece(Piece),
}

/// A piece of a response body, read off the loop thread.
enum Piece {
    /// These bytes, and the reader of the rest.
    More(Vec<u8>, BodyReader),
    /// The last bytes of the body.
    Last(Vec<u8>),
    /// These bytes, then the body could not be read further.
    Failed(Vec<u8>),
}

/// A worker: runs the handler, or reads a body, for each job until the
/// queue closes.
fn work(queue: &Receiver<Job>, handler: &Handler, secure: bool) {
    let mut date = DateCache::default();
    // Ends when the queue is closed: every sender is gone.
    while let Ok(job) = queue.recv() {
        let (made, slot, notify) = match job {
            Job::Request {
                request,
                peer,
                slot,
                notify,
            } => {
                let started = Instant::now();
                let (response, piece) = answer(request, peer, handler, date.now(), secure);
                (
                    Made::Answer(response, piece, started.elapsed()),
                    slot,
                    notify,
                )
            }
            Job::Read {
                reader,
                want,
                slot,
                notify,
            } => (Made::Piece(read_piece(reader, want)), slot, notify),
        };
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(made);
        notify.wake();
    }
}

/// Reads up to `want` bytes (and at most [`BODY_PIECE`]) of a body. A
/// reader that fails or panics ends the body there.
fn read_piece(mut reader: BodyReader, want: u64) -> Piece {
    let want = want.min(BODY_PIECE as u64);
    // A sized body's piece is reserved at once; one of unknown length
    // (`want` is then the whole piece) grows with what arrives, so a
    // short one costs its size, not a piece.
    let mut buf = Vec::with_capacity(if want < BODY_PIECE as u64 {
        want as usize
    } else {
        0
    });
    let read = panic::catch_unwind(AssertUnwindSafe(|| {
        reader.by_ref().take(want).read_to_end(&mut buf)
    }));
    match read {
        Ok(Ok(n)) if (n as u64) < want => Piece::Last(buf),
        Ok(Ok(_)) => Piece::More(buf, reader),
        Ok(Err(_)) | Err(_) => Piece::Failed(buf),
    }
}

/// Runs the handler on one request and turns its answer into an HTTP
/// response: a body of known length up to [`BODY_PIECE`] is read whole
/// (one trip to a worker for most responses), a longer one or one of
/// unknown length is a [`Body::Stream`] with its first piece. A HEAD's
/// body is not read: its answer has none.
fn answer(
    request: http::Request,
    peer: SocketAddr,
    handler: &Handler,
    date: &str,
    secure: bool,
) -> (http::Response, Option<Piece>) {
    // HEAD is GET without the body, which the connection leaves out.
    let head_only = request.method == "HEAD";
    let method = if head_only {
        "GET".to_string()
    } else {
        request.method
    };
    let request = if secure {
        rouille::Request::fake_https_from(
            peer,
            method,
            request.target,
            request.headers,
            request.body,
        )
    } else {
        rouille::Request::fake_http_from(
            peer,
            method,
            request.target,
            request.headers,
            request.body,
        )
    };
    let answered = panic::catch_unwind(AssertUnwindSafe(|| handler(&request)));
    let (mut response, piece) = match answered {
        Ok(response) => {
            let (reader, length) = response.data.into_reader_and_size();
            let length = length.map(|n| n as u64);
            let mut made = http::Response {
                status: response.status_code,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect(),
                body: Body::Stream { length },
            };
            let piece = if head_only {
                None
            } else {
                match (length, read_piece(reader, length.unwrap_or(u64::MAX))) {
                    (Some(length), Piece::More(bytes, _) | Piece::Last(bytes))
                        if bytes.len() as u64 == length =>
                    {
                        made.body = Body::Full(bytes);
                        None
                    }
                    (_, piece) => Some(piece),
                }
            };
            (made, piece)
        }
        Err(_) => (
            http::Response::error(500, "the server failed to answer this request"),
            None,
        ),
    };
    response.headers.push(("Date".into(), date.to_string()));
    (response, piece)
}

/// The `Date` header's value, formatted once a second.
#[derive(Default)]
struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

/// The web site as a [`Service`] of the event loop.
struct WebService {
    jobs: Sender<Job>,
    limits: HttpLimits,
    log: Arc<SiteLog>,
    counts: Arc<WebCounts>,
}

impl Service for WebService {
    type Session = WebSession;
    type Summary = Summary;

    fn name(&self) -> &'static str {
        "web"
    }

    fn session(&self, peer: SocketAddr, notify: Notify) -> WebSession {
        WebSession {
            conn: Connection::new(self.limits),
            jobs: self.jobs.clone(),
            notify,
            peer,
            handling: None,
            events: VecDeque::new(),
        }
    }

    fn record(&self, summary: &mut Summary, access: Access) {
        summary.requests += 1;
        self.counts
            .count(access.route, access.method, access.status, access.took);
        self.log.access(format_args!("{access}"));
    }
}

/// What a connection's log line says at its end.
#[derive(Debug, Default)]
pub struct Summary {
    requests: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.requests {
            1 => f.write_str("1 request"),
            n => write!(f, "{n} requests"),
        }
    }
}

/// One line of the access log: a request and how it was answered.
#[derive(Debug)]
pub struct Access {
    peer: SocketAddr,
    /// `"GET /path HTTP/1.1"`, or why the request was refused.
    request: String,
    status: u16,
    /// How long the handler took to answer (its worker measures it).
    took: Option<Duration>,
    /// The `/metrics` labels ([`metrics::route_label`], [`metrics::method_label`]).
    route: &'static str,
    method: &'static str,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.peer, self.request, self.status)?;
        if let Some(took) = self.took {
            write!(f, " {:.3} ms", took.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

/// What a connection has at the workers, or waits to send them: while
/// there is one, the response is not complete (a stopping server waits
/// for it, see [`StreamSession::is_answering`]).
enum Handling {
    /// The request is at a worker.
    Request {
        slot: Slot,
        /// The access log's request line.
        request: String,
        /// The route it matched, and its method's label.
        route: Option<&'static str>,
        method: &'static str,
    },
    /// The next piece of the body is being read by a worker.
    Reading { slot: Slot },
    /// The connection is sending the last piece; the reader waits until
    /// it wants the next.
    Paused { reader: BodyReader },
}

/// One HTTP connection: its [`Connection`] and what it has at a worker,
/// if anything.
pub struct WebSession {
    conn: Connection,
    jobs: Sender<Job>,
    notify: Notify,
    peer: SocketAddr,
    handling: Option<Handling>,
    /// Access-log lines not yet taken (one or two at a time).
    events: VecDeque<Access>,
}

impl WebSession {
    /// Hands a complete request to the workers, and notes refusals.
    fn dispatch(&mut self) {
        if let Some(refusal) = self.conn.poll_rejection() {
            self.events.push_back(Access {
                peer: self.peer,
                request: format!("({})", refusal.reason),
                status: refusal.status.code(),
                took: None,
                route: "other",
                method: "other",
            });
        }
        let Some(request) = self.conn.poll_request() else {
            return;
        };
        let line = request_line(&request.method, &request.target, request.version);
        let (route, method) = (
            metrics::route_of(&request.target),
            metrics::method_label(&request.method),
        );
        let slot = Slot::default();
        let job = Job::Request {
            request,
            peer: self.peer,
            slot: slot.clone(),
            notify: self.notify.clone(),
        };
        if self.jobs.send(job).is_err() {
            // Only if every worker is gone, which does not happen while
            // this session holds a sender (the workers end when the last
            // sender does, and catch panics): answered, never unwrapped.
            self.conn
                .respond(http::Response::error(503, "no worker is left to answer"));
            return;
        }
        self.handling = Some(Handling::Request {
            slot,
            request: line,
            route,
            method,
        });
    }

    /// Gives the connection what a worker made, once it is there.
    fn collect(&mut self) {
        let slot = match &self.handling {
            Some(Handling::Request { slot, .. } | Handling::Reading { slot }) => slot,
            Some(Handling::Paused { .. }) | None => return,
        };
        let Some(made) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let handling = self.handling.take();
        match made {
            Made::Answer(response, piece, took) => {
                if let Some(Handling::Request {
                    request,
                    route,
                    method,
                    ..
                }) = handling
                {
                    self.events.push_back(Access {
                        peer: self.peer,
                        request,
                        status: response.status,
                        took: Some(took),
                        route: metrics::route_label(route, response.status),
                        method,
                    });
                }
                self.conn.respond(response);
                if let Some(piece) = piece {
                    self.give(piece);
                }
            }
            Made::Piece(piece) => self.give(piece),
        }
    }

    /// Gives the connection a piece of the body; keeps the reader if the
    /// connection will want more.
    fn give(&mut self, piece: Piece) {
        match piece {
            Piece::More(bytes, reader) => {
                self.conn.send_data(&bytes);
                // A HEAD's answer, or a sized body now complete, wants
                // no more.
                if self.conn.is_streaming() {
                    self.handling = Some(Handling::Paused { reader });
                }
            }
            Piece::Last(bytes) => {
                self.conn.send_data(&bytes);
                self.conn.finish();
            }
            Piece::Failed(bytes) => {
                self.conn.send_data(&bytes);
                self.conn.abort();
            }
        }
    }

    /// Sends the reader to a worker for the next piece, once the
    /// connection has sent the last one.
    fn read_more(&mut self) {
        if !matches!(self.handling, Some(Handling::Paused { .. })) {
            return;
        }
        if !self.conn.is_streaming() {
            self.handling = None;
            return;
        }
        let Some(want) = self.conn.wants_data() else {
            return;
        };
        let Some(Handling::Paused { reader }) = self.handling.take() else {
            return;
        };
        let slot = Slot::default();
        let job = Job::Read {
            reader,
            want,
            slot: slot.clone(),
            notify: self.notify.clone(),
        };
        if self.jobs.send(job).is_err() {
            self.conn.abort();
            return;
        }
        self.handling = Some(Handling::Reading { slot });
    }
}

/// `"GET /path HTTP/1.1"`, with anything unprintable escaped.
fn request_line(method: &str, target: &str, version: Version) -> String {
    format!(
        "\"{} {} {version}\"",
        method.escape_debug(),
        target.escape_debug()
    )
}

impl StreamSession for WebSession {
    type Event = Access;

    fn handle_input(&mut self, input: &[u8]) -> usize {
        let used = self.conn.handle_input(input);
        self.dispatch();
        used
    }

    fn handle_eof(&mut self) {
        self.conn.handle_eof();
    }

    fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        self.collect();
        let n = self.conn.poll_transmit(out);
        if n < out.len() {
            // Everything given was taken: time for the next piece.
            self.read_more();
        }
        n
    }

    fn poll_event(&mut self) -> Option<Access> {
        self.events.pop_front()
    }

    fn is_finished(&self) -> bool {
        self.conn.is_finished()
    }

    fn is_receiving(&self) -> bool {
        self.conn.is_receiving()
    }

    fn is_answering(&self) -> bool {
        self.handling.is_some()
    }

    /// Answers 408 and closes; the 408 goes to the access log like any
    /// refusal.
    fn handle_request_timeout(&mut self, after: Duration) {
        self.conn.time_out(after);
        self.dispatch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::config::LogSettings;
    use std::io::{Cursor, Write};
    use std::net::TcpStream;
    use std::sync::Condvar;

    /// The longest any wait of these tests may take.
    const WAIT: Duration = Duration::from_secs(10);

    /// A body source that blocks until its gate opens (a FIFO whose writer
    /// is late, a slow disk) and notes the thread of every read.
    struct Gated {
        gate: Arc<(Mutex<bool>, Condvar)>,
        data: Cursor<Vec<u8>>,
        readers: Arc<Mutex<Vec<String>>>,
    }

    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let name = thread::current().name().unwrap_or("unnamed").to_string();
            self.readers.lock().unwrap().push(name);
            let (open, opened) = &*self.gate;
            let guard = open.lock().unwrap();
            let (guard, _) = opened
                .wait_timeout_while(guard, WAIT, |open| !*open)
                .unwrap();
            drop(guard);
            self.data.read(buf)
        }
    }

    /// The bytes of a body of `n` bytes: every position is told apart.
    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    struct Site {
        addr: SocketAddr,
        stopper: Stopper,
        thread: Option<JoinHandle<io::Result<()>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
        readers: Arc<Mutex<Vec<String>>>,
    }

    impl Site {
        /// `/` says hello; `/gated` is 1 MiB with a length, from a gated
        /// source; `/big` 8 MiB with a length and `/unsized` 300 KiB
        /// without, from memory readers.
        fn start() -> Site {
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let readers = Arc::new(Mutex::new(Vec::new()));
            let (g, r) = (gate.clone(), readers.clone());
            let handler: Handler = Arc::new(move |request: &rouille::Request| {
                let reader = |data: Vec<u8>| Gated {
                    gate: g.clone(),
                    data: Cursor::new(data),
                    readers: r.clone(),
                };
                let body = match request.url().as_str() {
                    "/gated" => rouille::ResponseBody::from_reader_and_size(
                        reader(pattern(1 << 20)),
                        1 << 20,
                    ),
                    "/big" => rouille::ResponseBody::from_reader_and_size(
                        Cursor::new(pattern(8 << 20)),
                        8 << 20,
                    ),
                    "/unsized" => rouille::ResponseBody::from_reader(reader(pattern(300 << 10))),
                    _ => return rouille::Response::text("hello"),
                };
                rouille::Response {
                    status_code: 200,
                    headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                    data: body,
                    upgrade: None,
                }
            });
            let log = SiteLog::open(&LogSettings {
                access_file: None,
                error_file: None,
                screen: false,
            })
            .unwrap();
            let limits = HttpLimits {
                workers: 2,
                ..HttpLimits::default()
            };
            let server = WebServer::bind(
                "127.0.0.1:0",
                handler,
                limits,
                Arc::new(log),
                Arc::default(),
                None,
            )
            .unwrap();
            let addr = server.local_addr();
            let stopper = server.stopper();
            let thread = Some(thread::spawn(move || server.run()));
            Site {
                addr,
                stopper,
                thread,
                gate,
                readers,
            }
        }

        fn open_gate(&self) {
            let (open, opened) = &*self.gate;
            *open.lock().unwrap() = true;
            opened.notify_all();
        }
    }

    impl Drop for Site {
        fn drop(&mut self) {
            self.open_gate();
            self.stopper.stop();
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn send(addr: SocketAddr, request: &str) -> TcpStream {
        let mut stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream
    }

    /// Everything the server sends until it closes: head and body.
    fn read_all(stream: &mut TcpStream) -> (String, Vec<u8>) {
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = all.split_off(end);
        (String::from_utf8(all).unwrap(), body)
    }

    /// A chunked body, decoded; panics on bad framing.
    fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = bytes.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&bytes[..line]).unwrap(), 16).unwrap();
            bytes = &bytes[line + 2..];
            if size == 0 {
                assert_eq!(bytes, b"\r\n", "the last chunk ends the body");
                return body;
            }
            body.extend_from_slice(&bytes[..size]);
            assert_eq!(&bytes[size..size + 2], b"\r\n");
            bytes = &bytes[size + 2..];
        }
    }

    fn hello_within(addr: SocketAddr, within: Duration) {
        let start = Instant::now();
        let mut hello = send(
            addr,
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        let (head, body) = read_all(&mut hello);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, b"hello");
        assert!(start.elapsed() < within, "/ took {:?}", start.elapsed());
    }

    #[test]
    fn a_body_is_read_by_the_workers_never_on_the_loop_thread() {
        let site = Site::start();
        // A body whose source blocks: the loop must go on serving others.
        let mut gated = send(
            site.addr,
            "GET /gated HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        let waited = Instant::now();
        while site.readers.lock().unwrap().is_empty() {
            assert!(waited.elapsed() < WAIT, "the gated body was never read");
            thread::sleep(Duration::from_millis(5));
        }
        hello_within(site.addr, Duration::from_secs(2));
        site.open_gate();
        let (head, body) = read_all(&mut gated);
        assert!(head.contains("\r\nContent-Length: 1048576\r\n"), "{head}");
        assert!(body == pattern(1 << 20), "exactly the body's bytes");
        // Unknown length, kept alive: chunked, the same bytes.
        let mut unsized_ = send(site.addr, "GET /unsized HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut all = Vec::new();
        let mut piece = [0u8; 64 * 1024];
        while !all.ends_with(b"\r\n0\r\n\r\n") {
            let n = unsized_.read(&mut piece).unwrap();
            assert!(n > 0, "closed before the last chunk");
            all.extend_from_slice(&piece[..n]);
        }
        let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = all.split_off(end);
        let head = String::from_utf8(all).unwrap();
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
        assert!(
            dechunk(&body) == pattern(300 << 10),
            "exactly the body's bytes"
        );
        // HTTP/1.0: until the connection closes.
        let mut old = send(site.addr, "GET /unsized HTTP/1.0\r\n\r\n");
        let (head, body) = read_all(&mut old);
        assert!(!head.contains("Transfer-Encoding"), "{head}");
        assert!(body == pattern(300 << 10), "exactly the body's bytes");
        // HEAD: the length, no body, and nothing read.
        let before = site.readers.lock().unwrap().len();
        let mut head_only = send(
            site.addr,
            "HEAD /gated HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        let (head, body) = read_all(&mut head_only);
        assert!(head.contains("\r\nContent-Length: 1048576\r\n"), "{head}");
        assert!(body.is_empty());
        let readers = site.readers.lock().unwrap().clone();
        assert_eq!(readers.len(), before, "a HEAD's body is not read");
        let off_loop = readers.iter().all(|name| name.starts_with("web-worker-"));
        assert!(off_loop, "bodies read on {readers:?}");
    }

    #[test]
    fn a_client_that_does_not_read_holds_no_worker_and_blocks_nobody() {
        let site = Site::start();
        // Two clients that never read an 8 MiB body: with 2 workers, a
        // worker that waited on them would leave none for `/`.
        let stalled: Vec<TcpStream> = (0..2)
            .map(|_| send(site.addr, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n"))
            .collect();
        thread::sleep(Duration::from_millis(200));
        hello_within(site.addr, Duration::from_secs(2));
        // And a client that reads gets every byte of it.
        let mut reader = send(
            site.addr,
            "GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        let (head, body) = read_all(&mut reader);
        assert!(head.contains("\r\nContent-Length: 8388608\r\n"), "{head}");
        assert!(body == pattern(8 << 20), "exactly the body's bytes");
        drop(stalled);
    }
}
