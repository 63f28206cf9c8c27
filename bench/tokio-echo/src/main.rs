//! An echo server (RFC 862, TCP), written the way a Rust user would write
//! it with tokio: the multi-threaded runtime, one task per connection, and
//! `tokio::io::copy` from the socket's read half to its write half.
//!
//! Every byte received is sent back. When the peer half-closes, the rest
//! of the echo is sent and the connection is closed. `copy` reads into its
//! own fixed buffer and does not read again until that buffer is written,
//! so a client that sends without reading is held back by TCP.
//!
//! This is a comparison peer for benchmarks only; it is not published.

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

const DEFAULT_BIND: &str = "127.0.0.1:7000";

const USAGE: &str = "usage: tokio-echo [--bind ADDR]   (default 127.0.0.1:7000)";

/// Echoes one connection until the peer closes; returns the bytes echoed.
async fn serve(mut stream: TcpStream) -> std::io::Result<u64> {
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = stream.split();
    tokio::io::copy(&mut reader, &mut writer).await
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
            eprintln!("tokio-echo: {msg}\n{USAGE}");
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
