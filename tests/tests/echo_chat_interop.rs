//! Echo, the UDP chat and the host-name look-ups over real sockets: the
//! `reseau` binary against the course's Python peers (`tests/peers/`),
//! against itself, and against OpenBSD netcat as a third-party peer.
//!
//! Every process binds 127.0.0.1 or ::1, on a port the kernel picks (or,
//! for a netcat listener, one that was free a moment ago); each test has
//! its own processes, so the tests run in parallel. Every wait has a
//! deadline, and every child is killed when its test ends.
//!
//! Needs `cargo build --release --workspace` first (or `RESEAU_BIN`),
//! `python3` on the PATH, and `nc` (netcat-openbsd) for the netcat tests:
//! without it they are skipped with a note, except in CI (`CI=true`).

mod common;

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Asserts a failed `reseau` run: exit `code`, nothing on stdout, one
/// stderr line that starts with `prefix`, no panic.
fn assert_fails(out: &Output, code: i32, prefix: &str) {
    assert_eq!(out.code(), Some(code), "{out:?}");
    assert!(out.stdout_raw.is_empty(), "nothing on stdout: {out:?}");
    assert_eq!(out.stderr.len(), 1, "one line on stderr: {out:?}");
    let line = &out.stderr[0];
    assert!(line.starts_with(prefix), "{out:?}");
    assert!(
        !line.contains("panicked") && !line.contains("backtrace"),
        "{out:?}"
    );
}

// ---------------------------------------------------------------------
// Echo
// ---------------------------------------------------------------------

/// `reseau echo serve --bind <bind> <args>`.
fn echo_server(bind: &str, args: &[&str]) -> Server {
    Server::start_cmd(&["echo", "serve"], bind, args, None)
}

/// `reseau echo send --to <server> [message]`, with `stdin` if given.
fn echo_send(server: SocketAddr, message: Option<&str>, stdin: Option<Vec<u8>>) -> Output {
    let to = server.to_string();
    let mut args = vec!["echo", "send", "--to", &to];
    args.extend(message);
    Proc::spawn(reseau(&args), stdin).finish(WAIT)
}

/// Asserts `reseau echo send` exited 0, printed exactly `expected` and
/// nothing on stderr.
fn assert_echoed(out: &Output, expected: &[u8]) {
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "nothing on stderr: {:?}", out.stderr);
    assert!(
        out.stdout_raw == expected,
        "echoed {} bytes, sent {}; first difference at byte {:?}",
        out.stdout_raw.len(),
        expected.len(),
        out.stdout_raw
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
    );
}

/// Bytes that are not text: every byte value, in a pseudo-random order.
fn binary(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[1]
        })
        .collect()
}

#[test]
fn echo_course_client_to_our_server() {
    let mut server = echo_server("127.0.0.1:0", &[]);
    let port = server.addr.port().to_string();
    // The course's client sends and closes without reading: the echo then
    // reaches a closed socket, and the client's kernel may answer with a
    // reset before or after its FIN. Either way the message is logged.
    for i in 0..6 {
        let word = format!("n{i}");
        let out = run(python_peer(
            "echo_client.py",
            &[
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "course",
                "message",
                &word,
            ],
        ));
        assert_eq!(out.code(), Some(0), "{out:?}");
        assert!(
            out.stdout.is_empty(),
            "the course client prints nothing: {out:?}"
        );
        let expected = format!(": \"course message {word}\" (17 bytes); ");
        server.wait_log(0, &["echo: 127.0.0.1:", &expected]);
    }
    // Its stdin mode too, with a message over several lines.
    let out = run_with_stdin(
        python_peer("echo_client.py", &["--host", "127.0.0.1", "--port", &port]),
        b"line one\nline two\n".to_vec(),
    );
    assert_eq!(out.code(), Some(0), "{out:?}");
    server.wait_log(0, &[": \"line one\\nline two\\n\" (18 bytes); "]);
    server.assert_running();
}

