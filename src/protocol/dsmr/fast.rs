//! The parser's fast path for well-formed lines (`OBIS(v)(v)…` CRLF), the shape of every line a
//! real meter prints: the OBIS code is found and keyed with 16-byte masks (see `lanes.rs`), the
//! key looked up in a perfect-hash table of the mapped lines, the values split in one scan and
//! the usual quantities (`003432.829*kWh`) read as fixed-point words with the unit compared as
//! one word. Anything else — an error, an odd byte, a text or time value, an unusual number —
//! goes to the generic code (`map_obis` on the line, or the line code in `mod.rs`), which gives
//! every value, error message and offset; this path only decides faster what that code would
//! decide for a clean line.

use super::lanes::{self, first_bits, load16, number16, unit_word};
use super::values::{scaled, Values};
use super::{key, map_obis, Mapped, State, AMP, KW, KWH, VOLT};
use crate::protocol::{ParseOptions, Reading, Telegram};

/// What the fast path did with the line at a position.
pub(super) enum Step {
    /// Handled; the next line starts here.
    Next(usize),
    /// Not a clean line: the generic code must read the line starting here (nothing of it was
    /// applied).
    Slow(usize),
}

/// The OBIS reference of a line as a number: its bytes little-endian, zero-padded (1–15 bytes;
/// longer ones are never mapped).
pub(super) const fn obis_key(obis: &[u8]) -> u128 {
    let mut k: u128 = 0;
    // i < 16: the shift stays below 128 and nothing wraps.
    let mut i: u32 = 0;
    while (i as usize) < obis.len() && i < 16 {
        k |= (obis[i as usize] as u128).wrapping_shl(i.wrapping_mul(8));
        i = i.wrapping_add(1);
    }
    k
}

/// What a line's key asks for (the keys `map_obis` maps, by what they hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Not a key of the table: an M-Bus line or a line the reading does not keep.
    Other,
    /// Read by `map_obis` itself (text, time, identifiers).
    Generic,
    PowerImport,
    PowerExport,
    /// `energy` register: import total, T1, T2, export total, T1, T2.
    Energy(u8),
    Voltage(u8),
    Current(u8),
    Delivered(u8),
    Received(u8),
}

/// Every key `map_obis` maps outside the M-Bus channels, with what it holds.
const MAPPED: [(u128, Act); 26] = [
    (key::VERSION, Act::Generic),
    (key::EMUCS_VERSION, Act::Generic),
    (key::TIME, Act::Generic),
    (key::ID, Act::Generic),
    (key::ID_ALT, Act::Generic),
    (key::ID_LOGICAL, Act::Generic),
    (key::POWER_IMPORT, Act::PowerImport),
    (key::POWER_EXPORT, Act::PowerExport),
    (key::IMPORT, Act::Energy(0)),
    (key::IMPORT_T1, Act::Energy(1)),
    (key::IMPORT_T2, Act::Energy(2)),
    (key::EXPORT, Act::Energy(3)),
    (key::EXPORT_T1, Act::Energy(4)),
    (key::EXPORT_T2, Act::Energy(5)),
    (key::VOLTAGE[0], Act::Voltage(0)),
    (key::VOLTAGE[1], Act::Voltage(1)),
    (key::VOLTAGE[2], Act::Voltage(2)),
    (key::CURRENT[0], Act::Current(0)),
    (key::CURRENT[1], Act::Current(1)),
    (key::CURRENT[2], Act::Current(2)),
    (key::DELIVERED[0], Act::Delivered(0)),
    (key::DELIVERED[1], Act::Delivered(1)),
    (key::DELIVERED[2], Act::Delivered(2)),
    (key::RECEIVED[0], Act::Received(0)),
    (key::RECEIVED[1], Act::Received(1)),
    (key::RECEIVED[2], Act::Received(2)),
];

/// log2 of the table's size, and the multiplier that gives every mapped key its own slot
/// (checked when the table is built: a collision does not compile).
const SLOTS_LOG2: u32 = 5;
const HASH_MUL: u64 = 0xE196_10CD_E7E4_25FF;

/// The table slot of a key: a multiplicative hash of its two halves.
const fn slot(k: u128) -> usize {
    let lo = k as u64;
    let hi = (k >> 64) as u64;
    ((lo ^ hi.wrapping_shl(24)).wrapping_mul(HASH_MUL) >> (64 - SLOTS_LOG2)) as usize
}

