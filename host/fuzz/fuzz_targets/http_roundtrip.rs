//! Structured requests encoded into bytes parse back to exactly what was
//! encoded, however the bytes are cut.
//!
//! The fuzzer describes 1 to 4 pipelined requests (method, origin or
//! absolute target, HTTP/1.0 or 1.1, headers, body framed by
//! `Content-Length` with or without leading zeros or chunked with
//! arbitrary chunk sizes, extensions and trailers, `Expect:
//! 100-continue`, a `Connection: close` on the last) and the cuts.
//!
//! Invariants: the connection hands out exactly those requests (method,
//! target in origin form, version, every header in order, body), refuses
//! none, answers each once in order, and is finished after the end of
//! input; cut or whole, the events and output bytes are the same,
//! chunked answers included.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reseau_host::web::config::HttpLimits;
use reseau_host_fuzz::http::{End, Event, Framing, check_run, closes, pieces, run, same_runs};
use reseau_host_fuzz::request::RequestSpec;

#[derive(Debug, Arbitrary)]
struct Input {
    first: RequestSpec,
    more: Vec<RequestSpec>,
    cuts: Vec<u8>,
    out: u8,
    unsized_answers: bool,
}

fuzz_target!(|input: Input| {
    let framing = if input.unsized_answers {
        Framing::Unsized
    } else {
        Framing::Sized
    };
    let specs: Vec<&RequestSpec> = std::iter::once(&input.first)
        .chain(input.more.iter().take(3))
        .collect();
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let (encoded, event) = spec.encode(i + 1 == specs.len());
        bytes.extend_from_slice(&encoded);
        let Event::Request {
            version, headers, ..
        } = &event
        else {
            unreachable!()
        };
        // Requests after one that closes the connection are not read.
        let last = closes(version, headers, framing);
        expected.push(event);
        if last {
            break;
        }
    }
    let limits = HttpLimits::default();
    let whole = run(limits, &bytes, &[], 64 * 1024, End::Eof, framing);
    assert!(
        whole.events == expected,
        "request {:?}\nparsed as {:#?}\nexpected {:#?}",
        String::from_utf8_lossy(&bytes),
        whole.events,
        expected
    );
    if let Err(why) = check_run(&whole, &limits, framing) {
        panic!("{why}\n{whole:#?}");
    }
    let out_size = (13 + usize::from(input.out)).min(255);
    let split = run(
        limits,
        &bytes,
        &pieces(&input.cuts),
        out_size,
        End::Eof,
        framing,
    );
    if let Err(why) = same_runs(&whole, &split) {
        panic!("cut at {:?}: {why}", pieces(&input.cuts));
    }
});