#[test]
fn echo_send_to_course_server() {
    let course = Proc::spawn(
        python_peer(
            "echo_server.py",
            &["--host", "127.0.0.1", "--port", "0", "--max-clients", "2"],
        ),
        None,
    );
    let prefix = "listening on ";
    let (_, line) = course
        .stdout
        .wait_for(0, WAIT, |l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("course server: {:?}", course.stderr.all()));
    let addr: SocketAddr = line[prefix.len()..].parse().expect("course server address");

    // It prints the message and echoes nothing: our client says so, exit 0.
    let out = echo_send(addr, Some("Hello course server!"), None);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stdout_raw.is_empty(), "{out:?}");
    assert_eq!(
        out.stderr,
        ["reseau: the server closed without echoing"],
        "{out:?}"
    );
    course
        .stdout
        .wait_for(1, WAIT, |l| l == "Hello course server!")
        .unwrap_or_else(|| panic!("course server output: {:?}", course.stdout.all()));

    // From stdin, not UTF-8: it decodes with errors='replace'.
    let out = echo_send(addr, None, Some(b"caf\xe9 stdin".to_vec()));
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stderr, ["reseau: the server closed without echoing"]);
    let out = course.finish(WAIT);
    assert_eq!(
        out.code(),
        Some(0),
        "course server (--max-clients 2): {out:?}"
    );
    assert_eq!(
        out.stdout[1..],
        ["Hello course server!", "caf\u{fffd} stdin"],
        "{out:?}"
    );
    assert!(out.stderr.is_empty(), "no client failed: {out:?}");
}

#[test]
fn echo_round_trip_text() {
    let server = echo_server("127.0.0.1:0", &[]);
    let out = echo_send(server.addr, Some("Hello World!"), None);
    assert_echoed(&out, b"Hello World!");
    server.wait_log(
        0,
        &[
            "echo: 127.0.0.1:",
            ": \"Hello World!\" (12 bytes); closed by peer",
        ],
    );

    // An empty message: nothing sent, nothing back, no complaint.
    let out = echo_send(server.addr, Some(""), None);
    assert_echoed(&out, b"");
    server.wait_log(0, &[": \"\" (0 bytes); closed by peer"]);

    // One byte: the log says "byte".
    let out = echo_send(server.addr, Some("!"), None);
    assert_echoed(&out, b"!");
    server.wait_log(0, &[": \"!\" (1 byte); closed by peer"]);
}

#[test]
fn echo_round_trip_3_mb_of_binary_from_stdin() {
    let server = echo_server("127.0.0.1:0", &[]);
    let data = binary(3_000_000);
    let started = Instant::now();
    let out = echo_send(server.addr, None, Some(data.clone()));
    assert_echoed(&out, &data);
    let (_, line) = server.wait_log(0, &["\"... (3000000 bytes); closed by peer"]);
    assert!(line.starts_with("echo: 127.0.0.1:"), "{line}");
    eprintln!("3 MB echoed in {:?}", started.elapsed());
}

#[test]
fn echo_invalid_utf8_is_logged_escaped_and_echoed_exactly() {
    let server = echo_server("127.0.0.1:0", &[]);
    let data = b"caf\xe9 \xff\xfe ok\n\ttab\x01".to_vec();
    let out = echo_send(server.addr, None, Some(data.clone()));
    assert_echoed(&out, &data);
    // \xHH for each bad byte, control characters escaped (host/src/escape.rs).
    server.wait_log(
        0,
        &[": \"caf\\xe9 \\xff\\xfe ok\\n\\ttab\\x01\" (16 bytes); closed by peer"],
    );
}

#[test]
fn echo_long_message_log_is_shortened() {
    let server = echo_server("127.0.0.1:0", &[]);
    let message = "0123456789".repeat(20);
    let out = echo_send(server.addr, Some(&message), None);
    assert_echoed(&out, message.as_bytes());
    let expected = format!(": \"{}\"... (200 bytes); closed by peer", &message[..96]);
    let (_, line) = server.wait_log(0, &[&expected]);
    assert!(line.ends_with(&expected), "{line}");

    // The 96-byte cut falls inside a two-byte character: its first byte
    // is shown as \xc3.
    let message = format!("{}étail", "a".repeat(95));
    let out = echo_send(server.addr, Some(&message), None);
    assert_echoed(&out, message.as_bytes());
    let expected = format!(
        ": \"{}\\xc3\"... (101 bytes); closed by peer",
        "a".repeat(95)
    );
    server.wait_log(0, &[&expected]);

    // Exactly 96 bytes: whole, no "...".
    let message = "b".repeat(96);
    let out = echo_send(server.addr, Some(&message), None);
    assert_echoed(&out, message.as_bytes());
    server.wait_log(0, &[&format!(": \"{message}\" (96 bytes); closed by peer")]);
}

