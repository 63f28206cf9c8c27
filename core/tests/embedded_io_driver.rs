//! The blocking `embedded_io` driver: over real sockets through
//! `embedded-io-adapters`, and in memory over a transport that reads and
//! writes a few bytes at a time or fails.
//!
//! Run with `cargo test --release -p reseau-core --features embedded-io`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use embedded_io::ErrorKind;
use embedded_io_adapters::std::FromStd;
use reseau_core::adder::native::{ErrorCode, Reply};
use reseau_core::adder::pickle::PickleError;
use reseau_core::adder::{
    AdderConfig, AdderSession, Error as AdderError, Event, Format, ReplyDecoder, RequestEncoder,
};
use reseau_core::drive::embedded_io::{Error, Outcome, SUM_BUF_MIN, run, sum_blocking};
use reseau_core::echo::{self, EchoSession};
use reseau_core::frame;

/// Several pickle requests per connection, as these tests pipeline them.
const KEEP_ALIVE: AdderConfig = AdderConfig {
    max_frame: frame::DEFAULT_MAX_FRAME,
    keep_alive: true,
};

/// How long any thread or socket read may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(20);

/// One framed request for `ints` in `format`.
fn request(format: Format, ints: &[i128]) -> Vec<u8> {
    let mut payload = Vec::new();
    RequestEncoder::encode_all(format, ints.iter().copied(), |b| {
        payload.extend_from_slice(b)
    })
    .unwrap();
    let mut out = frame::encode_header(payload.len() as u32).to_vec();
    out.extend_from_slice(&payload);
    out
}

/// Reads one reply of `format` from `stream`.
fn read_reply(stream: &mut impl std::io::Read, format: Format) -> Reply {
    let mut decoder = ReplyDecoder::new(format);
    let mut byte = [0u8; 1];
    // A native reply is at most a few bytes; bound the loop anyway.
    for _ in 0..64 {
        stream.read_exact(&mut byte).unwrap();
        let (n, reply) = decoder.decode(&byte);
        assert_eq!(n, 1);
        if let Some(reply) = reply {
            return reply.unwrap();
        }
    }
    panic!("reply longer than 64 bytes");
}

/// What the server thread reports: the driver's result and the events.
type Report<E> = (Result<Outcome, String>, Vec<E>);

/// A thread serving one connection through the driver.
struct Server<E> {
    addr: SocketAddr,
    done: mpsc::Receiver<Report<E>>,
    thread: thread::JoinHandle<()>,
}

impl<E> Server<E> {
    /// Waits (bounded) for the driver to return, and joins the thread.
    fn finish(self) -> Report<E> {
        let report = self.done.recv_timeout(TIMEOUT).unwrap();
        self.thread.join().unwrap();
        report
    }
}

/// A listener on 127.0.0.1:0 and a thread that serves one connection with
/// `session` through the driver.
fn serve<S>(session: S, read_len: usize, write_len: usize) -> Server<S::Event>
where
    S: reseau_core::session::StreamSession + Send + 'static,
    S::Event: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, done) = mpsc::channel();
    let thread = thread::spawn(move || {
        let mut session = session;
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut read_buf = vec![0u8; read_len];
        let mut write_buf = vec![0u8; write_len];
        let mut events = Vec::new();
        let result = run(
            &mut session,
            FromStd::new(stream),
            &mut read_buf,
            &mut write_buf,
            |e| events.push(e),
        )
        .map_err(|e| e.to_string());
        tx.send((result, events)).unwrap();
    });
    Server { addr, done, thread }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