const fn table() -> [(u128, Act); 1 << SLOTS_LOG2] {
    let mut t = [(0u128, Act::Other); 1 << SLOTS_LOG2];
    let mut i = 0;
    while i < MAPPED.len() {
        let (k, act) = MAPPED[i];
        let s = slot(k);
        assert!(
            matches!(t[s].1, Act::Other),
            "two mapped OBIS keys share a slot: pick another HASH_MUL"
        );
        t[s] = (k, act);
        i += 1;
    }
    t
}

/// The mapped keys by slot; empty slots hold key 0 and [`Act::Other`].
static TABLE: [(u128, Act); 1 << SLOTS_LOG2] = table();

fn act_of(k: u128) -> Act {
    match TABLE.get(slot(k)) {
        Some(&(stored, act)) if stored == k => act,
        _ => Act::Other,
    }
}

/// An M-Bus line `map_obis` reads (channels 1–8).
fn is_mbus(k: u128) -> bool {
    let ch = ((k >> 16) & 0xFF) as u8;
    (b'1'..=b'8').contains(&ch)
        && matches!(
            k & !key::CHANNEL,
            key::MBUS_TYPE | key::MBUS_VALUE | key::MBUS_VALUE_EMUCS
        )
}

/// A unit list (at most two units) as [`unit_word`]s; a missing second unit gets a word no
/// window gives.
const fn unit_words(units: &[(&str, i32)]) -> [(u32, i32); 2] {
    assert!(!units.is_empty() && units.len() <= 2, "one or two units");
    let mut out = [(u32::MAX, 0); 2];
    let mut i = 0;
    while i < units.len() {
        out[i] = (unit_word(units[i].0.as_bytes()), units[i].1);
        i += 1;
    }
    out
}
const KW_WORDS: [(u32, i32); 2] = unit_words(KW);
const KWH_WORDS: [(u32, i32); 2] = unit_words(KWH);
const VOLT_WORDS: [(u32, i32); 2] = unit_words(VOLT);
const AMP_WORDS: [(u32, i32); 2] = unit_words(AMP);

/// The quantity of a line whose first value is the first `len` bytes of `w`, read as
/// `Values::quantity` reads it for `act`'s units; `None` when the generic code must read it.
fn quantity(act: Act, w: &[u8; 16], len: usize) -> Option<f64> {
    let units = match act {
        Act::PowerImport | Act::PowerExport | Act::Delivered(_) | Act::Received(_) => &KW_WORDS,
        Act::Energy(_) => &KWH_WORDS,
        Act::Voltage(_) => &VOLT_WORDS,
        Act::Current(_) => &AMP_WORDS,
        Act::Other | Act::Generic => return None,
    };
    let n = number16(w, len)?;
    let exp = match n.unit {
        None => units[0].1,
        Some(u) => units.iter().find(|(word, _)| *word == u)?.1,
    };
    Some(scaled(n.mantissa, n.scale, exp))
}

/// Store a quantity as `map_obis` does for `act`.
fn store(act: Act, x: f64, r: &mut Reading, st: &mut State) {
    let phase = |p: u8| usize::from(p).min(2);
    match act {
        Act::PowerImport => r.power_import_w = Some(x as f32),
        Act::PowerExport => r.power_export_w = Some(x as f32),
        Act::Energy(i) => {
            let e = &mut r.energy;
            let slot = match i {
                0 => &mut e.import_kwh,
                1 => &mut e.import_t1_kwh,
                2 => &mut e.import_t2_kwh,
                3 => &mut e.export_kwh,
                4 => &mut e.export_t1_kwh,
                _ => &mut e.export_t2_kwh,
            };
            *slot = Some(x);
        }
        Act::Voltage(p) => r.voltage_v[phase(p)] = Some(x as f32),
        Act::Current(p) => r.current_a[phase(p)] = Some(x.abs() as f32),
        Act::Delivered(p) => st.delivered[phase(p)] = Some(x),
        Act::Received(p) => st.received[phase(p)] = Some(x),
        Act::Other | Act::Generic => {}
    }
}

/// Index of the first byte of `b[from..]` that is `(`, `)` or LF, 16 bytes at a time.
fn next_stop(b: &[u8], mut from: usize) -> Option<usize> {
    while from < b.len() {
        let m = lanes::stop_mask(&load16(b, from));
        if m != 0 {
            return from.checked_add(m.trailing_zeros() as usize);
        }
        from = from.checked_add(16)?;
    }
    None
}

