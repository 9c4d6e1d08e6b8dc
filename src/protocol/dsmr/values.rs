//! The value part of a DSMR line, `(v1)(v2)…`: splitting, numbers with units (scaled exactly
//! from their decimal digits), text and equipment identifiers.

use memchr::memchr2;
use std::fmt;

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    Unbalanced,
    Missing(usize),
    BadNumber(String),
    BadUnit { found: String, expected: String },
    BadTime,
    NotText,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Unbalanced => {
                write!(f, "values must be '(…)' groups with nothing between them")
            }
            ValueError::Missing(i) => write!(f, "value {} is missing", i.saturating_add(1)),
            ValueError::BadNumber(s) => write!(f, "{s:?} is not a decimal number"),
            ValueError::BadUnit { found, expected } => {
                write!(f, "unit {found:?} where {expected} was expected")
            }
            ValueError::BadTime => write!(f, "timestamp is not YYMMDDhhmmss followed by S or W"),
            ValueError::NotText => write!(f, "value is not printable ASCII"),
        }
    }
}

impl std::error::Error for ValueError {}

/// The `(…)` groups of one line (the first two are located; the rest are only checked).
pub struct Values<'a> {
    spans: [&'a [u8]; 2],
    count: usize,
}

impl<'a> Values<'a> {
    /// Split `(a)(b)…`; `None` when something is outside the parentheses or they are
    /// unbalanced (reported as [`ValueError::Unbalanced`]). An `Option` rather than a
    /// `Result`: moving the `Result` out cost a store-forwarding stall on every line.
    pub fn split(s: &'a [u8]) -> Option<Self> {
        // Two locals, not an array indexed by `count`: they stay in registers (the indexed
        // stores followed by a 16-byte reload of the array stalled store forwarding).
        let (mut first, mut second): (&[u8], &[u8]) = (&[], &[]);
        let mut count: usize = 0;
        let mut rest = s;
        while !rest.is_empty() {
            if rest[0] != b'(' {
                return None;
            }
            // The first '(' or ')' after the opening one: a '(' (nested) or none is unbalanced.
            // Indices inside `rest`: the `saturating_add`s never saturate.
            let close = match memchr2(b'(', b')', &rest[1..]).map(|i| i.saturating_add(1)) {
                Some(c) if rest[c] == b')' => c,
                _ => return None,
            };
            let inner = &rest[1..close];
            match count {
                0 => first = inner,
                1 => second = inner,
                _ => {}
            }
            count = count.saturating_add(1);
            rest = &rest[close.saturating_add(1)..];
        }
        Some(Values {
            spans: [first, second],
            count,
        })
    }

    /// The values of a line split elsewhere (the parser's fast path): the first two groups'
    /// contents and how many groups there are.
    pub fn from_spans(first: &'a [u8], second: &'a [u8], count: usize) -> Self {
        Values {
            spans: [first, second],
            count,
        }
    }

    /// Value `i` as bytes; `None` when it is empty (`()`).
    pub fn raw(&self, i: usize) -> Result<Option<&'a [u8]>, ValueError> {
        if i >= self.count || i >= 2 {
            return Err(ValueError::Missing(i));
        }
        Ok(Some(self.spans[i]).filter(|s| !s.is_empty()))
    }

    /// Value `i` as printable ASCII bytes (the same checks as [`Values::text`]).
    pub fn printable(&self, i: usize) -> Result<Option<&'a [u8]>, ValueError> {
        match self.raw(i)? {
            Some(s) if !printable(s) => Err(ValueError::NotText),
            s => Ok(s),
        }
    }

    /// Value `i` as printable ASCII text.
    pub fn text(&self, i: usize) -> Result<Option<&'a str>, ValueError> {
        self.printable(i)?
            .map(|s| std::str::from_utf8(s).map_err(|_| ValueError::NotText))
            .transpose()
    }

    /// Value `i` as `number*unit`, with the unit looked up in `units` (name, power of ten to
    /// the target unit). No unit at all is read in the first unit of the list.
    pub fn quantity(&self, i: usize, units: &[(&str, i32)]) -> Result<Option<f64>, ValueError> {
        let Some(raw) = self.raw(i)? else {
            return Ok(None);
        };
        if let Some(x) = quick_quantity(raw, units) {
            return Ok(Some(x));
        }
        let (num, unit) = split_unit(raw);
        let exp = match unit {
            None => units[0].1,
            Some(u) => units
                .iter()
                .find(|(n, _)| n.as_bytes() == u)
                .map(|(_, e)| *e)
                .ok_or_else(|| ValueError::BadUnit {
                    found: String::from_utf8_lossy(u).into_owned(),
                    expected: units
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(" or "),
                })?,
        };
        let (mantissa, scale) = decimal(num).ok_or_else(|| bad_number(num))?;
        Ok(Some(scaled(mantissa, scale, exp)))
    }

    /// Value `i` as a whole number (no unit).
    pub fn integer(&self, i: usize) -> Result<Option<i64>, ValueError> {
        let Some(raw) = self.raw(i)? else {
            return Ok(None);
        };
        match decimal(raw) {
            Some((m, 0)) => Ok(Some(m)),
            _ => Err(bad_number(raw)),
        }
    }

    /// Value `i` as a number and its unit text as printed.
    pub fn number_with_unit(&self, i: usize) -> Result<Option<(f64, &'a str)>, ValueError> {
        let Some(raw) = self.raw(i)? else {
            return Ok(None);
        };
        let (num, unit) = split_unit(raw);
        let (m, s) = decimal(num).ok_or_else(|| bad_number(num))?;
        let unit = std::str::from_utf8(unit.unwrap_or(b"")).map_err(|_| ValueError::NotText)?;
        Ok(Some((scaled(m, s, 0), unit)))
    }
}

