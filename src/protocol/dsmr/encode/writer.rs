//! The allocation-free DSMR / e-MUCS telegram writer behind [`encode_with`](super::encode_with):
//! one reusable buffer, constant parts pushed as byte strings, fixed-point numbers written
//! with integer arithmetic, the local time prefix (`YYMMDDhh` + season) cached per UTC hour,
//! the hex equipment identifier cached per meter id. The bytes are those of the `format!`
//! encoder it replaced (kept as the test oracle in `oracle.rs`); any value whose decimal
//! rounding is not certain from integers (a tie, a negative zero, NaN, a huge value) is written
//! with `std::fmt`, as before.

use super::super::super::time::{format_yymmddhhmmss, utc_to_local, Season, METER_TZ};
use super::super::super::Reading;
use super::super::crc16;
use super::super::registers::{demand_lines, DsmrRegisters};
use super::{time_field, DsmrKind, DEFAULT_ID};
use std::io::Write;

/// A telegram encoder for one meter kind, reused telegram after telegram.
#[derive(Debug, Clone)]
pub struct Encoder {
    kind: DsmrKind,
    buf: Vec<u8>,
    /// UTC hour (epoch s / 3600) → local `YYMMDDhh` and the season flag during it.
    hour: Option<(i64, [u8; 8], u8)>,
    /// The meter id and its hex form as last sent.
    id: Option<(String, Vec<u8>)>,
    /// e-MUCS demand lines are built here (`registers::demand_lines` writes a `String`).
    scratch: String,
}

/// The telegram time field: 12 digits and S/W.
type TimeField = [u8; 13];

const NO_CLOCK: TimeField = *b"000101010000W";

impl Encoder {
    pub fn new(kind: DsmrKind) -> Self {
        Encoder {
            kind,
            buf: Vec::with_capacity(1100),
            hour: None,
            id: None,
            scratch: String::new(),
        }
    }

    pub fn kind(&self) -> DsmrKind {
        self.kind
    }

    /// The telegram of `r` carrying `regs`, valid until the next call.
    pub fn encode(&mut self, r: &Reading, regs: &DsmrRegisters) -> &[u8] {
        let kind = self.kind;
        let ts = self.time(r.timestamp);
        self.hex_id(r.meter_id.as_deref().unwrap_or(DEFAULT_ID));
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(kind.header().as_bytes());
        b.extend_from_slice(b"\r\n\r\n");
        b.extend_from_slice(match kind {
            DsmrKind::Emucs => b"0-0:96.1.4(50217)\r\n",
            DsmrKind::Dsmr42 => b"1-3:0.2.8(42)\r\n",
            _ => b"1-3:0.2.8(50)\r\n",
        });
        let id: &[u8] = self.id.as_ref().map_or(&[], |(_, h)| h);
        if kind == DsmrKind::Emucs {
            push_line(b, b"0-0:96.1.1(", id);
            push_line(b, b"0-0:1.0.0(", &ts);
        } else {
            push_line(b, b"0-0:1.0.0(", &ts);
            push_line(b, b"0-0:96.1.1(", id);
        }
        let e = &r.energy;
        for (obis, v) in [
            (b"1-0:1.8.1(", e.import_t1_kwh),
            (b"1-0:1.8.2(", e.import_t2_kwh),
            (b"1-0:2.8.1(", e.export_t1_kwh),
            (b"1-0:2.8.2(", e.export_t2_kwh),
        ] {
            if let Some(v) = v {
                b.extend_from_slice(obis);
                fixed_f64(b, v, 3, 10);
                b.extend_from_slice(b"*kWh)\r\n");
            }
        }
        b.extend_from_slice(b"0-0:96.14.0(");
        fixed(b, u64::from(regs.tariff), 0, 4);
        b.extend_from_slice(b")\r\n");
        let (import, export) = super::totals(r);
        if kind == DsmrKind::Emucs {
            self.scratch.clear();
            let now = std::str::from_utf8(&ts).unwrap_or_default();
            demand_lines(&mut self.scratch, &regs.demand, now, |t| {
                time_field(Some(t))
            });
            b.extend_from_slice(self.scratch.as_bytes());
        }
        b.extend_from_slice(b"1-0:1.7.0(");
        kw(b, import);
        b.extend_from_slice(b")\r\n1-0:2.7.0(");
        kw(b, export);
        b.extend_from_slice(b")\r\n");
        let phases = kind.phases();
        match kind {
            DsmrKind::Smr5ThreePhase => b.extend_from_slice(SMR5_3PH_EVENTS),
            DsmrKind::Smr5OnePhase => b.extend_from_slice(SMR5_1PH_EVENTS),
            DsmrKind::Dsmr42 => b.extend_from_slice(DSMR42_EVENTS),
            DsmrKind::Emucs => per_phase_power(b, r, phases),
        }
        if kind.has_voltage() {
            for (p, obis) in [b"1-0:32.7.0(", b"1-0:52.7.0(", b"1-0:72.7.0("]
                .iter()
                .enumerate()
                .take(phases)
            {
                b.extend_from_slice(*obis);
                if let Some(v) = r.voltage_v[p] {
                    fixed_f32(b, v, 1, 5);
                    b.extend_from_slice(b"*V");
                }
                b.extend_from_slice(b")\r\n");
            }
        }
        let dec = kind.current_decimals() as u32;
        let width = if dec == 0 {
            3
        } else {
            (dec as usize).saturating_add(4)
        };
        for (p, obis) in [b"1-0:31.7.0(", b"1-0:51.7.0(", b"1-0:71.7.0("]
            .iter()
            .enumerate()
            .take(phases)
        {
            b.extend_from_slice(*obis);
            if let Some(a) = r.current_a[p] {
                fixed_f32(b, a.abs(), dec, width);
                b.extend_from_slice(b"*A");
            }
            b.extend_from_slice(b")\r\n");
        }
        if kind == DsmrKind::Emucs {
            b.extend_from_slice(
                b"0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n1-0:31.4.0(999*A)\r\n0-0:96.13.0()\r\n",
            );
        } else {
            per_phase_power(b, r, phases);
        }
        if let Some(gas) = r.energy.gas_m3 {
            let capture = match regs.mbus_capture {
                Some(t) => self.time(Some(t)),
                None => ts,
            };
            let b = &mut self.buf;
            if kind == DsmrKind::Emucs {
                b.extend_from_slice(MBUS_EMUCS);
                b.extend_from_slice(b"0-1:24.2.3(");
            } else {
                b.extend_from_slice(MBUS_NL);
                b.extend_from_slice(b"0-1:24.2.1(");
            }
            b.extend_from_slice(&capture);
            b.extend_from_slice(b")(");
            fixed_f64(b, gas, 3, 9);
            b.extend_from_slice(b"*m3)\r\n");
        }
        let b = &mut self.buf;
        b.push(b'!');
        let crc = crc16::checksum(b);
        for shift in [12, 8, 4, 0] {
            b.push(HEX[usize::from((crc >> shift) & 0xF)]);
        }
        b.extend_from_slice(b"\r\n");
        b
    }

