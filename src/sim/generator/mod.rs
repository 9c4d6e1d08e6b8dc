//! Synthetic meters: a household (base load, PV export, EV charging, three-phase imbalance)
//! or fixed values, sampled at each telegram time and QUANTISED to exactly what the wire of
//! the meter kind carries, so `parse(kind.encode(&reading))` gives back the same `Reading`.
//!
//! Determinism: every random number comes from one `ChaCha8Rng` seed through counter-based
//! streams. The values at time `t` are drawn from the stream [`STREAM_VALUES`] at a word
//! position derived from `t`; TIC jitter from [`STREAM_JITTER`] at the telegram number;
//! the meter id and initial counters from [`STREAM_META`]. So the values at `t` depend only on
//! (kind, load, seed, t), and the telegram stream only on (kind, load, seed, start).
//!
//! Energy counters integrate the power of each telegram over the interval that follows it
//! (what a meter's register does between two samples), split over tariff 1/2 by local time.
//!
//! Layout: this file holds the public types and the `SyntheticMeter` API (construction,
//! telegram schedule); `load.rs` is the physical load model, `solar.rs` the sun and clouds
//! behind PV, `tariff.rs` the tariff schedules and site, `registers.rs` the M-Bus capture
//! and e-MUCS demand registers, `counters.rs` the energy and
//! gas registers with their tariff and flow schedules, `mbus.rs` the water and heat meters on
//! the other M-Bus channels, `local_time.rs` the local-time
//! helper, `quantise.rs` the reduction to wire resolution, `tests.rs` the unit tests.

mod counters;
#[cfg(test)]
mod encode_tests;
mod load;
mod local_time;
mod mbus;
#[cfg(test)]
mod mbus_tests;
mod quantise;
#[cfg(test)]
mod realism_tests;
mod registers;
mod solar;
mod tariff;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tic_realism_tests;

pub use mbus::{
    HeatMeter, MbusError, MbusMeters, WaterMeter, STREAM_HEAT, STREAM_MBUS_META, STREAM_WATER,
};
pub use solar::{clear_sky_fraction, solar_elevation_deg, STREAM_CLOUDS};
pub use tariff::{easter_sunday, nl_holiday, Site, TariffRegion};

use crate::protocol::dsmr::DsmrRegisters;
use crate::protocol::KindEncoder;
use crate::protocol::{MeterKind, Reading};
use crate::sim::clock::Millis;
use counters::{Counters, Rates};
use local_time::LocalTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use registers::{Capture, DemandState, Flow};

/// RNG stream of the meter id and initial counters.
pub const STREAM_META: u64 = 0;
/// RNG stream of the measured values (word position from the sample time).
pub const STREAM_VALUES: u64 = 1;
/// RNG stream of the TIC telegram jitter (word position from the telegram number).
pub const STREAM_JITTER: u64 = 2;
/// RNG stream of fault randomness (`sim::faults`).
pub const STREAM_FAULTS: u64 = 3;

/// Largest TIC jitter either side of the nominal telegram time, ms: consecutive intervals
/// then stay within ±50 ms of the nominal interval.
const TIC_JITTER_MS: i64 = 25;

/// One part of a household's consumption (positive) or production (negative).
#[derive(Debug, Clone, PartialEq)]
pub enum LoadComponent {
    /// Constant consumption with multiplicative noise: `watts · (1 ± noise)`, uniform.
    Base { watts: f64, noise: f64 },
    /// PV export of a system of `peak_watts`, following the sun at the meter's site (date,
    /// latitude, longitude) under a seeded cloud process (`solar.rs`); nothing between
    /// sunset and sunrise. Split evenly over the meter's phases.
    Pv { peak_watts: f64 },
    /// PV export on a fixed half-sine between sunrise and sunset (minutes after local
    /// midnight), peaking at `peak_watts` (the live house when its control API sets the sun
    /// times); split evenly over the meter's phases.
    PvWindow {
        peak_watts: f64,
        sunrise_min: u32,
        sunset_min: u32,
    },
    /// EV charging at `amps` on `phases` phases (≈ amps·230 W each) from `start_min` (local)
    /// for `minutes`; a window past midnight continues the next day.
    Ev {
        start_min: u32,
        amps: f64,
        phases: u8,
        minutes: u32,
    },
    /// Factors on each phase's share of the base load (three-phase meters only).
    Imbalance { l1: f64, l2: f64, l3: f64 },
    /// Consumption per phase (W, ≥ 0) at power factor `cos_phi`, with multiplicative noise
    /// `1 ± noise` (the live house's per-phase base load).
    PhaseBase {
        watts: [f64; 3],
        cos_phi: [f64; 3],
        noise: f64,
    },
    /// A resistive draw of `amps` on each phase at the phase's voltage (an EV charger now).
    Current { amps: [f64; 3] },
    /// A home battery: `watts` charging (+, import) or discharging (−, export), split
    /// evenly over the meter's phases.
    Battery { watts: f64 },
    /// PV output now (W, ≥ 0), split evenly over the phases.
    PvNow { watts: f64 },
}

