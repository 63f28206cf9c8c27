//! The smoltcp driver over smoltcp's in-memory `Loopback` device: server
//! sockets run `AdderSession` and `EchoSession` through `TcpDriver`,
//! client sockets are driven by hand. Nothing leaves the process and the
//! clock is virtual: time only moves when every socket is idle, by
//! `iface.poll_delay`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Net;
use reseau_core::adder::native::Reply;
use reseau_core::adder::{
    AdderConfig, AdderSession, Error, Event, Format, ReplyDecoder, RequestEncoder,
};
use reseau_core::drive::smoltcp::{Status, TcpDriver, serve};
use reseau_core::echo::{self, EchoSession};
use reseau_core::frame;
use reseau_core::session::End;
use reseau_core::session::StreamSession;
use smoltcp::iface::{PollResult, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{RecvError, Socket, SocketBuffer, State};
use smoltcp::time::Duration;
use smoltcp::wire::IpAddress;

const PORT: u16 = 7000;

impl Net {
    fn socket(&mut self, rx: usize, tx: usize) -> SocketHandle {
        let mut socket = Socket::new(
            SocketBuffer::new(vec![0; rx]),
            SocketBuffer::new(vec![0; tx]),
        );
        socket.set_ack_delay(None);
        self.sockets.add(socket)
    }

    fn listen(&mut self, rx: usize, tx: usize) -> SocketHandle {
        let handle = self.socket(rx, tx);
        self.sockets.get_mut::<Socket>(handle).listen(PORT).unwrap();
        handle
    }

    fn connect(&mut self, handle: SocketHandle, local_port: u16) {
        let socket = self.sockets.get_mut::<Socket>(handle);
        socket
            .connect(
                self.iface.context(),
                (IpAddress::v4(127, 0, 0, 1), PORT),
                local_port,
            )
            .unwrap();
    }

    /// Moves packets; true if a socket may have changed.
    fn poll(&mut self) -> bool {
        self.iface
            .poll(self.now, &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged
    }

    /// Nothing changed: let virtual time run to the next timer.
    fn idle(&mut self) {
        match self.iface.poll_delay(self.now, &self.sockets) {
            Some(Duration::ZERO) => {}
            Some(delay) => self.now += delay.min(Duration::from_secs(1)),
            None => self.now += Duration::from_millis(1),
        }
    }
}

/// Server sockets on `PORT`, each with a driver; a finished connection's
/// socket listens again with a fresh session.
struct Server<S: StreamSession> {
    slots: Vec<(SocketHandle, TcpDriver<S>)>,
    make: fn() -> S,
    events: Vec<S::Event>,
    finished: usize,
    /// How each finished connection ended, in order.
    endings: Vec<End>,
}

impl<S: StreamSession> Server<S> {
    fn new(net: &mut Net, count: usize, rx: usize, tx: usize, make: fn() -> S) -> Self {
        let slots = (0..count)
            .map(|_| (net.listen(rx, tx), TcpDriver::new(make())))
            .collect();
        Server {
            slots,
            make,
            events: Vec::new(),
            finished: 0,
            endings: Vec::new(),
        }
    }

    fn tick(&mut self, net: &mut Net) {
        for (handle, driver) in &mut self.slots {
            let socket = net.sockets.get_mut::<Socket>(*handle);
            if driver.poll(socket, |event| self.events.push(event)) == Status::Finished {
                self.finished += 1;
                self.endings.extend(driver.end());
                *driver = TcpDriver::new((self.make)());
                socket.listen(PORT).unwrap();
            }
        }
    }
}

/// A client socket driven by hand: sends `out`, optionally half-closes
/// once everything is queued, reads while `reading`.
struct Client {
    handle: SocketHandle,
    out: Vec<u8>,
    sent: usize,
    close_when_sent: bool,
    reading: bool,
    received: Vec<u8>,
    eof: bool,
    closed: bool,
}

impl Client {
    fn new(net: &mut Net, local_port: u16, rx: usize, tx: usize, out: Vec<u8>) -> Client {
        let handle = net.socket(rx, tx);
        net.connect(handle, local_port);
        Client {
            handle,
            out,
            sent: 0,
            close_when_sent: false,
            reading: true,
            received: Vec::new(),
            eof: false,
            closed: false,
        }
    }

    fn tick(&mut self, net: &mut Net) {
        let socket = net.sockets.get_mut::<Socket>(self.handle);
        if socket.may_send() && self.sent < self.out.len() {
            self.sent += socket.send_slice(&self.out[self.sent..]).unwrap();
        }
        if self.sent == self.out.len() && self.close_when_sent && !self.closed && socket.may_send()
        {
            socket.close();
            self.closed = true;
        }
        if self.reading && !self.eof {
            let mut buf = [0u8; 4096];
            loop {
                match socket.recv_slice(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => self.received.extend_from_slice(&buf[..n]),
                    Err(RecvError::Finished) => {
                        self.eof = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }

    /// Closes its side once it has seen the server's FIN.
    fn close_on_eof(&mut self, net: &mut Net) {
        if self.eof && !self.closed {
            net.sockets.get_mut::<Socket>(self.handle).close();
            self.closed = true;
        }
    }

    fn state(&self, net: &mut Net) -> State {
        net.sockets.get_mut::<Socket>(self.handle).state()
    }
}

/// Runs the network, the server and the clients until `done` holds or
/// `max` rounds have passed; returns the rounds used.
fn run<S: StreamSession>(
    net: &mut Net,
    server: &mut Server<S>,
    clients: &mut [Client],
    max: usize,
    mut done: impl FnMut(&mut Net, &Server<S>, &mut [Client]) -> bool,
) -> usize {
    for round in 0..max {
        let changed = net.poll();
        server.tick(net);
        for client in clients.iter_mut() {
            client.tick(net);
        }
        if done(net, server, clients) {
            return round;
        }
        if !changed {
            net.idle();
        }
    }
    panic!("not done after {max} rounds (virtual time {})", net.now);
}

/// `struct.pack("I", len) + payload`.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut bytes = frame::encode_header(payload.len() as u32).to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn request(format: Format, ints: impl IntoIterator<Item = i128>) -> Vec<u8> {
    let mut payload = Vec::new();
    RequestEncoder::encode_all(format, ints, |bytes| payload.extend_from_slice(bytes)).unwrap();
    framed(&payload)
}

fn replies(format: Format, mut bytes: &[u8]) -> Vec<Reply> {
    let mut decoder = ReplyDecoder::new(format);
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (n, reply) = decoder.decode(bytes);
        bytes = &bytes[n..];
        if let Some(reply) = reply {
            out.push(reply.unwrap());
        }
    }
    assert!(decoder.is_idle(), "a reply was cut short");
    out
}

/// `pickle.dumps([1, 2, 300], protocol=p)` from CPython 3, for p in 0..=5.
const PICKLES: [&[u8]; 6] = [
    b"(lp0\nI1\naI2\naI300\na.",
    b"]q\x00(K\x01K\x02M,\x01e.",
    b"\x80\x02]q\x00(K\x01K\x02M,\x01e.",
    b"\x80\x03]q\x00(K\x01K\x02M,\x01e.",
    b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02M,\x01e.",
    b"\x80\x05\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02M,\x01e.",
];

/// The client sends `out`, reads until the server has answered `expect`
/// replies (or closed), then closes; returns what it received.
fn adder_exchange(
    net: &mut Net,
    server: &mut Server<AdderSession>,
    clients: &mut [Client],
    max: usize,
) -> usize {
    run(net, server, clients, max, |net, server, clients| {
        let mut all_done = true;
        for client in clients.iter_mut() {
            client.close_on_eof(net);
            if !matches!(client.state(net), State::Closed | State::TimeWait) {
                all_done = false;
            }
        }
        all_done && server.finished >= clients.len()
    })
}

/// A session that answers several pickle requests per connection
/// (`--keep-alive`), as the pipelining tests below need.
fn keep_alive() -> AdderSession {
    AdderSession::new(AdderConfig {
        keep_alive: true,
        ..AdderConfig::default()
    })
}

#[test]
fn the_server_closes_first_after_a_course_request() {
    // The course's client: one request, read the reply, close. The server
    // replies and closes first, so it, not the client, holds TIME_WAIT.
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 1, 1024, 1024, AdderSession::default);
    let mut out = request(Format::Pickle, [1, 2, 3]);
    // A second request on the same connection is not answered.
    out.extend(request(Format::Pickle, [4]));
    let mut clients = [Client::new(&mut net, 50_000, 1024, 1024, out)];
    adder_exchange(&mut net, &mut server, &mut clients, 10_000);
    assert_eq!(
        replies(Format::Pickle, &clients[0].received),
        [Reply::Sum(6)]
    );
    assert_eq!(server.endings, [End::ClosedByServer]);
}

#[test]
fn pickle_of_every_protocol_and_native_requests() {
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 2, 1024, 1024, keep_alive);
    let mut out = Vec::new();
    for pickle in PICKLES {
        out.extend(framed(pickle));
    }
    // The encoder's own pickle, then an empty list.
    out.extend(request(Format::Pickle, [7, 8, 9]));
    out.extend(request(Format::Pickle, []));
    let mut pickle_client = Client::new(&mut net, 50_000, 1024, 1024, out);
    pickle_client.close_when_sent = true;

    let mut native = request(Format::Native, [1, -2, 300]);
    native.extend(request(
        Format::Native,
        [i64::MAX as i128, i64::MIN as i128],
    ));
    native.extend(request(Format::Native, (0..1000).map(|i| i * 1000)));
    let mut native_client = Client::new(&mut net, 50_001, 1024, 1024, native);
    native_client.close_when_sent = true;

    let mut clients = [pickle_client, native_client];
    let rounds = adder_exchange(&mut net, &mut server, &mut clients, 10_000);

    let sums: Vec<i64> = replies(Format::Pickle, &clients[0].received)
        .into_iter()
        .map(|r| match r {
            Reply::Sum(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sums, [303, 303, 303, 303, 303, 303, 24, 0]);
    assert_eq!(
        replies(Format::Native, &clients[1].received),
        [
            Reply::Sum(299),
            Reply::Sum(-1),
            Reply::Sum(999 * 1000 / 2 * 1000)
        ]
    );
    let answered = server
        .events
        .iter()
        .filter(|e| matches!(e, Event::Answered { .. }))
        .count();
    assert_eq!(answered, 11, "{:?}", server.events);
    assert_eq!(server.events.len(), 11);
    assert!(rounds < 1000, "{rounds} rounds");
}

#[test]
fn hostile_pickle_closes_without_reply() {
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 1, 1024, 1024, AdderSession::default);
    // cos\nsystem\n(S'echo hi'\ntR.  : GLOBAL os.system, REDUCE.
    let hostile = framed(b"cos\nsystem\n(S'echo hi'\ntR.");
    let mut clients = [Client::new(&mut net, 50_000, 1024, 1024, hostile)];
    adder_exchange(&mut net, &mut server, &mut clients, 10_000);
    assert!(clients[0].eof);
    assert!(clients[0].received.is_empty(), "{:?}", clients[0].received);
    assert!(
        matches!(server.events[..], [Event::Rejected(Error::Pickle(_))]),
        "{:?}",
        server.events
    );
    assert_eq!(server.finished, 1);
    assert_eq!(server.endings, [End::ClosedByServer]);
}

#[test]
fn a_client_reset_mid_request_is_an_end_of_stream() {
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 1, 1024, 1024, AdderSession::default);
    let whole = request(Format::Pickle, 0..1000);
    let half = whole[..whole.len() / 2].to_vec();
    let mut clients = [Client::new(&mut net, 50_000, 1024, 4096, half)];
    run(
        &mut net,
        &mut server,
        &mut clients,
        10_000,
        |net, server, clients| {
            let socket = net.sockets.get_mut::<Socket>(clients[0].handle);
            if clients[0].sent == clients[0].out.len() && socket.send_queue() == 0 {
                // Everything was acknowledged: the server has it. Reset.
                socket.abort();
            }
            server.finished == 1
        },
    );
    assert_eq!(server.events, [Event::Rejected(Error::Truncated)]);
    assert_eq!(server.endings, [End::Reset]);
    // The socket listens again.
    let socket = net.sockets.get_mut::<Socket>(server.slots[0].0);
    assert_eq!(socket.state(), State::Listen);
}

#[test]
fn a_million_ints_through_64_byte_buffers() {
    const N: i128 = 1_000_000;
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 1, 64, 64, keep_alive);
    // Values below 4000 keep the sum inside the pickle reply's u32.
    let ints = (0..N).map(|i| i % 4000);
    let sum: i128 = ints.clone().sum();
    let mut out = request(Format::Pickle, ints.clone());
    let pickle_len = out.len();
    out.extend(request(Format::Native, ints));
    let mut client = Client::new(&mut net, 50_000, 4096, 65_536, out);
    client.close_when_sent = true;
    let mut clients = [client];
    let server_socket = net.sockets.get_mut::<Socket>(server.slots[0].0);
    assert_eq!(
        (server_socket.recv_capacity(), server_socket.send_capacity()),
        (64, 64)
    );
    let rounds = adder_exchange(&mut net, &mut server, &mut clients, 2_000_000);
    // The pickle reply, then the native one.
    let (pickle, native) = clients[0].received.split_at(4);
    assert_eq!(replies(Format::Pickle, pickle), [Reply::Sum(sum as i64)]);
    assert_eq!(replies(Format::Native, native), [Reply::Sum(sum as i64)]);
    assert_eq!(
        server.events,
        [
            Event::Answered {
                format: Format::Pickle,
                ints: N as u64,
                sum: sum as i64
            },
            Event::Answered {
                format: Format::Native,
                ints: N as u64,
                sum: sum as i64
            }
        ]
    );
    eprintln!(
        "{} request bytes through a 64-byte window in {rounds} rounds, {} of virtual time",
        clients[0].out.len(),
        net.now
    );
    assert!(pickle_len > 2_000_000);
}

#[test]
fn four_listening_sockets_serve_four_clients_then_more() {
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 4, 256, 256, AdderSession::default);
    let requests = |k: i128| {
        let format = if k % 2 == 0 {
            Format::Pickle
        } else {
            Format::Native
        };
        (format, request(format, (0..100 + k).map(|i| i * (k + 1))))
    };
    let expect = |k: i128| (0..100 + k).map(|i| i * (k + 1)).sum::<i128>() as i64;

    let mut clients: Vec<Client> = (0..4)
        .map(|k| {
            let mut c = Client::new(&mut net, 50_000 + k as u16, 1024, 4096, requests(k).1);
            c.close_when_sent = true;
            c
        })
        .collect();
    adder_exchange(&mut net, &mut server, &mut clients, 20_000);
    for (k, client) in clients.iter().enumerate() {
        let (format, _) = requests(k as i128);
        assert_eq!(
            replies(format, &client.received),
            [Reply::Sum(expect(k as i128))]
        );
    }
    assert_eq!(server.finished, 4);

    // The sockets listen again: two more rounds of clients.
    for batch in 1..3 {
        let mut clients: Vec<Client> = (0..4)
            .map(|k| {
                let port = 50_000 + 10 * batch + k as u16;
                let mut c = Client::new(&mut net, port, 1024, 4096, requests(k).1);
                c.close_when_sent = true;
                c
            })
            .collect();
        let before = server.finished;
        run(
            &mut net,
            &mut server,
            &mut clients,
            20_000,
            |net, server, clients| {
                let mut all_done = true;
                for client in clients.iter_mut() {
                    client.close_on_eof(net);
                    all_done &= matches!(client.state(net), State::Closed | State::TimeWait);
                }
                all_done && server.finished >= before + 4
            },
        );
        for (k, client) in clients.iter().enumerate() {
            let (format, _) = requests(k as i128);
            assert_eq!(
                replies(format, &client.received),
                [Reply::Sum(expect(k as i128))]
            );
        }
    }
    assert_eq!(server.finished, 12);
    assert_eq!(server.events.len(), 12);
}