    /// The time field of `ts`, the local hour from the cache when it is this UTC hour's.
    fn time(&mut self, ts: Option<i64>) -> TimeField {
        let Some(t) = ts else { return NO_CLOCK };
        let hour = t.div_euclid(3600);
        let in_hour = t.rem_euclid(3600);
        let cached = match self.hour {
            Some((h, prefix, flag)) if h == hour => Some((prefix, flag)),
            _ => hour_prefix(hour),
        };
        let Some((prefix, flag)) = cached else {
            let mut out = NO_CLOCK;
            out.copy_from_slice(time_field(ts).as_bytes());
            return out;
        };
        self.hour = Some((hour, prefix, flag));
        let mut out = NO_CLOCK;
        out[..8].copy_from_slice(&prefix);
        let (min, sec) = (in_hour / 60, in_hour % 60);
        out[8..10].copy_from_slice(&two_digits(min));
        out[10..12].copy_from_slice(&two_digits(sec));
        out[12] = flag;
        out
    }

    /// `0-0:96.1.1(…)`'s value for `id`, from the cache when the id is the last one.
    fn hex_id(&mut self, id: &str) {
        if self.id.as_ref().is_some_and(|(last, _)| last == id) {
            return;
        }
        let hex = id
            .bytes()
            .flat_map(|c| [HEX[usize::from(c >> 4)], HEX[usize::from(c & 0xF)]]);
        self.id = Some((id.to_string(), hex.collect()));
    }
}

/// The local `YYMMDDhh` and season flag of a whole UTC hour, when the meter's offset is a
/// whole number of hours for all of it (so local minutes and seconds are the UTC ones).
fn hour_prefix(hour: i64) -> Option<([u8; 8], u8)> {
    let start = hour.checked_mul(3600)?;
    let offset = |t: i64| {
        let (local, season) = utc_to_local(t, METER_TZ)?;
        Some((local.and_utc().timestamp().checked_sub(t)?, local, season))
    };
    let (off, local, season) = offset(start)?;
    let (off_end, _, season_end) = offset(start.checked_add(3599)?)?;
    if off % 3600 != 0 || off != off_end || season != season_end {
        return None;
    }
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&format_yymmddhhmmss(&local).as_bytes()[..8]);
    let flag = if season == Season::Summer { b'S' } else { b'W' };
    Some((prefix, flag))
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The SMR 5.0 / DSMR 4.2 event lines between the totals and the voltages.
const SMR5_3PH_EVENTS: &[u8] = b"0-0:96.7.21(00004)\r\n0-0:96.7.9(00002)\r\n\
1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)\r\n\
1-0:32.32.0(00000)\r\n1-0:52.32.0(00000)\r\n1-0:72.32.0(00000)\r\n\
1-0:32.36.0(00000)\r\n1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n0-0:96.13.0()\r\n";
const SMR5_1PH_EVENTS: &[u8] = b"0-0:96.7.21(00004)\r\n0-0:96.7.9(00002)\r\n\
1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)\r\n\
1-0:32.32.0(00000)\r\n1-0:32.36.0(00000)\r\n0-0:96.13.0()\r\n";
const DSMR42_EVENTS: &[u8] = b"0-0:96.7.21(00004)\r\n0-0:96.7.9(00002)\r\n\
1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)\r\n\
1-0:32.32.0(00000)\r\n1-0:52.32.0(00000)\r\n1-0:72.32.0(00000)\r\n0-0:96.13.0()\r\n";
/// The M-Bus device lines before the gas value (hex of `7FLO2123015189` / `G000…`).
const MBUS_EMUCS: &[u8] =
    b"0-1:24.1.0(003)\r\n0-1:96.1.1(37464C4F32313233303135313839)\r\n0-1:24.4.0(1)\r\n";
