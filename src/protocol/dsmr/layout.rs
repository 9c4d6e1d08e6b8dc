//! The per-meter layout cache: a meter prints the same shape every second, so the reused parse
//! target ([`Telegram`]) keeps the last frame it parsed together with its layout — where each
//! value that changes between telegrams sits (the digits of the quantities, of the timestamp,
//! of the M-Bus capture time and value, and of the values of the lines the reading does not
//! keep) and how it was read. A new frame of the same length, with the same end marker, whose
//! every other byte is identical and whose value fields still hold digits only, is read from
//! those fields alone: the header, version, meter id and every other line are taken from last
//! time, the timestamp is recomputed only when its digits changed, the CRC is checked as always. Anything else — another length, a changed byte
//! outside the fields, a non-digit inside one, a value the fast reader refuses — takes the
//! ordinary path, which then records the frame's layout afresh. The result is exactly the
//! ordinary path's (`layout_tests.rs` checks it on streams, captures and edited frames).

use super::fast::{act_of, is_mbus, quantity_parts, scaled_small, store, Act};
use super::lanes::{self, load16};
use super::values::Values;
use super::{apply_line, check_crc, key, key_of, next_line, parse_dsmr_time, MeterTime, State};
use crate::protocol::{ParseOptions, Quirk, Reading, Telegram};
use memchr::{memchr, memchr2};

/// The layout of the last frame parsed into a telegram, if it has one (telegrams compare
/// equal whatever their caches hold: the cache is not part of the parse result).
#[derive(Clone, Default)]
pub(crate) struct LayoutCache(Option<Box<Layout>>);

impl PartialEq for LayoutCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for LayoutCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayoutCache")
    }
}

/// A parsed frame and where its changing values sit.
#[derive(Clone)]
struct Layout {
    /// The frame, `/` to the end of the CRC line.
    bytes: Vec<u8>,
    /// 0xFF on the digits of the value fields (which may change), 0 elsewhere (which may not).
    mask: Vec<u8>,
    /// Position of the end marker `!`.
    bang: usize,
    header: String,
    fields: Vec<Field>,
    /// The frame's reading: what the lines without a field gave.
    reading: Reading,
    /// Per-phase delivered and received power as the frame's lines left them.
    delivered: [Option<f64>; 3],
    received: [Option<f64>; 3],
    /// The quirk the timestamp line added, if any.
    time_quirk: Option<Quirk>,
}

/// A value field: the value's bytes `start..end` and how they are read.
#[derive(Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    /// A quantity the fast reader (`fast::quantity`) read for this line's key: its digits
    /// `start..end` with the decimal point at `point` (`end` without one), their sign, the
    /// number of decimals and the unit's power of ten — all fixed by the bytes that may not
    /// change, so only the digits are read.
    Quantity {
        act: Act,
        point: usize,
        neg: bool,
        scale: u32,
        exp: i32,
    },
    /// The `0-0:1.0.0` timestamp, 12 digits and the season letter.
    Time,
    /// The value (second group, `start..end`) of an M-Bus line that filled this energy slot
    /// (0 gas, 1 water, 2 heat); `first` is the capture time's span.
    Mbus { slot: u8, first: (usize, usize) },
}

/// Read `b` (a framed telegram, `!` at `bang`) into `t` from its cached layout; `false`, with
/// `t` in an unspecified state, when the frame is not a clean same-shape successor (the
/// ordinary path then reads it).
pub(super) fn parse_cached(b: &[u8], bang: usize, opts: ParseOptions, t: &mut Telegram) -> bool {
    if opts.keep_raw {
        return false;
    }
    let Some(mut l) = t.layout.0.take() else {
        return false;
    };
    let ok = read(&mut l, b, bang, t).is_some();
    t.layout.0 = Some(l);
    ok
}

