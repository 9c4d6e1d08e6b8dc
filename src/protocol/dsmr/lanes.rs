//! 16-byte windows of a telegram for the parser's fast path: byte masks (bit `i` = byte `i`)
//! of the bytes that matter — `(`, `)`, LF, OBIS characters, digits, `.` and `*` — with SSE2
//! (part of every x86-64) or one byte at a time elsewhere, and numbers read from a window with
//! SWAR arithmetic (eight digits in three multiplications) instead of a loop per digit.

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
    1u32.checked_shl(n as u32)
        .map_or(u32::MAX, |b| b.wrapping_sub(1))
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

    /// Masks of the digits, `.` and `*` bytes.
    pub(in super::super) fn number_masks(c: &[u8; 16]) -> (u32, u32, u32) {
        let v = load(c);
        (
            bits(within(v, b'0', b'9')),
            bits(eq(v, b'.')),
            bits(eq(v, b'*')),
        )
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

    pub(in super::super) fn number_masks(c: &[u8; 16]) -> (u32, u32, u32) {
        (
            mask(c, |b| b.is_ascii_digit()),
            mask(c, |b| b == b'.'),
            mask(c, |b| b == b'*'),
        )
    }
}

pub(super) use imp::{obis_mask, open_mask, stop_mask};

/// A unit of at most 3 bytes as one word: the bytes little-endian, the length in the top byte
/// (so `kW` and `kW\0` differ). Longer units get a word no window gives.
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

/// The value of up to 8 ASCII digits, the first at the low byte of `w` (little-endian);
/// the bytes from `len` on are ignored.
pub(super) fn digits8(w: u64, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    // The digits moved to the top bytes: the free low bytes read as leading zeros.
    let v = w
        .checked_shl(64u32.saturating_sub((len as u32).wrapping_mul(8)))
        .unwrap_or(0);
    let v = v & 0x0F0F_0F0F_0F0F_0F0F;
    // Pairs, then quads, then all eight: no lane overflows into the next (99, 9999).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = v.wrapping_mul(100).wrapping_add(v >> 16) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF
}

/// A number read from a window: mantissa and decimal places as [`super::values::decimal`]
/// gives them, and the unit's [`unit_word`] (`None` without `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Number {
    pub mantissa: i64,
    pub scale: u32,
    pub unit: Option<u32>,
}

/// `[-]digits[.digits][*unit]`, the first `len` bytes of `w` (len ≤ 15), with at most 8 digits
/// on either side of the point and a unit of at most 3 bytes; `None` for anything else (the
/// generic code then reads it and names what is wrong).
pub(super) fn number16(w: &[u8; 16], len: usize) -> Option<Number> {
    if len >= 16 {
        return None;
    }
    let (digit, dot, star) = imp::number_masks(w);
    let valid = first_bits(len);
    let star = star & valid;
    let end = if star != 0 {
        star.trailing_zeros() as usize
    } else {
        len
    };
    let start = usize::from(w[0] == b'-');
    let region = first_bits(end) & !first_bits(start);
    let dot = dot & region;
    let digit = digit & region;
    // Only digits and at most one '.', and at least one digit.
    if (digit | dot) != region || dot & dot.wrapping_sub(1) != 0 || digit == 0 {
        return None;
    }
    let point = if dot != 0 {
        dot.trailing_zeros() as usize
    } else {
        end
    };
    let int_len = point.saturating_sub(start);
    let frac_len = end.saturating_sub(point).saturating_sub(1);
    if int_len > 8 || frac_len > 8 {
        return None;
    }
    let all = u128::from_le_bytes(*w);
    // Shifts below 128: `start` ≤ 1 and `point` < 15.
    let at = |i: usize| all.checked_shr((i as u32).wrapping_mul(8)).unwrap_or(0) as u64;
    let int = digits8(at(start), int_len);
    let frac = digits8(at(point.saturating_add(1)), frac_len);
    // At most 16 digits: below 10^16, no overflow.
    const POW10: [u64; 9] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
    ];
    let m = int.wrapping_mul(POW10[frac_len]).wrapping_add(frac) as i64;
    let unit = if star != 0 {
        let from = end.saturating_add(1);
        let ulen = len.saturating_sub(from);
        if ulen > 3 {
            return None;
        }
        let bytes = (at(from) as u32) & first_bits(ulen.wrapping_mul(8));
        Some(bytes | (ulen as u32).wrapping_shl(24))
    } else {
        None
    };
    Some(Number {
        mantissa: if start == 1 { m.wrapping_neg() } else { m },
        scale: frac_len as u32,
        unit,
    })
}
