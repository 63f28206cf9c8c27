//! The integer adder over real sockets: the `reseau` binary against the
//! course's Python peers, hostile payloads, the command line's errors,
//! the server's limits and signals, the load generator, pipelining.
//!
//! Every process listens on 127.0.0.1 or ::1, on a port the kernel picks;
//! each test has its own server, so the tests run in parallel.
//!
//! Needs `cargo build --release --workspace` first (or `RESEAU_BIN`), and
//! `python3` on the PATH.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;

const BIG: &str = "1180591620717411303424"; // 2**70
const MINUS_BIG: &str = "-1180591620717411303424";

/// Waits until the log has `n` lines that contain every one of `needles`.
fn wait_log_count(server: &Server, needles: &[&str], n: usize) {
    let mut from = 0;
    for found in 0..n {
        match server
            .proc
            .stderr
            .wait_for(from, WAIT, |l| needles.iter().all(|x| l.contains(x)))
        {
            Some((index, _)) => from = index + 1,
            None => panic!(
                "expected {n} log lines with {needles:?}, found {found}; the log: {:#?}",
                server.log()
            ),
        }
    }
}

/// Sends one framed request on `stream` and reads the 4-byte reply.
fn request(stream: &mut std::net::TcpStream, ints: &[u16]) -> u32 {
    stream
        .write_all(&framed(&pickle_p2(ints)))
        .expect("send a request");
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).expect("read a reply");
    u32::from_le_bytes(reply)
}

// 1. The course's Python client against `reseau adder serve`.

#[test]
fn course_client_every_pickle_protocol() {
    let server = Server::start(&[]);
    // 2**127 - 1: partial sums leave 128 bits, the total is 5, as Python's.
    let max = "170141183460469231731687303715884105727";
    let minus_max = "-170141183460469231731687303715884105727";
    let cases: [(&[&str], &str); 6] = [
        (&["1", "2", "3"], "6"),
        (&[BIG, MINUS_BIG, "5"], "5"),
        (&[max, max, minus_max, minus_max, "5"], "5"),
        (&["-3", "10"], "7"),
        (&[], "0"),
        (&["4294967295"], "4294967295"),
    ];
    for protocol in 0..=5 {
        let protocol = protocol.to_string();
        for (ints, sum) in cases {
            let mut args = vec!["--protocol", &protocol, "--"];
            args.extend_from_slice(ints);
            let out = course_client(server.addr, &args);
            assert_sums(&out, &[sum]);
        }
    }
    // One log line per connection, each with its one request; the server
    // replied and closed first, as the course's server does.
    wait_log_count(
        &server,
        &[": 1 request answered (", "; closed by server"],
        36,
    );
    wait_log_count(
        &server,
        &[": 1 request answered (3 ints); closed by server"],
        12,
    );
    wait_log_count(
        &server,
        &[": 1 request answered (0 ints); closed by server"],
        6,
    );
    let log = server.log();
    assert!(
        !log.iter().any(|l| l.contains("error")),
        "no request may fail: {log:#?}"
    );
}

#[test]
fn a_second_request_on_a_course_connection_finds_it_closed() {
    // The course's protocol: the server answers one request, then closes.
    let server = Server::start(&[]);
    let out = course_client(server.addr, &["--requests", "2", "--", "1", "2", "3"]);
    assert_eq!(out.code(), Some(3), "{out:?}");
    assert_eq!(out.stdout, ["6", "closed"], "{out:?}");
    wait_log_count(
        &server,
        &[": 1 request answered (3 ints); closed by server"],
        1,
    );
}

#[test]
fn course_client_several_requests_on_one_connection_with_keep_alive() {
    let server = Server::start(&["--keep-alive"]);
    for protocol in ["0", "2", "5"] {
        let out = course_client(
            server.addr,
            &[
                "--protocol",
                protocol,
                "--requests",
                "3",
                "--",
                "1",
                "2",
                "3",
            ],
        );
        assert_sums(&out, &["6", "6", "6"]);
    }
    wait_log_count(
        &server,
        &[": 3 requests answered (9 ints); closed by peer"],
        3,
    );
}

