//! TLS in the shared runtime, in-process and through the binary: start
//! refusals that need certificates openssl cannot make (expired, not yet
//! valid), and bytes through rustls both ways (a large echo whose tail must
//! not be lost when the server closes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, KeyPair};
use reseau_host::echo::EchoService;
use reseau_host::net::{Limits, Server};
use reseau_host::tls::server::{ServerTls, TlsError, TlsFiles};

/// A folder removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("reseau-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a certificate for localhost valid from `from` to `until` (seconds
/// from now, either side), and its key.
fn write_cert(dir: &Path, from: i64, until: i64) -> TlsFiles {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let now = SystemTime::now();
    let at = |secs: i64| {
        if secs >= 0 {
            now + Duration::from_secs(secs.unsigned_abs())
        } else {
            now - Duration::from_secs(secs.unsigned_abs())
        }
    };
    params.not_before = at(from).into();
    params.not_after = at(until).into();
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        chain: None,
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

const DAY: i64 = 86_400;

#[test]
fn an_expired_certificate_stops_the_start_with_one_line_and_code_2() {
    let dir = Temp::new("expired");
    let files = write_cert(&dir.0, -10 * DAY, -DAY);
    let out = Command::new(env!("CARGO_BIN_EXE_reseau"))
        .args(["echo", "serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!(
        "reseau: {}: the certificate expired on ",
        files.cert.display()
    );
    assert_eq!(
        (
            out.status.code(),
            stderr.starts_with(&prefix),
            stderr.lines().count()
        ),
        (Some(2), true, 1),
        "{stderr}"
    );
}

#[test]
fn a_certificate_not_yet_valid_is_refused() {
    let dir = Temp::new("future");
    let files = write_cert(&dir.0, DAY, 10 * DAY);
    assert!(matches!(
        ServerTls::load(&files, &[]),
        Err(TlsError::NotYetValid { .. })
    ));
}

/// A rustls client that trusts `cert`.
fn client(
    cert: &Path,
    addr: std::net::SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn a_large_echo_comes_back_whole_and_ends_with_close_notify() {
    let dir = Temp::new("echo");
    let files = write_cert(&dir.0, -DAY, DAY);
    let tls = ServerTls::load(&files, &[]).unwrap();
    let server = Server::bind(
        "127.0.0.1:0",
        EchoService,
        Limits {
            threads: 1,
            ..Limits::default()
        },
    )
    .unwrap()
    .with_tls(tls);
    let addr = server.local_addr();
    let stopper = server.stopper();
    let running = thread::spawn(move || server.run());
    let message: Vec<u8> = (0..1_000_000u32).map(|n| (n % 251) as u8).collect();
    let mut stream = client(&files.cert, addr);
    let sent = message.clone();
    // The writer half-closes with close_notify, as a careful TLS client does.
    let mut echoed = Vec::new();
    stream.write_all(&sent).unwrap();
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    // read_to_end fails on a TCP close without close_notify: Ok means the
    // server sent it after the last byte.
    let ended = stream.read_to_end(&mut echoed);
    stopper.stop();
    running.join().unwrap().unwrap();
    assert_eq!(
        (ended.is_ok(), echoed.len(), echoed == message),
        (true, message.len(), true)
    );
}
