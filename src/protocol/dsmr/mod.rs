//! DSMR 4.x / SMR 5.x (NL) and e-MUCS (BE) P1 telegram parser: header `/XXX5…`, OBIS lines,
//! `!` + CRC-16/ARC over `/`…`!` inclusive. Maps the instantaneous values into a [`Reading`]
//! and keeps the rest as raw lines. Telegrams without a CRC (DSMR 2.2/3.0) are refused as
//! `Incompatible` (P1-02). The encoder lives in `encode.rs`.

pub mod crc16;
mod encode;
mod fast;
mod lanes;
mod layout;
mod legacy;
mod registers;
#[cfg(test)]
mod tests;
mod values;

#[cfg(test)]
pub use encode::oracle as encode_oracle;
pub use encode::{encode, encode_with, with_version, DsmrKind, Encoder};
pub(crate) use layout::LayoutCache;
pub use legacy::encode_dsmr22;
pub use registers::{
    Demand, DsmrRegisters, MbusChannel, MbusDevice, MonthPeak, HEAT_CHANNEL, WATER_CHANNEL,
};

use super::error::line_of;
use super::time::{self, Season, METER_TZ};
use super::{
    strip_parity, ErrorKind, ParseError, ParseOptions, Protocol, Quirk, Reading, Telegram,
};
use memchr::{memchr, memchr2};
use values::{decode_id, decode_id_into, ValueError, Values};

/// CRC-16/ARC, slice-by-16 table: `crc16::checksum`'s fallback and test oracle; everything
/// else computes the P1 checksum with `crc16::checksum`.
static CRC: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_ARC);

/// Parse one telegram (`/` … `!CRC` CRLF) with default options.
pub fn parse(bytes: &[u8]) -> Result<Telegram, ParseError> {
    parse_with(bytes, ParseOptions::default())
}

/// Parse one telegram. Bytes with a parity bit (7E1 read as 8 bits) are stripped first.
pub fn parse_with(bytes: &[u8], opts: ParseOptions) -> Result<Telegram, ParseError> {
    // Fast path: `is_ascii` (no byte with bit 7 set) runs a word at a time.
    if bytes.is_ascii() {
        return parse_clean(bytes, opts);
    }
    match strip_parity(bytes) {
        Some(clean) => {
            let mut t = parse_clean(&clean, opts)?;
            t.quirk(Quirk::ParityStripped);
            Ok(t)
        }
        None => parse_clean(bytes, opts),
    }
}

/// Parse one telegram whose bytes the framer already masked to 7 bits, into `t` (its strings'
/// memory reused): the same as [`parse_with`] without its second ASCII scan, and without
/// searching for the end marker the framer found at `bang` (the first `!` of `bytes`). A frame
/// of the same shape as the last one parsed into `t` is read from its layout (`layout.rs`).
pub(crate) fn parse_framed_into(
    bytes: &[u8],
    bang: usize,
    opts: ParseOptions,
    t: &mut Telegram,
) -> Result<(), ParseError> {
    if layout::parse_cached(bytes, bang, opts, t) {
        return Ok(());
    }
    parse_lines::<true>(bytes, Some(bang), opts, t)?;
    layout::record(bytes, bang, opts, t);
    Ok(())
}

