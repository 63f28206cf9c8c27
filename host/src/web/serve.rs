//! The web site's front end: HTTP/1.1 connections ([`super::http`]) on the
//! shared event loop ([`crate::net`]), the application's handlers on a
//! fixed pool of worker threads.
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
//! - one thread reads and writes every connection (thousands of idle or
//!   slow ones cost memory, not threads), with the connection cap, the
//!   idle timeout and the request timeout of [`crate::net::Limits`];
//! - when a connection has a complete request, it goes to the first free
//!   worker of [`HttpLimits::workers`] threads, which runs the handler
//!   (handlers block: SQLite, files) and hands the response back through
//!   a [`Notify`]; the connection reads nothing more until it is answered;
//! - a handler that panics answers 500 and its worker lives on.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use reseau_core::session::StreamSession;

use super::config::HttpLimits;
use super::http::{self, Connection, Version};
use super::log::SiteLog;
use crate::net::{Limits, Notify, Server, Service, Stopper};

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
}

impl WebServer {
    /// Binds `addr` and starts the worker threads.
    /// Access lines go to `log`.
    pub fn bind(
        addr: &str,
        handler: Handler,
        limits: HttpLimits,
        log: Arc<SiteLog>,
    ) -> io::Result<WebServer> {
        // Unbounded in type, bounded in fact: a connection has at most
        // one request at a worker, and connections are capped.
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let service = WebService {
            jobs,
            limits,
            log: log.clone(),
        };
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
        let count = limits.handler_threads(server.loops());
        let mut workers = Vec::with_capacity(count);
        for n in 0..count {
            let queue = queue.clone();
            let handler = handler.clone();
            let worker = thread::Builder::new()
                .name(format!("web-worker-{n}"))
                .spawn(move || work(&queue, &handler))?;
            workers.push(worker);
        }
        Ok(WebServer {
            server,
            workers,
            log,
        })
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

/// One request for a worker.
struct Job {
    request: http::Request,
    peer: SocketAddr,
    reply: Arc<Mutex<Option<http::Response>>>,
    notify: Notify,
}

/// A worker: runs the handler for each job until the queue closes.
fn work(queue: &Receiver<Job>, handler: &Handler) {
    let mut date = DateCache::default();
    // Ends when the queue is closed: every sender is gone.
    while let Ok(job) = queue.recv() {
        let response = answer(job.request, job.peer, handler, date.now());
        *job.reply.lock().unwrap_or_else(|e| e.into_inner()) = Some(response);
        job.notify.wake();
    }
}

/// Runs the handler on one request and turns its answer into an HTTP
/// response.
fn answer(
    request: http::Request,
    peer: SocketAddr,
    handler: &Handler,
    date: &str,
) -> http::Response {
    // HEAD is GET without the body, which the connection leaves out.
    let method = if request.method == "HEAD" {
        "GET".to_string()
    } else {
        request.method
    };
    let request = rouille::Request::fake_http_from(
        peer,
        method,
        request.target,
        request.headers,
        request.body,
    );
    let answered = panic::catch_unwind(AssertUnwindSafe(|| handler(&request)));
    let mut response = match answered {
        Ok(response) => {
            let (body, length) = response.data.into_reader_and_size();
            http::Response {
                status: response.status_code,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect(),
                body,
                length: length.map(|n| n as u64),
            }
        }
        Err(_) => http::Response::error(500, "the server failed to answer this request"),
    };
    response.headers.push(("Date".into(), date.to_string()));
    response
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
    /// From the whole request to its response, for answered requests.
    took: Option<Duration>,
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

/// A request being handled by a worker.
struct Handling {
    reply: Arc<Mutex<Option<http::Response>>>,
    request: String,
    since: Instant,
}

/// One HTTP connection: its [`Connection`] and the request it has at a
/// worker, if any.
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
        if let Some(rejection) = self.conn.poll_rejection() {
            self.events.push_back(Access {
                peer: self.peer,
                request: format!("({})", rejection.reason),
                status: rejection.status,
                took: None,
            });
        }
        let Some(request) = self.conn.poll_request() else {
            return;
        };
        let line = request_line(&request.method, &request.target, request.version);
        let reply = Arc::new(Mutex::new(None));
        let job = Job {
            request,
            peer: self.peer,
            reply: reply.clone(),
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
        self.handling = Some(Handling {
            reply,
            request: line,
            since: Instant::now(),
        });
    }

    /// Gives the connection the worker's response, once it is there.
    fn collect(&mut self) {
        let Some(handling) = &self.handling else {
            return;
        };
        let Some(response) = handling
            .reply
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        if let Some(handling) = self.handling.take() {
            self.events.push_back(Access {
                peer: self.peer,
                request: handling.request,
                status: response.status,
                took: Some(handling.since.elapsed()),
            });
        }
        self.conn.respond(response);
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
        self.conn.poll_transmit(out)
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
