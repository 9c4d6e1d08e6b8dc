//! The water and heat meters a P1 meter can have on its other M-Bus channels (gas is on 1),
//! each with its own register, cadence and capture time:
//!
//! - water (device type 7, m³, three decimals = litres): a seeded household of `persons`
//!   using 100–150 L a person a day (± 15 % from day to day): a shower each (8 L/min for 6–10
//!   minutes, most in the morning 06:15–08:30, the rest in the evening 19:00–22:30) and the
//!   rest (kitchen, toilet, laundry) over the waking hours, almost nothing at night;
//! - heat (district heating, device type 4 per EN 13757-3, GJ): `annual_gj` a year, a fifth
//!   for hot water all year, the rest for space heating by heating degree days (base 16 °C)
//!   of a seasonal outdoor temperature (3 °C on 20 January, 18 °C in late July, ± 3 °C from
//!   day to day), more in the morning and evening than at night: winter weeks use many times
//!   what summer weeks do.
//!
//! Both are captured on the meter's M-Bus cadence (SMR 5: every 5 minutes on the whole 5
//! minutes, DSMR 4.2: on the whole hour, e-MUCS: every 5 minutes at the device's own
//! offset). Which meter kinds carry which device: [`MbusMeters::check`].

use super::local_time::minute_and_weekday;
use super::registers::{capture_instant, capture_on, Capture, Flow};
use super::SyntheticMeter;
use crate::protocol::dsmr::{DsmrKind, MbusChannel, MbusDevice, HEAT_CHANNEL, WATER_CHANNEL};
use crate::protocol::MeterKind;
use crate::sim::clock::Millis;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// RNG stream of the water and heat meters' initial registers, habits and offsets.
pub const STREAM_MBUS_META: u64 = 5;
/// RNG stream of the water use of each day (word position from the local day).
pub const STREAM_WATER: u64 = 6;
/// RNG stream of the weather of each day behind the heat use.
pub const STREAM_HEAT: u64 = 7;

const DAY_MS: i64 = 86_400_000;
/// Shower flow, m³/h (8 L/min).
const SHOWER_M3H: f64 = 0.48;
/// Relative water use (besides showers) in each local hour.
const WATER_HOURS: [f64; 24] = [
    0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.8, 1.5, 1.2, 0.8, 0.8, 0.8, 1.0, 0.8, 0.6, 0.6, 0.6, 1.0,
    1.5, 1.2, 0.9, 0.9, 0.6, 0.2,
];
/// Relative space heating in each local hour (thermostat lower at night).
const HEATING_HOURS: [f64; 24] = [
    0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 1.6, 1.6, 1.6, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.3, 1.3,
    1.3, 1.3, 1.3, 1.3, 0.4,
];
/// Share of the yearly heat that goes to hot water.
const HOT_WATER_SHARE: f64 = 0.2;
/// Heating degree days' base, °C.
const HEATING_BASE_C: f64 = 16.0;

/// A water meter on an M-Bus channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaterMeter {
    pub channel: MbusChannel,
    /// People in the household (1..=8).
    pub persons: u8,
}

/// A district-heating meter on an M-Bus channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatMeter {
    pub channel: MbusChannel,
    /// Heat used in an average year, GJ (space heating and hot water).
    pub annual_gj: f64,
}

/// The water and heat meters besides gas (none by default).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MbusMeters {
    pub water: Option<WaterMeter>,
    pub heat: Option<HeatMeter>,
}

impl WaterMeter {
    /// Water on its default channel (2).
    pub fn new(persons: u8) -> Self {
        WaterMeter {
            channel: WATER_CHANNEL,
            persons,
        }
    }
}

impl HeatMeter {
    /// Heat on its default channel (3).
    pub fn new(annual_gj: f64) -> Self {
        HeatMeter {
            channel: HEAT_CHANNEL,
            annual_gj,
        }
    }
}

