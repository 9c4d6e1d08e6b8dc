//! Tests of the layout cache: a frame read through a telegram that holds the previous frame's
//! layout gives exactly what a fresh telegram (no cache) gives — the same `Telegram` or the
//! same error — on generated SMR 5.0, DSMR 4.2 and e-MUCS streams, on the real captures, on
//! every single-byte edit of a frame of a pair, on random edits, and on shape changes; and the
//! cache is actually used for clean successors.
#![allow(clippy::arithmetic_side_effects)]

use super::super::fast::tests::{captures, resign};
use super::super::{lanes, parse_framed_into};
use super::*;
use crate::protocol::dsmr::{DsmrKind, DsmrRegisters, Encoder};
use crate::protocol::{ParseError, Protocol};
use proptest::prelude::*;

/// `b` parsed the framed way into `t` (the end marker where the framer finds it: the first
/// `!`); the telegram on success.
fn parse_in(t: &mut Telegram, b: &[u8]) -> Result<Telegram, ParseError> {
    let bang = memchr(b'!', b).unwrap_or(b.len());
    parse_framed_into(b, bang, ParseOptions::default(), t).map(|()| t.clone())
}

/// `next` read after `prev` in one telegram, and in a fresh one: the same outcome. Returns
/// whether the cache read it.
fn same_after(prev: &[u8], next: &[u8]) -> Result<bool, TestCaseError> {
    let mut t = Telegram::default();
    let _ = parse_in(&mut t, prev);
    let mut probe = t.clone();
    let hit = parse_cached(
        next,
        memchr(b'!', next).unwrap_or(0),
        ParseOptions::default(),
        &mut probe,
    );
    let cached = parse_in(&mut t, next);
    let fresh = parse_in(&mut Telegram::default(), next);
    prop_assert_eq!(&cached, &fresh, "{:?}", String::from_utf8_lossy(next));
    if hit {
        prop_assert_eq!(Ok(probe), fresh);
    }
    Ok(hit)
}

/// `n` consecutive telegrams of a meter of `kind` (the protocol's own encoder, as the
/// generator uses it; `tests/integration/dsmr_layout.rs` runs the generator's streams through
/// the framer): a second apart, values drifting, the M-Bus capture time following the clock.
fn stream(kind: &str, n: usize) -> Vec<Vec<u8>> {
    let kind = DsmrKind::from_name(kind).expect("kind");
    let mut enc = Encoder::new(kind);
    let regs = DsmrRegisters::default();
    (0..n as u64)
        .map(|i| enc.encode(&reading(i), &regs).to_vec())
        .collect()
}

/// The reading of second `i`: every value the encoders print, most of them changing.
fn reading(i: u64) -> Reading {
    let wave = ((i * 7919) % 1000) as f64;
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(1_776_254_400 + i as i64);
    r.meter_id = Some("E0026000123456789".into());
    r.voltage_v = [
        Some(230.0 + (wave / 100.0) as f32),
        Some(231.5),
        Some(229.8),
    ];
    r.current_a = [Some(1.0 + (wave / 500.0) as f32), Some(0.0), Some(2.0)];
    r.power_import_w = Some(400.0 + wave as f32);
    r.power_export_w = Some(0.0);
    r.active_power_w = Some(400.0 + wave as f32);
    r.active_power_phase_w = [Some(100.0 + wave as f32), Some(200.0), Some(100.0)];
    r.energy.import_t1_kwh = Some(1234.567 + i as f64 * 0.001);
    r.energy.import_t2_kwh = Some(2345.678);
    r.energy.export_t1_kwh = Some(0.0);
    r.energy.export_t2_kwh = Some(12.5);
    r.energy.gas_m3 = Some(4567.891 + i as f64 * 0.001);
    r
}

