//! `--trace`: each message of a connection as it passes, with its time,
//! its direction, the peer, and what its bytes mean.
//!
//! A [`Trace`] is where the events go: stderr as text (the command line),
//! or a bounded list that Python reads (`AdderServer(trace=True)`). A
//! [`Watch`] turns the bytes of one connection into messages: the
//! adder's come from `reseau_core::adder::explain` (the same rows and
//! verdicts as `reseau explain`), echo's and the chat's are text, escaped
//! and cut. Servers get it by [`Traced`], a [`Service`] wrapper that sees
//! the bytes its session takes and gives; clients by [`Conversation`].
//!
//! Tracing is for looking, not for load: each adder message is parsed a
//! second time, and every event takes a lock.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use reseau_core::adder::explain::{Item, ReplyExplainer, RequestExplainer, Row, Verdict};
use reseau_core::adder::{AdderConfig, Error, Event, Format};
use reseau_core::session::StreamSession;

use crate::escape::Quoted;
use crate::explain::{self, TABLE_HEADER};
use crate::net::{Notify, Service};

/// Rows of one message kept for its event: a long request shows its first
/// rows, then how many more there were.
pub const MAX_ROWS: usize = 12;
/// Bytes of a text message shown (echo, chat).
pub const MAX_TEXT: usize = 80;
/// Events a memory trace keeps (the oldest go first).
pub const MAX_EVENTS: usize = 10_000;

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that connected (or a chat peer that sent to us).
    Client,
    /// The side that accepted (or this chat program).
    Server,
}

impl Role {
    /// "client" or "server".
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// The connection opened.
    Open,
    /// A message passed.
    Message(Message),
    /// The sender half-closed (its FIN).
    Eof,
    /// The connection closed.
    Close,
}

/// A message, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its length in bytes.
    pub len: u64,
    /// One line that says it ("request, 18 bytes: 2 ints, sum 301").
    pub summary: String,
    /// Its first rows (adder messages).
    pub rows: Vec<Row>,
    /// Rows not kept.
    pub skipped: u64,
    /// What the server does with it (adder requests).
    pub verdict: Option<String>,
}

/// One event of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it was seen.
    pub at: SystemTime,
    /// "adder", "echo" or "chat".
    pub service: &'static str,
    /// The other side's address.
    pub peer: SocketAddr,
    /// Who sent it (for `Open`, who connected; for `Close`, who closed).
    pub from: Role,
    /// What it was.
    pub what: What,
}

impl TraceEvent {
    /// Who received it.
    pub fn to(&self) -> Role {
        self.from.other()
    }

    /// The event as text: a first line, then the message's rows.
    pub fn text(&self) -> String {
        let secs = self
            .at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let (day, micros) = (secs % 86_400_000_000, secs % 1_000_000);
        let (h, m, s) = (
            day / 3_600_000_000,
            day / 60_000_000 % 60,
            day / 1_000_000 % 60,
        );
        // In the chat, both ends are peers: "me" is this program.
        let name = |role: Role| match (self.service, role) {
            ("chat", Role::Server) => "me",
            ("chat", Role::Client) => "peer",
            (_, role) => role.name(),
        };
        let (from, to) = (name(self.from), name(self.to()));
        let mut text = format!(
            "{h:02}:{m:02}:{s:02}.{micros:06} {} {} {from} -> {to}: ",
            self.service, self.peer
        );
        match &self.what {
            What::Open => text.push_str("connects"),
            What::Eof => text.push_str("half-closes (FIN)"),
            What::Close => text.push_str("closes the connection"),
            What::Message(message) => {
                text.push_str(&message.summary);
                if !message.rows.is_empty() {
                    let _ = write!(text, "\n{TABLE_HEADER}");
                }
                for row in &message.rows {
                    let _ = write!(text, "\n{}", explain::row_line(row));
                }
                if message.skipped > 0 {
                    let _ = write!(text, "\n  ... {} more rows", message.skipped);
                }
                if let Some(verdict) = &message.verdict {
                    let _ = write!(text, "\n  verdict: {verdict}");
                }
            }
        }
        text
    }
}

