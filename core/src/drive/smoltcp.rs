//! The smoltcp drivers: a [`StreamSession`] over a
//! [`smoltcp::socket::tcp::Socket`], and the UDP chat
//! ([`ChatState`](crate::chat::ChatState)) over a
//! [`smoltcp::socket::udp::Socket`], both without copies.
//!
//! The chat needs no driver object: [`chat_receive`] hands each received
//! datagram to a closure in place, and [`chat_send`] queues an
//! [`Action::Send`](crate::chat::Action::Send); see
//! [its section](#the-udp-chat).
//!
//! A [`TcpDriver`] owns one session for one connection. Each
//! [`poll`](TcpDriver::poll) hands the socket's receive ring to
//! [`handle_input`](StreamSession::handle_input) in place (smoltcp's
//! `recv(|buf| ...)`), lets [`poll_transmit`](StreamSession::poll_transmit)
//! write straight into the send ring (`send(|buf| ...)`), passes the
//! session's events to a closure, and repeats while bytes move. Each
//! closure call sees one contiguous piece of a ring, so a ring that wraps
//! takes two calls; the loop makes them.
//!
//! # End of stream and closing
//!
//! - smoltcp's `recv` returns `Ok(0)` when nothing is there *now*, and
//!   `Err(RecvError::Finished)` once the peer's FIN has been read past: the
//!   driver then calls [`handle_eof`](StreamSession::handle_eof), once.
//! - When the session [is finished](StreamSession::is_finished) and the
//!   socket's send queue is empty (every byte acknowledged), the driver
//!   calls `socket.close()`, which sends a FIN. From then on it discards
//!   whatever the peer still sends, so a peer that is still writing is not
//!   stuck on a zero window and sees the FIN.
//! - A socket that is reset or times out (state `Closed` or `TimeWait`
//!   while the session still runs) means the peer is gone: the driver gives
//!   the session what was already received, then `handle_eof`, and reports
//!   [`Status::Finished`]; output not yet sent is dropped.
//!
//! # Call order with the interface
//!
//! smoltcp moves packets in `Interface`'s polls; the driver moves bytes
//! between socket buffers and sessions. [`serve`] is one round of a
//! server's main loop, in the order that serves every client:
//!
//! 1. `iface.poll_maintenance(now)`;
//! 2. one received packet at a time (`iface.poll_ingress_single`), and the
//!    caller's `drive` after each one that changed a socket: [`TcpDriver::poll`]
//!    for every socket, handling events, and `listen` again, with a fresh
//!    driver and session, on the sockets whose status is
//!    [`Status::Finished`];
//! 3. `drive` again, then `iface.poll_egress`, until neither moves: output
//!    a session queued leaves at once.
//!
//! Call it again while it returns `true`; then sleep until
//! `iface.poll_delay(now, sockets)` or the next packet.
//!
//! Step 2 is why `Interface::poll`, which takes in every waiting packet
//! before returning, is not enough for a server. A course's client sends
//! its FIN and, at once, the SYN of its next connection: if both are taken
//! in one `poll`, the socket that the FIN closed is not listening yet when
//! the SYN is processed, and with every other socket busy the SYN is reset.
//!
//! # Listening for several clients
//!
//! smoltcp has no backlog and no `accept`: a listening socket *becomes* the
//! connection when a SYN arrives. To serve `n` clients at once, add `n`
//! sockets that all `listen` on the same port (a SYN goes to the first one
//! still listening), one [`TcpDriver`] each. When a connection ends
//! ([`Status::Finished`]), call `listen` again on that socket and replace
//! its driver with `TcpDriver::new(fresh_session)`. While all `n` are busy,
//! new SYNs are answered with a reset.
//!
//! # Buffer sizes
//!
//! The socket's receive buffer is the TCP window: it bounds how much the
//! peer may send ahead, and the driver never copies it. The send buffer
//! holds what the session wrote until the peer acknowledges it. Sessions
//! make progress with any sizes (the tests run the adder through 64-byte
//! buffers); one or two MSS (1460 bytes on Ethernet) on each side is a good
//! start on a microcontroller, more for throughput. Memory is the session
//! (432 bytes for the adder, under 700 for echo) plus the two buffers,
//! per socket. Consider `socket.set_timeout` and `socket.set_keep_alive`
//! so that a peer that vanishes does not hold a socket forever: smoltcp
//! itself waits without limit in `FIN-WAIT-2` for a peer that never closes.
//!
//! # Example
//!
//! An adder server on port 1234 with two sockets, over smoltcp's in-memory
//! `Loopback` device with a virtual clock (the device, the clock and the
//! buffers are the caller's; on a board they are the Ethernet driver, a
//! timer and `static` arrays). The client is a plain smoltcp socket.
//!
//! ```
//! use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
//! use smoltcp::phy::{Loopback, Medium};
//! use smoltcp::socket::tcp;
//! use smoltcp::time::{Duration, Instant};
//! use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
//! use reseau_core::adder::{AdderSession, Event};
//! use reseau_core::drive::smoltcp::{Status, TcpDriver, serve};
//!
//! const PORT: u16 = 1234;
//!
//! /// Drives every connection; a finished one listens again.
//! fn drive(
//!     sockets: &mut SocketSet<'_>,
//!     server: &mut [(SocketHandle, TcpDriver<AdderSession>)],
//!     log: &mut impl FnMut(Event),
//! ) -> bool {
//!     let mut ended = false;
//!     for (handle, driver) in server.iter_mut() {
//!         let socket = sockets.get_mut::<tcp::Socket>(*handle);
//!         if driver.poll(socket, &mut *log) == Status::Finished {
//!             // Ready for the next client.
//!             *driver = TcpDriver::new(AdderSession::default());
//!             let _ = socket.listen(PORT);
//!             ended = true;
//!         }
//!     }
//!     ended
//! }
//!
//! fn socket<'a>(rx: &'a mut [u8], tx: &'a mut [u8]) -> tcp::Socket<'a> {
//!     let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
//!     // smoltcp delays ACKs by 10 ms by default.
//!     socket.set_ack_delay(None);
//!     socket
//! }
//!
//! let mut device = Loopback::new(Medium::Ip);
//! let mut now = Instant::from_millis(0);
//! let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
//! iface.update_ip_addrs(|addrs| {
//!     let _ = addrs.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
//! });
//! let mut storage: [_; 3] = Default::default();
//! let mut sockets = SocketSet::new(&mut storage[..]);
//! let mut bufs = [[0u8; 1024]; 6];
//! let [r0, t0, r1, t1, rc, tc] = &mut bufs;
//! let mut server = [r0, r1].into_iter().zip([t0, t1]).map(|(rx, tx)| {
//!     let mut s = socket(rx, tx);
//!     s.listen(PORT).unwrap();
//!     (sockets.add(s), TcpDriver::new(AdderSession::default()))
//! }).collect::<Vec<_>>();
//!
//! let client = sockets.add(socket(rc, tc));
//! sockets
//!     .get_mut::<tcp::Socket>(client)
//!     .connect(iface.context(), (IpAddress::v4(127, 0, 0, 1), PORT), 49152)
//!     .unwrap();
//! // struct.pack("I", 12) + pickle.dumps([1, 2], protocol=2)
//! let mut request = &b"\x0c\x00\x00\x00\x80\x02]q\x00(K\x01K\x02e."[..];
//! let mut reply = [0u8; 4];
//! let mut got = 0;
//! let mut events = Vec::new();
//! for _ in 0..1000 {
//!     // Bounded, so that the loop gets to do other work.
//!     for _ in 0..64 {
//!         let mut log = |e| events.push(e);
//!         if !serve(&mut iface, now, &mut device, &mut sockets, |s| drive(s, &mut server, &mut log)) {
//!             break;
//!         }
//!     }
//!     let c = sockets.get_mut::<tcp::Socket>(client);
//!     if c.can_send() && !request.is_empty() {
//!         let n = c.send_slice(request).unwrap();
//!         request = &request[n..];
//!     }
//!     if c.can_recv() {
//!         got += c.recv_slice(&mut reply[got..]).unwrap();
//!     }
//!     if got == 4 {
//!         break;
//!     }
//!     // Nothing to do: the virtual clock jumps to the next timer.
//!     now += iface.poll_delay(now, &sockets).unwrap_or(Duration::from_millis(1));
//! }
//! assert_eq!(u32::from_le_bytes(reply), 3);
//! assert_eq!(events.len(), 1);
//! ```
//!
//! `tests/smoltcp_loopback.rs` runs whole exchanges over smoltcp's
//! in-memory `Loopback` device with a virtual clock.
//!
//! # The UDP chat
//!
//! One `udp::Socket`, bound to the chat's port, and one
//! [`ChatState<IpEndpoint>`](crate::chat::ChatState) make a peer. In
//! [`serve`]'s `drive`, [`chat_receive`] passes every waiting datagram to
//! a closure as `(sender, payload)`; the payload is borrowed from the
//! socket's receive ring, not copied. For each line the user types,
//! [`ChatState::handle_line`](crate::chat::ChatState::handle_line) says
//! what to do:
//!
//! - [`Action::Join`](crate::chat::Action::Join): resolving `host` is the
//!   caller's. A board without DNS can accept IP literals only:
//!   `core::net::Ipv4Addr::from_str(host)` then `IpAddress::Ipv4` (or
//!   `IpAddr` and `IpAddress::from` with smoltcp's `proto-ipv6`), and
//!   `chat.join(IpEndpoint::new(address, port))`; refuse a name such as
//!   `localhost` with a message. (With smoltcp's `socket-dns`, a
//!   `dns::Socket` query can resolve names, over several polls.)
//! - [`Action::Send`](crate::chat::Action::Send): [`chat_send`] queues
//!   `text` as one datagram to `to`, copied once into the socket's send
//!   ring (UDP needs the whole datagram at once); the next [`serve`] (or
//!   `Interface::poll`) sends it.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use core::str::FromStr;
//! use smoltcp::socket::udp::{PacketBuffer, PacketMetadata, Socket};
//! use smoltcp::wire::{IpAddress, IpEndpoint};
//! use reseau_core::chat::{Action, ChatState};
//! use reseau_core::drive::smoltcp::{chat_send, ChatSendError};
//!
//! let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 4], [PacketMetadata::EMPTY; 4]);
//! let (mut rx, mut tx) = ([0u8; 1500], [0u8; 256]);
//! let mut socket = Socket::new(
//!     PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
//!     PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
//! );
//! socket.bind(5000).unwrap();
//!
//! let mut chat = ChatState::<IpEndpoint>::new();
//! if let Ok(Action::Join { host, port }) = chat.handle_line("/join 127.0.0.1 5001") {
//!     // No DNS here: IP literals only.
//!     let address = Ipv4Addr::from_str(host).expect("an IPv4 address");
//!     chat.join(IpEndpoint::new(IpAddress::Ipv4(address), port));
//! }
//! if let Ok(Action::Send { to, text, .. }) = chat.handle_line("/send Hello") {
//!     chat_send(&mut socket, to, text).unwrap();
//! }
//! let long = format!("/send {}", "x".repeat(300));
//! if let Ok(Action::Send { to, text, .. }) = chat.handle_line(&long) {
//!     assert_eq!(
//!         chat_send(&mut socket, to, text),
//!         Err(ChatSendError::TooLarge { len: 300, capacity: 256 })
//!     );
//! }
//! ```
//!
//! ## Buffer sizes
//!
//! A `udp::PacketBuffer` has a metadata ring (how many datagrams) and a
//! payload ring (how many bytes). smoltcp reports a full send buffer as
//! `SendError::BufferFull` in two cases that [`chat_send`] tells apart:
//!
//! - [`ChatSendError::TooLarge`]: the datagram is larger than the whole
//!   payload ring, so it will *never* fit (smoltcp would say `BufferFull`
//!   forever). Give the socket a larger send ring, or send less.
//! - [`ChatSendError::BufferFull`]: earlier datagrams still fill the rings;
//!   poll the interface so that they leave, then try again.
//!
//! A received datagram larger than the receive payload ring (or arriving
//! while it is full) is dropped by smoltcp without a trace, so size the
//! receive ring for the largest message expected. And without smoltcp's
//! `proto-ipv4-fragmentation` feature, a datagram whose IP packet exceeds
//! the device's MTU is dropped when sent: on Ethernet (MTU 1500) that is
//! any text over 1472 bytes over IPv4.