/// Lists that cross every place where CPython's pickler changes what it
/// writes (batches of 1000, FRAME opcodes every 64 KiB, each int opcode),
/// for every protocol, on one connection.
#[test]
fn course_lists_of_every_shape_and_protocol() {
    let server = Server::start(&["--keep-alive"]);
    let out = Proc::spawn(
        python_peer(
            "adder_lists.py",
            &[
                "--host",
                "127.0.0.1",
                "--port",
                &server.addr.port().to_string(),
            ],
        ),
        None,
    )
    .finish(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    // 6 protocols x 8 sizes, all answered on one connection.
    assert_eq!(out.stdout.len(), 48, "{out:?}");
    assert!(
        out.stdout
            .iter()
            .any(|l| l.starts_with("protocol 5 ints 100")),
        "{out:?}"
    );
    server.wait_log(0, &["48 requests answered", "closed by peer"]);
}

#[test]
fn course_client_over_ipv6() {
    let server = Server::start_on("[::1]:0", &["--keep-alive"], None);
    assert!(server.addr.is_ipv6(), "bound {}", server.addr);
    assert!(
        server.log()[0].starts_with("adder: listening on [::1]:"),
        "{:?}",
        server.log()
    );
    let out = course_client(server.addr, &["--requests", "2", "--", "1", "2", "3"]);
    assert_sums(&out, &["6", "6"]);
    let out = course_client(
        server.addr,
        &["--protocol", "0", "--", BIG, MINUS_BIG, "-3", "10"],
    );
    assert_sums(&out, &["7"]);
    // Our own client too.
    let out = run(reseau(&[
        "adder",
        "sum",
        "--to",
        &server.addr_arg(),
        "4",
        "5",
    ]));
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &["9".to_string()][..]),
        "{out:?}"
    );
    server.wait_log(0, &["adder: [::1]:", "2 requests answered (6 ints)"]);
}

// 2. `reseau adder sum` against the course's Python server.

fn sum_ok(server: &PythonServer, args: &[&str], stdin: Option<Vec<u8>>, expected: &str) {
    let to = server.addr.to_string();
    let mut all = vec!["adder", "sum", "--to", &to];
    all.extend_from_slice(args);
    let command = reseau(&all);
    let out = match stdin {
        Some(bytes) => run_with_stdin(command, bytes),
        None => run(command),
    };
    assert_eq!(
        (out.code(), out.stdout.as_slice(), out.stderr.as_slice()),
        (Some(0), &[expected.to_string()][..], &[][..]),
        "reseau adder sum {args:?}: {out:?}"
    );
}

#[test]
fn sum_against_course_python_server() {
    let python = PythonServer::start();
    sum_ok(&python, &["1", "2", "3"], None, "6");
    sum_ok(&python, &["-5", "10", "-2"], None, "3");
    sum_ok(&python, &["--", "-5", "10", "-2"], None, "3");
    sum_ok(&python, &[BIG, MINUS_BIG, "42"], None, "42");
    sum_ok(
        &python,
        &["-2147483649", "2147483649", "70000"],
        None,
        "70000",
    );
    sum_ok(&python, &["4294967295"], None, "4294967295");
    // From stdin: nothing at all is the empty list.
    sum_ok(&python, &[], Some(Vec::new()), "0");

    // 1..=20000 (more than CPython's batches of 1000), separated by
    // spaces, tabs and newlines, with two big ints that cancel out.
    let mut text = String::new();
    for i in 1..=20_000u32 {
        text.push_str(&i.to_string());
        text.push_str(match i % 5 {
            0 => "\n",
            1 => " ",
            2 => "  \t",
            3 => "\r\n",
            _ => " \n\n ",
        });
        if i == 777 {
            text.push_str(BIG);
            text.push('\n');
        }
        if i == 15_000 {
            text.push_str(MINUS_BIG);
            text.push(' ');
        }
    }
    sum_ok(&python, &[], Some(text.into_bytes()), "200010000");

    // Out of the 4-byte reply's range: the Python server fails to pack
    // the reply and closes the connection.
    let to = python.addr.to_string();
    let out = run(reseau(&["adder", "sum", "--to", &to, "--", "-1"]));
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.len() == 1 && out.stderr[0].contains("closed the connection without replying"),
        "{out:?}"
    );
    python
        .proc
        .stderr
        .wait_for(0, WAIT, |l| l.contains("out of range"))
        .expect("the Python server logs its struct.error");
    // And it still serves.
    sum_ok(&python, &["20", "22"], None, "42");
}

