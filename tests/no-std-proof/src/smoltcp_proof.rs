//! The `smoltcp` part of the proof: a smoltcp `Interface` on a scripted,
//! allocator-free IP device, with an adder and an echo socket run by
//! `reseau_core::drive::smoltcp::TcpDriver`, which links smoltcp (without
//! its `std` and `alloc` features) and the driver with no std and no
//! allocator.
//!
//! The device is null unless told otherwise: `receive` hands out the one
//! frame the proof put there (if any), `transmit` hands out a token that
//! writes into a stack buffer, keeps the packet's first bytes for the
//! checks and drops it. The proof plays a TCP client by hand, one segment
//! at a time: SYN, ACK, a pickle request with FIN, then the ACKs of the
//! server's reply and FIN; and checks the socket states, the driver's
//! [`Status`] and the segments the interface sends back.
//!
//! A third socket, UDP, carries the chat: a `ChatState<IpEndpoint>` takes
//! `/join 127.0.0.1 5001` (the IP literal parsed with `core::net`) and
//! `/send hello`; `chat_send` queues the datagram and the proof checks the
//! interface transmits it, byte for byte; `chat_receive` on the socket,
//! which nothing reached, hands out nothing.

use core::hint::black_box;
use core::net::IpAddr;
use core::str::FromStr;

use reseau_core::adder::{AdderSession, Event};
use reseau_core::chat::{Action, ChatError, ChatState};
use reseau_core::drive::smoltcp::{Status, TcpDriver, chat_receive, chat_send};
use reseau_core::echo::EchoSession;
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{Socket, SocketBuffer, State};
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr,
    TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket,
};

/// The device's MTU (IP, as `Medium::Ip` has no link header).
const MTU: usize = 1500;
/// Bytes kept of the last packet sent, for the checks.
const KEEP: usize = 128;

const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const CLIENT: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
const ADDER_PORT: u16 = 1234;
const ECHO_PORT: u16 = 7;
const CLIENT_PORT: u16 = 49152;
/// The chat socket's port, and the peer it joins.
const CHAT_PORT: u16 = 5000;
const CHAT_PEER: Ipv4Address = Ipv4Address::new(127, 0, 0, 1);
const CHAT_PEER_PORT: u16 = 5001;
const CHAT_TEXT: &str = "hello";
/// The client's initial sequence number.
const CLIENT_ISN: TcpSeqNumber = TcpSeqNumber(1000);

/// A `Medium::Ip` device with no link: see the module's docs.
struct ScriptDevice<'f> {
    /// The frame the next `receive` hands out.
    inbound: Option<&'f [u8]>,
    /// Packets sent so far.
    sent: usize,
    /// The first bytes of the last packet sent, and how many.
    last: [u8; KEEP],
    last_len: usize,
}

struct Rx<'a>(&'a [u8]);

struct Tx<'a> {
    sent: &'a mut usize,
    last: &'a mut [u8; KEEP],
    last_len: &'a mut usize,
}

impl RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        // On the stack, then dropped: nothing leaves the process.
        let mut buf = [0u8; MTU];
        // smoltcp never asks for more than the MTU.
        let packet = buf.get_mut(..len).unwrap_or_default();
        let result = f(packet);
        let keep = packet.len().min(KEEP);
        if let (Some(dst), Some(src)) = (self.last.get_mut(..keep), packet.get(..keep)) {
            dst.copy_from_slice(src);
        }
        *self.last_len = keep;
        *self.sent += 1;
        result
    }
}

impl<'f> Device for ScriptDevice<'f> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let frame = self.inbound.take()?;
        Some((
            Rx(frame),
            Tx {
                sent: &mut self.sent,
                last: &mut self.last,
                last_len: &mut self.last_len,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            sent: &mut self.sent,
            last: &mut self.last,
            last_len: &mut self.last_len,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Writes a TCP segment from the client to the adder port into `buf`, as
/// an IPv4 packet with valid checksums; returns it.
fn segment<'b>(
    buf: &'b mut [u8; KEEP],
    control: TcpControl,
    seq_number: TcpSeqNumber,
    ack_number: Option<TcpSeqNumber>,
    payload: &[u8],
) -> Result<&'b [u8], &'static str> {
    let tcp = TcpRepr {
        src_port: CLIENT_PORT,
        dst_port: ADDER_PORT,
        control,
        seq_number,
        ack_number,
        window_len: 1024,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: CLIENT,
        dst_addr: SERVER,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let len = ip.buffer_len() + tcp.buffer_len();
    let bytes = buf.get_mut(..len).ok_or("a client segment is too long")?;
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(&mut *bytes);
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(CLIENT),
        &IpAddress::Ipv4(SERVER),
        &caps,
    );
    Ok(bytes)
}

/// The last segment the interface sent, if it was TCP over IPv4 from the
/// adder port to the client.
fn last_sent<'d>(device: &'d ScriptDevice<'_>) -> Result<TcpPacket<&'d [u8]>, &'static str> {
    let bytes = device.last.get(..device.last_len).unwrap_or_default();
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| "the interface sent no IPv4 packet")?;
    if ip.next_header() != IpProtocol::Tcp || ip.dst_addr() != CLIENT {
        return Err("the interface sent a packet that is not TCP to the client");
    }
    let tcp = TcpPacket::new_checked(ip.payload()).map_err(|_| "the interface sent bad TCP")?;
    if tcp.src_port() != ADDER_PORT || tcp.dst_port() != CLIENT_PORT {
        return Err("the interface sent TCP on the wrong ports");
    }
    Ok(tcp)
}

