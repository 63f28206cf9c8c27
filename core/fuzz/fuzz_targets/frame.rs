//! The frame decoder (4-byte little-endian length, then the payload), on
//! any bytes cut anywhere: the same frames and the same error as the whole
//! input, each frame's payload exactly as long as its header says, and the
//! frames re-encoded give back the bytes the decoder took.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::frame::{self, FrameDecoder, FrameError, Item};
use reseau_core_fuzz::{pieces, split_input};

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Start(u32),
    /// The payload's bytes, however many `Data` items carried them.
    Data(Vec<u8>),
    End,
    Error(FrameError),
}

/// Feeds `pieces` one after another, as a socket would; returns what the
/// decoder reported and how many bytes it took.
fn decode(max: u32, pieces: &[&[u8]]) -> (Vec<Seen>, usize) {
    let mut decoder = FrameDecoder::new(max);
    let mut seen = Vec::new();
    let mut used = 0;
    for piece in pieces {
        let mut rest = *piece;
        loop {
            match decoder.decode(rest) {
                Err(error) => {
                    // The first error is final: every later call repeats it.
                    assert_eq!(decoder.decode(b"x"), Err(error));
                    seen.push(Seen::Error(error));
                    return (seen, used);
                }
                Ok((n, item)) => {
                    assert!(n <= rest.len());
                    used += n;
                    rest = &rest[n..];
                    match item {
                        None => {
                            assert!(rest.is_empty(), "the decoder stopped with input left");
                            break;
                        }
                        Some(Item::Start { len }) => seen.push(Seen::Start(len)),
                        Some(Item::Data(data)) => {
                            assert!(!data.is_empty());
                            match seen.last_mut() {
                                Some(Seen::Data(bytes)) => bytes.extend_from_slice(data),
                                _ => seen.push(Seen::Data(data.to_vec())),
                            }
                        }
                        Some(Item::End) => seen.push(Seen::End),
                    }
                }
            }
        }
    }
    (seen, used)
}

fuzz_target!(|data: &[u8]| {
    let (cuts, rest) = split_input(data);
    let Some((&which, stream)) = rest.split_first() else {
        return;
    };
    let max = [0, 1, 16, 255, 4096, u32::MAX][usize::from(which) % 6];
    let (seen, used) = decode(max, &[stream]);
    let (split_seen, split_used) = decode(max, &pieces(stream, &cuts));
    assert_eq!(seen, split_seen, "the frames depend on the cuts");

    // Re-encode what was seen: the input's first bytes, in order.
    let mut encoded = Vec::new();
    let mut open: Option<(u32, usize)> = None;
    let mut failed = false;
    for item in &seen {
        match item {
            Seen::Start(len) => {
                assert!(*len <= max);
                assert!(open.is_none(), "Start inside a frame");
                encoded.extend_from_slice(&frame::encode_header(*len));
                open = Some((*len, 0));
            }
            Seen::Data(bytes) => {
                encoded.extend_from_slice(bytes);
                let (_, have) = open.as_mut().expect("Data outside a frame");
                *have += bytes.len();
            }
            Seen::End => {
                let (len, have) = open.take().expect("End without Start");
                assert_eq!(len as usize, have, "a frame's payload is not its length");
            }
            Seen::Error(FrameError::TooLarge { len, max: limit }) => {
                assert_eq!((*limit, *len > max), (max, true));
                encoded.extend_from_slice(&frame::encode_header(*len));
                failed = true;
            }
        }
    }
    assert_eq!(&stream[..encoded.len()], &encoded[..]);
    if !failed {
        // Without an error every byte is taken: the frames, then at most
        // a partial header, or a partial payload.
        assert_eq!((used, split_used), (stream.len(), stream.len()));
        let left = stream.len() - encoded.len();
        assert!(if open.is_some() {
            left == 0
        } else {
            left < frame::HEADER_LEN
        });
    }
});
