//! A server's side of TLS: its identity (certificate chain and key,
//! checked at start, reloaded on SIGHUP) and the transport of one
//! connection ([`TlsStream`]).
//!
//! # The transport's call order
//!
//! [`crate::net`] pumps a [`TlsStream`] as it pumps a plain socket:
//!
//! 1. [`TlsStream::flush`] first, every turn: the records rustls holds
//!    (handshake replies, encrypted output, an alert, `close_notify`) go
//!    out before anything else happens; `WouldBlock` while the socket is
//!    full.
//! 2. [`TlsStream::write`]: plaintext in, encrypted into rustls' buffer
//!    (bounded: [`BUFFER_LIMIT`]), `WouldBlock` while records wait.
//! 3. [`TlsStream::read`]: plaintext out, `WouldBlock` when the socket has
//!    nothing more, `0` at the end of input: a `close_notify`, or a TCP FIN
//!    without one (Python's `ssl` sockets close that way). Bad TLS input is
//!    an error whose alert has been sent.
//! 4. The server ends a connection with [`TlsStream::close_write`]
//!    (`close_notify`, then the TCP FIN once it is sent) and reads and
//!    drops what comes next ([`TlsStream::read_raw`]); a connection closed
//!    any other way gets [`TlsStream::finish`] (a `close_notify` if the
//!    socket takes it).
//!
//! A handshake must end by [`TlsStream::handshake_late`]'s deadline.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::escape::escape;

/// Bytes rustls may hold for one connection on the way out, plaintext and
/// records each: a peer that does not read cannot grow it. Twice the
/// runtime's write buffer, so one gathered write always fits. (rustls bounds
/// what it received on its own: 16 KiB of plaintext, one record being
/// joined.)
pub const BUFFER_LIMIT: usize = 32 * 1024;

/// ALPN for the web site: HTTP/1.1 only. A client that offers no ALPN is
/// served all the same.
pub const HTTP_1_1: &[&[u8]] = &[b"http/1.1"];

/// Where a server's certificate and key are: what `--tls-cert`,
/// `--tls-key` and CherryPy's `server.ssl_*` keys name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate, then any intermediates (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// More intermediates sent after the certificate's file
    /// (CherryPy's `server.ssl_certificate_chain`).
    pub chain: Option<PathBuf>,
}

/// Why a certificate or key was refused, at start or at a reload: one
/// line naming the file.
#[derive(Debug)]
pub enum TlsError {
    /// The file cannot be read.
    Read { file: PathBuf, error: io::Error },
    /// The file has no PEM certificate (or a broken one).
    NoCertificate(PathBuf),
    /// The file has no PEM private key (or a broken one).
    NoKey(PathBuf),
    /// The certificate is not X.509 that can be read.
    BadCertificate { file: PathBuf, reason: String },
    /// The key is not the certificate's.
    Mismatch { cert: PathBuf, key: PathBuf },
    /// The certificate's validity ended.
    Expired { file: PathBuf, on: String },
    /// The certificate's validity has not begun.
    NotYetValid { file: PathBuf, from: String },
    /// rustls refused the key or the configuration.
    Refused { key: PathBuf, reason: String },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { file, error } => {
                write!(f, "cannot read {}: {error}", file.display())
            }
            TlsError::NoCertificate(file) => {
                write!(f, "{}: no PEM certificate in it", file.display())
            }
            TlsError::NoKey(file) => write!(f, "{}: no PEM private key in it", file.display()),
            TlsError::BadCertificate { file, reason } => {
                write!(f, "{}: not a certificate: {reason}", file.display())
            }
            TlsError::Mismatch { cert, key } => write!(
                f,
                "{}: this key does not match the certificate of {}",
                key.display(),
                cert.display()
            ),
            TlsError::Expired { file, on } => {
                write!(f, "{}: the certificate expired on {on}", file.display())
            }
            TlsError::NotYetValid { file, from } => write!(
                f,
                "{}: the certificate is not valid before {from}",
                file.display()
            ),
            TlsError::Refused { key, reason } => write!(f, "{}: {reason}", key.display()),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// The process exit code ([`crate::exit`]): the server could not start.
    pub fn exit_code(&self) -> u8 {
        crate::exit::SETUP
    }
}

