//! The course's integer adder, written the way a Rust user would write it
//! with tokio: one task per connection, `LengthDelimitedCodec` for the
//! 4-byte little-endian length prefix, `serde-pickle` for the payload.
//!
//! Request: `struct.pack('I', n)` then `n` bytes of `pickle.dumps(list_of_ints)`.
//! Reply: the sum as 4 raw little-endian bytes (`struct.pack('I', total)`),
//! not framed. Requests on one connection are answered in order until the
//! peer closes; an invalid request (not a pickled list of ints, or a sum that
//! does not fit a `u32`) closes the connection.
//!
//! With `--tls-cert FILE --tls-key FILE` (PEM), the same protocol over TLS
//! the usual tokio-rustls way: a `TlsAcceptor` of a rustls `ServerConfig`
//! (ring provider, TLS 1.2 and 1.3, rustls' defaults otherwise), the
//! handshake in the connection's task.
//!
//! This is a comparison peer for benchmarks only; it is not published.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

const DEFAULT_BIND: &str = "127.0.0.1:7001";
const MAX_FRAME_LENGTH: usize = 64 * 1024 * 1024;

const USAGE: &str =
    "usage: tokio-adder [--bind ADDR] [--tls-cert FILE --tls-key FILE]   (default 127.0.0.1:7001)";

/// Why a request was refused; the connection is closed after any of these.
#[derive(Debug)]
enum BadRequest {
    Pickle(serde_pickle::Error),
    Overflow,
    OutOfRange(i128),
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::Pickle(e) => write!(f, "not a pickled list of ints: {e}"),
            BadRequest::Overflow => write!(f, "sum overflowed"),
            BadRequest::OutOfRange(s) => write!(f, "sum {s} does not fit in a u32"),
        }
    }
}

impl Error for BadRequest {}

/// Decodes one request payload and returns the reply's value.
fn answer(payload: &[u8]) -> Result<u32, BadRequest> {
    let values: Vec<i64> = serde_pickle::from_slice(payload, serde_pickle::DeOptions::new())
        .map_err(BadRequest::Pickle)?;
    let sum = values
        .iter()
        .try_fold(0i128, |acc, &v| acc.checked_add(i128::from(v)))
        .ok_or(BadRequest::Overflow)?;
    u32::try_from(sum).map_err(|_| BadRequest::OutOfRange(sum))
}

/// Answers the requests read from `read_half` on `write_half`, in order.
async fn serve<R, W>(read_half: R, mut write_half: W) -> Result<(), Box<dyn Error + Send + Sync>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .little_endian()
        .max_frame_length(MAX_FRAME_LENGTH)
        .new_codec();
    let mut frames = FramedRead::new(read_half, codec);
    while let Some(frame) = frames.next().await {
        let total = answer(&frame?)?;
        write_half.write_all(&total.to_le_bytes()).await?;
        write_half.flush().await?;
    }
    Ok(())
}

/// One connection: plain, or TLS when there is an acceptor.
async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    match tls {
        None => {
            let (read_half, write_half) = stream.into_split();
            serve(read_half, write_half).await
        }
        Some(acceptor) => {
            let stream = acceptor.accept(stream).await?;
            let (read_half, write_half) = tokio::io::split(stream);
            serve(read_half, write_half).await
        }
    }
}

struct Options {
    bind: String,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        bind: DEFAULT_BIND.to_owned(),
        tls_cert: None,
        tls_key: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--bind" => options.bind = value()?,
            "--tls-cert" => options.tls_cert = Some(value()?),
            "--tls-key" => options.tls_key = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

/// The acceptor of `--tls-cert` and `--tls-key`, if both are given. (ring:
/// rustls 0.23.48 deprecates its provider for lacking post-quantum groups.)
#[allow(deprecated)]
fn acceptor(options: &Options) -> Result<Option<TlsAcceptor>, String> {
    let (cert, key) = match (&options.tls_cert, &options.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("the certificate and key: {e}"))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (options, tls) = match parse_args().and_then(|o| acceptor(&o).map(|tls| (o, tls))) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("tokio-adder: {msg}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&options.bind).await?;
    let local: SocketAddr = listener.local_addr()?;
    eprintln!("listening on {local}");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: report, back off briefly, keep accepting.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, tls).await {
                eprintln!("{peer}: closing: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // pickle.dumps(list(range(10)), protocol=2)
    const RANGE10_P2: &[u8] = b"\x80\x02]q\x00(K\x00K\x01K\x02K\x03K\x04K\x05K\x06K\x07K\x08K\te.";

    #[test]
    fn sums_a_list() {
        assert_eq!(answer(RANGE10_P2).ok(), Some(45));
    }

    #[test]
    fn refuses_a_string() {
        // pickle.dumps('abc', protocol=2)
        assert!(answer(b"\x80\x02X\x03\x00\x00\x00abcq\x00.").is_err());
    }
}
