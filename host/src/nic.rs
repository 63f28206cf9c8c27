//! `reseau nic`: the servers on smoltcp's TCP/IP stack over a Linux TAP
//! device, as a microcontroller would run them, but on the host.
//!
//! One smoltcp [`Interface`] owns the TAP device and serves, on its own
//! address: the adder on TCP 6001, echo on TCP 6000 (an [`AdderSession`]
//! or [`EchoSession`] per connection, through
//! [`TcpDriver`]), and the chat on
//! UDP 5000 (each datagram printed as `SENDER: text`, as `reseau chat`
//! does). The host's kernel is not involved beyond moving Ethernet frames
//! through the TAP device: ARP, IP and TCP are smoltcp's.
//!
//! smoltcp has no backlog: each TCP port has [`SOCKETS_PER_PORT`] listening
//! sockets, so that many clients are served at once; a socket listens
//! again once its connection is over. Protocol logic stays in the
//! sessions; log lines reuse the std servers' [`Service`] summaries.
//!
//! [`AdderSession`]: reseau_core::adder::AdderSession
//! [`EchoSession`]: reseau_core::echo::EchoSession

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reseau_core::drive::smoltcp::{Status, TcpDriver, chat_receive, serve};
use reseau_core::session::End;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Medium, TunTapInterface};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::adder::AdderService;
use crate::echo::EchoService;
use crate::net::{Notify, Service};

/// The adder's TCP port.
pub const ADDER_PORT: u16 = 6001;
/// Echo's TCP port.
pub const ECHO_PORT: u16 = 6000;
/// The chat's UDP port.
pub const CHAT_PORT: u16 = 5000;
/// Listening sockets per TCP port: clients served at once.
pub const SOCKETS_PER_PORT: usize = 4;
/// Receive and send buffer of each TCP socket, in bytes.
pub const TCP_BUFFER: usize = 8 * 1024;
/// The interface's MAC address: locally administered, unicast.
pub const MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);

/// The longest wait for a packet, so that a stop request is seen.
/// What sessions are told of their peer: a listening socket's session is
/// made before anyone connects (the adder and echo sessions do not use it).
const UNKNOWN_PEER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));
const MAX_WAIT: Duration = Duration::from_millis(200);
/// A peer silent for this long (keep-alives unanswered) is dropped.
const TCP_TIMEOUT: Duration = Duration::from_secs(60);
/// Keep-alive probes on idle connections.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Rounds of poll-and-drive before waiting, at most.
const MAX_ROUNDS: usize = 64;

/// The settings of `reseau nic`.
#[derive(Debug, Clone)]
pub struct NicConfig {
    /// The TAP device's name. Opening a TAP device that does not exist
    /// creates a transient one (with CAP_NET_ADMIN), down and without
    /// addresses, that disappears when the process exits.
    pub tap: String,
    /// The interface's address and prefix (`192.168.69.2/24`).
    pub address: IpCidr,
    /// The default gateway, if any.
    pub gateway: Option<IpAddress>,
}

/// Why `reseau nic` could not start or stopped.
#[derive(Debug)]
pub enum NicError {
    /// A command-line value is wrong.
    Usage(String),
    /// The TAP device could not be opened.
    Tap(String, io::Error),
    /// Signals could not be handled, or waiting failed.
    Io(io::Error),
}

impl NicError {
    /// The process exit code ([`crate::exit`]): a bad flag or no TAP
    /// device is a setup failure, the rest a run-time one.
    pub fn exit_code(&self) -> u8 {
        match self {
            NicError::Usage(_) | NicError::Tap(..) => crate::exit::SETUP,
            NicError::Io(_) => crate::exit::FAILED,
        }
    }
}

impl fmt::Display for NicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicError::Usage(message) => f.write_str(message),
            NicError::Tap(name, error) => write!(f, "cannot open tap {name}: {error}"),
            NicError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for NicError {}

/// Parses `--address` (`ADDR/PREFIX`).
pub fn parse_address(text: &str) -> Result<IpCidr, NicError> {
    text.parse::<IpCidr>()
        .ok()
        .filter(|cidr| !cidr.address().is_unspecified() && !cidr.address().is_multicast())
        .ok_or_else(|| {
            NicError::Usage(format!(
                "--address {text}: expected ADDR/PREFIX, e.g. 192.168.69.2/24"
            ))
        })
}

/// Parses `--gateway` (an address).
pub fn parse_gateway(text: &str) -> Result<IpAddress, NicError> {
    text.parse::<IpAddress>().map_err(|()| {
        NicError::Usage(format!(
            "--gateway {text}: expected an address, e.g. 192.168.69.1"
        ))
    })
}

/// One listening socket of a TCP service and its current connection.
struct Slot<S: Service> {
    handle: SocketHandle,
    driver: TcpDriver<S::Session>,
    summary: S::Summary,
    /// The connection's peer, once known (smoltcp forgets it on close).
    peer: Option<SocketAddr>,
}

/// A TCP service on one port.
struct TcpServer<S: Service> {
    service: S,
    port: u16,
    slots: Vec<Slot<S>>,
}

impl<S: Service> TcpServer<S> {
    fn new(service: S, port: u16, sockets: &mut SocketSet<'_>) -> TcpServer<S> {
        let slots = (0..SOCKETS_PER_PORT)
            .map(|_| {
                let mut socket = tcp_socket();
                // A fresh socket is closed and the port is non-zero.
                let _ = socket.listen(port);
                Slot {
                    handle: sockets.add(socket),
                    driver: TcpDriver::new(service.session(UNKNOWN_PEER, Notify::detached())),
                    summary: S::Summary::default(),
                    peer: None,
                }
            })
            .collect();
        TcpServer {
            service,
            port,
            slots,
        }
    }

