//! The UDP chat: `parse_command`, `Command` and the `Chat` peer.
//!
//! The commands are `reseau_core::chat`'s; the socket and the course's
//! stdin loop are `reseau_host::chat`'s.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use reseau_core::chat::Command as CoreCommand;
use reseau_host::chat::{Chat as HostChat, ChatSendError, resolve_peer};
use reseau_host::trace::Trace;

use crate::errors::{self, CommandError};
use crate::net::{address, join_host_port, repr_str};

/// One chat command, as parse_command reads it.
///
/// name is "exit", "quit", "join", "send" or "help"; host and port are set
/// for "join", text for "send", and each is None otherwise.
#[pyclass(frozen, eq, module = "reseau")]
#[derive(PartialEq, Eq)]
pub struct Command {
    /// "exit", "quit", "join", "send" or "help".
    #[pyo3(get)]
    name: &'static str,
    /// The peer's host name or address ("join"), else None.
    #[pyo3(get)]
    host: Option<String>,
    /// The peer's UDP port, 1 to 65535 ("join"), else None.
    #[pyo3(get)]
    port: Option<u16>,
    /// The message, right-trimmed, never empty ("send"), else None.
    #[pyo3(get)]
    text: Option<String>,
}

#[pymethods]
impl Command {
    fn __repr__(&self, py: Python<'_>) -> String {
        match (&self.host, self.port, &self.text) {
            (Some(host), Some(port), _) => {
                format!(
                    "Command(name='join', host={}, port={port})",
                    repr_str(py, host)
                )
            }
            (_, _, Some(text)) => format!("Command(name='send', text={})", repr_str(py, text)),
            _ => format!("Command(name='{}')", self.name),
        }
    }
}

/// Parses one line typed in the chat, as the course's Chat.run() reads it:
/// "/join HOST PORT", "/send TEXT", "/quit", "/exit", "/help".
///
/// The command is the text up to the first space, the parameter the rest,
/// right-trimmed. A line that is no valid command raises CommandError, whose
/// message names the mistake.
#[pyfunction]
#[pyo3(signature = (line, /))]
pub fn parse_command(line: &str) -> PyResult<Command> {
    let command = CoreCommand::parse(line).map_err(|e| CommandError::new_err(e.to_string()))?;
    let plain = |name| Command {
        name,
        host: None,
        port: None,
        text: None,
    };
    Ok(match command {
        CoreCommand::Exit => plain("exit"),
        CoreCommand::Quit => plain("quit"),
        CoreCommand::Help => plain("help"),
        CoreCommand::Join { host, port } => Command {
            host: Some(host.to_owned()),
            port: Some(port),
            ..plain("join")
        },
        CoreCommand::Send { text } => Command {
            text: Some(text.to_owned()),
            ..plain("send")
        },
    })
}

/// How long a blocking receive waits between two looks at Ctrl-C.
const SLICE: Duration = Duration::from_millis(100);

enum State {
    Open(HostChat),
    /// run() has the chat, on another thread's stack.
    Running,
    Closed,
}

/// A chat peer, as the course's Chat class: a UDP socket bound at
/// construction (port 0 asks for an ephemeral port).
///
/// run() is the course's loop (commands from stdin, datagrams printed as
/// they arrive). In a notebook, use join(), send() and receive() instead.
/// close() (or the end of a with block) closes the socket.
#[pyclass(frozen, module = "reseau")]
pub struct Chat {
    state: Mutex<State>,
    local: SocketAddr,
    /// The datagrams sent and received, with trace=True.
    trace: Option<Trace>,
}

impl Chat {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_open<T>(&self, f: impl FnOnce(&mut HostChat) -> PyResult<T>) -> PyResult<T> {
        match &mut *self.lock() {
            State::Open(chat) => f(chat),
            State::Running => Err(PyRuntimeError::new_err(
                "the chat is running its stdin loop (run())",
            )),
            State::Closed => Err(errors::closed("the chat")),
        }
    }
}

#[pymethods]
impl Chat {
    #[new]
    #[pyo3(signature = (host = "127.0.0.1", port = 5000, trace = false))]
    fn new(py: Python<'_>, host: &str, port: u16, trace: bool) -> PyResult<Self> {
        let addr = join_host_port(host, port);
        let mut chat = py.detach(|| HostChat::bind(&addr))?;
        let local = chat.local_addr()?;
        let trace = trace.then(Trace::memory);
        if let Some(trace) = &trace {
            chat = chat.with_trace(trace.clone());
        }
        Ok(Chat {
            state: Mutex::new(State::Open(chat)),
            local,
            trace,
        })
    }

