//! Time for the simulation: one `Clock` trait with a virtual clock (starts at a scenario's
//! date/time and moves only when advanced, so tests never sleep) and the system clock.
//! Times are UTC epoch milliseconds (`Millis`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// UTC Unix epoch time in milliseconds.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Millis;
}

/// A clock that moves only when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now: Arc<AtomicI64>,
}

impl VirtualClock {
    pub fn new(start: Millis) -> Self {
        VirtualClock {
            now: Arc::new(AtomicI64::new(start)),
        }
    }

    /// Move forward by `ms` (negative values are ignored: time never runs backwards).
    pub fn advance(&self, ms: i64) -> Millis {
        self.now.fetch_add(ms.max(0), Ordering::SeqCst) + ms.max(0)
    }

    /// Move to `t` if it is later than now; returns the new now.
    pub fn advance_to(&self, t: Millis) -> Millis {
        self.now.fetch_max(t, Ordering::SeqCst).max(t)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

/// The machine's real-time clock, optionally running faster than real time.
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin_wall: Millis,
    origin: std::time::Instant,
    speed: f64,
}

impl SystemClock {
    /// Real time (`speed` 1.0) or `speed` times faster, starting at the current wall time.
    pub fn new(speed: f64) -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        SystemClock {
            origin_wall: wall,
            origin: std::time::Instant::now(),
            speed: speed.max(0.0),
        }
    }
}

impl SystemClock {
    /// Like `new`, but the clock reads `start` now (a scenario's date) and runs from there.
    pub fn starting_at(start: Millis, speed: f64) -> Self {
        SystemClock {
            origin_wall: start,
            origin: std::time::Instant::now(),
            speed: speed.max(0.0),
        }
    }

    /// How fast the clock runs compared with real time.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        self.origin_wall + (self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
    }
}

/// Device time as RFC 3339 UTC with milliseconds (for logs and the control API).
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// Why a duration such as `90s` could not be read; each names the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("{text:?}: expected a number before {rest:?} (e.g. 90s, 10m, 2h)")]
    MissingNumber { text: String, rest: String },
    #[error("{text:?}: number too large")]
    NumberTooLarge { text: String },
    #[error("{text:?}: missing unit (ms, s, m, h or d)")]
    MissingUnit { text: String },
    #[error("{text:?}: unknown unit {unit:?} (ms, s, m, h or d)")]
    UnknownUnit { text: String, unit: String },
    #[error("{text:?}: duration too large")]
    TooLarge { text: String },
}

/// Parse a duration such as `90s`, `10m`, `2h`, `1h30m`, `500ms`, `1d` into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let text = || s.to_string();
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError::MissingNumber {
                text: text(),
                rest: rest.to_string(),
            });
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::NumberTooLarge { text: text() })?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(DurationError::MissingUnit { text: text() }),
            u => {
                return Err(DurationError::UnknownUnit {
                    text: text(),
                    unit: u.to_string(),
                })
            }
        };
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| DurationError::TooLarge { text: text() })?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let c = VirtualClock::new(1_000);
        assert_eq!(c.now(), 1_000);
        assert_eq!(c.advance(500), 1_500);
        assert_eq!(c.clone().advance_to(1_200), 1_500, "never backwards");
        assert_eq!(c.advance_to(9_000), 9_000);
        assert_eq!(c.advance(-5), 9_000);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert!(parse_duration("10")
            .unwrap_err()
            .to_string()
            .contains("missing unit"));
        assert!(parse_duration("10x")
            .unwrap_err()
            .to_string()
            .contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn system_clock_runs_at_speed() {
        let c = SystemClock::new(1.0);
        let a = c.now();
        assert!(c.now() >= a);
    }
}