/// [`Values::quantity`] of a plain `[-]digits[.digits][*unit]` of at most 18 characters before
/// the unit (no overflow possible) with a listed unit, in one pass; `None` for anything else,
/// which the general code then reads (and names what is wrong). Same result: the same mantissa,
/// scale and exponent go through [`scaled`].
fn quick_quantity(raw: &[u8], units: &[(&str, i32)]) -> Option<f64> {
    let (neg, body) = match raw {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, raw),
    };
    let mut m: i64 = 0;
    let (mut scale, mut digits, mut seen_dot) = (0u32, 0u32, false);
    let mut i = 0usize;
    while let Some(&c) = body.get(i) {
        match c {
            b'0'..=b'9' => {
                // At most 18 digits (checked below before the value is used): no overflow.
                m = m
                    .wrapping_mul(10)
                    .wrapping_add(i64::from(c.wrapping_sub(b'0')));
                digits = digits.wrapping_add(1);
                scale = scale.wrapping_add(u32::from(seen_dot));
            }
            b'.' if !seen_dot => seen_dot = true,
            b'*' => break,
            _ => return None,
        }
        i = i.wrapping_add(1);
        if i > 18 {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let exp = match body.get(i.wrapping_add(1)..) {
        None => units.first()?.1,
        Some(u) => units.iter().find(|(n, _)| n.as_bytes() == u)?.1,
    };
    Some(scaled(if neg { m.wrapping_neg() } else { m }, scale, exp))
}

fn bad_number(s: &[u8]) -> ValueError {
    ValueError::BadNumber(String::from_utf8_lossy(s).into_owned())
}

fn split_unit(raw: &[u8]) -> (&[u8], Option<&[u8]>) {
    match raw.iter().position(|&c| c == b'*') {
        Some(star) => (&raw[..star], Some(&raw[star.saturating_add(1)..])),
        None => (raw, None),
    }
}

/// `-012.345` → (-12345, 3). At most 19 characters; `None` for anything else, and for a
/// number whose digits do not fit an `i64` (`9999999999999999999`): a bad number, never a
/// wrapped one.
pub fn decimal(s: &[u8]) -> Option<(i64, u32)> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut m: i64 = 0;
    let mut scale: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                m = m
                    .checked_mul(10)?
                    .checked_add(i64::from(c.wrapping_sub(b'0')))?;
                seen_digit = true;
                if seen_dot {
                    // At most 19 characters: no overflow.
                    scale = scale.saturating_add(1);
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    // `m` ≥ 0, so its negation always fits.
    seen_digit.then_some((if neg { m.checked_neg()? } else { m }, scale))
}

/// mantissa · 10^(exp − scale), exact whenever the result is representable.
pub fn scaled(mantissa: i64, scale: u32, exp: i32) -> f64 {
    // `scale` ≤ 19 and `exp` is a unit's small power of ten: saturating never bites.
    let k = exp.saturating_sub(i32::try_from(scale).unwrap_or(i32::MAX));
    if k >= 0 {
        mantissa as f64 * pow10(k.unsigned_abs())
    } else {
        mantissa as f64 / pow10(k.unsigned_abs())
    }
}

/// 10^k for k ≥ 0. Up to 10^22 every power of ten is an exact `f64`, so the table gives the
/// same value as `10f64.powi(k)` (whose squarings and products stay exact), without the call.
fn pow10(k: u32) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    match POW10.get(k as usize) {
        Some(&p) => p,
        None => 10f64.powi(i32::try_from(k).unwrap_or(i32::MAX)),
    }
}

/// The value of one hex digit (either case); `None` for any other byte.
pub(super) const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// The value of every byte as a hex digit (either case); `NOT_HEX` for any other byte.
const NOT_HEX: u8 = 0xFF;
static HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut c = 0;
    while c < 256 {
        if let Some(v) = nibble(c as u8) {
            t[c] = v;
        }
        c = c.wrapping_add(1);
    }
    t
};