/// A server's TLS identity: the configuration new connections get, which
/// a reload replaces (connections already open keep theirs).
#[derive(Debug)]
pub struct ServerTls {
    files: TlsFiles,
    alpn: Vec<Vec<u8>>,
    current: RwLock<Loaded>,
}

/// One reading of the files.
#[derive(Debug, Clone)]
struct Loaded {
    config: Arc<ServerConfig>,
    about: String,
}

impl ServerTls {
    /// Reads and checks `files` (see [`TlsError`]); `alpn` is what the
    /// server offers ([`HTTP_1_1`] for the web, nothing for the adder and
    /// echo).
    pub fn load(files: &TlsFiles, alpn: &[&[u8]]) -> Result<ServerTls, TlsError> {
        let alpn: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
        let loaded = load(files, &alpn)?;
        Ok(ServerTls {
            files: files.clone(),
            alpn,
            current: RwLock::new(loaded),
        })
    }

    /// Reads the files again: on success new connections get the new
    /// certificate, and its description is returned; on failure the old
    /// one stays.
    pub fn reload(&self) -> Result<String, TlsError> {
        let loaded = load(&self.files, &self.alpn)?;
        let about = loaded.about.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(about)
    }

    /// The certificate served now: its subject and validity.
    pub fn about(&self) -> String {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .about
            .clone()
    }

    /// A TLS session for a new connection, with the current certificate.
    pub fn accept(&self) -> Result<ServerConnection, rustls::Error> {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone();
        let mut conn = ServerConnection::new(config)?;
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(conn)
    }
}

fn read(file: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(file).map_err(|error| TlsError::Read {
        file: file.to_owned(),
        error,
    })
}

fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(file)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(TlsError::NoCertificate(file.to_owned())),
    }
}

/// Reads, checks and builds the configuration of `files`.
fn load(files: &TlsFiles, alpn: &[Vec<u8>]) -> Result<Loaded, TlsError> {
    let mut chain = certificates(&files.cert)?;
    if let Some(more) = &files.chain {
        chain.extend(certificates(more)?);
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|_| TlsError::NoKey(files.key.clone()))?;
    let about = check_validity(&files.cert, chain.first())?;
    // ring, as the workspace chose (aws-lc-rs needs a C toolchain and
    // cmake); rustls 0.23.48 deprecates it only for lacking post-quantum
    // key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Refused {
            key: files.key.clone(),
            reason: error.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            },
            error => TlsError::Refused {
                key: files.key.clone(),
                reason: error.to_string(),
            },
        })?;
    config.alpn_protocols = alpn.to_vec();
    Ok(Loaded {
        config: Arc::new(config),
        about,
    })
}

/// Refuses a certificate outside its validity now; returns its subject
/// and end of validity, for the log.
fn check_validity(file: &Path, cert: Option<&CertificateDer<'_>>) -> Result<String, TlsError> {
    let Some(cert) = cert else {
        return Err(TlsError::NoCertificate(file.to_owned()));
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|error| {
        TlsError::BadCertificate {
            file: file.to_owned(),
            reason: error.to_string(),
        }
    })?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(TlsError::Expired {
            file: file.to_owned(),
            on: validity.not_after.to_string(),
        });
    }
    if now < validity.not_before {
        return Err(TlsError::NotYetValid {
            file: file.to_owned(),
            from: validity.not_before.to_string(),
        });
    }
    Ok(format!(
        "subject {}, valid until {}",
        escape(parsed.subject().to_string().as_bytes()),
        validity.not_after
    ))
}