use core::fmt;

use smoltcp::iface::{Interface, PollIngressSingleResult, PollResult, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp::{RecvError, Socket, State};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;

use crate::session::{End, StreamSession};

/// Packets taken in one at a time by one [`serve`] call, at most: the
/// rest wait for the next call, so that a flood cannot hold the loop.
pub const MAX_PACKETS_PER_ROUND: usize = 64;

/// One round of a server's main loop over `iface`: maintenance, then every
/// waiting packet **one at a time** (up to [`MAX_PACKETS_PER_ROUND`]) with
/// `drive` after each that changed a socket, then `drive` and sending, in
/// turn, until neither moves. See the module's "Call order".
///
/// `drive` runs the caller's [`TcpDriver`]s (and `listen`s again on the
/// finished sockets) and its UDP sockets. It returns whether it changed
/// something that only another turn can carry on (a socket listening again,
/// a datagram handled): what a session wrote is sent anyway, since sending
/// follows every `drive`. Returns whether anything moved (a packet in or
/// out, or `drive` said so): call again while it does, then sleep until
/// `iface.poll_delay` or the next packet.
pub fn serve<'a, D: Device + ?Sized>(
    iface: &mut Interface,
    now: Instant,
    device: &mut D,
    sockets: &mut SocketSet<'a>,
    mut drive: impl FnMut(&mut SocketSet<'a>) -> bool,
) -> bool {
    iface.poll_maintenance(now);
    let mut moved = drive(sockets);
    for _ in 0..MAX_PACKETS_PER_ROUND {
        match iface.poll_ingress_single(now, device, sockets) {
            PollIngressSingleResult::None => break,
            PollIngressSingleResult::PacketProcessed => moved = true,
            // A finished socket listens again before the next packet.
            PollIngressSingleResult::SocketStateChanged => {
                moved = true;
                drive(sockets);
            }
        }
    }
    // `drive` first, so that what it queues leaves in the same round. Each
    // round sends a packet or `drive` acted; the rings are finite and
    // nothing arrives meanwhile, so this ends (and is bounded anyway).
    for _ in 0..MAX_PACKETS_PER_ROUND {
        let driven = drive(sockets);
        let sent = iface.poll_egress(now, device, sockets) == PollResult::SocketStateChanged;
        if !sent && !driven {
            break;
        }
        moved = true;
    }
    moved
}

/// What a [`TcpDriver::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// No connection has reached the session yet: the socket is not yet
    /// listening or connecting, or it is listening, or in its handshake.
    /// Nothing was done.
    Waiting,
    /// The connection is open: bytes may move, or the session's last
    /// output and the FIN are on their way.
    Active,
    /// The connection is over (closed by both sides, or reset by the
    /// peer, even before the session saw it open; or a `connect` that was
    /// refused or timed out) and the socket is free: `listen` or `connect`
    /// it again with a new driver. Polling again reports `Finished` and
    /// does nothing.
    Finished,
}

