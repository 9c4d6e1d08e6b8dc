//! Unit tests of the DSMR parser and encoder on hand-made telegrams.
#![allow(clippy::arithmetic_side_effects)]

use super::*;
use crate::protocol::fault::{apply, FrameFault};

/// Build a telegram from lines, with a valid CRC.
fn telegram(header: &str, lines: &[&str]) -> Vec<u8> {
    let mut s = format!("/{header}\r\n\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push('!');
    let crc = CRC.checksum(s.as_bytes());
    format!("{s}{crc:04X}\r\n").into_bytes()
}

const SMR5: &[&str] = &[
    "1-3:0.2.8(50)",
    "0-0:1.0.0(220901152201S)",
    "0-0:96.1.1(4530303236303030303234313533363135)",
    "1-0:1.8.1(006285.065*kWh)",
    "1-0:1.7.0(01.335*kW)",
    "1-0:2.7.0(00.000*kW)",
    "1-0:99.97.0(2)(0-0:96.7.19)(220826145825S)(0000004982*s)(000101000001W)(2147483647*s)",
    "1-0:32.7.0(230.0*V)",
    "1-0:52.7.0(229.5*V)",
    "1-0:72.7.0()",
    "1-0:31.7.0(005*A)",
    "1-0:21.7.0(01.254*kW)",
    "1-0:41.7.0(00.081*kW)",
    "1-0:22.7.0(00.000*kW)",
    "1-0:62.7.0(00.200*kW)",
    "0-1:24.1.0(003)",
    "0-1:24.2.1(220901150000S)(04836.851*m3)",
];

#[test]
fn maps_instantaneous_values() {
    let t = parse(&telegram("ISK5\\2M550T-1012", SMR5)).unwrap();
    let r = &t.reading;
    assert_eq!(r.version.as_deref(), Some("5.0"));
    assert_eq!(r.meter_id.as_deref(), Some("E0026000024153615"));
    assert_eq!(r.timestamp, Some(1_662_038_521));
    assert_eq!(r.voltage_v, [Some(230.0), Some(229.5), None]);
    assert_eq!(r.current_a, [Some(5.0), None, None]);
    assert_eq!(r.power_import_w, Some(1335.0));
    assert_eq!(r.power_export_w, Some(0.0));
    assert_eq!(r.active_power_w, Some(1335.0));
    assert_eq!(
        r.active_power_phase_w,
        [Some(1254.0), Some(81.0), Some(-200.0)]
    );
    assert_eq!(r.energy.import_t1_kwh, Some(6285.065));
    assert_eq!(r.energy.gas_m3, Some(4836.851));
    assert_eq!(t.header.as_deref(), Some("ISK5\\2M550T-1012"));
    assert!(t.raw.is_empty(), "raw lines only on request");
    let t = parse_with(
        &telegram("ISK5\\2M550T-1012", SMR5),
        ParseOptions { keep_raw: true },
    )
    .unwrap();
    assert!(t.raw.iter().any(|l| l.starts_with("1-0:99.97.0")));
}

#[test]
fn dsmr42_without_voltage_has_none_not_zero() {
    let t = parse(&telegram(
        "KFM5KAIFA-METER",
        &["1-3:0.2.8(42)", "1-0:1.7.0(00.500*kW)"],
    ))
    .unwrap();
    assert_eq!(t.reading.voltage_v, [None; 3]);
    assert_eq!(t.reading.version.as_deref(), Some("4.2"));
}

#[test]
fn bad_crc_names_printed_and_computed() {
    let good = telegram("XXX5TEST", &["1-0:1.7.0(00.100*kW)"]);
    let bad = apply(&good, &FrameFault::BadIntegrity);
    let e = parse(&bad).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadCrc);
    assert_eq!(e.offset, bad.len() - 6);
    assert_eq!(e.line, 4);
    assert!(e.message.contains("computed"), "{e}");
}

