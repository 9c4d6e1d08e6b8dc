//! 16-byte windows of a telegram for the parser's fast path: byte masks (bit `i` = byte `i`)
//! of the bytes that matter — `(`, `)`, LF and OBIS characters — with SSE2 (part of every
//! x86-64) or one byte at a time elsewhere; and the fast path's number reader with its unit as
//! one word. (Numbers are one short loop: on the 3–10 characters meters print, SWAR digit
//! conversion with its masks and checks cost more instructions than it saved.)

/// The 16 bytes of `b` from `at`; bytes past the end of `b` read as NUL (which no mask here
/// selects), so a window near the end needs no special case.
pub(super) fn load16(b: &[u8], at: usize) -> [u8; 16] {
    let full = at
        .checked_add(16)
        .and_then(|end| b.get(at..end))
        .and_then(|c| <[u8; 16]>::try_from(c).ok());
    match full {
        Some(w) => w,
        None => {
            let mut w = [0u8; 16];
            let rest = b.get(at..).unwrap_or(&[]);
            // `rest` is shorter than 16 bytes here (else the full window existed).
            let n = rest.len().min(16);
            w[..n].copy_from_slice(&rest[..n]);
            w
        }
    }
}

/// The low `n` bits set (all of them from 32 on): the bytes `0..n` of a window's mask.
pub(super) fn first_bits(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        1u32.wrapping_shl(n as u32).wrapping_sub(1)
    }
}

/// Byte masks of 16-byte windows: SSE2 compares.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod imp {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
        _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    fn load(c: &[u8; 16]) -> __m128i {
        // SAFETY: `c` is 16 readable bytes; `loadu` has no alignment requirement.
        unsafe { _mm_loadu_si128(c.as_ptr().cast::<__m128i>()) }
    }

    fn splat(b: u8) -> __m128i {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe { _mm_set1_epi8(b as i8) }
    }

    fn eq(v: __m128i, b: u8) -> __m128i {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe { _mm_cmpeq_epi8(v, splat(b)) }
    }

    /// Bytes in `lo..=hi` (both below 0x7F): signed compares, so bytes ≥ 0x80 never match.
    fn within(v: __m128i, lo: u8, hi: u8) -> __m128i {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, splat(lo.wrapping_sub(1))),
                _mm_cmplt_epi8(v, splat(hi.wrapping_add(1))),
            )
        }
    }

    fn bits(m: __m128i) -> u32 {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe { _mm_movemask_epi8(m) as u32 }
    }

    fn or(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        unsafe { _mm_or_si128(a, b) }
    }

    /// Bit `i` set when byte `i` is `(`.
    pub(in super::super) fn open_mask(c: &[u8; 16]) -> u32 {
        bits(eq(load(c), b'('))
    }

    /// Bit `i` set when byte `i` is `(`, `)` or LF.
    pub(in super::super) fn stop_mask(c: &[u8; 16]) -> u32 {
        let v = load(c);
        // '(' is 0x28 and ')' 0x29: with bit 0 set both are ')', and no other byte is.
        let paren = eq(or(v, splat(1)), b')');
        bits(or(paren, eq(v, b'\n')))
    }

    /// Bit `i` set when byte `i` may be part of an OBIS reference: ASCII letters, digits and
    /// `-:.*`.
    pub(in super::super) fn obis_mask(c: &[u8; 16]) -> u32 {
        let v = load(c);
        // '-' '.' '/' digits ':' are 0x2D..=0x3A: all but '/'.
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        let punct = unsafe { _mm_andnot_si128(eq(v, b'/'), within(v, b'-', b':')) };
        let letter = within(or(v, splat(0x20)), b'a', b'z');
        bits(or(or(punct, eq(v, b'*')), letter))
    }

    /// Bit `i` set when byte `i` of `new` equals `old`'s, or is a digit where `free` is
    /// non-zero (the layout cache's comparison).
    pub(in super::super) fn same_mask(new: &[u8; 16], old: &[u8; 16], free: &[u8; 16]) -> u32 {
        let v = load(new);
        // SAFETY: sse2 is enabled in this build (the module's cfg).
        let same = unsafe { _mm_cmpeq_epi8(v, load(old)) };
        // SAFETY: as above.
        let digit = unsafe { _mm_and_si128(within(v, b'0', b'9'), load(free)) };
        bits(or(same, digit))
    }

    /// Masks of the `(`, `)` and LF bytes.
    pub(in super::super) fn line_masks(c: &[u8; 16]) -> (u32, u32, u32) {
        let v = load(c);
        (bits(eq(v, b'(')), bits(eq(v, b')')), bits(eq(v, b'\n')))
    }
}

