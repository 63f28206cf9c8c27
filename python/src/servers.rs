//! The course's servers, run by `reseau_host`: `AdderServer`, `EchoServer`,
//! `WebServer`.
//!
//! Each binds at construction, then runs on a Rust thread: `run()` waits for
//! it in the foreground (Ctrl-C stops it), `start()` / `stop()` leave it in
//! the background (a notebook keeps computing), and `with` does both. The
//! GIL is never held while a server runs or while a thread is joined.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use reseau_core::adder::AdderConfig;
use reseau_host::adder::AdderService;
use reseau_host::echo::EchoService;
use reseau_host::net::{Limits, MAX_THREADS, Server, Stopper};
use reseau_host::tls::server::{ServerTls, TlsError, TlsFiles};
use reseau_host::trace::{Trace, Traced, Watched};
use reseau_host::web::StartError;
use reseau_host::web::config::{ConfigError, Settings};

use crate::net::{address, join_host_port, repr_str};

/// How long `run()` waits between two looks at Ctrl-C.
const SLICE: Duration = Duration::from_millis(50);

type Runner = Box<dyn FnOnce() -> io::Result<()> + Send>;

enum Phase {
    /// Bound, not started: the server, ready to run.
    Bound(Runner),
    /// Running on its thread.
    Running(JoinHandle<io::Result<()>>),
    /// Stopped (or never started and stopped): a server runs once.
    Finished,
}

/// A bound server, and the thread that runs it.
pub struct Served {
    kind: &'static str,
    local: SocketAddr,
    stopper: Stopper,
    phase: Mutex<Phase>,
    /// The events of a server made with trace=True.
    trace: Option<Trace>,
}

fn join(py: Python<'_>, handle: JoinHandle<io::Result<()>>) -> PyResult<()> {
    match py.detach(|| handle.join()) {
        Ok(result) => Ok(result?),
        Err(_) => Err(PyRuntimeError::new_err("the server's thread panicked")),
    }
}

impl Served {
    fn new(
        kind: &'static str,
        local: SocketAddr,
        stopper: Stopper,
        run: Runner,
        trace: Option<Trace>,
    ) -> Self {
        Served {
            trace,
            kind,
            local,
            stopper,
            phase: Mutex::new(Phase::Bound(run)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self) -> PyResult<()> {
        let mut phase = self.lock();
        match std::mem::replace(&mut *phase, Phase::Finished) {
            Phase::Bound(run) => {
                let handle = thread::Builder::new()
                    .name(format!("reseau-{}", self.kind))
                    .spawn(run)?;
                *phase = Phase::Running(handle);
                Ok(())
            }
            running @ Phase::Running(_) => {
                *phase = running;
                Ok(())
            }
            Phase::Finished => Err(PyRuntimeError::new_err(format!(
                "this {} server was stopped; a server runs once: create a new one",
                self.kind
            ))),
        }
    }

    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let previous = std::mem::replace(&mut *self.lock(), Phase::Finished);
        match previous {
            Phase::Running(handle) => {
                self.stopper.stop();
                join(py, handle)
            }
            // Dropping the server closes its socket.
            Phase::Bound(_) | Phase::Finished => Ok(()),
        }
    }

    fn run(&self, py: Python<'_>) -> PyResult<()> {
        self.start()?;
        loop {
            let finished = match &*self.lock() {
                Phase::Running(handle) => handle.is_finished(),
                _ => true,
            };
            if finished {
                // Joins a server that ended by itself (an error), or does
                // nothing if another thread stopped it.
                return self.stop(py);
            }
            py.detach(|| thread::sleep(SLICE));
            if let Err(interrupt) = py.check_signals() {
                self.stop(py)?;
                return Err(interrupt);
            }
        }
    }

    fn is_running(&self) -> bool {
        matches!(&*self.lock(), Phase::Running(handle) if !handle.is_finished())
    }

    fn repr(&self, py: Python<'_>, class: &str) -> String {
        let (host, port) = address(self.local);
        let state = match &*self.lock() {
            Phase::Bound(_) => "bound",
            Phase::Running(_) => "running",
            Phase::Finished => "stopped",
        };
        format!("<{class} host={} port={port} {state}>", repr_str(py, &host))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A server nobody can stop any more stops now; its thread ends
        // soon after, and is not joined here.
        if let Phase::Running(_) = &*self.lock() {
            self.stopper.stop();
        }
    }
}

/// `threads`, the event loops of a server: 0 (one per core) to
/// [`MAX_THREADS`], as `--threads` takes.
fn check_threads(threads: usize) -> PyResult<usize> {
    if threads > MAX_THREADS {
        return Err(PyValueError::new_err(format!(
            "threads must be from 0 (one event loop per core) to {MAX_THREADS}, got {threads}"
        )));
    }
    Ok(threads)
}

/// `tls_cert=` and `tls_key=`: both or neither.
fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> PyResult<Option<TlsFiles>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            chain: None,
        })),
        (None, None) => Ok(None),
        _ => Err(PyValueError::new_err(
            "tls_cert and tls_key go together: give both or neither",
        )),
    }
}