#[test]
fn generated_streams_read_from_the_layout_as_without_it() {
    for kind in ["smr5", "dsmr42", "emucs"] {
        let frames = stream(kind, 400);
        // One telegram for the whole stream, as the device keeps it.
        let mut t = Telegram::default();
        let mut hits = 0;
        for (i, f) in frames.iter().enumerate() {
            let mut probe = t.clone();
            let bang = memchr(b'!', f).expect("end marker");
            hits += usize::from(parse_cached(f, bang, ParseOptions::default(), &mut probe));
            let cached = parse_in(&mut t, f);
            let fresh = parse_in(&mut Telegram::default(), f);
            assert_eq!(cached, fresh, "{kind} frame {i}");
            assert!(cached.is_ok(), "{kind} frame {i}");
        }
        assert!(hits > 300, "{kind}: {hits} of 400 read from the layout");
    }
}

#[test]
fn the_smr5_capture_repeated_is_read_from_the_layout() {
    let f = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt"),
    )
    .expect("fixture");
    assert!(same_after(&f, &f).unwrap(), "the same frame twice: a hit");
}

#[test]
fn captures_after_each_other_read_as_without_the_layout() {
    let c = captures();
    for pair in c.windows(2) {
        same_after(&pair[0], &pair[1]).unwrap();
        same_after(&pair[1], &pair[0]).unwrap();
    }
    let mut parsed = 0;
    for f in &c {
        // A frame that parses is read from its own layout the second time.
        let ok = parse_in(&mut Telegram::default(), f).is_ok();
        parsed += usize::from(ok);
        assert_eq!(
            same_after(f, f).unwrap(),
            ok,
            "{:?}",
            String::from_utf8_lossy(f)
        );
    }
    assert!(parsed > 20, "{parsed} captures parse");
}

#[test]
fn every_single_byte_edit_of_a_successor_reads_as_without_the_layout() {
    let frames = stream("smr5", 2);
    let (prev, next) = (&frames[0], &frames[1]);
    let mut hits = 0;
    for i in 0..next.len() {
        for c in *b"07x.(*)\n!W" {
            let mut e = next.clone();
            e[i] = c;
            hits += usize::from(same_after(prev, &e).unwrap());
            hits += usize::from(same_after(prev, &resign(e)).unwrap());
        }
    }
    assert!(hits > 100, "{hits} edits read from the layout");
}

#[test]
fn shape_changes_read_as_without_the_layout() {
    let frames = stream("smr5", 2);
    let (prev, next) = (frames[0].clone(), frames[1].clone());
    let text = String::from_utf8(next.clone()).expect("ascii");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let edits: Vec<String> = vec![
        // Another meter id (hex digits of the 96.1.1 line).
        text.replacen("0-0:96.1.1(4", "0-0:96.1.1(5", 1),
        // A line missing.
        lines
            .iter()
            .filter(|l| !l.starts_with("1-0:32.7.0"))
            .copied()
            .collect(),
        // A value wider, another one narrower: the same length, the points moved.
        text.replacen("1-0:1.8.1(0", "1-0:1.8.1(", 1)
            .replacen("*kW)", "0*kW)", 1),
        // A value wider, the frame one byte longer.
        text.replacen("1-0:32.7.0(", "1-0:32.7.0(0", 1),
        // Another version, another timestamp season.
        text.replacen("1-3:0.2.8(50)", "1-3:0.2.8(42)", 1),
        if text.contains("S)\r\n0-0:96.1.1") {
            text.replacen("S)\r\n0-0:96.1.1", "W)\r\n0-0:96.1.1", 1)
        } else {
            text.replacen("W)\r\n0-0:96.1.1", "S)\r\n0-0:96.1.1", 1)
        },
    ];
    for e in edits {
        assert_ne!(e.as_bytes(), &next[..], "the edit applies");
        assert!(!same_after(&prev, &resign(e.into_bytes())).unwrap());
    }
}

#[test]
fn raw_lines_are_kept_after_a_cached_read() {
    let frames = stream("smr5", 2);
    let mut t = Telegram::default();
    parse_in(&mut t, &frames[0]).expect("parses");
    let opts = ParseOptions { keep_raw: true };
    let bang = memchr(b'!', &frames[1]).expect("end marker");
    parse_framed_into(&frames[1], bang, opts, &mut t).expect("parses");
    let mut fresh = Telegram::default();
    parse_framed_into(&frames[1], bang, opts, &mut fresh).expect("parses");
    assert!(!t.raw.is_empty());
    assert_eq!(t, fresh);
}

