//! The live house in front of a synthetic meter, telegram by telegram: before each telegram
//! the meter takes the house's load at that instant (so a change shows in exactly the next
//! telegram), faults can be added now, the meter kind can change, and the fuse is fed what
//! the meter reported. A tripped fuse takes the house's power: the meter sends nothing until
//! the fuse is reset, and the caller powers the device off. The KPI summary accumulates as
//! telegrams go by.

use super::change::HouseChange;
use super::fuse::FuseKpis;
use super::House;
use crate::protocol::{MeterKind, Reading};
use crate::sim::clock::Millis;
use crate::sim::faults::{FaultError, FaultKind, FaultyMeter};
use crate::sim::generator::{Load, SyntheticMeter};
use serde::Serialize;

/// Interval of a DSMR 4.2 meter, ms: the "slow cadence" fault sends one telegram per this.
const SLOW_CADENCE_MS: Millis = 10_000;

/// A fault to add now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveFault {
    /// One of the scenario faults (bad CRC, truncation, noise, garbage, dropout, …).
    Meter(FaultKind),
    /// For `duration_ms` the meter sends one telegram per 10 s (a DSMR 4.2 cadence).
    SlowCadence { duration_ms: Millis },
}

/// One telegram slot of the live house.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTelegram {
    pub at: Millis,
    /// What the meter measured.
    pub reading: Reading,
    /// What went on the wire (empty: nothing sent: dropout, slow cadence, no power).
    pub bytes: Vec<u8>,
    /// The fuse tripped at this telegram: the house (and the device) lost power.
    pub tripped: bool,
}

/// Energy through the meter and into the EV.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct EnergyKpis {
    pub import_kwh: f64,
    pub export_kwh: f64,
    pub ev_kwh: f64,
}

/// What a run of the house comes to: the figures a charger team's CI asserts on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Device time from the first to the last telegram slot (sent or not), s.
    pub duration_s: f64,
    /// Telegram slots (sent or not).
    pub telegrams: u64,
    /// Fuse rating per phase, A (null: no fuse model).
    pub fuse_a: Option<f64>,
    pub fuse_trips_enabled: bool,
    #[serde(flatten)]
    pub fuse: FuseKpis,
    pub energy: EnergyKpis,
}

/// The house and its meter.
#[derive(Debug, Clone)]
pub struct LiveHouse {
    meter: FaultyMeter,
    pub house: House,
    slow_until: Millis,
    energy: EnergyKpis,
    /// The last telegram's time, net power (W, + import) and EV power (W).
    last: Option<(Millis, f64, f64)>,
    first_at: Option<Millis>,
    /// The last telegram slot (sent or not).
    last_at: Option<Millis>,
    telegrams: u64,
}

impl LiveHouse {
    /// The house around `meter` (whose load must be `Load::Household`: the house starts from
    /// it; fixed values stay fixed).
    pub fn new(meter: FaultyMeter) -> Self {
        let parts = match meter.meter().load() {
            Load::Household(p) => p.clone(),
            Load::Fixed(_) => Vec::new(),
        };
        let house = House::new(meter.kind().phases(), parts);
        LiveHouse {
            meter,
            house,
            slow_until: Millis::MIN,
            energy: EnergyKpis::default(),
            last: None,
            first_at: None,
            last_at: None,
            telegrams: 0,
        }
    }

    pub fn kind(&self) -> MeterKind {
        self.meter.kind()
    }

    /// When the next telegram is due.
    pub fn next_at(&self) -> Millis {
        self.meter.next_at()
    }

    /// The meter's equipment identifier.
    pub fn meter_id(&self) -> &str {
        self.meter.meter().meter_id()
    }

