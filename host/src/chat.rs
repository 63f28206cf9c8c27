//! The course's UDP chat over a std socket: commands from stdin (parsed by
//! `reseau_core::chat`), datagrams printed as they arrive.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use reseau_core::chat::{Action, COURSE_RECV, ChatError, ChatState, HELP, join_port};

use crate::escape::Escaped;
use crate::trace::{self, Trace};

/// The chat's default address, as in the course.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";

/// How often the receiving thread looks at the stop flag, as the course's
/// 0.5 s socket timeout does.
const POLL: Duration = Duration::from_millis(500);

/// A chat peer: a bound UDP socket, and the chat's state (whom it sends
/// to), whose rules are `reseau_core::chat::ChatState`'s.
pub struct Chat {
    socket: UdpSocket,
    state: ChatState<SocketAddr>,
    trace: Option<Trace>,
}

/// What one command did, for the caller to print.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Keep reading commands; print this line if any.
    Continue(Option<String>),
    /// `/exit`.
    Exit,
}

impl Chat {
    /// Binds `addr`.
    pub fn bind(addr: &str) -> io::Result<Chat> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for candidate in crate::net::resolve(addr)? {
            match UdpSocket::bind(candidate) {
                Ok(socket) => {
                    return Ok(Chat {
                        socket,
                        state: ChatState::new(),
                        trace: None,
                    });
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// Traces every datagram sent and received into `trace`.
    pub fn with_trace(mut self, trace: Trace) -> Chat {
        self.trace = Some(trace);
        self
    }

    /// The trace, if any.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The joined peer.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.state.peer()
    }

    /// A handle on the socket for a receiving thread.
    pub fn socket(&self) -> io::Result<UdpSocket> {
        self.socket.try_clone()
    }

    /// Resolves `host` and `port` and sends to that peer from now on
    /// (`/join`); returns the peer's address.
    pub fn join(&mut self, host: &str, port: u16) -> io::Result<SocketAddr> {
        let peer = resolve_peer(self.socket.local_addr()?, host, port)?;
        self.join_addr(peer);
        Ok(peer)
    }

    /// Sends to `peer` from now on (a `/join` resolved already, by
    /// [`resolve_peer`]).
    pub fn join_addr(&mut self, peer: SocketAddr) {
        self.state.join(peer);
    }

    /// Forgets the joined peer (`/quit`).
    pub fn quit(&mut self) {
        self.state.leave();
    }

    /// Sends `text`, as it is, to the joined peer in one datagram (what
    /// `/send` does after trimming); returns the peer and whether the
    /// course's peers, which read 1024 bytes, will see it cut.
    pub fn send(&self, text: &str) -> Result<(SocketAddr, bool), ChatSendError> {
        match self.state.send(text) {
            Ok(Action::Send { to, text, cut }) => {
                self.send_datagram(to, text).map_err(ChatSendError::Io)?;
                Ok((to, cut))
            }
            // `ChatState::send` only gives `Action::Send`.
            Ok(_) => Err(ChatSendError::Io(io::Error::other(
                "unexpected chat action",
            ))),
            Err(error) => Err(error.into()),
        }
    }

    fn send_datagram(&self, to: SocketAddr, text: &str) -> io::Result<()> {
        if let Some(trace) = &self.trace {
            trace::datagram(trace, to, true, text.as_bytes());
        }
        match self.socket.send_to(text.as_bytes(), to) {
            Ok(sent) if sent != text.len() => Err(io::Error::other(format!(
                "only {sent} of {} bytes were sent",
                text.len()
            ))),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Carries out one line typed by the user.
    pub fn command(&mut self, line: &str) -> Outcome {
        let action = match self.state.handle_line(line) {
            Ok(action) => action,
            Err(error) => return Outcome::Continue(Some(format!("error: {error}"))),
        };
        let result = match action {
            Action::Exit => return Outcome::Exit,
            Action::Left => Ok(Some("no peer joined now".to_string())),
            Action::Help => Ok(Some(HELP.to_string())),
            Action::Join { host, port } => self
                .join(host, port)
                .map(|peer| Some(format!("joined {peer}"))),
            Action::Send { to, text, cut } => self.send_datagram(to, text).map(|()| {
                cut.then(|| {
                    format!(
                        "warning: the message is {} bytes; the course's peers read {COURSE_RECV} and would cut it",
                        text.len()
                    )
                })
            }),
        };
        Outcome::Continue(match result {
            Ok(line) => line,
            Err(error) => Some(format!("error: {error}")),
        })
    }
}

/// Why [`Chat::send`] sent nothing (the same question as the smoltcp
/// driver's `reseau_core::drive::smoltcp::ChatSendError`, for this driver).
#[derive(Debug)]
pub enum ChatSendError {
    /// The chat's rules refuse it (no peer joined, a text too long for one
    /// datagram); the message says which.
    Chat(String),
    /// The socket refused it.
    Io(io::Error),
}

impl std::fmt::Display for ChatSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatSendError::Chat(message) => f.write_str(message),
            ChatSendError::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ChatSendError {}

impl From<ChatError<'_>> for ChatSendError {
    fn from(error: ChatError<'_>) -> Self {
        ChatSendError::Chat(error.to_string())
    }
}

/// Prints every datagram that reaches `socket` until `stop` is set, one
/// line each: `SENDER: TEXT`, the text ([`message_text`]) escaped by
/// [`crate::escape`]'s rule.
fn receive(socket: UdpSocket, stop: Arc<AtomicBool>, trace: Option<Trace>) {
    let _ = socket.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(trace) = &trace {
                    trace::datagram(trace, from, false, buf.get(..n).unwrap_or_default());
                }
                // Escaped: a datagram cannot drive the terminal nor print
                // a line of its own (see `crate::escape`).
                let text = Escaped(message_text(buf.get(..n).unwrap_or_default()));
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{from}: {text}");
                let _ = out.flush();
            }
            Err(error) if is_transient(&error) => {}
            Err(error) => {
                eprintln!("chat: receive failed: {error}");
                return;
            }
        }
    }
}

