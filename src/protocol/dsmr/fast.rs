//! The parser's fast path for well-formed lines (`OBIS(v)(v)…` CRLF), the shape of every line a
//! real meter prints: the line is located with byte masks of 16- or 32-byte windows (see
//! `lanes.rs`; `OBIS(value)` CRLF from two windows, other lines under 32 bytes from the masks of
//! `(`, `)` and LF, longer ones 16 bytes at a time), its OBIS key looked up in a perfect-hash
//! table of the mapped lines, and the usual quantities (`003432.829*kWh`) read in one short loop
//! with the unit compared as one word. Anything else — an error, an odd byte, a text or time value, an unusual number —
//! goes to the generic code (`map_obis` on the line, or the line code in `mod.rs`), which gives
//! every value, error message and offset; this path only decides faster what that code would
//! decide for a clean line.

use super::lanes::{self, first_bits, load16, number_in, unit_word, Number};
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
pub(super) enum Act {
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

/// The length in bytes of a key without NUL bytes.
const fn key_len(k: u128) -> u8 {
    (128u32.wrapping_sub(k.leading_zeros()).wrapping_add(7) / 8) as u8
}

const fn table() -> [(u128, Act, u8); 1 << SLOTS_LOG2] {
    let mut t = [(0u128, Act::Other, 0u8); 1 << SLOTS_LOG2];
    let mut i = 0;
    while i < MAPPED.len() {
        let (k, act) = MAPPED[i];
        let s = slot(k);
        assert!(
            matches!(t[s].1, Act::Other),
            "two mapped OBIS keys share a slot: pick another HASH_MUL"
        );
        t[s] = (k, act, key_len(k));
        i = i.wrapping_add(1);
    }
    t
}

/// The mapped keys by slot with their lengths; empty slots hold key 0 and [`Act::Other`].
static TABLE: [(u128, Act, u8); 1 << SLOTS_LOG2] = table();

/// What the OBIS reference of `n` bytes whose key is `k` asks for. The length matters: a NUL
/// byte adds nothing to a key (`1-0:1.8.1` NUL has the key of `1-0:1.8.1`), and the generic
/// code refuses it.
pub(super) fn act_of(k: u128, n: usize) -> Act {
    match TABLE.get(slot(k)) {
        Some(&(stored, act, len)) if stored == k && usize::from(len) == n => act,
        _ => Act::Other,
    }
}

/// An M-Bus line `map_obis` reads (channels 1–8): its `n` bytes are `0-c:24.x.y`, 10 bytes
/// (without NUL, see [`act_of`]).
pub(super) fn is_mbus(k: u128, n: usize) -> bool {
    let ch = ((k >> 16) & 0xFF) as u8;
    n == 10
        && (b'1'..=b'8').contains(&ch)
        && matches!(
            k & !key::CHANNEL,
            key::MBUS_TYPE | key::MBUS_VALUE | key::MBUS_VALUE_EMUCS
        )
}

/// A unit list (at most two units of at most 3 bytes) as [`unit_word`]s; a missing second
/// unit gets `u32::MAX`, a word no unit has.
const fn unit_words(units: &[(&str, i32)]) -> [(u32, i32); 2] {
    assert!(!units.is_empty() && units.len() <= 2, "one or two units");
    let mut out = [(u32::MAX, 0); 2];
    let mut i = 0;
    while i < units.len() {
        let word = unit_word(units[i].0.as_bytes());
        assert!(word != u32::MAX, "units of at most 3 bytes");
        out[i] = (word, units[i].1);
        i = i.wrapping_add(1);
    }
    out
}
const KW_WORDS: [(u32, i32); 2] = unit_words(KW);
const KWH_WORDS: [(u32, i32); 2] = unit_words(KWH);
const VOLT_WORDS: [(u32, i32); 2] = unit_words(VOLT);
const AMP_WORDS: [(u32, i32); 2] = unit_words(AMP);

/// The quantity of a line whose first value is `v`, read as `Values::quantity` reads it for
/// `act`'s units; `None` when the generic code must read it.
#[inline(always)]
pub(super) fn quantity(act: Act, v: &[u8]) -> Option<f64> {
    let (n, exp) = quantity_parts(act, v)?;
    Some(scaled_small(n.mantissa, n.scale, exp))
}

/// What [`quantity`] reads of `v`: the number and its unit's power of ten.
#[inline(always)]
pub(super) fn quantity_parts(act: Act, v: &[u8]) -> Option<(Number, i32)> {
    let units = match act {
        Act::PowerImport | Act::PowerExport | Act::Delivered(_) | Act::Received(_) => &KW_WORDS,
        Act::Energy(_) => &KWH_WORDS,
        Act::Voltage(_) => &VOLT_WORDS,
        Act::Current(_) => &AMP_WORDS,
        Act::Other | Act::Generic => return None,
    };
    let n = number_in(v)?;
    let exp = match n.unit {
        None => units[0].1,
        Some(u) => units.iter().find(|(word, _)| *word == u)?.1,
    };
    Some((n, exp))
}

/// [`scaled`] for a scale of at most 18 and a unit's power of ten (−3 to 3): the same table
/// and operation without the general case's saturation.
#[inline(always)]
pub(super) fn scaled_small(m: i64, scale: u32, exp: i32) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    // |k| ≤ 21 here; anything else takes the general code.
    let k = exp.wrapping_sub(scale as i32);
    match POW10.get(k.unsigned_abs() as usize) {
        Some(&p) if scale <= 18 && k >= 0 => m as f64 * p,
        Some(&p) if scale <= 18 => m as f64 / p,
        _ => scaled(m, scale, exp),
    }
}

