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

    /// Masks of the digits, `.` and `*` bytes.
    /// Masks of the `.` and `*` bytes.
    pub(in super::super) fn dot_star_masks(c: &[u8; 16]) -> (u32, u32) {
        let v = load(c);
        (bits(eq(v, b'.')), bits(eq(v, b'*')))
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

    pub(in super::super) fn dot_star_masks(c: &[u8; 16]) -> (u32, u32) {
        (mask(c, |b| b == b'.'), mask(c, |b| b == b'*'))
    }

    pub(in super::super) fn line_masks(c: &[u8; 16]) -> (u32, u32, u32) {
        (
            mask(c, |b| b == b'('),
            mask(c, |b| b == b')'),
            mask(c, |b| b == b'\n'),
        )
    }
}

pub(super) use imp::{line_masks, obis_mask, open_mask, stop_mask};

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

/// Eight digit values (0–9, one per byte, the most significant at the low byte) as a number:
/// pairs, then quads, then all eight; no lane overflows into the next (99, 9999).
#[inline(always)]
fn swar8(v: u64) -> u64 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = v.wrapping_mul(100).wrapping_add(v >> 16) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF
}

/// The value of the `n` (≤ 8) bytes of `b` before `end` when they are all ASCII digits.
#[inline(always)]
pub(super) fn digits_before(b: &[u8], end: usize, n: usize) -> Option<u64> {
    if n == 0 {
        return Some(0);
    }
    let from = end.checked_sub(8)?;
    let word = u64::from_le_bytes(*b.get(from..end)?.first_chunk::<8>()?);
    // The n digits are the top bytes (little-endian): the others read as leading zeros.
    let keep = u64::MAX.checked_shl(64u32.saturating_sub((n as u32).wrapping_mul(8)))?;
    let x = word & keep;
    let threes = 0x3030_3030_3030_3030 & keep;
    let high = 0xF0F0_F0F0_F0F0_F0F0 & keep;
    // High nibble 3, and low nibble ≤ 9 (adding 6 keeps the high nibble 3). A byte whose
    // addition carries (≥ 0xFA) already fails the first test.
    if x & high != threes || x.wrapping_add(0x0606_0606_0606_0606) & high != threes {
        return None;
    }
    Some(swar8(x & 0x0F0F_0F0F_0F0F_0F0F))
}

/// A number read from the body: mantissa and decimal places as [`super::values::decimal`]
/// gives them, and the unit's [`unit_word`] (`None` without `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Number {
    pub mantissa: i64,
    pub scale: u32,
    pub unit: Option<u32>,
}

/// `[-]digits[.digits][*unit]`, the `len` bytes of `b` from `at` (len ≤ 15), with at most 8
/// digits on either side of the point and a unit of at most 3 bytes; `None` for anything else
/// (the generic code then reads it and names what is wrong) and near the ends of `b`.
#[inline(always)]
pub(super) fn number_at(b: &[u8], at: usize, len: usize) -> Option<Number> {
    if len >= 16 {
        return None;
    }
    let w = load16(b, at);
    let (dot, star) = imp::dot_star_masks(&w);
    // The number ends at the first '*' or at the end of the value; its point is the first '.'.
    let end = ((star & first_bits(len)) | 1u32.wrapping_shl(len as u32)).trailing_zeros() as usize;
    let point = ((dot & first_bits(end)) | 1u32.wrapping_shl(end as u32)).trailing_zeros() as usize;
    let start = usize::from(w[0] == b'-');
    // start ≤ point ≤ end ≤ len < 16 (a '-' at 0 is not a '.'): no wrap.
    let int_len = point.wrapping_sub(start);
    let frac_len = end.wrapping_sub(point).saturating_sub(1);
    if int_len > 8 || frac_len > 8 || int_len.wrapping_add(frac_len) == 0 {
        return None;
    }
    // Any byte of either part that is not a digit (a second '.', a '-') refuses the number.
    let int = digits_before(b, at.wrapping_add(point), int_len)?;
    let frac = digits_before(b, at.wrapping_add(end), frac_len)?;
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
    // At most 16 digits: below 10^16, no overflow.
    let m = int.wrapping_mul(*POW10.get(frac_len)?).wrapping_add(frac) as i64;
    let unit = if end < len {
        let from = end.wrapping_add(1);
        let ulen = len.wrapping_sub(from);
        if ulen > 3 {
            return None;
        }
        // from < 16: the shift stays below 128.
        let word = u128::from_le_bytes(w).wrapping_shr((from as u32).wrapping_mul(8)) as u32;
        Some(word & first_bits(ulen.wrapping_mul(8)) | (ulen as u32).wrapping_shl(24))
    } else {
        None
    };
    Some(Number {
        mantissa: if start == 1 { m.wrapping_neg() } else { m },
        scale: frac_len as u32,
        unit,
    })
}
