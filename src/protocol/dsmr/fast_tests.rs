//! Tests of the parser's fast path against the generic code: every helper against its
//! byte-at-a-time or `values.rs` counterpart, and whole telegrams — the real captures in
//! `fixtures/dsmr/`, generated lines and random byte edits of both, re-signed so that the
//! lines are read — parsed with and without the fast path to the same `Telegram` or the same
//! error.
#![allow(clippy::arithmetic_side_effects)]

use super::super::lanes::{self, first_bits, load16, number_in, unit_word};
use super::super::values::{decimal, scaled};
use super::super::{parse_clean, parse_generic, CRC};
use super::*;
use crate::protocol::framer::{frame_all, Event, FramerMode};
use proptest::prelude::*;

/// Every P1 frame of every capture in `fixtures/dsmr/`, in file order.
pub(in crate::protocol::dsmr) fn captures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dsmr");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/dsmr")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut frames = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("fixture");
        for ev in frame_all(&bytes, FramerMode::P1) {
            if let Event::Frame(fr) = ev {
                frames.push(fr.into_bytes());
            }
        }
    }
    assert!(frames.len() > 30, "captures found: {}", frames.len());
    frames
}

/// The telegram with its CRC recomputed over `/` … the first `!` (unchanged without a `!`).
pub(in crate::protocol::dsmr) fn resign(mut b: Vec<u8>) -> Vec<u8> {
    if let Some(bang) = b.iter().position(|&c| c == b'!') {
        b.truncate(bang + 1);
        let crc = CRC.checksum(&b);
        b.extend_from_slice(format!("{crc:04X}\r\n").as_bytes());
    }
    b
}

/// Both paths on the same bytes, with and without the raw lines.
fn same_outcome(b: &[u8]) -> Result<(), TestCaseError> {
    for keep_raw in [false, true] {
        let opts = ParseOptions { keep_raw };
        let fast = parse_clean(b, opts);
        let slow = parse_generic(b, opts);
        prop_assert_eq!(
            &fast,
            &slow,
            "keep_raw {}: {:?}",
            keep_raw,
            String::from_utf8_lossy(b)
        );
    }
    Ok(())
}

#[test]
fn every_capture_parses_the_same_both_ways() {
    for c in captures() {
        same_outcome(&c).unwrap();
        same_outcome(&resign(c)).unwrap();
    }
}

#[test]
fn the_table_holds_every_mapped_key_and_nothing_else() {
    for (k, act) in MAPPED {
        let n = k.to_le_bytes().iter().take_while(|&&b| b != 0).count();
        assert_eq!(act_of(k, n), act, "{:?}", k.to_le_bytes());
        // The same bytes with a NUL before '(' are not the mapped line (the generic code
        // refuses the OBIS reference).
        assert_eq!(act_of(k, n + 1), Act::Other, "{:?}", k.to_le_bytes());
    }
    for other in [
        &b"1-0:1.7.1"[..],
        b"1-0:32.7.1",
        b"0-0:96.14.0",
        b"1-0:99.97.0",
        b"0-1:24.2.1",
        b"",
        b"1",
        b"1-0:32.7.0.",
    ] {
        assert_eq!(
            act_of(obis_key(other), other.len()),
            Act::Other,
            "{other:?}"
        );
    }
    assert!(is_mbus(obis_key(b"0-3:24.2.1"), 10));
    assert!(!is_mbus(obis_key(b"0-3:24.2.1\0"), 11));
    assert!(!is_mbus(obis_key(b"0-9:24.2.1"), 10));
}

#[test]
fn unit_words_follow_the_unit_lists() {
    for (list, words) in [
        (KW, KW_WORDS),
        (KWH, KWH_WORDS),
        (VOLT, VOLT_WORDS),
        (AMP, AMP_WORDS),
    ] {
        for (i, (name, exp)) in list.iter().enumerate() {
            assert_eq!(words[i], (unit_word(name.as_bytes()), *exp));
        }
    }
    assert_ne!(unit_word(b"kW"), unit_word(b"kW\0"));
}

/// Bytes that make numbers, units and line structure, and a few that break them.
fn edit_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"0123456789.-*()kWhVAms!/\r\n:".to_vec()),
        1 => any::<u8>(),
    ]
}