/// Checks the end marker and CRC; returns the position of `!`. `bang`: the first `!`'s
/// position when the caller already knows it (the framer), else it is searched for.
fn check_crc(b: &[u8], bang: Option<usize>, t: &mut Telegram) -> Result<usize, ParseError> {
    let err = |kind, at: usize, msg: String| ParseError::new(kind, at, line_of(b, at), msg);
    let bang = match bang {
        Some(i) if b.get(i) == Some(&b'!') => i,
        _ => memchr(b'!', b).ok_or_else(|| {
            err(
                ErrorKind::Truncated,
                b.len(),
                "telegram ends without the '!' end marker".into(),
            )
        })?,
    };
    // `bang` < `b.len()`: the `+ 1`s on it below never saturate.
    let after_bang = bang.saturating_add(1);
    let tail = &b[after_bang..];
    let digits = tail.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let mut rest = &tail[digits..];
    // NULs after the CRC line: some meters pad with one (dsmr_parser accepts it on purpose).
    let nuls = rest.iter().rev().take_while(|&&c| c == 0).count();
    if nuls > 0 {
        rest = &rest[..rest.len().saturating_sub(nuls)];
        t.quirk(Quirk::TrailingNul);
    }
    if digits == 0 && matches!(rest, b"" | b"\r\n" | b"\n" | b"\r") {
        return Err(err(
            ErrorKind::Incompatible,
            bang,
            "no CRC after '!': a DSMR 2.2/3.0 meter (older than DSMR 4.2 is not supported)".into(),
        ));
    }
    if digits == 0 || digits > 4 || !matches!(rest, b"" | b"\r\n" | b"\n" | b"\r") {
        let shown = String::from_utf8_lossy(&tail[..tail.len().min(8)]).into_owned();
        return Err(err(
            ErrorKind::Malformed,
            after_bang,
            format!("CRC field {shown:?} is not 1-4 hex digits + CRLF"),
        ));
    }
    let printed_txt = &tail[..digits];
    let printed = printed_txt.iter().fold(0u16, |acc, &c| {
        (acc << 4) | u16::from(values::nibble(c).unwrap_or(0))
    });
    let computed = crc16::checksum(&b[..=bang]);
    if printed != computed {
        return Err(err(
            ErrorKind::BadCrc,
            after_bang,
            format!(
                "CRC printed {}, computed {computed:04X}",
                String::from_utf8_lossy(printed_txt)
            ),
        ));
    }
    if printed_txt.iter().any(u8::is_ascii_lowercase) {
        t.quirk(Quirk::CrcLowercase);
    }
    if digits < 4 {
        t.quirk(Quirk::CrcUnpadded);
    }
    Ok(bang)
}

fn parse_clean(b: &[u8], opts: ParseOptions) -> Result<Telegram, ParseError> {
    let mut t = Telegram::default();
    parse_lines::<true>(b, None, opts, &mut t)?;
    Ok(t)
}

/// The generic line code alone, without the fast path: what the fast path is tested against.
#[cfg(test)]
fn parse_generic(b: &[u8], opts: ParseOptions) -> Result<Telegram, ParseError> {
    let mut t = Telegram::default();
    parse_lines::<false>(b, None, opts, &mut t)?;
    Ok(t)
}

/// [`parse_clean`] into `t`, with (`FAST`) or without the fast path for clean lines; `bang` as
/// [`check_crc`] takes it.
fn parse_lines<const FAST: bool>(
    b: &[u8],
    bang: Option<usize>,
    opts: ParseOptions,
    t: &mut Telegram,
) -> Result<(), ParseError> {
    let mut st = State::reusing(t);
    if b.is_empty() {
        return Err(ParseError::new(ErrorKind::Empty, 0, 1, "no bytes"));
    }
    if b[0] != b'/' {
        return Err(ParseError::new(
            ErrorKind::Malformed,
            0,
            1,
            "a P1 telegram starts with '/'",
        ));
    }
    let bang = check_crc(b, bang, t)?;
    let body = &b[..bang];
    let header_end = memchr2(b'\r', b'\n', body).unwrap_or(body.len());
    let header = &body[1..header_end];
    if header.len() < 4 || !values::printable(header) {
        return Err(ParseError::new(
            ErrorKind::Malformed,
            0,
            1,
            "header must be '/' + 3-letter manufacturer, baud digit and identification",
        ));
    }
    // SAFETY: every byte of `header` is in 0x20..0x7F (checked above): ASCII, valid UTF-8.
    let header = unsafe { std::str::from_utf8_unchecked(header) };
    let kept = t.header.get_or_insert_with(String::new);
    kept.clear();
    kept.push_str(header);

    let mut pos = header_end;
    while pos < body.len() {
        // Clean lines take the fast path; the rest (and every error) the generic code below.
        if FAST {
            pos = fast::lines(body, pos, t, &mut st, opts);
            if pos >= body.len() {
                break;
            }
        }
        let (line, at, next) = next_line(b, body, pos);
        pos = next;
        if line.is_empty() {
            continue;
        }
        apply_line(line, t, &mut st, opts).map_err(|e| {
            ParseError::new(ErrorKind::Malformed, at, line_of(b, at), e.to_string())
        })?;
    }
    st.finish(&mut t.reading);
    Ok(())
}

/// The line of `body` (a sub-slice of the frame `b`) starting at `pos`, trimmed; its offset
/// in `b`; and where the next line starts.
pub(super) fn next_line<'a>(b: &[u8], body: &'a [u8], pos: usize) -> (&'a [u8], usize, usize) {
    let end = memchr(b'\n', &body[pos..]).map_or(body.len(), |i| pos.saturating_add(i));
    let line = trim_line(&body[pos..end]);
    // `line` is a sub-slice of `b`: its address is at or after `b`'s.
    let at = (line.as_ptr() as usize).saturating_sub(b.as_ptr() as usize);
    (line, at, end.saturating_add(1))
}

