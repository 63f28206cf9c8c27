//! Session tests with no network: whole streams fed in every chunking,
//! tiny output buffers, pipelining, and property tests that split,
//! truncate and mutate valid streams.

extern crate std;

use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::frame::encode_header;

/// A whole request frame for `ints` in `format`.
fn request(ints: &[i128], format: Format) -> Vec<u8> {
    let mut payload = Vec::new();
    RequestEncoder::encode_all(format, ints.iter().copied(), |b| {
        payload.extend_from_slice(b)
    })
    .unwrap();
    let mut frame = encode_header(payload.len() as u32).to_vec();
    frame.extend_from_slice(&payload);
    frame
}

/// Drives a session over `stream`, offering it `step` bytes at a time and
/// draining output `out_step` bytes at a time. Returns the output and the
/// events.
fn drive(
    session: &mut AdderSession,
    stream: &[u8],
    step: usize,
    out_step: usize,
) -> (Vec<u8>, Vec<Event>) {
    let mut output = Vec::new();
    let mut events = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunks = stream.chunks(step.max(1));
    let mut buf = std::vec![0u8; out_step.max(1)];
    // Every iteration either takes input, emits output, or ends: bounded.
    for _ in 0..(stream.len() * 4 + 64) {
        if pending.is_empty() {
            match chunks.next() {
                Some(chunk) => pending.extend_from_slice(chunk),
                None => {
                    session.handle_eof();
                }
            }
        }
        let used = session.handle_input(&pending);
        pending.drain(..used);
        while let Some(event) = session.poll_event() {
            events.push(event);
        }
        let n = session.poll_transmit(&mut buf);
        output.extend_from_slice(&buf[..n]);
        if session.is_finished() {
            break;
        }
    }
    assert!(session.is_finished(), "session never finished");
    (output, events)
}

/// Several pickle requests per connection (`--keep-alive`).
const KEEP_ALIVE: AdderConfig = AdderConfig {
    max_frame: frame::DEFAULT_MAX_FRAME,
    keep_alive: true,
};

fn pickle_reply(sum: u32) -> [u8; 4] {
    sum.to_le_bytes()
}

fn native_reply(reply: Reply) -> Vec<u8> {
    let mut payload = [0u8; native::MAX_REPLY_PAYLOAD];
    let mut w = Writer::new(&mut payload);
    native::encode_reply(reply, &mut w);
    let mut frame = encode_header(w.len() as u32).to_vec();
    frame.extend_from_slice(w.written());
    frame
}

#[test]
fn pipelined_requests_in_both_formats_any_chunking() {
    let mut stream = request(&[1, 2, 3], Format::Pickle);
    stream.extend(request(&[-5, 1 << 40], Format::Native));
    stream.extend(request(&[], Format::Pickle));
    stream.extend(request(&[i64::MAX.into(), 1], Format::Native));
    stream.extend(request(&[7], Format::Native));
    let mut expected = pickle_reply(6).to_vec();
    expected.extend(native_reply(Reply::Sum((1 << 40) - 5)));
    expected.extend(pickle_reply(0));
    expected.extend(native_reply(Reply::Error(ErrorCode::Overflow)));
    expected.extend(native_reply(Reply::Sum(7)));
    for step in [1, 2, 3, 5, 7, 64, stream.len()] {
        for out_step in [1, 3, 64] {
            let mut session = AdderSession::new(KEEP_ALIVE);
            let (output, events) = drive(&mut session, &stream, step, out_step);
            assert_eq!(output, expected, "step {step} out {out_step}");
            assert_eq!(events.len(), 5);
            assert_eq!(
                events[3],
                Event::Rejected(Error::Native(ErrorCode::Overflow))
            );
        }
    }
}

#[test]
fn out_of_range_pickle_sum_closes_after_earlier_replies() {
    let mut stream = request(&[4], Format::Pickle);
    stream.extend(request(&[-1], Format::Pickle));
    stream.extend(request(&[1], Format::Pickle));
    let mut session = AdderSession::new(KEEP_ALIVE);
    let (output, events) = drive(&mut session, &stream, 1, 1);
    assert_eq!(output, pickle_reply(4));
    assert_eq!(
        events.last(),
        Some(&Event::Rejected(Error::OutOfRange { sum: -1 }))
    );
    let mut session = AdderSession::default();
    let (output, _) = drive(
        &mut session,
        &request(&[u32::MAX.into(), 1], Format::Pickle),
        9,
        9,
    );
    assert!(output.is_empty());
}