/// The last packet the interface sent, if it was UDP over IPv4 from the
/// chat port to the joined peer: its payload.
fn last_datagram<'d>(device: &'d ScriptDevice<'_>) -> Result<&'d [u8], &'static str> {
    let bytes = device.last.get(..device.last_len).unwrap_or_default();
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| "the interface sent no IPv4 packet")?;
    if ip.next_header() != IpProtocol::Udp || ip.dst_addr() != CHAT_PEER {
        return Err("the interface sent a packet that is not UDP to the chat peer");
    }
    // The whole IP packet was kept: its UDP checksum can be verified.
    if !ip.verify_checksum() {
        return Err("the interface sent a bad IPv4 checksum");
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| "the interface sent bad UDP")?;
    if udp.src_port() != CHAT_PORT || udp.dst_port() != CHAT_PEER_PORT {
        return Err("the interface sent UDP on the wrong ports");
    }
    if !udp.verify_checksum(&src, &dst) {
        return Err("the interface sent a bad UDP checksum");
    }
    Ok(udp.payload())
}

/// The server side: an interface and three sockets, an adder and an echo,
/// each with its driver, and the chat's; and what the drivers reported.
struct Server<'s> {
    now: Instant,
    iface: Interface,
    sockets: SocketSet<'s>,
    adder: SocketHandle,
    echo: SocketHandle,
    chat: SocketHandle,
    adder_driver: TcpDriver<AdderSession>,
    echo_driver: TcpDriver<EchoSession>,
    /// The adder's sums, in order; `i64::MIN` for a rejected request.
    answered: [Option<i64>; 2],
    /// The adder's events.
    seen: usize,
    echo_events: usize,
}

impl Server<'_> {
    /// One round of a main loop, 1 ms after the last: the interface, then
    /// both drivers. Not inlined, as a board's main loop would call it
    /// from one place; the sockets go through `black_box` so that their
    /// states stay opaque and the drivers' code is linked whole.
    #[inline(never)]
    fn round(&mut self, device: &mut ScriptDevice<'_>) -> (PollResult, Status, Status) {
        self.now += Duration::from_millis(1);
        let result = self.iface.poll(self.now, device, &mut self.sockets);
        let (answered, seen) = (&mut self.answered, &mut self.seen);
        let adder = self.adder_driver.poll(
            black_box(self.sockets.get_mut::<Socket>(self.adder)),
            |event| {
                let sum = match event {
                    Event::Answered { sum, .. } => sum,
                    Event::Rejected(_) => i64::MIN,
                };
                if let Some(slot) = answered.get_mut(*seen) {
                    *slot = Some(sum);
                }
                *seen += 1;
            },
        );
        let echo_events = &mut self.echo_events;
        let echo = self
            .echo_driver
            .poll(black_box(self.sockets.get_mut::<Socket>(self.echo)), |_| {
                *echo_events += 1
            });
        (result, adder, echo)
    }
}

