//! The clients' side of TLS: `--tls` and `--ca`.
//!
//! A [`TlsClient`] is what a client trusts (the certificates of a `--ca`
//! file, or the system's roots) and rustls' settings (ring, TLS 1.2 and
//! 1.3). The blocking clients (`adder sum`, `echo send`, the Python
//! binding) call [`TlsClient::handshake`] on a connected socket and get a
//! [`TlsStream`]; the load generator, non-blocking, takes a bare
//! [`ClientConnection`] from [`TlsClient::connection`] and moves its bytes
//! itself, as the servers do.
//!
//! The name checked in the server's certificate is the host the user typed
//! in `--to` (`localhost` in `localhost:6001`, `127.0.0.1` in
//! `127.0.0.1:6001`, `::1` in `[::1]:6001`): a DNS name or an IP address.
//! A certificate that fails a check stops the connection with one line
//! that says which ([`TlsError`]).

use std::fmt;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use rustls::client::Resumption;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned,
};

/// A CA file larger than this is refused (the system bundle of Debian,
/// about 150 roots, is 220 KB).
pub const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// How long the handshake of a blocking client may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whom a client trusts to sign the servers' certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The certificates of a PEM file (`--ca`).
    File(PathBuf),
    /// The system's trust roots (rustls-native-certs: `/etc/ssl/certs`,
    /// or `SSL_CERT_FILE` / `SSL_CERT_DIR`).
    System,
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::File(path) => write!(f, "{}", path.display()),
            Trust::System => f.write_str("the system's trust roots"),
        }
    }
}

/// Why a [`TlsClient`] could not be made: the CA to trust is missing or
/// unusable. One line; the command exits with [`crate::exit::SETUP`].
#[derive(Debug)]
pub enum CaError {
    /// The `--ca` file cannot be read.
    Read { path: PathBuf, error: io::Error },
    /// The `--ca` file is larger than [`MAX_CA_FILE`].
    TooLarge { path: PathBuf },
    /// The `--ca` file is not PEM, or a certificate in it is not valid.
    Invalid { path: PathBuf, why: String },
    /// The `--ca` file (or the system's store) has no certificate.
    NoCertificate(Trust),
}

impl CaError {
    /// The `io::Error` behind a file that cannot be read, if that is it.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            CaError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaError::Read { path, error } => {
                write!(f, "cannot read the CA file {}: {error}", path.display())
            }
            CaError::TooLarge { path } => write!(
                f,
                "the CA file {} is larger than {} MiB",
                path.display(),
                MAX_CA_FILE >> 20
            ),
            CaError::Invalid { path, why } => {
                write!(f, "the CA file {} is not valid PEM: {why}", path.display())
            }
            CaError::NoCertificate(Trust::File(path)) => write!(
                f,
                "the CA file {} has no certificate (a PEM \"BEGIN CERTIFICATE\" block)",
                path.display()
            ),
            CaError::NoCertificate(Trust::System) => f.write_str(
                "the system has no trust roots (install ca-certificates, or give --ca FILE)",
            ),
        }
    }
}

impl std::error::Error for CaError {}

/// Why a TLS handshake failed, in one line: which check of the server's
/// certificate failed, or what else went wrong.
#[derive(Debug)]
pub enum TlsError {
    /// The host typed is neither a DNS name nor an IP address.
    BadName(String),
    /// The server's certificate failed a check.
    Certificate {
        /// The name it was checked against.
        host: String,
        /// Who was trusted.
        trust: Trust,
        error: CertificateError,
    },
    /// The server refused the handshake with an alert.
    Alert(AlertDescription),
    /// The server closed the connection during the handshake.
    Closed,
    /// The handshake took longer than [`HANDSHAKE_TIMEOUT`].
    Timeout,
    /// The server's bytes break TLS (a server that does not speak it).
    Protocol(rustls::Error),
    /// The socket failed.
    Io(io::Error),
}

