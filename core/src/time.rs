//! Time as an input: the [`Instant`] a driver passes to sessions.
//!
//! Nothing in the core reads a clock. A driver reads its own (std's
//! `Instant`, smoltcp's, a microcontroller's timer) and passes the time
//! in, as milliseconds since an origin it picks; sessions compare
//! instants and add [`Duration`]s, and never ask what time it is.
//!
//! ```
//! use core::time::Duration;
//! use reseau_core::time::Instant;
//!
//! let start = Instant::from_millis(1_000);
//! let later = start + Duration::from_secs(2);
//! assert_eq!(later.millis(), 3_000);
//! assert_eq!(later.saturating_duration_since(start), Duration::from_secs(2));
//! assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
//! ```

pub use core::time::Duration;

/// A point in time, in milliseconds since the driver's origin.
///
/// Milliseconds are fine enough for every rule that needs time (timeouts
/// of seconds) and are what smoltcp counts in; a `u64` of them lasts
/// 584 million years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    millis: u64,
}

impl Instant {
    /// The driver's origin.
    pub const ZERO: Instant = Instant { millis: 0 };

    /// `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant { millis }
    }

    /// Milliseconds since the origin.
    pub const fn millis(self) -> u64 {
        self.millis
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.millis.saturating_sub(earlier.millis))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the end of time rather than wrapping or panicking.
    fn add(self, duration: Duration) -> Instant {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Instant {
            millis: self.millis.saturating_add(millis),
        }
    }
}
