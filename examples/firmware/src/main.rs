//! reseau's servers on a microcontroller: a firmware for the TI Stellaris
//! LM3S6965 (a Cortex-M3 with 256 KiB of flash, 64 KiB of RAM and an
//! Ethernet controller on chip), as QEMU's `lm3s6965evb` board emulates it.
//!
//! It serves, on 192.168.69.2/24, the course's integer adder on TCP 6001,
//! echo on TCP 6000 and the chat on UDP 5000, with the sessions of
//! `reseau-core` driven over smoltcp by the core's `TcpDriver`: the same
//! sessions as the `reseau` binary's, so the bytes on the wire are the
//! same. The console is UART0: a line per connection as it ends, each chat
//! message received, and the chat's commands typed in.
//!
//! No allocator: every buffer is a `static` (cortex-m-rt's `#[entry]` turns
//! the `static mut`s declared at the top of `main` into `&'static mut`
//! references, without `unsafe`). `core/README.md` is the guide: how to
//! build and run it, what each part of the loop does, and how to port it.
#![no_std]
#![no_main]

#[cfg(feature = "chat")]
mod chat;
mod clock;
mod stack;
mod uart;

use core::fmt::Write as _;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use reseau_core::adder::AdderSession;
use reseau_core::drive::smoltcp::{Status, TcpDriver, serve};
use reseau_core::session::StreamSession;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use reseau_firmware::stellaris;

use crate::clock::Clock;
use crate::uart::Uart;

/// The board's address: inside the test's network namespace, where the
/// TAP device is 192.168.69.1.
const ADDRESS: IpCidr = IpCidr::new(IpAddress::Ipv4(Ipv4Address::new(192, 168, 69, 2)), 24);
const GATEWAY: Ipv4Address = Ipv4Address::new(192, 168, 69, 1);

const ADDER_PORT: u16 = 6001;
/// Adder connections served at once (smoltcp has no backlog: a client
/// that finds every socket busy is refused with a reset).
const ADDER_SOCKETS: usize = 2;
/// The receive buffer is the TCP window: about one segment. Replies are
/// 4 bytes (a native reply 9 to 64), so the send buffer is small.
const ADDER_RX: usize = 1024;
const ADDER_TX: usize = 256;

#[cfg(feature = "echo")]
const ECHO_PORT: u16 = 6000;
const ECHO_SOCKETS: usize = if cfg!(feature = "echo") { 2 } else { 0 };
/// Echo sends back what it receives: the same room each way.
#[cfg(feature = "echo")]
const ECHO_BUFFER: usize = 1024;

#[cfg(feature = "chat")]
const CHAT_PORT: u16 = 5000;
/// Datagrams waiting to be printed, and their bytes: the course's peers
/// send at most 1024 bytes.
#[cfg(feature = "chat")]
const CHAT_RX_DATAGRAMS: usize = 4;
#[cfg(feature = "chat")]
const CHAT_RX: usize = 2048;
#[cfg(feature = "chat")]
const CHAT_TX_DATAGRAMS: usize = 2;
#[cfg(feature = "chat")]
const CHAT_TX: usize = 1024;
/// The longest command line typed on the console.
#[cfg(feature = "chat")]
const CHAT_LINE: usize = 256;

const CHAT_SOCKETS: usize = if cfg!(feature = "chat") { 1 } else { 0 };
const SOCKETS: usize = ADDER_SOCKETS + ECHO_SOCKETS + CHAT_SOCKETS;

/// A peer silent for this long (keep-alives unanswered) is dropped, as
/// `reseau nic` does.
const TCP_TIMEOUT: Duration = Duration::from_secs(60);
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Rounds of poll-and-drive per wake-up while something moves.
const MAX_ROUNDS: usize = 64;

