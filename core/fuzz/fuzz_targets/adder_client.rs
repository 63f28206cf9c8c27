//! The adder's client session on any reply bytes, cut anywhere, after any
//! number of pipelined requests in either format: the same outcomes as
//! the whole input; after end of stream, one outcome for every request
//! (and at most one more, for bytes no request asked for); and any payload
//! sent through any room goes out as exactly its frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::adder::client::{AdderClient, MAX_IN_FLIGHT, Outcome};
use reseau_core::adder::native;
use reseau_core::frame;
use reseau_core_fuzz::{pieces, split_input};

/// Starts a request of `payload` and sends it through `room` bytes at a
/// time; returns the bytes sent.
fn send(client: &mut AdderClient, payload: &[u8], room: usize) -> Vec<u8> {
    client.start(payload.len() as u64).unwrap();
    let mut out = vec![0u8; room];
    let mut sent = Vec::new();
    let mut taken = 0;
    while client.is_sending() {
        let t = client.poll_transmit(&payload[taken..], &mut out);
        assert!(t.written > 0, "a sending client wrote nothing");
        assert!(t.taken <= payload.len() - taken && t.written <= room);
        taken += t.taken;
        sent.extend_from_slice(&out[..t.written]);
    }
    assert_eq!(taken, payload.len());
    sent
}

/// Starts `formats.len()` requests (payloads of one byte, `MAGIC` for a
/// native one), then feeds `pieces` and end of stream.
fn receive(natives: &[bool], pieces: &[&[u8]]) -> Vec<Outcome> {
    let mut client = AdderClient::new();
    for &native in natives {
        let first = if native { native::MAGIC } else { 0x80 };
        send(&mut client, &[first], 3);
    }
    assert_eq!(client.in_flight(), natives.len());
    let mut outcomes = Vec::new();
    for piece in pieces {
        let took = client.handle_input(piece);
        assert!(took <= piece.len());
        assert!(took == piece.len() || client.is_finished());
        outcomes.extend(std::iter::from_fn(|| client.poll_outcome()));
    }
    client.handle_eof();
    outcomes.extend(std::iter::from_fn(|| client.poll_outcome()));
    assert!(client.is_finished());
    assert_eq!(client.in_flight(), 0);
    outcomes
}

fuzz_target!(|data: &[u8]| {
    let (cuts, rest) = split_input(data);
    let Some((&control, rest)) = rest.split_first() else {
        return;
    };
    // Exactly the frame goes out, through any room.
    let room = usize::from(control) + 1;
    let mut client = AdderClient::new();
    let mut frame_bytes = frame::encode_header(rest.len() as u32).to_vec();
    frame_bytes.extend_from_slice(rest);
    assert_eq!(send(&mut client, rest, room), frame_bytes);

    // Reply bytes cut anywhere: the outcomes of the whole input.
    let count = usize::from(control) % (MAX_IN_FLIGHT + 1);
    let natives: Vec<bool> = (0..count)
        .map(|i| cuts.len() > i % 8 && cuts[i % 8] % 2 == 1)
        .collect();
    let whole = receive(&natives, &[rest]);
    assert_eq!(receive(&natives, &pieces(rest, &cuts)), whole);
    // One outcome per request, plus one for bytes nobody asked for.
    assert!(whole.len() == count || whole.len() == count + 1);
    if whole.len() == count + 1 {
        assert_eq!(whole.last(), Some(&Outcome::MalformedReply));
    }
    // Only the last outcomes may be fatal, all for the same reason.
    if let Some(first_fatal) = whole.iter().position(Outcome::is_fatal) {
        assert!(whole[first_fatal..].iter().all(Outcome::is_fatal));
    }
});
