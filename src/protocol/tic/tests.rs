//! Unit tests of the TIC parser and encoder: captured frames (copied inline, byte-exact),
//! checksum and framing errors, quirks, the producer/exporting mapping and encode → parse.
#![allow(clippy::arithmetic_side_effects)]

mod frames;

use super::*;
use crate::protocol::Energy;
use frames::*;

fn std_frame(groups: &[&str]) -> Vec<u8> {
    let mut f = vec![STX];
    for g in groups {
        let body = format!("{g}\t");
        f.push(LF);
        f.extend_from_slice(body.as_bytes());
        f.push(group_checksum(body.as_bytes()));
        f.push(CR);
    }
    f.push(ETX);
    f
}

/// Historic groups `LABEL DATA`; `true` = checksum in mode 2 (last SP included).
fn hist_frame(groups: &[(&str, bool)]) -> Vec<u8> {
    let mut f = vec![STX];
    for (g, mode2) in groups {
        f.push(LF);
        f.extend_from_slice(g.as_bytes());
        f.push(SP);
        let span = if *mode2 { g.len() + 1 } else { g.len() };
        let start = f.len() - g.len() - 1;
        f.push(group_checksum(&f[start..start + span]));
        f.push(CR);
    }
    f.push(ETX);
    f
}

/// Offset of the LF that starts the group with this label.
fn group_at(f: &[u8], label: &[u8]) -> usize {
    f.windows(label.len() + 1)
        .position(|w| w[0] == LF && &w[1..] == label)
        .unwrap()
}

#[test]
fn historic_tri_capture_with_space_checksum() {
    let t = parse(HISTORIC_TRI_BASE).unwrap();
    let r = &t.reading;
    assert_eq!(r.protocol, Protocol::TicHistoric);
    assert_eq!(r.version.as_deref(), Some("TIC historic"));
    assert_eq!(r.meter_id.as_deref(), Some("056234673197"));
    assert_eq!(r.current_a, [Some(0.0), Some(2.0), Some(0.0)]);
    assert_eq!(r.voltage_v, [None; 3]);
    assert_eq!(r.power_import_w, Some(740.0));
    assert_eq!(r.active_power_w, Some(740.0));
    assert_eq!(
        r.active_power_phase_w, [None; 3],
        "historic tri has no per-phase power"
    );
    assert_eq!(r.energy.import_kwh, Some(10151.175));
    assert_eq!(r.timestamp, None);
    assert!(t.quirks.is_empty() && t.raw.is_empty());
}

#[test]
fn historic_mono_tempo_capture() {
    let t = parse_with(HISTORIC_MONO_TEMPO, ParseOptions { keep_raw: true }).unwrap();
    let r = &t.reading;
    assert_eq!(r.current_a, [Some(12.0), None, None]);
    assert_eq!(r.active_power_phase_w, [Some(2840.0), None, None]);
    assert_eq!(r.power_export_w, None);
    // Sum of the six BBR indexes.
    assert_eq!(r.energy.import_kwh, Some(47371.616));
    assert!(t.raw.contains(&"OPTARIF BBR(".to_string()), "{:?}", t.raw);
    assert!(t.raw.contains(&"DEMAIN ROUG".to_string()));
}

