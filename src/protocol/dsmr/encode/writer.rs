//! The allocation-free DSMR / e-MUCS telegram writer behind [`encode_with`](super::encode_with):
//! one reusable buffer, constant parts pushed as byte strings, the numbers listed once per
//! telegram ([`fields`](super::fields)) and written with integer arithmetic, the local time
//! prefix (`YYMMDDhh` + season) cached per UTC hour, the hex equipment identifier cached per
//! meter id. A telegram of the same shape as the last one only overwrites the last one's
//! digits ([`layout`](super::layout)). The bytes are those of the `format!` encoder it
//! replaced (kept as the test oracle in `oracle.rs`).

use super::super::super::time::{format_yymmddhhmmss, utc_to_local, Season, METER_TZ};
use super::super::super::Reading;
use super::super::crc16;
use super::super::registers::{demand_lines, DsmrRegisters};
use super::fields::{fill, Fields};
use super::layout::{ExtraCaptures, Layout, Recorder, TimeField};
use super::{extra_mbus, time_field, DsmrKind, Extra, Medium, DEFAULT_ID};

/// A telegram encoder for one meter kind, reused telegram after telegram.
#[derive(Debug, Clone)]
pub struct Encoder {
    kind: DsmrKind,
    buf: Vec<u8>,
    /// UTC hour (epoch s / 3600) → local `YYMMDDhh` and the season flag during it.
    hour: Option<(i64, [u8; 8], u8)>,
    /// The last M-Bus capture time (it changes every 5 minutes or hour) and its field.
    capture: Option<(i64, TimeField)>,
    /// The same for the water and heat meters' capture times that differ from the gas one.
    extra_capture: Option<(i64, TimeField)>,
    /// The meter id and its hex form as last sent.
    id: Option<(String, Vec<u8>)>,
    /// Bumped whenever the meter id changes (a layout is only reused for the same id).
    id_generation: u64,
    /// The numbers of the telegram being written.
    fields: Fields,
    /// Where the last telegram's numbers are (not kept for e-MUCS, whose demand lines vary).
    layout: Option<Layout>,
    /// e-MUCS demand lines are built here (`registers::demand_lines` writes a `String`).
    scratch: String,
}

const NO_CLOCK: TimeField = *b"000101010000W";

/// A telegram without water or heat meters (the usual one).
const NO_EXTRA: ExtraCaptures = ExtraCaptures {
    shape: 0,
    times: [NO_CLOCK; 2],
    len: 0,
};

impl Encoder {
    pub fn new(kind: DsmrKind) -> Self {
        Encoder {
            kind,
            buf: Vec::with_capacity(1100),
            hour: None,
            capture: None,
            extra_capture: None,
            id: None,
            id_generation: 0,
            fields: Fields::new(),
            layout: None,
            scratch: String::new(),
        }
    }

    pub fn kind(&self) -> DsmrKind {
        self.kind
    }

