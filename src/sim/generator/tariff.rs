//! Where the synthetic meter stands: its tariff region (which of the two energy registers
//! counts at a given local time, and so what `0-0:96.14.0` shows) and its location (the
//! sun's position for PV).
//!
//! - NL (Dutch grid operators' default): tariff 1 is the LOW tariff, 23:00–07:00 on weekdays
//!   and all day on Saturdays, Sundays and the public holidays New Year's Day, Easter Monday,
//!   King's Day (27 April, 26 April when that is a Sunday), Ascension Day, Whit Monday and
//!   Christmas (25 and 26 December); tariff 2 (normal) otherwise. Good Friday and Liberation
//!   Day (5 May) are not low-tariff days.
//! - BE (Fluvius' default for a day/night meter): tariff 1 is DAY, 07:00–22:00 on weekdays;
//!   tariff 2 (night) 22:00–07:00 and all weekend. Belgian public holidays are day-tariff
//!   days (as on most Flemish night meters).
//! - FR (Linky, option BASE): one index, always register 0.
//! - FR-HC (Linky, option Heures Creuses): register 0 is HC (off-peak), 22:00–06:00 every
//!   day (8 h, Enedis' most common schedule); register 1 is HP (peak) otherwise. Historic
//!   frames show `OPTARIF HC..`, `HCHC`/`HCHP` and `PTEC HC..`/`HP..`; standard frames
//!   `LTARF`/`NTARF` 01 (HC) or 02 (HP) with `EASF01`/`EASF02`.

use crate::protocol::dsmr::DsmrKind;
use crate::protocol::MeterKind;
use chrono::{Datelike, NaiveDate, Weekday};

/// A country's tariff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TariffRegion {
    Nl,
    Be,
    Fr,
    FrHc,
}

impl TariffRegion {
    pub const ALL: [TariffRegion; 4] = [
        TariffRegion::Nl,
        TariffRegion::Be,
        TariffRegion::Fr,
        TariffRegion::FrHc,
    ];

    /// Scenario name: `nl`, `be`, `fr`, `fr-hc`.
    pub fn name(self) -> &'static str {
        match self {
            TariffRegion::Nl => "nl",
            TariffRegion::Be => "be",
            TariffRegion::Fr => "fr",
            TariffRegion::FrHc => "fr-hc",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    /// The region a meter kind is sold in: e-MUCS BE, the other DSMR kinds NL, TIC FR.
    pub fn of(kind: MeterKind) -> Self {
        match kind {
            MeterKind::Dsmr(DsmrKind::Emucs) => TariffRegion::Be,
            MeterKind::Dsmr(_) => TariffRegion::Nl,
            MeterKind::Tic(_) => TariffRegion::Fr,
        }
    }

    /// Whether a meter of `kind` can run this schedule: two registers (NL, BE) need a P1
    /// meter, the single index (FR) a TIC one.
    pub fn fits(self, kind: MeterKind) -> bool {
        matches!(kind, MeterKind::Tic(_)) == self.is_french()
    }

    /// A Linky schedule (BASE or HC/HP).
    pub fn is_french(self) -> bool {
        matches!(self, TariffRegion::Fr | TariffRegion::FrHc)
    }

    /// Default site (latitude, longitude in degrees): the middle of the country.
    pub fn default_location_deg(self) -> (f64, f64) {
        match self {
            TariffRegion::Nl => (52.1, 5.2),
            TariffRegion::Be => (50.8, 4.4),
            TariffRegion::Fr | TariffRegion::FrHc => (46.6, 2.2),
        }
    }

    /// Register counting at local wall-clock time `local_ms` (epoch-like): 0 = tariff 1,
    /// 1 = tariff 2.
    pub fn register(self, local_ms: i64) -> usize {
        let day = local_ms.div_euclid(86_400_000);
        let hour = local_ms.rem_euclid(86_400_000) / 3_600_000;
        let Some(date) = NaiveDate::from_num_days_from_ce_opt(
            i32::try_from(day.saturating_add(719_163)).unwrap_or(i32::MAX),
        ) else {
            return 0;
        };
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        match self {
            TariffRegion::Fr => 0,
            TariffRegion::FrHc => usize::from((6..22).contains(&hour)),
            TariffRegion::Nl => {
                let low = weekend || nl_holiday(date) || !(7..23).contains(&hour);
                usize::from(!low)
            }
            TariffRegion::Be => usize::from(weekend || !(7..22).contains(&hour)),
        }
    }
}

/// A day on which the NL low tariff runs all day (see the module doc).
pub fn nl_holiday(date: NaiveDate) -> bool {
    let y = date.year();
    let (m, d) = (date.month(), date.day());
    let easter = easter_sunday(y);
    let from_easter = date.signed_duration_since(easter).num_days();
    let kings_day = if NaiveDate::from_ymd_opt(y, 4, 27).map(|k| k.weekday()) == Some(Weekday::Sun)
    {
        26
    } else {
        27
    };
    matches!((m, d), (1, 1) | (12, 25) | (12, 26))
        || (m == 4 && d == kings_day)
        // Easter Monday, Ascension Day, Whit Monday.
        || matches!(from_easter, 1 | 39 | 50)
}

/// Easter Sunday of the Gregorian year `y` (anonymous Gregorian algorithm).
pub fn easter_sunday(y: i32) -> NaiveDate {
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(y, month as u32, day as u32).unwrap_or_default()
}

/// Where the meter stands: its tariff schedule and location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub tariff_region: TariffRegion,
    /// Degrees north (−90…90).
    pub latitude_deg: f64,
    /// Degrees east (−180…180).
    pub longitude_deg: f64,
}

impl Site {
    /// The default site of a meter kind: its region's schedule, the middle of the country.
    pub fn of(kind: MeterKind) -> Self {
        Self::in_region(TariffRegion::of(kind))
    }

    /// The middle of `region`'s country.
    pub fn in_region(region: TariffRegion) -> Self {
        let (latitude_deg, longitude_deg) = region.default_location_deg();
        Site {
            tariff_region: region,
            latitude_deg,
            longitude_deg,
        }
    }
}
