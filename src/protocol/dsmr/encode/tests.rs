//! The allocation-free [`Encoder`](super::Encoder) against the `format!` oracle it replaced on
//! hand-made edge values (ties, negative zero, NaN, huge values), with water and heat meters
//! on any channels (also on one channel); the same over many generated
//! telegrams is in `sim::generator::encode_tests` (the protocols do not use the simulation).
#![allow(clippy::arithmetic_side_effects)]

use super::{oracle, DsmrKind, Encoder};
use crate::protocol::dsmr::{DsmrRegisters, MbusChannel, MbusDevice};
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
            r.energy.water_m3 = (i % 3 != 0).then_some(e);
            r.energy.heat_gj = (i % 2 == 0).then_some(f64::from(v));
            let regs = DsmrRegisters {
                tariff: (i % 3) as u8,
                mbus_capture: (i % 2 == 1).then_some(1_774_745_000),
                water: device(2 + (i % 3) as u8, (i % 4 < 2).then_some(1_774_745_000)),
                heat: device(4 - (i % 3) as u8, (i % 5 < 3).then_some(1_774_742_100)),
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

/// A water or heat meter on `channel` captured at `capture`.
fn device(channel: u8, capture: Option<i64>) -> MbusDevice {
    MbusDevice {
        channel: MbusChannel::new(channel).unwrap(),
        capture,
    }
}

/// A value that is usually ordinary and sometimes at an edge: absent, a tie, past its width.
fn value(pick: u8, x: f32) -> Option<f32> {
    match pick % 8 {
        0 => None,
        1 => Some(x * 1e5),
        2 => Some((x * 100.0).round() / 100.0 + 0.0005),
        3 => Some(-x),
        _ => Some(x),
    }
}

proptest::proptest! {
    /// Telegram after telegram through one encoder — reusing the last telegram's places when
    /// the shape holds, writing anew when a value leaves its width, goes missing or the id
    /// changes — always the oracle's bytes.
    #[test]
    fn a_reused_encoder_writes_the_oracles_bytes_telegram_after_telegram(
        steps in proptest::collection::vec(
            (proptest::prelude::any::<[u8; 6]>(), 0.0f32..400.0, 0.0f64..2e6, 0i64..4000),
            1..60,
        ),
        kind in 0usize..4,
    ) {
        let kind = DsmrKind::ALL[kind];
        let mut enc = Encoder::new(kind);
        for (pick, x, e, dt) in steps {
            let mut r = Reading::empty(Protocol::Dsmr);
            r.timestamp = (pick[0] % 16 != 0).then_some(1_774_745_400 + dt);
            r.meter_id = (pick[1] % 16 == 0).then(|| "E0012345678901234".to_string());
            r.voltage_v = [value(pick[2], x), Some(231.4), value(pick[3], 229.0)];
            r.current_a = [value(pick[3], x / 20.0), Some(3.0), value(pick[4], x)];
            r.active_power_phase_w = [value(pick[4], x * 40.0), value(pick[5], -x * 9.0), Some(12.0)];
            r.active_power_w = value(pick[5], x * 120.0 - 3000.0);
            r.energy.import_t1_kwh = Some(e);
            r.energy.import_t2_kwh = (pick[0] % 32 != 1).then_some(e / 3.0);
            r.energy.export_t1_kwh = Some(e / 7.0 + 0.0005);
            r.energy.gas_m3 = (pick[1] % 8 != 3).then_some(e / 100.0);
            r.energy.water_m3 = (pick[4] % 8 != 5).then_some(e / 300.0);
            r.energy.heat_gj = value(pick[5], x / 3.0).map(f64::from);
            let regs = DsmrRegisters {
                tariff: 1 + pick[2] % 2,
                mbus_capture: (pick[3] % 4 == 0).then_some(1_774_745_100),
                water: device(2 + pick[0] % 3, (pick[4] % 4 != 0).then_some(1_774_745_100 + dt)),
                heat: device(2 + pick[1] % 3, (pick[5] % 4 != 0).then_some(1_774_741_200)),
                ..DsmrRegisters::default()
            };
            let want = oracle::encode_with(&r, kind, &regs);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(enc.encode(&r, &regs)),
                String::from_utf8_lossy(&want)
            );
        }
    }
}
