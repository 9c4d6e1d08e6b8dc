//! The live virtual house behind the meter, for charger and energy-manager developers: a
//! scenario's load plus what is set while `run` runs — per-phase base load (W or A, cos φ),
//! PV (peak, or irradiance now), an EV charger that follows a set-point like a real one
//! (`charger.rs`), a home battery, and the main fuse with its overload accounting and trip
//! (`fuse.rs`). Pure: changes and `now` in, load components for the next telegram out.
//!
//! Layout: this file holds the house state and how a change applies; `change.rs` reads and
//! checks a change (the control API's and scenario events' vocabulary); `live.rs` puts the
//! house in front of a synthetic meter, telegram by telegram, with faults injected now and
//! the KPI summary.

pub mod change;
pub mod charger;
pub mod fuse;
pub mod live;
#[cfg(test)]
mod tests;

use crate::sim::clock::Millis;
use crate::sim::generator::LoadComponent;
use change::{HouseChange, PhaseLoad};
use charger::{Charger, Response, SetPoint};
use fuse::{Fuse, FuseRating};
use serde::Serialize;

/// Nominal mains voltage, V: turns amps and cos φ into watts for a per-phase base load.
const NOMINAL_V: f64 = 230.0;
/// Noise on a per-phase base load set by hand (±5 %): a real house is never flat.
const PHASE_BASE_NOISE: f64 = 0.05;

/// One phase's base load as set by hand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseBase {
    pub watts: f64,
    pub cos_phi: f64,
}

/// PV settings over the scenario's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct PvSettings {
    /// Peak of the sun curve, W (None: the scenario's).
    pub peak_w: Option<f64>,
    /// Irradiance now, W/m² (None: follow the sun curve). Output = peak × irradiance / 1000.
    pub irradiance_w_m2: Option<f64>,
    /// Sunrise and sunset, minutes after local midnight (None: the scenario's).
    pub window_min: Option<(u32, u32)>,
}

/// The house: the scenario's load and everything set since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct House {
    /// Phases of the meter.
    pub phases: usize,
    /// The scenario's `load:` as written.
    #[serde(skip)]
    scenario: Vec<LoadComponent>,
    /// Per-phase base load replacing the scenario's base and imbalance (None: the scenario's).
    pub base: Option<[PhaseBase; 3]>,
    pub pv: PvSettings,
    pub battery_w: f64,
    pub ev: Charger,
    pub fuse: Fuse,
}

impl House {
    /// A house measured by a meter of `phases` phases, starting from a scenario's load.
    pub fn new(phases: usize, scenario: Vec<LoadComponent>) -> Self {
        House {
            phases,
            scenario,
            base: None,
            pv: PvSettings::default(),
            battery_w: 0.0,
            ev: Charger::new(Response::default()),
            fuse: Fuse::new(None),
        }
    }

    /// The scenario's PV peak and, for a fixed window, its sun times, if it has PV.
    fn scenario_pv(&self) -> Option<(f64, Option<(u32, u32)>)> {
        self.scenario.iter().find_map(|c| match *c {
            LoadComponent::Pv { peak_watts } => Some((peak_watts, None)),
            LoadComponent::PvWindow {
                peak_watts,
                sunrise_min,
                sunset_min,
            } => Some((peak_watts, Some((sunrise_min, sunset_min)))),
            _ => None,
        })
    }

    /// The PV peak in force, W.
    pub fn pv_peak_w(&self) -> f64 {
        self.pv
            .peak_w
            .or(self.scenario_pv().map(|p| p.0))
            .unwrap_or(0.0)
    }

