//! Local wall-clock time of the meter's time zone: the UTC offset cached per UTC hour (DST
//! changes on whole UTC hours), and the minute of the day and weekday the load model, the
//! tariff schedule and the wire timestamp depend on.

use crate::sim::clock::Millis;
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// Local-time helper with a one-hour cache of the UTC offset (DST changes on whole UTC hours).
#[derive(Debug, Clone)]
pub(super) struct LocalTime {
    tz: Tz,
    hour: i64,
    offset_ms: i64,
}

impl LocalTime {
    pub(super) fn new(tz: Tz) -> Self {
        LocalTime {
            tz,
            hour: i64::MIN,
            offset_ms: 0,
        }
    }

    /// Local wall-clock time of `t` as epoch-like milliseconds.
    pub(super) fn local_ms(&mut self, t: Millis) -> i64 {
        let hour = t.div_euclid(3_600_000);
        if hour != self.hour {
            self.hour = hour;
            self.offset_ms = DateTime::from_timestamp_millis(t).map_or(0, |utc| {
                i64::from(
                    self.tz
                        .offset_from_utc_datetime(&utc.naive_utc())
                        .fix()
                        .local_minus_utc(),
                ) * 1000
            });
        }
        t + self.offset_ms
    }
}

/// Minute of the local day (fractional) and day of week (0 = Monday).
pub(super) fn minute_and_weekday(local_ms: i64) -> (f64, u32) {
    let day = local_ms.div_euclid(86_400_000);
    let ms = local_ms.rem_euclid(86_400_000);
    (ms as f64 / 60_000.0, (day + 3).rem_euclid(7) as u32)
}