fn read(l: &mut Layout, b: &[u8], bang: usize, t: &mut Telegram) -> Option<()> {
    if b.len() != l.bytes.len() || bang != l.bang || !same_shape(b, &l.bytes, &l.mask, bang) {
        return None;
    }
    let mut st = State {
        delivered: l.delivered,
        received: l.received,
        ..State::default()
    };
    let mut r = l.reading.clone();
    // The timestamp: unchanged digits keep the last reading's time and quirk.
    let mut time = (l.reading.timestamp, l.time_quirk);
    let mut time_changed = None;
    for f in &l.fields {
        let v = b.get(f.start..f.end)?;
        match f.kind {
            Kind::Quantity {
                act,
                point,
                neg,
                scale,
                exp,
            } => {
                let m = mantissa(b, f.start, point, f.end);
                let m = if neg { m.wrapping_neg() } else { m };
                store(act, scaled_small(m, scale, exp), &mut r, &mut st);
            }
            Kind::Time => {
                if v != l.bytes.get(f.start..f.end)? {
                    time = time_of(parse_dsmr_time(v).ok()?);
                    time_changed = Some((f.start, f.end));
                }
                r.timestamp = time.0;
            }
            Kind::Mbus { slot, first } => {
                // Two groups at least (the value is the second): all `number_with_unit` reads.
                let vals = Values::from_spans(b.get(first.0..first.1)?, v, 2);
                let (x, _) = vals.number_with_unit(1).ok()??;
                *energy_slot(&mut r, slot) = Some(x);
            }
        }
    }
    t.quirks.clear();
    t.raw.clear();
    check_crc(b, Some(bang), t).ok()?;
    if let Some(q) = time.1 {
        t.quirk(q);
    }
    st.finish(&mut r);
    if t.header.as_deref() != Some(l.header.as_str()) {
        t.header = Some(l.header.clone());
    }
    t.reading = r;
    // The new timestamp becomes the reference (the other fields are read every time; the
    // bytes outside the fields are the same).
    if let Some((s, e)) = time_changed {
        if let (Some(new), Some(old)) = (b.get(s..e), l.bytes.get_mut(s..e)) {
            old.copy_from_slice(new);
        }
    }
    l.reading.timestamp = time.0;
    l.time_quirk = time.1;
    Some(())
}

/// The digits of `b[start..end]` but the point at `point` (or `end`) as an integer: at most 18
/// (the fast reader read them), no overflow.
#[inline(always)]
fn mantissa(b: &[u8], start: usize, point: usize, end: usize) -> i64 {
    let digits = |from: usize, to: usize, m: u64| {
        b.get(from..to).unwrap_or(&[]).iter().fold(m, |m, &c| {
            m.wrapping_mul(10)
                .wrapping_add(u64::from(c.wrapping_sub(b'0')))
        })
    };
    let m = digits(start, point, 0);
    digits(point.saturating_add(1), end, m) as i64
}

/// Every byte of `b[..=bang]` equals `old`'s, or is a digit where `mask` is set: 16 bytes at
/// a time (the last window padded with NULs on all three sides, which compare equal).
fn same_shape(b: &[u8], old: &[u8], mask: &[u8], bang: usize) -> bool {
    let n = bang.saturating_add(1);
    let (Some(b), Some(old), Some(mask)) = (b.get(..n), old.get(..n), mask.get(..n)) else {
        return false;
    };
    let mut ok = 0xFFFF;
    let mut windows = b
        .chunks_exact(16)
        .zip(old.chunks_exact(16))
        .zip(mask.chunks_exact(16));
    for ((x, y), m) in windows.by_ref() {
        if let (Ok(x), Ok(y), Ok(m)) = (x.try_into(), y.try_into(), m.try_into()) {
            ok &= lanes::same_mask(x, y, m);
        }
    }
    let done = n.saturating_sub(n % 16);
    ok &= lanes::same_mask(&load16(b, done), &load16(old, done), &load16(mask, done));
    ok == 0xFFFF
}

/// A timestamp as the timestamp line gives it: the time, and the quirk it adds.
fn time_of(t: MeterTime) -> (Option<i64>, Option<Quirk>) {
    match t.utc_s {
        Some(ts) => (
            Some(ts),
            t.season_lowercase.then_some(Quirk::SeasonLowercase),
        ),
        None => (None, Some(Quirk::PlaceholderTime)),
    }
}

fn energy_slot(r: &mut Reading, slot: u8) -> &mut Option<f64> {
    match slot {
        0 => &mut r.energy.gas_m3,
        1 => &mut r.energy.water_m3,
        _ => &mut r.energy.heat_gj,
    }
}

/// After the ordinary path parsed `b` (`!` at `bang`) into `t` without error: record its
/// layout in `t` (or none, when its shape is one the cache does not handle).
pub(super) fn record(b: &[u8], bang: usize, opts: ParseOptions, t: &mut Telegram) {
    let spare = t.layout.0.take();
    if opts.keep_raw {
        return;
    }
    t.layout.0 = build(b, bang, t, spare);
}