/// Exact values for Gherkin steps: per phase voltage (V), current (A), active power (W, signed:
/// import +, export −); None = the meter does not report it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FixedValues {
    pub voltage_v: [Option<f64>; 3],
    pub current_a: [Option<f64>; 3],
    pub power_w: [Option<f64>; 3],
}

/// The household used without a scenario: base load, a PV roof, some imbalance.
pub fn default_load() -> Vec<LoadComponent> {
    vec![
        LoadComponent::Base {
            watts: 450.0,
            noise: 0.15,
        },
        LoadComponent::Pv { peak_watts: 3500.0 },
        LoadComponent::Imbalance {
            l1: 1.3,
            l2: 1.0,
            l3: 0.7,
        },
    ]
}

/// What the meter measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Household(Vec<LoadComponent>),
    Fixed(FixedValues),
}

/// One telegram as the meter sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterTelegram {
    /// Simulation time it is sent (UTC epoch ms).
    pub at: Millis,
    /// What it carries, at wire resolution: `parse(&bytes)` gives exactly this.
    pub reading: Reading,
    pub bytes: Vec<u8>,
}

/// The M-Bus values as last captured: gas (m³), water (m³) and heat (GJ) when the meter has
/// them.
#[derive(Debug, Clone, Copy)]
struct MbusValues {
    gas_m3: f64,
    other: (Option<f64>, Option<f64>),
}

/// A synthetic meter of one kind producing telegrams from a seed.
#[derive(Debug, Clone)]
pub struct SyntheticMeter {
    kind: MeterKind,
    load: Load,
    seed: u64,
    start: Millis,
    /// Number of the next telegram (0 = the one at `start`).
    index: u64,
    next_at: Millis,
    skew_ms: i64,
    meter_id: String,
    local: LocalTime,
    /// Positioned per use (counter-based streams).
    rng: ChaCha8Rng,
    /// Per-phase voltage offset of this grid connection, V.
    volt_offset: [f64; 3],
    /// Mean gas flow, m³/h.
    gas_m3h: f64,
    /// Registers as of `counted_at`, and the net power (W) flowing since then.
    counters: Counters,
    counted_at: Millis,
    flow_w: f64,
    /// Tariff schedule and location.
    site: Site,
    /// Offset of the M-Bus capture instants within their period (e-MUCS), ms.
    mbus_offset_ms: i64,
    /// The M-Bus value as last captured.
    mbus: Capture,
    /// The water and heat meters on the other M-Bus channels, if any.
    other: Option<Box<mbus::OtherMbus>>,
    /// e-MUCS demand registers (`None` on other meters).
    demand: Option<DemandState>,
    /// The registers of the last telegram beyond its reading.
    registers: DsmrRegisters,
    /// The cloud draws of the current 10-minute slot.
    clouds: Option<solar::Clouds>,
    /// The reusable telegram writer.
    encoder: KindEncoder,
}

impl SyntheticMeter {
    /// A meter of `kind` measuring `load`, whose first telegram is at `start`, at the
    /// default site of its kind ([`Site::of`]).
    pub fn new(kind: MeterKind, load: Load, seed: u64, start: Millis) -> Self {
        Self::at_site(kind, load, seed, start, Site::of(kind))
    }

    /// A meter of `kind` at `site` measuring `load`, whose first telegram is at `start`.
    pub fn at_site(kind: MeterKind, load: Load, seed: u64, start: Millis, site: Site) -> Self {
        let mut meta = ChaCha8Rng::seed_from_u64(seed);
        meta.set_stream(STREAM_META);
        let meter_id = match kind {
            MeterKind::Dsmr(crate::protocol::dsmr::DsmrKind::Emucs) => {
                format!("1SAG{:010}", meta.random_range(0..10_000_000_000u64))
            }
            MeterKind::Dsmr(_) => {
                format!("E00{:014}", meta.random_range(0..100_000_000_000_000u64))
            }
            MeterKind::Tic(_) => format!("0{:011}", meta.random_range(0..100_000_000_000u64)),
        };
        let volt_offset = std::array::from_fn(|_| meta.random_range(-2.5..2.5));
        let gas_m3h = meta.random_range(0.04..0.16);
        let counters = Counters {
            import_wh: [
                meta.random_range(1_000_000.0..12_000_000.0_f64).floor(),
                meta.random_range(1_000_000.0..12_000_000.0_f64).floor(),
            ],
            export_wh: [
                meta.random_range(0.0..3_000_000.0_f64).floor(),
                meta.random_range(0.0..3_000_000.0_f64).floor(),
            ],
            gas_m3: meta.random_range(500.0..5_000.0_f64),
            water_m3: 0.0,
            heat_gj: 0.0,
        };
        let mbus_offset_ms = meta.random_range(0..300) * 1000;
        let tz = match kind {
            MeterKind::Dsmr(_) => crate::protocol::time::METER_TZ,
            MeterKind::Tic(_) => crate::protocol::time::TIC_TZ,
        };
        let mut m = SyntheticMeter {
            kind,
            load,
            seed,
            start,
            index: 0,
            next_at: start,
            skew_ms: 0,
            meter_id,
            local: LocalTime::new(tz),
            rng: ChaCha8Rng::seed_from_u64(seed),
            volt_offset,
            gas_m3h,
            counters,
            counted_at: start,
            flow_w: 0.0,
            site,
            mbus_offset_ms,
            mbus: Capture { at: start, m3: 0.0 },
            other: None,
            demand: None,
            registers: DsmrRegisters::default(),
            clouds: None,
            encoder: kind.encoder(),
        };
        m.mbus = m.initial_capture(start, counters.gas_m3);
        m.demand = m.initial_demand(start, &counters);
        m.flow_w = m.physical(start).net_power();
        m
    }

