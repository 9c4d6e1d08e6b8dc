//! The physical load model: the true (unquantised) voltage, current and power per phase at
//! an instant, from fixed values or a household (base load with noise, PV half-sine, EV
//! charging window, three-phase imbalance, PV from the sun (`solar.rs`); the live house's per-phase loads, charger
//! current, battery and PV now), drawn from the values stream at `t`. Active power adds per
//! phase; only base loads are reactive, so the current is √(P² + Q²) / U.

use super::local_time::minute_and_weekday;
use super::{Load, LoadComponent, SyntheticMeter, STREAM_VALUES};
use crate::sim::clock::Millis;
use rand::Rng;

/// Nominal mains voltage, V.
const NOMINAL_V: f64 = 230.0;

/// Unquantised values at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Physical {
    pub(super) voltage: [Option<f64>; 3],
    pub(super) current: [Option<f64>; 3],
    /// Active power, W, signed.
    pub(super) power: [Option<f64>; 3],
    /// Apparent power, VA, with the sign of the active power (what TIC carries).
    pub(super) apparent: [Option<f64>; 3],
}

impl Physical {
    pub(super) fn net_power(&self) -> f64 {
        self.power.iter().flatten().sum()
    }
}

impl SyntheticMeter {
    /// The true values at `t`.
    pub(super) fn physical(&mut self, t: Millis) -> Physical {
        let n = self.kind.phases();
        let mut p = Physical::default();
        match &self.load {
            Load::Fixed(f) => {
                for i in 0..n {
                    p.voltage[i] = f.voltage_v[i];
                    p.current[i] = f.current_a[i].map(f64::abs);
                    p.power[i] = f.power_w[i];
                    p.apparent[i] = f.power_w[i];
                }
            }
            Load::Household(parts) => {
                let has_pv = parts.iter().any(|c| matches!(c, LoadComponent::Pv { .. }));
                let sun = if has_pv { self.pv_fraction(t) } else { 0.0 };
                let Load::Household(parts) = &self.load else {
                    return p;
                };
                self.rng.set_stream(STREAM_VALUES);
                self.rng.set_word_pos(u128::from(t as u64) * 64);
                let noise: [f64; 3] = std::array::from_fn(|_| self.rng.random::<f64>());
                let cos_phi: [f64; 3] = std::array::from_fn(|_| self.rng.random_range(0.9..1.0));
                let (minute, _) = minute_and_weekday(self.local.local_ms(t));
                // Per phase: reactive (base) load, its reactive power, resistive load in W
                // and in A (drawn at the phase voltage).
                let mut base = 0.0;
                let mut factor = [1.0; 3];
                let mut phase_p = [0.0; 3];
                let mut phase_q = [0.0; 3];
                let mut even = 0.0;
                let mut ev = [0.0; 3];
                let mut amps_drawn = [0.0; 3];
                for part in parts {
                    match *part {
                        LoadComponent::Base { watts, noise } => {
                            let u: f64 = self.rng.random();
                            base += watts * (1.0 + noise * (2.0 * u - 1.0));
                        }
                        LoadComponent::Pv { peak_watts } => even -= peak_watts * sun,
                        LoadComponent::PvWindow {
                            peak_watts,
                            sunrise_min,
                            sunset_min,
                        } => even -= pv_window(peak_watts, sunrise_min, sunset_min, minute),
                        LoadComponent::PvNow { watts } => even -= watts.max(0.0),
                        LoadComponent::Battery { watts } => even += watts,
                        LoadComponent::Ev {
                            start_min,
                            amps,
                            phases,
                            minutes,
                        } => {
                            let since = (minute - f64::from(start_min)).rem_euclid(1440.0);
                            if since < f64::from(minutes) {
                                for e in ev.iter_mut().take(usize::from(phases).min(n)) {
                                    *e += amps * NOMINAL_V;
                                }
                            }
                        }
                        LoadComponent::Current { amps } => {
                            for (d, a) in amps_drawn.iter_mut().zip(amps).take(n) {
                                *d += a.max(0.0);
                            }
                        }
                        LoadComponent::PhaseBase {
                            watts,
                            cos_phi,
                            noise,
                        } => {
                            for i in 0..n {
                                let u: f64 = self.rng.random();
                                let w = watts[i].max(0.0) * (1.0 + noise * (2.0 * u - 1.0));
                                phase_p[i] += w;
                                phase_q[i] += w * tan_phi(cos_phi[i]);
                            }
                        }
                        LoadComponent::Imbalance { l1, l2, l3 } if n == 3 => {
                            for (f, x) in factor.iter_mut().zip([l1, l2, l3]) {
                                *f *= x;
                            }
                        }
                        LoadComponent::Imbalance { .. } => {}
                    }
                }
                for i in 0..n {
                    let b = base / n as f64 * factor[i];
                    let resistive = even / n as f64 + ev[i];
                    let w_nominal = b + phase_p[i] + resistive + amps_drawn[i] * NOMINAL_V;
                    // Export lifts the local voltage a little (≈0.5 V per kW).
                    let u = NOMINAL_V + self.volt_offset[i] + 3.0 * (noise[i] - 0.5)
                        - w_nominal * 0.0005;
                    // Active power adds; only the appliances (base loads) are reactive.
                    let w = b + phase_p[i] + resistive + amps_drawn[i] * u;
                    let q = b * tan_phi(cos_phi[i]) + phase_q[i];
                    let amps = w.hypot(q) / u;
                    p.voltage[i] = Some(u);
                    p.current[i] = Some(amps);
                    p.power[i] = Some(w);
                    p.apparent[i] = Some(w.signum() * u * amps);
                }
            }
        }
        p
    }
}

/// tan φ of a power factor (0 for a factor of 1 or out of range).
fn tan_phi(cos_phi: f64) -> f64 {
    if cos_phi > 0.0 && cos_phi < 1.0 {
        (1.0 - cos_phi * cos_phi).sqrt() / cos_phi
    } else {
        0.0
    }
}

/// PV output (W, ≥ 0) at `minute` of the local day on a half-sine between sunrise and sunset.
fn pv_window(peak: f64, sunrise: u32, sunset: u32, minute: f64) -> f64 {
    let (rise, set) = (f64::from(sunrise), f64::from(sunset));
    if set <= rise || minute <= rise || minute >= set {
        return 0.0;
    }
    peak * (std::f64::consts::PI * (minute - rise) / (set - rise)).sin()
}