#[test]
fn echo_course_client_reading_the_echo() {
    let server = echo_server("127.0.0.1:0", &[]);
    let port = server.addr.port().to_string();
    let out = run(python_peer(
        "echo_client.py",
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--read",
            "Hello",
            "World!",
        ],
    ));
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &["Hello World!".to_string()][..]),
        "{out:?}"
    );
    server.wait_log(0, &[": \"Hello World!\" (12 bytes); closed by peer"]);

    // 200 KB from its stdin, through its reading thread.
    let text = "abcdefghij\n".repeat(20_000);
    let out = run_with_stdin(
        python_peer(
            "echo_client.py",
            &["--host", "127.0.0.1", "--port", &port, "--read"],
        ),
        text.clone().into_bytes(),
    );
    assert_eq!(out.code(), Some(0), "{out:?}");
    // print() adds one newline to the echo.
    assert_eq!(out.stdout_raw, format!("{text}\n").into_bytes());
    server.wait_log(0, &["(220000 bytes); closed by peer"]);
}

#[test]
fn echo_over_ipv6() {
    let server = echo_server("[::1]:0", &[]);
    assert!(server.addr.is_ipv6(), "bound {}", server.addr);
    assert!(
        server.log()[0].starts_with("echo: listening on [::1]:"),
        "{:?}",
        server.log()
    );
    let out = echo_send(server.addr, Some("over IPv6"), None);
    assert_echoed(&out, b"over IPv6");
    server.wait_log(
        0,
        &["echo: [::1]:", ": \"over IPv6\" (9 bytes); closed by peer"],
    );

    let port = server.addr.port().to_string();
    let out = run(python_peer(
        "echo_client.py",
        &["--host", "::1", "--port", &port, "--read", "course", "IPv6"],
    ));
    assert_eq!(out.stdout, ["course IPv6"], "{out:?}");
    server.wait_log(
        0,
        &[
            "echo: [::1]:",
            ": \"course IPv6\" (11 bytes); closed by peer",
        ],
    );
}

#[test]
fn echo_send_refused_connection() {
    let to = format!("127.0.0.1:{}", unused_port());
    let out = run(reseau(&["echo", "send", "--to", &to, "anyone there?"]));
    assert_fails(
        &out,
        2,
        &format!("reseau: server not found at {to}, cannot connect: "),
    );
    // From stdin: the same, before reading it.
    let out = run_with_stdin(reseau(&["echo", "send", "--to", &to]), b"x".to_vec());
    assert_fails(&out, 2, "reseau: server not found at ");
}

