//! Drive a pure device from a scenario on virtual time, with no sockets: power it as the
//! scenario says, put every telegram of the scenario's meter on its input at the telegram's
//! instant, and record the register timeline. Used for determinism checks, snapshots and
//! the day benchmark.

use super::clock::Millis;
use super::scenario::Scenario;
use crate::device::config::Config;
use crate::device::identity::Identity;
use crate::device::power::PowerInputs;
use crate::device::registers::MeterValues;
use crate::device::{Device, DeviceConfig, Effect, Event};
use crate::time::Instant;
use serde::Serialize;

/// One register snapshot and when it appeared, relative to the scenario start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at_ms: Millis,
    pub values: MeterValues,
}

/// What a scenario run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// FNV-1a hash of every byte the meter put on the line, in order.
    pub bytes_hash: u64,
    pub telegrams: usize,
    pub entries: Vec<TimelineEntry>,
}

/// Stable 64-bit FNV-1a over `bytes`, continuing from `h` (start with `FNV_START`).
pub fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The FNV-1a offset basis.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The device a scenario describes, powered at the scenario start.
pub fn scenario_device(s: &Scenario) -> Device {
    let mut hw = DeviceConfig::new(s.variant);
    hw.identity = Identity::from_seed(s.seed);
    hw.lan = s.lan();
    let mut d = Device::new(hw, Config::default());
    let power = PowerInputs {
        usb: s.device.usb_power,
        p1_supply: s.meter_kind.supplies_p1_power(),
    };
    d.handle(Event::Power(power), Instant::from_epoch_ms(s.start));
    d
}

/// Run the first `duration_ms` of `s` and record every register snapshot.
pub fn register_timeline(s: &Scenario, duration_ms: Millis) -> Timeline {
    let mut device = scenario_device(s);
    let mut meter = s.meter();
    let end = s.start + duration_ms;
    let mut t = Timeline {
        bytes_hash: FNV_START,
        telegrams: 0,
        entries: Vec::new(),
    };
    let record = |fx: Vec<Effect>, t: &mut Timeline, at: Millis| {
        for e in fx {
            if let Effect::RegistersChanged(values) = e {
                t.entries.push(TimelineEntry {
                    at_ms: at - s.start,
                    values,
                });
            }
        }
    };
    while meter.next_at() < end {
        let tel = meter.next();
        t.bytes_hash = fnv1a(t.bytes_hash, &tel.bytes);
        t.telegrams += 1;
        let fx = device.handle(
            Event::SerialBytes(tel.bytes),
            Instant::from_epoch_ms(tel.at),
        );
        record(fx, &mut t, tel.at);
    }
    let fx = device.handle(Event::Tick, Instant::from_epoch_ms(end));
    record(fx, &mut t, end);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;
    use std::path::Path;

    fn load(name: &str) -> Scenario {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        scenario::load(&p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn same_seed_same_bytes_and_timeline_different_seed_different_bytes() {
        let s = load("smr5-household.yaml");
        let a = register_timeline(&s, 120_000);
        assert_eq!(a, register_timeline(&s, 120_000));
        assert!(a.entries.len() > 100, "{} snapshots", a.entries.len());
        let other = Scenario {
            seed: s.seed + 1,
            ..s.clone()
        };
        assert_ne!(register_timeline(&other, 120_000).bytes_hash, a.bytes_hash);
    }

    #[test]
    fn telegrams_during_the_red_boot_phase_are_not_read() {
        let s = load("smr5-household.yaml");
        let t = register_timeline(&s, 10_000);
        // Nothing is read during the red boot phase, 3 s after power-on (LED-02).
        assert!(t.telegrams >= 10);
        assert!(t.entries[0].at_ms >= 3_000, "{:?}", t.entries[0]);
    }

    #[test]
    fn first_minute_timelines() {
        for name in ["smr5-household.yaml", "tic-standard-tri-producer.yaml"] {
            let t = register_timeline(&load(name), 60_000);
            insta::assert_json_snapshot!(name, t);
        }
    }
}