const MBUS_NL: &[u8] = b"0-1:24.1.0(003)\r\n0-1:96.1.0(4730303030303030303030303030303030)\r\n";

fn push_line(b: &mut Vec<u8>, obis_open: &[u8], value: &[u8]) {
    b.extend_from_slice(obis_open);
    b.extend_from_slice(value);
    b.extend_from_slice(b")\r\n");
}

fn per_phase_power(b: &mut Vec<u8>, r: &Reading, phases: usize) {
    let del = [b"1-0:21.7.0(", b"1-0:41.7.0(", b"1-0:61.7.0("];
    let rec = [b"1-0:22.7.0(", b"1-0:42.7.0(", b"1-0:62.7.0("];
    for (p, obis) in del.iter().enumerate().take(phases) {
        b.extend_from_slice(*obis);
        if let Some(w) = r.active_power_phase_w[p] {
            kw(b, w.max(0.0));
        }
        b.extend_from_slice(b")\r\n");
    }
    for (p, obis) in rec.iter().enumerate().take(phases) {
        b.extend_from_slice(*obis);
        if let Some(w) = r.active_power_phase_w[p] {
            kw(b, (-w).max(0.0));
        }
        b.extend_from_slice(b")\r\n");
    }
}

/// Watts as DSMR kW with three decimals, `00.335*kW`.
fn kw(b: &mut Vec<u8>, w: f32) {
    fixed_f64(b, f64::from(w) / 1000.0, 3, 6);
    b.extend_from_slice(b"*kW");
}

fn two_digits(n: i64) -> [u8; 2] {
    // `n` is 0..60 here: both digits are ASCII.
    [digit(n / 10), digit(n % 10)]
}

/// The ASCII digit of `d` (0..=9).
fn digit(d: i64) -> u8 {
    b'0'.wrapping_add(d as u8)
}

const POW10: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];

/// `format!("{v:0width$.dec$}")` for `v` exactly (`dec` ≤ 3): integer digits when the nearest
/// `dec`-decimal number is certain (no tie, not negative, not huge), `std::fmt` otherwise.
fn fixed_f64(b: &mut Vec<u8>, v: f64, dec: u32, width: usize) {
    match scaled(v, dec) {
        Some(n) => fixed(b, n, dec, width),
        None => {
            let d = dec as usize;
            let _ = write!(b, "{v:0width$.d$}");
        }
    }
}

/// As [`fixed_f64`] for an `f32` (formatted from its own exact value, as `std::fmt` does).
fn fixed_f32(b: &mut Vec<u8>, v: f32, dec: u32, width: usize) {
    match scaled(f64::from(v), dec) {
        Some(n) => fixed(b, n, dec, width),
        None => {
            let d = dec as usize;
            let _ = write!(b, "{v:0width$.d$}");
        }
    }
}

/// `v · 10^dec` rounded, when `v`'s exact value is within 0.4 units of the last decimal from
/// it (so rounding it to `dec` decimals certainly gives those digits): positive, finite,
/// below 10⁹ (where the f64 arithmetic of the check is exact to far better than 0.1 unit).
fn scaled(v: f64, dec: u32) -> Option<u64> {
    let scale = POW10[dec as usize];
    if !(v.is_sign_positive() && v < 1e9) {
        return None;
    }
    let n = (v * scale).round();
    if ((v - n / scale) * scale).abs() < 0.4 {
        Some(n as u64)
    } else {
        None
    }
}

/// `n / 10^dec` with `dec` decimals, zero-padded on the left to `width` (≤ 24) characters.
fn fixed(b: &mut Vec<u8>, mut n: u64, dec: u32, width: usize) {
    let mut digits = [b'0'; 24];
    let mut at = digits.len();
    let mut written = 0u32;
    loop {
        // At most 20 digits and a '.' in 24 places: `at` stays above 0.
        at = at.wrapping_sub(1);
        digits[at] = digit((n % 10) as i64);
        n /= 10;
        written = written.wrapping_add(1);
        if written == dec {
            at = at.wrapping_sub(1);
            digits[at] = b'.';
        }
        if n == 0 && written > dec {
            break;
        }
    }
    // The places left of the digits are '0' already: the padding is part of the one copy.
    let start = at.min(digits.len().saturating_sub(width));
    b.extend_from_slice(&digits[start..]);
}
