//! The LM3S6965's Ethernet controller as a smoltcp [`Device`].
//!
//! The controller has a MAC and a PHY on chip and no DMA: frames go
//! through two FIFOs, a 32-bit word at a time, through one data register.
//! Register offsets and bits are those of the LM3S6965 data sheet
//! (Ethernet Controller chapter, "Register Descriptions"), as QEMU's
//! `stellaris_enet` model implements them.
//!
//! - **Receive.** `MACNP` counts the frames waiting. The first word of a
//!   frame holds its length in its low 16 bits (the length counts those 2
//!   bytes, the frame and its 4-byte FCS), then the frame's first two
//!   bytes; the frame follows, then the FCS, in `ceil(length / 4)` words.
//! - **Transmit.** The first word holds the frame's *data* length (the
//!   frame without its 14-byte Ethernet header) in its low 16 bits, then
//!   the destination address's first two bytes; the rest of the frame
//!   follows; writing `NEWTX` to `MACTR` sends it. The controller pads
//!   short frames and appends the FCS.
//!
//! Each direction copies a frame once, between the FIFO and a buffer of
//! [`MAX_FRAME`] bytes that smoltcp reads or writes.

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

use crate::mmio;

const BASE: usize = 0x4004_8000;
/// Raw interrupt status (read) and acknowledge (write).
const RIS: usize = BASE;
/// Interrupt mask: 0, the loop polls (SysTick ends each WFI).
const IM: usize = BASE + 0x04;
/// Receive control.
const RCTL: usize = BASE + 0x08;
const RCTL_RXEN: u32 = 0x01;
const RCTL_BADCRC: u32 = 0x08;
const RCTL_RSTFIFO: u32 = 0x10;
/// Transmit control.
const TCTL: usize = BASE + 0x0c;
const TCTL_TXEN: u32 = 0x01;
const TCTL_PADEN: u32 = 0x02;
const TCTL_CRC: u32 = 0x04;
const TCTL_DUPLEX: u32 = 0x08;
/// The data register: both FIFOs.
const DATA: usize = BASE + 0x10;
/// The MAC address: bytes 0 to 3, then 4 and 5.
const IA0: usize = BASE + 0x14;
const IA1: usize = BASE + 0x18;
/// Transmit threshold: 0x3f, send only on `NEWTX`.
const THR: usize = BASE + 0x1c;
const THR_OFF: u32 = 0x3f;
/// Frames waiting in the receive FIFO.
const NP: usize = BASE + 0x34;
/// Transmission request: `NEWTX` stays set until the frame is sent.
const TR: usize = BASE + 0x38;
const TR_NEWTX: u32 = 0x01;
/// The receive FIFO overflowed: frames were lost.
const RIS_FOV: u32 = 0x08;

/// The longest Ethernet frame, without its FCS: 14 bytes of header and a
/// 1500-byte payload. smoltcp is told so ([`DeviceCapabilities`]).
pub const MAX_FRAME: usize = 1514;
const HEADER: usize = 14;

/// The two frame buffers: a `static` of the firmware, so that they count
/// in its RAM figures, not on the stack.
pub struct Buffers {
    rx: [u8; MAX_FRAME],
    tx: [u8; MAX_FRAME],
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers::new()
    }
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Buffers {
        Buffers {
            rx: [0; MAX_FRAME],
            tx: [0; MAX_FRAME],
        }
    }
}

/// The Ethernet controller, running.
pub struct Ethernet {
    buffers: &'static mut Buffers,
}

impl Ethernet {
    /// Empties the receive FIFO and turns the receiver and transmitter on
    /// (padding, FCS appended, full duplex). The MAC address is the one in
    /// `MACIA0`/`MACIA1`: QEMU's `-nic ...,mac=`; on a real board, write
    /// yours there first (TI's boards keep it in the flash's user
    /// registers).
    pub fn new(buffers: &'static mut Buffers) -> Ethernet {
        mmio::write(IM, 0);
        mmio::write(RCTL, RCTL_RSTFIFO);
        mmio::write(THR, THR_OFF);
        mmio::write(TCTL, TCTL_TXEN | TCTL_PADEN | TCTL_CRC | TCTL_DUPLEX);
        // Frames with a bad FCS are dropped by the controller.
        mmio::write(RCTL, RCTL_RXEN | RCTL_BADCRC);
        Ethernet { buffers }
    }

    /// The controller's MAC address.
    pub fn mac_address(&self) -> EthernetAddress {
        let [a, b, c, d] = mmio::read(IA0).to_le_bytes();
        let [e, f, _, _] = mmio::read(IA1).to_le_bytes();
        EthernetAddress([a, b, c, d, e, f])
    }

    /// Whether a received frame waits in the FIFO.
    pub fn frames_waiting(&self) -> bool {
        mmio::read(NP) != 0
    }

    /// Reads the next frame out of the FIFO into the receive buffer;
    /// returns its length, or `None` if it cannot be an Ethernet frame
    /// (it is read out and dropped).
    fn read_frame(&mut self) -> Option<usize> {
        unpack_frame(|| mmio::read(DATA), &mut self.buffers.rx)
    }
}

