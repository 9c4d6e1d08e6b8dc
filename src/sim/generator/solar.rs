//! PV output from the sun's position at the site and a seeded cloud process.
//!
//! The sun's elevation comes from NOAA's low-precision formulas (solar declination and the
//! equation of time from the fractional year; about 0.5° accurate), in UTC, so it does not
//! depend on the meter's time zone. Clear-sky irradiance on a horizontal panel follows
//! Meinel's air-mass model, `1353 W/m² · 0.7^(AM^0.678) · sin(elevation)`, as a fraction of
//! 1000 W/m² (capped at 1): about 0.8 at a Dutch summer noon, 0.14 at a winter noon, 0 below
//! the horizon. Clouds: each UTC day draws a cloudiness `D` in [0, 1) and every 10 minutes a
//! level `u` in [0, 1) (smoothly interpolated between the 10-minute points), and the output
//! is reduced by `1 − 0.8 · D · u`. All draws come from [`STREAM_CLOUDS`] at word positions
//! derived from the time, so the output at `t` depends only on the seed, site and `t`.

use super::SyntheticMeter;
use crate::sim::clock::Millis;
use rand::Rng;

/// RNG stream of the cloud process (word position from the day / the 10-minute slot).
pub const STREAM_CLOUDS: u64 = 4;

/// Cloud levels are drawn this often, ms.
const CLOUD_SLOT_MS: i64 = 600_000;

/// Solar elevation above the horizon, degrees, at `t` (UTC epoch ms) and the site.
pub fn solar_elevation_deg(t: Millis, latitude_deg: f64, longitude_deg: f64) -> f64 {
    use std::f64::consts::PI;
    let days = t.div_euclid(86_400_000);
    let minute = t.rem_euclid(86_400_000) as f64 / 60_000.0;
    let (year_len, day_of_year) = day_of_year(days);
    let g = 2.0 * PI / year_len * (day_of_year - 1.0 + (minute / 60.0 - 12.0) / 24.0);
    let decl = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin() - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let eq_time_min = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    let true_solar_min = minute + eq_time_min + 4.0 * longitude_deg;
    let hour_angle = (true_solar_min / 4.0 - 180.0).to_radians();
    let lat = latitude_deg.to_radians();
    let cos_zenith = lat.sin() * decl.sin() + lat.cos() * decl.cos() * hour_angle.cos();
    90.0 - cos_zenith.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Length of the year and the (1-based) day of the year of epoch day `days`.
fn day_of_year(days: i64) -> (f64, f64) {
    use chrono::Datelike;
    let date = chrono::DateTime::from_timestamp(days.saturating_mul(86_400), 0)
        .map(|d| d.date_naive())
        .unwrap_or_default();
    let len = if date.leap_year() { 366.0 } else { 365.0 };
    (len, f64::from(date.ordinal()))
}

/// Clear-sky output of a panel at solar elevation `deg`, as a fraction of its peak.
pub fn clear_sky_fraction(elevation_deg: f64) -> f64 {
    if elevation_deg <= 0.0 {
        return 0.0;
    }
    let s = elevation_deg.to_radians().sin();
    let air_mass = 1.0 / s;
    (1353.0 * 0.7f64.powf(air_mass.powf(0.678)) * s / 1000.0).min(1.0)
}

/// The cloud draws of one 10-minute slot (memoised: they are a function of the time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Clouds {
    day: i64,
    slot: i64,
    cloudiness: f64,
    level: f64,
    next_level: f64,
}

impl SyntheticMeter {
    /// The cloud draws of UTC day `day` and 10-minute slot `slot`.
    fn draw_clouds(&mut self, day: i64, slot: i64) -> Clouds {
        self.rng.set_stream(STREAM_CLOUDS);
        let mut draw = |pos: i64| -> f64 {
            // Days at even, slots at odd word positions (×4: a draw takes two words).
            self.rng.set_word_pos(u128::from(pos as u64) * 4);
            self.rng.random::<f64>()
        };
        Clouds {
            day,
            slot,
            cloudiness: draw(day.saturating_mul(2)),
            level: draw(slot.saturating_mul(2).saturating_add(1)),
            next_level: draw(slot.saturating_add(1).saturating_mul(2).saturating_add(1)),
        }
    }

    /// The fraction of the PV peak produced at `t`: sun position at the site × clouds.
    pub(super) fn pv_fraction(&mut self, t: Millis) -> f64 {
        let sun = clear_sky_fraction(solar_elevation_deg(
            t,
            self.site.latitude_deg,
            self.site.longitude_deg,
        ));
        if sun == 0.0 {
            return 0.0;
        }
        let day = t.div_euclid(86_400_000);
        let slot = t.div_euclid(CLOUD_SLOT_MS);
        let frac = (t.rem_euclid(CLOUD_SLOT_MS)) as f64 / CLOUD_SLOT_MS as f64;
        let clouds = match self.clouds {
            Some(c) if c.slot == slot && c.day == day => c,
            _ => {
                let c = self.draw_clouds(day, slot);
                self.clouds = Some(c);
                c
            }
        };
        let (a, b) = (clouds.level, clouds.next_level);
        let cloudiness = clouds.cloudiness;
        let w = 0.5 - 0.5 * (std::f64::consts::PI * frac).cos();
        let level = a + (b - a) * w;
        sun * (1.0 - 0.8 * cloudiness * level)
    }
}