// 3. Hostile payloads.

/// Writes the payloads of `hostile.py` into `dir`.
fn hostile_payloads(dir: &std::path::Path, marker: &str) {
    let out = run(python_peer(
        "hostile.py",
        &[dir.to_str().expect("utf-8 path"), "--marker", marker],
    ));
    assert_eq!(out.code(), Some(0), "hostile.py: {out:?}");
}

#[test]
fn hostile_reduce_pickle_does_not_run() {
    let tmp = TempDir::new("hostile_reduce");
    let payloads = tmp.subdir("payloads");
    let scratch = tmp.subdir("scratch");
    let server_dir = tmp.subdir("server");
    // Relative: each process that loads the pickle touches it in its own
    // directory, so the same bytes prove the attack and test the server.
    let marker = "PWNED-by-a-pickle";
    hostile_payloads(&payloads, marker);
    let evil = std::fs::read(payloads.join("evil.pickle")).expect("evil.pickle");
    let evil_framed = std::fs::read(payloads.join("evil.bin")).expect("evil.bin");
    assert_eq!(&evil_framed[4..], &evil[..], "evil.bin frames evil.pickle");
    assert_eq!(evil_framed[..4], (evil.len() as u32).to_le_bytes());

    // The payload is real: CPython's pickle.loads runs it.
    let mut proof = Command::new("python3");
    proof
        .args([
            "-c",
            "import pickle, sys; print(pickle.loads(open(sys.argv[1], 'rb').read()))",
        ])
        .arg(payloads.join("evil.pickle"))
        .current_dir(&scratch);
    let out = run(proof);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, ["[1, 0]"], "os.system returned 0 into the list");
    assert!(
        scratch.join(marker).exists(),
        "pickle.loads of the payload must create the marker, or the test proves nothing"
    );

    // Our server refuses it without running anything.
    let mut server = Server::start_on("127.0.0.1:0", &[], Some(&server_dir));
    let raw = payloads.join("evil.bin");
    let out = course_client(server.addr, &["--raw-file", raw.to_str().expect("utf-8")]);
    assert_closed(&out);
    let (_, line) = server.wait_log(0, &["protocol error", "not allowed"]);
    assert!(
        line.contains("0 requests answered") && line.ends_with("closed by server"),
        "{line}"
    );
    assert!(
        !server_dir.join(marker).exists(),
        "the server ran the pickle"
    );
    assert!(
        !std::path::Path::new(marker).exists(),
        "a marker appeared in the test's directory"
    );
    server.assert_running();
    let out = course_client(server.addr, &["--", "1", "2", "3"]);
    assert_sums(&out, &["6"]);
    assert!(
        !server_dir.join(marker).exists(),
        "the server ran the pickle"
    );
}

#[test]
fn hostile_payloads_are_refused_and_server_survives() {
    let tmp = TempDir::new("hostile_payloads");
    let payloads = tmp.subdir("payloads");
    let server_dir = tmp.subdir("server");
    let marker = "PWNED-by-a-pickle";
    hostile_payloads(&payloads, marker);
    let mut server = Server::start_on("127.0.0.1:0", &["--max-frame", "1000"], Some(&server_dir));

    // The truncated request (`truncated.bin`) has its own test:
    // `truncated_frame_then_half_close_is_logged`.
    let cases: &[(&str, &[&str])] = &[
        ("evil", &["SHORT_BINUNICODE (0x8c)", "not allowed"]),
        ("global_p0", &["GLOBAL (0x63)", "not allowed"]),
        (
            "stack_global",
            &["STACK_GLOBAL (0x93) at byte 7 is not allowed"],
        ),
        ("string", &["SHORT_BINUNICODE (0x8c)", "not allowed"]),
        ("float", &["BINFLOAT (0x47)", "not allowed"]),
        (
            "nested_list",
            &["EMPTY_LIST", "does not fit a list of ints"],
        ),
        ("dict", &["EMPTY_DICT (0x7d)", "not allowed"]),
        ("tuple", &["does not fit a list of ints"]),
        ("after_stop", &["bytes after the pickle's STOP opcode"]),
        ("protocol_6", &["pickle protocol 6 is not supported"]),
        (
            "over_1000",
            &["frame of 1001 bytes is over the 1000-byte limit"],
        ),
        (
            "sum_minus_one",
            &["sum -1 does not fit the 4-byte unsigned reply"],
        ),
        (
            "sum_2_32",
            &["sum 4294967296 does not fit the 4-byte unsigned reply"],
        ),
    ];
    for (name, needles) in cases {
        let path = payloads.join(format!("{name}.bin"));
        let from = server.log_len();
        let out = course_client(server.addr, &["--raw-file", path.to_str().expect("utf-8")]);
        assert_closed(&out);
        let mut all = vec!["protocol error"];
        all.extend_from_slice(needles);
        let (_, line) = server.wait_log(from, &all);
        assert!(
            line.contains(": 0 requests answered (") && line.ends_with("; closed by server"),
            "{name}: {line}"
        );
        server.assert_running();
        let out = course_client(server.addr, &["--", "1", "2", "3"]);
        assert_sums(&out, &["6"]);
    }
    assert!(!server_dir.join(marker).exists(), "the server ran a pickle");
    server.assert_running();
    wait_log_count(
        &server,
        &[": 1 request answered (3 ints); closed by server"],
        cases.len(),
    );
}