/// Bytes that make numbers, units and line structure, and a few that break them (7-bit: the
/// framer clears bit 7 before the parser sees a frame).
fn edit_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"0123456789.-*()kWhVAms!/\r\nSW".to_vec()),
        1 => any::<u8>().prop_map(|b| b & 0x7F),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_of_a_successor_read_as_without_the_layout(
        kind in prop::sample::select(vec!["smr5", "dsmr42", "emucs"]),
        first in 0usize..30,
        edits in prop::collection::vec((any::<prop::sample::Index>(), edit_byte()), 1..4),
        sign in any::<bool>(),
    ) {
        let frames = stream(kind, first + 2);
        let (prev, mut next) = (frames[first].clone(), frames[first + 1].clone());
        for (at, c) in edits {
            let i = at.index(next.len());
            next[i] = c;
        }
        let next = if sign { resign(next) } else { next };
        same_after(&prev, &next)?;
    }
}

#[test]
fn changed_time_gas_and_quantity_digits_are_read_from_the_layout() {
    for kind in ["smr5", "emucs"] {
        let frames = stream(kind, 2);
        let text = String::from_utf8(frames[1].clone()).expect("ascii");
        // The digit at `at`, made another digit.
        let bump = |at: usize| {
            let mut b = frames[1].clone();
            assert!(b[at].is_ascii_digit(), "{kind}: a digit at {at}");
            b[at] = if b[at] == b'9' { b'0' } else { b[at] + 1 };
            resign(b)
        };
        let find = |s: &str| text.find(s).unwrap_or_else(|| panic!("{kind}: {s}"));
        for at in [
            // The gas value, an energy register, the timestamp's seconds, the capture time's.
            find("*m3)") - 1,
            find("*kWh)") - 1,
            find("0-0:1.0.0(") + 10 + 11,
            find(":24.2.") + 6 + 11,
        ] {
            assert!(
                same_after(&frames[0], &bump(at)).unwrap(),
                "{kind}: a hit at {at}"
            );
            assert!(
                same_after(&frames[1], &bump(at)).unwrap(),
                "{kind}: a hit at {at}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn same_mask_matches_a_byte_at_a_time(
        new in prop::array::uniform16(edit_byte()),
        old in prop::array::uniform16(edit_byte()),
        free in prop::array::uniform16(prop::sample::select(vec![0u8, 0xFF])),
        any_byte in any::<u8>(),
    ) {
        let mut new = new;
        new[usize::from(any_byte % 16)] = any_byte;
        let want = (0..16)
            .filter(|&i| new[i] == old[i] || (free[i] != 0 && new[i].is_ascii_digit()))
            .fold(0u32, |m, i| m | 1 << i);
        prop_assert_eq!(lanes::same_mask(&new, &old, &free), want);
    }
}

#[test]
fn a_second_gas_channel_reads_as_without_the_layout() {
    let frames = stream("smr5", 2);
    // Channel 2 a second gas meter (its lines those of the first frame's channel 1): its
    // value does not fill the slot channel 1 filled.
    let text0 = String::from_utf8(frames[0].clone()).expect("ascii");
    let from = text0.find("0-1:24.1.0").expect("M-Bus lines");
    let second = text0[from..text0.find('!').expect("end marker")].replace("0-1:", "0-2:");
    let two = |f: &[u8]| {
        let text = String::from_utf8(f.to_vec()).expect("ascii");
        let to = text.find('!').expect("end marker");
        resign(format!("{}{second}{}", &text[..to], &text[to..]).into_bytes())
    };
    let (prev, next) = (two(&frames[0]), two(&frames[1]));
    assert!(
        same_after(&prev, &next).unwrap(),
        "channel 1 changed: a hit"
    );
    let text = String::from_utf8(next.clone()).expect("ascii");
    let last = text.rfind("*m3)").expect("channel 2 value") - 1;
    let mut edited = next.clone();
    edited[last] = if edited[last] == b'9' {
        b'0'
    } else {
        edited[last] + 1
    };
    assert!(
        !same_after(&next, &resign(edited)).unwrap(),
        "channel 2 changed: a miss"
    );
}
