//! The `format!`-based encoder the allocation-free [`Encoder`](super::Encoder) replaced, kept
//! as the test oracle: both must give the same bytes for every meter kind and seed.

use super::super::super::Reading;
use super::super::registers::{demand_lines, DsmrRegisters};
use super::super::CRC;
use super::{time_field, totals, DsmrKind, DEFAULT_ID};
use std::fmt::Write;

/// The `format!` encoder the [`Encoder`](super::Encoder) replaced, byte for byte.
pub fn encode_with(r: &Reading, kind: DsmrKind, regs: &DsmrRegisters) -> Vec<u8> {
    let mut s = String::with_capacity(1100);
    let ts = time_field(r.timestamp);
    s.push_str(kind.header());
    s.push_str("\r\n\r\n");
    match kind {
        DsmrKind::Emucs => line(&mut s, "0-0:96.1.4", "50217"),
        DsmrKind::Dsmr42 => line(&mut s, "1-3:0.2.8", "42"),
        _ => line(&mut s, "1-3:0.2.8", "50"),
    }
    if kind == DsmrKind::Emucs {
        line(
            &mut s,
            "0-0:96.1.1",
            &hex(r.meter_id.as_deref().unwrap_or(DEFAULT_ID)),
        );
        line(&mut s, "0-0:1.0.0", &ts);
    } else {
        line(&mut s, "0-0:1.0.0", &ts);
        line(
            &mut s,
            "0-0:96.1.1",
            &hex(r.meter_id.as_deref().unwrap_or(DEFAULT_ID)),
        );
    }
    let e = &r.energy;
    for (obis, v) in [
        ("1-0:1.8.1", e.import_t1_kwh),
        ("1-0:1.8.2", e.import_t2_kwh),
        ("1-0:2.8.1", e.export_t1_kwh),
        ("1-0:2.8.2", e.export_t2_kwh),
    ] {
        if let Some(v) = v {
            line(&mut s, obis, &format!("{v:010.3}*kWh"));
        }
    }
    line(&mut s, "0-0:96.14.0", &format!("{:04}", regs.tariff));
    let (import, export) = totals(r);
    if kind == DsmrKind::Emucs {
        demand_lines(&mut s, &regs.demand, &ts, |t| time_field(Some(t)));
    }
    line(&mut s, "1-0:1.7.0", &kw(import));
    line(&mut s, "1-0:2.7.0", &kw(export));
    if matches!(
        kind,
        DsmrKind::Smr5ThreePhase | DsmrKind::Smr5OnePhase | DsmrKind::Dsmr42
    ) {
        line(&mut s, "0-0:96.7.21", "00004");
        line(&mut s, "0-0:96.7.9", "00002");
        s.push_str("1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)\r\n");
        for p in ["32", "52", "72"].iter().take(kind.phases()) {
            line(&mut s, &format!("1-0:{p}.32.0"), "00000");
        }
        if kind != DsmrKind::Dsmr42 {
            for p in ["32", "52", "72"].iter().take(kind.phases()) {
                line(&mut s, &format!("1-0:{p}.36.0"), "00000");
            }
        }
        line(&mut s, "0-0:96.13.0", "");
    }
    let phases = kind.phases();
    if kind == DsmrKind::Emucs {
        per_phase_power(&mut s, r, phases);
    }
    if kind.has_voltage() {
        for (p, obis) in ["1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"]
            .iter()
            .enumerate()
            .take(phases)
        {
            line(
                &mut s,
                obis,
                &opt(r.voltage_v[p], |v| format!("{v:05.1}*V")),
            );
        }
    }
    let dec = kind.current_decimals();
    let width = if dec == 0 { 3 } else { dec.saturating_add(4) };
    for (p, obis) in ["1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"]
        .iter()
        .enumerate()
        .take(phases)
    {
        line(
            &mut s,
            obis,
            &opt(r.current_a[p], |a| format!("{:0width$.dec$}*A", a.abs())),
        );
    }
    if kind == DsmrKind::Emucs {
        line(&mut s, "0-0:96.3.10", "1");
        line(&mut s, "0-0:17.0.0", "999.9*kW");
        line(&mut s, "1-0:31.4.0", "999*A");
        line(&mut s, "0-0:96.13.0", "");
    } else {
        per_phase_power(&mut s, r, phases);
    }
    let capture = regs
        .mbus_capture
        .map_or_else(|| ts.clone(), |t| time_field(Some(t)));
    mbus(&mut s, r, kind, &capture);
    other_mbus(&mut s, r, kind, regs, &ts);
    s.push('!');
    let crc = CRC.checksum(s.as_bytes());
    let _ = write!(s, "{crc:04X}\r\n");
    s.into_bytes()
}