/// A line without its CR/LF bytes at either end.
fn trim_line(mut l: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = l {
        l = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = l {
        l = rest;
    }
    l
}

/// Values collected across lines before they are combined into the reading.
#[derive(Default)]
struct State {
    delivered: [Option<f64>; 3],
    received: [Option<f64>; 3],
    mbus_type: [u16; 8],
    id_fallback: Option<String>,
    /// The previous telegram's version and meter id strings, whose memory the new ones reuse.
    spare_version: Option<String>,
    spare_id: Option<String>,
}

impl State {
    /// A fresh state for parsing into `t`: `t` is emptied (a DSMR telegram with no values),
    /// its version and meter id strings kept aside for reuse; its header string stays.
    fn reusing(t: &mut Telegram) -> Self {
        let st = State {
            spare_version: t.reading.version.take(),
            spare_id: t.reading.meter_id.take(),
            ..State::default()
        };
        t.reading = Reading::empty(Protocol::Dsmr);
        t.quirks.clear();
        t.raw.clear();
        st
    }

    fn finish(self, r: &mut Reading) {
        for p in 0..3 {
            r.active_power_phase_w[p] = match (self.delivered[p], self.received[p]) {
                (None, None) => None,
                (d, rc) => Some((d.unwrap_or(0.0) - rc.unwrap_or(0.0)) as f32),
            };
        }
        r.active_power_w = match (r.power_import_w, r.power_export_w) {
            (None, None) => None,
            (i, e) => Some(i.unwrap_or(0.0) - e.unwrap_or(0.0)),
        };
        if r.meter_id.is_none() {
            r.meter_id = self.id_fallback;
        }
    }
}

/// A data line the parser cannot read; the parser adds the byte offset and line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum LineError {
    #[error("line {line:?} has no '(' value")]
    NoValue { line: String },
    #[error("bad OBIS reference {obis:?}")]
    BadObis { obis: String },
    #[error("{obis}: {source}")]
    Value {
        obis: String,
        #[source]
        source: ValueError,
    },
}

fn apply_line(
    line: &[u8],
    t: &mut Telegram,
    st: &mut State,
    opts: ParseOptions,
) -> Result<(), LineError> {
    let open = memchr(b'(', line);
    let Some(open) = open else {
        return Err(LineError::NoValue {
            line: String::from_utf8_lossy(line).into_owned(),
        });
    };
    let obis = &line[..open];
    let Some(vals) = Values::split(&line[open..]) else {
        return Err(describe(obis, ValueError::Unbalanced));
    };
    if !obis.is_empty()
        && !obis
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-:.*".contains(c))
    {
        return Err(LineError::BadObis {
            obis: String::from_utf8_lossy(obis).into_owned(),
        });
    }
    let r = &mut t.reading;
    let mapped = map_obis(key_of(obis), &vals, r, st).map_err(|e| describe(obis, e))?;
    match mapped {
        Mapped::Yes => {}
        Mapped::Quirk(q) => t.quirk(q),
        Mapped::No => {
            if opts.keep_raw {
                t.raw.push(String::from_utf8_lossy(line).into_owned());
            }
        }
    }
    Ok(())
}

fn describe(obis: &[u8], source: ValueError) -> LineError {
    LineError::Value {
        obis: String::from_utf8_lossy(obis).into_owned(),
        source,
    }
}

enum Mapped {
    Yes,
    No,
    /// Read, and unusual in a way the telegram records.
    Quirk(Quirk),
}

