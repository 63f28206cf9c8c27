//! The pickle decoder and summer, on any bytes cut anywhere: the same sum
//! or the same error as the whole input; the streaming sum is the exact sum
//! of the ints the decoder hands out one by one (or an overflow exactly
//! when that sum leaves 128 bits); an accepted list re-encoded by the
//! encoder sums the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::adder::pickle::{PickleDecoder, PickleError, PickleSummer};
use reseau_core::adder::{Format, RequestEncoder};
use reseau_core_fuzz::{exact_sum, pieces, split_input};

fn sum(pieces: &[&[u8]]) -> (Result<i128, PickleError>, u64) {
    let mut summer = PickleSummer::new();
    let mut result = Ok(());
    for piece in pieces {
        result = result.and_then(|()| summer.feed(piece));
    }
    (result.and_then(|()| summer.finish()), summer.count())
}

fuzz_target!(|data: &[u8]| {
    let (cuts, payload) = split_input(data);
    let pieces = pieces(payload, &cuts);
    let whole = sum(&[payload]);
    assert_eq!(sum(&pieces), whole, "the result depends on the cuts");

    let mut ints = Vec::new();
    let mut decoder = PickleDecoder::new();
    let mut result = Ok(());
    for piece in &pieces {
        result = result.and_then(|()| {
            decoder.feed(piece, |value| {
                ints.push(value);
                Ok(())
            })
        });
    }
    let decoded = result.and_then(|()| decoder.finish());
    assert_eq!(decoder.count(), ints.len() as u64);
    match (whole.0, decoded) {
        (Ok(total), Ok(())) => {
            assert_eq!(exact_sum(&ints), Some(total));
            assert_eq!(whole.1, ints.len() as u64);
            // What the encoder writes for these ints sums the same.
            let mut again = Vec::new();
            RequestEncoder::encode_all(Format::Pickle, ints.iter().copied(), |b| {
                again.extend_from_slice(b)
            })
            .expect("a pickle carries any i128");
            assert_eq!(sum(&[&again]).0, Ok(total));
        }
        (Err(PickleError::Overflow), Ok(())) => assert_eq!(exact_sum(&ints), None),
        (Err(error), Err(same)) => assert_eq!(error, same),
        (summed, decoded) => panic!("summer {summed:?}, decoder {decoded:?}"),
    }
    if let Err(error) = whole.0 {
        // Every message is there, and names what it must.
        let message = error.to_string();
        assert!(!message.is_empty());
    }
});