#[test]
fn lowercase_and_unpadded_crc_are_accepted_with_quirks() {
    let good = telegram("XXX5TEST", &["1-0:1.7.0(00.100*kW)"]);
    let text = String::from_utf8(good.clone()).unwrap();
    let lower = text
        .to_lowercase()
        .replace("/xxx5test", "/XXX5TEST")
        .replace("kw", "kW");
    // Recompute: lower-casing changes only the CRC digits when the content is kept.
    let crc_part = &text[text.len() - 6..];
    let lowered = format!("{}{}", &text[..text.len() - 6], crc_part.to_lowercase());
    let t = parse(lowered.as_bytes()).unwrap();
    let has_letters = crc_part.chars().any(|c| c.is_ascii_alphabetic());
    assert_eq!(
        t.quirks.contains(&Quirk::CrcLowercase),
        has_letters,
        "{lower}"
    );
    // Find content whose CRC has a leading zero digit to test the unpadded form.
    for i in 0..4000 {
        let tel = telegram("XXX5TEST", &[&format!("0-0:96.13.0({i})")]);
        let s = String::from_utf8(tel).unwrap();
        let crc = &s[s.len() - 6..s.len() - 2];
        if let Some(stripped) = crc.strip_prefix('0') {
            let short = format!("{}{stripped}\r\n", &s[..s.len() - 6]);
            let t = parse(short.as_bytes()).unwrap();
            assert!(t.quirks.contains(&Quirk::CrcUnpadded));
            return;
        }
    }
    panic!("no CRC with a leading zero found");
}

#[test]
fn no_crc_is_incompatible() {
    let old = b"/ISk5\\2MT382-1003\r\n\r\n0-0:96.1.1(5A424556303035303933313937373132)\r\n1-0:1.7.0(0000.16*kW)\r\n!\r\n";
    let e = parse(old).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Incompatible);
    assert!(e.message.contains("DSMR 2.2/3.0"));
}

#[test]
fn truncated_and_malformed() {
    let good = telegram("XXX5TEST", &["1-0:1.7.0(00.100*kW)"]);
    assert_eq!(parse(&good[..20]).unwrap_err().kind, ErrorKind::Truncated);
    assert_eq!(parse(b"").unwrap_err().kind, ErrorKind::Empty);
    assert_eq!(parse(b"garbage").unwrap_err().kind, ErrorKind::Malformed);
    let e = parse(&telegram(
        "XXX5TEST",
        &["1-0:1.7.0(00.100*kW)", "1-0:32.7.0(230.0*kV)"],
    ))
    .unwrap_err();
    assert_eq!((e.kind, e.line), (ErrorKind::Malformed, 4));
    assert!(
        e.message.contains("1-0:32.7.0") && e.message.contains("kV"),
        "{e}"
    );
    let e = parse(&telegram("XXX5TEST", &["1-0:1.7.0(00.1x0*kW)"])).unwrap_err();
    assert_eq!((e.offset, e.line), (13, 3));
    let e = parse(&telegram("XXX5TEST", &["1-0:1.7.0 junk"])).unwrap_err();
    assert!(e.message.contains("no '('"), "{e}");
}

#[test]
fn placeholder_times_are_none() {
    for ts in ["000101010000W", "700101010000W", "632525252525W"] {
        let line = format!("0-0:1.0.0({ts})");
        let t = parse(&telegram("XXX5TEST", &[&line])).unwrap();
        assert_eq!(t.reading.timestamp, None, "{ts}");
        assert!(t.quirks.contains(&Quirk::PlaceholderTime));
    }
    let e = parse(&telegram("XXX5TEST", &["0-0:1.0.0(2209011522S)"])).unwrap_err();
    assert!(e.message.contains("YYMMDDhhmmss"), "{e}");
}

#[test]
fn empty_values_are_none() {
    let t = parse(&telegram("XXX5TEST", &["1-0:1.7.0()", "1-0:2.7.0()"])).unwrap();
    assert_eq!(t.reading.power_import_w, None);
    assert_eq!(t.reading.active_power_w, None);
}

