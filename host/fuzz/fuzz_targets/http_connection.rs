//! `web::http::Connection` on arbitrary bytes.
//!
//! Input: 5 bytes of settings, then the cuts, then the bytes of the
//! connection:
//! - byte 0: bit 0 the request timeout fires before the end of input,
//!   bit 1 the answers have no length (chunked);
//! - byte 1: the head limit, 32 + 8 × b bytes; byte 2: the body limit,
//!   4 × b bytes; byte 3: the output buffer, 1 + b bytes;
//! - byte 4: how many cut bytes follow (0 to 15), each a piece of 1 to
//!   256 bytes (cycled).
//!
//! Invariants: the input cut into those pieces and read through that
//! buffer gives the same requests, rejections and output bytes as the
//! whole input read through a large buffer, chunked answers included
//! (a chunk is framed when it is given, not when it is sent); no request
//! is over the head,
//! body or header-count limit; a rejection is a documented status and is
//! the last event; no request follows one that closes the connection; the
//! output is exactly one response per event (200 with the fixed answer,
//! or the rejection's status with a JSON error); the connection is
//! finished once the input has ended.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_host::web::config::HttpLimits;
use reseau_host_fuzz::http::{End, Framing, check_run, pieces, run, same_runs};

fuzz_target!(|data: &[u8]| {
    let Some((settings, rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let [flags, head, body, out, cuts] = *settings;
    let cuts = usize::from(cuts % 16).min(rest.len());
    let (cuts, input) = rest.split_at(cuts);
    let end = if flags & 1 != 0 {
        End::TimeOutThenEof
    } else {
        End::Eof
    };
    let framing = if flags & 2 != 0 {
        Framing::Unsized
    } else {
        Framing::Sized
    };
    let limits = HttpLimits {
        max_header: 32 + 8 * usize::from(head),
        max_body: 4 * usize::from(body),
        ..HttpLimits::default()
    };
    // Any room works: the connection frames a chunk when it is given, not
    // when it is sent.
    let out_size = 1 + usize::from(out);
    let whole = run(limits, input, &[], 64 * 1024, end, framing);
    if let Err(why) = check_run(&whole, &limits, framing) {
        panic!("{why}\n{whole:#?}");
    }
    let split = run(limits, input, &pieces(cuts), out_size, end, framing);
    if let Err(why) = same_runs(&whole, &split) {
        panic!("cut at {:?}: {why}", pieces(cuts));
    }
});