/// OBIS keys (see [`fast::obis_key`]) of the lines mapped into the reading.
mod key {
    use super::fast::obis_key as k;
    pub const VERSION: u128 = k(b"1-3:0.2.8");
    pub const EMUCS_VERSION: u128 = k(b"0-0:96.1.4");
    pub const TIME: u128 = k(b"0-0:1.0.0");
    pub const ID: u128 = k(b"0-0:96.1.1");
    pub const ID_ALT: u128 = k(b"0-0:96.1.0");
    pub const ID_LOGICAL: u128 = k(b"0-0:42.0.0");
    pub const POWER_IMPORT: u128 = k(b"1-0:1.7.0");
    pub const POWER_EXPORT: u128 = k(b"1-0:2.7.0");
    pub const VOLTAGE: [u128; 3] = [k(b"1-0:32.7.0"), k(b"1-0:52.7.0"), k(b"1-0:72.7.0")];
    pub const CURRENT: [u128; 3] = [k(b"1-0:31.7.0"), k(b"1-0:51.7.0"), k(b"1-0:71.7.0")];
    pub const DELIVERED: [u128; 3] = [k(b"1-0:21.7.0"), k(b"1-0:41.7.0"), k(b"1-0:61.7.0")];
    pub const RECEIVED: [u128; 3] = [k(b"1-0:22.7.0"), k(b"1-0:42.7.0"), k(b"1-0:62.7.0")];
    pub const IMPORT: u128 = k(b"1-0:1.8.0");
    pub const IMPORT_T1: u128 = k(b"1-0:1.8.1");
    pub const IMPORT_T2: u128 = k(b"1-0:1.8.2");
    pub const EXPORT: u128 = k(b"1-0:2.8.0");
    pub const EXPORT_T1: u128 = k(b"1-0:2.8.1");
    pub const EXPORT_T2: u128 = k(b"1-0:2.8.2");
    /// M-Bus lines with the channel digit (byte 2) zeroed.
    pub const MBUS_TYPE: u128 = k(b"0-\0:24.1.0");
    pub const MBUS_VALUE: u128 = k(b"0-\0:24.2.1");
    pub const MBUS_VALUE_EMUCS: u128 = k(b"0-\0:24.2.3");
    /// The channel digit's bits.
    pub const CHANNEL: u128 = 0xFF << 16;
}

/// The key of an OBIS reference as the generic line code finds it (longer than 15 bytes:
/// never mapped).
fn key_of(obis: &[u8]) -> u128 {
    if obis.len() <= 15 {
        fast::obis_key(obis)
    } else {
        u128::MAX
    }
}

/// Power, energy, voltage and current units with their power of ten to W, kWh, V and A.
const KW: &[(&str, i32)] = &[("kW", 3), ("W", 0)];
const KWH: &[(&str, i32)] = &[("kWh", 0), ("Wh", -3)];
const VOLT: &[(&str, i32)] = &[("V", 0)];
const AMP: &[(&str, i32)] = &[("A", 0)];

fn map_obis(
    obis: u128,
    v: &Values<'_>,
    r: &mut Reading,
    st: &mut State,
) -> Result<Mapped, ValueError> {
    match obis {
        key::VERSION => {
            r.version = v
                .text(0)?
                .map(|s| version_name_into(st.spare_version.take(), s));
        }
        key::EMUCS_VERSION => r.version = v.text(0)?.map(|s| format!("e-MUCS {s}")),
        key::TIME => return timestamp(v, r),
        key::ID => {
            r.meter_id = v
                .printable(0)?
                .map(|s| decode_id_into(st.spare_id.take(), s));
        }
        key::ID_ALT | key::ID_LOGICAL => {
            if st.id_fallback.is_none() {
                st.id_fallback = v.printable(0)?.map(decode_id);
            }
            return Ok(Mapped::No);
        }
        key::POWER_IMPORT => r.power_import_w = v.quantity(0, KW)?.map(|x| x as f32),
        key::POWER_EXPORT => r.power_export_w = v.quantity(0, KW)?.map(|x| x as f32),
        key::IMPORT => r.energy.import_kwh = v.quantity(0, KWH)?,
        key::IMPORT_T1 => r.energy.import_t1_kwh = v.quantity(0, KWH)?,
        key::IMPORT_T2 => r.energy.import_t2_kwh = v.quantity(0, KWH)?,
        key::EXPORT => r.energy.export_kwh = v.quantity(0, KWH)?,
        key::EXPORT_T1 => r.energy.export_t1_kwh = v.quantity(0, KWH)?,
        key::EXPORT_T2 => r.energy.export_t2_kwh = v.quantity(0, KWH)?,
        _ => return map_phase_or_mbus(obis, v, r, st),
    }
    Ok(Mapped::Yes)
}