// 4. Errors of `reseau adder sum`.

/// Asserts a failed `reseau` run: exit `code`, one stderr line with `needle`,
/// nothing on stdout, no panic.
fn assert_fails(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.code(), Some(code), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.len(), 1, "one line on stderr: {out:?}");
    let line = &out.stderr[0];
    assert!(
        line.starts_with("reseau: ") && line.contains(needle),
        "{out:?}"
    );
    assert!(
        !line.contains("panicked") && !line.contains("backtrace"),
        "{out:?}"
    );
}

#[test]
fn sum_cli_errors_without_server() {
    let to = format!("127.0.0.1:{}", unused_port());
    let out = run(reseau(&["adder", "sum", "--to", &to, "1", "2"]));
    assert_fails(&out, 2, "cannot connect");
    assert!(out.stderr[0].contains(&to), "{out:?}");

    let out = run(reseau(&["adder", "sum", "--to", &to, "x"]));
    assert_fails(&out, 2, "\"x\" is not an integer");
    let out = run(reseau(&["adder", "sum", "--to", &to, "1", "2.5", "3"]));
    assert_fails(&out, 2, "\"2.5\" is not an integer");
    let out = run_with_stdin(
        reseau(&["adder", "sum", "--to", &to]),
        b"1 2\ny 4\n".to_vec(),
    );
    assert_fails(&out, 2, "\"y\" is not an integer");
    // An int the native format cannot carry is refused before connecting.
    let out = run(reseau(&[
        "adder",
        "sum",
        "--to",
        &to,
        "--encoding",
        "native",
        "9223372036854775808",
    ]));
    assert_fails(&out, 2, "does not fit in a 64-bit");
}

#[test]
fn sum_cli_errors_against_server() {
    let server = Server::start(&[]);
    let to = server.addr_arg();
    let native = |ints: &[&str]| {
        let mut args = vec!["adder", "sum", "--to", &to, "--encoding", "native"];
        args.extend_from_slice(ints);
        run(reseau(&args))
    };
    let out = native(&["9223372036854775807", "1"]);
    assert_fails(&out, 1, "does not fit in a 64-bit");
    assert!(out.stderr[0].contains("refused"), "{out:?}");
    // The running sum may leave i64 as long as the total comes back.
    let out = native(&["9223372036854775807", "1", "-5"]);
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &["9223372036854775803".to_string()][..]),
        "{out:?}"
    );
    let out = native(&["-9223372036854775808", "-1", "2"]);
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &["-9223372036854775807".to_string()][..]),
        "{out:?}"
    );

    let out = run(reseau(&["adder", "sum", "--to", &to, "--", "-5"]));
    assert_fails(&out, 1, "closed the connection without replying");
    server.wait_log(0, &["protocol error", "sum -5 does not fit"]);
    let out = run(reseau(&["adder", "sum", "--to", &to, "4294967295", "1"]));
    assert_fails(&out, 1, "closed the connection without replying");
    server.wait_log(0, &["protocol error", "sum 4294967296 does not fit"]);
    // A refused native request keeps the connection; its log line says so.
    server.wait_log(
        0,
        &["0 requests answered (0 ints), 1 refused; closed by peer"],
    );
}

// 5. Limits.