fn echo_done(net: &mut Net, server: &Server<EchoSession>, clients: &mut [Client]) -> bool {
    let mut all_done = true;
    for client in clients.iter_mut() {
        client.close_on_eof(net);
        all_done &= client.eof;
    }
    all_done && server.finished >= clients.len()
}

#[test]
fn echo_reports_the_message_at_half_close() {
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 2, 512, 512, EchoSession::new);
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut hello = Client::new(&mut net, 50_000, 1024, 1024, b"Hello World!".to_vec());
    hello.close_when_sent = true;
    let mut bulk = Client::new(&mut net, 50_001, 1024, 1024, big.clone());
    bulk.close_when_sent = true;
    let mut clients = [hello, bulk];
    run(&mut net, &mut server, &mut clients, 100_000, echo_done);
    assert_eq!(clients[0].received, b"Hello World!");
    assert_eq!(clients[1].received, big);
    let mut messages: Vec<(u64, Vec<u8>)> = server
        .events
        .iter()
        .map(|echo::Event::Message { len, head }| (*len, head.to_vec()))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            (12, b"Hello World!".to_vec()),
            (20_000, big[..echo::PREVIEW].to_vec())
        ]
    );
    // Each client half-closed first.
    assert_eq!(server.endings, [End::ClosedByPeer, End::ClosedByPeer]);
}