/// Why a meter cannot have these water and heat meters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MbusError {
    #[error(
        "meter {} has no M-Bus; water and heat meters need a P1 meter (smr5, smr5-1ph, dsmr42, emucs)",
        .0.name()
    )]
    NoMbus(MeterKind),
    #[error(
        "meter {} carries no heat meter: the simulated e-MUCS meter has gas and water on its M-Bus only; heat needs smr5, smr5-1ph or dsmr42",
        .0.name()
    )]
    NoHeat(MeterKind),
    #[error("channel 1 is the gas meter's; use 2, 3 or 4")]
    GasChannel,
    #[error("water and heat are both on channel {0}; give them different channels")]
    SameChannel(u8),
}

impl MbusMeters {
    /// Whether a meter of `kind` can carry these devices: TIC meters have no M-Bus, the
    /// e-MUCS meter has no heat meter, channel 1 is gas's, two devices need two channels.
    pub fn check(&self, kind: MeterKind) -> Result<(), MbusError> {
        if self.water.is_none() && self.heat.is_none() {
            return Ok(());
        }
        let MeterKind::Dsmr(dsmr) = kind else {
            return Err(MbusError::NoMbus(kind));
        };
        if dsmr == DsmrKind::Emucs && self.heat.is_some() {
            return Err(MbusError::NoHeat(kind));
        }
        let channels = [self.water.map(|w| w.channel), self.heat.map(|h| h.channel)];
        if channels.iter().flatten().any(|c| c.get() == 1) {
            return Err(MbusError::GasChannel);
        }
        match channels {
            [Some(w), Some(h)] if w == h => Err(MbusError::SameChannel(w.get())),
            _ => Ok(()),
        }
    }
}

/// The water meter's model and the plan of the day last asked for.
#[derive(Debug, Clone)]
struct Water {
    meter: WaterMeter,
    litres_per_person_day: f64,
    /// Local day number and its plan.
    day: Option<(i64, WaterDay)>,
}

/// One day's water use: the background (m³ over the day) and the showers (local second of
/// the day, start and end).
#[derive(Debug, Clone, Copy)]
struct WaterDay {
    background_m3: f64,
    showers: [(i64, i64); 8],
    shower_count: usize,
}

/// The heat meter's model and the day last asked for.
#[derive(Debug, Clone)]
struct Heat {
    meter: HeatMeter,
    /// Space heating per heating degree day, GJ.
    gj_per_degree_day: f64,
    /// Local day number and that day's space heating, GJ.
    day: Option<(i64, f64)>,
}

/// The water and heat meters of a synthetic meter: their models and last captures.
#[derive(Debug, Clone)]
pub(super) struct OtherMbus {
    water: Option<Water>,
    heat: Option<Heat>,
    water_capture: Capture,
    heat_capture: Capture,
    /// Capture offsets within the period (e-MUCS), ms.
    water_offset_ms: i64,
    heat_offset_ms: i64,
}

/// Outdoor temperature on day `doy` (0 = 1 January) of an average year, °C.
fn mean_temperature_c(doy: f64) -> f64 {
    10.5 - 7.5 * (std::f64::consts::TAU * (doy - 20.0) / 365.25).cos()
}

/// Day of the year (0-based) of local day number `day` (days since 1970-01-01).
fn day_of_year(day: i64) -> f64 {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map_or(0.0, |d| f64::from(chrono::Datelike::ordinal0(&d)))
}

/// The share of a day's `weights` falling in local hour `hour`, per hour.
fn hour_share(weights: &[f64; 24], minute_of_day: f64) -> f64 {
    let hour = ((minute_of_day / 60.0) as usize).min(23);
    weights[hour] / weights.iter().sum::<f64>()
}