/// A client that writes 64 MiB and never reads: TCP holds it back (the
/// server keeps at most its 512-byte buffer), and other clients are served
/// meanwhile. (The server's memory under such a flood is measured by the
/// benchmarks, `bench/run`, not here.)
#[test]
fn echo_back_pressure_on_a_client_that_never_reads() {
    const TOTAL: u64 = 64 << 20;
    const MAX_WRITTEN: u64 = 16 << 20;
    let mut server = echo_server("127.0.0.1:0", &[]);
    let stream = connect(server.addr);
    let local = stream.local_addr().expect("local addr");
    let mut writer = stream.try_clone().expect("clone the socket");
    let written = Arc::new(AtomicU64::new(0));
    let (done, finished) = mpsc::channel();
    let counter = written.clone();
    let thread = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let result = loop {
            if counter.load(Ordering::SeqCst) >= TOTAL {
                break Ok(());
            }
            match writer.write(&chunk) {
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let _ = done.send(result);
    });

    // Wait until the writes stall: no progress for 500 ms.
    let deadline = Instant::now() + WAIT;
    let mut last = 0;
    let mut still_since = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(50));
        if let Ok(result) = finished.try_recv() {
            panic!(
                "the writer finished ({result:?}) after {} bytes: the server read it all without \
                 our reading the echo",
                written.load(Ordering::SeqCst)
            );
        }
        let now = written.load(Ordering::SeqCst);
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if now > 0 && still_since.elapsed() >= Duration::from_millis(500) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the writes never stalled: {now} bytes written so far"
        );
    }
    let stalled_at = written.load(Ordering::SeqCst);
    assert!(
        stalled_at < MAX_WRITTEN,
        "{stalled_at} bytes were taken: the server buffers what it cannot send back"
    );

    // Another client is served meanwhile.
    let out = echo_send(server.addr, Some("still served"), None);
    assert_echoed(&out, b"still served");
    server.wait_log(0, &[": \"still served\" (12 bytes); closed by peer"]);
    server.assert_running();

    // Drop the connection: the blocked write fails, the server logs it.
    stream
        .shutdown(std::net::Shutdown::Both)
        .expect("shut the connection");
    let result = finished
        .recv_timeout(WAIT)
        .expect("the blocked write ends once the socket is shut");
    assert!(
        result.is_err(),
        "the write cannot have finished: {result:?}"
    );
    thread.join().expect("writer thread");
    drop(stream);
    let line = server.wait_conn_log(local);
    assert!(line.contains(": \"xxxxxxxx"), "{line}");
    assert!(line.contains("\"... ("), "{line}");
    server.assert_running();
    let out = echo_send(server.addr, Some("after"), None);
    assert_echoed(&out, b"after");
}

#[test]
fn echo_netcat_client() {
    if !netcat_available("echo_netcat_client") {
        return;
    }
    let server = echo_server("127.0.0.1:0", &[]);
    let port = server.addr.port().to_string();
    // -N: shut the sending side at the end of stdin, then read to the end.
    let out = run_with_stdin(netcat(&["-N", "127.0.0.1", &port]), b"hello".to_vec());
    assert_eq!(
        (out.code(), out.stdout_raw.as_slice()),
        (Some(0), &b"hello"[..]),
        "{out:?}"
    );
    server.wait_log(0, &[": \"hello\" (5 bytes); closed by peer"]);

    // 1 MB of binary, byte for byte.
    let data = binary(1 << 20);
    let out = run_with_stdin(netcat(&["-N", "127.0.0.1", &port]), data.clone());
    assert_eq!(out.code(), Some(0), "{:?}", out.stderr);
    assert!(
        out.stdout_raw == data,
        "netcat got {} bytes back",
        out.stdout_raw.len()
    );
    server.wait_log(0, &["(1048576 bytes); closed by peer"]);

    // Over IPv6.
    let server6 = echo_server("[::1]:0", &[]);
    let port6 = server6.addr.port().to_string();
    let out = run_with_stdin(netcat(&["-N", "::1", &port6]), b"hello6".to_vec());
    assert_eq!(out.stdout_raw, b"hello6", "{out:?}");
    server6.wait_log(
        0,
        &["echo: [::1]:", ": \"hello6\" (6 bytes); closed by peer"],
    );
}

/// A raw client may also read as it goes (RFC 862): each piece comes back
/// before the next is sent, and the connection stays open.
#[test]
fn echo_is_immediate_on_an_open_connection() {
    let server = echo_server("127.0.0.1:0", &[]);
    let mut stream = connect(server.addr);
    let local = stream.local_addr().expect("local addr");
    for piece in [&b"one "[..], b"two ", b"three"] {
        stream.write_all(piece).expect("send");
        assert_eq!(
            read_exactly(&mut stream, piece.len(), WAIT).as_deref(),
            Ok(piece)
        );
    }
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    assert_eq!(read_to_close(&mut stream, WAIT), Ok(Vec::new()));
    let line = server.wait_conn_log(local);
    assert!(
        line.ends_with(": \"one two three\" (13 bytes); closed by peer"),
        "{line}"
    );
}

// ---------------------------------------------------------------------
// Chat
// ---------------------------------------------------------------------

