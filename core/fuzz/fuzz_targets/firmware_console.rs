//! The firmware's console lines (`examples/firmware`,
//! `console::LineReader`), on any bytes typed: the lines it gives are the
//! input's lines (ended by `\n` or `\r`, empty ones skipped), each whole;
//! a line longer than the buffer is reported as too long, never cut into a
//! shorter one; an unfinished last line gives nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_firmware::console::{Line, LineReader};

/// A small buffer, so that long lines are common.
const N: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::<N>::new();
    let mut got = Vec::new();
    for &byte in data {
        match reader.push(byte) {
            Line::Partial => {}
            Line::Complete(line) => got.push(Some(line.to_vec())),
            Line::TooLong => got.push(None),
        }
    }
    // The same, from the input's lines.
    let mut want = Vec::new();
    let mut segments: Vec<&[u8]> = data.split(|&b| b == b'\n' || b == b'\r').collect();
    // The part after the last line end is not a line yet.
    segments.pop();
    for line in segments {
        if line.is_empty() {
            continue;
        }
        want.push((line.len() <= N).then(|| line.to_vec()));
    }
    assert_eq!(got, want);
});
