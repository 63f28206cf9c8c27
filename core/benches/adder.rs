//! How fast the adder sums a request, in both formats, next to what a Rust
//! user would write with serde-pickle (build the `Vec<i64>`, then sum).
//!
//! Next to them, `memcpy_*` copies a buffer of the same size as each
//! payload (`copy_from_slice`): the machine's memory bandwidth in the same
//! run, the physical limit for loops that read every byte once.
//!
//! `cargo bench -p reseau-core --bench adder`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reseau_core::adder::pickle::PickleSummer;
use reseau_core::adder::{AdderSession, Format, RequestEncoder};
use reseau_core::frame::encode_header;
use reseau_core::session::StreamSession;

/// The payload for `1..=n` in `format`.
fn payload(n: u32, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    let ints = (1..=n).map(i128::from);
    let _ = RequestEncoder::encode_all(format, ints, |b| out.extend_from_slice(b));
    out
}

fn sum_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("sum_request");
    for n in [10u32, 1000, 100_000] {
        let pickle = payload(n, Format::Pickle);
        let native = payload(n, Format::Native);
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("reseau_pickle", n), &pickle, |b, p| {
            b.iter(|| {
                let mut summer = PickleSummer::new();
                summer.feed(black_box(p)).unwrap_or_default();
                summer.finish()
            })
        });
        group.bench_with_input(BenchmarkId::new("serde_pickle_vec", n), &pickle, |b, p| {
            b.iter(|| {
                let ints: Vec<i64> =
                    serde_pickle::from_slice(black_box(p), Default::default()).unwrap_or_default();
                ints.iter().try_fold(0i64, |a, v| a.checked_add(*v))
            })
        });
        let mut framed = encode_header(native.len() as u32).to_vec();
        framed.extend_from_slice(&native);
        group.bench_with_input(
            BenchmarkId::new("reseau_native_session", n),
            &framed,
            |b, f| {
                b.iter(|| {
                    let mut session = AdderSession::default();
                    let used = session.handle_input(black_box(f));
                    let mut out = [0u8; 32];
                    (used, session.poll_transmit(&mut out))
                })
            },
        );
        for (name, src) in [("memcpy_pickle", &pickle), ("memcpy_native", &framed)] {
            group.throughput(Throughput::Bytes(src.len() as u64));
            let mut dst = vec![0u8; src.len()];
            group.bench_with_input(BenchmarkId::new(name, n), src, |b, s| {
                b.iter(|| {
                    dst.copy_from_slice(black_box(s));
                    black_box(&mut dst);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, sum_request);
criterion_main!(benches);