/// Where the events of a trace go.
#[derive(Debug, Clone)]
pub struct Trace {
    sink: Sink,
}

#[derive(Debug, Clone)]
enum Sink {
    Stderr,
    Memory(Arc<Mutex<VecDeque<TraceEvent>>>),
}

impl Trace {
    /// Events printed on stderr, each as a block of lines.
    pub fn stderr() -> Trace {
        Trace { sink: Sink::Stderr }
    }

    /// Events kept in memory, the last [`MAX_EVENTS`], for [`events`](Self::events).
    pub fn memory() -> Trace {
        Trace {
            sink: Sink::Memory(Arc::default()),
        }
    }

    /// Records an event.
    pub fn emit(&self, event: TraceEvent) {
        match &self.sink {
            Sink::Stderr => {
                let text = event.text();
                let _ = writeln!(io::stderr().lock(), "{text}");
            }
            Sink::Memory(events) => {
                let mut events = events.lock().unwrap_or_else(|e| e.into_inner());
                if events.len() == MAX_EVENTS {
                    events.pop_front();
                }
                events.push_back(event);
            }
        }
    }

    /// The events kept so far (a memory trace), oldest first; they are
    /// kept on.
    pub fn events(&self) -> Vec<TraceEvent> {
        match &self.sink {
            Sink::Stderr => Vec::new(),
            Sink::Memory(events) => {
                let events = events.lock().unwrap_or_else(|e| e.into_inner());
                events.iter().cloned().collect()
            }
        }
    }
}

/// Turns the bytes of one connection into messages.
pub trait Watch: Send {
    /// Bytes the client sent.
    fn client_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>);
    /// Bytes the server sent.
    fn server_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>);
    /// The client's input ended: what it left unfinished.
    fn client_done(&mut self, out: &mut Vec<(Role, Message)>);
}

/// The adder: requests and replies explained.
#[derive(Debug)]
pub struct AdderWatch {
    requests: RequestExplainer,
    replies: Option<ReplyExplainer>,
    /// The format of the requests seen (their replies are in it).
    format: Format,
    request: Builder,
    reply: Builder,
}

/// A message being gathered.
#[derive(Debug, Default)]
struct Builder {
    rows: Vec<Row>,
    len: u64,
    skipped: u64,
    ints: u64,
}

impl Builder {
    fn push(&mut self, row: Row) {
        self.len += row.len;
        if matches!(
            row.field,
            reseau_core::adder::explain::Field::Int { .. }
                | reseau_core::adder::explain::Field::Pickle {
                    argument: reseau_core::adder::pickle::Argument::Int(_),
                    ..
                }
        ) {
            self.ints += 1;
        }
        if self.rows.len() < MAX_ROWS {
            self.rows.push(row);
        } else {
            self.skipped += 1;
        }
    }

    fn take(&mut self, summary: String, verdict: Option<String>) -> Message {
        let built = std::mem::take(self);
        Message {
            len: built.len,
            summary,
            rows: built.rows,
            skipped: built.skipped,
            verdict,
        }
    }
}

impl AdderWatch {
    /// A watch for one connection of a server with `config`.
    pub fn new(config: AdderConfig) -> Self {
        AdderWatch {
            requests: RequestExplainer::new(config),
            replies: None,
            format: Format::Pickle,
            request: Builder::default(),
            reply: Builder::default(),
        }
    }

    fn request_item(&mut self, item: Item, out: &mut Vec<(Role, Message)>) {
        match item {
            Item::Row(row) => self.request.push(row),
            Item::Verdict(verdict) => {
                if let Event::Answered { format, .. } = verdict.event {
                    self.format = format;
                }
                if let Event::Rejected(Error::Native(_)) = verdict.event {
                    self.format = Format::Native;
                }
                let summary = request_summary(&self.request, &verdict);
                let text = explain::verdict_text(&verdict, false);
                out.push((Role::Client, self.request.take(summary, Some(text))));
            }
        }
    }
}

