//! Register map tests. The new templates are decoded here independently of the encoder in
//! `mod.rs` (plain shifts and casts per the vendor's documented format), so a wrong word
//! order, scale, sign or missing-value pattern in a table shows up as a failure.
#![allow(clippy::arithmetic_side_effects)]

use super::*;

fn values() -> MeterValues {
    MeterValues {
        voltage_v: [230.0, 231.5, 229.0],
        current_a: [6.0, 1.0, 0.0],
        active_power_w: -1500.0,
        active_power_phase_w: [1380.0, -2880.0, 0.0],
        telegram_seq: 1,
    }
}

#[test]
fn empro_voltage_is_word_swapped() {
    let w = Template::PhoenixContactEmpro
        .read(&values(), 3, 0x8006, 2)
        .unwrap();
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(
        bytes,
        [0x00, 0x00, 0x43, 0x66],
        "230.0 V is sent as 00 00 43 66 (MB-06)"
    );
    assert_eq!(f32_cdab([w[0], w[1]]), 230.0);
}

#[test]
fn fc3_and_fc4_agree_and_blocks_are_enforced() {
    let t = Template::PhoenixContactEmpro;
    let v = values();
    assert_eq!(t.read(&v, 3, 0x8006, 57), t.read(&v, 4, 0x8006, 57));
    assert_eq!(t.read(&v, 3, 0x8100, 8).unwrap(), vec![0; 8]);
    assert_eq!(t.read(&v, 3, 0x8000, 64).unwrap().len(), 64);
    assert_eq!(
        t.read(&v, 3, 0x8030, 17),
        Err(Exception::IllegalDataAddress)
    );
    assert_eq!(t.read(&v, 3, 0x7FFF, 2), Err(Exception::IllegalDataAddress));
    assert_eq!(t.read(&v, 3, 0xFFFF, 2), Err(Exception::IllegalDataAddress));
    assert_eq!(t.read(&v, 3, 0x8000, 0), Err(Exception::IllegalDataValue));
    assert_eq!(t.read(&v, 3, 0x8000, 126), Err(Exception::IllegalDataValue));
    assert_eq!(t.read(&v, 6, 0x8000, 1), Err(Exception::IllegalFunction));
    let w = t.read(&v, 4, 0x8016, 2).unwrap();
    assert_eq!(f32_cdab([w[0], w[1]]), -1500.0);
    let w = t.read(&v, 4, 0x8020, 2).unwrap();
    assert_eq!(f32_cdab([w[0], w[1]]), -2880.0);
}

#[test]
fn zero_before_first_telegram_and_nan_reads_zero() {
    let t = Template::PhoenixContactEmpro;
    assert!(t
        .read(&MeterValues::default(), 3, 0x8000, 64)
        .unwrap()
        .iter()
        .all(|&w| w == 0));
    let v = MeterValues {
        active_power_w: f32::NAN,
        ..values()
    };
    assert_eq!(t.read(&v, 3, 0x8016, 2).unwrap(), vec![0, 0]);
}

#[test]
fn sdm630_is_big_endian_abcd() {
    let t = Template::EastronSdm630;
    let w = t.read(&values(), 4, 0x0000, 2).unwrap();
    assert_eq!(f32_abcd([w[0], w[1]]), 230.0);
    let w = t.read(&values(), 3, 0x0034, 2).unwrap();
    assert_eq!(f32_abcd([w[0], w[1]]), -1500.0);
    assert_eq!(
        t.read(&values(), 4, 0x8006, 2),
        Err(Exception::IllegalDataAddress)
    );
}

#[test]
fn a_read_in_another_word_order_swaps_the_words() {
    let t = Template::PhoenixContactEmpro;
    let v = values();
    let w = t.read_in_order(&v, WordOrder::Abcd, 3, 0x8006, 2).unwrap();
    assert_eq!(w, [0x4366, 0x0000], "high word first");
    assert_eq!(f32_abcd([w[0], w[1]]), 230.0);
    assert_eq!(
        t.read_in_order(&v, WordOrder::Cdab, 3, 0x8006, 57),
        t.read(&v, 3, 0x8006, 57)
    );
}