/// The text of a datagram as `reseau chat` shows it: one line ending
/// (`\n` or `\r\n`) at its very end is the end of the sender's line, as
/// netcat and other line-oriented peers send it, and is dropped; every
/// other byte is shown (escaped).
pub fn message_text(datagram: &[u8]) -> &[u8] {
    let text = datagram.strip_suffix(b"\n").unwrap_or(datagram);
    if text.len() < datagram.len() {
        text.strip_suffix(b"\r").unwrap_or(text)
    } else {
        datagram
    }
}

/// `reseau chat`: the course's `Chat.run()`: a receiving thread, commands
/// read from stdin (a terminal or a pipe) until `/exit` or end of input.
pub fn run(mut chat: Chat) -> io::Result<()> {
    run_on(&mut chat)
}

/// [`run`] on a borrowed chat, which stays bound (and joined) afterwards.
pub fn run_on(chat: &mut Chat) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let socket = chat.socket()?;
        let stop = stop.clone();
        let trace = chat.trace.clone();
        thread::spawn(move || receive(socket, stop, trace))
    };
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    // A line longer than a command with the longest text is cut there.
    let limit = reseau_core::chat::MAX_TEXT as u64 + 64;
    loop {
        line.clear();
        let n = (&mut stdin).take(limit).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let outcome = if line.last() != Some(&b'\n') && n as u64 == limit {
            // Skip the rest of the line, a bounded piece at a time.
            let mut rest = Vec::new();
            while (&mut stdin).take(limit).read_until(b'\n', &mut rest)? as u64 == limit
                && rest.last() != Some(&b'\n')
            {
                rest.clear();
            }
            Outcome::Continue(Some(format!(
                "error: the line is over {limit} bytes; a message must fit in one datagram"
            )))
        } else {
            chat.command(&String::from_utf8_lossy(&line))
        };
        match outcome {
            Outcome::Exit => break,
            Outcome::Continue(Some(message)) => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{message}");
                let _ = out.flush();
            }
            Outcome::Continue(None) => {}
        }
    }
    stop.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    Ok(())
}

/// Whether a failed receive on a chat socket is no reason to stop: a read
/// timeout, a signal, or an ICMP "port unreachable" that an earlier send
/// provoked (the peer is not there; Linux reports it on the next call).
pub fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
    )
}

/// Resolves `host` and `port` (1 to 65535, the rule of `/join`) to an
/// address a chat bound to `local` can reach: an IPv4 socket cannot send
/// to an IPv6 address, nor the reverse. May block on DNS.
pub fn resolve_peer(local: SocketAddr, host: &str, port: u16) -> io::Result<SocketAddr> {
    join_port(port).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .copied()
        .ok_or_else(|| {
            let family = if local.is_ipv4() { "IPv4" } else { "IPv6" };
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "{host} has no {family} address, and this chat is bound to {local}; \
                     bind to an address of the other family with --bind"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::message_text;

    #[test]
    fn one_line_ending_at_the_end_is_dropped() {
        assert_eq!(message_text(b"hello\n"), b"hello");
        assert_eq!(message_text(b"hello\r\n"), b"hello");
        // Only one; a CR alone, or a newline inside, is text.
        assert_eq!(message_text(b"hello\n\n"), b"hello\n");
        assert_eq!(message_text(b"hello\r"), b"hello\r");
        assert_eq!(message_text(b"a\nb"), b"a\nb");
        assert_eq!(message_text(b"\n"), b"");
        assert_eq!(message_text(b""), b"");
    }
}