/// Runs the adder socket through one connection carrying `request` (a
/// framed pickle request for `sum`, which fits in one segment); checks the
/// echo socket keeps listening; then the chat on the UDP socket
/// ([`check_chat`]).
pub fn check(request: &[u8], sum: i64) -> Result<(), &'static str> {
    let mut device = ScriptDevice {
        // Nothing arrives until the proof puts a segment there.
        inbound: None,
        sent: 0,
        last: [0; KEEP],
        last_len: 0,
    };
    let now = Instant::from_millis(0);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(SERVER), 24));
    });

    let mut storage = [SocketStorage::EMPTY; 3];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let (mut adder_rx, mut adder_tx) = ([0u8; 256], [0u8; 256]);
    let (mut echo_rx, mut echo_tx) = ([0u8; 256], [0u8; 256]);
    let adder = sockets.add(Socket::new(
        SocketBuffer::new(&mut adder_rx[..]),
        SocketBuffer::new(&mut adder_tx[..]),
    ));
    let echo = sockets.add(Socket::new(
        SocketBuffer::new(&mut echo_rx[..]),
        SocketBuffer::new(&mut echo_tx[..]),
    ));
    // The chat's UDP socket: room for 4 datagrams each way.
    let (mut chat_rx_meta, mut chat_tx_meta) = (
        [udp::PacketMetadata::EMPTY; 4],
        [udp::PacketMetadata::EMPTY; 4],
    );
    let (mut chat_rx, mut chat_tx) = ([0u8; 256], [0u8; 256]);
    let chat = sockets.add(udp::Socket::new(
        udp::PacketBuffer::new(&mut chat_rx_meta[..], &mut chat_rx[..]),
        udp::PacketBuffer::new(&mut chat_tx_meta[..], &mut chat_tx[..]),
    ));
    sockets
        .get_mut::<udp::Socket>(chat)
        .bind(black_box(CHAT_PORT))
        .map_err(|_| "smoltcp: bind on the chat port failed")?;
    let mut server = Server {
        now,
        iface,
        sockets,
        adder,
        echo,
        chat,
        adder_driver: TcpDriver::new(AdderSession::default()),
        echo_driver: TcpDriver::new(EchoSession::new()),
        answered: [None; 2],
        seen: 0,
        echo_events: 0,
    };

    // Closed sockets: the drivers wait.
    if server.round(&mut device) != (PollResult::None, Status::Waiting, Status::Waiting) {
        return Err("smoltcp: a driver on a closed socket did not wait");
    }
    server
        .sockets
        .get_mut::<Socket>(adder)
        .listen(black_box(ADDER_PORT))
        .map_err(|_| "smoltcp: listen on the adder port failed")?;
    server
        .sockets
        .get_mut::<Socket>(echo)
        .listen(black_box(ECHO_PORT))
        .map_err(|_| "smoltcp: listen on the echo port failed")?;
    // Listening, nothing on the wire: nothing happens, nothing is sent.
    for _ in 0..3 {
        if server.round(&mut device) != (PollResult::None, Status::Waiting, Status::Waiting) {
            return Err("smoltcp: a driver on a listening socket did not wait");
        }
    }
    if device.sent != 0 || server.sockets.get_mut::<Socket>(adder).state() != State::Listen {
        return Err("smoltcp: an idle listening socket did something");
    }

    // SYN: the adder socket answers SYN-ACK; the driver still waits.
    let mut frame = [0u8; KEEP];
    device.inbound = Some(segment(&mut frame, TcpControl::Syn, CLIENT_ISN, None, &[])?);
    let (_, a, e) = server.round(&mut device);
    if (a, e) != (Status::Waiting, Status::Waiting)
        || server.sockets.get_mut::<Socket>(adder).state() != State::SynReceived
    {
        return Err("smoltcp: the SYN did not put the adder socket in SYN-RECEIVED");
    }
    let server_isn = {
        let syn_ack = last_sent(&device)?;
        if !syn_ack.syn() || !syn_ack.ack() || syn_ack.ack_number() != CLIENT_ISN + 1 {
            return Err("smoltcp: the interface did not send a SYN-ACK");
        }
        syn_ack.seq_number()
    };

    // ACK: established; the driver takes the connection.
    let mut frame = [0u8; KEEP];
    device.inbound = Some(segment(
        &mut frame,
        TcpControl::None,
        CLIENT_ISN + 1,
        Some(server_isn + 1),
        &[],
    )?);
    let (_, a, e) = server.round(&mut device);
    if (a, e) != (Status::Active, Status::Waiting)
        || server.sockets.get_mut::<Socket>(adder).state() != State::Established
    {
        return Err("smoltcp: the ACK did not establish the connection");
    }

    // The request, with FIN: the driver answers, then the session is done.
    let mut frame = [0u8; KEEP];
    device.inbound = Some(segment(
        &mut frame,
        TcpControl::Fin,
        CLIENT_ISN + 1,
        Some(server_isn + 1),
        black_box(request),
    )?);
    let (_, a, _) = server.round(&mut device);
    if a != Status::Active || server.answered != [Some(sum), None] {
        return Err("smoltcp: the adder driver did not answer the request");
    }
    // The next poll sends the reply.
    let (_, a, _) = server.round(&mut device);
    let reply_end = {
        let reply = last_sent(&device)?;
        let sum = u32::try_from(sum).map_err(|_| "the pickle sum is too large")?;
        if a != Status::Active || reply.payload() != sum.to_le_bytes() {
            return Err("smoltcp: the interface did not send the adder's reply");
        }
        if reply.ack_number() != CLIENT_ISN + 1 + request.len() + 1 {
            return Err("smoltcp: the reply does not acknowledge the request and FIN");
        }
        reply.seq_number() + reply.payload().len()
    };

    // The client acknowledges the reply: the driver closes the socket and
    // the interface sends its FIN.
    let client_fin_end = CLIENT_ISN + 1 + request.len() + 1;
    let mut frame = [0u8; KEEP];
    device.inbound = Some(segment(
        &mut frame,
        TcpControl::None,
        client_fin_end,
        Some(reply_end),
        &[],
    )?);
    let (_, a, _) = server.round(&mut device);
    let (_, a2, _) = server.round(&mut device);
    {
        let fin = last_sent(&device)?;
        if (a, a2) != (Status::Active, Status::Active)
            || !fin.fin()
            || fin.seq_number() != reply_end
            || server.sockets.get_mut::<Socket>(adder).state() != State::LastAck
        {
            return Err("smoltcp: the driver did not close the finished session");
        }
    }

    // The client acknowledges the FIN: the connection is over.
    let mut frame = [0u8; KEEP];
    device.inbound = Some(segment(
        &mut frame,
        TcpControl::None,
        client_fin_end,
        Some(reply_end + 1),
        &[],
    )?);
    let (_, a, e) = server.round(&mut device);
    if (a, e) != (Status::Finished, Status::Waiting)
        || server.sockets.get_mut::<Socket>(adder).state() != State::Closed
        || server.sockets.get_mut::<Socket>(echo).state() != State::Listen
    {
        return Err("smoltcp: the connection did not finish");
    }
    if server.seen != 1 || server.echo_events != 0 {
        return Err("smoltcp: the drivers delivered the wrong events");
    }
    check_chat(&mut server, &mut device)
}