/// A `reseau chat` process with its stdin open.
struct ChatPeer {
    proc: Proc,
    addr: SocketAddr,
}

impl ChatPeer {
    /// `reseau chat --bind <bind>`; reads the bound address from stderr.
    fn start(bind: &str) -> ChatPeer {
        let proc = Proc::interactive(reseau(&["chat", "--bind", bind]));
        let prefix = "chat: listening on ";
        let suffix = "; /help lists the commands";
        let (_, line) = proc
            .stderr
            .wait_for(0, WAIT, |l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("reseau chat did not start: {:?}", proc.stderr.all()));
        let addr = line[prefix.len()..]
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("{line:?} does not end with {suffix:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        ChatPeer { proc, addr }
    }

    fn send(&mut self, line: &str) {
        self.proc.send_line(line);
    }

    /// Waits for a stdout line equal to `line`; returns its index.
    fn expect(&self, line: &str) -> usize {
        self.expect_where(line, |l| l == line)
    }

    fn expect_where(&self, what: &str, pred: impl Fn(&str) -> bool) -> usize {
        self.proc
            .stdout
            .wait_for(0, WAIT, pred)
            .unwrap_or_else(|| {
                panic!(
                    "reseau chat {}: no line {what:?}; stdout: {:#?}; stderr: {:?}",
                    self.addr,
                    self.proc.stdout.all(),
                    self.proc.stderr.all()
                )
            })
            .0
    }

    /// `/join <host> <port of other>`, and its `joined` line.
    fn join(&mut self, host: &str, other: SocketAddr) {
        self.send(&format!("/join {host} {}", other.port()));
        self.expect(&format!("joined {other}"));
    }

    /// Closes stdin; the chat must exit 0 (within [`WAIT`]).
    fn end(mut self) -> Output {
        self.proc.close_stdin();
        let out = self.proc.finish(WAIT);
        assert_eq!(out.code(), Some(0), "reseau chat at end of input: {out:?}");
        out
    }
}

/// The course's chat (`tests/peers/chat.py`) with its stdin open.
struct CourseChat {
    proc: Proc,
    addr: SocketAddr,
}

impl CourseChat {
    fn start(host: &str) -> CourseChat {
        let proc = Proc::interactive(python_peer("chat.py", &["--host", host, "--port", "0"]));
        let prefix = "listening on ";
        let (_, line) = proc
            .stdout
            .wait_for(0, WAIT, |l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("chat.py did not start: {:?}", proc.stderr.all()));
        let (ip, port) = line[prefix.len()..]
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        let ip: std::net::IpAddr = ip.parse().expect("chat.py address");
        let addr = SocketAddr::new(ip, port.parse().expect("chat.py port"));
        CourseChat { proc, addr }
    }