#[test]
fn standard_tri_capture_spaces_empty_data_and_horodates() {
    let t = parse_with(STANDARD_TRI_TEMPO, ParseOptions { keep_raw: true }).unwrap();
    let r = &t.reading;
    assert_eq!(r.protocol, Protocol::TicStandard);
    assert_eq!(r.version.as_deref(), Some("TIC V2"));
    assert_eq!(r.meter_id.as_deref(), Some("041776199277"));
    assert_eq!(r.timestamp, Some(1_581_718_084)); // H200214230804 = 22:08:04 UTC
    assert_eq!(r.current_a, [Some(3.0), Some(6.0), Some(3.0)]);
    assert_eq!(r.voltage_v, [Some(237.0), Some(238.0), Some(235.0)]);
    assert_eq!(r.power_import_w, Some(2700.0));
    assert_eq!(r.power_export_w, None);
    assert_eq!(r.active_power_w, Some(2700.0));
    assert_eq!(
        r.active_power_phase_w,
        [Some(664.0), Some(1373.0), Some(664.0)]
    );
    assert_eq!(r.exporting, Some(false));
    assert_eq!(r.energy.import_kwh, Some(21849.106));
    assert!(t.quirks.is_empty(), "{:?}", t.quirks);
    assert!(
        t.raw.contains(&"NGTF      TEMPO      ".to_string()),
        "{:?}",
        t.raw
    );
    assert!(t.raw.contains(&"DPM1  200214060000 00".to_string()));
    assert!(t.raw.contains(&"SMAXSN-1 H200213085118 09562".to_string()));
    assert!(!t
        .raw
        .iter()
        .any(|g| g.starts_with("DATE") || g.starts_with("SINSTS ")));
}

#[test]
fn producer_exports_total_negative_phases_not() {
    let t = parse(STANDARD_MONO_PRODUCER).unwrap();
    let r = &t.reading;
    assert_eq!(r.timestamp, Some(1_531_730_063)); // E180716103423
    assert_eq!(r.power_import_w, Some(0.0));
    assert_eq!(r.power_export_w, Some(1253.0));
    assert_eq!(r.active_power_w, Some(-1253.0));
    assert!(r.active_power_phase_w.iter().flatten().all(|&p| p >= 0.0));
    assert_eq!(r.active_power_phase_w[0], Some(0.0));
    assert_eq!(r.exporting, Some(true)); // STGE 002A0301
    assert_eq!(r.energy.export_kwh, Some(32.781));
    let stge = Stge::parse(b"002A0301").unwrap();
    assert!(stge.producer() && stge.exporting());
    assert!(!Stge::parse(b"003A0001").unwrap().producer());
    assert_eq!(Stge::parse(b"003A000"), None);
    assert_eq!(Stge::parse(b"003A000G"), None);
}

#[test]
fn consumer_exporting_reads_zero_total_and_flag() {
    let f = std_frame(&["ADSC\t041776199277", "SINSTS\t00000", "STGE\t003A0201"]);
    let r = parse(&f).unwrap().reading;
    assert_eq!(r.active_power_w, Some(0.0));
    assert_eq!(r.power_export_w, None);
    assert_eq!(r.exporting, Some(true));
    assert_eq!(r.active_power_phase_w, [Some(0.0), None, None]);
}

#[test]
fn standard_numbers_exact_and_vtic_stripped() {
    let f = std_frame(&["VTIC\t02", "IRMS1\t001", "URMS1\t230", "EAST\t000000001"]);
    let r = parse(&f).unwrap().reading;
    assert_eq!(r.version.as_deref(), Some("TIC V2"));
    assert_eq!(r.current_a[0], Some(1.0));
    assert_eq!(r.voltage_v[0], Some(230.0));
    assert_eq!(
        r.energy,
        Energy {
            import_kwh: Some(0.001),
            ..Energy::default()
        }
    );
}

#[test]
fn wrong_checksum_names_group_offset_and_line() {
    let mut f = HISTORIC_TRI_BASE.to_vec();
    let lf = group_at(&f, b"IINST2");
    let ck = lf + "\nIINST2 002 ".len();
    assert_eq!(f[ck], b'K');
    f[ck] = b'L';
    let e = parse(&f).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadChecksum);
    assert_eq!(e.offset, lf);
    assert_eq!(
        e.line, 8,
        "STX line, then ADCO on line 2 … IINST2 on line 8"
    );
    assert!(e.message.contains("IINST2") && e.message.contains("'K'") && e.message.contains("'L'"));

    let mut f = STANDARD_TRI_TEMPO.to_vec();
    let lf = group_at(&f, b"NGTF");
    f[lf + 8] = b'X'; // a space inside the data
    let e = parse(&f).unwrap_err();
    assert_eq!((e.kind, e.offset, e.line), (ErrorKind::BadChecksum, lf, 5));
}