    /// The telegram of `r` carrying `regs`, valid until the next call.
    pub fn encode(&mut self, r: &Reading, regs: &DsmrRegisters) -> &[u8] {
        let ts = self.time(r.timestamp);
        self.hex_id(r.meter_id.as_deref().unwrap_or(DEFAULT_ID));
        fill(&mut self.fields, self.kind, r, regs);
        let capture = match (r.energy.gas_m3, regs.mbus_capture) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(match self.capture {
                Some((last, field)) if last == t => field,
                _ => {
                    let field = self.time(Some(t));
                    self.capture = Some((t, field));
                    field
                }
            }),
            (Some(_), None) => Some(ts),
        };
        let extras = extra_mbus(r, regs);
        let owned;
        let extra = match extras {
            [None, None] => &NO_EXTRA,
            _ => {
                owned = self.extra_captures(&extras, ts);
                &owned
            }
        };
        let reused = match &mut self.layout {
            Some(l) => l
                .update(
                    &mut self.buf,
                    self.id_generation,
                    &self.fields,
                    &ts,
                    capture.as_ref(),
                    extra,
                )
                .then_some(l.bang_at),
            _ => None,
        };
        let bang = match reused {
            Some(bang) => bang,
            None => {
                let f = self.fields;
                self.write(regs, &f, &ts, capture.as_ref(), (&extras, extra))
            }
        };
        let b = &mut self.buf;
        b.truncate(bang);
        b.push(b'!');
        let crc = crc16::checksum(b);
        for shift in [12, 8, 4, 0] {
            b.push(HEX[usize::from((crc >> shift) & 0xF)]);
        }
        b.extend_from_slice(b"\r\n");
        b
    }

    /// Write the telegram's body anew (up to the `!`, whose offset is returned) and record
    /// where its numbers are.
    fn write(
        &mut self,
        regs: &DsmrRegisters,
        f: &Fields,
        ts: &TimeField,
        capture: Option<&TimeField>,
        (extras, extra): (&[Option<Extra>; 2], &ExtraCaptures),
    ) -> usize {
        let kind = self.kind;
        let mut rec = Recorder::new(self.id_generation, f, extra.shape);
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
        let time_line = |b: &mut Vec<u8>, rec: &mut Recorder| {
            b.extend_from_slice(b"0-0:1.0.0(");
            rec.time(b.len());
            b.extend_from_slice(ts);
            b.extend_from_slice(b")\r\n");
        };
        if kind == DsmrKind::Emucs {
            push_line(b, b"0-0:96.1.1(", id);
            time_line(b, &mut rec);
        } else {
            time_line(b, &mut rec);
            push_line(b, b"0-0:96.1.1(", id);
        }
        let mut put = Put { f, rec: &mut rec };
        for (i, obis) in [b"1-0:1.8.1(", b"1-0:1.8.2(", b"1-0:2.8.1(", b"1-0:2.8.2("]
            .iter()
            .enumerate()
        {
            if put.present(i) {
                b.extend_from_slice(*obis);
                put.num(b, i, b"*kWh)\r\n");
            }
        }
        b.extend_from_slice(b"0-0:96.14.0(");
        put.num(b, 4, b")\r\n");
        if kind == DsmrKind::Emucs {
            self.scratch.clear();
            let now = std::str::from_utf8(ts).unwrap_or_default();
            demand_lines(&mut self.scratch, &regs.demand, now, |t| {
                time_field(Some(t))
            });
            b.extend_from_slice(self.scratch.as_bytes());
        }
        b.extend_from_slice(b"1-0:1.7.0(");
        put.num(b, 5, b"*kW)\r\n1-0:2.7.0(");
        put.num(b, 6, b"*kW)\r\n");
        let phases = kind.phases();
        let mut i = 7;
        match kind {
            DsmrKind::Smr5ThreePhase => b.extend_from_slice(SMR5_3PH_EVENTS),
            DsmrKind::Smr5OnePhase => b.extend_from_slice(SMR5_1PH_EVENTS),
            DsmrKind::Dsmr42 => b.extend_from_slice(DSMR42_EVENTS),
            DsmrKind::Emucs => i = put.phase_powers(b, i, phases),
        }
        if kind.has_voltage() {
            for obis in [b"1-0:32.7.0(", b"1-0:52.7.0(", b"1-0:72.7.0("]
                .iter()
                .take(phases)
            {
                b.extend_from_slice(*obis);
                put.optional(b, i, b"*V");
                i = i.wrapping_add(1);
            }
        }
        for obis in [b"1-0:31.7.0(", b"1-0:51.7.0(", b"1-0:71.7.0("]
            .iter()
            .take(phases)
        {
            b.extend_from_slice(*obis);
            put.optional(b, i, b"*A");
            i = i.wrapping_add(1);
        }
        if kind == DsmrKind::Emucs {
            b.extend_from_slice(
                b"0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n1-0:31.4.0(999*A)\r\n0-0:96.13.0()\r\n",
            );
        } else {
            i = put.phase_powers(b, i, phases);
        }
        if let Some(capture) = capture {
            if kind == DsmrKind::Emucs {
                b.extend_from_slice(MBUS_EMUCS);
                b.extend_from_slice(b"0-1:24.2.3(");
            } else {
                b.extend_from_slice(MBUS_NL);
                b.extend_from_slice(b"0-1:24.2.1(");
            }
            put.rec.capture(b.len());
            b.extend_from_slice(capture);
            b.extend_from_slice(b")(");
            put.num(b, i, b"*m3)\r\n");
        }
        for (k, ((medium, dev, _), time)) in extras.iter().flatten().zip(&extra.times).enumerate() {
            i = i.wrapping_add(1);
            let ch = dev.channel.digit();
            b.extend_from_slice(b"0-");
            b.push(ch);
            b.extend_from_slice(b":24.1.0(");
            b.extend_from_slice(medium.device_type().as_bytes());
            b.extend_from_slice(b")\r\n0-");
            b.push(ch);
            b.extend_from_slice(if kind == DsmrKind::Emucs {
                b":96.1.1("
            } else {
                b":96.1.0("
            });
            b.extend_from_slice(extra_id_hex(*medium, kind));
            b.extend_from_slice(b")\r\n0-");
            b.push(ch);
            b.extend_from_slice(b":24.2.1(");
            put.rec.extra_capture(k, b.len());
            b.extend_from_slice(time);
            b.extend_from_slice(b")(");
            put.num(
                b,
                i,
                match medium {
                    Medium::Water => b"*m3)\r\n",
                    Medium::Heat => b"*GJ)\r\n",
                },
            );
        }
        let bang = b.len();
        // e-MUCS demand lines change length and content: its telegrams are always written anew.
        self.layout = rec.finish(bang).filter(|_| kind != DsmrKind::Emucs);
        bang
    }

    /// The water and heat meters' part of the telegram's shape and their capture time fields
    /// (`ts` for a device without its own capture time).
    fn extra_captures(&mut self, extras: &[Option<Extra>; 2], ts: TimeField) -> ExtraCaptures {
        let mut extra = ExtraCaptures {
            shape: 0,
            times: [ts; 2],
            len: 0,
        };
        for (k, (medium, dev, _)) in extras.iter().flatten().enumerate() {
            if let (Some(t), Some(slot)) = (dev.capture, extra.times.get_mut(k)) {
                let cached = self.capture.into_iter().chain(self.extra_capture);
                *slot = match cached.into_iter().find(|(last, _)| *last == t) {
                    Some((_, field)) => field,
                    None => {
                        let field = self.time(Some(t));
                        self.extra_capture = Some((t, field));
                        field
                    }
                };
            }
            // Present, heat or water, the channel: a byte per device.
            let code = 0x80
                | u32::from(dev.channel.get()).wrapping_shl(1)
                | u32::from(*medium == Medium::Heat);
            extra.shape |= code.wrapping_shl(8u32.wrapping_mul(k as u32));
            extra.len = k.wrapping_add(1);
        }
        extra
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
        self.id_generation = self.id_generation.wrapping_add(1);
    }
}

