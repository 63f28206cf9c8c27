//! `reseau explain` and `--trace`, with the real binary: explain against
//! CPython's own `pickletools` (what each opcode is, where, with what
//! argument), the three ways to give it bytes, a refusal, a million ints
//! summarized; traces of the course's adder and echo clients, of `adder
//! sum` and `echo send`, and of the chat with the course's peer.
//!
//! Needs `cargo build --release --workspace` first (or `RESEAU_BIN`), and
//! `python3` on the PATH.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// `python3 -c <code>`'s stdout, which must succeed.
fn python(code: &str) -> Vec<u8> {
    let out = Command::new("python3")
        .args(["-c", code])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "python3: {out:?}");
    out.stdout
}

/// `reseau explain <args>` with `stdin`, run to its end.
fn explain(args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    Proc::spawn(reseau(&all), stdin).finish(WAIT)
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(!out.stdout.is_empty(), "{out:?}");
    out.stdout
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// The text of a JSON line's `"value"`, exact (serde_json would read
/// ints beyond 64 bits as floats).
fn raw_value(line: &str) -> Option<String> {
    let start = line.find("\"value\": ")? + "\"value\": ".len();
    let rest = &line[start..];
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim_matches('"').to_string())
}

#[test]
fn every_opcode_is_where_pickletools_says_with_its_argument() {
    // For each protocol, the framed request, then what CPython's
    // pickletools.genops says of its payload: name, position and argument
    // (as text: ints beyond 64 bits stay exact).
    let script = r#"
import json, pickle, pickletools, struct
ints = [0, 1, 255, 256, 65535, 65536, -1, -2**31, 2**31, 2**70, -2**100, 12345678901234]
for proto in range(6):
    p = pickle.dumps(ints, protocol=proto)
    ops = [[op.name, pos, None if arg is None or op.name == "MEMOIZE" else str(int(arg))]
           for op, arg, pos in pickletools.genops(p)]
    print(json.dumps({"request": (struct.pack('I', len(p)) + p).hex(), "ops": ops, "sum": str(sum(ints))}))
"#;
    let cases = String::from_utf8(python(script)).expect("utf-8");
    assert_eq!(cases.lines().count(), 6);
    for case in cases.lines() {
        let case: Value = serde_json::from_str(case).expect("python's json");
        let request = case["request"].as_str().expect("hex");
        let out = explain(&["--json", request], None);
        // 2**70 is no u32: the server refuses the sum, and says so.
        assert_eq!(out.code(), Some(1), "{out:?}");
        let mut opcodes = Vec::new();
        for line in &out.stdout {
            let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            match row.get("field").and_then(Value::as_str) {
                None | Some("length") => {}
                Some(field) => {
                    let offset = row["offset"].as_u64().expect("offset") - 4;
                    let value = if field == "MEMOIZE" {
                        None
                    } else {
                        raw_value(line)
                    };
                    opcodes.push(serde_json::json!([field, offset, value]));
                }
            }
        }
        assert_eq!(&Value::from(opcodes), &case["ops"], "request {request}");
        let verdict = out.stdout.last().expect("a verdict");
        let sum = case["sum"].as_str().expect("sum");
        assert!(
            verdict.starts_with("{\"verdict\": \"refused\"") && verdict.contains(sum),
            "{verdict}"
        );
    }
}

#[test]
fn hex_the_slides_literal_a_file_and_stdin_are_the_same_bytes() {
    // struct.pack('I', 13) + pickle.dumps([1, 300], protocol=2)
    let hex = "0d000000 80025d71 00284b01 4d2c0165 2e";
    let literal = r"b'\r\x00\x00\x00\x80\x02]q\x00(K\x01M,\x01e.'";
    let dir = TempDir::new("explain-inputs");
    let file = dir.path().join("request.bin");
    let bytes = python(
        "import sys; sys.stdout.buffer.write(bytes.fromhex('0d00000080025d7100284b014d2c01652e'))",
    );
    std::fs::write(&file, &bytes).expect("write the request");
    let by_hex = explain(&[hex], None);
    assert_eq!(by_hex.code(), Some(0), "{by_hex:?}");
    assert_eq!(
        by_hex.stdout.last().map(String::as_str),
        Some("verdict: the server answers 301 (2 ints): 2d 01 00 00")
    );
    for out in [
        explain(&[literal], None),
        explain(&["--file", file.to_str().expect("path")], None),
        explain(&[], Some(bytes)),
    ] {
        assert_eq!(out.stdout, by_hex.stdout, "{out:?}");
    }
}