#[test]
fn truncated_frames() {
    let f = STANDARD_TRI_TEMPO;
    let e = parse(&f[..300]).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::Truncated, 300));
    let mut g = f[..300].to_vec();
    g.push(EOT);
    let e = parse(&g).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::Truncated, 300));
    assert!(e.message.contains("EOT"), "{}", e.message);
    g.extend_from_slice(&f[300..]);
    assert_eq!(parse(&g).unwrap_err().kind, ErrorKind::Truncated);
}

#[test]
fn envelope_errors() {
    assert_eq!(parse(b"").unwrap_err().kind, ErrorKind::Empty);
    assert_eq!(parse(&[STX, ETX]).unwrap_err().kind, ErrorKind::Empty);
    let mut f = vec![b'x'];
    f.extend_from_slice(HISTORIC_TRI_BASE);
    assert_eq!(parse(&f).unwrap_err().kind, ErrorKind::Malformed);
    let mut f = HISTORIC_TRI_BASE.to_vec();
    f.push(b'\n');
    let e = parse(&f).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::Malformed, HISTORIC_TRI_BASE.len())
    );
    for bad in [
        &b"\x02ADCO 1 Q\r\x03"[..],
        b"\x02\n\r\x03",
        b"\x02\n \r\x03",
        b"\x02\nX\tY\r\x03",
    ] {
        assert_eq!(
            parse(bad).unwrap_err().kind,
            ErrorKind::Malformed,
            "{bad:?}"
        );
    }
    let f = std_frame(&["\t0"]);
    assert!(parse(&f).unwrap_err().message.contains("empty label"));
    let f = std_frame(&["IRMS1\t0x1"]);
    let e = parse(&f).unwrap_err();
    assert_eq!((e.kind, e.offset, e.line), (ErrorKind::Malformed, 1, 2));
}

#[test]
fn historic_mode2_checksums_accepted_with_quirk() {
    let f = hist_frame(&[
        ("ADCO 021861348497", true),
        ("IINST 012", true),
        ("PAPP 02840", false),
    ]);
    let t = parse(&f).unwrap();
    assert_eq!(t.quirks, vec![Quirk::ChecksumMode2]);
    assert_eq!(t.reading.power_import_w, Some(2840.0));
    let t = parse(&hist_frame(&[
        ("ADCO 021861348497", false),
        ("BASE 010151175", false),
    ]))
    .unwrap();
    assert!(t.quirks.is_empty());
}

#[test]
fn season_letters() {
    let summer = parse(&std_frame(&["DATE\tE210414082625\t"])).unwrap();
    assert_eq!(summer.reading.timestamp, Some(1_618_381_585));
    assert!(summer.quirks.is_empty());
    let degraded = parse(&std_frame(&["DATE\te210414082625\t"])).unwrap();
    assert_eq!(degraded.reading.timestamp, Some(1_618_381_585));
    assert_eq!(degraded.quirks, vec![Quirk::ClockDegraded]);
    let winter = parse(&std_frame(&["DATE\th200214230804\t"])).unwrap();
    assert_eq!(winter.reading.timestamp, Some(1_581_718_084));
    let none = parse(&std_frame(&["DATE\t 200214230804\t"])).unwrap();
    assert_eq!(
        none.reading.timestamp,
        Some(1_581_718_084),
        "February: CET by the zone rules"
    );
    assert_eq!(none.quirks, vec![Quirk::NoSeason]);
    for bad in [
        "DATE\tH632525252525\t",
        "DATE\tH000101000000\t",
        "DATE\tX200214230804\t",
    ] {
        let t = parse(&std_frame(&[bad])).unwrap();
        assert_eq!(t.reading.timestamp, None, "{bad}");
        assert!(t.quirks.contains(&Quirk::PlaceholderTime), "{bad}");
    }
}

