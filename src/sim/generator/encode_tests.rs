//! The DSMR telegram [`Encoder`] against the `format!` encoder it replaced (the test oracle):
//! the same bytes for every DSMR kind over many generated telegrams (several seeds, both DST
//! changes, a month end for the e-MUCS demand registers, with and without water and heat
//! meters), and from `SyntheticMeter::next`.
#![allow(clippy::arithmetic_side_effects)]

use super::{HeatMeter, Load, LoadComponent, MbusMeters, SyntheticMeter, WaterMeter};
use crate::protocol::dsmr::MbusChannel;
use crate::protocol::dsmr::{encode_oracle as oracle, DsmrKind, Encoder};
use crate::protocol::MeterKind;

fn household() -> Load {
    Load::Household(vec![
        LoadComponent::Base {
            watts: 450.0,
            noise: 0.4,
        },
        LoadComponent::Pv { peak_watts: 5200.0 },
        LoadComponent::Ev {
            start_min: 0,
            amps: 16.0,
            phases: 3,
            minutes: 24 * 60,
        },
        LoadComponent::Imbalance {
            l1: 1.3,
            l2: 1.0,
            l3: 0.7,
        },
    ])
}

/// Starts (UTC epoch ms) a little before: spring DST, autumn DST, a month end, a summer noon.
const STARTS_MS: [i64; 4] = [
    1_774_745_400_000,
    1_792_889_400_000,
    1_777_589_400_000,
    1_781_956_800_000,
];

/// No water or heat (seed 1), water on 2 and heat on 3 (seed 7), heat before water (42).
fn devices(seed: u64) -> MbusMeters {
    let channel = |n| MbusChannel::new(n).unwrap();
    match seed {
        1 => MbusMeters::default(),
        7 => MbusMeters {
            water: Some(WaterMeter::new(3)),
            heat: Some(HeatMeter::new(25.0)),
        },
        _ => MbusMeters {
            water: Some(WaterMeter {
                channel: channel(4),
                persons: 5,
            }),
            heat: Some(HeatMeter {
                channel: channel(2),
                annual_gj: 40.0,
            }),
        },
    }
}

#[test]
fn the_encoder_writes_the_oracles_bytes_for_generated_telegrams() {
    let mut compared = 0;
    for kind in DsmrKind::ALL {
        for (i, start) in STARTS_MS.into_iter().enumerate() {
            for seed in [1u64, 7, 42] {
                let mk = MeterKind::Dsmr(kind);
                let mut meter = SyntheticMeter::new(mk, household(), seed + i as u64, start)
                    .with_mbus(devices(seed));
                let mut enc = Encoder::new(kind);
                for _ in 0..900 {
                    let from_next = meter.clone().next().bytes;
                    let (_, r) = meter.next_reading();
                    let regs = meter.registers();
                    let want = oracle::encode_with(&r, kind, regs);
                    assert_eq!(
                        String::from_utf8_lossy(enc.encode(&r, regs)),
                        String::from_utf8_lossy(&want),
                        "{kind:?} seed {seed} start {start}"
                    );
                    assert_eq!(from_next, want, "SyntheticMeter::next");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 4 * 4 * 3 * 900);
}