impl TlsError {
    /// A rustls error of the connection to `host`, as a [`TlsError`].
    pub fn from_rustls(error: rustls::Error, host: &str, trust: &Trust) -> TlsError {
        match error {
            rustls::Error::InvalidCertificate(error) => TlsError::Certificate {
                host: host.to_owned(),
                trust: trust.clone(),
                error,
            },
            rustls::Error::AlertReceived(alert) => TlsError::Alert(alert),
            other => TlsError::Protocol(other),
        }
    }
}

/// A name of a certificate as rustls presents it (`DnsName("other")`,
/// `IpAddress(127.0.0.1)`), without its kind.
fn presented_name(name: &str) -> &str {
    match (name.find('('), name.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            name.get(open + 1..close).unwrap_or(name).trim_matches('"')
        }
        _ => name,
    }
}

/// A date in UTC, as a certificate's validity is read.
fn date(time: UnixTime) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(time.as_secs()))
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CertificateError as C;
        match self {
            TlsError::BadName(host) => write!(
                f,
                "{host:?} is neither a DNS name nor an IP address, to check a certificate against"
            ),
            TlsError::Certificate { host, trust, error } => {
                f.write_str("certificate verify failed: ")?;
                match error {
                    C::UnknownIssuer => write!(
                        f,
                        "unknown issuer (the server's certificate is not signed by a CA of {trust})"
                    ),
                    C::NotValidForName => {
                        write!(f, "name mismatch (the certificate is not for {host})")
                    }
                    C::NotValidForNameContext { presented, .. } => write!(
                        f,
                        "name mismatch (the certificate is for {}, not {host})",
                        if presented.is_empty() {
                            "no name".to_owned()
                        } else {
                            presented
                                .iter()
                                .map(|name| presented_name(name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                    C::Expired => f.write_str("expired (the certificate's validity has ended)"),
                    C::ExpiredContext { not_after, .. } => {
                        write!(f, "expired (on {})", date(*not_after))
                    }
                    C::NotValidYet => f.write_str("not valid yet"),
                    C::NotValidYetContext { not_before, .. } => {
                        write!(f, "not valid yet (not before {})", date(*not_before))
                    }
                    C::BadSignature
                    | C::UnsupportedSignatureAlgorithmContext { .. }
                    | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => write!(
                        f,
                        "bad signature (the certificate is not signed by the key of the CA of \
                         {trust} that bears its issuer's name)"
                    ),
                    // webpki's error, which rustls carries opaque: what
                    // `openssl req -x509` makes without
                    // `-addext basicConstraints=critical,CA:FALSE`.
                    other if format!("{other:?}").contains("CaUsedAsEndEntity") => f.write_str(
                        "CA used as end entity (the server's certificate says CA:TRUE; make it \
                         with basicConstraints CA:FALSE, as `reseau cert` does)",
                    ),
                    other => write!(f, "{other}"),
                }
            }
            TlsError::Alert(alert) => write!(f, "the server refused the handshake: {alert:?}"),
            TlsError::Closed => f.write_str(
                "the server closed the connection during the TLS handshake (does it speak TLS?)",
            ),
            TlsError::Timeout => write!(
                f,
                "no TLS handshake within {} s (does the server speak TLS?)",
                HANDSHAKE_TIMEOUT.as_secs()
            ),
            TlsError::Protocol(error) => {
                write!(f, "the server does not speak TLS as expected: {error}")
            }
            TlsError::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for TlsError {}

/// A blocking TLS connection of a client.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// What a client trusts, and rustls' settings: made once, shared by every
/// connection (cloning is cheap).
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    trust: Trust,
}

impl TlsClient {
    /// Trusts the certificates of the PEM file `ca` (one or more), or,
    /// with `None`, the system's roots (read once per process).
    pub fn new(ca: Option<&Path>) -> Result<TlsClient, CaError> {
        let (roots, trust) = match ca {
            Some(path) => (roots_of_file(path)?, Trust::File(path.to_owned())),
            None => (system_roots()?, Trust::System),
        };
        let config = ClientConfig::builder_with_provider(Arc::new(ring_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| CaError::Invalid {
                path: PathBuf::new(),
                why: error.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient {
            config: Arc::new(config),
            trust,
        })
    }

    /// The same trust, with no session resumption: every connection makes
    /// a full handshake, as a new client process does (the load
    /// generator's "new TLS connections per second").
    pub fn without_resumption(&self) -> TlsClient {
        let mut config = (*self.config).clone();
        config.resumption = Resumption::disabled();
        TlsClient {
            config: Arc::new(config),
            trust: self.trust.clone(),
        }
    }

    /// Who is trusted.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// A new connection to the server at `addr` (`host:port` as typed), its
    /// bytes moved by the caller (the non-blocking load generator).
    pub fn connection(&self, addr: &str) -> Result<ClientConnection, TlsError> {
        let name = server_name(addr)?;
        ClientConnection::new(self.config.clone(), name).map_err(TlsError::Protocol)
    }

    /// Makes the TLS handshake on `tcp`, connected to `addr` (`host:port`
    /// as typed: the host is the name checked), in
    /// [`HANDSHAKE_TIMEOUT`] at most.
    pub fn handshake(&self, mut tcp: TcpStream, addr: &str) -> Result<TlsStream, TlsError> {
        let host = host_of(addr).to_owned();
        let mut conn = self.connection(addr)?;
        tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(TlsError::Io)?;
        tcp.set_write_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(TlsError::Io)?;
        let timeout = |error: io::Error| match error.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => TlsError::Timeout,
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => TlsError::Closed,
            _ => TlsError::Io(error),
        };
        while conn.is_handshaking() {
            while conn.wants_write() {
                conn.write_tls(&mut tcp).map_err(timeout)?;
            }
            match conn.read_tls(&mut tcp) {
                Ok(0) => return Err(TlsError::Closed),
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(timeout(error)),
            }
            if let Err(error) = conn.process_new_packets() {
                // The alert that says why, to the server, if it can go.
                let _ = conn.write_tls(&mut tcp);
                return Err(TlsError::from_rustls(error, &host, &self.trust));
            }
        }
        // TLS 1.3: the client's Finished is still to go.
        while conn.wants_write() {
            conn.write_tls(&mut tcp).map_err(timeout)?;
        }
        tcp.set_read_timeout(None).map_err(TlsError::Io)?;
        tcp.set_write_timeout(None).map_err(TlsError::Io)?;
        Ok(StreamOwned::new(conn, tcp))
    }
}

/// rustls' ring provider (the workspace's choice: no cmake, no C toolchain
/// beyond cc), its key exchanges in the order of OpenSSL, curl and the
/// browsers: X25519 first (the client's one key share), then P-256 and
/// P-384. rustls 0.23.48 lists P-384 first for ring, which costs several
/// times X25519 on each side of every handshake; it also deprecates the
/// ring provider for having no post-quantum key exchange.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::kx_group;
    rustls::crypto::CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..rustls::crypto::ring::default_provider()
    }
}

/// The host part of `host:port` (`[::1]:6001` gives `::1`).
pub fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, _port)) => host,
        None => addr,
    }
}