#[test]
fn parity_bits_are_stripped() {
    let f: Vec<u8> = HISTORIC_TRI_BASE
        .iter()
        .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
        .collect();
    let t = parse(&f).unwrap();
    assert_eq!(t.quirks, vec![Quirk::ParityStripped]);
    assert_eq!(t.reading, parse(HISTORIC_TRI_BASE).unwrap().reading);
}

#[test]
fn a_lost_cr_never_parses() {
    let encoded = encode(&sample(), TicKind::StandardTriProducer);
    for frame in [
        HISTORIC_TRI_BASE,
        HISTORIC_MONO_TEMPO,
        STANDARD_TRI_TEMPO,
        &encoded,
    ] {
        let crs: Vec<usize> = (0..frame.len()).filter(|&i| frame[i] == CR).collect();
        for &i in &crs {
            for b in (0u8..0x80).filter(|&b| b != CR) {
                let mut f = frame.to_vec();
                f[i] = b;
                let kind = parse(&f).map(|_| ()).unwrap_err().kind;
                let allowed = match b {
                    STX | EOT => kind == ErrorKind::Truncated,
                    _ => matches!(kind, ErrorKind::BadChecksum | ErrorKind::Malformed),
                };
                assert!(allowed, "CR at {i} → {b:#04x}: {kind:?}");
            }
        }
    }
}

fn sample() -> Reading {
    let mut r = Reading::empty(Protocol::TicStandard);
    r.timestamp = Some(1_618_381_585);
    r.meter_id = Some("041776199277".into());
    r.voltage_v = [Some(231.0), Some(229.0), Some(240.0)];
    r.current_a = [Some(7.0), Some(1.0), Some(0.0)];
    r.power_import_w = Some(1620.0);
    r.power_export_w = Some(350.0);
    r.active_power_w = Some(1270.0);
    r.active_power_phase_w = [Some(1000.0), Some(600.0), Some(20.0)];
    r.exporting = Some(true);
    r.energy.import_kwh = Some(21849.106);
    r.energy.export_kwh = Some(671.631);
    r
}

#[test]
fn kinds_have_names() {
    for k in TicKind::ALL {
        assert_eq!(TicKind::from_name(k.name()), Some(k));
    }
    assert_eq!(TicKind::from_name("tic"), None);
    assert!(TicKind::StandardTriProducer.producer() && TicKind::HistoricTri.three_phase());
    assert!(!TicKind::HistoricMono.is_standard());
}

#[test]
fn encode_then_parse_is_identity() {
    let s = sample();
    for kind in TicKind::ALL {
        let f = encode(&s, kind);
        let t = parse(&f).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(t.quirks.is_empty(), "{kind:?}: {:?}", t.quirks);
        let r = t.reading;
        let tri = kind.three_phase();
        assert_eq!(r.meter_id, s.meter_id, "{kind:?}");
        assert_eq!(r.current_a[0], s.current_a[0]);
        if tri {
            assert_eq!(r.current_a, s.current_a);
        }
        assert_eq!(r.power_import_w, s.power_import_w);
        if !kind.is_standard() {
            assert_eq!(r.protocol, Protocol::TicHistoric);
            assert_eq!(r.active_power_w, s.power_import_w);
            assert_eq!(r.energy.import_kwh, s.energy.import_kwh);
            assert_eq!(r.exporting, None);
            continue;
        }
        assert_eq!(r.protocol, Protocol::TicStandard);
        assert_eq!(r.version.as_deref(), Some("TIC V2"));
        assert_eq!(r.timestamp, s.timestamp);
        assert_eq!(r.exporting, s.exporting);
        assert_eq!(r.energy.import_kwh, s.energy.import_kwh);
        if kind.producer() {
            assert_eq!(r.active_power_w, s.active_power_w);
            assert_eq!(r.power_export_w, s.power_export_w);
            assert_eq!(r.energy.export_kwh, s.energy.export_kwh);
        } else {
            assert_eq!(r.active_power_w, s.power_import_w);
        }
        if tri {
            assert_eq!(r.voltage_v, s.voltage_v);
            assert_eq!(r.active_power_phase_w, s.active_power_phase_w);
        } else {
            assert_eq!(r.voltage_v[0], s.voltage_v[0]);
            assert_eq!(r.active_power_phase_w, [s.power_import_w, None, None]);
        }
    }
}