    fn expect_recv(&self, text: &str) {
        let line = format!("RECV {text}");
        self.proc
            .stdout
            .wait_for(0, WAIT, |l| l == line)
            .unwrap_or_else(|| {
                panic!(
                    "chat.py: no {line:?}; stdout: {:?}; stderr: {:?}",
                    self.proc.stdout.all(),
                    self.proc.stderr.all()
                )
            });
    }
}

#[test]
fn chat_two_reseau_peers_both_ways() {
    let mut a = ChatPeer::start("127.0.0.1:0");
    let mut b = ChatPeer::start("127.0.0.1:0");
    a.join("127.0.0.1", b.addr);
    // A name resolves to the address of the socket's family.
    b.join("localhost", a.addr);

    a.send("/send Hello from A");
    b.expect(&format!("{}: Hello from A", a.addr));
    // The course's split: the text after the first space, right-trimmed.
    b.send("/send  two  spaces, ünïcödé  ");
    a.expect(&format!("{}:  two  spaces, ünïcödé", b.addr));
    for i in 0..5 {
        a.send(&format!("/send burst {i}"));
    }
    for i in 0..5 {
        b.expect(&format!("{}: burst {i}", a.addr));
    }

    // /quit forgets the peer.
    a.send("/quit");
    a.expect("no peer joined now");
    a.send("/send lost");
    a.expect("error: no peer joined: /join HOST PORT first");
    a.join("127.0.0.1", b.addr);
    a.send("/send back again");
    b.expect(&format!("{}: back again", a.addr));

    let out_a = a.end();
    let out_b = b.end();
    for out in [&out_a, &out_b] {
        assert_eq!(out.stderr.len(), 1, "only the listening line: {out:?}");
    }
    assert!(
        !out_b.stdout.iter().any(|l| l.ends_with(": lost")),
        "a /send after /quit went out: {out_b:?}"
    );
}

#[test]
fn chat_with_the_course_peer_both_ways() {
    let mut ours = ChatPeer::start("127.0.0.1:0");
    let mut course = CourseChat::start("127.0.0.1");
    ours.join("127.0.0.1", course.addr);
    course
        .proc
        .send_line(&format!("/join 127.0.0.1 {}", ours.addr.port()));
    let joined = format!("joined 127.0.0.1 {}", ours.addr.port());
    course
        .proc
        .stderr
        .wait_for(0, WAIT, |l| l == joined)
        .unwrap_or_else(|| panic!("chat.py: {:?}", course.proc.stderr.all()));

    ours.send("/send Bonjour le cours");
    course.expect_recv("Bonjour le cours");
    course.proc.send_line("/send Salut reseau, ça va ?");
    ours.expect(&format!("{}: Salut reseau, ça va ?", course.addr));

    // Longer than the course's recvfrom(1024): we warn, and it is cut.
    let long = "y".repeat(1100);
    ours.send(&format!("/send {long}"));
    ours.expect(
        "warning: the message is 1100 bytes; the course's peers read 1024 and would cut it",
    );
    course.expect_recv(&long[..1024]);
    // Ours reads whole datagrams.
    course.proc.send_line(&format!("/send {long}"));
    ours.expect(&format!("{}: {long}", course.addr));

    course.proc.send_line("/exit");
    let out = course.proc.finish(WAIT);
    assert_eq!(out.code(), Some(0), "chat.py: {out:?}");
    assert!(
        !out.stderr
            .iter()
            .any(|l| l.contains("error") || l.contains("Error")),
        "chat.py: {out:?}"
    );
    ours.end();
}

#[test]
fn chat_over_ipv6() {
    let mut a = ChatPeer::start("[::1]:0");
    let mut b = ChatPeer::start("[::1]:0");
    assert!(
        a.addr.is_ipv6() && b.addr.is_ipv6(),
        "{} {}",
        a.addr,
        b.addr
    );
    a.join("::1", b.addr);
    b.join("::1", a.addr);
    a.send("/send hello over IPv6");
    b.expect(&format!("[::1]:{}: hello over IPv6", a.addr.port()));
    b.send("/send and back");
    a.expect(&format!("[::1]:{}: and back", b.addr.port()));
    // An IPv4 address from an IPv6 socket is refused with a reason.
    a.send("/join 127.0.0.1 5000");
    a.expect_where("error: 127.0.0.1 has no IPv6 address", |l| {
        l.starts_with("error: 127.0.0.1 has no IPv6 address")
    });

    // The course peer on ::1 too.
    let mut course = CourseChat::start("::1");
    a.join("::1", course.addr);
    a.send("/send to the course over IPv6");
    course.expect_recv("to the course over IPv6");
    course
        .proc
        .send_line(&format!("/join ::1 {}", a.addr.port()));
    course.proc.send_line("/send from the course over IPv6");
    a.expect(&format!(
        "[::1]:{}: from the course over IPv6",
        course.addr.port()
    ));
    course.proc.close_stdin();
    assert_eq!(course.proc.finish(WAIT).code(), Some(0));
    a.end();
    b.end();
}

#[test]
fn chat_errors_are_lines_on_stdout() {
    let mut chat = ChatPeer::start("127.0.0.1:0");
    let lines = [
        "/send too early",
        "/join localhost 0",
        "/join localhost 65536",
        "/join localhost port",
        "/bogus",
        "/exit now",
        "/join 127.0.0.1 5000 extra",
        "/send",
        "/join localhost",
        "",
        "/help",
    ];
    for line in lines {
        chat.send(line);
    }
    let expected = [
        "error: no peer joined: /join HOST PORT first",
        "error: port \"0\" is not a number from 1 to 65535",
        "error: port \"65536\" is not a number from 1 to 65535",
        "error: port \"port\" is not a number from 1 to 65535",
        "error: unknown command \"/bogus\" (/help lists them)",
        "error: /exit does not take \"now\"",
        "error: /join does not take \"extra\"",
        "error: /send needs a text to send",
        "error: /join needs a host and a port, as in /join localhost 5000",
        "error: unknown command \"\" (/help lists them)",
        "/join HOST PORT  send to the peer at HOST (a name or an address) and PORT",
        "/send TEXT       send TEXT to the joined peer",
        "/quit            forget the joined peer",
        "/exit            leave (so does the end of input)",
        "/help            this list",
    ];
    chat.expect("/help            this list");
    // Still running after all that: /exit was refused.
    let out = chat.end();
    assert_eq!(out.stdout, expected, "{out:?}");
}

#[test]
fn chat_warns_over_1024_bytes_and_carries_a_full_datagram() {
    let mut chat = ChatPeer::start("127.0.0.1:0");
    // A chat may join itself.
    let me = chat.addr;
    chat.join("127.0.0.1", me);
    let exact = "a".repeat(1024);
    let over = "b".repeat(1025);
    let max = "c".repeat(65_507);
    let too_long = "d".repeat(65_508);
    chat.send(&format!("/send {exact}"));
    chat.send(&format!("/send {over}"));
    chat.send(&format!("/send {max}"));
    chat.send(&format!("/send {too_long}"));
    chat.send(&format!("/send {}", "e".repeat(70_000)));
    chat.send("/send done");
    chat.expect(&format!("{me}: done"));
    for text in [&exact, &over, &max] {
        chat.expect_where("the whole datagram", |l| {
            l.strip_prefix(&format!("{me}: ")) == Some(text.as_str())
        });
    }
    let out = chat.end();
    let notes: Vec<&String> = out
        .stdout
        .iter()
        .filter(|l| !l.starts_with(&format!("{me}: ")) && !l.starts_with("joined "))
        .collect();
    assert_eq!(
        notes,
        [
            "warning: the message is 1025 bytes; the course's peers read 1024 and would cut it",
            "warning: the message is 65507 bytes; the course's peers read 1024 and would cut it",
            "error: a message of 65508 bytes does not fit in one datagram (at most 65507)",
            "error: the line is over 65571 bytes; a message must fit in one datagram",
        ],
        "{:?}",
        out.stderr
    );
    assert!(
        !out.stdout
            .iter()
            .any(|l| l.contains("dddd") || l.contains("eeee")),
        "nothing too long was sent"
    );
}

#[test]
fn chat_end_of_input_exits_0() {
    let chat = ChatPeer::start("127.0.0.1:0");
    let started = Instant::now();
    let out = chat.end();
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "{out:?}");
    eprintln!(
        "reseau chat exited {:?} after the end of its input",
        started.elapsed()
    );
}