#[test]
fn adder_over_tcp_answers_pipelined_pickle_and_native_requests() {
    let server = serve(AdderSession::new(KEEP_ALIVE), 64, 16);
    let mut client = connect(server.addr);

    let big: Vec<i128> = (0..20_000).map(|i| i % 7).collect();
    let requests: Vec<(Format, Vec<i128>, Reply)> = vec![
        (Format::Pickle, vec![1, 2, 40], Reply::Sum(43)),
        (
            Format::Native,
            vec![-5, 1_000_000_000_000, 7],
            Reply::Sum(1_000_000_000_002),
        ),
        (Format::Pickle, vec![], Reply::Sum(0)),
        (
            Format::Pickle,
            big.clone(),
            Reply::Sum(big.iter().sum::<i128>() as i64),
        ),
        (
            Format::Native,
            vec![i64::MAX.into(), 1],
            Reply::Error(ErrorCode::Overflow),
        ),
        (
            Format::Native,
            big.clone(),
            Reply::Sum(big.iter().sum::<i128>() as i64),
        ),
        (
            Format::Pickle,
            vec![u32::MAX.into()],
            Reply::Sum(u32::MAX.into()),
        ),
    ];
    // All requests in one write: the server answers them as they come,
    // while later ones are still arriving.
    let all: Vec<u8> = requests
        .iter()
        .flat_map(|(format, ints, _)| request(*format, ints))
        .collect();
    client.write_all(&all).unwrap();
    for (format, _, expected) in &requests {
        assert_eq!(read_reply(&mut client, *format), *expected);
    }

    // One more through the client helper, on the same connection.
    let mut buf = [0u8; SUM_BUF_MIN];
    let reply = sum_blocking(
        FromStd::new(&mut client),
        Format::Native,
        (1..=100).map(i128::from),
        &mut buf,
    );
    assert_eq!(reply.unwrap(), Reply::Sum(5050));
    let reply = sum_blocking(
        FromStd::new(&mut client),
        Format::Pickle,
        big.iter().copied(),
        &mut buf,
    );
    assert_eq!(reply.unwrap(), Reply::Sum(big.iter().sum::<i128>() as i64));

    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    let (result, events) = server.finish();
    let outcome = result.unwrap();
    assert!(outcome.peer_closed);
    assert!(outcome.received > all.len() as u64);
    assert_eq!(events.len(), requests.len() + 2);
    for (event, (format, ints, expected)) in events.iter().zip(&requests) {
        match (event, expected) {
            (
                Event::Answered {
                    format: f,
                    ints: n,
                    sum,
                },
                Reply::Sum(s),
            ) => {
                assert_eq!((f, *n, sum), (format, ints.len() as u64, s));
            }
            (Event::Rejected(AdderError::Native(code)), Reply::Error(c)) => assert_eq!(code, c),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn hostile_pickle_is_refused_and_the_driver_returns() {
    let server = serve(AdderSession::default(), 512, 64);
    let mut client = connect(server.addr);
    // pickle.dumps(os.system) style: GLOBAL 'os system', then REDUCE.
    let payload = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
    let mut bytes = frame::encode_header(payload.len() as u32).to_vec();
    bytes.extend_from_slice(payload);
    client.write_all(&bytes).unwrap();

    let (result, events) = server.finish();
    let outcome = result.unwrap();
    // The session finished on the forbidden opcode, before end of stream.
    assert!(!outcome.peer_closed);
    assert_eq!(outcome.sent, 0);
    assert_eq!(
        events,
        [Event::Rejected(AdderError::Pickle(
            PickleError::Forbidden {
                opcode: b'c',
                offset: 2
            }
        ))]
    );
    // No reply: end of stream, or a reset if the server's kernel still
    // held unread bytes when it closed.
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty()),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }

    // The client helper sees the same close as ClosedBeforeReply: a sum
    // the 4-byte pickle reply cannot carry.
    let server = serve(AdderSession::default(), 512, 64);
    let mut client = connect(server.addr);
    let mut buf = [0u8; 64];
    let reply = sum_blocking(FromStd::new(&mut client), Format::Pickle, [-1], &mut buf);
    assert!(
        matches!(reply, Err(Error::ClosedBeforeReply) | Err(Error::Read(_))),
        "{reply:?}"
    );
    let (result, events) = server.finish();
    assert!(!result.unwrap().peer_closed);
    assert_eq!(
        events,
        [Event::Rejected(AdderError::OutOfRange { sum: -1 })]
    );
}

#[test]
fn echo_over_tcp_round_trips_one_megabyte() {
    let server = serve(EchoSession::new(), 1500, 700);
    let client = connect(server.addr);
    let message: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();

    let mut writer = client.try_clone().unwrap();
    let to_send = message.clone();
    let (wtx, wrx) = mpsc::channel();
    let writer_thread = thread::spawn(move || {
        for piece in to_send.chunks(10_000) {
            writer.write_all(piece).unwrap();
        }
        writer.shutdown(Shutdown::Write).unwrap();
        wtx.send(()).unwrap();
    });
    let mut reader = client;
    let (rtx, rrx) = mpsc::channel();
    let reader_thread = thread::spawn(move || {
        let mut echoed = Vec::new();
        reader.read_to_end(&mut echoed).unwrap();
        rtx.send(echoed).unwrap();
    });

    wrx.recv_timeout(TIMEOUT).unwrap();
    writer_thread.join().unwrap();
    let echoed = rrx.recv_timeout(TIMEOUT).unwrap();
    reader_thread.join().unwrap();
    assert_eq!(echoed.len(), message.len());
    assert!(echoed == message, "the echo differs from the message");

    let (result, events) = server.finish();
    let outcome = result.unwrap();
    assert_eq!(
        outcome,
        Outcome {
            received: message.len() as u64,
            sent: message.len() as u64,
            peer_closed: true
        }
    );
    let head = heapless::Vec::from_slice(&message[..echo::PREVIEW]).unwrap();
    assert_eq!(
        events,
        [echo::Event::Message {
            len: message.len() as u64,
            head
        }]
    );
}

/// An in-memory transport: reads hand out 1 to 3 bytes, writes accept 1
/// to 5, and either can be made to fail after a number of bytes.
struct Trickle {
    input: Vec<u8>,
    read_pos: usize,
    output: Vec<u8>,
    calls: usize,
    /// Reads fail once this many bytes were read.
    read_fails_at: Option<usize>,
    /// Writes fail once this many bytes were written.
    write_fails_at: Option<usize>,
    /// Writes return `Ok(0)`.
    write_zero: bool,
    /// Every seventh read or write fails with `Interrupted`.
    interrupts: bool,
    flushed: bool,
}

impl Trickle {
    fn new(input: Vec<u8>) -> Self {
        Trickle {
            input,
            read_pos: 0,
            output: Vec::new(),
            calls: 0,
            read_fails_at: None,
            write_fails_at: None,
            write_zero: false,
            interrupts: false,
            flushed: false,
        }
    }

    /// Fails the test if the driver loops: every call must move a byte.
    fn count_call(&mut self) -> Result<(), ErrorKind> {
        self.calls += 1;
        assert!(self.calls < 10_000_000, "the driver does not stop");
        if self.interrupts && self.calls.is_multiple_of(7) {
            return Err(ErrorKind::Interrupted);
        }
        Ok(())
    }
}

impl embedded_io::ErrorType for Trickle {
    type Error = ErrorKind;
}

impl embedded_io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.count_call()?;
        if self.read_fails_at.is_some_and(|at| self.read_pos >= at) {
            return Err(ErrorKind::ConnectionReset);
        }
        let n = (1 + self.calls % 3)
            .min(buf.len())
            .min(self.input.len() - self.read_pos);
        buf[..n].copy_from_slice(&self.input[self.read_pos..self.read_pos + n]);
        self.read_pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.count_call()?;
        if self
            .write_fails_at
            .is_some_and(|at| self.output.len() >= at)
        {
            return Err(ErrorKind::BrokenPipe);
        }
        if self.write_zero {
            return Ok(0);
        }
        let n = (1 + self.calls % 5).min(buf.len());
        self.output.extend_from_slice(&buf[..n]);
        self.flushed = false;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.flushed = true;
        Ok(())
    }
}

