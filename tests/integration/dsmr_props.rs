//! Property tests of the DSMR encoder/parser pair: encode → parse is the identity for every
//! meter kind on values at wire resolution, and arbitrary bytes never make the parser panic.

use proptest::prelude::*;
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::fault::{apply, FrameFault};
use smart_connect_sim::protocol::{Protocol, Reading};

fn kind() -> impl Strategy<Value = DsmrKind> {
    prop::sample::select(DsmrKind::ALL.to_vec())
}

/// A reading at the resolution `kind` carries (whole W, 0.1 V, whole or 0.01 A, 0.001 kWh).
fn reading(kind: DsmrKind) -> impl Strategy<Value = Reading> {
    let phases = kind.phases();
    (
        prop::option::of(978_307_200i64..4_000_000_000),
        "[A-Z0-9]{1,20}",
        prop::array::uniform3(prop::option::of(1800u32..2600)),
        prop::array::uniform3(prop::option::of(0u32..8000)),
        prop::array::uniform3(prop::option::of(-20_000i32..20_000)),
        (0u32..60_000, 0u32..60_000),
        prop::option::of(0u64..99_999_999),
        prop::option::of(0u64..99_999_999),
    )
        .prop_map(move |(ts, id, volts, amps, watts, (imp, exp), t1, gas)| {
            let mut r = Reading::empty(Protocol::Dsmr);
            r.timestamp = ts;
            r.meter_id = Some(id);
            r.version = Some(
                match kind {
                    DsmrKind::Dsmr42 => "4.2",
                    DsmrKind::Emucs => "e-MUCS 50217",
                    _ => "5.0",
                }
                .into(),
            );
            for p in 0..phases {
                if kind.has_voltage() {
                    r.voltage_v[p] = volts[p].map(|v| (f64::from(v) / 10.0) as f32);
                }
                r.current_a[p] = amps[p].map(|a| {
                    if kind.current_decimals() == 2 {
                        (f64::from(a) / 100.0) as f32
                    } else {
                        (a / 100) as f32
                    }
                });
                r.active_power_phase_w[p] = watts[p].map(|w| w as f32);
            }
            r.power_import_w = Some(imp as f32);
            r.power_export_w = Some(exp as f32);
            r.active_power_w = Some(imp as f32 - exp as f32);
            r.energy.import_t1_kwh = t1.map(|v| v as f64 / 1000.0);
            r.energy.gas_m3 = gas.map(|v| v as f64 / 1000.0);
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_parse_is_identity((kind, r) in kind().prop_flat_map(|k| (Just(k), reading(k)))) {
        let bytes = dsmr::encode(&r, kind);
        let t = dsmr::parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(t.reading, r);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = dsmr::parse(&bytes);
    }

    #[test]
    fn mutated_telegrams_never_panic_and_never_pass_silently(
        (kind, r) in kind().prop_flat_map(|k| (Just(k), reading(k))),
        at in 0usize..2000,
        mask in 1u8..=255,
    ) {
        let bytes = dsmr::encode(&r, kind);
        let bad = apply(&bytes, &FrameFault::FlipByte { at, mask });
        if let Ok(t) = dsmr::parse(&bad) {
            // Only harmless flips may still decode, to the same values: the parity bit alone,
            // or the case of a CRC hex letter (lower-case CRCs exist in the field).
            let i = at % bytes.len();
            let bang = bytes.iter().rposition(|&b| b == b'!').unwrap();
            let case_of_crc_letter = mask == 0x20 && i > bang && bytes[i].is_ascii_alphabetic();
            prop_assert!(mask == 0x80 || case_of_crc_letter, "flip {mask:#04x} at {i} accepted");
            prop_assert_eq!(t.reading, r);
        }
        // Cutting anywhere before the end of the CRC digits must be noticed.
        let crc_end = bytes.iter().rposition(|&b| b == b'!').unwrap() + 5;
        let truncated = apply(&bytes, &FrameFault::Truncate { keep: at % crc_end });
        prop_assert!(dsmr::parse(&truncated).is_err());
    }
}