/// The walk over the lines of a parsed frame that finds its value fields. Lines are split as
/// the generic line code splits them. A mapped key twice in a frame (which line wins is the
/// line code's business) leaves the frame without a layout.
fn build(b: &[u8], bang: usize, t: &Telegram, spare: Option<Box<Layout>>) -> Option<Box<Layout>> {
    let body = b.get(..bang)?;
    let header_end = memchr2(b'\r', b'\n', body)?;
    let mut l = spare.unwrap_or_else(|| {
        Box::new(Layout {
            bytes: Vec::new(),
            mask: Vec::new(),
            bang,
            header: String::new(),
            fields: Vec::new(),
            reading: t.reading.clone(),
            delivered: [None; 3],
            received: [None; 3],
            time_quirk: None,
        })
    });
    l.bytes.clear();
    l.bytes.extend_from_slice(b);
    l.mask.clear();
    l.mask.resize(b.len(), 0);
    l.bang = bang;
    l.header.clear();
    l.header.push_str(t.header.as_deref()?);
    l.fields.clear();
    l.reading.clone_from(&t.reading);
    l.time_quirk = None;
    // The per-phase powers and the M-Bus slots, replayed: the reading keeps only their sums.
    let mut st = State::default();
    let mut scratch = Telegram::default();
    let mut seen: Vec<u128> = Vec::new();
    let mut pos = header_end;
    while pos < body.len() {
        let (line, at, next) = next_line(b, body, pos);
        pos = next;
        if line.is_empty() {
            continue;
        }
        let open = memchr(b'(', line)?;
        let key = key_of(&line[..open]);
        let act = act_of(key, open);
        let mbus = is_mbus(key, open);
        if act == Act::Other && !mbus {
            // Not mapped: with `keep_raw` off (the only way the cache is used) only its OBIS
            // reference and its groups' parentheses are checked, never a value, so the digits
            // of its values may change too (counters, e-MUCS peak times, message text).
            let Layout { bytes, mask, .. } = &mut *l;
            mask_digits(
                bytes,
                mask,
                (at.saturating_add(open), at.saturating_add(line.len())),
            );
            continue;
        }
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        let vals = Values::split(&line[open..])?;
        let first = vals.raw(0).ok()?.unwrap_or(&[]);
        let first_at = at.saturating_add(open).saturating_add(1);
        let first_span = (first_at, first_at.saturating_add(first.len()));
        let before = slots(&scratch.reading);
        apply_line(line, &mut scratch, &mut st, ParseOptions::default()).ok()?;
        if mbus {
            let after = slots(&scratch.reading);
            let Some(slot) = (0..3u8).find(|&i| before[usize::from(i)] != after[usize::from(i)])
            else {
                continue;
            };
            let second = vals.raw(1).ok()?.unwrap_or(&[]);
            let second_at = (second.as_ptr() as usize).saturating_sub(b.as_ptr() as usize);
            let span = (second_at, second_at.saturating_add(second.len()));
            mark(
                &mut l,
                span,
                Kind::Mbus {
                    slot,
                    first: first_span,
                },
            );
            let Layout { bytes, mask, .. } = &mut *l;
            mask_digits(bytes, mask, first_span);
        } else if key == key::TIME && act == Act::Generic {
            if let Some(q) = timestamp_quirk(first) {
                l.time_quirk = q;
                mark(&mut l, first_span, Kind::Time);
            }
        } else if act != Act::Generic {
            if let Some((n, exp)) = quantity_parts(act, first) {
                let neg = first.first() == Some(&b'-');
                // The digits: after the sign, before the unit.
                let start = first_span.0.saturating_add(usize::from(neg));
                let len = memchr(b'*', first).unwrap_or(first.len());
                let end = first_span.0.saturating_add(len);
                let point =
                    memchr(b'.', &first[..len]).map_or(end, |p| first_span.0.saturating_add(p));
                let kind = Kind::Quantity {
                    act,
                    point,
                    neg,
                    scale: n.scale,
                    exp,
                };
                mark(&mut l, (start, end), kind);
            }
        }
    }
    l.delivered = st.delivered;
    l.received = st.received;
    Some(l)
}

/// A field at `span`, its digits masked.
fn mark(l: &mut Layout, span: (usize, usize), kind: Kind) {
    mask_digits(&l.bytes, &mut l.mask, span);
    l.fields.push(Field {
        start: span.0,
        end: span.1,
        kind,
    });
}

/// Mask the digits of `bytes[start..end]` (its other bytes must stay as they are).
fn mask_digits(bytes: &[u8], mask: &mut [u8], (start, end): (usize, usize)) {
    let (Some(bytes), Some(mask)) = (bytes.get(start..end), mask.get_mut(start..end)) else {
        return;
    };
    for (m, c) in mask.iter_mut().zip(bytes) {
        if c.is_ascii_digit() {
            *m = 0xFF;
        }
    }
}

/// The quirk a timestamp of 12 digits (and the season letter, if any) adds (`Some(None)`:
/// none); `None` for any other value: the line is then not a field (kept as it is).
fn timestamp_quirk(v: &[u8]) -> Option<Option<Quirk>> {
    let digits = v.get(..12)?;
    let shape = digits.iter().all(u8::is_ascii_digit)
        && matches!(v.get(12..), Some(b"" | b"S" | b"W" | b"s" | b"w"));
    if !shape {
        return None;
    }
    Some(time_of(parse_dsmr_time(v).ok()?).1)
}

fn slots(r: &Reading) -> [Option<f64>; 3] {
    [r.energy.gas_m3, r.energy.water_m3, r.energy.heat_gj]
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