#[test]
fn chat_exit_command_exits_0() {
    let mut chat = ChatPeer::start("127.0.0.1:0");
    chat.send("/exit");
    // Its stdin stays open: /exit alone ends it.
    let status = chat.proc.wait_exit(WAIT).unwrap_or_else(|| {
        panic!(
            "reseau chat still running after /exit: {:?}",
            chat.proc.stdout.all()
        )
    });
    assert_eq!(status.code(), Some(0));
    assert!(chat.proc.stdout.wait_closed(WAIT));
    assert!(chat.proc.stdout.all().is_empty());
}

#[test]
fn chat_receives_from_netcat() {
    if !netcat_available("chat_receives_from_netcat") {
        return;
    }
    let chat = ChatPeer::start("127.0.0.1:0");
    let port = chat.addr.port().to_string();
    let out = run_with_stdin(
        netcat(&["-u", "-w1", "127.0.0.1", &port]),
        b"hello from netcat".to_vec(),
    );
    assert_eq!(out.code(), Some(0), "nc: {out:?}");
    chat.expect_where("127.0.0.1:*: hello from netcat", |l| {
        l.starts_with("127.0.0.1:") && l.ends_with(": hello from netcat")
    });
    chat.end();
}

#[test]
fn chat_joins_a_netcat_listener() {
    if !netcat_available("chat_joins_a_netcat_listener") {
        return;
    }
    let port = unused_udp_port();
    let mut nc = Proc::interactive(netcat(&["-u", "-l", "127.0.0.1", &port.to_string()]));
    assert!(
        wait_udp_bound(port, WAIT),
        "nc -u -l did not bind 127.0.0.1:{port}: {:?}",
        nc.stderr.all()
    );
    let mut chat = ChatPeer::start("127.0.0.1:0");
    chat.send(&format!("/join 127.0.0.1 {port}"));
    chat.expect(&format!("joined 127.0.0.1:{port}"));
    chat.send("/send hello netcat");
    assert!(
        nc.stdout.wait_raw(WAIT, |b| b == b"hello netcat"),
        "nc printed {:?}; stderr {:?}",
        String::from_utf8_lossy(&nc.stdout.raw()),
        nc.stderr.all()
    );
    chat.send("/send , again");
    assert!(
        nc.stdout.wait_raw(WAIT, |b| b == b"hello netcat, again"),
        "nc printed {:?}",
        String::from_utf8_lossy(&nc.stdout.raw())
    );
    // netcat now answers the chat from its stdin.
    nc.send_line("netcat replies");
    chat.expect(&format!("127.0.0.1:{port}: netcat replies"));
    chat.end();
}

