//! A log line at a rate a human can read: events are counted, and a line is due at most once
//! per interval (wall time: it paces the terminal, not the device) with the count since the
//! last one. Used for per-telegram lines and overload warnings at `--speed max`.

use std::time::{Duration, Instant};

/// Counts events between lines.
#[derive(Debug)]
pub struct RateLog {
    every: Duration,
    last: Option<Instant>,
    /// Events since the last line (including the one that makes it due).
    pending: u64,
}

impl RateLog {
    /// At most one line per `every`.
    pub fn new(every: Duration) -> Self {
        RateLog {
            every,
            last: None,
            pending: 0,
        }
    }

    /// `n` more events; returns the count to log when a line is due now.
    pub fn note(&mut self, n: u64) -> Option<u64> {
        self.note_at(n, Instant::now())
    }

    fn note_at(&mut self, n: u64, now: Instant) -> Option<u64> {
        self.pending = self.pending.saturating_add(n);
        let due = self
            .last
            .is_none_or(|t| now.duration_since(t) >= self.every);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_logs_then_one_line_per_interval_with_the_count() {
        let t0 = Instant::now();
        let mut r = RateLog::new(Duration::from_secs(10));
        assert_eq!(r.note_at(3, t0), Some(3));
        assert_eq!(r.note_at(5, t0 + Duration::from_secs(1)), None);
        assert_eq!(r.note_at(2, t0 + Duration::from_secs(9)), None);
        assert_eq!(r.note_at(1, t0 + Duration::from_secs(10)), Some(8));
    }
}