/// Every byte of `s` is printable ASCII (0x20..0x7F); branch-free (no early exit), so it runs
/// 16 bytes at a time.
pub fn printable(s: &[u8]) -> bool {
    s.iter().fold(true, |ok, c| ok & (0x20..0x7F).contains(c))
}

/// Equipment identifiers are hex-encoded ASCII in DSMR 4+; decode when that gives printable
/// text, else keep the value as printed (`s` is printable ASCII: see [`Values::printable`]).
/// A table lookup per digit, the bytes collected before one UTF-8 check (they are ASCII).
pub fn decode_id(s: &[u8]) -> String {
    decode_id_into(None, s)
}

/// [`decode_id`] in `buf`'s memory (a new string without one).
pub fn decode_id_into(buf: Option<String>, s: &[u8]) -> String {
    // A new buffer of the right size directly (growing an empty one costs twice as much).
    let mut out = match buf {
        Some(b) => b.into_bytes(),
        None => Vec::with_capacity(s.len() / 2),
    };
    out.clear();
    if s.len().is_multiple_of(2) {
        // Every pair decoded into place (no early exit, no capacity check per byte), the
        // verdict collected on the way.
        out.resize(s.len() / 2, 0);
        let mut bad = false;
        for (o, p) in out.iter_mut().zip(s.chunks_exact(2)) {
            let (h, l) = (HEX[usize::from(p[0])], HEX[usize::from(p[1])]);
            // Two nibbles (each ≤ 15 when both are hex digits): at most 0xFF, no overflow.
            let v = (h << 4) | l;
            bad |= (h | l > 15) | !(0x20..0x7F).contains(&v);
            *o = v;
        }
        if !bad {
            // SAFETY: every byte of `out` is in 0x20..0x7F (checked above): ASCII, valid UTF-8.
            return unsafe { String::from_utf8_unchecked(out) };
        }
        out.clear();
    }
    // `out` is empty: valid UTF-8.
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push_str(&String::from_utf8_lossy(s));
    text
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn decimals_scale_exactly() {
        assert_eq!(decimal(b"00.335"), Some((335, 3)));
        assert_eq!(scaled(335, 3, 3), 335.0);
        assert_eq!(scaled(12, 2, 0), 0.12);
        assert_eq!(decimal(b"-1.5"), Some((-15, 1)));
        assert_eq!(decimal(b"1.2.3"), None);
        assert_eq!(decimal(b"."), None);
        assert_eq!(decimal(b""), None);
        // 19 digits: the largest i64 fits, one more does not (a bad number, not a panic).
        assert_eq!(decimal(b"9223372036854775807"), Some((i64::MAX, 0)));
        assert_eq!(decimal(b"9223372036854775808"), None);
        assert_eq!(decimal(b"9999999999999999999"), None);
        assert_eq!(decimal(b"-9223372036854775807"), Some((-i64::MAX, 0)));
        assert_eq!(decimal(b"999999999999999999.9"), None);
        assert_eq!(scaled(1, 19, 0), 1e-19);
    }

    #[test]
    fn pow10_table_matches_powi() {
        for k in 0..40 {
            assert_eq!(pow10(k), 10f64.powi(k as i32), "10^{k}");
        }
    }

    #[test]
    fn values_split_and_units() {
        let v = Values::split(b"(230421164959S)(00107.812*m3)").unwrap();
        assert_eq!(v.raw(0).unwrap(), Some(&b"230421164959S"[..]));
        assert_eq!(v.number_with_unit(1).unwrap(), Some((107.812, "m3")));
        let v = Values::split(b"(00.335*kW)").unwrap();
        assert_eq!(v.quantity(0, &[("kW", 3), ("W", 0)]).unwrap(), Some(335.0));
        assert!(matches!(
            v.quantity(0, &[("V", 0)]),
            Err(ValueError::BadUnit { .. })
        ));
        assert_eq!(
            Values::split(b"()")
                .unwrap()
                .quantity(0, &[("V", 0)])
                .unwrap(),
            None
        );
        assert!(Values::split(b"(1)x").is_none());
        assert!(Values::split(b"(1").is_none());
        assert!(Values::split(b"((1))").is_none());
    }

    #[test]
    fn ids_decode_from_hex() {
        assert_eq!(
            decode_id(b"4530303236303030303234313533363135"),
            "E0026000024153615"
        );
        assert_eq!(decode_id(b"ADC3100000158491"), "ADC3100000158491");
        assert_eq!(decode_id(b"12345"), "12345");
        // Hex, but a pair decodes to a control character: kept as printed.
        assert_eq!(decode_id(b"4507"), "4507");
    }
}
