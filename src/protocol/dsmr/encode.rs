//! DSMR / e-MUCS telegram encoder: turns a [`Reading`] into the byte-exact telegram a meter
//! of the given kind would send, with a realistic line set and a valid CRC.

use super::super::time::{format_yymmddhhmmss, utc_to_local, Season, METER_TZ};
use super::super::Reading;
use super::registers::{demand_lines, DsmrRegisters};
use super::CRC;
use std::fmt::Write;

/// The P1 meter kinds the simulator can impersonate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsmrKind {
    /// Dutch SMR 5.0 three-phase (Iskra AM550 style), a telegram every second.
    Smr5ThreePhase,
    /// Dutch SMR 5.0 single-phase.
    Smr5OnePhase,
    /// Dutch DSMR 4.2 three-phase (Kaifa style): no voltage lines, a telegram every 10 s.
    Dsmr42,
    /// Belgian e-MUCS (Fluvius) three-phase with 1.4.0/1.6.0 demand lines, gas on channel 1.
    Emucs,
}

impl DsmrKind {
    pub const ALL: [DsmrKind; 4] = [
        DsmrKind::Smr5ThreePhase,
        DsmrKind::Smr5OnePhase,
        DsmrKind::Dsmr42,
        DsmrKind::Emucs,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            DsmrKind::Smr5ThreePhase => "smr5",
            DsmrKind::Smr5OnePhase => "smr5-1ph",
            DsmrKind::Dsmr42 => "dsmr42",
            DsmrKind::Emucs => "emucs",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Number of phases the meter reports.
    pub fn phases(self) -> usize {
        if self == DsmrKind::Smr5OnePhase {
            1
        } else {
            3
        }
    }

    /// Whether the telegram carries voltage lines (DSMR 4.2 does not, P1-05).
    pub fn has_voltage(self) -> bool {
        self != DsmrKind::Dsmr42
    }

    /// Telegram interval in seconds (P1-04).
    pub fn interval_s(self) -> u32 {
        if self == DsmrKind::Dsmr42 {
            10
        } else {
            1
        }
    }

    /// Decimals printed for currents: whole amperes in NL DSMR, two decimals in e-MUCS.
    pub fn current_decimals(self) -> usize {
        if self == DsmrKind::Emucs {
            2
        } else {
            0
        }
    }

    fn header(self) -> &'static str {
        match self {
            DsmrKind::Smr5ThreePhase => "/ISK5\\2M550T-1012",
            DsmrKind::Smr5OnePhase => "/ISK5\\2M550E-1011",
            DsmrKind::Dsmr42 => "/KFM5KAIFA-METER",
            DsmrKind::Emucs => "/FLU5\\253769484_A",
        }
    }
}

const DEFAULT_ID: &str = "E0000000000000000";

/// Encode `r` as a telegram of `kind` with default registers (tariff 1, no demand yet, the
/// M-Bus value captured at the telegram time). Values the reading lacks are written as empty
/// `()` (as real meters do), so parsing gives them back as `None`.
pub fn encode(r: &Reading, kind: DsmrKind) -> Vec<u8> {
    encode_with(r, kind, &DsmrRegisters::default())
}

/// Encode `r` as a telegram of `kind` carrying `regs` (tariff indicator, M-Bus capture time,
/// e-MUCS demand).
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

/// Import and export totals (W, both ≥ 0) from the reading, derived from the signed total
/// when the reading does not give them.
fn totals(r: &Reading) -> (f32, f32) {
    match (r.power_import_w, r.power_export_w, r.active_power_w) {
        (None, None, Some(t)) => (t.max(0.0), (-t).max(0.0)),
        (i, e, _) => (i.unwrap_or(0.0), e.unwrap_or(0.0)),
    }
}

/// The 0-0:1.0.0 value: local time + S/W, or the placeholder meters print without a clock.
fn time_field(ts: Option<i64>) -> String {
    match ts.and_then(|t| utc_to_local(t, METER_TZ)) {
        Some((local, season)) => {
            let flag = if season == Season::Summer { 'S' } else { 'W' };
            format!("{}{flag}", format_yymmddhhmmss(&local))
        }
        None => "000101010000W".to_string(),
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}

/// The same telegram with its `1-3:0.2.8` version line set to `version` (e.g. `40` for a
/// DSMR 4.0 meter) and the CRC recomputed; telegrams without a version line are returned as is.
pub fn with_version(telegram: &[u8], version: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(telegram);
    let Some(start) = text.find("1-3:0.2.8(") else {
        return telegram.to_vec();
    };
    let Some(len) = text[start..].find(')') else {
        return telegram.to_vec();
    };
    let Some(bang) = text.rfind('!') else {
        return telegram.to_vec();
    };
    let body = format!(
        "{}1-3:0.2.8({version}{}",
        &text[..start],
        &text[start.saturating_add(len)..=bang]
    );
    let crc = CRC.checksum(body.as_bytes());
    format!("{body}{crc:04X}\r\n").into_bytes()
}
