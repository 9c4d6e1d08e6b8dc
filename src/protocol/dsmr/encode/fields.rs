//! The numbers of a DSMR telegram as the [`Encoder`](super::Encoder) writes them: each value
//! with its decimals and zero-padded width, listed in telegram order, and the integer
//! formatting that writes them. A value whose decimal rounding is not certain from integers (a
//! tie, a negative zero, NaN, a huge value) is written with `std::fmt`, so the bytes are always
//! those of `format!("{v:0width$.dec$}")`.

use super::super::super::Reading;
use super::super::registers::DsmrRegisters;
use super::DsmrKind;
use std::io::Write;

/// One number of the telegram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    F64(f64),
    F32(f32),
    Int(u64),
    /// Watts, written as kW with three decimals.
    Kw(f32),
    /// Not in the reading: the line is left out or written as `()`.
    Absent,
}

/// A number with its format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Field {
    pub num: Num,
    pub dec: u8,
    pub width: u8,
}

/// At most this many numbers in a telegram (SMR 5.0 three-phase has 20, 22 with water and
/// heat).
pub(super) const MAX_FIELDS: usize = 24;

/// The numbers of one telegram in the order they are written, and which are absent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub items: [Field; MAX_FIELDS],
    pub len: usize,
    /// Bit `i` set when field `i` is [`Num::Absent`]: part of the telegram's shape.
    pub absent: u32,
}

impl Fields {
    fn push(&mut self, num: Num, dec: u8, width: u8) {
        // The kinds list at most 22 numbers: `len` stays below MAX_FIELDS.
        if let Some(slot) = self.items.get_mut(self.len) {
            if num == Num::Absent {
                self.absent |= 1u32.wrapping_shl(self.len as u32);
            }
            *slot = Field { num, dec, width };
            self.len = self.len.wrapping_add(1);
        }
    }

    pub fn new() -> Self {
        Fields {
            items: [ABSENT; MAX_FIELDS],
            len: 0,
            absent: 0,
        }
    }

    pub fn get(&self, i: usize) -> Field {
        self.items.get(i).copied().unwrap_or(ABSENT)
    }
}

const ABSENT: Field = Field {
    num: Num::Absent,
    dec: 0,
    width: 0,
};

fn opt64(v: Option<f64>) -> Num {
    v.map_or(Num::Absent, Num::F64)
}

fn opt32(v: Option<f32>) -> Num {
    v.map_or(Num::Absent, Num::F32)
}

/// The numbers of `r`'s telegram of `kind`, in the order [`Encoder`](super::Encoder) writes
/// them: the four energy registers, the tariff, the import and export totals, (e-MUCS: the
/// per-phase powers,) the voltages, the currents, (other kinds: the per-phase powers,) gas,
/// then the water and heat meters present in channel order.
pub(super) fn fill(f: &mut Fields, kind: DsmrKind, r: &Reading, regs: &DsmrRegisters) {
    f.len = 0;
    f.absent = 0;
    let e = &r.energy;
    for v in [
        e.import_t1_kwh,
        e.import_t2_kwh,
        e.export_t1_kwh,
        e.export_t2_kwh,
    ] {
        f.push(opt64(v), 3, 10);
    }
    f.push(Num::Int(u64::from(regs.tariff)), 0, 4);
    let (import, export) = super::totals(r);
    f.push(Num::Kw(import), 3, 6);
    f.push(Num::Kw(export), 3, 6);
    let phases = kind.phases();
    if kind == DsmrKind::Emucs {
        phase_powers(f, r, phases);
    }
    if kind.has_voltage() {
        for v in r.voltage_v.iter().take(phases) {
            f.push(opt32(*v), 1, 5);
        }
    }
    let dec = kind.current_decimals() as u8;
    let width = if dec == 0 { 3 } else { dec.saturating_add(4) };
    for a in r.current_a.iter().take(phases) {
        f.push(opt32(a.map(f32::abs)), dec, width);
    }
    if kind != DsmrKind::Emucs {
        phase_powers(f, r, phases);
    }
    f.push(opt64(r.energy.gas_m3), 3, 9);
    if r.energy.water_m3.is_some() || r.energy.heat_gj.is_some() {
        for (_, _, v) in super::extra_mbus(r, regs).into_iter().flatten() {
            f.push(Num::F64(v), 3, 9);
        }
    }
}

/// Delivered then received power per phase (kW, never negative).
fn phase_powers(f: &mut Fields, r: &Reading, phases: usize) {
    for w in r.active_power_phase_w.iter().take(phases) {
        f.push(w.map_or(Num::Absent, |w| Num::Kw(w.max(0.0))), 3, 6);
    }
    for w in r.active_power_phase_w.iter().take(phases) {
        f.push(w.map_or(Num::Absent, |w| Num::Kw((-w).max(0.0))), 3, 6);
    }
}

const POW10: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];