/// Store a quantity as `map_obis` does for `act`.
pub(super) fn store(act: Act, x: f64, r: &mut Reading, st: &mut State) {
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

/// Read clean lines from `pos` on; returns where the generic code must take over: the start of
/// a line it must read, or the end of the body. Not inlined: its loop keeps its own registers.
#[inline(never)]
pub(super) fn lines(
    body: &[u8],
    mut pos: usize,
    t: &mut Telegram,
    st: &mut State,
    opts: ParseOptions,
) -> usize {
    loop {
        // Blank lines (the one after the header) and the CR/LF left before a line.
        while let Some(b'\r' | b'\n') = body.get(pos) {
            pos = pos.wrapping_add(1);
        }
        if pos >= body.len() {
            return body.len();
        }
        let step = match single_line(body, pos).or_else(|| short_line(body, pos)) {
            Some(l) => {
                if apply(body, &l, t, st, opts) {
                    Step::Next(l.next)
                } else {
                    Step::Slow(l.start)
                }
            }
            None => line(body, pos, t, st, opts),
        };
        match step {
            Step::Next(next) if next < body.len() => pos = next,
            Step::Next(_) => return body.len(),
            Step::Slow(start) => return start,
        }
    }
}

/// A clean line, located: `start` … `(` at `start + n` … the first value `inner..close`, the
/// second one, how many there are, the CR/LF at `end` and the next line at `next`.
struct Line<'a> {
    start: usize,
    n: usize,
    word: [u8; 16],
    inner: usize,
    close: usize,
    second: &'a [u8],
    count: usize,
    end: usize,
    next: usize,
}

/// The line at `s` when it has the shape of most lines, `OBIS(value)` CRLF with both parts
/// below 16 bytes: two 16-byte windows, the first `(` in one and the first `(`, `)` or LF
/// after it in the other. `None` for anything else ([`short_line`] or [`line`] read it).
#[inline(always)]
fn single_line(body: &[u8], s: usize) -> Option<Line<'_>> {
    let word: [u8; 16] = *body.get(s..)?.first_chunk::<16>()?;
    let n = lanes::open_mask(&word).trailing_zeros() as usize;
    if n.wrapping_sub(1) >= 15 {
        return None;
    }
    let inner = s.wrapping_add(n).wrapping_add(1);
    let w1 = body.get(inner..)?.first_chunk::<16>()?;
    let j = lanes::stop_mask(w1).trailing_zeros() as usize;
    if w1.get(j) != Some(&b')') {
        return None;
    }
    let close = inner.wrapping_add(j);
    let after = close.wrapping_add(1);
    if body.get(after..after.wrapping_add(2)) != Some(b"\r\n") {
        return None;
    }
    Some(Line {
        start: s,
        n,
        word,
        inner,
        close,
        second: &[],
        count: 1,
        end: after,
        next: after.wrapping_add(2),
    })
}

