//! The client's reply decoder (4 raw bytes for pickle, a framed native
//! reply), on any bytes cut anywhere: the same replies and errors as the
//! whole input; and any reply the server encodes decodes back to itself.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use reseau_core::adder::native::{self, ErrorCode, Reply};
use reseau_core::adder::{Format, ReplyDecoder, ReplyError};
use reseau_core::frame;
use reseau_core::writer::Writer;
use reseau_core_fuzz::{pieces, split_input};

fn decode(format: Format, pieces: &[&[u8]]) -> Vec<Result<Reply, ReplyError>> {
    let mut decoder = ReplyDecoder::new(format);
    let mut replies = Vec::new();
    for piece in pieces {
        let mut rest = *piece;
        loop {
            let (n, reply) = decoder.decode(rest);
            assert!(n <= rest.len());
            rest = &rest[n..];
            match reply {
                Some(Err(error)) => {
                    replies.push(Err(error));
                    return replies;
                }
                Some(Ok(reply)) => replies.push(Ok(reply)),
                None => {
                    assert!(rest.is_empty(), "the decoder stopped with input left");
                    break;
                }
            }
        }
    }
    replies
}

fn any_reply(u: &mut Unstructured<'_>) -> arbitrary::Result<Reply> {
    Ok(if bool::arbitrary(u)? {
        Reply::Sum(i64::arbitrary(u)?)
    } else {
        Reply::Error(*u.choose(&[
            ErrorCode::Malformed,
            ErrorCode::Overflow,
            ErrorCode::Version,
        ])?)
    })
}

fuzz_target!(|data: &[u8]| {
    let (cuts, rest) = split_input(data);
    for format in [Format::Pickle, Format::Native] {
        let whole = decode(format, &[rest]);
        assert_eq!(decode(format, &pieces(rest, &cuts)), whole, "{format}");
        if format == Format::Pickle {
            assert_eq!(whole.len(), rest.len() / 4);
        }
    }

    // Replies encoded as the server does, one after another, cut anywhere.
    let mut u = Unstructured::new(rest);
    let mut stream = Vec::new();
    let mut sent = Vec::new();
    while let Ok(reply) = any_reply(&mut u) {
        if u.is_empty() || sent.len() == 64 {
            break;
        }
        let mut payload = [0u8; native::MAX_REPLY_PAYLOAD];
        let mut w = Writer::new(&mut payload);
        native::encode_reply(reply, &mut w);
        assert!(!w.overflowed());
        stream.extend_from_slice(&frame::encode_header(w.len() as u32));
        stream.extend_from_slice(w.written());
        sent.push(Ok(reply));
    }
    assert_eq!(decode(Format::Native, &pieces(&stream, &cuts)), sent);
    let sums: Vec<u8> = sent
        .iter()
        .filter_map(|r| match r {
            Ok(Reply::Sum(s)) => u32::try_from(*s).ok(),
            _ => None,
        })
        .flat_map(u32::to_le_bytes)
        .collect();
    let expected: Vec<_> = sums
        .chunks(4)
        .map(|c| {
            Ok(Reply::Sum(i64::from(u32::from_le_bytes(
                c.try_into().unwrap(),
            ))))
        })
        .collect();
    assert_eq!(decode(Format::Pickle, &pieces(&sums, &cuts)), expected);
});
