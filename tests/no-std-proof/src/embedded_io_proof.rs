//! The `embedded-io` part of the proof: an adder session driven by
//! `reseau_core::drive::embedded_io::run` over a tiny in-memory stream,
//! which links the blocking driver (and `embedded-io`) without std or an
//! allocator.

use core::hint::black_box;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use reseau_core::adder::native::Reply;
use reseau_core::adder::{AdderConfig, AdderSession, Event, Format, ReplyDecoder};
use reseau_core::drive::embedded_io::{Outcome, run};

/// An in-memory stream: reads hand out the request 3 bytes at a time,
/// writes take at most 2 bytes into a fixed reply buffer.
struct Wire<'a> {
    input: &'a [u8],
    output: [u8; 32],
    written: usize,
}

impl ErrorType for Wire<'_> {
    type Error = ErrorKind;
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(self.input.len()).min(3);
        let (now, rest) = self.input.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(now);
        }
        self.input = rest;
        Ok(n)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(2);
        let dst = self
            .output
            .get_mut(self.written..self.written + n)
            .ok_or(ErrorKind::WriteZero)?;
        dst.copy_from_slice(buf.get(..n).unwrap_or_default());
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Runs `requests` (a pickle request for `pickle_sum`, then a native one
/// for `native_sum`) through the driver; checks the events and the
/// replies.
pub fn check(requests: &[u8], pickle_sum: i64, native_sum: i64) -> Result<(), &'static str> {
    let mut wire = Wire {
        input: black_box(requests),
        output: [0; 32],
        written: 0,
    };
    // Both requests go on one connection: `keep_alive`, since by default
    // a pickle request is its connection's last.
    let mut session = AdderSession::new(AdderConfig {
        keep_alive: true,
        ..AdderConfig::default()
    });
    let (mut read_buf, mut write_buf) = ([0u8; 8], [0u8; 5]);
    let mut sums = [None; 2];
    let mut seen = 0;
    let mut unexpected = false;
    let outcome = run(
        &mut session,
        &mut wire,
        &mut read_buf,
        &mut write_buf,
        |event| match (event, sums.get_mut(seen)) {
            (Event::Answered { sum, .. }, Some(slot)) => {
                *slot = Some(sum);
                seen += 1;
            }
            _ => unexpected = true,
        },
    )
    .map_err(|_| "the embedded-io driver returned an error")?;
    if unexpected || sums != [Some(pickle_sum), Some(native_sum)] {
        return Err("the embedded-io driver delivered the wrong events");
    }
    let expected = Outcome {
        received: requests.len() as u64,
        sent: wire.written as u64,
        peer_closed: true,
    };
    if outcome != expected {
        return Err("the embedded-io driver reported the wrong byte counts");
    }

    let mut replies = wire.output.get(..wire.written).unwrap_or_default();
    for (format, sum) in [(Format::Pickle, pickle_sum), (Format::Native, native_sum)] {
        let mut decoder = ReplyDecoder::new(format);
        let (used, reply) = decoder.decode(replies);
        if reply != Some(Ok(Reply::Sum(sum))) {
            return Err("the embedded-io driver sent a wrong reply");
        }
        replies = replies.get(used..).unwrap_or_default();
    }
    if !replies.is_empty() {
        return Err("bytes follow the replies of the embedded-io driver");
    }
    Ok(())
}