impl SyntheticMeter {
    /// The same meter with the water and heat meters of `meters` on its M-Bus, from its first
    /// telegram on. Devices the kind cannot carry ([`MbusMeters::check`]) are left out.
    pub fn with_mbus(mut self, meters: MbusMeters) -> Self {
        let fits = |m: MbusMeters| m.check(self.kind).is_ok();
        let water = meters.water.filter(|&w| {
            fits(MbusMeters {
                water: Some(w),
                heat: None,
            })
        });
        let heat = meters.heat.filter(|&h| {
            fits(MbusMeters {
                heat: Some(h),
                water,
            })
        });
        if water.is_none() && heat.is_none() {
            self.other = None;
            return self;
        }
        let mut meta = ChaCha8Rng::seed_from_u64(self.seed);
        meta.set_stream(STREAM_MBUS_META);
        self.counters.water_m3 = meta.random_range(50.0..3_000.0);
        self.counters.heat_gj = meta.random_range(5.0..400.0);
        let litres_per_person_day = meta.random_range(100.0..150.0);
        let emucs = self.kind == MeterKind::Dsmr(DsmrKind::Emucs);
        let mut offset = || {
            if emucs {
                meta.random_range(0..300) * 1000
            } else {
                0
            }
        };
        let (water_offset_ms, heat_offset_ms) = (offset(), offset());
        let degree_days: f64 = (0..365)
            .map(|d| (HEATING_BASE_C - mean_temperature_c(f64::from(d))).max(0.0))
            .sum();
        let start = self.counted_at;
        let mut other = OtherMbus {
            water: water.map(|meter| Water {
                meter,
                litres_per_person_day,
                day: None,
            }),
            heat: heat.map(|meter| Heat {
                meter,
                gj_per_degree_day: meter.annual_gj * (1.0 - HOT_WATER_SHARE) / degree_days,
                day: None,
            }),
            water_capture: Capture { at: start, m3: 0.0 },
            heat_capture: Capture { at: start, m3: 0.0 },
            water_offset_ms,
            heat_offset_ms,
        };
        if let Some((period, _)) = self.mbus_cadence() {
            other.water_capture = Capture {
                at: capture_instant((period, water_offset_ms), start),
                m3: self.counters.water_m3,
            };
            other.heat_capture = Capture {
                at: capture_instant((period, heat_offset_ms), start),
                m3: self.counters.heat_gj,
            };
        }
        self.other = Some(Box::new(other));
        self
    }

    /// The water and heat meters on the M-Bus.
    pub fn mbus_meters(&self) -> MbusMeters {
        self.other
            .as_ref()
            .map_or_else(MbusMeters::default, |o| MbusMeters {
                water: o.water.as_ref().map(|w| w.meter),
                heat: o.heat.as_ref().map(|h| h.meter),
            })
    }

    /// Water flow at `t`, m³/h (0 without a water meter).
    pub(super) fn water_rate(&mut self, t: Millis) -> f64 {
        let local = self.local.local_ms(t);
        let Some(water) = self.other.as_mut().and_then(|o| o.water.as_mut()) else {
            return 0.0;
        };
        let day = local.div_euclid(DAY_MS);
        let plan = match water.day {
            Some((d, plan)) if d == day => plan,
            _ => {
                let plan = water_day(self.seed, day, water);
                water.day = Some((day, plan));
                plan
            }
        };
        let (minute, _) = minute_and_weekday(local);
        let second = local.rem_euclid(DAY_MS) / 1000;
        let showering = plan.showers[..plan.shower_count]
            .iter()
            .filter(|(from, to)| (*from..*to).contains(&second))
            .count();
        plan.background_m3 * hour_share(&WATER_HOURS, minute) + showering as f64 * SHOWER_M3H
    }

