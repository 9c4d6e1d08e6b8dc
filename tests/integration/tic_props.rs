//! Property tests of the TIC encoder and parser: encode → parse is the identity on every
//! value a meter kind carries (values quantised to the wire resolution), and no input —
//! random bytes or a valid frame with random damage — makes the parser panic.

use proptest::prelude::*;
use smart_connect_sim::protocol::tic::{self, TicKind};
use smart_connect_sim::protocol::{Energy, ErrorKind, Protocol, Quirk, Reading};

/// 2001-01-01T00:00:00Z .. 2099-12-30T00:00:00Z.
const TS_RANGE: std::ops::Range<i64> = 978_307_200..4_102_272_000;

/// Whether the local (Paris) date of `ts` is 1 January 2000 or 2070: meters print those
/// dates when they have no time (`000101…`, `700101…`), so the parser reads them as the
/// placeholder (`Quirk::PlaceholderTime`) by design, and a reading on those two days
/// cannot round-trip.
fn placeholder_day(ts: i64) -> bool {
    use chrono::{Datelike, TimeZone};
    let local = chrono_tz::Europe::Paris.timestamp_opt(ts, 0).unwrap();
    local.month() == 1 && local.day() == 1 && matches!(local.year(), 2000 | 2070)
}

fn whole(max: u32) -> impl Strategy<Value = f32> {
    (0..=max).prop_map(|v| v as f32)
}

fn wh_as_kwh() -> impl Strategy<Value = f64> {
    (0u64..=999_999_999).prop_map(|wh| wh as f64 / 1000.0)
}

prop_compose! {
    fn reading()(
        timestamp in TS_RANGE.prop_filter("a placeholder day", |t| !placeholder_day(*t)),
        meter_id in "[0-9]{12}",
        voltage in [whole(999), whole(999), whole(999)],
        current in [whole(999), whole(999), whole(999)],
        import in whole(99_999),
        export in whole(99_999),
        phases in [whole(99_999), whole(99_999), whole(99_999)],
        exporting in any::<bool>(),
        import_kwh in wh_as_kwh(),
        export_kwh in wh_as_kwh(),
    ) -> Reading {
        let mut r = Reading::empty(Protocol::TicStandard);
        r.timestamp = Some(timestamp);
        r.meter_id = Some(meter_id);
        r.voltage_v = voltage.map(Some);
        r.current_a = current.map(Some);
        r.power_import_w = Some(import);
        r.power_export_w = Some(export);
        r.active_power_w = Some(import - export);
        r.active_power_phase_w = phases.map(Some);
        r.exporting = Some(exporting);
        r.energy = Energy { import_kwh: Some(import_kwh), export_kwh: Some(export_kwh), ..Energy::default() };
        r
    }
}

/// What parsing a `kind` frame encoded from `r` must give.
fn expected(r: &Reading, kind: TicKind) -> Reading {
    let tri = kind.three_phase();
    let phases = if tri { 3 } else { 1 };
    let first = |v: [Option<f32>; 3]| std::array::from_fn(|i| if i < phases { v[i] } else { None });
    let import = r.power_import_w;
    let mut e = Reading::empty(Protocol::TicStandard);
    e.meter_id = r.meter_id.clone();
    e.current_a = first(r.current_a);
    e.power_import_w = import;
    e.energy.import_kwh = r.energy.import_kwh;
    if !kind.is_standard() {
        e.protocol = Protocol::TicHistoric;
        e.version = Some("TIC historic".into());
        e.active_power_w = import;
        e.active_power_phase_w = if tri { [None; 3] } else { [import, None, None] };
        return e;
    }
    e.version = Some("TIC V2".into());
    e.timestamp = r.timestamp;
    e.voltage_v = first(r.voltage_v);
    e.active_power_phase_w = if tri {
        r.active_power_phase_w
    } else {
        [import, None, None]
    };
    e.exporting = r.exporting;
    if kind.producer() {
        e.power_export_w = r.power_export_w;
        e.active_power_w = r.active_power_w;
        e.energy.export_kwh = r.energy.export_kwh;
    } else {
        e.active_power_w = import;
    }
    e
}

fn kind() -> impl Strategy<Value = TicKind> {
    prop::sample::select(TicKind::ALL.to_vec())
}

/// Damage to a valid frame.
#[derive(Debug, Clone)]
enum Damage {
    Replace(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<usize>().prop_map(Damage::Remove),
        any::<usize>().prop_map(Damage::Truncate),
    ]
}

fn apply(frame: &mut Vec<u8>, d: &Damage) {
    let n = frame.len().max(1);
    match *d {
        Damage::Replace(i, b) if !frame.is_empty() => frame[i % n] = b,
        Damage::Insert(i, b) => frame.insert(i % (frame.len() + 1), b),
        Damage::Remove(i) if !frame.is_empty() => {
            frame.remove(i % n);
        }
        Damage::Truncate(i) => frame.truncate(i % n),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_is_identity(r in reading(), kind in kind()) {
        let frame = tic::encode(&r, kind);
        let t = tic::parse(&frame).map_err(|e| TestCaseError::fail(format!("{kind:?}: {e}")))?;
        prop_assert!(t.quirks.is_empty(), "{:?}: {:?}", kind, t.quirks);
        prop_assert_eq!(t.reading, expected(&r, kind), "{:?}", kind);
    }

    #[test]
    fn parity_bits_do_not_change_the_reading(r in reading(), kind in kind()) {
        let frame = tic::encode(&r, kind);
        let odd: Vec<u8> =
            frame.iter().map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b }).collect();
        prop_assert_eq!(tic::parse(&odd).unwrap().reading, tic::parse(&frame).unwrap().reading);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        let _ = tic::parse(&bytes);
        let mut framed = vec![0x02];
        framed.extend_from_slice(&bytes);
        framed.push(0x03);
        let _ = tic::parse(&framed);
    }

    #[test]
    fn group_shaped_noise_never_panics(
        parts in prop::collection::vec(
            prop::sample::select(vec![&b"\n"[..], b"\r", b"\t", b" ", b"DATE", b"E", b"h",
                b"210414082625", b"SINSTS", b"STGE", b"0", b"A", b"0A", b"\x04", b"\x03", b"\x02"]),
            0..60,
        )
    ) {
        let mut f = vec![0x02];
        for p in parts {
            f.extend_from_slice(p);
        }
        f.push(0x03);
        let _ = tic::parse(&f);
    }

    #[test]
    fn damaged_frames_never_panic(
        r in reading(),
        kind in kind(),
        damage in prop::collection::vec(damage(), 1..6),
    ) {
        let mut frame = tic::encode(&r, kind);
        for d in &damage {
            apply(&mut frame, d);
        }
        let _ = tic::parse(&frame);
    }

    #[test]
    fn a_changed_checksum_is_always_caught(r in reading(), kind in kind(), pick in any::<usize>(), by in 1u8..64) {
        let mut frame = tic::encode(&r, kind);
        let crs: Vec<usize> = (1..frame.len()).filter(|&i| frame[i] == b'\r').collect();
        let at = crs[pick % crs.len()] - 1;
        // Another character of the checksum range 0x20..=0x5F.
        frame[at] = (frame[at] - 0x20 + by) % 64 + 0x20;
        match tic::parse(&frame) {
            Err(e) => prop_assert_eq!(e.kind, ErrorKind::BadChecksum),
            // Historic meters may include the last SP in the sum: that one checksum is valid.
            Ok(t) => prop_assert!(!kind.is_standard() && t.quirks == [Quirk::ChecksumMode2]),
        }
    }
}
