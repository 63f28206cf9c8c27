//! The UDP chat over smoltcp's in-memory `Loopback` device: two peers on
//! 127.0.0.1, ports 5000 and 5001, each a `udp::Socket` and a
//! `ChatState<IpEndpoint>`, moved by `chat_send` and `chat_receive`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use core::net::Ipv4Addr;
use core::str::FromStr;

use common::Net;
use reseau_core::chat::{Action, ChatError, ChatState};
use reseau_core::drive::smoltcp::{ChatSendError, chat_receive, chat_send};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp::{PacketBuffer, PacketMetadata, Socket};
use smoltcp::wire::{IpAddress, IpEndpoint};

const PORT_A: u16 = 5000;
const PORT_B: u16 = 5001;

impl Net {
    /// A UDP socket bound to `port`, with `rx` and `tx` payload bytes and
    /// room for 4 datagrams each way.
    fn peer(&mut self, port: u16, rx: usize, tx: usize) -> SocketHandle {
        let buffer =
            |bytes: usize| PacketBuffer::new(vec![PacketMetadata::EMPTY; 4], vec![0; bytes]);
        let mut socket = Socket::new(buffer(rx), buffer(tx));
        socket.bind(port).unwrap();
        self.sockets.add(socket)
    }

    fn socket(&mut self, handle: SocketHandle) -> &mut Socket<'static> {
        self.sockets.get_mut::<Socket>(handle)
    }

    /// Polls until `handle` has received at least one datagram (at most
    /// 100 rounds); returns what it received, copied for the asserts.
    fn receive(&mut self, handle: SocketHandle) -> Vec<(IpEndpoint, Vec<u8>)> {
        let mut got = Vec::new();
        for _ in 0..100 {
            self.iface
                .poll(self.now, &mut self.device, &mut self.sockets);
            chat_receive(self.socket(handle), |from, payload| {
                got.push((from, payload.to_vec()));
            });
            if !got.is_empty() {
                break;
            }
            self.now += smoltcp::time::Duration::from_millis(1);
        }
        got
    }
}

/// What a board without DNS (nor IPv6) does with `Action::Join`: IPv4
/// literals only.
fn join<'a>(chat: &mut ChatState<IpEndpoint>, line: &'a str) -> Result<IpEndpoint, &'a str> {
    match chat.handle_line(line) {
        Ok(Action::Join { host, port }) => {
            let address = Ipv4Addr::from_str(host).map_err(|_| host)?;
            let peer = IpEndpoint::new(IpAddress::Ipv4(address), port);
            chat.join(peer);
            Ok(peer)
        }
        other => panic!("{line:?}: {other:?}"),
    }
}

/// Applies a `/send` line and queues its datagram; returns `cut`.
fn send(net: &mut Net, handle: SocketHandle, chat: &mut ChatState<IpEndpoint>, line: &str) -> bool {
    match chat.handle_line(line) {
        Ok(Action::Send { to, text, cut }) => {
            chat_send(net.socket(handle), to, text).unwrap();
            cut
        }
        other => panic!("{line:?}: {other:?}"),
    }
}

fn localhost(port: u16) -> IpEndpoint {
    IpEndpoint::new(IpAddress::v4(127, 0, 0, 1), port)
}