#[test]
fn a_bare_pickle_is_read_as_a_payload_and_says_so() {
    let payload =
        python("import pickle, sys; sys.stdout.buffer.write(pickle.dumps([7], protocol=2))");
    let out = explain(&[], Some(payload));
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(
        out.stderr,
        ["explain: no 4-byte length first: read as a bare payload (--frame reads it as a frame)"]
    );
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some("verdict: the server answers 7 (1 int): 07 00 00 00")
    );
}

#[test]
fn a_refused_pickle_is_explained_up_to_its_byte_then_exit_1() {
    // The course's warning: a pickle that runs a command on a server that
    // unpickles it. reseau reads up to GLOBAL and no further.
    let script = r#"
import os, pickle, struct, sys
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))
p = pickle.dumps(Evil(), protocol=2)
sys.stdout.buffer.write(struct.pack('I', len(p)) + p)
"#;
    let out = explain(&[], Some(python(script)));
    assert_eq!(out.code(), Some(1), "{out:?}");
    let fields: Vec<&str> = out.stdout[1..4]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .find(|w| {
                    w.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_lowercase())
                        && w.len() > 3
                })
                .unwrap_or("")
        })
        .collect();
    assert_eq!(fields, ["length", "PROTO", "unread"], "{out:?}");
    assert_eq!(
        out.stdout.last().map(String::as_str),
        Some(
            "verdict: refused at byte 6 (byte 2 of the payload): pickle opcode GLOBAL (0x63) \
             at byte 2 is not allowed: only a list of ints is accepted; the server closes the \
             connection without an answer"
        )
    );
    assert_eq!(
        out.stderr,
        ["reseau: 1 request is refused (the verdicts above say why)"]
    );
}

#[test]
fn a_million_ints_summarized() {
    let script = "import pickle, struct, sys\n\
        p = pickle.dumps(list(range(1_000_000)))\n\
        sys.stdout.buffer.write(struct.pack('I', len(p)) + p)";
    let request = python(script);
    let out = explain(&["--summary", "--json"], Some(request.clone()));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(lines[0]["bytes"], request.len());
    let fields = &lines[0]["fields"];
    // range(1_000_000) as CPython's protocol 4 pickler writes it.
    assert_eq!(fields["BININT1"], 256);
    assert_eq!(fields["BININT2"], 65_280);
    assert_eq!(fields["BININT"], 1_000_000 - 256 - 65_280);
    assert_eq!(fields["MARK"], 1000);
    assert_eq!(fields["APPENDS"], 1000);
    assert_eq!(lines[1]["verdict"], "refused");
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("499999500000"))
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (arg, message) in [
        (
            "803",
            "reseau: explain: odd number of hex digits (3): each byte is two",
        ),
        (
            "zz",
            "reseau: explain: byte 0 is not two hex digits: \"zz\"",
        ),
        ("b'\\q'", "reseau: explain: unknown escape \\\"q\""),
    ] {
        let out = explain(&[arg], None);
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert_eq!(out.stderr, [message]);
    }
}

/// The lines of a trace block that starts with a line containing `head`.
fn wait_trace(proc: &Proc, head: &str) -> usize {
    proc.stderr
        .wait_for(0, WAIT, |l| l.contains(head))
        .unwrap_or_else(|| panic!("no trace line with {head:?}: {:#?}", proc.stderr.all()))
        .0
}