    /// Where the meter stands (tariff schedule, location).
    pub fn site(&self) -> Site {
        self.site
    }

    /// What the last telegram carried beyond its reading (tariff indicator, M-Bus capture
    /// time, e-MUCS demand).
    pub fn registers(&self) -> &DsmrRegisters {
        &self.registers
    }

    pub fn kind(&self) -> MeterKind {
        self.kind
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Time of the first telegram.
    pub fn start(&self) -> Millis {
        self.start
    }

    /// The equipment identifier the meter sends.
    pub fn meter_id(&self) -> &str {
        &self.meter_id
    }

    pub fn load(&self) -> &Load {
        &self.load
    }

    /// Change what the meter measures from the next telegram on. The energy registers keep
    /// integrating the power of the last telegram until the next one.
    pub fn set_load(&mut self, load: Load) {
        self.load = load;
    }

    /// From now on the meter's own timestamp is `ms` off from true time.
    pub fn set_clock_skew(&mut self, ms: i64) {
        self.skew_ms = ms;
    }

    pub fn clock_skew(&self) -> i64 {
        self.skew_ms
    }

    /// Meter time of the next telegram.
    pub fn next_at(&self) -> Millis {
        self.next_at
    }

    /// Produce the next telegram and schedule the following one.
    #[allow(clippy::should_implement_trait)] // never ends: not an iterator
    pub fn next(&mut self) -> MeterTelegram {
        let (at, reading) = self.next_reading();
        let bytes = self.encoder.encode(&reading, &self.registers);
        MeterTelegram { at, reading, bytes }
    }

    /// The telegram of `reading` carrying `regs`, with this meter's encoder (what
    /// [`next`](Self::next) sends for a reading of [`next_reading`](Self::next_reading)).
    pub fn encode(&mut self, reading: &Reading, regs: &DsmrRegisters) -> Vec<u8> {
        self.encoder.encode(reading, regs)
    }

    /// The next telegram's time and reading without encoding it (advances like [`next`]).
    ///
    /// [`next`]: Self::next
    pub fn next_reading(&mut self) -> (Millis, Reading) {
        let at = self.next_at;
        let flow = self.flow();
        self.counters = flow.at(at);
        self.mbus = self.capture_until(self.mbus, &flow, at);
        self.advance_other_mbus(&flow, at);
        self.advance_demand(&flow, at);
        self.counted_at = self.counted_at.max(at);
        let phys = self.physical(at);
        self.flow_w = phys.net_power();
        let counters = self.counters;
        let mbus = MbusValues {
            gas_m3: self.mbus.m3,
            other: self.other_captured(),
        };
        let reading = self.quantise(at, &phys, &counters, mbus);
        self.registers = self.registers_at(at, &counters, self.mbus);
        self.index += 1;
        self.next_at = self.scheduled(self.index);
        (at, reading)
    }

    /// The (quantised) values at `t`, with the registers as they would read then. Does not
    /// change the telegram stream: the values at `t` depend only on the seed, load and `t`.
    pub fn reading_at(&mut self, t: Millis) -> Reading {
        let flow = self.flow();
        let counters = flow.at(t);
        let gas = self.capture_until(self.mbus, &flow, t);
        let mbus = MbusValues {
            gas_m3: gas.m3,
            other: self.other_values(&flow, t),
        };
        let phys = self.physical(t);
        self.quantise(t, &phys, &counters, mbus)
    }

    /// How the registers run from the last telegram on.
    fn flow(&mut self) -> Flow {
        Flow {
            from: self.counters,
            from_ms: self.counted_at,
            watts: self.flow_w,
            tariff: self.tariff(self.counted_at),
            rates: Rates {
                gas_m3h: self.gas_rate(self.counted_at),
                water_m3h: self.water_rate(self.counted_at),
                heat_gjh: self.heat_rate(self.counted_at),
            },
        }
    }

    /// Time of telegram number `i`: exact for DSMR, ±25 ms jitter for TIC.
    fn scheduled(&mut self, i: u64) -> Millis {
        let nominal = self.start + self.kind.interval_ms() * i as i64;
        match self.kind {
            MeterKind::Dsmr(_) => nominal,
            MeterKind::Tic(_) => {
                self.rng.set_stream(STREAM_JITTER);
                self.rng.set_word_pos(u128::from(i) * 2);
                nominal + self.rng.random_range(-TIC_JITTER_MS..=TIC_JITTER_MS)
            }
        }
    }
}