    /// Heat flow at `t`, GJ/h (0 without a heat meter).
    pub(super) fn heat_rate(&mut self, t: Millis) -> f64 {
        let local = self.local.local_ms(t);
        let Some(heat) = self.other.as_mut().and_then(|o| o.heat.as_mut()) else {
            return 0.0;
        };
        let day = local.div_euclid(DAY_MS);
        let space_gj = match heat.day {
            Some((d, gj)) if d == day => gj,
            _ => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(STREAM_HEAT);
                rng.set_word_pos(u128::try_from(day).unwrap_or(0) * 4);
                let outdoor_c = mean_temperature_c(day_of_year(day)) + rng.random_range(-3.0..3.0);
                let gj = heat.gj_per_degree_day * (HEATING_BASE_C - outdoor_c).max(0.0);
                heat.day = Some((day, gj));
                gj
            }
        };
        let (minute, _) = minute_and_weekday(local);
        let hot_water_gj = heat.meter.annual_gj * HOT_WATER_SHARE / 365.25;
        space_gj * hour_share(&HEATING_HOURS, minute)
            + hot_water_gj * hour_share(&WATER_HOURS, minute)
    }

    /// Capture the water and heat registers on their cadence up to `to`.
    pub(super) fn advance_other_mbus(&mut self, flow: &Flow, to: Millis) {
        if let Some(o) = self.other.as_deref() {
            let (water, heat) = self.other_captures(o, flow, to);
            if let Some(o) = self.other.as_deref_mut() {
                o.water_capture = water;
                o.heat_capture = heat;
            }
        }
    }

    /// The water and heat captures as of `to` (unchanged state).
    fn other_captures(&self, o: &OtherMbus, flow: &Flow, to: Millis) -> (Capture, Capture) {
        let Some((period, _)) = self.mbus_cadence() else {
            return (o.water_capture, o.heat_capture);
        };
        (
            capture_on(
                (period, o.water_offset_ms),
                o.water_capture,
                flow,
                to,
                |c| c.water_m3,
            ),
            capture_on((period, o.heat_offset_ms), o.heat_capture, flow, to, |c| {
                c.heat_gj
            }),
        )
    }

    /// The captured water (m³) and heat (GJ) values as of `to`, `None` for a device the
    /// meter does not have.
    pub(super) fn other_values(&self, flow: &Flow, to: Millis) -> (Option<f64>, Option<f64>) {
        let Some(o) = self.other.as_deref() else {
            return (None, None);
        };
        let (water, heat) = self.other_captures(o, flow, to);
        (
            o.water.as_ref().map(|_| water.m3),
            o.heat.as_ref().map(|_| heat.m3),
        )
    }

    /// The captured values of the last telegram (`advance_other_mbus` ran up to it).
    pub(super) fn other_captured(&self) -> (Option<f64>, Option<f64>) {
        self.other.as_deref().map_or((None, None), |o| {
            (
                o.water.as_ref().map(|_| o.water_capture.m3),
                o.heat.as_ref().map(|_| o.heat_capture.m3),
            )
        })
    }

    /// The telegram's water and heat devices: channel and capture time on the meter's clock.
    pub(super) fn other_mbus_devices(&self) -> (MbusDevice, MbusDevice) {
        let device = |channel, capture: Option<&Capture>| MbusDevice {
            channel,
            capture: capture.map(|c| (c.at + self.skew_ms).div_euclid(1000)),
        };
        match self.other.as_deref() {
            Some(o) => (
                device(
                    o.water.as_ref().map_or(WATER_CHANNEL, |w| w.meter.channel),
                    Some(&o.water_capture),
                ),
                device(
                    o.heat.as_ref().map_or(HEAT_CHANNEL, |h| h.meter.channel),
                    Some(&o.heat_capture),
                ),
            ),
            None => (device(WATER_CHANNEL, None), device(HEAT_CHANNEL, None)),
        }
    }
}

/// The water plan of local day `day` of the meter seeded `seed`.
fn water_day(seed: u64, day: i64, water: &Water) -> WaterDay {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(STREAM_WATER);
    rng.set_word_pos(u128::try_from(day).unwrap_or(0) * 256);
    let persons = usize::from(water.meter.persons).min(8);
    let total_m3 =
        persons as f64 * water.litres_per_person_day * rng.random_range(0.85..1.15) / 1000.0;
    let mut plan = WaterDay {
        background_m3: 0.0,
        showers: [(0, 0); 8],
        shower_count: 0,
    };
    let mut shower_m3 = 0.0;
    for _ in 0..persons {
        let showers = rng.random_bool(0.85);
        let morning = rng.random_bool(0.6);
        let start = if morning {
            rng.random_range(22_500..30_600)
        } else {
            rng.random_range(68_400..81_000)
        };
        let seconds = rng.random_range(360..600);
        if showers {
            plan.showers[plan.shower_count] = (start, start + seconds);
            plan.shower_count += 1;
            shower_m3 += SHOWER_M3H * seconds as f64 / 3600.0;
        }
    }
    plan.background_m3 = (total_m3 - shower_m3).max(0.25 * total_m3);
    plan
}
