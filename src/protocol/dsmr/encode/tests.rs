//! The allocation-free [`Encoder`](super::Encoder) against the `format!` oracle it replaced on
//! hand-made edge values (ties, negative zero, NaN, huge values); the same over many generated
//! telegrams is in `sim::generator::encode_tests` (the protocols do not use the simulation).
#![allow(clippy::arithmetic_side_effects)]

use super::{oracle, DsmrKind, Encoder};
use crate::protocol::dsmr::DsmrRegisters;
use crate::protocol::{Protocol, Reading};

#[test]
fn the_encoder_writes_the_oracles_bytes_for_edge_values() {
    let values: [f32; 16] = [
        0.0,
        -0.0,
        0.5,
        2.5,
        0.049_999,
        0.05,
        229.95,
        1e-7,
        -3.25,
        999.999,
        1234.5678,
        16_777_216.0,
        3.0e12,
        f32::NAN,
        f32::INFINITY,
        f32::MAX,
    ];
    let energies = [0.0, 0.0005, 1.0005, 123_456.789, 9.999_999_5, 1e15, -1.0];
    for kind in DsmrKind::ALL {
        let mut enc = Encoder::new(kind);
        for (i, &v) in values.iter().enumerate() {
            let mut r = Reading::empty(Protocol::Dsmr);
            r.timestamp = [None, Some(-62_000_000_000_000), Some(1_774_746_000)][i % 3];
            r.meter_id = (i % 2 == 0).then(|| format!("E00{i:014}"));
            r.voltage_v = [Some(v), None, Some(-v)];
            r.current_a = [Some(v), Some(-v), None];
            r.active_power_phase_w = [Some(v), Some(-v), None];
            r.active_power_w = Some(v);
            let e = energies[i % energies.len()];
            r.energy.import_t1_kwh = Some(e);
            r.energy.export_t2_kwh = Some(f64::from(v));
            r.energy.gas_m3 = (i % 4 != 0).then_some(e);
            let regs = DsmrRegisters {
                tariff: (i % 3) as u8,
                mbus_capture: (i % 2 == 1).then_some(1_774_745_000),
                ..DsmrRegisters::default()
            };
            assert_eq!(
                String::from_utf8_lossy(enc.encode(&r, &regs)),
                String::from_utf8_lossy(&oracle::encode_with(&r, kind, &regs)),
                "{kind:?} value {v} energy {e}"
            );
        }
    }
}
