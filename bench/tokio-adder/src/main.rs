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
//! This is a comparison peer for benchmarks only; it is not published.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

const DEFAULT_BIND: &str = "127.0.0.1:7001";
const MAX_FRAME_LENGTH: usize = 64 * 1024 * 1024;

const USAGE: &str = "usage: tokio-adder [--bind ADDR]   (default 127.0.0.1:7001)";

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

async fn serve(stream: TcpStream) -> Result<(), Box<dyn Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    let (read_half, mut write_half) = stream.into_split();
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .little_endian()
        .max_frame_length(MAX_FRAME_LENGTH)
        .new_codec();
    let mut frames = FramedRead::new(read_half, codec);
    while let Some(frame) = frames.next().await {
        let total = answer(&frame?)?;
        write_half.write_all(&total.to_le_bytes()).await?;
    }
    Ok(())
}

fn parse_args() -> Result<String, String> {
    let mut bind = DEFAULT_BIND.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs an address")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => match other.strip_prefix("--bind=") {
                Some(addr) => bind = addr.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(bind)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let bind = match parse_args() {
        Ok(bind) => bind,
        Err(msg) => {
            eprintln!("tokio-adder: {msg}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&bind).await?;
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
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
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