#[test]
fn echo_holds_back_a_client_that_does_not_read() {
    const TOTAL: usize = 100_000;
    const SERVER_BUF: usize = 256;
    let mut net = Net::new();
    let mut server = Server::new(&mut net, 1, SERVER_BUF, SERVER_BUF, EchoSession::new);
    let data: Vec<u8> = (0..TOTAL as u32).map(|i| (i % 253) as u8).collect();
    let mut client = Client::new(&mut net, 50_000, 1024, 8192, data.clone());
    client.close_when_sent = true;
    client.reading = false;
    let mut clients = [client];

    // Run until the pipeline is full and stays so.
    let server_handle = server.slots[0].0;
    let mut stuck_rounds = 0;
    let mut last_received = u64::MAX;
    for _ in 0..100_000 {
        let changed = net.poll();
        server.tick(&mut net);
        clients[0].tick(&mut net);
        let received = server.slots[0].1.session().received();
        let socket = net.sockets.get_mut::<Socket>(server_handle);
        assert!(socket.recv_queue() <= SERVER_BUF);
        if received == last_received {
            stuck_rounds += 1;
        } else {
            stuck_rounds = 0;
            last_received = received;
        }
        if stuck_rounds > 200 {
            break;
        }
        if !changed {
            net.idle();
        }
    }
    assert!(stuck_rounds > 200, "the server kept taking input");
    // Held: the session's buffer, the server's send ring, the client's
    // receive ring; the server's receive ring is full and the client could
    // not queue everything.
    let held = last_received as usize;
    assert!(
        held <= echo::BUFFER + SERVER_BUF + 1024,
        "{held} bytes taken"
    );
    assert!(held >= echo::BUFFER, "{held} bytes taken");
    let queued = net.sockets.get_mut::<Socket>(server_handle).recv_queue();
    assert_eq!(queued, SERVER_BUF);
    assert!(clients[0].sent < TOTAL);
    eprintln!(
        "held back: the session took {held} bytes, the client queued {} of {TOTAL}",
        clients[0].sent
    );
    assert!(server.events.is_empty());

    // The client reads: everything comes back, in order.
    clients[0].reading = true;
    run(&mut net, &mut server, &mut clients, 1_000_000, echo_done);
    assert_eq!(clients[0].received.len(), TOTAL);
    assert!(clients[0].received == data);
    assert!(matches!(
        server.events[..],
        [echo::Event::Message { len, .. }] if len == TOTAL as u64
    ));
}

