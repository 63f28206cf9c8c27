//! The adder's server session (pickle and native requests, one or many per
//! connection), on any bytes cut anywhere and read back in any step: the
//! same events and the same output bytes as the whole input read at once,
//! and the session always finishes once the peer closes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::adder::{AdderConfig, AdderSession, Error, Event, Format, native};
use reseau_core::session::StreamSession;
use reseau_core_fuzz::{pieces, split_input};

/// Drives a session as reseau's event loop does: input in `pieces` (what
/// it does not take is kept and offered again), events and output drained
/// after each call, output read `out_step` bytes at a time, then the end
/// of stream.
fn drive(config: AdderConfig, pieces: &[&[u8]], out_step: usize) -> (Vec<u8>, Vec<Event>, usize) {
    let mut session = AdderSession::new(config);
    let (mut output, mut events) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; out_step];
    let mut pending: Vec<u8> = Vec::new();
    let mut taken = 0;
    let mut next = pieces.iter();
    let mut eof = false;
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    // Each round takes input, sends output, or reaches the end: bounded.
    for _ in 0..(total + 8) * 8 + 64 {
        if pending.is_empty() && !eof {
            match next.next() {
                Some(piece) => pending.extend_from_slice(piece),
                None => {
                    session.handle_eof();
                    eof = true;
                }
            }
        }
        let used = session.handle_input(&pending);
        assert!(used <= pending.len());
        taken += used;
        pending.drain(..used);
        while let Some(event) = session.poll_event() {
            events.push(event);
        }
        loop {
            let n = session.poll_transmit(&mut buf);
            output.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
        if session.is_finished() {
            return (output, events, taken);
        }
        if eof && used == 0 {
            // The peer closed and nothing is left to answer.
            panic!("the session does not finish after the end of stream");
        }
    }
    panic!("the session neither takes input nor finishes");
}

fuzz_target!(|data: &[u8]| {
    let (cuts, rest) = split_input(data);
    let Some((&settings, stream)) = rest.split_first() else {
        return;
    };
    let config = AdderConfig {
        max_frame: [16, 255, 4096, 1 << 20][usize::from(settings & 3)],
        keep_alive: settings & 4 != 0,
    };
    let out_step = usize::from(settings >> 3) + 1;
    let mut whole = drive(config, &[stream], 64);
    let mut split = drive(config, &pieces(stream, &cuts), out_step);
    if let Some(Event::Rejected(error)) = whole.1.last() {
        if error.is_fatal() {
            // How far into the refused request the session read before
            // it stopped depends on the cuts (a payload piece is taken
            // whole, a refused header is not counted); the connection
            // closes and drops the rest either way.
            (whole.2, split.2) = (0, 0);
        }
    }
    assert_eq!(whole, split, "the session's answer depends on the cuts");

    // What each event promises about the output: 4 raw bytes for a pickle
    // sum, a framed native reply (4 + 3 to 13 bytes) for a native request.
    let (output, events, _) = whole;
    let (mut least, mut most) = (0, 0);
    for event in &events {
        match *event {
            Event::Answered {
                format: Format::Pickle,
                sum,
                ..
            } => {
                assert!(u32::try_from(sum).is_ok());
                least += 4;
                most += 4;
            }
            Event::Answered {
                format: Format::Native,
                ..
            }
            | Event::Rejected(Error::Native(_)) => {
                least += 4 + 3;
                most += 4 + native::MAX_REPLY_PAYLOAD;
            }
            Event::Rejected(error) => {
                assert!(error.is_fatal());
                assert!(!error.to_string().is_empty());
            }
        }
    }
    assert!(
        (least..=most).contains(&output.len()),
        "{} bytes for {events:?}",
        output.len()
    );
    // A fatal error, if any, is the last event: the session stops there.
    if let Some(position) = events
        .iter()
        .position(|e| matches!(e, Event::Rejected(e) if e.is_fatal()))
    {
        assert_eq!(position, events.len() - 1);
    }
});
