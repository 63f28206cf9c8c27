//! The time smoltcp needs (retransmissions, delayed ACKs, keep-alives,
//! TIME_WAIT): SysTick interrupts once a millisecond and counts.
//!
//! Sessions never read it: the loop reads it once per round and passes it
//! to `Interface::poll`, as the core's design asks.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use smoltcp::time::Instant;

/// The core's clock: the LM3S6965's 12 MHz internal oscillator at reset
/// (QEMU's lm3s6965evb runs SysTick at this rate too).
pub const CORE_HZ: u32 = 12_000_000;

/// Milliseconds since start, wrapping after 49 days.
static TICKS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Milliseconds since [`Clock::start`], without wrapping.
pub struct Clock {
    last: u32,
    wraps: u64,
}

impl Clock {
    /// Starts SysTick: an interrupt every millisecond. It also ends each
    /// `WFI` of the main loop at the latest a millisecond later.
    pub fn start(mut syst: SYST) -> Clock {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CORE_HZ / 1000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Clock { last: 0, wraps: 0 }
    }

    /// The time now. Call it at least once every 49 days.
    pub fn now(&mut self) -> Instant {
        let ticks = TICKS.load(Ordering::Relaxed);
        if ticks < self.last {
            self.wraps += 1;
        }
        self.last = ticks;
        let millis = (self.wraps << 32) | u64::from(ticks);
        Instant::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
    }
}