/// The chat on the server's UDP socket: nothing to receive; `/join` with
/// an IP literal, then `/send`, whose datagram the interface transmits.
fn check_chat(server: &mut Server<'_>, device: &mut ScriptDevice<'_>) -> Result<(), &'static str> {
    // Nothing was sent to the chat port: nothing to hand out.
    let mut datagrams = 0;
    let count = chat_receive(
        black_box(server.sockets.get_mut::<udp::Socket>(server.chat)),
        |_, _| datagrams += 1,
    );
    if count != 0 || datagrams != 0 {
        return Err("smoltcp: chat_receive handed out a datagram nobody sent");
    }

    let mut chat = ChatState::<IpEndpoint>::new();
    if chat.handle_line(black_box("/send too early")) != Err(ChatError::NotJoined) {
        return Err("chat: /send before /join was not refused");
    }
    // No DNS here: the host must be an IP literal.
    let peer = match chat.handle_line(black_box("/join 127.0.0.1 5001")) {
        Ok(Action::Join { host, port }) => {
            let address = IpAddr::from_str(host).map_err(|_| "chat: the host is no IP literal")?;
            IpEndpoint::new(IpAddress::from(address), port)
        }
        _ => return Err("chat: /join was not a Join action"),
    };
    if peer != IpEndpoint::new(IpAddress::Ipv4(CHAT_PEER), CHAT_PEER_PORT) {
        return Err("chat: /join parsed the wrong peer");
    }
    chat.join(peer);
    let sent_before = device.sent;
    match chat.handle_line(black_box("/send hello")) {
        Ok(Action::Send {
            to,
            text,
            cut: false,
        }) if to == peer && text == CHAT_TEXT => {
            chat_send(server.sockets.get_mut::<udp::Socket>(server.chat), to, text)
                .map_err(|_| "smoltcp: chat_send failed")?;
        }
        _ => return Err("chat: /send was not a Send action to the peer"),
    }
    // The next poll transmits the datagram, and only it.
    server.round(device);
    if device.sent != sent_before + 1 {
        return Err("smoltcp: the interface did not transmit the chat datagram");
    }
    if last_datagram(device)? != CHAT_TEXT.as_bytes() {
        return Err("smoltcp: the chat datagram's payload is wrong");
    }
    let count = chat_receive(
        black_box(server.sockets.get_mut::<udp::Socket>(server.chat)),
        |_, _| datagrams += 1,
    );
    if count != 0 || datagrams != 0 {
        return Err("smoltcp: chat_receive handed out a datagram after sending");
    }
    Ok(())
}
