//! The firmware's reading of a received frame out of the Ethernet
//! controller's FIFO (`examples/firmware`, `stellaris::unpack_frame`), on
//! any FIFO contents: it takes exactly the words the length field says (at
//! least one), so the next frame starts where it should; it returns a
//! length exactly when the field describes an Ethernet frame (14 to 1,514
//! bytes once the 2 length bytes and the 4-byte FCS are off), and then the
//! buffer holds the frame's bytes as the FIFO carried them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_firmware::stellaris::{MAX_FRAME, unpack_frame};

fuzz_target!(|data: &[u8]| {
    // The FIFO: the input's bytes, then zeros.
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut taken = 0usize;
    let mut buf = [0u8; MAX_FRAME];
    let len = unpack_frame(
        || {
            let at = taken * 4;
            taken += 1;
            u32::from_le_bytes([byte(at), byte(at + 1), byte(at + 2), byte(at + 3)])
        },
        &mut buf,
    );
    let total = usize::from(u16::from_le_bytes([byte(0), byte(1)]));
    assert_eq!(
        taken,
        total.div_ceil(4).max(1),
        "words taken for a length field of {total}"
    );
    let frame_len = total.saturating_sub(6);
    if (14..=MAX_FRAME).contains(&frame_len) {
        assert_eq!(len, Some(frame_len));
        for (i, &got) in buf.iter().take(frame_len).enumerate() {
            assert_eq!(got, byte(2 + i), "byte {i} of the frame");
        }
    } else {
        assert_eq!(len, None, "a length field of {total}");
    }
});
