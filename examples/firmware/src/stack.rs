//! The stack's high-water mark, by painting: at start, every word between
//! the end of `.bss` and the stack pointer is filled with [`PAINT`]; the
//! stack grows down from the top of RAM over it, and the painted words
//! that remain were never reached. The test reads RAM through QEMU's
//! monitor (`pmemsave`) and finds the lowest word that changed; on a real
//! board a debugger's memory read does the same (`probe-rs read`).

use cortex_m::register::msp;

/// What an unused stack word holds.
pub const PAINT: u32 = 0xc5c5_c5c5;

unsafe extern "C" {
    /// The stack's lowest address: the end of `.bss` (cortex-m-rt's
    /// `link.x`).
    static _stack_end: u32;
}

/// Paints the free stack, up to 64 bytes below the current frame. Call it
/// first thing in `main`.
pub fn paint() {
    let bottom = (&raw const _stack_end) as usize;
    let top = (msp::read() as usize).saturating_sub(64);
    let mut at = bottom;
    while at < top {
        // SAFETY: between the end of `.bss` and the stack pointer, no
        // Rust object lives: this is the stack's free part, which no
        // reference points into.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}