#[test]
fn a_million_ints_through_a_trickle_and_a_16_byte_buffer() {
    let ints: Vec<i128> = (0..1_000_000).map(|i| i % 1000).collect();
    let pickle_sum: i128 = ints.iter().sum();
    let mut input = request(Format::Pickle, &ints);
    input.extend(request(Format::Native, &[-3, 4]));
    input.extend(request(Format::Pickle, &[7]));
    let mut transport = Trickle::new(input.clone());

    let mut session = AdderSession::new(KEEP_ALIVE);
    let (mut read_buf, mut write_buf) = ([0u8; 16], [0u8; 3]);
    let mut events = Vec::new();
    let outcome = run(
        &mut session,
        &mut transport,
        &mut read_buf,
        &mut write_buf,
        |e| events.push(e),
    )
    .unwrap();
    assert_eq!(
        events,
        [
            Event::Answered {
                format: Format::Pickle,
                ints: 1_000_000,
                sum: pickle_sum as i64
            },
            Event::Answered {
                format: Format::Native,
                ints: 2,
                sum: 1
            },
            Event::Answered {
                format: Format::Pickle,
                ints: 1,
                sum: 7
            },
        ]
    );
    assert_eq!(
        outcome,
        Outcome {
            received: input.len() as u64,
            sent: transport.output.len() as u64,
            peer_closed: true
        }
    );
    assert!(transport.flushed);

    let mut replies: &[u8] = &transport.output;
    assert_eq!(
        read_reply(&mut replies, Format::Pickle),
        Reply::Sum(pickle_sum as i64)
    );
    assert_eq!(read_reply(&mut replies, Format::Native), Reply::Sum(1));
    assert_eq!(read_reply(&mut replies, Format::Pickle), Reply::Sum(7));
    assert!(replies.is_empty());
}

