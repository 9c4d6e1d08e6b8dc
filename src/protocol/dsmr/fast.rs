//! The parser's fast path for well-formed lines (`OBIS(v)(v)…` CRLF), the shape of every line a
//! real meter prints: the OBIS code is found and keyed with word-wide operations, the values
//! split in one scan. Anything else — an error, an odd byte, a line near the end of the body —
//! is left to the generic line code in `mod.rs`, which gives every error message and offset;
//! this path only decides faster what that code would decide for a clean line.

use super::values::Values;
use super::{map_obis, Mapped, State};
use crate::protocol::{ParseOptions, Telegram};

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

/// Bytes allowed in an OBIS reference: ASCII letters, digits and `-:.*`.
const fn obis_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'*');
        c = c.wrapping_add(1);
    }
    t
}
static OBIS_BYTE: [bool; 256] = obis_table();

/// Index of the first `(` in a 16-byte block.
fn find_open16(c: &[u8; 16]) -> Option<usize> {
    first_set(simd::open_mask(c))
}

/// Index of the first `(`, `)` or LF in a 16-byte block.
fn find_stop16(c: &[u8; 16]) -> Option<usize> {
    first_set(simd::stop_mask(c))
}

/// The lowest set bit of a byte mask (bit `i` = byte `i`).
fn first_set(m: u32) -> Option<usize> {
    (m != 0).then_some(m.trailing_zeros() as usize)
}

/// Byte masks of 16-byte blocks: SSE2 compares (part of every x86-64).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    fn load(c: &[u8; 16]) -> __m128i {
        // SAFETY: `c` is 16 readable bytes; `loadu` has no alignment requirement.
        unsafe { _mm_loadu_si128(c.as_ptr().cast::<__m128i>()) }
    }

    /// Bit `i` set when byte `i` is `(`.
    pub(super) fn open_mask(c: &[u8; 16]) -> u32 {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe {
            let eq = _mm_cmpeq_epi8(load(c), _mm_set1_epi8(b'(' as i8));
            _mm_movemask_epi8(eq) as u32
        }
    }

    /// Bit `i` set when byte `i` is `(`, `)` or LF.
    pub(super) fn stop_mask(c: &[u8; 16]) -> u32 {
        let v = load(c);
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe {
            // '(' is 0x28 and ')' 0x29: with bit 0 set both are ')', and no other byte is.
            let one = _mm_set1_epi8(1);
            let paren = _mm_cmpeq_epi8(_mm_or_si128(v, one), _mm_set1_epi8(b')' as i8));
            let lf = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
            _mm_movemask_epi8(_mm_or_si128(paren, lf)) as u32
        }
    }
}

/// Byte masks of 16-byte blocks, one byte at a time.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod simd {
    fn mask(c: &[u8; 16], hit: impl Fn(u8) -> bool) -> u32 {
        c.iter()
            .enumerate()
            .filter(|(_, &b)| hit(b))
            .fold(0, |m, (i, _)| m | (1u32 << i))
    }

    pub(super) fn open_mask(c: &[u8; 16]) -> u32 {
        mask(c, |b| b == b'(')
    }

    pub(super) fn stop_mask(c: &[u8; 16]) -> u32 {
        mask(c, |b| matches!(b, b'(' | b')' | b'\n'))
    }
}

/// Index of the first byte of `b[from..]` that is `(`, `)` or LF, scanning 16 bytes at a time.
fn next_stop(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = from
        .checked_add(16)
        .and_then(|end| b.get(from..end))
        .and_then(|c| <&[u8; 16]>::try_from(c).ok())
    {
        if let Some(i) = find_stop16(chunk) {
            return from.checked_add(i);
        }
        from = from.checked_add(16)?;
    }
    let rest = b.get(from..)?;
    let i = rest
        .iter()
        .position(|&c| matches!(c, b'(' | b')' | b'\n'))?;
    from.checked_add(i)
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
    let Some(word) = s
        .checked_add(16)
        .and_then(|end| body.get(s..end))
        .and_then(|c| <[u8; 16]>::try_from(c).ok())
    else {
        return Step::Slow(s);
    };
    let n = match find_open16(&word) {
        Some(n) if n > 0 => n,
        _ => return Step::Slow(s),
    };
    // 1 ≤ n < 16: the mask keeps the n bytes before '(' (no wrap).
    let key = u128::from_le_bytes(word)
        & 1u128
            .wrapping_shl((n as u32).wrapping_mul(8))
            .wrapping_sub(1);
    // The values: '(' … ')' groups, then CRLF or LF (or the end of the body).
    let (mut first, mut second): (&[u8], &[u8]) = (&[], &[]);
    let mut count: usize = 0;
    let mut i = s.saturating_add(n);
    let line_end;
    let next;
    loop {
        // body[i] == '('.
        let inner = i.saturating_add(1);
        let Some(close) = next_stop(body, inner) else {
            return Step::Slow(s);
        };
        if body[close] != b')' {
            return Step::Slow(s);
        }
        match count {
            0 => first = &body[inner..close],
            1 => second = &body[inner..close],
            _ => {}
        }
        count = count.saturating_add(1);
        i = close.saturating_add(1);
        match body.get(i) {
            Some(b'(') => continue,
            None => {
                (line_end, next) = (i, i);
                break;
            }
            Some(b'\n') => {
                (line_end, next) = (i, i.saturating_add(1));
                break;
            }
            Some(b'\r') if body.get(i.saturating_add(1)) == Some(&b'\n') => {
                (line_end, next) = (i, i.saturating_add(2));
                break;
            }
            Some(_) => return Step::Slow(s),
        }
    }
    let vals = Values::from_spans(first, second, count);
    // A mapped key is a valid OBIS reference by construction: only the lines `map_obis` does
    // not map (it leaves nothing of them in the reading) need their bytes checked.
    match map_obis(key, &vals, &mut t.reading, st) {
        Ok(Mapped::Yes) => {}
        Ok(Mapped::Quirk(q)) => t.quirk(q),
        Ok(Mapped::No) => {
            if !body[s..s.saturating_add(n)]
                .iter()
                .all(|&c| OBIS_BYTE[usize::from(c)])
            {
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