/// An unreadable file is the `OSError` of its reading (`FileNotFoundError`,
/// `PermissionError`); a file that is read and refused (no certificate, a
/// key that does not match, an expired certificate) a `ValueError`.
fn tls_error(error: TlsError) -> PyErr {
    match &error {
        TlsError::Read { error: io, .. } => {
            PyErr::from(io::Error::new(io.kind(), error.to_string()))
        }
        _ => PyValueError::new_err(error.to_string()),
    }
}

fn bind_service<S>(
    kind: &'static str,
    addr: &str,
    service: S,
    threads: usize,
    tls: Option<TlsFiles>,
    trace: bool,
) -> PyResult<Served>
where
    S: Watched + Send + 'static,
    Server<Traced<S>>: Send,
{
    let trace = trace.then(Trace::memory);
    let service = Traced {
        service,
        trace: trace.clone(),
    };
    let limits = Limits {
        threads,
        ..Limits::default()
    };
    let tls = tls
        .map(|files| ServerTls::load(&files, &[]))
        .transpose()
        .map_err(tls_error)?;
    let mut server = Server::bind(addr, service, limits)?;
    if let Some(tls) = tls {
        server = server.with_tls(tls);
    }
    let local = server.local_addr();
    let stopper = server.stopper();
    Ok(Served::new(
        kind,
        local,
        stopper,
        Box::new(move || server.run()),
        trace,
    ))
}

macro_rules! server_methods {
    ($class:ident, $name:literal, ($($sig:tt)*), fn new($py:ident, $($arg:ident: $ty:ty),*) $body:block) => {
        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = ($($sig)*))]
            // Python's keyword arguments, one parameter each.
            #[allow(clippy::too_many_arguments)]
            fn new($py: Python<'_>, $($arg: $ty),*) -> PyResult<Self> {
                let served: PyResult<Served> = $body;
                Ok($class { served: served? })
            }

            /// The bound (host, port), with the real port if 0 was asked.
            #[getter]
            fn address(&self) -> (String, u16) {
                address(self.served.local)
            }

            /// True while the server runs (after start(), until stop()).
            #[getter]
            fn running(&self) -> bool {
                self.served.is_running()
            }

            /// Serves in the background, on a Rust thread, and returns at
            /// once. Calling it again while it runs does nothing.
            fn start(&self) -> PyResult<()> {
                self.served.start()
            }

            /// Stops the server and waits for its thread (without the GIL).
            /// Idempotent. A stopped server cannot be started again.
            fn stop(&self, py: Python<'_>) -> PyResult<()> {
                self.served.stop(py)
            }

            /// Serves in the foreground, as the course's run(): returns when
            /// another thread calls stop(); Ctrl-C stops the server, then
            /// raises KeyboardInterrupt. The GIL is released while it waits.
            fn run(&self, py: Python<'_>) -> PyResult<()> {
                self.served.run(py)
            }

            fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
                slf.get().served.start()?;
                Ok(slf)
            }

            fn __exit__(
                &self,
                py: Python<'_>,
                _exc_type: &Bound<'_, PyAny>,
                _exc_value: &Bound<'_, PyAny>,
                _traceback: &Bound<'_, PyAny>,
            ) -> PyResult<bool> {
                self.served.stop(py)?;
                Ok(false)
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                self.served.repr(py, $name)
            }

            /// The events traced so far (a server made with trace=True), oldest
            /// first: dicts with "time" (UNIX seconds), "service", "peer" (the
            /// client's address), "from" and "to" ("client" or "server"),
            /// "kind" ("open": the client connects; "message"; "eof": a
            /// half-close, FIN; "close": the server closes), "len", "summary",
            /// "rows" (the first fields of a message, as reseau.explain gives
            /// them), "skipped" (rows not kept) and "verdict". The last 10,000
            /// events are kept. reseau.sequence_diagram draws them.
            fn trace_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                let Some(trace) = &self.served.trace else {
                    return Err(PyValueError::new_err(concat!(
                        $name,
                        " was made without trace=True: it keeps no trace"
                    )));
                };
                let list = PyList::empty(py);
                for event in trace.events() {
                    list.append(crate::explain::event_dict(py, &event)?)?;
                }
                Ok(list)
            }
        }
    };
}

/// The course's integer adder server: answers each frame of ints with
/// their sum (pickle requests with struct.pack('I', sum), native requests
/// with a native reply). As in the course, a pickle request is its
/// connection's last (the server replies, then closes first), unless
/// keep_alive=True. tls_cert and tls_key (PEM files, both or neither)
/// serve TLS. trace=True keeps each message's fields and the server's
/// verdicts (trace_events()). Binds host:port at construction.
#[pyclass(frozen, module = "reseau")]
pub struct AdderServer {
    served: Served,
}