fn request_summary(request: &Builder, verdict: &Verdict) -> String {
    let plural = if request.len == 1 { "" } else { "s" };
    let ints = request.ints;
    let what = match verdict.event {
        Event::Answered { sum, .. } => format!("{ints} ints, sum {sum}"),
        Event::Rejected(_) => "refused".to_string(),
    };
    format!("request, {} byte{plural}: {what}", request.len)
}

impl Watch for AdderWatch {
    fn client_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>) {
        let mut items = Vec::new();
        self.requests.feed(bytes, &mut |item| items.push(item));
        for item in items {
            self.request_item(item, out);
        }
    }

    fn server_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>) {
        let format = self.format;
        let replies = self
            .replies
            .get_or_insert_with(|| ReplyExplainer::new(format));
        let mut rows = Vec::new();
        replies.feed(bytes, &mut |item| {
            if let Item::Row(row) = item {
                rows.push(row);
            }
        });
        for row in rows {
            use reseau_core::adder::explain::Field;
            let done = match row.field {
                Field::Reply(sum) => Some(format!("reply, 4 bytes: the sum {sum}")),
                Field::NativeReply(reply) => Some(format!("reply frame: {reply:?}")),
                _ => None,
            };
            self.reply.push(row);
            if let Some(summary) = done {
                out.push((Role::Server, self.reply.take(summary, None)));
            }
        }
    }

    fn client_done(&mut self, out: &mut Vec<(Role, Message)>) {
        let mut items = Vec::new();
        self.requests.finish(&mut |item| items.push(item));
        for item in items {
            self.request_item(item, out);
        }
        if !self.request.rows.is_empty() {
            let len = self.request.len;
            out.push((
                Role::Client,
                self.request
                    .take(format!("{len} bytes after the last request"), None),
            ));
        }
    }
}

/// Echo and the chat: each piece of bytes is a message, shown as text.
#[derive(Debug, Default)]
pub struct TextWatch;

/// A text message: its length and its first bytes, escaped.
pub fn text_message(bytes: &[u8]) -> Message {
    let shown = bytes.get(..MAX_TEXT).unwrap_or(bytes);
    let cut = if bytes.len() > MAX_TEXT { "..." } else { "" };
    let plural = if bytes.len() == 1 { "" } else { "s" };
    Message {
        len: bytes.len() as u64,
        summary: format!("{} byte{plural}: {}{cut}", bytes.len(), Quoted(shown)),
        rows: Vec::new(),
        skipped: 0,
        verdict: None,
    }
}

impl Watch for TextWatch {
    fn client_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>) {
        out.push((Role::Client, text_message(bytes)));
    }

    fn server_sent(&mut self, bytes: &[u8], out: &mut Vec<(Role, Message)>) {
        out.push((Role::Server, text_message(bytes)));
    }

    fn client_done(&mut self, _out: &mut Vec<(Role, Message)>) {}
}

/// A service whose connections are traced when `trace` is set: the
/// adder and echo servers run in this (a pass-through without a trace).
#[derive(Debug)]
pub struct Traced<S> {
    /// The service.
    pub service: S,
    /// Where the events go; `None`: no tracing.
    pub trace: Option<Trace>,
}

/// A service that can say what its bytes mean.
pub trait Watched: Service {
    /// The watch of one connection.
    type Watch: Watch + 'static;
    /// A watch for a new connection.
    fn watch(&self) -> Self::Watch;
}

impl Watched for crate::adder::AdderService {
    type Watch = AdderWatch;
    fn watch(&self) -> AdderWatch {
        AdderWatch::new(self.config)
    }
}

impl Watched for crate::echo::EchoService {
    type Watch = TextWatch;
    fn watch(&self) -> TextWatch {
        TextWatch
    }
}

impl<S: Watched> Service for Traced<S> {
    type Session = TracedSession<S::Session, S::Watch>;
    type Summary = S::Summary;

    fn name(&self) -> &'static str {
        self.service.name()
    }

    fn session(&self, peer: SocketAddr, notify: Notify) -> Self::Session {
        let conversation = self.trace.as_ref().map(|trace| {
            let c = Conversation::new(
                trace.clone(),
                self.service.name(),
                peer,
                self.service.watch(),
            );
            c.event(Role::Client, What::Open);
            c
        });
        TracedSession {
            session: self.service.session(peer, notify),
            conversation,
        }
    }

    fn record(&self, summary: &mut S::Summary, event: <S::Session as StreamSession>::Event) {
        self.service.record(summary, event);
    }
}