/// A connection that opens and is reset between two polls of the driver
/// (the driver never sees it open) is over: the driver says `Finished`, so
/// the socket listens again, and the session never heard of it. A socket
/// never armed (not yet listening) is only `Waiting`.
#[test]
fn a_connection_reset_before_the_driver_saw_it_open_is_finished() {
    let mut net = Net::new();
    let unused = net.socket(1024, 1024);
    let mut idle_driver = TcpDriver::new(EchoSession::default());
    let socket = net.sockets.get_mut::<Socket>(unused);
    assert_eq!(socket.state(), State::Closed);
    assert_eq!(idle_driver.poll(socket, |_| {}), Status::Waiting);

    let listener = net.listen(1024, 1024);
    let mut driver = TcpDriver::new(EchoSession::default());
    let socket = net.sockets.get_mut::<Socket>(listener);
    assert_eq!(driver.poll(socket, |_| {}), Status::Waiting);
    let mut client = Client::new(&mut net, 50_001, 1024, 1024, b"never read".to_vec());
    // The handshake and the bytes, with no driver poll in between.
    for _ in 0..100 {
        net.poll();
        client.tick(&mut net);
        if net.sockets.get_mut::<Socket>(listener).recv_queue() == client.out.len() {
            break;
        }
        net.idle();
    }
    assert_eq!(
        net.sockets.get_mut::<Socket>(listener).state(),
        State::Established
    );
    // Then the client resets, still with no driver poll.
    net.sockets.get_mut::<Socket>(client.handle).abort();
    for _ in 0..100 {
        net.poll();
        if net.sockets.get_mut::<Socket>(listener).state() == State::Closed {
            break;
        }
        net.idle();
    }
    let socket = net.sockets.get_mut::<Socket>(listener);
    assert_eq!(socket.state(), State::Closed);
    let mut events = Vec::new();
    assert_eq!(driver.poll(socket, |e| events.push(e)), Status::Finished);
    assert_eq!(driver.poll(socket, |e| events.push(e)), Status::Finished);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(driver.end(), Some(End::Reset));
    assert_eq!(idle_driver.end(), None);
    assert!(!driver.session().is_finished());
    // The socket listens again, for a new driver.
    socket.listen(PORT).unwrap();
    assert_eq!(socket.state(), State::Listen);
}