impl Num {
    /// The value's bits: equal bits, equal digits.
    pub fn bits(self) -> u64 {
        match self {
            Num::F64(v) => v.to_bits(),
            Num::F32(v) | Num::Kw(v) => u64::from(v.to_bits()),
            Num::Int(n) => n,
            Num::Absent => 0,
        }
    }
}

impl Field {
    /// The value · 10^dec as an integer when its `dec`-decimal rounding is certain (see
    /// [`scaled`]); `None` for an absent value or one `std::fmt` must write.
    pub fn scaled(self) -> Option<u64> {
        match self.num {
            Num::F64(v) => scaled(v, self.dec),
            Num::F32(v) => scaled(f64::from(v), self.dec),
            Num::Int(n) => Some(n),
            // w/1000 with three decimals: the digits of w rounded (the division's relative
            // error, 1e-16, cannot move a value 0.4 W from a tie across it).
            Num::Kw(w) => scaled(f64::from(w), 0),
            Num::Absent => None,
        }
    }

    /// Append the number: integer digits when certain, `std::fmt` otherwise. Returns the
    /// scaled value when the integer path wrote exactly `width` characters (a place the next
    /// telegram can overwrite).
    pub fn write(self, b: &mut Vec<u8>) -> Option<u64> {
        let (dec, width) = (u32::from(self.dec), usize::from(self.width));
        if let Some(n) = self.scaled() {
            let start = b.len();
            fixed(b, n, dec, width);
            return (b.len().wrapping_sub(start) == width).then_some(n);
        }
        let d = dec as usize;
        let _ = match self.num {
            Num::F64(v) => write!(b, "{v:0width$.d$}"),
            Num::F32(v) => write!(b, "{v:0width$.d$}"),
            Num::Kw(w) => write!(b, "{:0width$.d$}", f64::from(w) / 1000.0),
            Num::Int(n) => write!(b, "{n:0width$}"),
            Num::Absent => Ok(()),
        };
        None
    }
}

/// `v · 10^dec` rounded, when `v`'s exact value is within 0.4 units of the last decimal from
/// it (so rounding it to `dec` decimals certainly gives those digits): positive, finite,
/// below 10⁹. `x = v · 10^dec` is computed with a relative error below 1.2·10⁻¹⁶ (≤ 1.2·10⁻⁴
/// units below 10¹²), so a distance under 0.4 from `x` is under 0.5 from the exact product.
fn scaled(v: f64, dec: u8) -> Option<u64> {
    if !(v.is_sign_positive() && v < 1e9) {
        return None;
    }
    let x = v * POW10.get(usize::from(dec)).copied()?;
    // 0 ≤ x < 10¹²: the conversion is exact truncation, i.e. floor(x + 0.5).
    let n = (x + 0.5) as u64;
    ((x - n as f64).abs() < 0.4).then_some(n)
}

/// The ASCII digit of `d` (0..=9).
fn digit(d: u64) -> u8 {
    b'0'.wrapping_add(d as u8)
}

/// `n / 10^dec` with `dec` decimals, zero-padded on the left to `width` (≤ 24) characters.
pub(super) fn fixed(b: &mut Vec<u8>, mut n: u64, dec: u32, width: usize) {
    let mut digits = [b'0'; 24];
    let mut at = digits.len();
    let mut written = 0u32;
    loop {
        // At most 20 digits and a '.' in 24 places: `at` stays above 0.
        at = at.wrapping_sub(1);
        digits[at] = digit(n % 10);
        n /= 10;
        written = written.wrapping_add(1);
        if written == dec {
            at = at.wrapping_sub(1);
            digits[at] = b'.';
        }
        if n == 0 && written > dec {
            break;
        }
    }
    // The places left of the digits are '0' already: the padding is part of the one copy.
    let start = at.min(digits.len().saturating_sub(width));
    b.extend_from_slice(&digits[start..]);
}

/// 10^i for i in 0..=19.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Overwrite `slot` (exactly `width` bytes, `dec` decimals after a '.', currently showing
/// `old`) with `n`, rewriting only the low digits that differ; `false` (nothing written) when
/// `n` needs more places than the slot has.
pub(super) fn overwrite(slot: &mut [u8], mut n: u64, mut old: u64, dec: u8) -> bool {
    let places = if dec == 0 {
        slot.len()
    } else {
        slot.len().wrapping_sub(1)
    };
    match POW10_U64.get(places) {
        Some(&limit) if n < limit => {}
        _ => return false,
    }
    // From the right: the digits, skipping the '.'; stop where the rest of `n` and `old`
    // agree (the digits left of there already show it).
    let point = slot.len().wrapping_sub(usize::from(dec)).wrapping_sub(1);
    let mut i = slot.len();
    while n != old && i > 0 {
        i = i.wrapping_sub(1);
        if dec != 0 && i == point {
            continue;
        }
        slot[i] = digit(n % 10);
        n /= 10;
        old /= 10;
    }
    true
}