/// The line at `s` when it is shorter than 32 bytes with its LF and of the clean shape
/// `OBIS(v)…(v)` CRLF or LF, with the OBIS reference below 16 bytes: located with the masks of
/// `(`, `)` and LF of its 32 bytes. `None` for anything else (blank lines, longer lines, the
/// end of the body), which [`line`] then reads.
#[inline(always)]
fn short_line(body: &[u8], s: usize) -> Option<Line<'_>> {
    let both = body.get(s..)?.first_chunk::<32>()?;
    let (a, b) = both.split_at(16);
    let word: [u8; 16] = a.try_into().ok()?;
    let tail: &[u8; 16] = b.try_into().ok()?;
    let (oa, ca, la) = lanes::line_masks(&word);
    let (ob, cb, lb) = lanes::line_masks(tail);
    let lf = la | lb.wrapping_shl(16);
    // e < 32: the LF ending the line; `in_line` its bytes before.
    let e = lf.trailing_zeros();
    let in_line = 1u32.checked_shl(e)?.wrapping_sub(1);
    let open = (oa | ob.wrapping_shl(16)) & in_line;
    let close = (ca | cb.wrapping_shl(16)) & in_line;
    let n = open.trailing_zeros();
    if n == 0 || n >= 16 || close == 0 || close & first_bits(n as usize) != 0 {
        return None;
    }
    // Groups: every ')' but the last is followed by the next '(', every '(' but the first
    // follows a ')', and there is no other '(' or ')': (a)(b)…(z).
    let last = 31u32.wrapping_sub(close.leading_zeros());
    let last_bit = 1u32.wrapping_shl(last);
    if (close ^ last_bit).wrapping_shl(1) != open ^ 1u32.wrapping_shl(n) {
        return None;
    }
    // The last ')' ends the line: CRLF or LF after it.
    let end = match e.wrapping_sub(last) {
        1 => e,
        2 if body.get(s.wrapping_add(e as usize).wrapping_sub(1)) == Some(&b'\r') => {
            e.wrapping_sub(1)
        }
        _ => return None,
    } as usize;
    let first_close = close.trailing_zeros() as usize;
    let count = open.count_ones() as usize;
    let second = if count >= 2 {
        let from = first_close.wrapping_add(2);
        let to = (close & close.wrapping_sub(1)).trailing_zeros() as usize;
        body.get(s.wrapping_add(from)..s.wrapping_add(to))?
    } else {
        &[]
    };
    Some(Line {
        start: s,
        n: n as usize,
        word,
        inner: s.wrapping_add(n as usize).wrapping_add(1),
        close: s.wrapping_add(first_close),
        second,
        count,
        end: s.wrapping_add(end),
        next: s.wrapping_add(e as usize).wrapping_add(1),
    })
}

/// Read the line at `pos` of `body` (after skipping CR/LF) if it is clean, 16 bytes at a time
/// (any length). Positions are below `body.len()` + 32, far from overflowing: plain wrapping
/// arithmetic.
fn line(body: &[u8], pos: usize, t: &mut Telegram, st: &mut State, opts: ParseOptions) -> Step {
    let mut s = pos;
    while let Some(b'\r' | b'\n') = body.get(s) {
        s = s.wrapping_add(1);
    }
    if s >= body.len() {
        return Step::Next(body.len());
    }
    // The OBIS reference: up to the first '(' within 16 bytes.
    let word = load16(body, s);
    let n = lanes::open_mask(&word).trailing_zeros() as usize;
    if n.wrapping_sub(1) >= 15 {
        return Step::Slow(s);
    }
    // The first value: usually inside the next 16 bytes.
    let inner = s.wrapping_add(n).wrapping_add(1);
    let w1 = load16(body, inner);
    let stop = lanes::stop_mask(&w1);
    let j = stop.trailing_zeros() as usize;
    let close = match w1.get(j) {
        Some(b')') => inner.wrapping_add(j),
        Some(_) => return Step::Slow(s),
        None => match close_of(body, inner.wrapping_add(16)) {
            Some(c) => c,
            None => return Step::Slow(s),
        },
    };
    // More '(' … ')' groups, then CRLF or LF (or the end of the body).
    let mut second: &[u8] = &[];
    let mut count: usize = 1;
    let mut i = close.wrapping_add(1);
    let (end, next) = loop {
        match body.get(i) {
            Some(b'\r') if body.get(i.wrapping_add(1)) == Some(&b'\n') => {
                break (i, i.wrapping_add(2))
            }
            Some(b'(') => {
                let from = i.wrapping_add(1);
                let Some(c) = close_of(body, from) else {
                    return Step::Slow(s);
                };
                if count == 1 {
                    second = body.get(from..c).unwrap_or(&[]);
                }
                count = count.wrapping_add(1);
                i = c.wrapping_add(1);
            }
            Some(b'\n') => break (i, i.wrapping_add(1)),
            None => break (i, i),
            Some(_) => return Step::Slow(s),
        }
    };
    let l = Line {
        start: s,
        n,
        word,
        inner,
        close,
        second,
        count,
        end,
        next,
    };
    if apply(body, &l, t, st, opts) {
        Step::Next(next)
    } else {
        Step::Slow(s)
    }
}