fn window() -> impl Strategy<Value = [u8; 16]> {
    prop::array::uniform16(edit_byte())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn masks_match_a_byte_at_a_time(w in window()) {
        let mask = |hit: &dyn Fn(u8) -> bool| {
            (0..16).filter(|&i| hit(w[i])).fold(0u32, |m, i| m | 1 << i)
        };
        prop_assert_eq!(lanes::open_mask(&w), mask(&|b| b == b'('));
        prop_assert_eq!(lanes::stop_mask(&w), mask(&|b| matches!(b, b'(' | b')' | b'\n')));
        prop_assert_eq!(
            lanes::obis_mask(&w),
            mask(&|b| b.is_ascii_alphanumeric() || b"-:.*".contains(&b))
        );
    }

    #[test]
    fn number_in_agrees_with_decimal(w in window(), len in 0usize..16) {
        let raw = &w[..len];
        let star = raw.iter().position(|&c| c == b'*');
        let (num, unit) = match star {
            Some(i) => (&raw[..i], Some(&raw[i + 1..])),
            None => (raw, None),
        };
        let read = number_in(raw);
        if let Some(n) = read {
            prop_assert_eq!(decimal(num), Some((n.mantissa, n.scale)), "{:?}", raw);
            prop_assert_eq!(n.unit, unit.map(unit_word), "{:?}", raw);
            prop_assert!(unit.is_none_or(|u| u.len() <= 3));
        } else {
            // Every number `decimal` reads is read (up to 18 digits), unless its unit is long.
            prop_assert!(decimal(num).is_none() || unit.is_some_and(|u| u.len() > 3), "{:?} not read", raw);
        }
    }

    #[test]
    fn long_numbers_are_left_to_the_generic_code(digits in "[0-9]{17,19}", point in 0usize..20) {
        let mut s = digits.clone();
        s.insert(point.min(s.len()), '.');
        let n = number_in(s.as_bytes());
        if digits.len() > 18 {
            prop_assert_eq!(n, None);
        } else {
            prop_assert_eq!(n.map(|n| (n.mantissa, n.scale)), decimal(s.as_bytes()));
        }
    }

    #[test]
    fn loads_past_the_end_read_nul(b in prop::collection::vec(any::<u8>(), 0..40), at in 0usize..48) {
        let w = load16(&b, at);
        for (i, &c) in w.iter().enumerate() {
            prop_assert_eq!(c, b.get(at + i).copied().unwrap_or(0));
        }
        prop_assert_eq!(first_bits(at).count_ones() as usize, at.min(32));
    }
}

/// A capture index and edits: (position, what) with what 0 = replace, 1 = insert, 2 = delete.
fn edits() -> impl Strategy<Value = (usize, Vec<(usize, u8, u8)>, bool)> {
    (
        any::<usize>(),
        prop::collection::vec((any::<usize>(), 0u8..3, edit_byte()), 1..4),
        prop::bool::weighted(0.9),
    )
}

fn edited(c: &[u8], ed: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = c.to_vec();
    for &(at, what, byte) in ed {
        let i = at % (b.len() + 1);
        match what {
            0 if i < b.len() => b[i] = byte,
            2 if i < b.len() => {
                b.remove(i);
            }
            _ => b.insert(i, byte),
        }
    }
    b
}