    /// Apply a checked change at `now` (a new meter kind starts at the next telegram slot).
    pub fn apply(&mut self, c: &HouseChange, now: Millis) {
        if let Some(k) = c.meter.filter(|k| *k != self.kind()) {
            let m = self.meter.meter();
            let next = SyntheticMeter::new(k, m.load().clone(), m.seed(), m.next_at())
                .with_mbus(m.mbus_meters());
            // A meter with no faults always builds.
            if let Ok(fm) = FaultyMeter::new(next, Vec::new()) {
                self.meter = fm;
                self.house.phases = k.phases();
                if k.phases() == 1 {
                    let mut sp = self.house.ev.set_point;
                    sp.phases = 1;
                    self.house.ev.set(sp, now);
                }
            }
        }
        self.house.apply(c, now);
    }

    /// Add a fault now; it shows on the next telegram.
    pub fn inject(&mut self, f: LiveFault, now: Millis) -> Result<(), FaultError> {
        match f {
            LiveFault::Meter(kind) => self.meter.inject(kind, now),
            LiveFault::SlowCadence { duration_ms } => {
                self.slow_until = now.saturating_add(duration_ms.max(0));
                Ok(())
            }
        }
    }

    /// Put the fuse back in: the house has power again from `now`.
    pub fn reset_fuse(&mut self, now: Millis) {
        self.house.fuse.reset(now);
        self.last = None;
    }

    /// The house has no power (the fuse tripped).
    pub fn dark(&self) -> bool {
        self.house.fuse.tripped_at.is_some()
    }

    /// The next telegram slot.
    #[allow(clippy::should_implement_trait)] // never ends: not an iterator
    pub fn next(&mut self) -> LiveTelegram {
        let at = self.meter.next_at();
        let load = Load::Household(self.house.components(at));
        if matches!(self.meter.meter().load(), Load::Household(_)) {
            self.meter.set_load(load);
        }
        let t = self.meter.next();
        self.first_at.get_or_insert(at);
        self.last_at = Some(at);
        self.telegrams += 1;
        if self.dark() {
            return LiveTelegram {
                at,
                reading: t.reading,
                bytes: Vec::new(),
                tripped: false,
            };
        }
        self.account(at, &t.reading);
        let amps = t.reading.current_a.map(|a| f64::from(a.unwrap_or(0.0)));
        let tripped = self.house.fuse.observe(at, amps);
        let slow = at < self.slow_until
            && (at - self.meter.meter().start()).rem_euclid(SLOW_CADENCE_MS)
                >= self.kind().interval_ms();
        let bytes = if tripped || slow { Vec::new() } else { t.bytes };
        LiveTelegram {
            at,
            reading: t.reading,
            bytes,
            tripped,
        }
    }

    /// Integrate the power held since the last telegram, then hold this one's.
    fn account(&mut self, at: Millis, r: &Reading) {
        if let Some((from, net_w, ev_w)) = self.last {
            let h = (at - from).max(0) as f64 / 3_600_000.0;
            self.energy.import_kwh += net_w.max(0.0) * h / 1000.0;
            self.energy.export_kwh += (-net_w).max(0.0) * h / 1000.0;
            self.energy.ev_kwh += ev_w * h / 1000.0;
        }
        let net_w = f64::from(r.power_import_w.unwrap_or(0.0) - r.power_export_w.unwrap_or(0.0));
        let volts = r.voltage_v.map(|v| v.map_or(230.0, f64::from));
        let ev_w: f64 = self
            .house
            .ev
            .phase_amps(at)
            .iter()
            .zip(volts)
            .map(|(a, v)| a * v)
            .sum();
        self.last = Some((at, net_w, ev_w));
    }

    /// The figures so far.
    pub fn summary(&self) -> Summary {
        let rating = self.house.fuse.rating;
        Summary {
            duration_s: match (self.first_at, self.last_at) {
                (Some(a), Some(b)) => (b - a) as f64 / 1000.0,
                _ => 0.0,
            },
            telegrams: self.telegrams,
            fuse_a: rating.map(|r| r.amps),
            fuse_trips_enabled: rating.is_some_and(|r| r.trips),
            fuse: self.house.fuse.kpis,
            energy: self.energy,
        }
    }
}
