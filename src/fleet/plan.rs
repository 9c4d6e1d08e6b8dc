//! What a fleet is, before anything runs (pure): the command-line values (`--shard I/N`,
//! `--meter-mix smr5:70,…`, `--ramp 500/s`) with errors naming what was wrong, and each
//! device's plan — identity, meter kind, meter seed, telegram phase — derived from the fleet
//! seed and the device index alone, so any shard re-creates exactly its own devices and N
//! shards together make the whole fleet once.
//!
//! - Serial/MAC: the simulated OUI `02:58:4D` and a 24-bit suffix `base(seed) + index`, so
//!   serials are unique within a fleet of up to 16 777 216 devices (random suffixes would
//!   collide: ~3 pairs among 10 000).
//! - Meter kind: a low-discrepancy sequence (`frac(index · φ)`) placed on the mix's
//!   cumulative weights, so every contiguous shard gets the mix's proportions within a device.
//! - Phase: a second such sequence spreads each device's first telegram over its cadence, so the
//!   broker sees a smooth message rate rather than a burst at every whole second.

use crate::device::identity::Identity;
use crate::protocol::MeterKind;
use crate::sim::clock::Millis;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The largest fleet: the 24-bit serial suffix space.
pub const MAX_DEVICES: u64 = 1 << 24;

/// A malformed fleet option, naming the option and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--shard {given:?}: expected I/N with 0 ≤ I < N (e.g. 0/4), {why}")]
    Shard { given: String, why: String },
    #[error("--meter-mix {given:?}: {why} (e.g. smr5:70,dsmr42:20,emucs:10)")]
    Mix { given: String, why: String },
    #[error("--ramp {given:?}: expected connections per second like 500/s (1..=100000), {why}")]
    Ramp { given: String, why: String },
    #[error("--devices {given}: expected 1..={MAX_DEVICES}")]
    Devices { given: u64 },
    #[error("--shard {index}/{count}: more shards than the {devices} devices of the fleet")]
    TooManyShards {
        index: u64,
        count: u64,
        devices: u64,
    },
}

/// `--shard I/N`: this process runs the I-th of N contiguous slices of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn parse(s: &str) -> Result<Shard, PlanError> {
        let err = |why: &str| PlanError::Shard {
            given: s.to_string(),
            why: why.to_string(),
        };
        let (i, n) = s.split_once('/').ok_or_else(|| err("no '/'"))?;
        let index: u64 = i.trim().parse().map_err(|_| err("I is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| err("N is not a number"))?;
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index >= count {
            return Err(err("I must be below N"));
        }
        Ok(Shard { index, count })
    }

    /// The device indices of this shard of a fleet of `devices`: contiguous, the sizes of
    /// any two shards differ by at most one.
    pub fn range(self, devices: u64) -> Result<std::ops::Range<u64>, PlanError> {
        if !(1..=MAX_DEVICES).contains(&devices) {
            return Err(PlanError::Devices { given: devices });
        }
        if self.count > devices {
            return Err(PlanError::TooManyShards {
                index: self.index,
                count: self.count,
                devices,
            });
        }
        let at = |i: u64| (u128::from(devices) * u128::from(i) / u128::from(self.count)) as u64;
        Ok(at(self.index)..at(self.index + 1))
    }
}

/// `--meter-mix`: meter kinds with integer weights.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterMix {
    parts: Vec<(MeterKind, u32)>,
    total: u64,
}

impl Default for MeterMix {
    /// All SMR 5.0 meters (the Dutch majority).
    fn default() -> Self {
        MeterMix::parse("smr5:100").expect("the default mix parses")
    }
}