#[test]
fn the_server_closes_first_after_one_pickle_request() {
    // The course's protocol: one request, its reply, and the server is
    // done; what the client sent after its request is not taken.
    let mut stream = request(&[1, 2, 3], Format::Pickle);
    let first = stream.len();
    stream.extend(request(&[4], Format::Pickle));
    for step in [1, 5, stream.len()] {
        let mut session = AdderSession::default();
        let mut taken = 0;
        let mut out = std::vec![0u8; 16];
        let mut sent = Vec::new();
        for chunk in stream.chunks(step) {
            if session.is_finished() {
                break;
            }
            taken += session.handle_input(chunk);
            let n = session.poll_transmit(&mut out);
            sent.extend_from_slice(&out[..n]);
        }
        assert!(session.is_finished(), "step {step}");
        assert_eq!(taken, first, "step {step}");
        assert_eq!(sent, pickle_reply(6), "step {step}");
        assert_eq!(
            session.poll_event(),
            Some(Event::Answered {
                format: Format::Pickle,
                ints: 3,
                sum: 6
            })
        );
        assert_eq!(session.poll_event(), None);
    }
}

#[test]
fn native_requests_keep_the_connection_without_keep_alive() {
    let mut stream = request(&[1, 2], Format::Native);
    stream.extend(request(&[3], Format::Native));
    let mut session = AdderSession::default();
    assert_eq!(session.handle_input(&stream), stream.len());
    assert!(!session.is_finished());
    let mut out = [0u8; 64];
    let n = session.poll_transmit(&mut out);
    let mut expected = native_reply(Reply::Sum(3));
    expected.extend(native_reply(Reply::Sum(3)));
    assert_eq!(&out[..n], &expected[..]);
    assert!(!session.is_finished());
    // A pickle request after them is the connection's last.
    let pickle = request(&[5], Format::Pickle);
    assert_eq!(session.handle_input(&pickle), pickle.len());
    assert_eq!(session.poll_transmit(&mut out), 4);
    assert!(session.is_finished());
}

#[test]
fn u32_max_is_the_largest_pickle_sum() {
    let mut session = AdderSession::default();
    let (output, _) = drive(
        &mut session,
        &request(&[u32::MAX.into()], Format::Pickle),
        100,
        100,
    );
    assert_eq!(output, pickle_reply(u32::MAX));
}

#[test]
fn oversized_frame_is_refused_from_its_header() {
    let mut session = AdderSession::new(AdderConfig {
        max_frame: 16,
        keep_alive: false,
    });
    session.handle_input(&encode_header(17));
    assert_eq!(
        session.poll_event(),
        Some(Event::Rejected(Error::Frame(FrameError::TooLarge {
            len: 17,
            max: 16
        })))
    );
    assert!(session.is_finished());
    assert_eq!(session.handle_input(b"more"), 0);
}

#[test]
fn eof_inside_a_frame_is_truncation() {
    let stream = request(&[1, 2], Format::Pickle);
    let mut session = AdderSession::default();
    let (output, events) = drive(&mut session, &stream[..stream.len() - 1], 4, 4);
    assert!(output.is_empty());
    assert_eq!(events, [Event::Rejected(Error::Truncated)]);
}

#[test]
fn hostile_pickle_closes_without_reply() {
    // pickle.dumps of an object whose __reduce__ returns (os.system, ('touch x',))
    let payload = b"\x80\x04\x95#\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x07touch x\x94\x85\x94R\x94.";
    let mut stream = encode_header(payload.len() as u32).to_vec();
    stream.extend_from_slice(payload);
    let mut session = AdderSession::default();
    let (output, events) = drive(&mut session, &stream, 1000, 100);
    assert!(output.is_empty());
    assert_eq!(
        events,
        [Event::Rejected(Error::Pickle(PickleError::Forbidden {
            opcode: 0x8c,
            offset: 11
        }))]
    );
}

#[test]
fn a_peer_that_never_reads_is_not_buffered() {
    // 1000 pipelined requests, and nobody drains the output.
    let one = request(&[1], Format::Native);
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    let mut session = AdderSession::default();
    let mut used = 0;
    for _ in 0..1000 {
        let n = session.handle_input(&stream[used..]);
        used += n;
        while session.poll_event().is_some() {}
        if n == 0 {
            break;
        }
    }
    // The session stopped taking input once its output buffer was full.
    assert!(used < stream.len());
    assert!(used <= one.len() * (OUT_CAP / 6 + 1));
    // Draining the output lets it go on.
    let mut buf = [0u8; 1024];
    assert!(session.poll_transmit(&mut buf) > 0);
    assert!(session.handle_input(&stream[used..]) > 0);
}

