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

impl LocalTime {
    /// Start of the local calendar month holding `t` and of the next one, UTC epoch ms.
    pub(super) fn month_bounds(&mut self, t: Millis) -> (Millis, Millis) {
        use chrono::{Datelike, NaiveDate};
        let local = self.local_ms(t);
        let day = DateTime::from_timestamp_millis(local).map_or_else(
            || NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
            |d| d.date_naive(),
        );
        let first = day.with_day(1).unwrap_or(day);
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(first);
        let utc = |d: NaiveDate| -> Millis {
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            self.tz
                .from_local_datetime(&midnight)
                .earliest()
                .map_or(midnight.and_utc().timestamp_millis(), |z| {
                    z.timestamp_millis()
                })
        };
        (utc(first), utc(next))
    }
}