#[entry]
fn main() -> ! {
    // cortex-m-rt makes each of these a `&'static mut` to a static: they
    // are in `.bss` (`.data` for `STORAGE`, whose initial value is not all
    // zeros), counted in the firmware's static RAM.
    static mut STORAGE: [SocketStorage<'static>; SOCKETS] = [SocketStorage::EMPTY; SOCKETS];
    static mut ETHERNET: stellaris::Buffers = stellaris::Buffers::new();
    static mut ADDER_BUFFERS: [([u8; ADDER_RX], [u8; ADDER_TX]); ADDER_SOCKETS] =
        [([0; ADDER_RX], [0; ADDER_TX]); ADDER_SOCKETS];
    #[cfg(feature = "echo")]
    static mut ECHO_BUFFERS: [([u8; ECHO_BUFFER], [u8; ECHO_BUFFER]); ECHO_SOCKETS] =
        [([0; ECHO_BUFFER], [0; ECHO_BUFFER]); ECHO_SOCKETS];
    #[cfg(feature = "chat")]
    static mut CHAT_META: (
        [smoltcp::socket::udp::PacketMetadata; CHAT_RX_DATAGRAMS],
        [smoltcp::socket::udp::PacketMetadata; CHAT_TX_DATAGRAMS],
    ) = (
        [smoltcp::socket::udp::PacketMetadata::EMPTY; CHAT_RX_DATAGRAMS],
        [smoltcp::socket::udp::PacketMetadata::EMPTY; CHAT_TX_DATAGRAMS],
    );
    #[cfg(feature = "chat")]
    static mut CHAT_BUFFERS: ([u8; CHAT_RX], [u8; CHAT_TX]) = ([0; CHAT_RX], [0; CHAT_TX]);

    stack::paint();
    let mut uart = Uart::new();
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        panic!("the core peripherals were taken before main");
    };
    let mut clock = Clock::start(peripherals.SYST);

    let mut ethernet = stellaris::Ethernet::new(ETHERNET);
    let mac = ethernet.mac_address();
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    // smoltcp's initial sequence numbers and ephemeral ports come from
    // this seed. This board has no random source: on a real one, take it
    // from a hardware RNG or ADC noise, so that sequence numbers cannot be
    // guessed.
    config.random_seed = seed(mac.as_bytes());
    let mut iface = Interface::new(config, &mut ethernet, clock.now());
    iface.update_ip_addrs(|addresses| {
        let _ = addresses.push(ADDRESS);
    });
    let _ = iface.routes_mut().add_default_ipv4_route(GATEWAY);

    let mut sockets = SocketSet::new(&mut STORAGE[..]);
    let mut adder = Server::<Adder, ADDER_SOCKETS>::new(&mut sockets, ADDER_BUFFERS);
    #[cfg(feature = "echo")]
    let mut echo = Server::<Echo, ECHO_SOCKETS>::new(&mut sockets, ECHO_BUFFERS);
    #[cfg(feature = "chat")]
    let mut chat = chat::Console::new(&mut sockets, CHAT_META, CHAT_BUFFERS);

    let _ = writeln!(
        uart,
        "reseau firmware: {ADDRESS} ({mac}): adder tcp {ADDER_PORT}{}{}",
        if cfg!(feature = "echo") {
            ", echo tcp 6000"
        } else {
            ""
        },
        if cfg!(feature = "chat") {
            ", chat udp 5000"
        } else {
            ""
        },
    );

    // What the firmware's RAM holds, as the guide's table gives it.
    let _ = writeln!(
        uart,
        "memory: AdderSession {} B, TcpDriver<AdderSession> {} B, tcp::Socket {} B, Interface {} B; \
         adder {ADDER_SOCKETS} sockets x ({ADDER_RX} + {ADDER_TX}) B",
        size_of::<AdderSession>(),
        size_of::<TcpDriver<AdderSession>>(),
        size_of::<tcp::Socket<'static>>(),
        size_of::<Interface>(),
    );
    #[cfg(feature = "echo")]
    let _ = writeln!(
        uart,
        "memory: EchoSession {} B; echo {ECHO_SOCKETS} sockets x ({ECHO_BUFFER} + {ECHO_BUFFER}) B",
        size_of::<reseau_core::echo::EchoSession>(),
    );
    #[cfg(feature = "chat")]
    let _ = writeln!(
        uart,
        "memory: chat udp::Socket {} B; {CHAT_RX_DATAGRAMS} datagrams, {CHAT_RX} B in, \
         {CHAT_TX_DATAGRAMS} datagrams, {CHAT_TX} B out",
        size_of::<smoltcp::socket::udp::Socket<'static>>(),
    );

    loop {
        let now = clock.now();
        // Packets in one at a time, each followed by the drivers (so a
        // finished socket listens again before the next SYN), then out;
        // again while anything moves.
        for _ in 0..MAX_ROUNDS {
            let moved = serve(&mut iface, now, &mut ethernet, &mut sockets, |sockets| {
                #[allow(unused_mut)]
                let mut moved = adder.drive(sockets, &mut uart);
                #[cfg(feature = "echo")]
                {
                    moved |= echo.drive(sockets, &mut uart);
                }
                #[cfg(feature = "chat")]
                {
                    moved |= chat.poll(sockets, &mut uart);
                }
                moved
            });
            if !moved {
                break;
            }
        }
        // Sleep until the next interrupt: SysTick, within a millisecond.
        // smoltcp's own timers (`poll_delay`) are at least that long.
        if !ethernet.frames_waiting() {
            cortex_m::asm::wfi();
        }
    }
}