server_methods!(
    AdderServer,
    "AdderServer",
    (host = "127.0.0.1", port = 6001, keep_alive = false, threads = 0, tls_cert = None, tls_key = None, trace = false),
    fn new(py, host: &str, port: u16, keep_alive: bool, threads: usize, tls_cert: Option<PathBuf>, tls_key: Option<PathBuf>, trace: bool) {
        let addr = join_host_port(host, port);
        let config = AdderConfig {
            keep_alive,
            ..AdderConfig::default()
        };
        let threads = check_threads(threads)?;
        let tls = tls_files(tls_cert, tls_key)?;
        py.detach(|| bind_service("adder", &addr, AdderService { config }, threads, tls, trace))
    }
);

/// The course's echo server: sends back every byte of a connection, then
/// closes. tls_cert and tls_key (PEM files, both or neither) serve TLS.
/// trace=True keeps each piece of a message (trace_events()). Binds
/// host:port at construction.
#[pyclass(frozen, module = "reseau")]
pub struct EchoServer {
    served: Served,
}

server_methods!(
    EchoServer,
    "EchoServer",
    (host = "127.0.0.1", port = 6000, threads = 0, tls_cert = None, tls_key = None, trace = false),
    fn new(py, host: &str, port: u16, threads: usize, tls_cert: Option<PathBuf>, tls_key: Option<PathBuf>, trace: bool) {
        let addr = join_host_port(host, port);
        let threads = check_threads(threads)?;
        let tls = tls_files(tls_cert, tls_key)?;
        py.detach(|| bind_service("echo", &addr, EchoService, threads, tls, trace))
    }
);

/// The course's web site (the CherryPy application, on rouille): its pages,
/// its JSON API and its SQLite database.
///
/// config is a CherryPy-style server.conf (None: the defaults); host, port
/// and db, when given, override it, and tls_cert and tls_key (both or
/// neither) its server.ssl_* keys. Binds at construction.
#[pyclass(frozen, module = "reseau")]
pub struct WebServer {
    served: Served,
}

fn config_error(error: ConfigError) -> PyErr {
    match &error {
        ConfigError::Read { source, .. } => {
            PyErr::from(io::Error::new(source.kind(), error.to_string()))
        }
        ConfigError::Line { .. } => PyValueError::new_err(error.to_string()),
    }
}

fn start_error(error: StartError) -> PyErr {
    let error = match error {
        StartError::Tls(tls) => return tls_error(tls),
        error => error,
    };
    match &error {
        StartError::Bind { error: io, .. } => {
            PyErr::from(io::Error::new(io.kind(), error.to_string()))
        }
        StartError::Log(log) => PyErr::from(io::Error::new(log.source.kind(), error.to_string())),
        StartError::Site(_) => PyOSError::new_err(error.to_string()),
        StartError::SslKeys(_) => PyValueError::new_err(error.to_string()),
        StartError::Tls(_) => PyValueError::new_err(error.to_string()),
    }
}

/// The site's static files shipped in the package (`reseau/public`, next
/// to its `__init__.py`): the default static folder of a `WebServer`
/// whose working directory has no `web/public`, wherever the wheel runs.
fn installed_static_dir(py: Python<'_>) {
    let file = py
        .import("reseau")
        .and_then(|module| module.getattr("__file__"))
        .and_then(|file| file.extract::<PathBuf>());
    if let Some(folder) = file.ok().as_deref().and_then(std::path::Path::parent) {
        reseau_host::web::config::set_installed_static_dir(folder.join("public"));
    }
}

server_methods!(
    WebServer,
    "WebServer",
    (config = None, host = None, port = None, db = None, threads = None, tls_cert = None, tls_key = None),
    fn new(py, config: Option<PathBuf>, host: Option<String>, port: Option<u16>, db: Option<PathBuf>, threads: Option<usize>, tls_cert: Option<PathBuf>, tls_key: Option<PathBuf>) {
        let threads = threads.map(check_threads).transpose()?;
        let tls = tls_files(tls_cert, tls_key)?;
        installed_static_dir(py);
        py.detach(|| {
            let mut settings = Settings::load(config.as_deref()).map_err(config_error)?;
            if let Some(host) = host {
                settings.host = host;
            }
            if let Some(port) = port {
                settings.port = port;
            }
            if let Some(db) = db {
                settings.db = reseau_host::web::db::Location::parse(&db.to_string_lossy());
            }
            if let Some(threads) = threads {
                settings.limits.threads = threads;
            }
            // Over the config's server.ssl_* keys, as --tls-cert/--tls-key.
            if let Some(files) = tls {
                settings.ssl.certificate = Some(files.cert);
                settings.ssl.private_key = Some(files.key);
                settings.ssl.chain = None;
            }
            let server = reseau_host::web::bind(&settings).map_err(start_error)?;
            let local = server.local_addr();
            let stopper = server.stopper();
            let run = Box::new(move || server.run());
            Ok(Served::new("web", local, stopper, run, None))
        })
    }
);