    /// Apply a checked change at `now`: it shows from the next telegram on.
    pub fn apply(&mut self, c: &HouseChange, now: Millis) {
        if let Some(base) = c.base {
            self.base = base.map(|phases| {
                let old = self.base;
                std::array::from_fn(|i| match phases[i] {
                    Some(p) => phase_base(p, old.map(|o| o[i])),
                    None => old.map_or(
                        PhaseBase {
                            watts: 0.0,
                            cos_phi: 1.0,
                        },
                        |o| o[i],
                    ),
                })
            });
        }
        if let Some(p) = c.pv_peak_w {
            self.pv.peak_w = Some(p);
        }
        if let Some(i) = c.pv_irradiance_w_m2 {
            self.pv.irradiance_w_m2 = i;
        }
        if let Some(w) = c.pv_window_min {
            self.pv.window_min = Some(w);
        }
        if let Some(w) = c.battery_w {
            self.battery_w = w;
        }
        let r = self.ev.response;
        let response = Response {
            delay_ms: c.ev_delay_ms.unwrap_or(r.delay_ms),
            ramp_ms: c.ev_ramp_ms.unwrap_or(r.ramp_ms),
            min_a: c.ev_min_a.unwrap_or(r.min_a),
            max_a: c.ev_max_a.unwrap_or(r.max_a),
            phase_switch_ms: c.ev_phase_switch_ms.unwrap_or(r.phase_switch_ms),
        };
        if response != r {
            self.ev.set_response(response, now);
        }
        if c.ev_on.is_some() || c.ev_amps.is_some() || c.ev_phases.is_some() {
            let sp = self.ev.set_point;
            let phases = c.ev_phases.unwrap_or(sp.phases);
            let next = SetPoint {
                on: c.ev_on.unwrap_or(sp.on),
                amps: c.ev_amps.unwrap_or(sp.amps),
                phases: if self.phases == 1 { 1 } else { phases },
            };
            // The same set-point again (a charger repeating it every poll) changes nothing:
            // the charger does not start its delay or ramp over.
            if next != sp {
                self.ev.set(next, now);
            }
        }
        if let Some(f) = c.fuse {
            let rating = f.map(|(amps, trips)| FuseRating { amps, trips });
            if rating != self.fuse.rating {
                self.fuse.set_rating(rating, now);
            }
        }
    }

    /// What the meter measures at `t`: the load components of the next telegram.
    pub fn components(&self, t: Millis) -> Vec<LoadComponent> {
        let mut out = Vec::with_capacity(self.scenario.len() + 4);
        for c in &self.scenario {
            match c {
                LoadComponent::Base { .. } | LoadComponent::Imbalance { .. }
                    if self.base.is_some() => {}
                LoadComponent::Pv { .. } => {}
                c => out.push(c.clone()),
            }
        }
        if let Some(b) = self.base {
            out.push(LoadComponent::PhaseBase {
                watts: b.map(|p| p.watts),
                cos_phi: b.map(|p| p.cos_phi),
                noise: PHASE_BASE_NOISE,
            });
        }
        let peak = self.pv_peak_w();
        let window = self.pv.window_min.or(self.scenario_pv().and_then(|p| p.1));
        match (self.pv.irradiance_w_m2, window) {
            (Some(irr), _) => out.push(LoadComponent::PvNow {
                watts: peak * irr / 1000.0,
            }),
            (None, Some((rise, set))) if peak > 0.0 => out.push(LoadComponent::PvWindow {
                peak_watts: peak,
                sunrise_min: rise,
                sunset_min: set,
            }),
            // No sun times set: PV follows the sun at the meter's site.
            (None, None) if peak > 0.0 => out.push(LoadComponent::Pv { peak_watts: peak }),
            _ => {}
        }
        if self.battery_w != 0.0 {
            out.push(LoadComponent::Battery {
                watts: self.battery_w,
            });
        }
        let amps = self.ev.phase_amps(t);
        if amps.iter().any(|a| *a > 0.0) {
            out.push(LoadComponent::Current { amps });
        }
        out
    }
}

/// A phase's base load from what was set (amps become watts at the nominal voltage).
fn phase_base(p: PhaseLoad, old: Option<PhaseBase>) -> PhaseBase {
    let cos_phi = p.cos_phi.or(old.map(|o| o.cos_phi)).unwrap_or(1.0);
    let watts = match (p.watts, p.amps) {
        (Some(w), _) => w,
        (None, Some(a)) => a * NOMINAL_V * cos_phi,
        (None, None) => old.map_or(0.0, |o| o.watts),
    };
    PhaseBase { watts, cos_phi }
}
