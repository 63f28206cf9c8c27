//! `--tls --ca` on the clients (`reseau adder sum`, `reseau echo send`,
//! `reseau bench`) against a real TLS peer: the course's servers wrapped
//! in Python's `ssl` (tests/peers/tls_server.py), with certificates made
//! by `openssl req -x509` in a temporary folder. A certificate that fails
//! a check gives one line and exit code 2.
//!
//! Without the `openssl` command the tests print a note and pass.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Proc, TempDir, WAIT, python_peer, reseau, run, run_with_stdin};

/// A server certificate (not a CA) for `san`, and its key, in `dir`; `None`
/// (with a note) when openssl is missing.
fn make_cert(dir: &Path, name: &str, san: &str) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName={san}")])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match status {
        Ok(out) if out.status.success() => Some((cert, key)),
        Ok(out) => panic!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => {
            eprintln!("note: no openssl command: the TLS client tests are skipped");
            None
        }
    }
}

/// tests/peers/tls_server.py for `service` with `cert` and `key`.
fn tls_peer(service: &str, cert: &Path, key: &Path) -> (Proc, SocketAddr) {
    let mut command = python_peer("tls_server.py", &["--service", service]);
    command.arg("--cert").arg(cert).arg("--key").arg(key);
    let proc = Proc::spawn(command, None);
    let prefix = "listening on ";
    let Some((_, line)) = proc.stdout.wait_for(0, WAIT, |l| l.starts_with(prefix)) else {
        panic!("tls_server.py did not start: {:?}", proc.stderr.all());
    };
    let addr = line[prefix.len()..].trim().parse().expect("its address");
    (proc, addr)
}

/// The certificates of a test: `localhost` (for localhost and 127.0.0.1)
/// and `other` (for the name "other" only).
struct Certs {
    _dir: TempDir,
    server: (PathBuf, PathBuf),
    other: (PathBuf, PathBuf),
}

fn certs(test: &str) -> Option<Certs> {
    let dir = TempDir::new(test);
    let server = make_cert(dir.path(), "localhost", "DNS:localhost,IP:127.0.0.1")?;
    let other = make_cert(dir.path(), "other", "DNS:other")?;
    Some(Certs {
        _dir: dir,
        server,
        other,
    })
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn adder_sum_over_tls_with_a_ca() {
    let Some(c) = certs("tls-sum") else { return };
    let (_peer, addr) = tls_peer("adder", &c.server.0, &c.server.1);
    let to = addr.to_string();
    let out = run(reseau(&[
        "adder",
        "sum",
        "--to",
        &to,
        "--tls",
        "--ca",
        arg(&c.server.0),
        "1",
        "2",
        "3",
    ]));
    assert_eq!(
        (out.code(), out.stdout, out.stderr),
        (Some(0), vec!["6".to_string()], vec![])
    );
}

#[test]
fn echo_send_over_tls_echoes_a_large_message_from_stdin() {
    let Some(c) = certs("tls-echo") else { return };
    let (_peer, addr) = tls_peer("echo", &c.server.0, &c.server.1);
    let to = addr.to_string();
    // Larger than both directions' buffers: the echo comes back while it is sent.
    let message: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = run_with_stdin(
        reseau(&["echo", "send", "--to", &to, "--ca", arg(&c.server.0)]),
        message.clone(),
    );
    assert_eq!(
        (out.code(), out.stdout_raw == message),
        (Some(0), true),
        "{:?}",
        out.stderr
    );
}

#[test]
fn the_wrong_ca_is_one_line_and_exit_2() {
    let Some(c) = certs("tls-wrong-ca") else {
        return;
    };
    let (_peer, addr) = tls_peer("adder", &c.server.0, &c.server.1);
    let to = addr.to_string();
    let out = run(reseau(&[
        "adder",
        "sum",
        "--to",
        &to,
        "--tls",
        "--ca",
        arg(&c.other.0),
        "1",
    ]));
    let line = format!(
        "reseau: TLS with {to} failed: certificate verify failed: unknown issuer (the server's \
         certificate is not signed by a CA of {})",
        c.other.0.display()
    );
    assert_eq!(
        (out.code(), out.stdout, out.stderr),
        (Some(2), vec![], vec![line])
    );
}

#[test]
fn a_host_the_certificate_does_not_name_is_a_name_mismatch() {
    let Some(c) = certs("tls-name") else { return };
    let (_peer, addr) = tls_peer("echo", &c.other.0, &c.other.1);
    let to = addr.to_string();
    let out = run(reseau(&[
        "echo",
        "send",
        "--to",
        &to,
        "--ca",
        arg(&c.other.0),
        "hello",
    ]));
    let line = format!(
        "reseau: TLS with {to} failed: certificate verify failed: name mismatch (the \
         certificate is for other, not 127.0.0.1)"
    );
    assert_eq!((out.code(), out.stderr), (Some(2), vec![line]));
}

#[test]
fn a_ca_file_without_a_certificate_is_one_line_and_exit_2() {
    let Some(c) = certs("tls-no-cert") else {
        return;
    };
    // The key file: PEM, but no certificate in it.
    let key = arg(&c.server.1);
    let out = run(reseau(&[
        "echo",
        "send",
        "--to",
        "127.0.0.1:1",
        "--ca",
        key,
        "hello",
    ]));
    let line =
        format!("reseau: the CA file {key} has no certificate (a PEM \"BEGIN CERTIFICATE\" block)");
    assert_eq!((out.code(), out.stderr), (Some(2), vec![line]));
}

#[test]
fn bench_adder_makes_a_tls_connection_per_request() {
    let Some(c) = certs("tls-bench") else { return };
    let (_peer, addr) = tls_peer("adder", &c.server.0, &c.server.1);
    let to = addr.to_string();
    let out = run(reseau(&[
        "bench",
        "adder",
        "--to",
        &to,
        "--ca",
        arg(&c.server.0),
        "--clients",
        "1",
        "--duration",
        "0.5",
        "--connect-per-request",
    ]));
    assert_eq!(out.code(), Some(0), "{:?} {:?}", out.stdout, out.stderr);
    assert!(
        out.stdout.iter().any(|l| l.starts_with("1 clients, 10 ints per request, pickle, one connection per request, closed with a FIN, TLS,")),
        "{:?}",
        out.stdout
    );
}
