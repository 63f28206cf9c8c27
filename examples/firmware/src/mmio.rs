//! Reads and writes of memory-mapped registers. With the stack's painting
//! (`stack.rs`), the only `unsafe` of this firmware.
//!
//! Every address passed here is a register of the LM3S6965's data sheet
//! (or of the Cortex-M3's), 4-byte aligned, and always mapped: reading or
//! writing it has no effect on memory that Rust owns.

/// Reads the 32-bit register at `address`.
#[inline(always)]
pub fn read(address: usize) -> u32 {
    // SAFETY: see the module: a mapped, aligned device register, never
    // memory that Rust owns.
    unsafe { core::ptr::read_volatile(address as *const u32) }
}

/// Writes `value` to the 32-bit register at `address`.
#[inline(always)]
pub fn write(address: usize, value: u32) {
    // SAFETY: as for `read`.
    unsafe { core::ptr::write_volatile(address as *mut u32, value) }
}
