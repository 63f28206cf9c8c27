//! The request encoders: any list of ints, encoded through `push` or
//! through `push_i64s` in any calls and writer sizes, gives the same bytes,
//! which decode back to the same ints; a frame header decodes to its
//! length; an int the native format cannot carry is refused by name.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reseau_core::adder::native::NativeDecoder;
use reseau_core::adder::pickle::PickleDecoder;
use reseau_core::adder::{EncodeError, Format, RequestEncoder};
use reseau_core::frame::{self, FrameDecoder, Item};
use reseau_core::writer::Writer;
use reseau_core_fuzz::{exact_sum, pieces};

#[derive(Debug, Arbitrary)]
struct Input {
    ints: Vec<i128>,
    small: Vec<i64>,
    cuts: Vec<u16>,
    room: u16,
    native: bool,
    header: u32,
}

fn encode(format: Format, ints: &[i128]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    RequestEncoder::encode_all(format, ints.iter().copied(), |b| out.extend_from_slice(b))?;
    Ok(out)
}

fn decode(format: Format, payload: &[u8], cuts: &[usize]) -> Vec<i128> {
    let mut ints = Vec::new();
    match format {
        Format::Pickle => {
            let mut decoder = PickleDecoder::new();
            for piece in pieces(payload, cuts) {
                decoder
                    .feed(piece, |v| {
                        ints.push(v);
                        Ok(())
                    })
                    .expect("the encoder's pickle is refused");
            }
            decoder
                .finish()
                .expect("the encoder's pickle is incomplete");
        }
        Format::Native => {
            let mut decoder = NativeDecoder::new();
            for piece in pieces(payload, cuts) {
                decoder.feed(piece, |v| ints.push(i128::from(v)));
            }
            decoder
                .finish()
                .expect("the encoder's native payload is refused");
        }
    }
    ints
}

fuzz_target!(|input: Input| {
    let cuts: Vec<usize> = input.cuts.iter().map(|&c| usize::from(c)).collect();
    let format = if input.native {
        Format::Native
    } else {
        Format::Pickle
    };

    // Any i128 list: pickle carries it; native carries it if every int is an i64.
    match encode(format, &input.ints) {
        Ok(payload) => {
            assert_eq!(decode(format, &payload, &cuts), input.ints);
            assert_eq!(Format::of_first_byte(payload[0]), format);
        }
        Err(EncodeError { value }) => {
            assert_eq!(format, Format::Native);
            assert!(i64::try_from(value).is_err());
            let first = input.ints.iter().find(|v| i64::try_from(**v).is_err());
            assert_eq!(first, Some(&value));
        }
    }
    if format == Format::Pickle {
        let payload = encode(format, &input.ints).expect("pickle carries any i128");
        let mut summer = reseau_core::adder::pickle::PickleSummer::new();
        for piece in pieces(&payload, &cuts) {
            summer.feed(piece).expect("the encoder's pickle is refused");
        }
        let total = summer.finish().ok();
        assert_eq!(total, exact_sum(&input.ints));
    }

    // push_i64s, in slices cut anywhere, into writers of any size (at
    // least MAX_WRITE), writes what push writes one int at a time.
    let wide: Vec<i128> = input.small.iter().map(|&v| i128::from(v)).collect();
    let expected = encode(format, &wide).expect("i64s fit both formats");
    let room = usize::from(input.room) % 512 + RequestEncoder::MAX_WRITE;
    let mut chunk = vec![0u8; room];
    let mut encoder = RequestEncoder::new(format);
    let mut got = Vec::new();
    let mut w = Writer::new(&mut chunk);
    encoder.begin(&mut w);
    got.extend_from_slice(w.written());
    for slice in pieces_of(&input.small, &cuts) {
        let mut rest = slice;
        while !rest.is_empty() {
            let mut w = Writer::new(&mut chunk);
            let n = encoder.push_i64s(rest, &mut w);
            assert!(!w.overflowed());
            assert!(n > 0, "an empty writer of {room} bytes took no int");
            got.extend_from_slice(w.written());
            rest = &rest[n..];
        }
    }
    let mut w = Writer::new(&mut chunk);
    encoder.finish(&mut w);
    got.extend_from_slice(w.written());
    assert_eq!(got, expected);
    assert_eq!(decode(format, &got, &cuts), wide);

    // A frame header decodes to its length (or is refused over the limit).
    let header = frame::encode_header(input.header);
    let mut decoder = FrameDecoder::new(frame::DEFAULT_MAX_FRAME);
    match decoder.decode(&header) {
        Ok((4, Some(Item::Start { len }))) => assert_eq!(len, input.header),
        Err(_) => assert!(input.header > frame::DEFAULT_MAX_FRAME),
        other => panic!("{other:?}"),
    }
});

/// `items` cut at `cuts`, like `pieces` for bytes.
fn pieces_of<'a>(items: &'a [i64], cuts: &[usize]) -> Vec<&'a [i64]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (items.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for to in at.into_iter().chain([items.len()]) {
        out.push(&items[from..to]);
        from = to;
    }
    out
}