/// Where the driver is in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No connection seen yet.
    Waiting,
    /// Connected; `eof` once `handle_eof` was called.
    Open { eof: bool },
    /// The session finished and the socket was closed; waiting for the
    /// peer's FIN or the last ACK. `after_eof`: the peer had closed first.
    Closing { after_eof: bool },
    /// Over.
    Finished(End),
}

/// Runs one session over one smoltcp TCP socket.
///
/// The driver owns the session and remembers where the connection is, so
/// that `handle_eof` is called once and a session never sees a later
/// connection's bytes. Make a new driver for each connection.
#[derive(Debug, Clone)]
pub struct TcpDriver<S> {
    session: S,
    phase: Phase,
    /// The socket was seen listening or in a handshake: if it is closed
    /// before the driver saw it open, that connection died unseen (a
    /// reset within one poll of the interface), not a socket not yet used.
    armed: bool,
}

impl<S: StreamSession> TcpDriver<S> {
    /// A driver for a socket that is listening, connecting or about to be.
    pub const fn new(session: S) -> Self {
        TcpDriver {
            session,
            phase: Phase::Waiting,
            armed: false,
        }
    }

    /// The session.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The session, to change its settings.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// Gives back the session.
    pub fn into_session(self) -> S {
        self.session
    }

    /// How the connection ended, once it has (`poll` reported
    /// [`Status::Finished`]): [`End::ClosedByPeer`],
    /// [`End::ClosedByServer`] or [`End::Reset`] (reset, timed out, or a
    /// `connect` that failed).
    pub fn end(&self) -> Option<End> {
        match self.phase {
            Phase::Finished(end) => Some(end),
            _ => None,
        }
    }