#[test]
fn ten_million_ints_in_constant_memory() {
    // Streamed straight from the encoder into the session, 4 KiB at a time:
    // nothing holds the request but the session's fixed state.
    let n: i128 = 10_000_000;
    let mut encoder = RequestEncoder::new(Format::Pickle);
    let mut payload_len = 0u64;
    let mut chunk = [0u8; RequestEncoder::MAX_WRITE];
    // First pass: the length, for the header.
    let mut count = |w: &Writer<'_>| payload_len += w.len() as u64;
    let mut w = Writer::new(&mut chunk);
    encoder.begin(&mut w);
    count(&w);
    for value in 1..=n {
        let mut w = Writer::new(&mut chunk);
        encoder.push(value % 100, &mut w).unwrap();
        count(&w);
    }
    let mut w = Writer::new(&mut chunk);
    encoder.finish(&mut w);
    count(&w);

    let mut session = AdderSession::default();
    assert_eq!(session.handle_input(&encode_header(payload_len as u32)), 4);
    let mut encoder = RequestEncoder::new(Format::Pickle);
    let mut buf = Vec::with_capacity(4096 + RequestEncoder::MAX_WRITE);
    let mut feed = |bytes: &[u8], flush: bool, session: &mut AdderSession| {
        buf.extend_from_slice(bytes);
        if flush || buf.len() >= 4096 {
            assert_eq!(session.handle_input(&buf), buf.len());
            buf.clear();
        }
    };
    let mut w = Writer::new(&mut chunk);
    encoder.begin(&mut w);
    feed(w.written(), false, &mut session);
    for value in 1..=n {
        let mut w = Writer::new(&mut chunk);
        encoder.push(value % 100, &mut w).unwrap();
        feed(w.written(), false, &mut session);
    }
    let mut w = Writer::new(&mut chunk);
    encoder.finish(&mut w);
    feed(w.written(), true, &mut session);
    let expected = (0..100).sum::<i64>() * 100_000;
    assert_eq!(
        session.poll_event(),
        Some(Event::Answered {
            format: Format::Pickle,
            ints: 10_000_000,
            sum: expected
        })
    );
    // What the documentation of AdderSession promises.
    assert!(core::mem::size_of::<AdderSession>() <= 432);
}

#[test]
fn reply_decoder_reads_both_formats() {
    let mut decoder = ReplyDecoder::new(Format::Native);
    let mut stream = native_reply(Reply::Sum(-9));
    stream.extend(native_reply(Reply::Error(ErrorCode::Malformed)));
    let mut replies = Vec::new();
    for byte in &stream {
        let (used, reply) = decoder.decode(core::slice::from_ref(byte));
        assert_eq!(used, 1);
        replies.extend(reply);
    }
    assert_eq!(
        replies,
        [Ok(Reply::Sum(-9)), Ok(Reply::Error(ErrorCode::Malformed))]
    );
    assert!(decoder.is_idle());
    let mut decoder = ReplyDecoder::new(Format::Native);
    assert_eq!(
        decoder.decode(&encode_header(1000)).1,
        Some(Err(ReplyError::Malformed))
    );
}

#[test]
fn encoder_refuses_ints_native_cannot_carry() {
    let mut chunk = [0u8; RequestEncoder::MAX_WRITE];
    let mut w = Writer::new(&mut chunk);
    let mut encoder = RequestEncoder::new(Format::Native);
    assert_eq!(
        encoder.push(i128::from(i64::MAX) + 1, &mut w),
        Err(EncodeError {
            value: i128::from(i64::MAX) + 1
        })
    );
}

fn int_strategy() -> impl Strategy<Value = i128> {
    prop_oneof![
        0i128..300,
        -70_000i128..70_000,
        any::<i32>().prop_map(i128::from),
        any::<i64>().prop_map(i128::from),
        (-(1i128 << 100))..(1i128 << 100),
    ]
}

fn requests_strategy() -> impl Strategy<Value = Vec<(Vec<i128>, Format)>> {
    prop::collection::vec(
        (
            prop::collection::vec(int_strategy(), 0..40),
            prop_oneof![Just(Format::Pickle), Just(Format::Native)],
        ),
        1..5,
    )
}

/// What the session must answer to one request.
fn expected_reply(ints: &[i128], format: Format) -> Option<Vec<u8>> {
    let sum: i128 = ints.iter().sum();
    match format {
        Format::Pickle => u32::try_from(sum).ok().map(|s| pickle_reply(s).to_vec()),
        Format::Native => Some(native_reply(match i64::try_from(sum) {
            Ok(sum) => Reply::Sum(sum),
            Err(_) => Reply::Error(ErrorCode::Overflow),
        })),
    }
}

/// The exact sum of `ints` if it fits in an `i128`, computed apart from
/// the code under test: each int split into a high and a low 64 bits,
/// summed in two `i128`s that cannot overflow for these list lengths.
fn exact_model(ints: &[i128]) -> Option<i128> {
    let (mut high, mut low) = (0i128, 0i128);
    for v in ints {
        high += v >> 64;
        low += v & i128::from(u64::MAX);
    }
    high += low >> 64;
    let low = low & i128::from(u64::MAX);
    let high = i64::try_from(high).ok()?;
    Some((i128::from(high) << 64) | low)
}