#[test]
fn max_connections_refuses_extra_connections() {
    let server = Server::start(&["--max-connections", "2", "--keep-alive"]);
    let mut held1 = connect(server.addr);
    assert_eq!(request(&mut held1, &[1, 2, 3]), 6);
    let held2 = connect(server.addr);
    let held2_addr = held2.local_addr().expect("local addr");

    let mut third = connect(server.addr);
    let third_addr = third.local_addr().expect("local addr");
    assert_eq!(
        read_to_close(&mut third, WAIT),
        Ok(Vec::new()),
        "the third connection is closed at once"
    );
    server.wait_log(
        0,
        &[&format!(
            "adder: {third_addr}: refused, 2 connections already"
        )],
    );
    // The held ones are still served.
    assert_eq!(request(&mut held1, &[10, 20]), 30);

    drop(held2);
    let line = server.wait_conn_log(held2_addr);
    assert!(
        line.ends_with("0 requests answered (0 ints); closed by peer"),
        "{line}"
    );
    let out = course_client(server.addr, &["--", "1", "2", "3"]);
    assert_sums(&out, &["6"]);
    assert_eq!(request(&mut held1, &[4, 5]), 9);
}

#[test]
fn idle_connections_are_closed() {
    let server = Server::start(&["--idle-timeout", "1", "--keep-alive"]);
    let mut idle = connect(server.addr);
    let idle_addr = idle.local_addr().expect("local addr");
    let mut active = connect(server.addr);
    // A connection with traffic every 100 ms outlives the idle one.
    for i in 0..20u16 {
        assert_eq!(request(&mut active, &[i, 1000]), u32::from(i) + 1000);
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        read_to_close(&mut idle, Duration::from_secs(5)),
        Ok(Vec::new()),
        "the idle connection is closed by the server"
    );
    let line = server.wait_conn_log(idle_addr);
    assert!(line.contains("idle for 1s, closed"), "{line}");
    assert_eq!(request(&mut active, &[1, 2]), 3);
}

// 6. Signals.

/// A request half sent when the signal comes is waited for and answered
/// before the server stops: the stop drains, it does not cut.
#[test]
fn a_request_half_sent_at_sigterm_is_answered() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    let request = framed(&pickle_p2(&[1, 2, 3]));
    let (first, rest) = request.split_at(request.len() / 2);
    // In the server's socket before the signal, whether or not the server
    // has read it yet: a stopping server accepts and reads what is there.
    client.write_all(first).expect("send half a request");
    let from = server.log_len();
    send_signal(server.proc.id(), "TERM");
    server.wait_log(from, &["adder: stopping: 1 connection draining"]);
    client.write_all(rest).expect("send the rest");
    let mut reply = [0u8; 4];
    client.read_exact(&mut reply).expect("read the reply");
    assert_eq!(u32::from_le_bytes(reply), 6);
    assert_eq!(read_to_close(&mut client, WAIT), Ok(Vec::new()));
    let status = server.proc.wait_exit(Duration::from_secs(5)).expect("exit");
    assert!(
        status.success(),
        "exit status {status}; log: {:#?}",
        server.log()
    );
}

// 7. The load generator.

/// `reseau bench adder <extra>` against `reseau adder serve <server_args>`.
fn bench(server_args: &[&str], extra: &[&str]) {
    let server = Server::start(server_args);
    let to = server.addr_arg();
    let mut args = vec![
        "bench",
        "adder",
        "--to",
        &to,
        "--clients",
        "4",
        "--duration",
        "1",
    ];
    args.extend_from_slice(extra);
    let out = run(reseau(&args));
    assert_eq!(out.code(), Some(0), "{out:?}");
    let requests: u64 = out
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("requests: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `requests: N` line: {out:?}"));
    assert!(requests > 0, "{out:?}");
    assert!(out.stdout.iter().any(|l| l == "errors: 0"), "{out:?}");
    let log = server.log();
    assert!(
        !log.iter()
            .any(|l| l.contains("protocol error") || l.contains("refused")),
        "{log:#?}"
    );
}

#[test]
fn bench_persistent_connections() {
    bench(&["--keep-alive"], &["--ints", "10"]);
}

#[test]
fn bench_connection_per_request() {
    bench(&[], &["--ints", "10", "--connect-per-request"]);
}