#[test]
fn parity_bits_are_stripped() {
    let good = telegram("XXX5TEST", &["1-0:1.7.0(00.100*kW)"]);
    let noisy: Vec<u8> = good
        .iter()
        .enumerate()
        .map(|(i, &b)| if i % 3 == 0 { b | 0x80 } else { b })
        .collect();
    let t = parse(&noisy).unwrap();
    assert!(t.quirks.contains(&Quirk::ParityStripped));
    assert_eq!(t.reading.power_import_w, Some(100.0));
}

#[test]
fn a_lower_case_dst_flag_is_read_and_recorded() {
    let upper = parse(&telegram("XXX5TEST", &["0-0:1.0.0(260715120000S)"])).unwrap();
    let lower = parse(&telegram("XXX5TEST", &["0-0:1.0.0(260715120000s)"])).unwrap();
    assert_eq!(lower.reading.timestamp, upper.reading.timestamp);
    assert!(upper.reading.timestamp.is_some());
    assert_eq!(lower.quirks, vec![Quirk::SeasonLowercase]);
    assert!(upper.quirks.is_empty());
    let winter = parse(&telegram("XXX5TEST", &["0-0:1.0.0(260115120000w)"])).unwrap();
    // 12:00 CET is 11:00 UTC.
    assert_eq!(winter.reading.timestamp, Some(1_768_474_800));
    assert!(parse(&telegram("XXX5TEST", &["0-0:1.0.0(260115120000x)"])).is_err());
}

#[test]
fn nul_bytes_after_the_crc_line_are_ignored_and_recorded() {
    let mut bytes = telegram("XXX5TEST", &["1-0:1.7.0(00.100*kW)"]);
    let clean = parse(&bytes).unwrap();
    bytes.push(0);
    let padded = parse(&bytes).unwrap();
    assert_eq!(padded.reading, clean.reading);
    assert_eq!(padded.quirks, vec![Quirk::TrailingNul]);
    // Anything else after the CRC line is still refused, with the offset of the CRC field.
    bytes.pop();
    bytes.push(b'x');
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed);
}

#[test]
fn the_meter_id_falls_back_to_the_older_equipment_ids() {
    for obis in ["0-0:96.1.0", "0-0:42.0.0"] {
        let line = format!("{obis}(4530303331303033)");
        let t = parse(&telegram("XXX5TEST", &[&line])).unwrap();
        assert_eq!(t.reading.meter_id.as_deref(), Some("E0031003"), "{obis}");
    }
    // The DSMR 4+ equipment identifier wins, whatever the order.
    let t = parse(&telegram(
        "XXX5TEST",
        &["0-0:96.1.0(4141)", "0-0:96.1.1(4242)", "0-0:42.0.0(4343)"],
    ))
    .unwrap();
    assert_eq!(t.reading.meter_id.as_deref(), Some("BB"));
}

#[test]
fn energy_in_wh_is_read_as_kwh() {
    let t = parse(&telegram(
        "XXX5TEST",
        &[
            "1-0:1.8.0(000000001*Wh)",
            "1-0:1.8.1(001234567*Wh)",
            "1-0:1.8.2(000000002*Wh)",
            "1-0:2.8.0(000000003*Wh)",
            "1-0:2.8.1(000000004*Wh)",
            "1-0:2.8.2(000000500*Wh)",
        ],
    ))
    .unwrap();
    let e = &t.reading.energy;
    assert_eq!(e.import_kwh, Some(0.001));
    assert_eq!(e.import_t1_kwh, Some(1234.567));
    assert_eq!(e.import_t2_kwh, Some(0.002));
    assert_eq!(e.export_kwh, Some(0.003));
    assert_eq!(e.export_t1_kwh, Some(0.004));
    assert_eq!(e.export_t2_kwh, Some(0.5));
}