/// The name the server's certificate must carry: the host of `addr`, a
/// DNS name or an IP address.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = host_of(addr);
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::BadName(host.to_owned()))
}

/// The certificates of a PEM file, every one of which must be valid.
fn roots_of_file(path: &Path) -> Result<RootCertStore, CaError> {
    let read = |error| CaError::Read {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(CaError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let invalid = |why: String| CaError::Invalid {
            path: path.to_owned(),
            why,
        };
        let cert = cert.map_err(|error: pem::Error| invalid(error.to_string()))?;
        roots
            .add(cert)
            .map_err(|error| invalid(format!("a certificate is not valid: {error}")))?;
    }
    if roots.is_empty() {
        return Err(CaError::NoCertificate(Trust::File(path.to_owned())));
    }
    Ok(roots)
}

/// The system's roots, read once per process (a few hundred certificates):
/// those that parse (a bundle may carry a few that rustls cannot use).
fn system_roots() -> Result<RootCertStore, CaError> {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    });
    if roots.is_empty() {
        return Err(CaError::NoCertificate(Trust::System));
    }
    Ok(roots.clone())
}

/// A [`TlsStream`] in two halves, one for each thread: the echo client
/// writes from one thread while it reads from another, so that a server
/// that echoes as it reads cannot fill both directions and stall. The
/// connection's state is shared behind a lock that no socket call holds:
/// each half moves bytes between the state and its own clone of the
/// socket.
pub fn split(stream: TlsStream) -> io::Result<(TlsReader, TlsWriter)> {
    let StreamOwned { conn, sock } = stream;
    let writer_sock = sock.try_clone()?;
    let conn = Arc::new(Mutex::new(conn));
    Ok((
        TlsReader {
            conn: conn.clone(),
            sock,
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            eof: false,
        },
        TlsWriter {
            conn,
            sock: writer_sock,
            out: Vec::new(),
        },
    ))
}