/// Lines the fast path reads or hands over, values of every shape a meter prints.
fn generated_line() -> impl Strategy<Value = String> {
    let obis = prop::sample::select(vec![
        "1-0:1.7.0",
        "1-0:2.7.0",
        "1-0:32.7.0",
        "1-0:72.7.0",
        "1-0:31.7.0",
        "1-0:71.7.0",
        "1-0:21.7.0",
        "1-0:62.7.0",
        "1-0:1.8.0",
        "1-0:1.8.1",
        "1-0:2.8.2",
        "1-3:0.2.8",
        "0-0:96.1.4",
        "0-0:1.0.0",
        "0-0:96.1.1",
        "0-0:96.1.0",
        "0-0:42.0.0",
        "0-1:24.1.0",
        "0-2:24.2.1",
        "0-4:24.2.3",
        "0-0:96.14.0",
        "1-0:99.97.0",
        "0-0:96.13.0",
        "1-0:32.32.0",
    ]);
    let value = prop_oneof![
        "-?[0-9]{0,10}(\\.[0-9]{0,9})?(\\*(kW|W|kWh|Wh|V|A|m3|GJ|s|kw|))?",
        "[0-9A-Fa-f]{0,36}",
        "[0-9]{12}[SWsw]?",
        "[ -~]{0,20}",
    ];
    (obis, prop::collection::vec(value, 1..4), prop::bool::ANY).prop_map(|(o, vals, lf)| {
        let mut l = o.to_string();
        for v in vals {
            l.push('(');
            l.push_str(&v);
            l.push(')');
        }
        l.push_str(if lf { "\n" } else { "\r\n" });
        l
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edited_captures_parse_the_same_both_ways((pick, ed, sign) in edits()) {
        let caps = CAPTURES.with(|c| c.clone());
        let c = &caps[pick % caps.len()];
        let b = edited(c, &ed);
        same_outcome(&if sign { resign(b) } else { b })?;
    }

    #[test]
    fn generated_lines_parse_the_same_both_ways(
        lines in prop::collection::vec(generated_line(), 1..12),
        ed in prop::collection::vec((any::<usize>(), 0u8..3, edit_byte()), 0..3),
    ) {
        let mut s = String::from("/ISK5\\2M550T-1012\r\n\r\n");
        for l in lines {
            s.push_str(&l);
        }
        s.push_str("!0000\r\n");
        let b = resign(edited(s.as_bytes(), &ed));
        same_outcome(&resign(s.into_bytes()))?;
        same_outcome(&b)?;
    }
}

thread_local! {
    static CAPTURES: std::rc::Rc<Vec<Vec<u8>>> = std::rc::Rc::new(captures());
}

#[test]
fn scaled_small_is_scaled() {
    for m in [0i64, 1, -1, 7, 12_345, -98_765_432, 999_999_999_999_999_999] {
        for scale in 0..=20 {
            for exp in -3..=3 {
                let (a, b) = (scaled_small(m, scale, exp), scaled(m, scale, exp));
                assert_eq!(a.to_bits(), b.to_bits(), "{m} {scale} {exp}");
            }
        }
    }
}

/// `decode_id` as it was before the table: a pair at a time, pushing chars.
fn decode_id_by_pairs(s: &[u8]) -> String {
    use super::super::values::nibble;
    if s.len().is_multiple_of(2) {
        let mut out = String::new();
        let decoded = s.chunks_exact(2).all(|p| {
            match nibble(p[0]).zip(nibble(p[1])).map(|(h, l)| (h << 4) | l) {
                Some(v) if (0x20..0x7F).contains(&v) => {
                    out.push(char::from(v));
                    true
                }
                _ => false,
            }
        });
        if decoded {
            return out;
        }
    }
    String::from_utf8_lossy(s).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decode_id_agrees_with_pair_by_pair_decoding(
        s in prop_oneof!["[0-9A-Fa-f]{0,40}", "[2-7][0-9A-Fa-f]([2-7][0-9A-Fa-f]){0,20}", "[ -~]{0,40}"]
    ) {
        prop_assert_eq!(super::super::values::decode_id(s.as_bytes()), decode_id_by_pairs(s.as_bytes()));
    }
}

#[test]
fn tricky_lines_parse_the_same_both_ways() {
    for line in [
        "1-0:72.7.0(2*6.0*V)",
        "1-0:72.7.0(236.0*VV)",
        "1-0:72.7.0(236.0*V\0)",
        "1-0:72.7.0(236.0*)",
        "1-0:72.7.0(236.0)",
        "1-0:72.7.0(-.5*V)",
        "1-0:72.7.0(5.*V)",
        "1-0:72.7.0(.*V)",
        "1-0:72.7.0(1.2.3*V)",
        "1-0:72.7.0(1234567890123456789*V)",
        "1-0:72.7.0(123456789012345678*V)",
        "1-0:72.7.0(236.0*V)(1)",
        "1-0:72.7.0(236.0*V))",
        "1-0:72.7.0((236.0*V)",
        "1-0:72.7.0(236.0*V)x",
        "1-0:72.7.0(236.0*V)\r\r",
        "1-0:31.7.0(-005*A)",
        "1-0:1.8.1(003432.829*Wh)",
        "1-0:1.8.1(003432.829*kwh)",
        "0-1:24.2.1(190324150000W)(00123.456*m3)",
        "0-1:24.1.0(003)",
        "0-0:96.1.1(4530303434303037313331363530363138)",
        "0-0:96.1.1(453030343430303731333136353036313)",
        "1-0:99.97.0(1)(0-0:96.7.19)(180417201458S)(0000000236*s)",
        "1-0:9?.97.0(1)",
        "1-0:62.7.0\0(00.000*kW)",
        "0-0:96.1.1\0(4530303434303037313331363530363138)",
        "0-1:24.2.1\0(190324150000W)(00123.456*m3)",
        "\0(1)",
        "1-0:32.7.0(236.7*V)\n1-0:52.7.0(234.5*V)",
        "(236.7*V)",
        "1-0:32.7.0",
        "1-0:32.7.0(",
    ] {
        let b = resign(
            format!("/ISK5\\2M550T-1012\r\n\r\n{line}\r\n1-0:52.7.0(234.5*V)\r\n!0000\r\n")
                .into_bytes(),
        );
        same_outcome(&b).unwrap();
        // The same line last, where the 32-byte window runs past the body.
        let b = resign(format!("/ISK5\\2M550T-1012\r\n\r\n{line}\r\n!0000\r\n").into_bytes());
        same_outcome(&b).unwrap();
    }
}