#[test]
fn echo_through_a_trickle_with_one_byte_buffers_and_interrupts() {
    let message: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut transport = Trickle::new(message.clone());
    transport.interrupts = true;
    let mut session = EchoSession::new();
    let mut events = Vec::new();
    let outcome = run(
        &mut session,
        &mut transport,
        &mut [0u8; 1],
        &mut [0u8; 1],
        |e| events.push(e),
    )
    .unwrap();
    assert!(outcome.peer_closed);
    assert!(transport.output == message);
    assert_eq!(events.len(), 1);
}

#[test]
fn transport_errors_are_returned() {
    let input = request(Format::Pickle, &(0..1000).collect::<Vec<_>>());
    let buffers = || ([0u8; 16], [0u8; 8]);

    // A read fails in the middle of the request.
    let mut transport = Trickle::new(input.clone());
    transport.read_fails_at = Some(100);
    let (mut r, mut w) = buffers();
    let mut session = AdderSession::default();
    let error = run(&mut session, &mut transport, &mut r, &mut w, |_| {}).unwrap_err();
    assert_eq!(error, Error::Read(ErrorKind::ConnectionReset));
    assert_eq!(
        error.to_string(),
        "reading the transport failed (ConnectionReset): ConnectionReset"
    );
    assert_eq!(embedded_io::Error::kind(&error), ErrorKind::ConnectionReset);
    assert!(std::error::Error::source(&error).is_some());
    assert!(session.in_request());

    // Writing the reply fails after its first byte (one byte a write).
    let mut transport = Trickle::new(input.clone());
    transport.write_fails_at = Some(1);
    let (mut r, mut w) = ([0u8; 16], [0u8; 1]);
    let error = run(
        &mut AdderSession::default(),
        &mut transport,
        &mut r,
        &mut w,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::Write(ErrorKind::BrokenPipe));

    // A write that accepts nothing is an error, not a panic or a loop.
    let mut transport = Trickle::new(input.clone());
    transport.write_zero = true;
    let (mut r, mut w) = buffers();
    let error = run(
        &mut AdderSession::default(),
        &mut transport,
        &mut r,
        &mut w,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::WriteZero);

    // Empty buffers are refused before any I/O.
    let mut transport = Trickle::new(input.clone());
    let error = run(
        &mut AdderSession::default(),
        &mut transport,
        &mut [],
        &mut [0u8; 4],
        |_| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::EmptyReadBuffer);
    let error = run(
        &mut AdderSession::default(),
        &mut transport,
        &mut [0u8; 4],
        &mut [],
        |_| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::EmptyWriteBuffer);
    let error = sum_blocking(&mut transport, Format::Pickle, [1], &mut [0u8; 4]).unwrap_err();
    assert_eq!(error, Error::BufferTooSmall { len: 4 });
    assert_eq!(transport.calls, 0);

    // The client helper returns the transport's errors too.
    let mut transport = Trickle::new(Vec::new());
    transport.write_fails_at = Some(10);
    let error = sum_blocking(
        &mut transport,
        Format::Native,
        0..100,
        &mut [0u8; SUM_BUF_MIN],
    )
    .unwrap_err();
    assert_eq!(error, Error::Write(ErrorKind::BrokenPipe));
    let mut transport = Trickle::new(vec![1, 0]);
    let error =
        sum_blocking(&mut transport, Format::Pickle, [1], &mut [0u8; SUM_BUF_MIN]).unwrap_err();
    assert_eq!(error, Error::ClosedBeforeReply);
    let mut transport = Trickle::new(vec![9, 0, 0, 0]);
    assert_eq!(
        sum_blocking(
            &mut transport,
            Format::Pickle,
            [4, 5],
            &mut [0u8; SUM_BUF_MIN]
        ),
        Ok(Reply::Sum(9))
    );
    assert_eq!(transport.output, request(Format::Pickle, &[4, 5]));
}