/// A seed for smoltcp from the MAC address: different per board, the same
/// at every boot (see where it is used).
fn seed(mac: &[u8]) -> u64 {
    mac.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A TCP service of the board: its port, its sessions, and what its log
/// line says of a connection.
trait Service {
    #[cfg(feature = "log")]
    const NAME: &'static str;
    const PORT: u16;
    type Session: StreamSession;
    /// What the log line says of a connection, built from its events.
    #[cfg(feature = "log")]
    type Summary: Default + core::fmt::Display;

    fn session() -> Self::Session;
    #[cfg(feature = "log")]
    fn record(summary: &mut Self::Summary, event: <Self::Session as StreamSession>::Event);
}

/// One listening socket and the connection it has become.
struct Slot<S: Service> {
    handle: SocketHandle,
    driver: TcpDriver<S::Session>,
    #[cfg(feature = "log")]
    log: Log<S>,
}

/// What the console is told of a connection when it ends (feature `log`):
/// `adder: 192.168.69.1:40000: 1 request answered (3 ints); closed by
/// server`, as the `reseau` binary's servers log it.
#[cfg(feature = "log")]
struct Log<S: Service> {
    summary: S::Summary,
    /// The peer, once seen (smoltcp forgets it when the socket closes).
    peer: Option<smoltcp::wire::IpEndpoint>,
}

#[cfg(feature = "log")]
impl<S: Service> Log<S> {
    fn new() -> Self {
        Log {
            summary: S::Summary::default(),
            peer: None,
        }
    }

    fn write(&self, end: reseau_core::session::End, console: &mut Uart) {
        let _ = match self.peer {
            Some(peer) => writeln!(console, "{}: {peer}: {}; {end}", S::NAME, self.summary),
            None => writeln!(console, "{}: {}; {end}", S::NAME, self.summary),
        };
    }
}

/// A TCP service on `N` sockets listening on its port.
struct Server<S: Service, const N: usize> {
    slots: [Slot<S>; N],
}

impl<S: Service, const N: usize> Server<S, N> {
    fn new<const RX: usize, const TX: usize>(
        sockets: &mut SocketSet<'static>,
        buffers: &'static mut [([u8; RX], [u8; TX]); N],
    ) -> Self {
        let mut buffers = buffers.iter_mut();
        let slots = core::array::from_fn(|_| {
            let (rx, tx): (&'static mut [u8], &'static mut [u8]) = match buffers.next() {
                Some((rx, tx)) => (rx, tx),
                None => (&mut [], &mut []),
            };
            let mut socket =
                tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
            // smoltcp delays ACKs by 10 ms by default: a request-reply
            // protocol would wait for it every time.
            socket.set_ack_delay(None);
            socket.set_timeout(Some(TCP_TIMEOUT));
            socket.set_keep_alive(Some(KEEP_ALIVE));
            let _ = socket.listen(S::PORT);
            Slot {
                handle: sockets.add(socket),
                driver: TcpDriver::new(S::session()),
                #[cfg(feature = "log")]
                log: Log::new(),
            }
        });
        Server { slots }
    }

    /// Drives every connection; logs the ended ones (feature `log`) and
    /// listens again on their sockets. Returns whether one ended.
    #[cfg_attr(not(feature = "log"), allow(unused_variables))]
    fn drive(&mut self, sockets: &mut SocketSet<'_>, console: &mut Uart) -> bool {
        let mut ended = false;
        for slot in &mut self.slots {
            let socket = sockets.get_mut::<tcp::Socket>(slot.handle);
            #[cfg(feature = "log")]
            let log = &mut slot.log;
            #[cfg(feature = "log")]
            if log.peer.is_none() {
                log.peer = socket.remote_endpoint();
            }
            let status = slot.driver.poll(socket, |event| {
                #[cfg(feature = "log")]
                S::record(&mut log.summary, event);
                #[cfg(not(feature = "log"))]
                let _ = event;
            });
            if status == Status::Finished {
                #[cfg(feature = "log")]
                {
                    slot.log.write(
                        slot.driver
                            .end()
                            .unwrap_or(reseau_core::session::End::Reset),
                        console,
                    );
                    slot.log = Log::new();
                }
                slot.driver = TcpDriver::new(S::session());
                let _ = socket.listen(S::PORT);
                ended = true;
            }
        }
        ended
    }
}

/// The course's integer adder.
struct Adder;

impl Service for Adder {
    #[cfg(feature = "log")]
    const NAME: &'static str = "adder";
    const PORT: u16 = ADDER_PORT;
    type Session = AdderSession;
    #[cfg(feature = "log")]
    type Summary = reseau_core::adder::Summary;

    fn session() -> AdderSession {
        AdderSession::default()
    }

    #[cfg(feature = "log")]
    fn record(summary: &mut Self::Summary, event: reseau_core::adder::Event) {
        summary.record(event);
    }
}

/// Echo: each message sent back.
#[cfg(feature = "echo")]
struct Echo;

#[cfg(feature = "echo")]
impl Service for Echo {
    #[cfg(feature = "log")]
    const NAME: &'static str = "echo";
    const PORT: u16 = ECHO_PORT;
    type Session = reseau_core::echo::EchoSession;
    #[cfg(feature = "log")]
    type Summary = reseau_core::echo::Summary;

    fn session() -> reseau_core::echo::EchoSession {
        reseau_core::echo::EchoSession::new()
    }

    #[cfg(feature = "log")]
    fn record(summary: &mut Self::Summary, event: reseau_core::echo::Event) {
        summary.record(event);
    }
}

/// A panic stops the board with its message on the console. Nothing the
/// network sends can cause one: the sessions do not panic, and this file
/// indexes nothing.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    // Not the `Uart` of `main`, which this cannot reach: UART0 is already
    // set up, and this is the last thing the board does.
    let mut uart = uart::Uart::steal();
    let _ = writeln!(uart, "panic: {info}");
    loop {
        cortex_m::asm::wfi();
    }
}