#[test]
fn adder_serve_traces_the_course_clients_exchange() {
    let server = Server::start(&["--trace"]);
    let port = server.addr.port().to_string();
    let out = Proc::spawn(
        python_peer(
            "adder_client.py",
            &[
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--protocol",
                "2",
                "1",
                "2",
                "300",
            ],
        ),
        None,
    )
    .finish(WAIT);
    assert_eq!(out.stdout, ["303"], "{out:?}");
    let open = wait_trace(&server.proc, "client -> server: connects");
    let request = wait_trace(
        &server.proc,
        "client -> server: request, 19 bytes: 3 ints, sum 303",
    );
    let reply = wait_trace(
        &server.proc,
        "server -> client: reply, 4 bytes: the sum 303",
    );
    let close = wait_trace(&server.proc, "server -> client: closes the connection");
    assert!(open < request && request < reply && reply < close);
    let lines = server.proc.stderr.all();
    // The request's rows, as `reseau explain` shows them.
    assert_eq!(
        lines[request + 1..request + 4]
            .iter()
            .map(|l| l.split_whitespace().take(6).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        [
            "offset bytes field meaning",
            "0 0f 00 00 00 length",
            "4 80 02 PROTO pickle protocol"
        ]
    );
    assert!(
        lines[request..reply]
            .iter()
            .any(|l| l == "  verdict: the server answers 303 (3 ints): 2f 01 00 00"),
        "{lines:#?}"
    );
}

#[test]
fn echo_traces_escape_what_the_client_sent() {
    let server = Server::start_cmd(&["echo", "serve"], "127.0.0.1:0", &["--trace"], None);
    let port = server.addr.port().to_string();
    let mut client = python_peer(
        "echo_client.py",
        &["--host", "127.0.0.1", "--port", &port, "--read"],
    );
    client.env("PYTHONIOENCODING", "utf-8");
    let out = Proc::spawn(client, Some(b"\x1b[2Jhi\n".to_vec())).finish(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    wait_trace(&server.proc, "client -> server: 7 bytes: \"\\x1b[2Jhi\\n\"");
    wait_trace(&server.proc, "server -> client: 7 bytes: \"\\x1b[2Jhi\\n\"");
    wait_trace(&server.proc, "client -> server: half-closes (FIN)");
    assert!(
        !server.proc.stderr.raw().contains(&0x1b),
        "a raw escape reached the log"
    );
}

#[test]
fn sum_and_send_trace_their_side() {
    let server = Server::start(&[]);
    let to = server.addr.to_string();
    let out = Proc::spawn(
        reseau(&["adder", "sum", "--to", &to, "--trace", "5", "6"]),
        None,
    )
    .finish(WAIT);
    assert_eq!(out.stdout, ["11"], "{out:?}");
    let first = |needle: &str| out.stderr.iter().position(|l| l.contains(needle));
    let request = first("client -> server: request, 16 bytes: 2 ints, sum 11").expect("request");
    let reply = first("server -> client: reply, 4 bytes: the sum 11").expect("reply");
    let close = first("client -> server: closes the connection").expect("close");
    assert!(request < reply && reply < close, "{out:?}");

    let echo = Server::start_cmd(&["echo", "serve"], "127.0.0.1:0", &[], None);
    let to = echo.addr.to_string();
    let out = Proc::spawn(
        reseau(&["echo", "send", "--to", &to, "--trace", "Hello"]),
        None,
    )
    .finish(WAIT);
    assert_eq!(out.stdout_raw, b"Hello", "{out:?}");
    let sent = out
        .stderr
        .iter()
        .position(|l| l.ends_with("client -> server: 5 bytes: \"Hello\""));
    let fin = out
        .stderr
        .iter()
        .position(|l| l.ends_with("client -> server: half-closes (FIN)"));
    let back = out
        .stderr
        .iter()
        .position(|l| l.ends_with("server -> client: 5 bytes: \"Hello\""));
    assert!(sent.is_some() && fin.is_some() && back.is_some(), "{out:?}");
    assert!(sent < fin, "{out:?}");
}

#[test]
fn chat_traces_datagrams_both_ways_with_the_course_peer() {
    let mut ours = Proc::interactive(reseau(&["chat", "--bind", "127.0.0.1:0", "--trace"]));
    let (_, line) = ours
        .stderr
        .wait_for(0, WAIT, |l| l.starts_with("chat: listening on "))
        .expect("reseau chat started");
    let our_port = line["chat: listening on 127.0.0.1:".len()..]
        .split(';')
        .next()
        .expect("port")
        .to_string();
    let mut course = Proc::interactive(python_peer(
        "chat.py",
        &["--host", "127.0.0.1", "--port", "0"],
    ));
    let (_, line) = course
        .stdout
        .wait_for(0, WAIT, |l| l.starts_with("listening on "))
        .expect("chat.py started");
    let course_port = line.rsplit(':').next().expect("port").to_string();
    ours.send_line(&format!("/join 127.0.0.1 {course_port}"));
    course.send_line(&format!("/join 127.0.0.1 {our_port}"));
    ours.stdout
        .wait_for(0, WAIT, |l| l.starts_with("joined "))
        .expect("joined");
    course
        .stderr
        .wait_for(0, WAIT, |l| l.starts_with("joined "))
        .expect("chat.py joined");
    ours.send_line("/send Bonjour");
    wait_trace(
        &ours,
        &format!("chat 127.0.0.1:{course_port} me -> peer: 7 bytes: \"Bonjour\""),
    );
    course.send_line("/send Salut");
    wait_trace(
        &ours,
        &format!("chat 127.0.0.1:{course_port} peer -> me: 5 bytes: \"Salut\""),
    );
    course.close_stdin();
    ours.close_stdin();
    assert_eq!(ours.finish(WAIT).code(), Some(0));
}
