//! The server runtime in-process: bind an ephemeral port, serve, stop from
//! another thread.

use std::io::{Read, Write};
use std::net::TcpStream;
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