/// One connection's TLS over its socket: the transport [`crate::net`]
/// pumps (see the module's call order).
#[derive(Debug)]
pub struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
    /// When the handshake must be over; `None` once it is.
    handshake_until: Option<Instant>,
    /// The input ended (a `close_notify` or a FIN): reads give 0.
    input_ended: bool,
    /// The TLS input was bad: its alert is the last thing sent.
    failed: bool,
    /// `close_notify` is queued: the TCP FIN follows it once it is sent.
    closing: bool,
    /// The TCP FIN was sent.
    write_shut: bool,
}

impl TlsStream {
    /// `tls` over `tcp`, whose handshake must end by `handshake_until`.
    pub fn new(tcp: TcpStream, tls: ServerConnection, handshake_until: Instant) -> TlsStream {
        TlsStream {
            tcp,
            tls,
            handshake_until: Some(handshake_until),
            input_ended: false,
            failed: false,
            closing: false,
            write_shut: false,
        }
    }

    /// Whether the handshake is still going at `now`, past its deadline.
    pub fn handshake_late(&self, now: Instant) -> bool {
        self.handshake_until.is_some_and(|until| now >= until)
    }

    /// Sends the records rustls holds; `WouldBlock` while the socket is
    /// full. Once `close_notify` is out, sends the TCP FIN.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.tcp)? == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
        }
        if self.closing && !self.write_shut {
            self.write_shut = true;
            self.tcp.shutdown(Shutdown::Write)?;
        }
        Ok(())
    }

    /// Takes plaintext to send, once the records before it are sent.
    pub fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        self.flush()?;
        let taken = self.tls.writer().write(plaintext)?;
        if taken == 0 && !plaintext.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        match self.flush() {
            Err(error) if error.kind() != ErrorKind::WouldBlock => Err(error),
            _ => Ok(taken),
        }
    }

    /// Reads plaintext into `buf`, filling it unless the socket runs dry
    /// or the input ends: a short read means the socket had nothing more
    /// (what [`crate::net`]'s pump relies on).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !self.input_ended {
            match self
                .tls
                .reader()
                .read(buf.get_mut(filled..).unwrap_or_default())
            {
                Ok(0) => self.input_ended = true,
                Ok(n) => filled += n,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    match self.tls.read_tls(&mut self.tcp) {
                        // A FIN without close_notify: the end of input too.
                        Ok(0) => self.input_ended = true,
                        Ok(_) => self.process()?,
                        Err(error) if error.kind() == ErrorKind::WouldBlock && filled > 0 => break,
                        Err(error) => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(filled)
    }

    /// Handles the records read: bad input sends its alert and fails;
    /// handshake replies are sent.
    fn process(&mut self) -> io::Result<()> {
        if let Err(error) = self.tls.process_new_packets() {
            self.failed = true;
            let _ = self.tls.write_tls(&mut self.tcp);
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("tls: {}", escape(error.to_string().as_bytes())),
            ));
        }
        if !self.tls.is_handshaking() {
            self.handshake_until = None;
        }
        match self.flush() {
            Err(error) if error.kind() != ErrorKind::WouldBlock => Err(error),
            _ => Ok(()),
        }
    }

    /// The server ends the connection: `close_notify`, then the TCP FIN
    /// once every record is sent (now, or by the next [`TlsStream::flush`]).
    pub fn close_write(&mut self) -> io::Result<()> {
        if !self.failed {
            self.tls.send_close_notify();
        }
        self.closing = true;
        match self.flush() {
            Err(error) if error.kind() != ErrorKind::WouldBlock => Err(error),
            _ => Ok(()),
        }
    }

    /// Reads raw bytes from the socket (a lingering close drops them).
    pub fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }

    /// Before the socket closes, however the connection ended: a
    /// `close_notify` if none was sent, and the records left, if the socket
    /// takes them now.
    pub fn finish(&mut self) {
        if !self.failed && !self.closing {
            self.tls.send_close_notify();
            self.closing = true;
        }
        let _ = self.flush();
    }

    /// The socket, to register it with a poller.
    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }
}