    /// Moves bytes between `socket` and the session while they move, and
    /// passes the session's events to `on_event`. Call it in [`serve`]'s
    /// `drive`, for every socket.
    pub fn poll(&mut self, socket: &mut Socket<'_>, mut on_event: impl FnMut(S::Event)) -> Status {
        if self.phase == Phase::Waiting {
            match socket.state() {
                // Listening or in the handshake: smoltcp refuses to read
                // until it is done, and a reset in SYN-RECEIVED puts the
                // socket back to listening. Closed or TimeWait: not yet
                // listening or connecting, or a previous connection's.
                State::Listen | State::SynSent | State::SynReceived => {
                    self.armed = true;
                    return Status::Waiting;
                }
                // A connection opened and reset between two polls: over,
                // so that the caller listens again.
                State::Closed | State::TimeWait if self.armed => {
                    self.phase = Phase::Finished(End::Reset);
                    return Status::Finished;
                }
                State::Closed | State::TimeWait => return Status::Waiting,
                _ => self.phase = Phase::Open { eof: false },
            }
        }
        match self.phase {
            Phase::Waiting | Phase::Finished(_) => {}
            Phase::Open { .. } => self.run(socket, &mut on_event),
            Phase::Closing { .. } => discard(socket),
        }
        if let Phase::Closing { after_eof } = self.phase
            && !socket.is_active()
        {
            self.phase = Phase::Finished(if after_eof {
                End::ClosedByPeer
            } else {
                End::ClosedByServer
            });
        }
        match self.phase {
            Phase::Waiting => Status::Waiting,
            Phase::Open { .. } | Phase::Closing { .. } => Status::Active,
            Phase::Finished(_) => Status::Finished,
        }
    }