impl MeterMix {
    pub fn parse(s: &str) -> Result<MeterMix, PlanError> {
        let err = |why: String| PlanError::Mix {
            given: s.to_string(),
            why,
        };
        let mut parts = Vec::new();
        for item in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = item
                .split_once(':')
                .ok_or_else(|| err(format!("{item:?} has no ':weight'")))?;
            let kind = MeterKind::from_name(name.trim()).ok_or_else(|| {
                err(format!(
                    "unknown meter {name:?}; known: {}",
                    MeterKind::names()
                ))
            })?;
            let weight: u32 = w
                .trim()
                .parse()
                .map_err(|_| err(format!("weight {w:?} of {name} is not a whole number")))?;
            if parts.iter().any(|(k, _)| *k == kind) {
                return Err(err(format!("{name} is listed twice")));
            }
            if weight > 0 {
                parts.push((kind, weight));
            }
        }
        let total = parts.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return Err(err("no meter kind with a weight above 0".into()));
        }
        Ok(MeterMix { parts, total })
    }

    /// The kind at position `u` in [0, 1) of the cumulative weights.
    fn pick(&self, u: f64) -> MeterKind {
        let mut at = u * self.total as f64;
        for (kind, w) in &self.parts {
            if at < f64::from(*w) {
                return *kind;
            }
            at -= f64::from(*w);
        }
        self.parts
            .last()
            .map(|(k, _)| *k)
            .expect("a mix is never empty")
    }

    pub fn parts(&self) -> &[(MeterKind, u32)] {
        &self.parts
    }
}

/// `--ramp N/s`: at most N connection attempts per second over the whole process.
pub fn parse_ramp(s: &str) -> Result<u32, PlanError> {
    let err = |why: &str| PlanError::Ramp {
        given: s.to_string(),
        why: why.to_string(),
    };
    let n = s.trim().strip_suffix("/s").ok_or_else(|| err("no /s"))?;
    let n: u32 = n.trim().parse().map_err(|_| err("not a whole number"))?;
    if !(1..=100_000).contains(&n) {
        return Err(err("out of range"));
    }
    Ok(n)
}

/// One device of the fleet, as any shard derives it.
#[derive(Debug, Clone, PartialEq)]
pub struct DevicePlan {
    pub index: u64,
    pub identity: Identity,
    pub kind: MeterKind,
    /// The synthetic meter's seed.
    pub meter_seed: u64,
    /// Offset of the first telegram within the meter's cadence, ms.
    pub phase_ms: Millis,
}

/// SplitMix64: a well-mixed 64-bit value from `seed` and `x`.
pub fn mix64(seed: u64, x: u64) -> u64 {
    let mut z = seed ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `frac(index · a)`: evenly spread positions in [0, 1) for consecutive indices. Kinds use
/// the golden ratio, phases the plastic number's pair (R2 sequence): the two are
/// independent, so each kind's phases spread over the whole cadence.
fn spread(index: u64, a: f64) -> f64 {
    ((index as f64) * a).fract()
}

const KIND_STEP: f64 = 0.618_033_988_749_894_8;
const PHASE_STEP: f64 = 0.569_840_290_998_053_3;

const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

impl DevicePlan {
    /// Device `index` of the fleet made from `seed` with `mix`.
    pub fn derive(seed: u64, index: u64, mix: &MeterMix) -> DevicePlan {
        let base = mix64(seed, u64::MAX) & 0xFF_FFFF;
        let suffix = (base + index) & 0xFF_FFFF;
        let mac = [
            0x02,
            0x58,
            0x4D,
            (suffix >> 16) as u8,
            (suffix >> 8) as u8,
            suffix as u8,
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed, index));
        let label_password = (0..16)
            .map(|_| PASSWORD_ALPHABET[rng.random_range(0..PASSWORD_ALPHABET.len())] as char)
            .collect();
        let kind = mix.pick(spread(index, KIND_STEP));
        let cadence_ms = kind.interval_ms();
        DevicePlan {
            index,
            identity: Identity {
                serial: mac.iter().map(|b| format!("{b:02X}")).collect(),
                mac,
                label_password,
            },
            kind,
            meter_seed: rng.random(),
            phase_ms: (spread(index, PHASE_STEP) * cadence_ms as f64) as Millis,
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