/// The per-phase and M-Bus lines (keys in arrays and channel families).
fn map_phase_or_mbus(
    obis: u128,
    v: &Values<'_>,
    r: &mut Reading,
    st: &mut State,
) -> Result<Mapped, ValueError> {
    let phase = |keys: &[u128; 3]| keys.iter().position(|&k| k == obis);
    if let Some(p) = phase(&key::VOLTAGE) {
        r.voltage_v[p] = v.quantity(0, VOLT)?.map(|x| x as f32);
    } else if let Some(p) = phase(&key::CURRENT) {
        r.current_a[p] = v.quantity(0, AMP)?.map(|x| x.abs() as f32);
    } else if let Some(p) = phase(&key::DELIVERED) {
        st.delivered[p] = v.quantity(0, KW)?;
    } else if let Some(p) = phase(&key::RECEIVED) {
        st.received[p] = v.quantity(0, KW)?;
    } else {
        // M-Bus channels 1–8: the digit at byte 2.
        let ch = ((obis >> 16) & 0xFF) as u8;
        if !(b'1'..=b'8').contains(&ch) {
            return Ok(Mapped::No);
        }
        let slot = usize::from(ch.saturating_sub(b'1'));
        match obis & !key::CHANNEL {
            key::MBUS_TYPE => {
                // A device type that does not fit a u16 is unknown (0), not wrapped into a
                // known one (65539 used to read as 3, gas).
                let kind = v.integer(0)?.unwrap_or(0);
                st.mbus_type[slot] = u16::try_from(kind).unwrap_or(0);
                return Ok(Mapped::No);
            }
            key::MBUS_VALUE | key::MBUS_VALUE_EMUCS => {
                return mbus_value(st.mbus_type[slot], v, r);
            }
            _ => return Ok(Mapped::No),
        }
    }
    Ok(Mapped::Yes)
}

/// `1-3:0.2.8(50)` → `5.0`; anything else is kept as printed.
#[cfg(test)]
fn version_name(s: &str) -> String {
    version_name_into(None, s)
}

/// [`version_name`] in `buf`'s memory (a new string without one).
fn version_name_into(buf: Option<String>, s: &str) -> String {
    // A new string of the right size directly (growing an empty one costs twice as much).
    let mut v = buf.unwrap_or_else(|| String::with_capacity(s.len().saturating_add(1)));
    v.clear();
    match s.as_bytes() {
        // Built directly: `format!` cost more than the rest of the line.
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            v.push(char::from(*a));
            v.push('.');
            v.push(char::from(*b));
        }
        _ => v.push_str(s),
    }
    v
}

fn timestamp(v: &Values<'_>, r: &mut Reading) -> Result<Mapped, ValueError> {
    let Some(raw) = v.raw(0)? else {
        return Ok(Mapped::Yes);
    };
    let time = parse_dsmr_time(raw)?;
    match time.utc_s {
        Some(ts) => {
            r.timestamp = Some(ts);
            Ok(if time.season_lowercase {
                Mapped::Quirk(Quirk::SeasonLowercase)
            } else {
                Mapped::Yes
            })
        }
        None => Ok(Mapped::Quirk(Quirk::PlaceholderTime)),
    }
}

/// A meter timestamp as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MeterTime {
    /// UTC epoch seconds; `None` for placeholders and impossible dates.
    pub utc_s: Option<i64>,
    /// The DST flag was printed `s`/`w` (seen in real captures): read as `S`/`W`.
    pub season_lowercase: bool,
}

/// `YYMMDDhhmmss[S|W]` (the flag in either case) → UTC epoch seconds.
pub(crate) fn parse_dsmr_time(raw: &[u8]) -> Result<MeterTime, ValueError> {
    let (digits, season) = match raw {
        [d @ .., b'S' | b's'] => (d, Season::Summer),
        [d @ .., b'W' | b'w'] => (d, Season::Winter),
        d => (d, Season::Unknown),
    };
    if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ValueError::BadTime);
    }
    let utc_s = time::parse_yymmddhhmmss(digits)
        .filter(|dt| !time::is_placeholder(dt))
        .and_then(|dt| time::local_to_utc(dt, season, METER_TZ));
    let season_lowercase = matches!(raw.last(), Some(b's' | b'w'));
    Ok(MeterTime {
        utc_s,
        season_lowercase,
    })
}

fn mbus_value(kind: u16, v: &Values<'_>, r: &mut Reading) -> Result<Mapped, ValueError> {
    let Some((value, unit)) = v.number_with_unit(1)? else {
        return Ok(Mapped::No);
    };
    let slot = match (kind, unit) {
        (7, _) => &mut r.energy.water_m3,
        (3, _) | (_, "m3") => &mut r.energy.gas_m3,
        (_, "GJ") => &mut r.energy.heat_gj,
        _ => return Ok(Mapped::No),
    };
    if slot.is_none() {
        *slot = Some(value);
    }
    Ok(Mapped::Yes)
}
