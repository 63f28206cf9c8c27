//! One adder request of a million ints, through each driver: over
//! smoltcp's in-memory `Loopback` device (the whole TCP/IP stack in this
//! process) and over std loopback sockets (the kernel's stack), both served
//! by the same `AdderSession`.
//!
//! `cargo bench -p reseau-core --features smoltcp,embedded-io --bench drivers`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use embedded_io_adapters::std::FromStd;
use reseau_core::adder::{AdderSession, Format, RequestEncoder};
use reseau_core::drive::embedded_io::run;
use reseau_core::drive::smoltcp::{Status, TcpDriver};
use reseau_core::frame::encode_header;
use smoltcp::iface::{Config, Interface, PollResult, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp::{Socket, SocketBuffer};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

const INTS: u32 = 1_000_000;
const PORT: u16 = 7000;
/// Socket buffers of 64 KiB each way, on both stacks' sides.
const BUF: usize = 64 * 1024;

/// The framed request (pickle: ints 0..100 repeated, so the sum fits the
/// 4-byte reply) and its reply.
fn request() -> (Vec<u8>, [u8; 4]) {
    let ints = (0..INTS).map(|i| i128::from(i % 100));
    let mut payload = Vec::new();
    RequestEncoder::encode_all(Format::Pickle, ints, |b| payload.extend_from_slice(b)).unwrap();
    let mut framed = encode_header(payload.len() as u32).to_vec();
    framed.extend_from_slice(&payload);
    let sum: u32 = (0..INTS).map(|i| i % 100).sum();
    (framed, sum.to_le_bytes())
}

fn tcp_socket() -> Socket<'static> {
    let mut socket = Socket::new(
        SocketBuffer::new(vec![0; BUF]),
        SocketBuffer::new(vec![0; BUF]),
    );
    socket.set_ack_delay(None);
    socket
}

/// One request over a fresh connection, through smoltcp's Loopback.
fn over_smoltcp(request: &[u8], reply: [u8; 4], local_port: u16) {
    let mut device = Loopback::new(Medium::Ip);
    let mut now = Instant::from_millis(0);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
            .unwrap();
    });
    let mut sockets = SocketSet::new(Vec::new());
    let mut listener = tcp_socket();
    listener.listen(PORT).unwrap();
    let server = sockets.add(listener);
    let client = sockets.add(tcp_socket());
    sockets
        .get_mut::<Socket>(client)
        .connect(
            iface.context(),
            (IpAddress::v4(127, 0, 0, 1), PORT),
            local_port,
        )
        .unwrap();
    let mut driver = TcpDriver::new(AdderSession::default());
    let (mut sent, mut got) = (0, Vec::new());
    for _ in 0..10_000_000 {
        let changed = iface.poll(now, &mut device, &mut sockets) == PollResult::SocketStateChanged;
        let status = driver.poll(sockets.get_mut::<Socket>(server), |_| {});
        let socket = sockets.get_mut::<Socket>(client);
        if socket.can_send() && sent < request.len() {
            sent += socket.send_slice(&request[sent..]).unwrap();
        }
        if socket.can_recv() {
            let mut buf = [0u8; 4];
            let n = socket.recv_slice(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if got.len() == 4 {
                assert_eq!(got, reply);
                return;
            }
        }
        assert_ne!(status, Status::Finished, "the server closed the connection");
        if !changed {
            match iface.poll_delay(now, &sockets) {
                Some(Duration::ZERO) => {}
                Some(delay) => now += delay.min(Duration::from_secs(1)),
                None => now += Duration::from_millis(1),
            }
        }
    }
    panic!("no reply after ten million rounds");
}

/// One request over a fresh std connection to a server thread that runs
/// the embedded-io driver.
fn over_std(addr: std::net::SocketAddr, request: &[u8], reply: [u8; 4]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut got = [0u8; 4];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, reply);
}

fn drivers(c: &mut Criterion) {
    let (request, reply) = request();
    let mut group = c.benchmark_group("adder_1M_ints");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(request.len() as u64));

    let mut port = 49152u16;
    group.bench_function("smoltcp_loopback", |b| {
        b.iter(|| {
            port = if port == u16::MAX { 49152 } else { port + 1 };
            over_smoltcp(black_box(&request), reply, port)
        })
    });

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server lives until the process ends.
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut session = AdderSession::default();
            let (mut read_buf, mut write_buf) = (vec![0u8; BUF], [0u8; 64]);
            let _ = run(
                &mut session,
                FromStd::new(stream),
                &mut read_buf,
                &mut write_buf,
                |_| {},
            );
        }
    });
    group.bench_function("std_loopback_sockets", |b| {
        b.iter(|| over_std(addr, black_box(&request), reply))
    });
    group.finish();
}

criterion_group!(benches, drivers);
criterion_main!(benches);