#[test]
fn encoded_frames_have_the_captured_shape() {
    let labels = |f: &[u8]| -> Vec<String> {
        let t = parse_with(f, ParseOptions { keep_raw: true }).unwrap();
        t.raw
            .iter()
            .map(|g| g.split(' ').next().unwrap().to_string())
            .collect()
    };
    let h = labels(&encode(&sample(), TicKind::HistoricTri));
    assert_eq!(
        h,
        [
            "OPTARIF", "ISOUSC", "PTEC", "IMAX1", "IMAX2", "IMAX3", "PMAX", "HHPHC", "MOTDETAT",
            "PPOT"
        ]
    );
    let s = labels(&encode(&sample(), TicKind::StandardTriProducer));
    for l in [
        "NGTF",
        "EASF10",
        "EASD04",
        "ERQ4",
        "PREF",
        "SMAXSN3-1",
        "SMAXIN-1",
        "CCAIN-1",
        "UMOY3",
        "PJOURF+1",
    ] {
        assert!(s.iter().any(|x| x == l), "{l} missing from {s:?}");
    }
    let m = labels(&encode(&sample(), TicKind::StandardMono));
    assert!(
        !m.iter()
            .any(|x| x == "UMOY2" || x == "ERQ1" || x == "SMAXSN1"),
        "{m:?}"
    );
    // A reading without time sends a placeholder DATE: parsed back as "no time".
    let mut r = sample();
    r.timestamp = None;
    let t = parse(&encode(&r, TicKind::StandardMono)).unwrap();
    assert_eq!(t.reading.timestamp, None);
}

/// The encoder never sends what a meter cannot show: an unusable meter id becomes the
/// all-zero one, an infinite or negative energy index becomes 0.
#[test]
fn the_encoder_sends_only_printable_ids_and_finite_indexes() {
    let field = |f: &[u8], label: &str| -> String {
        let t = String::from_utf8_lossy(f).into_owned();
        let at = t.find(&format!("\n{label}\t")).unwrap() + label.len() + 2;
        t[at..].split('\t').next().unwrap().to_string()
    };
    for (id, sent) in [
        (Some(""), "000000000000"),
        (Some("0212 345678"), "000000000000"),
        (None, "000000000000"),
        (Some("021234567890"), "021234567890"),
    ] {
        let mut r = sample();
        r.meter_id = id.map(str::to_string);
        assert_eq!(
            field(&encode(&r, TicKind::StandardTri), "ADSC"),
            sent,
            "{id:?}"
        );
    }
    for (kwh, sent) in [
        (f64::INFINITY, "000000000"),
        (f64::NAN, "000000000"),
        (-5.0, "000000000"),
        (1.2345, "000001235"),
    ] {
        let mut r = sample();
        r.energy.import_kwh = Some(kwh);
        assert_eq!(
            field(&encode(&r, TicKind::StandardTri), "EAST"),
            sent,
            "{kwh}"
        );
    }
}

#[test]
fn whole_numbers_take_up_to_18_digits() {
    assert_eq!(
        map::uint(b"999999999999999999"),
        Some(999_999_999_999_999_999)
    );
    assert_eq!(map::uint(b"1234567890123456789"), None);
    assert_eq!(map::uint(b""), None);
    assert_eq!(map::uint(b"12a"), None);
}