/// One server socket and its driver, run by `serve`'s `drive`.
struct Served {
    handle: SocketHandle,
    driver: TcpDriver<AdderSession>,
    answered: usize,
}

impl Served {
    fn drive(&mut self, sockets: &mut SocketSet<'_>) -> bool {
        let socket = sockets.get_mut::<Socket>(self.handle);
        let answered = &mut self.answered;
        let status = self.driver.poll(socket, |event| {
            if let Event::Answered { .. } = event {
                *answered += 1;
            }
        });
        if status == Status::Finished {
            self.driver = TcpDriver::new(AdderSession::default());
            socket.listen(PORT).unwrap();
        }
        status == Status::Finished
    }
}

#[test]
fn serve_listens_again_between_a_fin_and_the_next_syn() {
    // The course's client closes its connection (FIN) and opens the next
    // (SYN) at once, so both reach the server in one batch. With one
    // server socket, the SYN finds it listening again only if the driver
    // ran between the two packets, as `serve` does (`Interface::poll`
    // takes both in first, and the SYN is reset).
    let mut net = Net::new();
    let mut served = Served {
        handle: net.listen(1024, 1024),
        driver: TcpDriver::new(AdderSession::default()),
        answered: 0,
    };
    let mut first = Client::new(
        &mut net,
        50_000,
        1024,
        1024,
        request(Format::Pickle, [1, 2]),
    );
    let mut second = None;
    for _ in 0..10_000 {
        let moved = serve(
            &mut net.iface,
            net.now,
            &mut net.device,
            &mut net.sockets,
            |sockets| served.drive(sockets),
        );
        first.tick(&mut net);
        if first.eof && second.is_none() {
            // The reply and the server's FIN are in: close and reconnect
            // in the same breath.
            first.close_on_eof(&mut net);
            second = Some(Client::new(
                &mut net,
                50_001,
                1024,
                1024,
                request(Format::Pickle, [3, 4]),
            ));
        }
        if let Some(client) = second.as_mut() {
            client.tick(&mut net);
            client.close_on_eof(&mut net);
            if client.eof || client.state(&mut net) == State::Closed {
                break;
            }
        }
        if !moved {
            net.idle();
        }
    }
    let second = second.expect("the first exchange never ended");
    assert_eq!(replies(Format::Pickle, &second.received), [Reply::Sum(7)]);
    assert_eq!(served.answered, 2);
}