/// A session whose bytes are shown to a [`Conversation`].
#[derive(Debug)]
pub struct TracedSession<T, W: Watch> {
    session: T,
    conversation: Option<Conversation<W>>,
}

impl<T: StreamSession, W: Watch> StreamSession for TracedSession<T, W> {
    type Event = T::Event;

    fn handle_input(&mut self, input: &[u8]) -> usize {
        let used = self.session.handle_input(input);
        if let Some(c) = &mut self.conversation {
            c.client_sent(input.get(..used).unwrap_or_default());
        }
        used
    }

    fn handle_eof(&mut self) {
        if let Some(c) = &mut self.conversation {
            c.client_done();
        }
        self.session.handle_eof();
    }

    fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let n = self.session.poll_transmit(out);
        if let Some(c) = &mut self.conversation {
            c.server_sent(out.get(..n).unwrap_or_default());
        }
        n
    }

    fn poll_event(&mut self) -> Option<T::Event> {
        self.session.poll_event()
    }

    fn is_finished(&self) -> bool {
        self.session.is_finished()
    }

    fn is_receiving(&self) -> bool {
        self.session.is_receiving()
    }

    fn is_answering(&self) -> bool {
        self.session.is_answering()
    }

    fn handle_request_timeout(&mut self, after: std::time::Duration) {
        self.session.handle_request_timeout(after);
    }
}

impl<T, W: Watch> Drop for TracedSession<T, W> {
    fn drop(&mut self) {
        if let Some(c) = &mut self.conversation {
            // A request the server refused and closed on has its verdict
            // held for the end of the client's input: shown now, before
            // the close.
            c.flush();
            c.event(Role::Server, What::Close);
        }
    }
}

/// One traced connection: its watch and where its events go. Servers
/// hold one per connection ([`Traced`]); clients make one
/// ([`Conversation::new`]) and show it the bytes they send and receive.
#[derive(Debug)]
pub struct Conversation<W> {
    trace: Trace,
    service: &'static str,
    peer: SocketAddr,
    watch: W,
    /// Set once the client's input ended.
    client_ended: bool,
}

impl<W: Watch> Conversation<W> {
    /// A conversation with `peer` of `service`.
    pub fn new(trace: Trace, service: &'static str, peer: SocketAddr, watch: W) -> Self {
        Conversation {
            trace,
            service,
            peer,
            watch,
            client_ended: false,
        }
    }

    /// Records an event of this connection.
    pub fn event(&self, from: Role, what: What) {
        self.trace.emit(TraceEvent {
            at: SystemTime::now(),
            service: self.service,
            peer: self.peer,
            from,
            what,
        });
    }

    fn messages(&self, messages: Vec<(Role, Message)>) {
        for (from, message) in messages {
            self.event(from, What::Message(message));
        }
    }

    /// Bytes the client sent.
    pub fn client_sent(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut out = Vec::new();
        self.watch.client_sent(bytes, &mut out);
        self.messages(out);
    }

    /// Bytes the server sent.
    pub fn server_sent(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut out = Vec::new();
        self.watch.server_sent(bytes, &mut out);
        self.messages(out);
    }

    /// The client half-closed: what it left unfinished, then its FIN.
    pub fn client_done(&mut self) {
        if self.client_ended {
            return;
        }
        self.flush();
        self.event(Role::Client, What::Eof);
    }

    /// No more client input will be read (its FIN, or the server closes):
    /// the messages still held, such as a refused request, whose verdict
    /// waits for the end of the input.
    pub fn flush(&mut self) {
        if self.client_ended {
            return;
        }
        self.client_ended = true;
        let mut out = Vec::new();
        self.watch.client_done(&mut out);
        self.messages(out);
    }
}

