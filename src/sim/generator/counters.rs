//! The meter's cumulative registers: energy import/export per tariff, gas, water and heat,
//! integrated between telegrams, with the tariff schedule (NL, BE, TIC) and the daily gas
//! flow profile that drive them.

use super::local_time::minute_and_weekday;
use super::SyntheticMeter;
use crate::sim::clock::Millis;

/// Cumulative registers, in Wh, m³ and GJ, unquantised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Counters {
    pub(super) import_wh: [f64; 2],
    pub(super) export_wh: [f64; 2],
    pub(super) gas_m3: f64,
    /// The water and heat meters' registers (0 without them).
    pub(super) water_m3: f64,
    pub(super) heat_gj: f64,
}

/// How fast the M-Bus registers run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Rates {
    pub(super) gas_m3h: f64,
    pub(super) water_m3h: f64,
    pub(super) heat_gjh: f64,
}

impl Counters {
    /// The registers after `dt_ms` at `watts` (net, signed) on `tariff`, the M-Bus registers at
    /// `rates`.
    pub(super) fn advanced(mut self, watts: f64, dt_ms: i64, tariff: usize, rates: Rates) -> Self {
        if dt_ms > 0 {
            let h = dt_ms as f64 / 3_600_000.0;
            if watts > 0.0 {
                self.import_wh[tariff] += watts * h;
            } else {
                self.export_wh[tariff] += -watts * h;
            }
            self.gas_m3 += rates.gas_m3h * h;
            self.water_m3 += rates.water_m3h * h;
            self.heat_gj += rates.heat_gjh * h;
        }
        self
    }
}

impl SyntheticMeter {
    /// Tariff register (0 = tariff 1, 1 = tariff 2) counting at `t`, by the site's tariff
    /// region (`tariff.rs`): NL/BE tariff 1/2, FR-HC HC/HP; BASE has one index.
    pub(super) fn tariff(&mut self, t: Millis) -> usize {
        self.site.tariff_region.register(self.local.local_ms(t))
    }

    /// Gas flow at `t`, m³/h: more in the morning and evening, less at night.
    pub(super) fn gas_rate(&mut self, t: Millis) -> f64 {
        let (min, _) = minute_and_weekday(self.local.local_ms(t));
        let factor = match (min / 60.0) as u32 {
            0..=5 => 0.4,
            6..=8 => 2.5,
            17..=21 => 2.0,
            _ => 0.8,
        };
        self.gas_m3h * factor
    }
}