#[test]
fn unknown_template_lists_valid_names() {
    let e = Template::from_name("Acme-X1").unwrap_err();
    assert_eq!(e.name, "Acme-X1");
    let e = e.to_string();
    for name in [
        "PhoenixContact-EMPro",
        "Eastron-SDM630",
        "Eastron-SDM72D-M",
        "Chint-DTSU666",
        "ABB-B23",
        "CarloGavazzi-EM24",
        "Socomec-Countis",
        "SunSpec-203",
    ] {
        assert!(e.contains(name), "{e}");
        assert_eq!(Template::from_name(name).map(Template::name), Ok(name));
    }
    assert_eq!(
        Template::from_name("Eastron-SDM630"),
        Ok(Template::EastronSdm630)
    );
    assert!(Template::from_name("abb-b23").is_err(), "names are exact");
}

// --- the extra templates, decoded independently ----------------------------------------------

/// The example: L3 idle, L2 exporting, a net export.
fn sample() -> MeterValues {
    MeterValues {
        voltage_v: [230.1, 231.5, 229.0],
        current_a: [6.02, 1.0, 0.0],
        active_power_w: -1500.0,
        active_power_phase_w: [1380.0, -2880.0, 0.0],
        telegram_seq: 7,
    }
}

/// A DSMR 4.2 telegram (no voltage) on a single-phase connection.
fn no_voltage() -> MeterValues {
    MeterValues {
        voltage_v: [0.0; 3],
        current_a: [5.0, 0.0, 0.0],
        active_power_w: 1150.0,
        active_power_phase_w: [1150.0, 0.0, 0.0],
        telegram_seq: 3,
    }
}

/// `qty` registers from `addr` (FC 3 and FC 4 must agree, MB-04).
fn regs(t: Template, v: &MeterValues, addr: u16, qty: u16) -> Vec<u16> {
    let w = t.read(v, 3, addr, qty).unwrap();
    assert_eq!(Ok(&w), t.read(v, 4, addr, qty).as_ref(), "{t:?} FC3 ≠ FC4");
    w
}

fn hi_lo(w: &[u16]) -> u32 {
    (u32::from(w[0]) << 16) | u32::from(w[1])
}

fn lo_hi(w: &[u16]) -> u32 {
    (u32::from(w[1]) << 16) | u32::from(w[0])
}