#[test]
fn two_peers_chat_over_loopback() {
    let mut net = Net::new();
    let a = net.peer(PORT_A, 2048, 2048);
    let b = net.peer(PORT_B, 2048, 2048);
    let mut chat_a = ChatState::<IpEndpoint>::new();
    let mut chat_b = ChatState::<IpEndpoint>::new();

    assert_eq!(chat_a.handle_line("/send Hello"), Err(ChatError::NotJoined));
    // No resolver: a name is refused, an IP literal is taken.
    assert_eq!(join(&mut chat_a, "/join localhost 5001"), Err("localhost"));
    assert_eq!(chat_a.peer(), None);
    assert_eq!(
        join(&mut chat_a, "/join 127.0.0.1 5001"),
        Ok(localhost(PORT_B))
    );

    assert!(!send(&mut net, a, &mut chat_a, "/send Hello"));
    assert_eq!(net.receive(b), [(localhost(PORT_A), b"Hello".to_vec())]);

    // B replies to the sender it saw.
    assert_eq!(
        join(&mut chat_b, "/join 127.0.0.1 5000"),
        Ok(localhost(PORT_A))
    );
    assert!(!send(
        &mut net,
        b,
        &mut chat_b,
        "/send Hello to you too  \n"
    ));
    assert_eq!(
        net.receive(a),
        [(localhost(PORT_B), b"Hello to you too".to_vec())]
    );

    // Longer than the course's recvfrom(1024): flagged, yet sent whole.
    let long: String = (0..1100)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let line = format!("/send {long}");
    assert!(send(&mut net, a, &mut chat_a, &line));
    assert_eq!(net.receive(b), [(localhost(PORT_A), long.into_bytes())]);

    // Two datagrams in one poll arrive in order, one closure call each.
    send(&mut net, b, &mut chat_b, "/send one");
    send(&mut net, b, &mut chat_b, "/send two");
    assert_eq!(
        net.receive(a),
        [
            (localhost(PORT_B), b"one".to_vec()),
            (localhost(PORT_B), b"two".to_vec())
        ]
    );

    assert_eq!(chat_a.handle_line("/quit"), Ok(Action::Left));
    assert_eq!(chat_a.handle_line("/send Hello"), Err(ChatError::NotJoined));
}

#[test]
fn too_large_is_not_buffer_full() {
    let mut net = Net::new();
    let a = net.peer(PORT_A, 2048, 256);
    let b = net.peer(PORT_B, 2048, 2048);
    let to_b = localhost(PORT_B);

    // Larger than the whole 256-byte send ring: never sendable.
    let big = "x".repeat(300);
    let error = chat_send(net.socket(a), to_b, &big).unwrap_err();
    assert_eq!(
        error,
        ChatSendError::TooLarge {
            len: 300,
            capacity: 256
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("too large for this socket's buffer"),
        "{message}"
    );
    eprintln!("{message}");

    // Fits, but not while another datagram waits: full for now only.
    let medium = "y".repeat(200);
    chat_send(net.socket(a), to_b, &medium).unwrap();
    assert_eq!(
        chat_send(net.socket(a), to_b, &medium),
        Err(ChatSendError::BufferFull)
    );
    assert_eq!(
        net.receive(b),
        [(localhost(PORT_A), medium.clone().into_bytes())]
    );
    // Sent: the ring has room again.
    chat_send(net.socket(a), to_b, &medium).unwrap();
    assert_eq!(net.receive(b), [(localhost(PORT_A), medium.into_bytes())]);
    // A whole ring's worth exactly still fits.
    chat_send(net.socket(a), to_b, &"z".repeat(256)).unwrap();
    assert_eq!(net.receive(b)[0].1.len(), 256);

    // An unspecified peer, or an unbound socket.
    let nowhere = IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), PORT_B);
    assert_eq!(
        chat_send(net.socket(a), nowhere, "hi"),
        Err(ChatSendError::Unaddressable)
    );
    let mut unbound = Socket::new(
        PacketBuffer::new(vec![PacketMetadata::EMPTY; 1], vec![0; 64]),
        PacketBuffer::new(vec![PacketMetadata::EMPTY; 1], vec![0; 64]),
    );
    assert_eq!(
        chat_send(&mut unbound, to_b, "hi"),
        Err(ChatSendError::Unaddressable)
    );
}

#[test]
fn chat_state_is_small() {
    let size = core::mem::size_of::<ChatState<IpEndpoint>>();
    eprintln!("ChatState<IpEndpoint>: {size} bytes");
    assert!(size <= 64, "{size} bytes");
}