/// Lists of mostly small ints (CPython's BININT runs) with pairs `x, -x`
/// of wide ints slipped in: the totals mostly fit while partial sums leave
/// 128 bits; and now and then one more wide int, so that some do not fit.
fn exact_sum_lists() -> impl Strategy<Value = Vec<i128>> {
    let wide = prop_oneof![Just(i128::MAX), Just(-i128::MAX), (1i128 << 100)..i128::MAX];
    // Segments of mixed ints, and runs of ints that share an opcode
    // (BININT1, BININT2, BININT), which the summer reads a group at a time.
    let segment = prop_oneof![
        prop::collection::vec(int_strategy(), 0..200),
        prop::collection::vec(0i128..256, 0..100),
        prop::collection::vec(256i128..65_536, 0..100),
        prop::collection::vec(any::<i32>().prop_map(i128::from), 0..100),
    ];
    (
        prop::collection::vec(segment, 0..12).prop_map(|s| s.concat()),
        prop::collection::vec(
            (
                wide,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
            ),
            0..6,
        ),
        prop::option::weighted(0.2, any::<i128>()),
    )
        .prop_map(|(mut ints, pairs, extra)| {
            for (x, at, minus_at) in pairs {
                ints.insert(at.index(ints.len() + 1), x);
                ints.insert(minus_at.index(ints.len() + 1), -x);
            }
            ints.extend(extra);
            ints
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The summer (with its run loop that sums in an i64) and the decoder
    /// that visits each int agree with a model of the exact sum, for any
    /// list, any protocol-2 payload cut anywhere: partial sums may leave
    /// 128 bits, only the total must fit.
    #[test]
    fn summer_decoder_and_model_agree(
        ints in exact_sum_lists(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut payload = Vec::new();
        RequestEncoder::encode_all(Format::Pickle, ints.iter().copied(), |b| {
            payload.extend_from_slice(b)
        })
        .unwrap();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
        cuts.sort_unstable();
        let mut summer = pickle::PickleSummer::new();
        let mut decoder = pickle::PickleDecoder::new();
        let mut seen = Vec::new();
        let mut from = 0;
        for to in cuts.into_iter().chain([payload.len()]) {
            summer.feed(&payload[from..to]).unwrap();
            decoder
                .feed(&payload[from..to], |v| {
                    seen.push(v);
                    Ok(())
                })
                .unwrap();
            from = to;
        }
        let expected = exact_model(&ints).ok_or(PickleError::Overflow);
        prop_assert_eq!(summer.finish(), expected);
        prop_assert_eq!(summer.count(), ints.len() as u64);
        prop_assert_eq!(decoder.finish(), Ok(()));
        prop_assert_eq!(seen, ints);
    }

    /// Any chunking of any valid stream gives the replies a model predicts;
    /// the first request the course format cannot answer ends the stream.
    #[test]
    fn valid_streams_split_anywhere(
        requests in requests_strategy(),
        step in 1usize..50,
        out_step in 1usize..20,
        keep_alive in any::<bool>(),
    ) {
        let mut requests = requests;
        for (ints, format) in &mut requests {
            if *format == Format::Native {
                ints.retain(|v| i64::try_from(*v).is_ok());
            }
        }
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        let mut closed = false;
        for (ints, format) in &requests {
            stream.extend(request(ints, *format));
            if !closed {
                match expected_reply(ints, *format) {
                    Some(reply) => expected.extend(reply),
                    None => closed = true,
                }
                // Without keep-alive a pickle request is the last one.
                closed |= *format == Format::Pickle && !keep_alive;
            }
        }
        let mut session = AdderSession::new(AdderConfig { keep_alive, ..AdderConfig::default() });
        let (output, _) = drive(&mut session, &stream, step, out_step);
        prop_assert_eq!(output, expected);
    }

    /// Truncating a valid stream never panics, and never answers the
    /// truncated request.
    #[test]
    fn truncated_streams(requests in requests_strategy(), cut in any::<prop::sample::Index>()) {
        let mut stream = Vec::new();
        for (ints, format) in &requests {
            let ints: Vec<i128> = ints.iter().copied().filter(|v| i64::try_from(*v).is_ok()).collect();
            stream.extend(request(&ints, *format));
        }
        let cut = cut.index(stream.len());
        let mut session = AdderSession::default();
        let (_, events) = drive(&mut session, &stream[..cut], 7, 5);
        if session.in_request() {
            prop_assert!(matches!(events.last(), Some(Event::Rejected(_))));
        }
    }

    /// Mutated streams and random bytes never panic, and the session always
    /// finishes once the peer closes.
    #[test]
    fn mutated_streams(
        requests in requests_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        step in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for (ints, format) in &requests {
            let ints: Vec<i128> = ints.iter().copied().filter(|v| i64::try_from(*v).is_ok()).collect();
            stream.extend(request(&ints, *format));
        }
        for (index, byte) in flips {
            let i = index.index(stream.len());
            stream[i] = byte;
        }
        let mut session = AdderSession::new(AdderConfig { max_frame: 4096, keep_alive: true });
        drive(&mut session, &stream, step, 16);
    }

    /// The client side is total too: any bytes from a server, in any
    /// chunking, give replies or errors, never a panic or a lost byte.
    #[test]
    fn reply_decoder_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        step in 1usize..16,
        native in any::<bool>(),
    ) {
        let format = if native { Format::Native } else { Format::Pickle };
        let mut decoder = ReplyDecoder::new(format);
        for chunk in bytes.chunks(step) {
            let mut rest = chunk;
            // Each call takes at least one byte or gives a reply.
            for _ in 0..=chunk.len() * 2 {
                if rest.is_empty() {
                    break;
                }
                let (used, reply) = decoder.decode(rest);
                prop_assert!(used <= rest.len());
                rest = &rest[used..];
                if matches!(reply, Some(Err(_))) {
                    break;
                }
            }
        }
    }

    /// The frame decoder hands out exactly the bytes it was given, in
    /// order, however they are cut.
    #[test]
    fn frame_decoder_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), step in 1usize..32) {
        let mut decoder = crate::frame::FrameDecoder::new(64);
        let mut used_total = 0;
        'outer: for chunk in bytes.chunks(step) {
            let mut rest = chunk;
            loop {
                match decoder.decode(rest) {
                    Err(_) => break 'outer,
                    Ok((used, item)) => {
                        used_total += used;
                        rest = &rest[used..];
                        if item.is_none() {
                            prop_assert!(rest.is_empty());
                            break;
                        }
                    }
                }
            }
        }
        prop_assert!(used_total <= bytes.len());
    }

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), step in 1usize..64) {
        let mut session = AdderSession::new(AdderConfig { max_frame: 4096, keep_alive: true });
        drive(&mut session, &bytes, step, 16);
        let mut summer = pickle::PickleSummer::new();
        let _ = summer.feed(&bytes);
        let _ = summer.finish();
    }
}

