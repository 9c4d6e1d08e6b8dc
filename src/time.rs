//! Device time, at the bottom of the crate (it depends on nothing here): an [`Instant`] is a
//! point in UTC device time, a [`Duration`] a length of it, both in whole milliseconds, kept
//! as distinct types so a deadline cannot be passed where a timeout is meant.
//!
//! Arithmetic saturates: device time ends at [`Instant::MAX`] instead of wrapping, and a
//! deadline that would fall after it is `Instant::MAX` (never reached by a tick that must
//! move time forward). Differences of instants are durations and may be negative only when
//! asked for with [`Instant::since`] on an earlier instant; [`Instant::elapsed_since`] clamps
//! at zero.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

/// A point in device time: milliseconds since the Unix epoch, UTC.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Instant(i64);

/// A length of device time in milliseconds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Duration(i64);

impl Instant {
    /// The end of device time.
    pub const MAX: Instant = Instant(i64::MAX);
    /// The beginning of device time (before any real instant).
    pub const MIN: Instant = Instant(i64::MIN);
    /// The Unix epoch.
    pub const EPOCH: Instant = Instant(0);

    pub const fn from_epoch_ms(epoch_ms: i64) -> Instant {
        Instant(epoch_ms)
    }

    pub const fn epoch_ms(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (what Unix timestamps in payloads hold).
    pub const fn epoch_secs(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// `self - earlier`, negative when `earlier` is later; saturating.
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// How long after `earlier` this is, zero when it is not after it.
    pub fn elapsed_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0).max(0))
    }

    /// `self + d`, saturating at the ends of device time.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// `self - d`, saturating at the ends of device time.
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const MAX: Duration = Duration(i64::MAX);

    pub const fn from_ms(ms: i64) -> Duration {
        Duration(ms)
    }

    pub const fn from_secs(s: i64) -> Duration {
        Duration(s.saturating_mul(1_000))
    }

    pub const fn as_ms(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// A std duration (negative lengths are zero).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }

    pub const fn saturating_add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }

    pub const fn saturating_mul(self, k: i64) -> Duration {
        Duration(self.0.saturating_mul(k))
    }
}

/// `epoch_ms` after the epoch: short for `Instant::from_epoch_ms` in tables and tests.
pub const fn at(epoch_ms: i64) -> Instant {
    Instant::from_epoch_ms(epoch_ms)
}

/// `v` milliseconds: short for `Duration::from_ms` in tables and tests.
pub const fn ms(v: i64) -> Duration {
    Duration::from_ms(v)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.since(earlier)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        self.saturating_add(d)
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, d: Duration) -> Duration {
        Duration(self.0.saturating_sub(d.0))
    }
}

impl Mul<i64> for Duration {
    type Output = Duration;
    fn mul(self, k: i64) -> Duration {
        self.saturating_mul(k)
    }
}

impl Mul<Duration> for i64 {
    type Output = Duration;
    fn mul(self, d: Duration) -> Duration {
        d.saturating_mul(self)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

impl fmt::Display for Instant {
    /// ISO 8601 UTC with milliseconds (`2026-12-03T23:40:00.000Z`); the raw number outside
    /// the calendar's range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp_millis(self.0) {
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            None => write!(f, "{} ms after the epoch", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_at_the_ends_of_device_time() {
        assert_eq!(Instant::MAX + Duration::from_ms(1), Instant::MAX);
        assert_eq!(Instant::MIN - Duration::from_ms(1), Instant::MIN);
        assert_eq!(Instant::MAX - Instant::MIN, Duration::MAX);
        let t = Instant::from_epoch_ms(10_000);
        assert_eq!((t + Duration::from_secs(2)).epoch_ms(), 12_000);
        assert_eq!(t.since(t + Duration::from_ms(5)), Duration::from_ms(-5));
        assert_eq!(t.elapsed_since(t + Duration::from_ms(5)), Duration::ZERO);
        assert_eq!(Duration::from_ms(-1).to_std(), std::time::Duration::ZERO);
        assert_eq!(Duration::from_ms(-1).as_secs(), -1);
    }

    #[test]
    fn shows_as_utc_and_serialises_as_a_plain_number() {
        let t = Instant::from_epoch_ms(1_764_805_200_123);
        assert_eq!(t.to_string(), "2025-12-03T23:40:00.123Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "1764805200123");
        assert_eq!(Duration::from_ms(1500).to_string(), "1500 ms");
        assert_eq!(
            Instant::MAX.to_string(),
            "9223372036854775807 ms after the epoch"
        );
    }
}