fn f32_be(w: &[u16]) -> f32 {
    f32::from_bits(hi_lo(w))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn sdm72dm_is_float_abcd_from_0x0000() {
    let t = Template::EastronSdm72dm;
    let w = regs(t, &sample(), 0x0000, 0x50);
    let at = |a: usize| f32_be(&w[a..a + 2]);
    assert_eq!([at(0x00), at(0x02), at(0x04)], [230.1, 231.5, 229.0]);
    assert_eq!([at(0x06), at(0x08), at(0x0A)], [6.02, 1.0, 0.0]);
    assert_eq!([at(0x0C), at(0x0E), at(0x10)], [1380.0, -2880.0, 0.0]);
    assert_eq!(at(0x34), -1500.0);
    assert_eq!(&w[0x00..0x02], &[0x4366, 0x199A], "230.1 high word first");
    assert_eq!(
        at(0x46),
        0.0,
        "frequency unknown: 0 (Eastron has no n/a value)"
    );
    assert_eq!(regs(t, &sample(), 0x0156, 4), vec![0; 4]);
    assert_eq!(
        t.read(&sample(), 4, 0x0050, 2),
        Err(Exception::IllegalDataAddress)
    );
    let w = regs(t, &no_voltage(), 0x0000, 6);
    assert!(w.iter().all(|&x| x == 0), "no voltage reads 0 (P1-05)");
}

#[test]
fn dtsu666_holds_value_over_unit_as_float() {
    let t = Template::ChintDtsu666;
    let w = regs(t, &sample(), 0x2000, 0x46);
    let at = |a: usize| f64::from(f32_be(&w[a - 0x2000..a - 0x2000 + 2]));
    assert_eq!(
        [at(0x2000), at(0x2002), at(0x2004)],
        [0.0; 3],
        "Uab.. unknown"
    );
    for (a, want) in [(0x2006, 230.1), (0x2008, 231.5), (0x200A, 229.0)] {
        assert!(close(at(a) * 0.1, want, 1e-3), "{a:#x}: {}", at(a));
    }
    for (a, want) in [(0x200C, 6.02), (0x200E, 1.0), (0x2010, 0.0)] {
        assert!(close(at(a) * 0.001, want, 1e-6), "{a:#x}: {}", at(a));
    }
    assert_eq!(at(0x2012), -15000.0, "Pt in 0.1 W");
    assert_eq!(
        [at(0x2014), at(0x2016), at(0x2018)],
        [13800.0, -28800.0, 0.0]
    );
    assert_eq!(at(0x2044), 0.0);
    assert_eq!(regs(t, &sample(), 0x101E, 12), vec![0; 12]);
}

#[test]
fn abb_b23_is_int_high_word_first_with_not_available() {
    let t = Template::AbbB23;
    let w = regs(t, &sample(), 0x5B00, 0x3E);
    let u = |a: usize| hi_lo(&w[a - 0x5B00..a - 0x5B00 + 2]);
    let i = |a: usize| u(a) as i32;
    assert_eq!(
        [u(0x5B00), u(0x5B02), u(0x5B04)],
        [2301, 2315, 2290],
        "0.1 V"
    );
    assert_eq!([u(0x5B0C), u(0x5B0E), u(0x5B10)], [602, 100, 0], "0.01 A");
    assert_eq!(i(0x5B14), -150_000, "0.01 W");
    assert_eq!([i(0x5B16), i(0x5B18), i(0x5B1A)], [138_000, -288_000, 0]);
    assert_eq!(&w[0x18..0x1A], &[0xFFFB, 0x9B00], "-288000 high word first");
    assert_eq!(w[0x2C], 0xFFFF, "frequency: uint16 not available");
    assert_eq!(
        &w[0x3A..0x3E],
        &[0x7FFF; 4],
        "power factor: int16 not available"
    );
    assert_eq!(
        regs(t, &sample(), 0x5000, 8),
        vec![0xFFFF; 8],
        "energy: uint64 n/a"
    );
    assert_eq!(regs(t, &sample(), 0x5460, 24), vec![0xFFFF; 24]);
    // DSMR 4.2 / single phase (B21): voltages missing, as ABB marks them.
    let w = regs(t, &no_voltage(), 0x5B00, 0x1C);
    assert_eq!(&w[0..6], &[0xFFFF; 6]);
    assert_eq!(hi_lo(&w[0x0C..0x0E]), 500);
    assert_eq!(hi_lo(&w[0x0E..0x10]), 0, "a current of 0 is a real 0");
    assert_eq!(hi_lo(&w[0x14..0x16]) as i32, 115_000);
    // Before the first telegram every value reads 0 (MB-11).
    let w = regs(t, &MeterValues::default(), 0x5B00, 0x1C);
    assert!(w.iter().all(|&x| x == 0));
}

#[test]
fn em24_is_int32_low_word_first() {
    let t = Template::CarloGavazziEm24;
    let w = regs(t, &sample(), 0x0000, 0x5E);
    let i = |a: usize| lo_hi(&w[a..a + 2]) as i32;
    assert_eq!([i(0x00), i(0x02), i(0x04)], [2301, 2315, 2290], "0.1 V");
    assert_eq!([i(0x0C), i(0x0E), i(0x10)], [6020, 1000, 0], "0.001 A");
    assert_eq!([i(0x12), i(0x14), i(0x16)], [13800, -28800, 0], "0.1 W");
    assert_eq!(i(0x28), -15000);
    assert_eq!(&w[0x14..0x16], &[0x8F80, 0xFFFF], "-28800 low word first");
    assert_eq!(w[0x37], 0, "frequency unknown: 0");
    let w = regs(t, &no_voltage(), 0x0000, 6);
    assert!(w.iter().all(|&x| x == 0), "no voltage reads 0 (P1-05)");
}

#[test]
fn socomec_countis_is_int_high_word_first_in_jbus_units() {
    let t = Template::SocomecCountis;
    let w = regs(t, &sample(), 0xC550, 0x40);
    let u = |a: usize| hi_lo(&w[a - 0xC550..a - 0xC550 + 2]);
    let i = |a: usize| u(a) as i32;
    assert_eq!(
        [u(0xC558), u(0xC55A), u(0xC55C)],
        [23010, 23150, 22900],
        "0.01 V"
    );
    assert_eq!([u(0xC560), u(0xC562), u(0xC564)], [6020, 1000, 0], "mA");
    assert_eq!(i(0xC568), -150, "0.01 kW");
    assert_eq!([i(0xC570), i(0xC572), i(0xC574)], [138, -288, 0]);
    assert_eq!(u(0xC55E), 0, "frequency unknown: 0");
    assert_eq!(regs(t, &sample(), 0xC650, 12), vec![0; 12]);
    assert_eq!(
        t.read(&sample(), 3, 0xC54F, 2),
        Err(Exception::IllegalDataAddress)
    );
}

/// SunSpec: value × 10^sf.
fn sunspec(raw: u16, sf: u16) -> f64 {
    f64::from(raw as i16) * 10f64.powi(i32::from(sf as i16))
}

#[test]
fn sunspec_203_has_markers_common_model_and_scaled_int16() {
    let t = Template::SunSpec203;
    let mut w = regs(t, &sample(), 40000, 125);
    w.extend(regs(t, &sample(), 40125, 54));
    let at = |a: usize| w[a - 40000];
    assert_eq!((at(40000), at(40001)), (0x5375, 0x6E53), "SunS");
    assert_eq!((at(40002), at(40003)), (1, 66), "common model");
    let text: Vec<u8> = w[4..20].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(&text[..6], b"Xemex\0");
    assert!(text[6..].iter().all(|&b| b == 0));
    let text: Vec<u8> = w[20..36].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert!(text.starts_with(b"Smart Connect\0"));
    assert_eq!(at(40068), 1, "DA");
    assert_eq!((at(40070), at(40071)), (203, 105), "meter model");
    assert_eq!(at(40076), (-2i16) as u16, "A_SF");
    assert!(close(sunspec(at(40072), at(40076)), 7.02, 1e-9), "A total");
    assert!(close(sunspec(at(40073), at(40076)), 6.02, 1e-9));
    assert!(close(sunspec(at(40074), at(40076)), 1.0, 1e-9));
    assert_eq!(at(40075), 0);
    assert_eq!(at(40085), (-1i16) as u16, "V_SF");
    assert!(close(sunspec(at(40078), at(40085)), 230.1, 1e-9));
    assert!(close(sunspec(at(40079), at(40085)), 231.5, 1e-9));
    assert!(close(sunspec(at(40080), at(40085)), 229.0, 1e-9));
    assert!(
        close(sunspec(at(40077), at(40085)), 230.2, 1e-9),
        "PhV mean"
    );
    assert_eq!(at(40081), 0x8000, "PPV not implemented");
    assert_eq!((at(40086), at(40087)), (0x8000, 0x8000), "Hz, Hz_SF");
    assert_eq!(at(40092), 0, "W_SF");
    assert_eq!(at(40088) as i16, -1500);
    assert_eq!(
        [at(40089) as i16, at(40090) as i16, at(40091) as i16],
        [1380, -2880, 0]
    );
    assert_eq!(at(40097), 0x8000, "VA_SF");
    assert_eq!(
        &w[108..124],
        &[0; 16],
        "acc32 energies: 0 (not accumulated)"
    );
    assert_eq!(at(40124), 0, "TotWh_SF");
    assert_eq!((at(40175), at(40176)), (0, 0), "Evt");
    assert_eq!((at(40177), at(40178)), (0xFFFF, 0), "end model");
    assert_eq!(
        t.read(&sample(), 3, 40177, 3),
        Err(Exception::IllegalDataAddress)
    );
}

#[test]
fn sunspec_scale_factors_follow_the_values_and_missing_is_0x8000() {
    let t = Template::SunSpec203;
    let big = MeterValues {
        active_power_w: 43_470.0,
        active_power_phase_w: [14_490.0, 14_490.0, 14_490.0],
        current_a: [63.0, 63.0, 333.0],
        ..sample()
    };
    let w = regs(t, &big, 40072, 21);
    let at = |a: usize| w[a - 40072];
    assert_eq!(at(40092), 1, "43 kW needs W_SF 1");
    assert!(close(sunspec(at(40088), at(40092)), 43_470.0, 1e-6));
    assert!(close(sunspec(at(40089), at(40092)), 14_490.0, 1e-6));
    assert_eq!(at(40076) as i16, -1, "459 A total needs A_SF -1");
    assert!(close(sunspec(at(40072), at(40076)), 459.0, 1e-9));
    assert!(close(sunspec(at(40075), at(40076)), 333.0, 1e-9));
    let w = regs(t, &no_voltage(), 40072, 21);
    assert_eq!(&w[5..9], &[0x8000; 4], "PhV and PhVphA..C not available");
    assert!(close(sunspec(w[1], w[4]), 5.0, 1e-9));
    let w = regs(t, &MeterValues::default(), 40072, 21);
    assert_eq!(&w[5..9], &[0; 4], "before the first telegram: 0 (MB-11)");
}

#[test]
fn every_template_serves_its_blocks_and_agrees_on_fc3_fc4() {
    let v = sample();
    for t in Template::ALL {
        for &(first, last) in t.blocks() {
            let mut a = first;
            while a <= last {
                let qty = (last - a + 1).min(125);
                regs(t, &v, a, qty);
                a = match a.checked_add(qty) {
                    Some(a) => a,
                    None => break,
                };
            }
            assert_eq!(
                t.read(&v, 3, last, 2),
                Err(Exception::IllegalDataAddress),
                "{t:?} {last:#x}"
            );
        }
        assert_eq!(
            t.read(&v, 6, t.blocks()[0].0, 1),
            Err(Exception::IllegalFunction)
        );
    }
}

#[test]
fn integers_clamp_and_never_collide_with_not_available() {
    use super::layouts::{Kind, Num};
    let n = Num {
        kind: Kind::I32,
        mult: 100.0,
        na: Some(0x7FFF_FFFF),
    };
    assert_eq!(integer(n, 1e12), 0x7FFF_FFFE);
    assert_eq!(integer(n, -1e12), 0x8000_0000);
    assert_eq!(integer(n, -1.0), 0xFFFF_FFFF);
    let u = Num {
        kind: Kind::U32,
        mult: 10.0,
        na: Some(0xFFFF_FFFF),
    };
    assert_eq!(integer(u, -5.0), 0, "unsigned: negative clamps to 0");
    assert_eq!(integer(u, f64::NAN), 0);
    let s = Num {
        kind: Kind::I16,
        mult: 1.0,
        na: Some(0x8000),
    };
    assert_eq!(integer(s, -40_000.0), 0x8001);
}
