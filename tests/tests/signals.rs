//! SIGINT and SIGTERM stop every server the same way (net.rs, "Stopping"):
//! one test, every server, both signals, two event loops each. A client
//! holds a connection that has made one exchange; the server says which
//! signal stopped it, logs that connection as ended by the shutdown,
//! closes it cleanly, says `stopped` and exits 0.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// One exchange on `stream`, as each server's clients make it.
enum Exchange {
    /// A pickle request for the sum of 1 and 2.
    Adder,
    /// A message echoed back (the client never half-closes).
    Echo,
    /// `GET /` on a keep-alive connection.
    Web,
}

impl Exchange {
    fn run(&self, stream: &mut TcpStream) {
        match self {
            Exchange::Adder => {
                stream
                    .write_all(&framed(&pickle_p2(&[1, 2])))
                    .expect("send");
                let mut reply = [0u8; 4];
                stream.read_exact(&mut reply).expect("reply");
                assert_eq!(u32::from_le_bytes(reply), 3);
            }
            Exchange::Echo => {
                stream.write_all(b"held open").expect("send");
                assert_eq!(
                    read_exactly(stream, 9, WAIT).as_deref(),
                    Ok(&b"held open"[..])
                );
            }
            Exchange::Web => {
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .expect("send");
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    stream.read_exact(&mut byte).expect("response head");
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|n| n.trim().parse().ok())
                    .expect("a Content-Length");
                let mut body = vec![0u8; length];
                stream.read_exact(&mut body).expect("body");
            }
        }
    }
}

/// Waits (5 s at most) for `server` to exit after a signal; asserts that
/// it exited with status 0; returns its whole log, read once its stderr is
/// closed (the last lines race the exit otherwise).
fn exits_0_within_5_s(server: &mut Server, what: &str) -> Vec<String> {
    let status = server
        .proc
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{what}: no exit within 5 s: {:#?}", server.log()));
    assert!(
        status.success(),
        "{what}: exit status {status}: {:#?}",
        server.log()
    );
    assert!(
        server.proc.stderr.wait_closed(WAIT),
        "{what}: stderr closed"
    );
    server.log()
}

#[test]
fn sigint_and_sigterm_stop_every_server_and_end_its_connections_cleanly() {
    let dir = TempDir::new("signals");
    let db = dir.path().join("users.db");
    let db = db.to_str().expect("a UTF-8 path");
    let servers: [(&[&str], Exchange, &str); 3] = [
        (
            &["adder", "serve", "--bind", "127.0.0.1:0", "--threads", "2"],
            Exchange::Adder,
            "1 request answered (2 ints)",
        ),
        (
            &["echo", "serve", "--bind", "127.0.0.1:0", "--threads", "2"],
            Exchange::Echo,
            // The client never half-closed: the message is not complete.
            "no complete message",
        ),
        (
            &["web", "--bind", "127.0.0.1:0", "--threads", "2", "--db", db],
            Exchange::Web,
            "1 request",
        ),
    ];
    for (args, exchange, summary) in &servers {
        for signal in ["TERM", "INT"] {
            let mut server = Server::start_args(args, None);
            let name = args[0];
            let mut client = connect(server.addr);
            let client_addr = client.local_addr().expect("local addr");
            exchange.run(&mut client);

            send_signal(server.proc.id(), signal);
            let log = exits_0_within_5_s(&mut server, &format!("{name} SIG{signal}"));
            let received = format!("{name}: SIG{signal} received, stopping");
            assert!(log.contains(&received), "{log:#?}");
            assert_eq!(
                log.last().map(String::as_str),
                Some(&*format!("{name}: stopped")),
                "{log:#?}"
            );
            let line = server.wait_conn_log(client_addr);
            assert!(
                line.ends_with(&format!(": {summary}; server shutting down")),
                "{name} SIG{signal}: {line}"
            );
            assert_eq!(
                read_to_close(&mut client, WAIT),
                Ok(Vec::new()),
                "{name} SIG{signal}"
            );
        }
    }
}

/// A second signal during the drain closes what is left at once, with
/// status 0, whichever loop holds the connection: the first loop, which
/// hears the signals, may have nothing left itself (with 4 loops, the
/// held connection is on another loop 3 times in 4; three rounds).
#[test]
fn a_second_signal_ends_the_drain_whichever_loop_holds_the_connection() {
    for round in 0..3 {
        let mut server = Server::start_args(
            &["adder", "serve", "--bind", "127.0.0.1:0", "--threads", "4"],
            None,
        );
        let mut client = connect(server.addr);
        // Half a frame: the drain waits for the rest, up to its deadline.
        client.write_all(&[8, 0, 0, 0, 0x80]).expect("send");
        let from = server.log_len();
        send_signal(server.proc.id(), "TERM");
        server.wait_log(from, &["adder: stopping: 1 connection draining"]);
        send_signal(server.proc.id(), "TERM");
        let log = exits_0_within_5_s(&mut server, &format!("round {round}, second signal"));
        assert!(
            log.contains(
                &"adder: SIGTERM received again: closing the 1 connection left".to_string()
            ),
            "{log:#?}"
        );
        assert_eq!(
            log.last().map(String::as_str),
            Some("adder: stopped: 1 connection closed at the 10 s deadline"),
            "{log:#?}"
        );
    }
}