    /// The datagrams sent and received so far (a chat made with
    /// trace=True), oldest first, as AdderServer.trace_events() gives
    /// events: "from" is "server" for this chat and "client" for the
    /// peer, "peer" the other side's address.
    fn trace_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let Some(trace) = &self.trace else {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "Chat was made without trace=True: it keeps no trace",
            ));
        };
        let list = PyList::empty(py);
        for event in trace.events() {
            list.append(crate::explain::event_dict(py, &event)?)?;
        }
        Ok(list)
    }

    /// The bound (host, port).
    #[getter]
    fn address(&self) -> (String, u16) {
        address(self.local)
    }

    /// The joined peer's (host, port), or None.
    #[getter]
    fn peer(&self) -> PyResult<Option<(String, u16)>> {
        self.with_open(|chat| Ok(chat.peer().map(address)))
    }

    /// Sends to the peer at host and port from now on (the course's
    /// "/join HOST PORT"); returns its resolved (host, port). A port
    /// outside 1 to 65535 raises CommandError (or OverflowError).
    fn join(&self, py: Python<'_>, host: &str, port: u16) -> PyResult<(String, u16)> {
        reseau_core::chat::join_port(port).map_err(|e| CommandError::new_err(e.to_string()))?;
        self.with_open(|_| Ok(()))?;
        // Resolving may block on DNS: without the GIL and without the
        // chat's lock, so that receive() and send() go on meanwhile.
        let local = self.local;
        let peer = py.detach(|| resolve_peer(local, host, port))?;
        self.with_open(|chat| {
            chat.join_addr(peer);
            Ok(address(peer))
        })
    }

    /// Forgets the joined peer (the course's "/quit").
    fn quit(&self) -> PyResult<()> {
        self.with_open(|chat| {
            chat.quit();
            Ok(())
        })
    }

    /// Sends text to the joined peer in one datagram (the course's
    /// "/send TEXT", without the trimming); returns the bytes sent. Raises
    /// CommandError with no peer joined or a text too long for a datagram.
    fn send(&self, text: &str) -> PyResult<usize> {
        self.with_open(|chat| match chat.send(text) {
            Ok(_) => Ok(text.len()),
            Err(ChatSendError::Chat(message)) => Err(CommandError::new_err(message)),
            Err(ChatSendError::Io(error)) => Err(error.into()),
        })
    }

    /// Waits for one datagram: returns (text, (host, port)) of its sender,
    /// or None if timeout seconds pass first (None waits for ever; Ctrl-C
    /// interrupts). The GIL is released while waiting. The text is the
    /// datagram as sent (invalid UTF-8 as U+FFFD), control characters and
    /// all: it is data; escape it before printing it to a terminal.
    #[pyo3(signature = (timeout = None))]
    fn receive(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(String, (String, u16))>> {
        let socket = self.with_open(|chat| Ok(chat.socket()?))?;
        let deadline = match timeout {
            // inf, or a timeout too long for the clock: no deadline.
            Some(t) if t >= 0.0 => Duration::try_from_secs_f64(t)
                .ok()
                .and_then(|t| Instant::now().checked_add(t)),
            Some(t) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "timeout must be a number of seconds >= 0 or None, not {t}"
                )));
            }
            None => None,
        };
        let mut buf = vec![0u8; 65_536];
        loop {
            let wait = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(SLICE)
                }
                None => SLICE,
            };
            let got = py.detach(|| {
                socket.set_read_timeout(Some(wait))?;
                socket.recv_from(&mut buf)
            });
            match got {
                Ok((n, from)) => {
                    let datagram = buf.get(..n).unwrap_or_default();
                    if let Some(trace) = &self.trace {
                        reseau_host::trace::datagram(trace, from, false, datagram);
                    }
                    let text = String::from_utf8_lossy(datagram);
                    return Ok(Some((text.into_owned(), address(from))));
                }
                Err(error) if reseau_host::chat::is_transient(&error) => {}
                Err(error) => return Err(error.into()),
            }
            py.check_signals()?;
            if matches!(*self.lock(), State::Closed) {
                return Ok(None);
            }
        }
    }

    /// The course's Chat.run(): reads commands from stdin ("/join HOST
    /// PORT", "/send TEXT", "/quit", "/help", "/exit") and prints the
    /// datagrams that arrive, until "/exit" or the end of input. Prints to
    /// the process's stdout (the terminal, not a notebook cell), one line
    /// per datagram with control characters, bidi controls and invalid
    /// UTF-8 escaped ("\x1b", "\n", "\u{202e}", "\xff"), as reseau chat
    /// does. The GIL is released throughout.
    fn run(&self, py: Python<'_>) -> PyResult<()> {
        let mut chat = self.take()?;
        let result = py.detach(|| reseau_host::chat::run_on(&mut chat));
        self.put_back(chat);
        Ok(result?)
    }

    /// Closes the socket. Idempotent.
    fn close(&self) {
        *self.lock() = State::Closed;
    }

    /// True once close() was called.
    #[getter]
    fn closed(&self) -> bool {
        matches!(*self.lock(), State::Closed)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (host, port) = address(self.local);
        let state = match &*self.lock() {
            State::Open(chat) => match chat.peer() {
                Some(peer) => format!("joined {peer}"),
                None => "not joined".to_owned(),
            },
            State::Running => "running".to_owned(),
            State::Closed => "closed".to_owned(),
        };
        format!("<Chat host={} port={port} {state}>", repr_str(py, &host))
    }
}

impl Chat {
    /// Takes the chat out, for a call that blocks without the lock.
    fn take(&self) -> PyResult<HostChat> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Running) {
            State::Open(chat) => Ok(chat),
            other => {
                let error = match other {
                    State::Closed => errors::closed("the chat"),
                    _ => PyRuntimeError::new_err(
                        "the chat is busy (run() or join() on another thread)",
                    ),
                };
                *state = other;
                Err(error)
            }
        }
    }

    /// Puts the chat back, unless close() was called meanwhile.
    fn put_back(&self, chat: HostChat) {
        let mut state = self.lock();
        if let State::Running = &*state {
            *state = State::Open(chat);
        }
    }
}