/// Takes one received frame out of the FIFO, a word at a time from
/// `next_word`, into `buf`: returns the frame's length (without its length
/// bytes and FCS), or `None` when that length cannot be an Ethernet frame
/// (under 14 bytes or over [`MAX_FRAME`]). Either way, every word of the
/// frame is taken, `ceil(length field / 4)` in all (at least one), so that
/// the next frame starts where it should.
pub fn unpack_frame(
    mut next_word: impl FnMut() -> u32,
    buf: &mut [u8; MAX_FRAME],
) -> Option<usize> {
    let [len_low, len_high, byte0, byte1] = next_word().to_le_bytes();
    // Length bytes, frame, FCS.
    let total = usize::from(u16::from_le_bytes([len_low, len_high]));
    let words = total.div_ceil(4);
    let frame_len = total.saturating_sub(2 + 4);
    let [first, second, ..] = buf;
    *first = byte0;
    *second = byte1;
    let mut at = 2;
    for _ in 1..words {
        let word = next_word().to_le_bytes();
        // Past the buffer, the words of a frame too long are read and
        // dropped.
        for (slot, byte) in buf.iter_mut().skip(at).zip(word) {
            *slot = byte;
        }
        at += 4;
    }
    (HEADER..=MAX_FRAME)
        .contains(&frame_len)
        .then_some(frame_len)
}

/// A received frame, in the receive buffer.
pub struct Rx<'a>(&'a [u8]);

/// Room for a frame to send, in the transmit buffer.
pub struct Tx<'a>(&'a mut [u8; MAX_FRAME]);

impl RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        // smoltcp never asks for more than the MTU it was given.
        let len = len.clamp(HEADER, MAX_FRAME);
        let frame = self.0.get_mut(..len).unwrap_or_default();
        let result = f(frame);
        let frame = self.0.get(..len).unwrap_or_default();
        // Data length and the first two bytes, then 4 bytes at a time
        // (the last word padded with zeros).
        let data_len = (len - HEADER) as u32;
        let [byte0, byte1] = [frame.first(), frame.get(1)].map(|b| u32::from(*b.unwrap_or(&0)));
        mmio::write(DATA, data_len | byte0 << 16 | byte1 << 24);
        for chunk in frame.get(2..).unwrap_or_default().chunks(4) {
            let mut word = [0u8; 4];
            if let Some(slot) = word.get_mut(..chunk.len()) {
                slot.copy_from_slice(chunk);
            }
            mmio::write(DATA, u32::from_le_bytes(word));
        }
        mmio::write(TR, TR_NEWTX);
        result
    }
}

impl Device for Ethernet {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        // Frames lost to a full receive FIFO are gone: TCP resends them.
        if mmio::read(RIS) & RIS_FOV != 0 {
            mmio::write(RIS, RIS_FOV);
        }
        // The previous frame must be out before the answer goes in.
        if !self.frames_waiting() || mmio::read(TR) & TR_NEWTX != 0 {
            return None;
        }
        let len = self.read_frame()?;
        let Buffers { rx, tx } = &mut *self.buffers;
        Some((Rx(rx.get(..len).unwrap_or_default()), Tx(tx)))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        if mmio::read(TR) & TR_NEWTX != 0 {
            return None;
        }
        Some(Tx(&mut self.buffers.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        // One frame at a time: the transmit FIFO holds one.
        caps.max_burst_size = Some(1);
        caps
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::{MAX_FRAME, unpack_frame};

    /// The FIFO's words for a received frame, as the controller (and QEMU)
    /// writes them: 2 length bytes (frame + 6), the frame, a 4-byte FCS,
    /// zero-padded to whole words.
    fn fifo(frame: &[u8]) -> Vec<u32> {
        let total = frame.len() + 6;
        let mut bytes = Vec::from((total as u16).to_le_bytes());
        bytes.extend_from_slice(frame);
        bytes.extend_from_slice(&[0xaa; 4]);
        bytes.resize(total.div_ceil(4) * 4, 0);
        bytes
            .chunks(4)
            .map(|word| u32::from_le_bytes(word.try_into().unwrap()))
            .collect()
    }

    fn unpack(words: &[u32], buf: &mut [u8; MAX_FRAME]) -> (Option<usize>, usize) {
        let mut taken = 0;
        let len = unpack_frame(
            || {
                taken += 1;
                words.get(taken - 1).copied().unwrap_or(0xdead_beef)
            },
            buf,
        );
        (len, taken)
    }

    #[test]
    fn frames_of_every_length_come_out_whole() {
        let mut buf = [0; MAX_FRAME];
        for len in 14..=MAX_FRAME {
            let frame: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let words = fifo(&frame);
            assert_eq!(unpack(&words, &mut buf), (Some(len), words.len()), "{len}");
            assert_eq!(&buf[..len], &frame[..], "{len}");
        }
    }

    #[test]
    fn a_frame_too_short_or_too_long_is_read_out_and_dropped() {
        let mut buf = [0; MAX_FRAME];
        for len in [0, 1, 13, MAX_FRAME + 1, 2000] {
            let words = fifo(&std::vec![0x55; len]);
            assert_eq!(unpack(&words, &mut buf), (None, words.len()), "{len}");
        }
    }
}