#[test]
fn bench_native_encoding() {
    bench(&[], &["--encoding", "native", "--ints", "1000"]);
}

// 8. Pipelining.

/// Sends `count` requests in one write from a thread (waiting for it to
/// finish before reading if `read_after_write`), reads the replies and
/// checks them, in order; then closes.
fn pipeline(count: u16, read_after_write: bool) {
    let server = Server::start(&["--keep-alive"]);
    let mut stream = connect(server.addr);
    let local = stream.local_addr().expect("local addr");
    let mut all = Vec::new();
    for i in 0..count {
        all.extend_from_slice(&framed(&pickle_p2(&[i, i.wrapping_mul(3), 7])));
    }
    let mut writer = stream.try_clone().expect("clone the socket");
    let (done, written) = mpsc::channel();
    let thread = thread::spawn(move || {
        let _ = done.send(writer.write_all(&all).map_err(|e| e.to_string()));
    });
    if read_after_write {
        let result = written
            .recv_timeout(WAIT)
            .expect("the write finishes without our reading");
        assert_eq!(result, Ok(()));
    }
    let replies =
        read_exactly(&mut stream, 4 * usize::from(count), WAIT).expect("one reply per request");
    if !read_after_write {
        let result = written.recv_timeout(WAIT).expect("the write finishes");
        assert_eq!(result, Ok(()));
    }
    thread.join().expect("writer thread");
    for (i, reply) in replies.chunks_exact(4).enumerate() {
        let i = u32::try_from(i).expect("small");
        let expected = i + ((i * 3) & 0xffff) + 7;
        let got = u32::from_le_bytes(reply.try_into().expect("4 bytes"));
        assert_eq!(got, expected, "reply {i}");
    }
    // Nothing more comes, and the log counts every request once.
    drop(stream);
    let line = server.wait_conn_log(local);
    let ints = 3 * u64::from(count);
    assert!(
        line.ends_with(&format!(
            ": {count} requests answered ({ints} ints); closed by peer"
        )),
        "{line}"
    );
}

#[test]
fn pipelined_requests_in_one_write() {
    pipeline(1000, true);
}

#[test]
fn pipelined_requests_with_back_pressure() {
    // About 1.3 MB of requests while reading 260 KB of replies.
    pipeline(u16::MAX, false);
}

// 9. A peer that half-closes right after its last bytes.

// The server skips the read that would only say "would block" after a
// short read; these tests make sure that a FIN that came with the last data
// is still seen (edge-triggered readiness sends no later event for it).

/// Sends `bytes` and half-closes at once (the FIN likely in the same
/// read as the data); returns what the server sent before closing.
fn send_and_half_close(server: &Server, bytes: &[u8]) -> (SocketAddr, Vec<u8>) {
    let mut stream = connect(server.addr);
    let local = stream.local_addr().expect("local addr");
    stream.write_all(bytes).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let got = read_to_close(&mut stream, WAIT)
        .unwrap_or_else(|e| panic!("the server must close the connection: {e}"));
    (local, got)
}

#[test]
fn half_close_after_requests_is_answered_then_closed() {
    let server = Server::start(&["--keep-alive"]);
    let mut bytes = framed(&pickle_p2(&[1, 2, 3]));
    bytes.extend_from_slice(&framed(&pickle_p2(&[4, 5])));
    let (local, got) = send_and_half_close(&server, &bytes);
    assert_eq!(got, [6, 0, 0, 0, 9, 0, 0, 0]);
    let line = server.wait_conn_log(local);
    assert!(
        line.ends_with(": 2 requests answered (5 ints); closed by peer"),
        "{line}"
    );
}

#[test]
fn truncated_frame_then_half_close_is_logged() {
    let tmp = TempDir::new("truncated");
    let payloads = tmp.subdir("payloads");
    hostile_payloads(&payloads, "PWNED-by-a-pickle");
    // The header says 10 bytes more than are sent.
    let bytes = std::fs::read(payloads.join("truncated.bin")).expect("truncated.bin");
    let server = Server::start(&[]);
    let (local, got) = send_and_half_close(&server, &bytes);
    assert_eq!(got, Vec::<u8>::new(), "no reply");
    let line = server.wait_conn_log(local);
    assert!(
        line.contains("protocol error: the connection ended inside a frame"),
        "{line}"
    );
}
