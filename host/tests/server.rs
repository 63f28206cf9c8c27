//! The server runtime in-process: bind an ephemeral port, serve, stop from
//! another thread.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use reseau_core::adder::{AdderConfig, Format, RequestEncoder};
use reseau_core::frame::encode_header;
use reseau_host::adder::AdderService;
use reseau_host::net::{Limits, Server};

fn request(ints: &[i128]) -> Vec<u8> {
    let mut payload = Vec::new();
    RequestEncoder::encode_all(Format::Pickle, ints.iter().copied(), |b| {
        payload.extend_from_slice(b)
    })
    .expect("pickle carries any i128");
    let mut framed = encode_header(payload.len() as u32).to_vec();
    framed.extend_from_slice(&payload);
    framed
}

#[test]
fn serves_then_stops_when_asked() {
    // Several requests on the connection it holds open: keep-alive.
    let service = AdderService {
        config: AdderConfig {
            keep_alive: true,
            ..AdderConfig::default()
        },
    };
    let server =
        Server::bind("127.0.0.1:0", service, Limits::default()).expect("bind an ephemeral port");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let stopper = server.stopper();
    let running = thread::spawn(move || server.run());

    let mut client = TcpStream::connect(addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    for (ints, sum) in [
        (&[1, 2, 3][..], 6u32),
        (&[], 0),
        (&[1 << 40, -(1 << 40), 9], 9),
    ] {
        client.write_all(&request(ints)).expect("send");
        let mut reply = [0u8; 4];
        client.read_exact(&mut reply).expect("reply");
        assert_eq!(u32::from_le_bytes(reply), sum);
    }

    stopper.stop();
    let result = running.join().expect("the server thread does not panic");
    assert!(result.is_ok(), "{result:?}");
    // The server closed our connection on its way out.
    let mut rest = Vec::new();
    assert_eq!(
        client.read_to_end(&mut rest).map(|_| rest.len()).ok(),
        Some(0)
    );
}

/// Connections that arrive one after another, while every loop is idle,
/// are spread evenly: each loop hears of each connection and the one with
/// the fewest takes it.
#[test]
fn connections_are_spread_evenly_over_the_loops() {
    for (loops, clients) in [(2, 64), (4, 64), (4, 1000)] {
        let limits = Limits {
            threads: loops,
            ..Limits::default()
        };
        let server = Server::bind("127.0.0.1:0", AdderService::default(), limits).expect("bind");
        assert_eq!(server.loops(), loops);
        let addr = server.local_addr();
        let stopper = server.stopper();
        let running = thread::spawn(move || server.run());
        let held: Vec<TcpStream> = (0..clients)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        let mut counts = stopper.connections_per_loop();
        while counts.iter().sum::<usize>() < clients && std::time::Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
            counts = stopper.connections_per_loop();
        }
        eprintln!("{loops} loops, {clients} connections: {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), clients, "{counts:?}");
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(
            max.zip(min).is_some_and(|(max, min)| max - min <= 4),
            "{counts:?}"
        );
        drop(held);
        stopper.stop();
        assert!(running.join().expect("no panic").is_ok());
    }
}

/// Runs `service` on `loops` event loops of a server on an ephemeral port;
/// stops it when dropped.
struct Running {
    addr: std::net::SocketAddr,
    stopper: reseau_host::net::Stopper,
    thread: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn start<S: reseau_host::net::Service>(service: S, loops: usize) -> Running {
        let limits = Limits {
            threads: loops,
            ..Limits::default()
        };
        let server = Server::bind("127.0.0.1:0", service, limits).expect("bind");
        let (addr, stopper) = (server.local_addr(), server.stopper());
        Running {
            addr,
            stopper,
            thread: Some(thread::spawn(move || server.run())),
        }
    }

    fn open_connections(&self) -> usize {
        self.stopper.connections_per_loop().iter().sum()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection the server ends while the peer is still sending is not
/// reset: the server shuts its side down and reads and drops the peer's
/// bytes, so its last reply arrives whole and is followed by a clean end
/// of stream; and it lingers so for 2 s at most if the peer never closes.
#[test]
fn a_connection_the_server_ends_lingers_then_closes() {
    // Without keep-alive a pickle request is its connection's last.
    let server = Running::start(AdderService::default(), 1);
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Two requests in one write: the second is never read by the session.
    let mut two = request(&[20, 22]);
    two.extend_from_slice(&request(&[1]));
    two.extend_from_slice(&vec![0u8; 256 * 1024]);
    client.write_all(&two).expect("send");
    let mut reply = Vec::new();
    client
        .read_to_end(&mut reply)
        .expect("a clean end of stream, no reset");
    assert_eq!(reply, 42u32.to_le_bytes());
    // The client neither closes nor reads: the server lingers...
    thread::sleep(Duration::from_millis(500));
    assert_eq!(server.open_connections(), 1);
    // ...2 s at most (timers fire every 500 ms).
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while server.open_connections() > 0 && std::time::Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.open_connections(), 0);
}

/// A client that never stops sending does not keep the loop from
/// another client: reads are budgeted per connection.
#[test]
fn a_client_that_never_stops_sending_does_not_starve_the_others() {
    let server = Running::start(AdderService::default(), 1);
    let addr = server.addr;
    // Native requests of 100,000 ints each (native requests share a
    // connection), sent back to back by one thread while another reads the
    // replies, until told to stop.
    let mut payload = Vec::new();
    RequestEncoder::encode_all(Format::Native, (0..100_000).map(i128::from), |b| {
        payload.extend_from_slice(b)
    })
    .expect("native carries these ints");
    let mut frame = encode_header(payload.len() as u32).to_vec();
    frame.extend_from_slice(&payload);
    let flooding = Arc::new(AtomicBool::new(true));
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut replies = stream.try_clone().expect("clone");
    let reader = thread::spawn(move || {
        let mut sink = vec![0u8; 64 * 1024];
        while replies.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    let flag = flooding.clone();
    let flood = thread::spawn(move || {
        let mut frames = 0u64;
        while flag.load(Ordering::SeqCst) && frames < 1_000_000 {
            if stream.write_all(&frame).is_err() {
                break;
            }
            frames += 1;
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        frames
    });
    thread::sleep(Duration::from_millis(100));
    for _ in 0..10 {
        let mut client = TcpStream::connect(addr).expect("connect");
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        client.write_all(&request(&[1, 2, 3])).expect("send");
        let mut reply = [0u8; 4];
        client
            .read_exact(&mut reply)
            .expect("answered during the flood");
        assert_eq!(u32::from_le_bytes(reply), 6);
    }
    flooding.store(false, Ordering::SeqCst);
    let frames = flood.join().expect("no panic");
    assert!(frames < 1_000_000, "the flood ran all along");
    reader.join().expect("no panic");
}

/// Output the peer does not read stops the reading (back-pressure): the
/// server holds at most its socket buffers and 16 KiB of it, and loses no
/// byte once the peer reads.
#[test]
fn a_peer_that_does_not_read_is_not_read_and_loses_no_byte() {
    use reseau_host::echo::EchoService;
    let server = Running::start(EchoService, 1);
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let pattern: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let mut sent = Vec::new();
    // Write until the write times out: every buffer on the way is full.
    let limit = 256 << 20;
    while sent.len() < limit {
        match client.write(&pattern) {
            Ok(n) => sent.extend_from_slice(pattern.get(..n).unwrap_or_default()),
            Err(_) => break,
        }
    }
    let written = sent.len();
    let max_buffer = |path: &str| -> usize {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.split_whitespace().last()?.parse().ok())
            .unwrap_or(6 << 20)
    };
    // Both directions' send and receive buffers, and the server's 16 KiB
    // of unsent output plus one 16 KiB read it kept.
    let bound = 2 * max_buffer("/proc/sys/net/ipv4/tcp_rmem")
        + 2 * max_buffer("/proc/sys/net/ipv4/tcp_wmem")
        + (32 << 10);
    assert!(written < bound, "{written} bytes taken, bound {bound}");
    // Now read: exactly the bytes sent come back, in order.
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).expect("read the echo");
    assert_eq!(echoed.len(), written);
    assert!(echoed == sent, "the echo differs from what was sent");
}