/// Hex bytes as PROTOCOL.md writes them: `0c 00 00 00  80 02`.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The examples of PROTOCOL.md are what the session really does.
#[test]
fn protocol_md_examples() {
    let doc = include_str!("../../../PROTOCOL.md");
    // (request, reply, whether PROTOCOL.md shows the request bytes)
    let examples = [
        (
            "14 00 00 00  80 04 95 09 00 00 00 00 00 00 00 5d 94 28 4b 01 4b 02 65 2e",
            "03 00 00 00",
            true,
        ),
        (
            "0c 00 00 00  80 02 5d 71 00 28 4b 01 4b 02 65 2e",
            "03 00 00 00",
            true,
        ),
        (
            "0e 00 00 00  28 6c 70 30 0a 49 31 0a 61 49 32 0a 61 2e",
            "03 00 00 00",
            true,
        ),
        (
            "06 00 00 00  FE 01 02 03 D8 04",
            "05 00 00 00  FE 01 00 D6 04",
            true,
        ),
        (
            "0d 00 00 00 FE 01 FE FF FF FF FF FF FF FF FF 01 02",
            "04 00 00 00 FE 01 01 01",
            true,
        ),
        ("03 00 00 00 FE 01 0A", "04 00 00 00  FE 01 00 0A", false),
        ("03 00 00 00 FE 01 01", "04 00 00 00  FE 01 00 01", false),
        ("03 00 00 00 FE 01 80", "04 00 00 00  FE 01 01 00", false),
        ("03 00 00 00 FE 02 01", "04 00 00 00  FE 01 01 02", false),
    ];
    for (request, reply, shown) in examples {
        assert!(doc.contains(reply), "PROTOCOL.md lacks {reply:?}");
        if shown {
            assert!(doc.contains(request), "PROTOCOL.md lacks {request:?}");
        }
        let mut session = AdderSession::default();
        let (output, _) = drive(&mut session, &hex(request), 3, 5);
        assert_eq!(output, hex(reply), "request {request}");
    }
    // The diagram's spacing differs; check it too.
    for text in [
        "0d 00 00 00 FE 01 FE FF FF FF FF FF FF FF FF 01 02",
        "04 00 00 00 FE 01 01 01",
        "06 00 00 00 FE 01 02 03 D8 04",
        "05 00 00 00 FE 01 00 D6 04",
    ] {
        assert!(doc.contains(text), "PROTOCOL.md lacks {text:?}");
    }
}