// ---------------------------------------------------------------------
// Resolve
// ---------------------------------------------------------------------

/// Python's answer (the course's look-ups) to `expression`, one line.
fn python(expression: &str) -> String {
    let mut command = Command::new("python3");
    command.args([
        "-c",
        &format!(
            "import socket\ntry:\n    print({expression})\nexcept OSError:\n    print('(no name)')"
        ),
    ]);
    let out = run(command);
    assert_eq!(out.code(), Some(0), "python3 {expression}: {out:?}");
    assert_eq!(out.stdout.len(), 1, "python3 {expression}: {out:?}");
    out.stdout[0].clone()
}

/// The value of the `label:` line of `reseau resolve` output.
fn field<'a>(out: &'a Output, label: &str) -> &'a str {
    out.stdout
        .iter()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line: {out:?}"))
}

fn resolve_ok(name: &str) -> Output {
    let out = run(reseau(&["resolve", name]));
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    out
}

#[test]
fn resolve_localhost_as_python_does() {
    let out = resolve_ok("localhost");
    let addresses: Vec<&str> = field(&out, "addresses:").split(", ").collect();
    assert!(addresses.contains(&"127.0.0.1"), "{out:?}");
    assert_eq!(
        field(&out, "host name:"),
        python("socket.gethostname()"),
        "{out:?}"
    );
    assert_eq!(
        field(&out, "fully qualified name:"),
        python("socket.getfqdn('localhost')"),
        "{out:?}"
    );
    // One reverse line per address.
    for address in &addresses {
        field(&out, &format!("reverse of {address}:"));
    }
}

#[test]
fn resolve_an_ipv4_address() {
    let out = resolve_ok("127.0.0.1");
    assert_eq!(field(&out, "addresses:"), "127.0.0.1", "{out:?}");
    assert_eq!(
        field(&out, "reverse of 127.0.0.1:"),
        python("socket.gethostbyaddr('127.0.0.1')[0]"),
        "{out:?}"
    );
    assert_eq!(
        field(&out, "host name:"),
        python("socket.gethostname()"),
        "{out:?}"
    );
}

#[test]
fn resolve_an_ipv6_address() {
    let out = resolve_ok("::1");
    assert_eq!(field(&out, "addresses:"), "::1", "{out:?}");
    assert_eq!(
        field(&out, "reverse of ::1:"),
        python("socket.gethostbyaddr('::1')[0]"),
        "{out:?}"
    );
}

#[test]
fn resolve_a_bad_name() {
    let out = run(reseau(&["resolve", "bad..name"]));
    assert_fails(&out, 2, "reseau: cannot resolve \"bad..name\": ");
}