/// The `)` closing the group whose contents start at `inner`, when it closes before any `(`
/// or LF.
fn close_of(b: &[u8], inner: usize) -> Option<usize> {
    next_stop(b, inner).filter(|&c| b.get(c) == Some(&b')'))
}

/// Read the line at `pos` of `body` (after skipping CR/LF) if it is clean.
pub(super) fn line(
    body: &[u8],
    mut pos: usize,
    t: &mut Telegram,
    st: &mut State,
    opts: ParseOptions,
) -> Step {
    while matches!(body.get(pos), Some(b'\r' | b'\n')) {
        pos = pos.saturating_add(1);
    }
    if pos >= body.len() {
        return Step::Next(body.len());
    }
    let s = pos;
    // The OBIS reference: up to the first '(' within 16 bytes.
    let word = load16(body, s);
    let n = lanes::open_mask(&word).trailing_zeros() as usize;
    if n == 0 || n >= 16 {
        return Step::Slow(s);
    }
    // 1 ≤ n < 16: the mask keeps the n bytes before '(' (no wrap).
    let key = u128::from_le_bytes(word)
        & 1u128
            .wrapping_shl((n as u32).wrapping_mul(8))
            .wrapping_sub(1);
    // The first value: usually inside the next 16 bytes.
    let inner = s.saturating_add(n).saturating_add(1);
    let w1 = load16(body, inner);
    let stop = lanes::stop_mask(&w1);
    let close = if stop != 0 {
        let j = stop.trailing_zeros() as usize;
        if w1[j] != b')' {
            return Step::Slow(s);
        }
        inner.saturating_add(j)
    } else {
        match close_of(body, inner.saturating_add(16)) {
            Some(c) => c,
            None => return Step::Slow(s),
        }
    };
    let first_len = close.saturating_sub(inner);
    // More '(' … ')' groups, then CRLF or LF (or the end of the body).
    let mut second: &[u8] = &[];
    let mut count: usize = 1;
    let mut i = close.saturating_add(1);
    let (line_end, next) = loop {
        match body.get(i) {
            Some(b'(') => {
                let from = i.saturating_add(1);
                let Some(c) = close_of(body, from) else {
                    return Step::Slow(s);
                };
                if count == 1 {
                    second = &body[from..c];
                }
                count = count.saturating_add(1);
                i = c.saturating_add(1);
            }
            None => break (i, i),
            Some(b'\n') => break (i, i.saturating_add(1)),
            Some(b'\r') if body.get(i.saturating_add(1)) == Some(&b'\n') => {
                break (i, i.saturating_add(2))
            }
            Some(_) => return Step::Slow(s),
        }
    };
    let obis_ok = || lanes::obis_mask(&word) & first_bits(n) == first_bits(n);
    let act = act_of(key);
    match act {
        Act::Other if !is_mbus(key) => {
            // Not mapped: nothing of it reaches the reading, only its bytes are checked.
            if !obis_ok() {
                return Step::Slow(s);
            }
            if opts.keep_raw {
                t.raw
                    .push(String::from_utf8_lossy(&body[s..line_end]).into_owned());
            }
            return Step::Next(next);
        }
        Act::Other | Act::Generic => {}
        _ => {
            if let Some(x) = quantity(act, &w1, first_len) {
                store(act, x, &mut t.reading, st);
                return Step::Next(next);
            }
        }
    }
    let vals = Values::from_spans(&body[inner..close], second, count);
    // A mapped key is a valid OBIS reference by construction: only the lines `map_obis` does
    // not map (it leaves nothing of them in the reading) need their bytes checked.
    match map_obis(key, &vals, &mut t.reading, st) {
        Ok(Mapped::Yes) => {}
        Ok(Mapped::Quirk(q)) => t.quirk(q),
        Ok(Mapped::No) => {
            if !obis_ok() {
                return Step::Slow(s);
            }
            if opts.keep_raw {
                t.raw
                    .push(String::from_utf8_lossy(&body[s..line_end]).into_owned());
            }
        }
        // The generic code reports it (with the same outcome: the telegram is refused).
        Err(_) => return Step::Slow(s),
    }
    Step::Next(next)
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