/// Encodes `ints` through `push_i64s`, in slices cut at `cuts` (taken
/// modulo the length), into writers of `room` bytes, each flushed when the
/// encoder takes no more.
fn encode_i64s(format: Format, ints: &[i64], cuts: &[usize], room: usize) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut chunk = std::vec![0u8; room];
    let mut encoder = RequestEncoder::new(format);
    let mut w = Writer::new(&mut chunk);
    encoder.begin(&mut w);
    payload.extend_from_slice(w.written());
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (ints.len() + 1)).collect();
    cuts.push(ints.len());
    cuts.sort_unstable();
    let mut start = 0;
    for end in cuts {
        let mut rest = &ints[start..end];
        // Each round writes at least one int into an empty writer.
        while !rest.is_empty() {
            let mut w = Writer::new(&mut chunk);
            let n = encoder.push_i64s(rest, &mut w);
            assert!(!w.overflowed());
            assert!(n > 0, "an empty writer of {room} bytes took no int");
            payload.extend_from_slice(w.written());
            rest = &rest[n..];
        }
        start = end;
    }
    let mut w = Writer::new(&mut chunk);
    encoder.finish(&mut w);
    payload.extend_from_slice(w.written());
    payload
}

#[test]
fn push_i64s_writes_nothing_without_room() {
    let mut chunk = [0u8; RequestEncoder::MAX_WRITE - 1];
    for format in [Format::Pickle, Format::Native] {
        let mut encoder = RequestEncoder::new(format);
        let mut w = Writer::new(&mut chunk);
        // Native needs 10 bytes per int, pickle's first two ints 38.
        let n = encoder.push_i64s(&[1, 2, 3], &mut w);
        assert!(!w.overflowed());
        assert_eq!(n == 0, format == Format::Pickle);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `push_i64s`, cut into any calls and any writer sizes, writes the
    /// bytes `push` writes one int at a time, across MARK/APPENDS batches.
    #[test]
    fn push_i64s_is_push(
        ints in prop::collection::vec(
            prop_oneof![0i64..300, -70_000i64..70_000, any::<i32>().prop_map(i64::from), any::<i64>()],
            0..2600,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        room in RequestEncoder::MAX_WRITE..400,
        native in any::<bool>(),
    ) {
        let format = if native { Format::Native } else { Format::Pickle };
        let mut expected = Vec::new();
        RequestEncoder::encode_all(format, ints.iter().map(|&v| i128::from(v)), |b| {
            expected.extend_from_slice(b)
        })
        .unwrap();
        prop_assert_eq!(encode_i64s(format, &ints, &cuts, room), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A pickle payload, valid or mutated (bytes replaced, inserted,
    /// removed), gives the same sum or the same error however it is cut:
    /// a fuzz run once found a reason ("misplaced" or "trailing bytes")
    /// that depended on where TCP split the request.
    #[test]
    fn pickle_result_does_not_depend_on_cuts(
        ints in prop::collection::vec(int_strategy(), 0..40),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<u8>(), 0u8..3),
            0..4,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
    ) {
        let mut payload = Vec::new();
        RequestEncoder::encode_all(Format::Pickle, ints.iter().copied(), |b| {
            payload.extend_from_slice(b)
        })
        .unwrap();
        for (at, byte, kind) in edits {
            let i = at.index(payload.len());
            match kind {
                0 => payload[i] = byte,
                1 => payload.insert(i, byte),
                _ => {
                    payload.remove(i);
                }
            }
        }
        let whole = {
            let mut summer = pickle::PickleSummer::new();
            summer.feed(&payload).and_then(|()| summer.finish())
        };
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
        cuts.sort_unstable();
        let mut summer = pickle::PickleSummer::new();
        let mut from = 0;
        let mut result = Ok(());
        for to in cuts.into_iter().chain([payload.len()]) {
            result = result.and_then(|()| summer.feed(&payload[from..to]));
            from = to;
        }
        prop_assert_eq!(result.and_then(|()| summer.finish()), whole);
    }
}

// The client session.

use client::{AdderClient, MAX_IN_FLIGHT, Outcome, StartError};

/// The payload of `ints` in `format`.
fn payload(ints: &[i128], format: Format) -> Vec<u8> {
    let mut payload = Vec::new();
    RequestEncoder::encode_all(format, ints.iter().copied(), |b| {
        payload.extend_from_slice(b)
    })
    .unwrap();
    payload
}

/// Starts a request of `payload` and transmits it all, offering the
/// payload in pieces of `piece` bytes and draining into a buffer of `room`
/// bytes; returns the bytes transmitted.
fn transmit(client: &mut AdderClient, payload: &[u8], piece: usize, room: usize) -> Vec<u8> {
    client.start(payload.len() as u64).unwrap();
    let mut sent = Vec::new();
    let mut out = std::vec![0u8; room];
    let mut taken = 0;
    // Each call writes at least one byte while the request is sending and
    // `room` > 0: bounded by the frame's length.
    for _ in 0..=payload.len() + frame::HEADER_LEN {
        if !client.is_sending() {
            break;
        }
        let end = payload.len().min(taken + piece.max(1));
        let t = client.poll_transmit(&payload[taken..end], &mut out);
        assert!(t.taken <= end - taken && t.written <= room);
        taken += t.taken;
        sent.extend_from_slice(&out[..t.written]);
    }
    assert!(!client.is_sending(), "the request was not all transmitted");
    sent
}

/// Feeds `reply` to the client in pieces of `step` bytes, then end of
/// stream if `eof`; returns the outcomes.
fn receive(client: &mut AdderClient, reply: &[u8], step: usize, eof: bool) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for piece in reply.chunks(step.max(1)) {
        client.handle_input(piece);
        outcomes.extend(std::iter::from_fn(|| client.poll_outcome()));
    }
    if eof {
        client.handle_eof();
        outcomes.extend(std::iter::from_fn(|| client.poll_outcome()));
    }
    outcomes
}

#[test]
fn client_pickle_reply_in_every_split_is_the_sum() {
    let reply = pickle_reply(3);
    for step in 1..=4 {
        let mut client = AdderClient::new();
        transmit(&mut client, &payload(&[1, 2], Format::Pickle), 64, 64);
        assert_eq!(
            receive(&mut client, &reply, step, true),
            [Outcome::Sum(3)],
            "{step}"
        );
        assert!(client.is_finished());
    }
}

#[test]
fn client_native_reply_in_every_split_of_two_points() {
    let reply = native_reply(Reply::Sum(-7_000_000_000));
    for a in 0..=reply.len() {
        for b in a..=reply.len() {
            let mut client = AdderClient::new();
            transmit(
                &mut client,
                &payload(&[-7_000_000_000], Format::Native),
                3,
                5,
            );
            let mut outcomes = Vec::new();
            for piece in [&reply[..a], &reply[a..b], &reply[b..]] {
                assert_eq!(client.handle_input(piece), piece.len());
                outcomes.extend(std::iter::from_fn(|| client.poll_outcome()));
            }
            assert_eq!(outcomes, [Outcome::Sum(-7_000_000_000)], "{a} {b}");
            assert!(!client.is_finished());
        }
    }
}

#[test]
fn client_closed_before_the_reply() {
    let mut client = AdderClient::new();
    transmit(&mut client, &payload(&[1, 2], Format::Pickle), 64, 64);
    // Three of the four bytes of the reply, then the server's FIN.
    assert_eq!(
        receive(&mut client, &[3, 0, 0], 1, true),
        [Outcome::ClosedBeforeReply]
    );
    assert!(client.is_finished());
    assert_eq!(client.start(1), Err(StartError::Finished));
}

#[test]
fn client_closed_while_the_request_is_sent() {
    let mut client = AdderClient::new();
    let payload = payload(&[1, 2, 3], Format::Native);
    client.start(payload.len() as u64).unwrap();
    let mut out = [0u8; 6];
    let t = client.poll_transmit(&payload, &mut out);
    assert_eq!(t.written, 6);
    client.handle_eof();
    assert_eq!(client.poll_outcome(), Some(Outcome::ClosedBeforeReply));
    assert_eq!(client.poll_outcome(), None);
    assert!(!client.is_sending());
    assert_eq!(
        client.poll_transmit(&payload[t.taken..], &mut out),
        Default::default()
    );
}

#[test]
fn client_native_error_reply_keeps_the_connection() {
    let mut client = AdderClient::new();
    transmit(
        &mut client,
        &payload(&[i128::from(i64::MAX), 1], Format::Native),
        64,
        64,
    );
    let reply = native_reply(Reply::Error(ErrorCode::Overflow));
    assert_eq!(
        receive(&mut client, &reply, 1, false),
        [Outcome::Refused(ErrorCode::Overflow)]
    );
    assert!(!client.is_finished());
    transmit(&mut client, &payload(&[5], Format::Native), 64, 64);
    assert_eq!(
        receive(&mut client, &native_reply(Reply::Sum(5)), 64, false),
        [Outcome::Sum(5)]
    );
}

#[test]
fn client_two_requests_in_a_row_on_one_connection() {
    let mut client = AdderClient::new();
    for (ints, format) in [
        (&[1, 2][..], Format::Pickle),
        (&[-4, 1][..], Format::Native),
    ] {
        let frame = transmit(&mut client, &payload(ints, format), 5, 7);
        assert_eq!(frame, request(ints, format));
        // The server's reply to that frame.
        let (reply, _) = drive(&mut AdderSession::new(KEEP_ALIVE), &frame, 3, 2);
        let expected = ints.iter().sum::<i128>() as i64;
        assert_eq!(
            receive(&mut client, &reply, 2, false),
            [Outcome::Sum(expected)]
        );
    }
}

#[test]
fn client_pipelined_requests_get_their_outcomes_in_order() {
    let mut client = AdderClient::new();
    let mut frames = Vec::new();
    let mut replies = Vec::new();
    for i in 0..MAX_IN_FLIGHT as i128 {
        let format = if i % 2 == 0 {
            Format::Pickle
        } else {
            Format::Native
        };
        frames.extend(transmit(&mut client, &payload(&[i, 1], format), 64, 64));
        replies.extend(match format {
            Format::Pickle => pickle_reply(i as u32 + 1).to_vec(),
            Format::Native => native_reply(Reply::Sum(i as i64 + 1)),
        });
    }
    assert_eq!(client.in_flight(), MAX_IN_FLIGHT);
    assert_eq!(client.start(1), Err(StartError::Busy));
    let expected: Vec<_> = (0..MAX_IN_FLIGHT as i64)
        .map(|i| Outcome::Sum(i + 1))
        .collect();
    assert_eq!(receive(&mut client, &replies, 5, false), expected);
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn client_refuses_a_start_while_sending_and_an_oversized_payload() {
    let mut client = AdderClient::new();
    assert_eq!(
        client.start(u64::from(u32::MAX) + 1),
        Err(StartError::TooLarge {
            len: u64::from(u32::MAX) + 1
        })
    );
    client.start(3).unwrap();
    assert_eq!(client.start(3), Err(StartError::Busy));
}

#[test]
fn client_bytes_nobody_asked_for_are_malformed() {
    let mut client = AdderClient::new();
    assert_eq!(client.handle_input(&[0]), 0);
    assert_eq!(client.poll_outcome(), Some(Outcome::MalformedReply));
    assert!(client.is_finished());
    // A pickle reply followed by a stray byte.
    let mut client = AdderClient::new();
    transmit(&mut client, &payload(&[1], Format::Pickle), 64, 64);
    assert_eq!(
        receive(&mut client, &[1, 0, 0, 0, 9], 64, false),
        [Outcome::Sum(1), Outcome::MalformedReply]
    );
}

#[test]
fn client_malformed_native_reply_ends_the_connection() {
    let mut client = AdderClient::new();
    transmit(&mut client, &payload(&[1], Format::Native), 64, 64);
    // A frame over the reply's limit.
    assert_eq!(
        receive(&mut client, &encode_header(1000), 64, false),
        [Outcome::MalformedReply]
    );
    assert!(client.is_finished());
}

#[test]
fn client_empty_payload_waits_for_a_pickle_reply() {
    let mut client = AdderClient::new();
    assert_eq!(transmit(&mut client, &[], 1, 1), encode_header(0));
    // The server refuses an empty pickle and closes.
    assert_eq!(
        receive(&mut client, &[], 1, true),
        [Outcome::ClosedBeforeReply]
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    /// Exactly the frame's bytes go out, whatever the payload, the pieces
    /// it is offered in and the room to write into.
    #[test]
    fn client_transmits_exactly_the_frame(
        payload in prop::collection::vec(any::<u8>(), 0..600),
        piece in 1usize..700,
        room in 1usize..700,
    ) {
        let mut client = AdderClient::new();
        let sent = transmit(&mut client, &payload, piece, room);
        let mut frame = encode_header(payload.len() as u32).to_vec();
        frame.extend_from_slice(&payload);
        prop_assert_eq!(sent, frame);
        // Bytes past the announced length are never taken.
        let mut out = [0u8; 8];
        prop_assert_eq!(client.poll_transmit(&[1, 2, 3], &mut out), Default::default());
    }

    /// Any reply bytes, cut anywhere: the same outcomes as in one piece.
    #[test]
    fn client_outcomes_do_not_depend_on_cuts(
        native in any::<bool>(),
        reply in prop::collection::vec(any::<u8>(), 0..40),
        step in 1usize..16,
        eof in any::<bool>(),
    ) {
        let format = if native { Format::Native } else { Format::Pickle };
        let run = |step: usize| {
            let mut client = AdderClient::new();
            transmit(&mut client, &payload(&[1, 2], format), 64, 64);
            transmit(&mut client, &payload(&[3], format), 64, 64);
            receive(&mut client, &reply, step, eof)
        };
        let whole = run(reply.len().max(1));
        prop_assert!(whole.len() <= 3);
        prop_assert_eq!(run(step), whole);
    }
}

#[test]
fn client_size_is_what_core_readme_says() {
    // core/README.md's table of sizes (x86-64).
    assert!(core::mem::size_of::<AdderClient>() <= 408);
}