/// Byte masks of 16-byte windows, one byte at a time.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod imp {
    fn mask(c: &[u8; 16], hit: impl Fn(u8) -> bool) -> u32 {
        c.iter()
            .enumerate()
            .filter(|(_, &b)| hit(b))
            .fold(0, |m, (i, _)| m | 1u32.wrapping_shl(i as u32))
    }

    pub(in super::super) fn open_mask(c: &[u8; 16]) -> u32 {
        mask(c, |b| b == b'(')
    }

    pub(in super::super) fn stop_mask(c: &[u8; 16]) -> u32 {
        mask(c, |b| matches!(b, b'(' | b')' | b'\n'))
    }

    pub(in super::super) fn obis_mask(c: &[u8; 16]) -> u32 {
        mask(c, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'*')
        })
    }

    pub(in super::super) fn same_mask(new: &[u8; 16], old: &[u8; 16], free: &[u8; 16]) -> u32 {
        (0..16)
            .filter(|&i| new[i] == old[i] || (free[i] != 0 && new[i].is_ascii_digit()))
            .fold(0, |m, i| m | 1u32.wrapping_shl(i as u32))
    }

    pub(in super::super) fn line_masks(c: &[u8; 16]) -> (u32, u32, u32) {
        (
            mask(c, |b| b == b'('),
            mask(c, |b| b == b')'),
            mask(c, |b| b == b'\n'),
        )
    }
}

pub(super) use imp::{line_masks, obis_mask, open_mask, same_mask, stop_mask};

/// A unit of at most 3 bytes as one word: the bytes little-endian, the length in the top byte
/// (so `kW` and `kW\0` differ; every word is below 2^26). Longer units get `u32::MAX`.
pub(super) const fn unit_word(u: &[u8]) -> u32 {
    if u.len() > 3 {
        return u32::MAX;
    }
    let mut w = (u.len() as u32).wrapping_shl(24);
    let mut i = 0;
    while i < u.len() {
        w |= (u[i] as u32).wrapping_shl((i as u32).wrapping_mul(8));
        i = i.wrapping_add(1);
    }
    w
}

/// A number read by the fast path: mantissa and decimal places as [`super::values::decimal`]
/// gives them, and the unit's [`unit_word`] (`None` without `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Number {
    pub mantissa: i64,
    pub scale: u32,
    pub unit: Option<u32>,
}

/// The [`unit_word`] of the bytes after `*`; `None` when longer than 3 bytes.
#[inline(always)]
fn word_of(u: &[u8]) -> Option<u32> {
    match *u {
        [] => Some(0),
        [a] => Some(u32::from(a) | 1 << 24),
        [a, b] => Some(u32::from(a) | u32::from(b) << 8 | 2 << 24),
        [a, b, c] => Some(u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16 | 3 << 24),
        _ => None,
    }
}

/// `[-]digits[.digits][*unit]` with at most 18 digits and a unit of at most 3 bytes, in one
/// pass; `None` for anything else
/// (the generic code then reads it and names what is wrong). A short loop: the values meters
/// print are 3 to 10 characters. Not inlined: in the line loop its registers spilled.
#[inline(never)]
pub(super) fn number_in(v: &[u8]) -> Option<Number> {
    let (neg, body) = match v {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    const NO_POINT: u32 = u32::MAX;
    let mut m: u64 = 0;
    let (mut digits, mut point) = (0u32, NO_POINT);
    let mut i = 0usize;
    while let Some(&c) = body.get(i) {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            // At most 18 digits (checked below before the value is used): no overflow.
            m = m.wrapping_mul(10).wrapping_add(u64::from(d));
            digits = digits.wrapping_add(1);
        } else if c == b'.' && point == NO_POINT {
            point = digits;
        } else if c == b'*' {
            break;
        } else {
            return None;
        }
        i = i.wrapping_add(1);
    }
    if digits == 0 || digits > 18 {
        return None;
    }
    let unit = match body.get(i.wrapping_add(1)..) {
        Some(u) => Some(word_of(u)?),
        None => None,
    };
    // m < 10^18 fits an i64.
    let m = m as i64;
    Some(Number {
        mantissa: if neg { m.wrapping_neg() } else { m },
        scale: if point == NO_POINT {
            0
        } else {
            digits.wrapping_sub(point)
        },
        unit,
    })
}
