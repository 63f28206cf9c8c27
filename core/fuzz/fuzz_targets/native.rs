//! The native decoder and summer, on any bytes cut anywhere: the same sum
//! or error as the whole input; the sum is that of the ints decoded one by
//! one (an overflow exactly when it leaves 64 bits); the ints re-encoded
//! decode back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::adder::native::{ErrorCode, NativeDecoder, NativeSummer};
use reseau_core::adder::{Format, RequestEncoder};
use reseau_core_fuzz::{exact_sum, pieces, split_input};

fn sum(pieces: &[&[u8]]) -> (Result<i64, ErrorCode>, u64) {
    let mut summer = NativeSummer::new();
    for piece in pieces {
        summer.feed(piece);
    }
    (summer.finish(), summer.count())
}

fn decode(pieces: &[&[u8]]) -> (Result<(), ErrorCode>, Vec<i64>) {
    let mut decoder = NativeDecoder::new();
    let mut ints = Vec::new();
    for piece in pieces {
        decoder.feed(piece, |value| ints.push(value));
    }
    assert_eq!(decoder.count(), ints.len() as u64);
    (decoder.finish(), ints)
}

fuzz_target!(|data: &[u8]| {
    let (cuts, payload) = split_input(data);
    let pieces = pieces(payload, &cuts);
    let whole = sum(&[payload]);
    assert_eq!(sum(&pieces), whole, "the result depends on the cuts");
    let (decoded, ints) = decode(&pieces);
    assert_eq!(decode(&[payload]), (decoded, ints.clone()));
    let wide: Vec<i128> = ints.iter().map(|&v| i128::from(v)).collect();
    match (whole.0, decoded) {
        (Ok(total), Ok(())) => {
            assert_eq!(exact_sum(&wide), Some(i128::from(total)));
            assert_eq!(whole.1, ints.len() as u64);
        }
        (Err(ErrorCode::Overflow), Ok(())) => {
            assert!(exact_sum(&wide).is_none_or(|s| i64::try_from(s).is_err()));
        }
        (Err(error), Err(same)) => assert_eq!(error, same),
        (summed, decoded) => panic!("summer {summed:?}, decoder {decoded:?}"),
    }
    if decoded.is_ok() {
        let mut again = Vec::new();
        RequestEncoder::encode_all(Format::Native, wide.iter().copied(), |b| {
            again.extend_from_slice(b)
        })
        .expect("every decoded int is an i64");
        assert_eq!(decode(&[&again]), (Ok(()), ints));
    }
});