/// Writes the numbers of a telegram being written anew, recording their places.
struct Put<'a> {
    f: &'a Fields,
    rec: &'a mut Recorder,
}

impl Put<'_> {
    fn present(&self, i: usize) -> bool {
        self.f.absent & 1u32.wrapping_shl(i as u32) == 0
    }

    /// Field `i` then `after`.
    fn num(&mut self, b: &mut Vec<u8>, i: usize, after: &[u8]) {
        let at = b.len();
        let field = self.f.get(i);
        let shown = field.write(b);
        self.rec.field(i, at, shown, field.num.bits());
        b.extend_from_slice(after);
    }

    /// Field `i` and its unit when present (nothing when absent), then `)` CRLF.
    fn optional(&mut self, b: &mut Vec<u8>, i: usize, unit: &[u8]) {
        if self.present(i) {
            self.num(b, i, unit);
        }
        b.extend_from_slice(b")\r\n");
    }

    /// The delivered then received power lines per phase from field `i` on; the next field.
    fn phase_powers(&mut self, b: &mut Vec<u8>, mut i: usize, phases: usize) -> usize {
        let del = [b"1-0:21.7.0(", b"1-0:41.7.0(", b"1-0:61.7.0("];
        let rec = [b"1-0:22.7.0(", b"1-0:42.7.0(", b"1-0:62.7.0("];
        for obis in del.iter().take(phases).chain(rec.iter().take(phases)) {
            b.extend_from_slice(*obis);
            self.optional(b, i, b"*kW");
            i = i.wrapping_add(1);
        }
        i
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

/// The hex equipment identifier of a water or heat meter (`Medium::equipment_id`).
fn extra_id_hex(medium: Medium, kind: DsmrKind) -> &'static [u8] {
    match (medium, kind) {
        (Medium::Water, DsmrKind::Emucs) => b"3757415432313233303135313930",
        (Medium::Heat, DsmrKind::Emucs) => b"3748454132313233303135313931",
        (Medium::Water, _) => b"5730303030303030303030303030303030",
        (Medium::Heat, _) => b"4830303030303030303030303030303030",
    }
}

fn push_line(b: &mut Vec<u8>, obis_open: &[u8], value: &[u8]) {
    b.extend_from_slice(obis_open);
    b.extend_from_slice(value);
    b.extend_from_slice(b")\r\n");
}

fn two_digits(n: i64) -> [u8; 2] {
    // `n` is 0..60 here: both digits are ASCII.
    [
        b'0'.wrapping_add((n / 10) as u8),
        b'0'.wrapping_add((n % 10) as u8),
    ]
}
