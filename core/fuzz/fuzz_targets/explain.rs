//! The explainer (`reseau explain`, the traces) on any bytes cut anywhere:
//! its rows cover every byte once, in order, each with its own first
//! bytes; what it says does not depend on the cuts; its verdicts are the
//! events of a server session fed the same stream; and the ints its rows
//! show (read opcode by opcode) are the ints the session summed (read by
//! its fast paths): same count, same exact sum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::adder::explain::{Field, HEAD, Item, ReplyExplainer, RequestExplainer};
use reseau_core::adder::pickle::Argument;
use reseau_core::adder::{AdderConfig, AdderSession, Error, Event};
use reseau_core::session::StreamSession;
use reseau_core_fuzz::{exact_sum, pieces, split_input};

fn explain(config: AdderConfig, reply: bool, pieces: &[&[u8]]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut take = |item| items.push(item);
    if reply {
        let whole: Vec<u8> = pieces.concat();
        let mut explainer = ReplyExplainer::for_input(&whole);
        for piece in pieces {
            explainer.feed(piece, &mut take);
        }
        explainer.finish(&mut take);
    } else {
        let mut explainer = RequestExplainer::new(config);
        for piece in pieces {
            explainer.feed(piece, &mut take);
        }
        explainer.finish(&mut take);
    }
    items
}

/// The events of a keep-alive session fed `stream`, then its end.
fn session_events(config: AdderConfig, stream: &[u8]) -> Vec<Event> {
    let mut session = AdderSession::new(AdderConfig {
        keep_alive: true,
        ..config
    });
    let mut events = Vec::new();
    let mut rest = stream;
    let mut out = [0u8; 64];
    for _ in 0..stream.len() + 8 {
        let used = session.handle_input(rest);
        rest = &rest[used..];
        while let Some(event) = session.poll_event() {
            events.push(event);
        }
        while session.poll_transmit(&mut out) > 0 {}
        // A session with its output drained takes more: when it takes
        // nothing, it has finished.
        if rest.is_empty() || session.is_finished() {
            break;
        }
    }
    if !session.is_finished() {
        session.handle_eof();
        while let Some(event) = session.poll_event() {
            events.push(event);
        }
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let (cuts, rest) = split_input(data);
    let Some((&settings, stream)) = rest.split_first() else {
        return;
    };
    let config = AdderConfig {
        max_frame: [16, 255, 4096, 1 << 20][usize::from(settings & 3)],
        keep_alive: false,
    };
    let reply = settings & 4 != 0;
    let whole = explain(config, reply, &[stream]);
    let split = explain(config, reply, &pieces(stream, &cuts));
    assert_eq!(whole, split, "the explanation depends on the cuts");

    // Every byte in exactly one row, in order, with its own first bytes.
    let mut next = 0u64;
    for item in &whole {
        if let Item::Row(row) = item {
            assert_eq!(row.offset, next);
            assert!(row.len > 0);
            let start = row.offset as usize;
            let end = start + (row.len as usize).min(HEAD);
            assert_eq!(row.head.as_slice(), &stream[start..end]);
            next += row.len;
        }
    }
    assert_eq!(next, stream.len() as u64);
    if reply {
        assert!(whole.iter().all(|item| matches!(item, Item::Row(_))));
        return;
    }

    // The verdicts are the session's events, in order.
    let verdicts: Vec<Event> = whole
        .iter()
        .filter_map(|item| match item {
            Item::Verdict(v) => Some(v.event),
            Item::Row(_) => None,
        })
        .collect();
    assert_eq!(verdicts, session_events(config, stream));

    // The ints shown between two verdicts are the ones the session summed.
    let mut ints: Vec<i128> = Vec::new();
    for item in &whole {
        match item {
            Item::Row(row) => match row.field {
                Field::Pickle {
                    argument: Argument::Int(value),
                    ..
                } => ints.push(value),
                Field::Int { value, .. } => ints.push(i128::from(value)),
                Field::Length(_) => ints.clear(),
                _ => {}
            },
            Item::Verdict(verdict) => {
                match verdict.event {
                    Event::Answered {
                        ints: count, sum, ..
                    } => {
                        assert_eq!(count, ints.len() as u64);
                        assert_eq!(exact_sum(&ints), Some(i128::from(sum)));
                    }
                    Event::Rejected(Error::OutOfRange { sum }) => {
                        assert_eq!(exact_sum(&ints), Some(sum));
                    }
                    Event::Rejected(_) => {}
                }
                ints.clear();
            }
        }
    }
});
