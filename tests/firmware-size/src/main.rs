//! A minimal Cortex-M4F firmware (`thumbv7em-none-eabihf`) that links
//! `reseau-core` with its `smoltcp` and `embedded-io` features, to measure
//! what the course's programs cost in flash: a smoltcp `Interface` over a
//! dummy IP device, an adder and an echo server on TCP sockets run by
//! `TcpDriver`, and the UDP chat (`ChatState`, `chat_send`,
//! `chat_receive`).
//!
//! It is never flashed: `check.sh` builds it and prints its section sizes.
//! So that link-time optimisation keeps all of that code, what the device
//! receives and the lines the user types come through
//! `core::hint::black_box`, which the optimiser cannot see through, and
//! what the device transmits and the drivers report go into it.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::net::IpAddr;
use core::panic::PanicInfo;
use core::str::FromStr;

use cortex_m_rt::entry;
use reseau_core::adder::AdderSession;
use reseau_core::chat::{Action, ChatState};
use reseau_core::drive::smoltcp::{TcpDriver, chat_receive, chat_send};
use reseau_core::echo::EchoSession;
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};

/// The device's MTU (IP, as `Medium::Ip` has no link header).
const MTU: usize = 1500;
const ADDER_PORT: u16 = 1234;
const ECHO_PORT: u16 = 7;
const CHAT_PORT: u16 = 5000;

/// A `Medium::Ip` device with no link: `receive` hands out whatever
/// `black_box` says arrived, `transmit` lets smoltcp write a packet into a
/// stack buffer and hands it to `black_box`.
struct Dummy;

struct Rx(&'static [u8]);

struct Tx;

impl RxToken for Rx {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.0)
    }
}

impl TxToken for Tx {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = [0u8; MTU];
        let packet = buf.get_mut(..len).unwrap_or_default();
        let result = f(packet);
        black_box(&*packet);
        result
    }
}

impl Device for Dummy {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx, Tx)> {
        // Opaque to the optimiser: the whole receive path is linked.
        black_box(None::<&'static [u8]>).map(|frame| (Rx(frame), Tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx> {
        Some(Tx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Lines a user might type; which one comes when is opaque.
const LINES: [&str; 3] = ["/join 10.0.0.2 5001", "/send hello", "/quit"];

#[entry]
fn main() -> ! {
    let mut device = Dummy;
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, Instant::ZERO);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
            24,
        ));
    });

    let mut storage = [SocketStorage::EMPTY; 3];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let (mut adder_rx, mut adder_tx) = ([0u8; 512], [0u8; 512]);
    let (mut echo_rx, mut echo_tx) = ([0u8; 512], [0u8; 512]);
    let (mut chat_rx_meta, mut chat_tx_meta) = (
        [udp::PacketMetadata::EMPTY; 4],
        [udp::PacketMetadata::EMPTY; 4],
    );
    let (mut chat_rx, mut chat_tx) = ([0u8; 1024], [0u8; 1024]);
    let adder = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut adder_rx[..]),
        tcp::SocketBuffer::new(&mut adder_tx[..]),
    ));
    let echo = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut echo_rx[..]),
        tcp::SocketBuffer::new(&mut echo_tx[..]),
    ));
    let chat_socket = sockets.add(udp::Socket::new(
        udp::PacketBuffer::new(&mut chat_rx_meta[..], &mut chat_rx[..]),
        udp::PacketBuffer::new(&mut chat_tx_meta[..], &mut chat_tx[..]),
    ));
    let _ = sockets.get_mut::<udp::Socket>(chat_socket).bind(CHAT_PORT);

    let mut adder_driver = TcpDriver::new(AdderSession::default());
    let mut echo_driver = TcpDriver::new(EchoSession::new());
    let mut chat = ChatState::<IpEndpoint>::new();
    let mut millis: i64 = 0;

    loop {
        millis += 1;
        iface.poll(Instant::from_millis(millis), &mut device, &mut sockets);

        // The servers listen again once a connection is over.
        for (handle, port) in [(adder, ADDER_PORT), (echo, ECHO_PORT)] {
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if !socket.is_open() {
                let _ = socket.listen(port);
            }
        }
        black_box(
            adder_driver.poll(sockets.get_mut::<tcp::Socket>(adder), |event| {
                black_box(event);
            }),
        );
        black_box(
            echo_driver.poll(sockets.get_mut::<tcp::Socket>(echo), |event| {
                black_box(event);
            }),
        );

        // The chat: what peers sent, then one line from the user.
        let chat_udp = sockets.get_mut::<udp::Socket>(chat_socket);
        chat_receive(chat_udp, |from, payload| {
            black_box((from, payload));
        });
        let line = black_box(LINES)
            .get(black_box(0usize))
            .copied()
            .unwrap_or_default();
        match chat.handle_line(line) {
            // No DNS on this board: IP literals only.
            Ok(Action::Join { host, port }) => {
                if let Ok(address) = IpAddr::from_str(host) {
                    chat.join(IpEndpoint::new(IpAddress::from(address), port));
                }
            }
            Ok(Action::Send { to, text, .. }) => {
                let _ = black_box(chat_send(chat_udp, to, text));
            }
            other => {
                let _ = black_box(other);
            }
        }
    }
}

/// No unwinding, no output: a panic stops here.
#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