fn lock(conn: &Mutex<ClientConnection>) -> MutexGuard<'_, ClientConnection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The reading half of [`split`].
pub struct TlsReader {
    conn: Arc<Mutex<ClientConnection>>,
    sock: TcpStream,
    /// Records read from the socket; `buf[start..end]` not yet given to
    /// the connection.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Read for TlsReader {
    /// Plaintext; `Ok(0)` once the server has closed, with or without its
    /// `close_notify` (as Python's `ssl` with `suppress_ragged_eofs`: the
    /// course's servers close their socket without one).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut conn = lock(&self.conn);
            match conn.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) => return Err(error),
            }
            // No plaintext: records read before, then the socket.
            if self.start < self.end {
                let mut input = self.buf.get(self.start..self.end).unwrap_or_default();
                self.start += conn.read_tls(&mut input)?;
                conn.process_new_packets()
                    .map_err(|error| io::Error::new(ErrorKind::InvalidData, error))?;
                continue;
            }
            if self.eof {
                return Ok(0);
            }
            drop(conn);
            match self.sock.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(n) => (self.start, self.end) = (0, n),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// The writing half of [`split`].
pub struct TlsWriter {
    conn: Arc<Mutex<ClientConnection>>,
    sock: TcpStream,
    out: Vec<u8>,
}

impl TlsWriter {
    /// Sends what the connection has to send, the lock released first.
    fn flush_records(&mut self) -> io::Result<()> {
        {
            let mut conn = lock(&self.conn);
            while conn.wants_write() {
                conn.write_tls(&mut self.out)?;
            }
        }
        let result = self.sock.write_all(&self.out);
        self.out.clear();
        result
    }

    /// Ends the sending direction: `close_notify`, then a TCP half-close.
    pub fn shutdown(&mut self) -> io::Result<()> {
        lock(&self.conn).send_close_notify();
        self.flush_records()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

impl Write for TlsWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = lock(&self.conn).writer().write(data)?;
        self.flush_records()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_checked_is_the_one_typed() {
        assert_eq!(host_of("localhost:6001"), "localhost");
        assert_eq!(host_of("127.0.0.1:6001"), "127.0.0.1");
        assert_eq!(host_of("[::1]:6001"), "::1");
        assert!(matches!(
            server_name("[::1]:6001"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("localhost:6001"),
            Ok(ServerName::DnsName(_))
        ));
    }

    #[test]
    fn an_expired_certificate_says_when() {
        let error = TlsError::Certificate {
            host: "localhost".into(),
            trust: Trust::System,
            error: CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_600_000_000)),
            },
        };
        assert_eq!(
            error.to_string(),
            "certificate verify failed: expired (on Sun, 13 Sep 2020 12:26:40 GMT)"
        );
    }
}
