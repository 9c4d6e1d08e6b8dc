//! Meter local time ↔ UTC for both protocols. DSMR writes `YYMMDDhhmmss` + `S`/`W`
//! (summer/winter), TIC standard writes a season letter `E`/`H` + `YYMMDDhhmmss`. Both are
//! Central European time; the flag picks the offset (+2 h summer, +1 h winter).

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

/// Which zone a meter lives in; all are CET/CEST, the zone only matters when no flag is given.
pub const METER_TZ: Tz = chrono_tz::Europe::Amsterdam;
/// Zone of French Linky meters.
pub const TIC_TZ: Tz = chrono_tz::Europe::Paris;

/// Daylight-saving flag carried by a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    Summer,
    Winter,
    /// No flag: resolve with the zone's rules (earliest instant when ambiguous).
    Unknown,
}

/// Parse 12 ASCII digits `YYMMDDhhmmss` into a calendar date-time (year 2000–2099).
/// `None` if a byte is not a digit or the date/time does not exist (e.g. `632525252525`).
pub fn parse_yymmddhhmmss(digits: &[u8]) -> Option<NaiveDateTime> {
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Two ASCII digits (checked above) → 0..=99: no overflow anywhere below.
    let n = |i: usize| {
        let d = |j: usize| u32::from(digits[j].wrapping_sub(b'0'));
        d(i).wrapping_mul(10).wrapping_add(d(i.wrapping_add(1)))
    };
    let year = 2000i32.wrapping_add(n(0) as i32);
    NaiveDate::from_ymd_opt(year, n(2), n(4))?.and_hms_opt(n(6), n(8), n(10))
}

/// True for the placeholder dates meters print when they have no time
/// (`000101010000W`, `700101010000W`, `000101000001W`): 1 January 2000 or 1970-as-`70`.
pub fn is_placeholder(dt: &NaiveDateTime) -> bool {
    let (y, m, d) = (dt.year(), dt.month(), dt.day());
    m == 1 && d == 1 && (y == 2000 || y == 2070)
}

/// Local meter time with its season flag → UTC epoch seconds.
pub fn local_to_utc(dt: NaiveDateTime, season: Season, tz: Tz) -> Option<i64> {
    let offset_s = match season {
        Season::Summer => 2 * 3600,
        Season::Winter => 3600,
        Season::Unknown => {
            return tz
                .from_local_datetime(&dt)
                .earliest()
                .map(|t| t.timestamp());
        }
    };
    // Years 2000–2099 from the parsers; `None` rather than a wrap for anything else.
    dt.and_utc().timestamp().checked_sub(offset_s)
}

/// UTC epoch seconds → local meter time and its season flag, by the zone's DST rules.
pub fn utc_to_local(ts: i64, tz: Tz) -> Option<(NaiveDateTime, Season)> {
    let utc = chrono::DateTime::from_timestamp(ts, 0)?;
    let local = utc.with_timezone(&tz);
    let offset = local.naive_local().and_utc().timestamp().checked_sub(ts)?;
    let season = if offset >= 7200 {
        Season::Summer
    } else {
        Season::Winter
    };
    Some((local.naive_local(), season))
}

/// Format a local time as `YYMMDDhhmmss` (12 ASCII digits).
pub fn format_yymmddhhmmss(dt: &NaiveDateTime) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}",
        dt.year().rem_euclid(100),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn summer_and_winter_offsets() {
        let dt = parse_yymmddhhmmss(b"220901152201").unwrap();
        assert_eq!(
            local_to_utc(dt, Season::Summer, METER_TZ),
            Some(1_662_038_521)
        );
        let dt = parse_yymmddhhmmss(b"181202060910").unwrap();
        assert_eq!(
            local_to_utc(dt, Season::Winter, METER_TZ),
            Some(1_543_727_350)
        );
    }

    #[test]
    fn impossible_dates_are_none() {
        assert!(parse_yymmddhhmmss(b"632525252525").is_none());
        assert!(parse_yymmddhhmmss(b"2209011522").is_none());
        assert!(parse_yymmddhhmmss(b"22090115220x").is_none());
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [&b"000101010000"[..], b"700101010000", b"000101000001"] {
            assert!(is_placeholder(&parse_yymmddhhmmss(p).unwrap()));
        }
        assert!(!is_placeholder(
            &parse_yymmddhhmmss(b"220901152201").unwrap()
        ));
    }

    #[test]
    fn round_trip_across_dst_edges() {
        // 2026-03-29 00:59:59 UTC (winter) and 01:00:00 UTC (summer), 2026-10-25 00:59:59 / 01:00:00.
        for ts in [
            1_774_745_999_i64,
            1_774_746_000,
            1_792_889_999,
            1_792_890_000,
        ] {
            let (local, season) = utc_to_local(ts, METER_TZ).unwrap();
            assert_eq!(local_to_utc(local, season, METER_TZ), Some(ts), "ts {ts}");
        }
        let (_, s) = utc_to_local(1_774_746_000, METER_TZ).unwrap();
        assert_eq!(s, Season::Summer);
    }
}