fn per_phase_power(s: &mut String, r: &Reading, phases: usize) {
    let del = ["1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0"];
    let rec = ["1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0"];
    for (p, obis) in del.iter().enumerate().take(phases) {
        line(s, obis, &opt(r.active_power_phase_w[p], |w| kw(w.max(0.0))));
    }
    for (p, obis) in rec.iter().enumerate().take(phases) {
        line(
            s,
            obis,
            &opt(r.active_power_phase_w[p], |w| kw((-w).max(0.0))),
        );
    }
}

fn mbus(s: &mut String, r: &Reading, kind: DsmrKind, ts: &str) {
    let Some(gas) = r.energy.gas_m3 else { return };
    line(s, "0-1:24.1.0", "003");
    if kind == DsmrKind::Emucs {
        line(s, "0-1:96.1.1", &hex("7FLO2123015189"));
        line(s, "0-1:24.4.0", "1");
        s.push_str(&format!("0-1:24.2.3({ts})({gas:09.3}*m3)\r\n"));
    } else {
        line(s, "0-1:96.1.0", &hex("G0000000000000000"));
        s.push_str(&format!("0-1:24.2.1({ts})({gas:09.3}*m3)\r\n"));
    }
}

/// The water (device type 7, m³) and heat (device type 4, GJ) meters the reading has values
/// of, in channel order, water first on the same channel.
fn other_mbus(s: &mut String, r: &Reading, kind: DsmrKind, regs: &DsmrRegisters, ts: &str) {
    let mut devices = Vec::new();
    if let Some(v) = r.energy.water_m3 {
        devices.push((
            regs.water,
            "007",
            "m3",
            v,
            "W0000000000000000",
            "7WAT2123015190",
        ));
    }
    if let Some(v) = r.energy.heat_gj {
        devices.push((
            regs.heat,
            "004",
            "GJ",
            v,
            "H0000000000000000",
            "7HEA2123015191",
        ));
    }
    devices.sort_by_key(|d| d.0.channel);
    for (dev, device_type, unit, v, nl_id, be_id) in devices {
        let n = dev.channel.get();
        line(s, &format!("0-{n}:24.1.0"), device_type);
        if kind == DsmrKind::Emucs {
            line(s, &format!("0-{n}:96.1.1"), &hex(be_id));
        } else {
            line(s, &format!("0-{n}:96.1.0"), &hex(nl_id));
        }
        let at = dev
            .capture
            .map_or_else(|| ts.to_string(), |t| time_field(Some(t)));
        s.push_str(&format!("0-{n}:24.2.1({at})({v:09.3}*{unit})\r\n"));
    }
}

fn line(s: &mut String, obis: &str, value: &str) {
    s.push_str(obis);
    s.push('(');
    s.push_str(value);
    s.push_str(")\r\n");
}

fn opt(v: Option<f32>, f: impl Fn(f32) -> String) -> String {
    v.map(f).unwrap_or_default()
}

/// Watts as DSMR kW with three decimals, `00.335*kW`.
fn kw(w: f32) -> String {
    format!("{:06.3}*kW", f64::from(w) / 1000.0)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}