/// A session that never takes input nor gives output.
struct Stuck;

impl reseau_core::session::StreamSession for Stuck {
    type Event = ();
    fn handle_input(&mut self, _: &[u8]) -> usize {
        0
    }
    fn handle_eof(&mut self) {}
    fn poll_transmit(&mut self, _: &mut [u8]) -> usize {
        0
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn is_finished(&self) -> bool {
        false
    }
}

#[test]
fn a_session_that_breaks_its_contract_stops_the_driver() {
    let mut transport = Trickle::new(vec![1, 2, 3]);
    let error = run(
        &mut Stuck,
        &mut transport,
        &mut [0u8; 8],
        &mut [0u8; 8],
        |()| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::Stalled { eof: false });
    let mut transport = Trickle::new(Vec::new());
    let error = run(
        &mut Stuck,
        &mut transport,
        &mut [0u8; 8],
        &mut [0u8; 8],
        |()| {},
    )
    .unwrap_err();
    assert_eq!(error, Error::Stalled { eof: true });
}

/// Ints whose clones are not the same ints: each clone yields one int
/// fewer than the one before.
#[derive(Clone)]
struct Shrinking {
    clones: std::rc::Rc<std::cell::Cell<i128>>,
    next: i128,
    end: i128,
}

impl Iterator for Shrinking {
    type Item = i128;
    fn next(&mut self) -> Option<i128> {
        if self.next == 0 {
            // The first int of a pass: this pass ends one int earlier.
            self.end -= self.clones.get();
            self.clones.set(self.clones.get() + 1);
        }
        (self.next < self.end).then(|| {
            self.next += 1;
            self.next
        })
    }
}

#[test]
fn ints_that_change_between_passes_are_refused() {
    let ints = Shrinking {
        clones: Default::default(),
        next: 0,
        end: 50,
    };
    let mut transport = Trickle::new(Vec::new());
    let error = sum_blocking(
        &mut transport,
        Format::Native,
        ints,
        &mut [0u8; SUM_BUF_MIN],
    )
    .unwrap_err();
    assert_eq!(error, Error::RequestChanged);
    // The short request was not flushed: the server gets a cut frame at
    // most, never a frame of other bytes than its header says.
    assert!(transport.output.len() < frame::HEADER_LEN + 50);
}