    /// The session's part: input, events, output, repeated while bytes
    /// move; then close or finish.
    fn run(&mut self, socket: &mut Socket<'_>, on_event: &mut impl FnMut(S::Event)) {
        let session = &mut self.session;
        // Each round moves at least one byte or gives the EOF; the rings
        // are finite and no packet arrives meanwhile, so this ends.
        loop {
            let mut progress = false;
            let mut eof = matches!(self.phase, Phase::Open { eof: true });
            if !eof && !session.is_finished() {
                let read = socket.recv(|buf| {
                    let n = if buf.is_empty() {
                        0
                    } else {
                        session.handle_input(buf)
                    };
                    (n, n)
                });
                match read {
                    Ok(n) => progress |= n > 0,
                    Err(RecvError::Finished) => eof = true,
                    // Not readable: either the handshake is not over (not
                    // here, since the phase is Open) or the connection was
                    // reset or timed out, which is the peer going away.
                    Err(_) => eof = !socket.is_active(),
                }
                if eof {
                    session.handle_eof();
                    self.phase = Phase::Open { eof: true };
                    progress = true;
                }
            }
            while let Some(event) = session.poll_event() {
                on_event(event);
            }
            if socket.may_send() {
                let sent = socket.send(|buf| {
                    let n = if buf.is_empty() {
                        0
                    } else {
                        session.poll_transmit(buf)
                    };
                    (n, n)
                });
                if let Ok(n) = sent {
                    progress |= n > 0;
                }
            }
            if !progress {
                break;
            }
        }
        if !socket.is_active() {
            // Reset or timed out (the driver closes only through
            // `Closing`, even after the peer's FIN): nothing more can be
            // sent.
            if !matches!(self.phase, Phase::Open { eof: true }) && !session.is_finished() {
                session.handle_eof();
                while let Some(event) = session.poll_event() {
                    on_event(event);
                }
            }
            self.phase = Phase::Finished(End::Reset);
        } else if session.is_finished() {
            // It takes nothing more: what the peer sends now is dropped.
            discard(socket);
            if socket.send_queue() == 0 || !socket.may_send() {
                socket.close();
                self.phase = Phase::Closing {
                    after_eof: matches!(self.phase, Phase::Open { eof: true }),
                };
            }
        }
    }
}