/// A client's stream whose bytes are shown to a shared [`Conversation`]:
/// what it writes is the client's, what it reads the server's. Echo's
/// client reads and writes from two threads, hence the lock.
pub struct TracedStream<T, W> {
    inner: T,
    conversation: Option<Arc<Mutex<Conversation<W>>>>,
}

impl<T, W: Watch> TracedStream<T, W> {
    /// `inner`, traced into `conversation` if any.
    pub fn new(inner: T, conversation: Option<Arc<Mutex<Conversation<W>>>>) -> Self {
        TracedStream {
            inner,
            conversation,
        }
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Runs `f` on the conversation, if traced.
    pub fn with(&self, f: impl FnOnce(&mut Conversation<W>)) {
        if let Some(c) = &self.conversation {
            f(&mut c.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

impl<T: io::Read, W: Watch> io::Read for TracedStream<T, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match buf.get(..n) {
            Some([]) | None => self.with(|c| c.event(Role::Server, What::Eof)),
            Some(bytes) => self.with(|c| c.server_sent(bytes)),
        }
        Ok(n)
    }
}

impl<T: io::Write, W: Watch> io::Write for TracedStream<T, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.with(|c| c.client_sent(buf.get(..n).unwrap_or_default()));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A client's conversation with `peer`, if `trace`: it starts with the
/// client's connection.
pub fn client<W: Watch>(
    trace: Option<&Trace>,
    service: &'static str,
    peer: SocketAddr,
    watch: W,
) -> Option<Arc<Mutex<Conversation<W>>>> {
    trace.map(|trace| {
        let c = Conversation::new(trace.clone(), service, peer, watch);
        c.event(Role::Client, What::Open);
        Arc::new(Mutex::new(c))
    })
}

/// A chat datagram, sent (`from_us`) or received, as a trace event: in
/// the chat, "server" is this program and "client" the peer.
pub fn datagram(trace: &Trace, peer: SocketAddr, from_us: bool, bytes: &[u8]) {
    trace.emit(TraceEvent {
        at: SystemTime::now(),
        service: "chat",
        peer,
        from: if from_us { Role::Server } else { Role::Client },
        what: What::Message(text_message(bytes)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A traced adder session fed `request`, its output drained (`replied`
    /// bytes of it), then dropped: how many bytes it took, and its events,
    /// one line each.
    fn adder_events(request: &[u8], replied: usize) -> (usize, Vec<String>) {
        let trace = Trace::memory();
        let service = Traced {
            service: crate::adder::AdderService::default(),
            trace: Some(trace.clone()),
        };
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let mut session = service.session(peer, Notify::detached());
        let taken = session.handle_input(request);
        let mut out = [0u8; 16];
        assert_eq!(session.poll_transmit(&mut out), replied);
        drop(session);
        let events = trace
            .events()
            .iter()
            .map(|e| match &e.what {
                What::Message(m) => format!("{}: {}", e.from.name(), m.summary),
                other => format!("{}: {other:?}", e.from.name()),
            })
            .collect();
        (taken, events)
    }

    #[test]
    fn a_traced_adder_session_shows_request_reply_and_close() {
        let request = b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e.";
        let (taken, events) = adder_events(request, 4);
        assert_eq!(taken, request.len());
        assert_eq!(
            events,
            [
                "client: Open",
                "client: request, 16 bytes: 2 ints, sum 3",
                "server: reply, 4 bytes: the sum 3",
                "server: Close"
            ]
        );
    }

    #[test]
    fn a_refused_request_is_shown_before_the_close() {
        // PROTO 2, then GLOBAL os.system: refused, closed without an answer.
        assert_eq!(
            adder_events(b"\x0a\x00\x00\x00\x80\x02cos\nsystem\n", 0).1,
            [
                "client: Open",
                "client: request, 14 bytes: refused",
                "server: Close"
            ]
        );
    }

    #[test]
    fn text_is_escaped_and_cut() {
        let message = text_message(b"\x1b[2Jhi\n");
        assert_eq!(message.summary, "7 bytes: \"\\x1b[2Jhi\\n\"");
        let long = text_message(&[b'a'; 200]);
        assert!(long.summary.ends_with("a\"..."), "{}", long.summary);
        assert_eq!(long.len, 200);
    }
}