#[test]
fn a_version_that_is_not_two_digits_is_kept_as_printed() {
    assert_eq!(version_name("50"), "5.0");
    assert_eq!(version_name("4A"), "4A");
    assert_eq!(version_name("A4"), "A4");
    assert_eq!(version_name("502"), "502");
}

#[test]
fn a_heat_meter_in_gj_is_heat() {
    let t = parse(&telegram(
        "XXX5TEST",
        &["0-1:24.1.0(004)", "0-1:24.2.1(230421165102S)(00012.345*GJ)"],
    ))
    .unwrap();
    assert_eq!(t.reading.energy.heat_gj, Some(12.345));
    assert_eq!(t.reading.energy.gas_m3, None);
}

#[test]
fn emucs_version_and_water_channel() {
    let t = parse(&telegram(
        "FLU5\\253769484_A",
        &[
            "0-0:96.1.4(50217)",
            "1-0:31.7.0(001.23*A)",
            "0-1:24.1.0(007)",
            "0-1:24.2.1(230421165102S)(00003.830*m3)",
            "0-2:24.1.0(003)",
            "0-2:24.2.3(230421164959S)(00107.812*m3)",
        ],
    ))
    .unwrap();
    assert_eq!(t.reading.version.as_deref(), Some("e-MUCS 50217"));
    assert_eq!(t.reading.current_a[0], Some(1.23));
    assert_eq!(t.reading.energy.water_m3, Some(3.83));
    assert_eq!(t.reading.energy.gas_m3, Some(107.812));
}

fn sample(kind: DsmrKind) -> Reading {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(1_774_746_000);
    r.meter_id = Some("E0026000024153615".into());
    r.version = Some(match kind {
        DsmrKind::Dsmr42 => "4.2".into(),
        DsmrKind::Emucs => "e-MUCS 50217".into(),
        _ => "5.0".into(),
    });
    let phases = kind.phases();
    for p in 0..phases {
        if kind.has_voltage() {
            r.voltage_v[p] = Some(230.5 - p as f32);
        }
        r.current_a[p] = Some(if kind == DsmrKind::Emucs { 7.74 } else { 7.0 });
        r.active_power_phase_w[p] = Some([1600.0, -250.0, 0.0][p]);
    }
    r.power_import_w = Some(1600.0);
    r.power_export_w = Some(250.0);
    r.active_power_w = Some(1350.0);
    r.energy.import_t1_kwh = Some(123.456);
    r.energy.gas_m3 = Some(4836.851);
    r
}

#[test]
fn encode_parse_identity_per_kind() {
    for kind in DsmrKind::ALL {
        let r = sample(kind);
        let bytes = encode(&r, kind);
        let t = parse(&bytes)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}\n{}", String::from_utf8_lossy(&bytes)));
        assert_eq!(
            t.reading,
            r,
            "{kind:?}\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn encoded_telegram_looks_like_a_meter() {
    let bytes = encode(&sample(DsmrKind::Smr5ThreePhase), DsmrKind::Smr5ThreePhase);
    let s = String::from_utf8(bytes).unwrap();
    assert!(
        s.starts_with("/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(260329030000S)\r\n"),
        "{s}"
    );
    assert!(s.contains("1-0:32.7.0(230.5*V)\r\n1-0:52.7.0(229.5*V)\r\n"));
    assert!(s.contains("1-0:31.7.0(007*A)\r\n"));
    assert!(s.contains("1-0:42.7.0(00.250*kW)\r\n"));
    assert!(s.len() > 600 && s.len() < 1000, "{}", s.len());
}

#[test]
fn with_version_rewrites_and_resigns() {
    let bytes = encode(&sample(DsmrKind::Dsmr42), DsmrKind::Dsmr42);
    let t = parse(&with_version(&bytes, "40")).unwrap();
    assert_eq!(t.reading.version.as_deref(), Some("4.0"));
}