/// `KEY_MASKS[n]` keeps the low `n` bytes of a word (a table load instead of a 128-bit shift).
static KEY_MASKS: [u128; 16] = {
    let mut m = [0u128; 16];
    let mut n = 1;
    while n < 16 {
        m[n] = (m[n - 1] << 8) | 0xFF;
        n += 1;
    }
    m
};

/// Apply a located line to the telegram as the generic code would; `false` (nothing applied)
/// when the generic code must read it.
#[inline(always)]
fn apply(body: &[u8], l: &Line<'_>, t: &mut Telegram, st: &mut State, opts: ParseOptions) -> bool {
    // 1 ≤ n < 16: the mask keeps the n bytes before '('.
    let key = u128::from_le_bytes(l.word) & KEY_MASKS.get(l.n).copied().unwrap_or(0);
    let act = act_of(key, l.n);
    // The line's bytes (for `keep_raw`), located only when kept.
    let line = (body, l.start, l.end);
    match act {
        // Not mapped: nothing of it reaches the reading, only its bytes are checked.
        Act::Other if !is_mbus(key, l.n) => return unmapped(line, &l.word, l.n, t, opts),
        Act::Other | Act::Generic => {}
        _ => {
            let v = body.get(l.inner..l.close).unwrap_or(&[]);
            if let Some(x) = quantity(act, v) {
                store(act, x, &mut t.reading, st);
                return true;
            }
        }
    }
    let first = body.get(l.inner..l.close).unwrap_or(&[]);
    let vals = Values::from_spans(first, l.second, l.count);
    generic(key, &vals, line, &l.word, l.n, t, st, opts)
}

/// The OBIS reference (the first `n` bytes of `word`) is made of OBIS characters.
fn obis_ok(word: &[u8; 16], n: usize) -> bool {
    lanes::obis_mask(word) & first_bits(n) == first_bits(n)
}

/// A line `map_obis` does not map: kept as raw text on request; `false` when its OBIS
/// reference has a byte the generic code refuses.
#[inline(always)]
fn unmapped(
    (body, start, end): (&[u8], usize, usize),
    word: &[u8; 16],
    n: usize,
    t: &mut Telegram,
    opts: ParseOptions,
) -> bool {
    if !obis_ok(word, n) {
        return false;
    }
    if opts.keep_raw {
        t.raw
            .push(String::from_utf8_lossy(body.get(start..end).unwrap_or(&[])).into_owned());
    }
    true
}

/// A line read by `map_obis` on its split values; `false` when the generic line code must
/// read it (it reports the error).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn generic(
    key: u128,
    vals: &Values<'_>,
    line: (&[u8], usize, usize),
    word: &[u8; 16],
    n: usize,
    t: &mut Telegram,
    st: &mut State,
    opts: ParseOptions,
) -> bool {
    // A mapped key is a valid OBIS reference by construction: only the lines `map_obis` does
    // not map (it leaves nothing of them in the reading) need their bytes checked.
    match map_obis(key, vals, &mut t.reading, st) {
        Ok(Mapped::Yes) => true,
        Ok(Mapped::Quirk(q)) => {
            t.quirk(q);
            true
        }
        Ok(Mapped::No) => unmapped(line, word, n, t, opts),
        // The generic code reports it (with the same outcome: the telegram is refused).
        Err(_) => false,
    }
}

#[cfg(test)]
#[path = "fast_tests.rs"]
pub(super) mod tests;