    /// Drives every socket; re-listens the finished ones and logs them.
    /// Returns whether a connection ended.
    fn drive(&mut self, sockets: &mut SocketSet<'_>, log: &mut impl Write) -> bool {
        let mut ended = false;
        for slot in &mut self.slots {
            let socket = sockets.get_mut::<tcp::Socket>(slot.handle);
            if slot.peer.is_none() {
                slot.peer = socket.remote_endpoint().map(SocketAddr::from);
            }
            let Slot {
                driver,
                summary,
                peer,
                ..
            } = slot;
            let at = peer.unwrap_or_else(unknown_peer);
            let service = &self.service;
            let status = driver.poll(socket, |event| service.record(summary, event));
            if status == Status::Finished {
                let end = driver.end().unwrap_or(End::Reset);
                let _ = writeln!(log, "{}: {}: {}; {end}", service.name(), at, summary);
                *driver = TcpDriver::new(service.session(UNKNOWN_PEER, Notify::detached()));
                *summary = S::Summary::default();
                *peer = None;
                let _ = socket.listen(self.port);
                ended = true;
            }
        }
        ended
    }

    /// Logs the connections still open, at shutdown.
    fn shutdown(&self, log: &mut impl Write) {
        for slot in &self.slots {
            if let Some(peer) = slot.peer {
                let _ = writeln!(
                    log,
                    "{}: {}: {}; {}",
                    self.service.name(),
                    peer,
                    slot.summary,
                    End::Shutdown
                );
            }
        }
    }
}

fn unknown_peer() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
    );
    // smoltcp delays ACKs by 10 ms by default: a request-reply protocol
    // would wait for it.
    socket.set_ack_delay(None);
    socket.set_timeout(Some(TCP_TIMEOUT));
    socket.set_keep_alive(Some(KEEP_ALIVE));
    socket
}

fn udp_socket() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16 * 1024]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 1], vec![0; 64]),
    )
}

/// Prints the datagrams waiting on the chat socket, as `reseau chat` does.
/// Returns whether any was there.
fn drain_chat(socket: &mut udp::Socket<'_>, out: &mut impl Write) -> bool {
    let received = chat_receive(socket, |from, payload| {
        let text = crate::escape::Escaped(payload);
        let _ = writeln!(out, "{}: {text}", SocketAddr::from(from));
    });
    if received > 0 {
        let _ = out.flush();
    }
    received > 0
}

/// Opens the TAP device and serves until SIGINT or SIGTERM.
pub fn run(config: &NicConfig) -> Result<(), NicError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(NicError::Io)?;
    }

    let mut device = TunTapInterface::new(&config.tap, Medium::Ethernet)
        .map_err(|e| NicError::Tap(config.tap.clone(), e))?;
    let fd = device.as_raw_fd();

    let mut iface_config = Config::new(HardwareAddress::Ethernet(MAC));
    iface_config.random_seed = seed();
    let mut iface = Interface::new(iface_config, &mut device, Instant::now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(config.address);
    });
    match config.gateway {
        Some(IpAddress::Ipv4(gateway)) => {
            iface
                .routes_mut()
                .add_default_ipv4_route(gateway)
                .map_err(|_| NicError::Usage("the route table is full".into()))?;
        }
        Some(IpAddress::Ipv6(gateway)) => {
            iface
                .routes_mut()
                .add_default_ipv6_route(gateway)
                .map_err(|_| NicError::Usage("the route table is full".into()))?;
        }
        None => {}
    }

    let mut sockets = SocketSet::new(Vec::new());
    let mut adder = TcpServer::new(AdderService::default(), ADDER_PORT, &mut sockets);
    let mut echo = TcpServer::new(EchoService, ECHO_PORT, &mut sockets);
    let mut chat_socket = udp_socket();
    chat_socket
        .bind(CHAT_PORT)
        .map_err(|e| NicError::Usage(format!("cannot bind UDP {CHAT_PORT}: {e}")))?;
    let chat = sockets.add(chat_socket);

    let address = config.address.address();
    eprintln!(
        "nic: listening on {address} (tap {}): adder tcp {ADDER_PORT}, echo tcp {ECHO_PORT}, chat udp {CHAT_PORT}",
        config.tap
    );

    let mut log = io::stderr();
    let mut out = io::stdout();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        for _ in 0..MAX_ROUNDS {
            let moved = serve(&mut iface, now, &mut device, &mut sockets, |sockets| {
                let mut moved = adder.drive(sockets, &mut log);
                moved |= echo.drive(sockets, &mut log);
                moved | drain_chat(sockets.get_mut::<udp::Socket>(chat), &mut out)
            });
            if !moved {
                break;
            }
        }
        let delay = iface
            .poll_delay(now, &sockets)
            .map_or(MAX_WAIT, |delay| delay.min(MAX_WAIT));
        match phy::wait(fd, Some(delay)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(NicError::Io(error)),
        }
    }
    adder.shutdown(&mut log);
    echo.shutdown(&mut log);
    eprintln!("nic: stopped");
    Ok(())
}

/// A seed for smoltcp's initial sequence numbers and ports: different on
/// each run.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}
