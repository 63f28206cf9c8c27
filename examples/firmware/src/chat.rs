//! The chat on the board: datagrams received on UDP 5000 are printed on
//! the console, as `reseau chat` prints them (`SENDER: text`, escaped); the
//! lines typed on the console are the chat's commands, by the core's rules
//! (`ChatState`). `/join` takes an IPv4 address: the board has no DNS.

use core::fmt::Write as _;
use core::net::Ipv4Addr;

use reseau_core::chat::{Action, ChatState, HELP};
use reseau_core::drive::smoltcp::{chat_receive, chat_send};
use reseau_core::escape::Escaped;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpEndpoint};

use reseau_firmware::console::{Line, LineReader};

use crate::uart::Uart;
use crate::{CHAT_LINE, CHAT_PORT, CHAT_RX, CHAT_RX_DATAGRAMS, CHAT_TX, CHAT_TX_DATAGRAMS};

/// The chat's socket, its state (the joined peer) and the line being typed.
pub struct Console {
    socket: SocketHandle,
    state: ChatState<IpEndpoint>,
    line: LineReader<CHAT_LINE>,
}

impl Console {
    /// Binds the chat's UDP socket, over the given static buffers.
    pub fn new(
        sockets: &mut SocketSet<'static>,
        meta: &'static mut (
            [udp::PacketMetadata; CHAT_RX_DATAGRAMS],
            [udp::PacketMetadata; CHAT_TX_DATAGRAMS],
        ),
        buffers: &'static mut ([u8; CHAT_RX], [u8; CHAT_TX]),
    ) -> Console {
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(&mut meta.0[..], &mut buffers.0[..]),
            udp::PacketBuffer::new(&mut meta.1[..], &mut buffers.1[..]),
        );
        // A fresh socket, a non-zero port: this cannot fail.
        let _ = socket.bind(CHAT_PORT);
        Console {
            socket: sockets.add(socket),
            state: ChatState::new(),
            line: LineReader::new(),
        }
    }

    /// Prints what peers sent, then runs the lines typed. Returns
    /// whether anything happened.
    pub fn poll(&mut self, sockets: &mut SocketSet<'_>, uart: &mut Uart) -> bool {
        let socket = sockets.get_mut::<udp::Socket>(self.socket);
        // As `reseau chat` prints them: `SENDER: text`, escaped.
        let received = chat_receive(socket, |from, payload| {
            let _ = writeln!(uart, "{from}: {}", Escaped(payload));
        });
        let mut typed = false;
        while let Some(byte) = uart.read_byte() {
            typed = true;
            match self.line.push(byte) {
                Line::Partial => {}
                Line::TooLong => {
                    let _ = writeln!(uart, "chat: line too long ({CHAT_LINE} bytes at most)");
                }
                Line::Complete(line) => match core::str::from_utf8(line) {
                    Ok(line) => run(&mut self.state, socket, line, uart),
                    Err(_) => {
                        let _ = writeln!(uart, "chat: the line is not UTF-8");
                    }
                },
            }
        }
        received > 0 || typed
    }
}

/// One command line, by the core's chat rules.
fn run(
    state: &mut ChatState<IpEndpoint>,
    socket: &mut udp::Socket<'_>,
    line: &str,
    uart: &mut Uart,
) {
    match state.handle_line(line) {
        Ok(Action::Join { host, port }) => match host.parse::<Ipv4Addr>() {
            Ok(address) => {
                let peer = IpEndpoint::new(IpAddress::Ipv4(address), port);
                state.join(peer);
                let _ = writeln!(uart, "chat: joined {peer}");
            }
            Err(_) => {
                let _ = writeln!(
                    uart,
                    "chat: /join takes an IPv4 address on this board (no DNS): {}",
                    Escaped(host.as_bytes())
                );
            }
        },
        Ok(Action::Send { to, text, cut }) => match chat_send(socket, to, text) {
            Ok(()) if cut => {
                let _ = writeln!(
                    uart,
                    "chat: sent; the course's peers read only its first 1024 bytes"
                );
            }
            Ok(()) => {}
            Err(error) => {
                let _ = writeln!(uart, "chat: not sent: {error}");
            }
        },
        Ok(Action::Left) => {
            let _ = writeln!(uart, "chat: left");
        }
        Ok(Action::Help) => {
            let _ = writeln!(uart, "{HELP}");
        }
        Ok(Action::Exit) => {
            let _ = writeln!(uart, "chat: a board does not exit (/quit forgets the peer)");
        }
        Err(error) => {
            let _ = writeln!(uart, "chat: {error}");
        }
    }
}