/// Drops what the peer sends after the session finished, so that it is
/// not held on a zero window.
fn discard(socket: &mut Socket<'_>) {
    // Two pieces at most: the ring may wrap once.
    for _ in 0..2 {
        match socket.recv(|buf| (buf.len(), buf.len())) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Passes every datagram waiting in `socket` to `on_datagram`, as
/// `(sender, payload)`, the payload borrowed from the socket's receive
/// ring; returns how many there were. Call it in [`serve`]'s `drive`, so
/// that after every packet taken in, the ring is emptied.
///
/// The payload is the peer's bytes as sent: the course's peers send UTF-8
/// text, but nothing checks it (`core::str::from_utf8` does).
pub fn chat_receive(
    socket: &mut udp::Socket<'_>,
    mut on_datagram: impl FnMut(IpEndpoint, &[u8]),
) -> usize {
    let mut count = 0;
    // No packet arrives meanwhile: at most a ring's worth is waiting.
    for _ in 0..socket.packet_recv_capacity() {
        match socket.recv() {
            Ok((payload, meta)) => {
                on_datagram(meta.endpoint, payload);
                count += 1;
            }
            Err(_) => break,
        }
    }
    count
}

/// Queues `text` as one datagram to `to`: what
/// [`Action::Send`](crate::chat::Action::Send) asks for. The next
/// [`serve`] (or `Interface::poll`) sends it.
pub fn chat_send(
    socket: &mut udp::Socket<'_>,
    to: IpEndpoint,
    text: &str,
) -> Result<(), ChatSendError> {
    match socket.send_slice(text.as_bytes(), to) {
        Ok(()) => Ok(()),
        Err(udp::SendError::Unaddressable) => Err(ChatSendError::Unaddressable),
        Err(udp::SendError::BufferFull) => {
            let capacity = socket.payload_send_capacity();
            if text.len() > capacity {
                Err(ChatSendError::TooLarge {
                    len: text.len(),
                    capacity,
                })
            } else {
                Err(ChatSendError::BufferFull)
            }
        }
    }
}

/// Why [`chat_send`] queued nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatSendError {
    /// The datagram is larger than the socket's whole send payload ring:
    /// it can never be sent through this socket, however long one waits.
    TooLarge {
        /// The datagram's length in bytes.
        len: usize,
        /// The send payload ring's size in bytes.
        capacity: usize,
    },
    /// The send rings are full of datagrams not sent yet, for now: poll the
    /// interface, then try again.
    BufferFull,
    /// The socket is not bound to a port, or the peer's address or port is
    /// unspecified (`0.0.0.0`, `::`, port 0).
    Unaddressable,
}

impl fmt::Display for ChatSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatSendError::TooLarge { len, capacity } => write!(
                f,
                "a datagram of {len} bytes is too large for this socket's buffer ({capacity} bytes)"
            ),
            ChatSendError::BufferFull => {
                f.write_str("the socket's send buffer is full for now: try again after a poll")
            }
            ChatSendError::Unaddressable => {
                f.write_str("the socket is not bound, or the peer's address or port is unspecified")
            }
        }
    }
}

impl core::error::Error for ChatSendError {}
