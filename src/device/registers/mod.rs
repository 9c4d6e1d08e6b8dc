//! The Modbus register map: templates (Phoenix Contact EMPro by default, Eastron SDM630 and
//! SDM72D-M, Chint DTSU666, ABB B21/B23, Carlo Gavazzi EM24, Socomec Countis, SunSpec model
//! 203) that lay the device's current values out in registers, and `read(fc, addr, qty)` that
//! answers a read with words or a Modbus exception (MB-04..06, MB-09, MB-12, TIC-03). The
//! tables are in `layouts.rs`; `docs/register-maps.md` documents them and their sources.

mod layouts;
#[cfg(test)]
mod tests;

pub use layouts::WordOrder;
use layouts::{Cell, Kind, Layout, Num, SfGroup, Src};
use serde::Serialize;

/// The values the register map shows: one telegram's worth (MB-08), zero before the first
/// telegram (MB-11) and where the telegram lacks a value (MB-13).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MeterValues {
    pub voltage_v: [f32; 3],
    pub current_a: [f32; 3],
    pub active_power_w: f32,
    pub active_power_phase_w: [f32; 3],
    /// Counts valid telegrams; 0 before the first one.
    pub telegram_seq: u64,
}

/// A Modbus exception code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Exception {
    IllegalFunction = 0x01,
    IllegalDataAddress = 0x02,
    IllegalDataValue = 0x03,
}

impl Exception {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A `MeterType` that names no template; the text lists the valid names (MB-12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MeterType {name:?}; valid: {}", Template::ALL.map(Template::name).join(", "))]
pub struct UnknownTemplate {
    pub name: String,
}

/// A register map template (config key `MeterType`; `docs/register-maps.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Template {
    #[serde(rename = "PhoenixContact-EMPro")]
    PhoenixContactEmpro,
    #[serde(rename = "Eastron-SDM630")]
    EastronSdm630,
    #[serde(rename = "Eastron-SDM72D-M")]
    EastronSdm72dm,
    #[serde(rename = "Chint-DTSU666")]
    ChintDtsu666,
    #[serde(rename = "ABB-B23")]
    AbbB23,
    #[serde(rename = "CarloGavazzi-EM24")]
    CarloGavazziEm24,
    #[serde(rename = "Socomec-Countis")]
    SocomecCountis,
    #[serde(rename = "SunSpec-203")]
    SunSpec203,
}

impl Template {
    pub const ALL: [Template; 8] = [
        Template::PhoenixContactEmpro,
        Template::EastronSdm630,
        Template::EastronSdm72dm,
        Template::ChintDtsu666,
        Template::AbbB23,
        Template::CarloGavazziEm24,
        Template::SocomecCountis,
        Template::SunSpec203,
    ];

    /// The `MeterType` configuration value.
    pub fn name(self) -> &'static str {
        match self {
            Template::PhoenixContactEmpro => "PhoenixContact-EMPro",
            Template::EastronSdm630 => "Eastron-SDM630",
            Template::EastronSdm72dm => "Eastron-SDM72D-M",
            Template::ChintDtsu666 => "Chint-DTSU666",
            Template::AbbB23 => "ABB-B23",
            Template::CarloGavazziEm24 => "CarloGavazzi-EM24",
            Template::SocomecCountis => "Socomec-Countis",
            Template::SunSpec203 => "SunSpec-203",
        }
    }

    /// The template of a `MeterType` value; the error lists the valid names (MB-12).
    pub fn from_name(name: &str) -> Result<Self, UnknownTemplate> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| UnknownTemplate {
                name: name.to_string(),
            })
    }

    fn layout(self) -> &'static Layout {
        match self {
            Template::PhoenixContactEmpro => &layouts::EMPRO,
            Template::EastronSdm630 => &layouts::SDM630,
            Template::EastronSdm72dm => &layouts::SDM72,
            Template::ChintDtsu666 => &layouts::DTSU666,
            Template::AbbB23 => &layouts::ABB_B23,
            Template::CarloGavazziEm24 => &layouts::EM24,
            Template::SocomecCountis => &layouts::SOCOMEC,
            Template::SunSpec203 => &layouts::SUNSPEC,
        }
    }

    /// The readable address blocks (inclusive ranges).
    pub fn blocks(self) -> &'static [(u16, u16)] {
        self.layout().blocks
    }

    /// Answer a read: FC 0x03 and 0x04 give the same data (MB-04); other codes → 0x01;
    /// quantity 0 or > 125 → 0x03; any address outside the blocks → 0x02 (MB-09).
    pub fn read(self, v: &MeterValues, fc: u8, addr: u16, qty: u16) -> Result<Vec<u16>, Exception> {
        self.read_as(v, self.layout().order, fc, addr, qty)
    }

    /// Answer a read as `read` does, with every multi-register value in word order `order`
    /// instead of the template's own (to compare how a client decodes either).
    pub fn read_in_order(
        self,
        v: &MeterValues,
        order: WordOrder,
        fc: u8,
        addr: u16,
        qty: u16,
    ) -> Result<Vec<u16>, Exception> {
        self.read_as(v, order, fc, addr, qty)
    }

    fn read_as(
        self,
        v: &MeterValues,
        order: WordOrder,
        fc: u8,
        addr: u16,
        qty: u16,
    ) -> Result<Vec<u16>, Exception> {
        if fc != 0x03 && fc != 0x04 {
            return Err(Exception::IllegalFunction);
        }
        if qty == 0 || qty > 125 {
            return Err(Exception::IllegalDataValue);
        }
        let layout = self.layout();
        // Both from the request: in u32, `addr + qty - 1` cannot overflow (qty ≥ 1 here).
        let first = u32::from(addr);
        let last = first.saturating_add(u32::from(qty)).saturating_sub(1);
        let inside = layout
            .blocks
            .iter()
            .any(|&(a, b)| addr >= a && last <= u32::from(b));
        if !inside {
            return Err(Exception::IllegalDataAddress);
        }
        let mut words = vec![0u16; usize::from(qty)];
        for (reg, cell) in layout.cells {
            let reg = u32::from(*reg);
            let end = reg.saturating_add(u32::from(cell.words())); // exclusive
            if end <= first || reg > last {
                continue;
            }
            for (r, w) in (reg..end).zip(encode(v, cell, order)) {
                if r >= first && r <= last {
                    words[r.saturating_sub(first) as usize] = w;
                }
            }
        }
        Ok(words)
    }
}

/// A value of the telegram; None where the meter does not report it. Only a voltage can be
/// told missing: it is 0 exactly when the telegram lacks it (DSMR 4.2, P1-05; TIC historic;
/// absent phases), since a live phase never reads 0 V. Before the first telegram every value
/// is 0, not missing (MB-11). A non-finite value reads 0 (MB-13).
fn source(v: &MeterValues, s: Src) -> Option<f32> {
    let known = v.telegram_seq > 0;
    let fin = |x: f32| if x.is_finite() { x } else { 0.0 };
    let volts = v.voltage_v.map(fin);
    match s {
        Src::Voltage(p) => (volts[p] != 0.0 || !known).then_some(volts[p]),
        Src::Current(p) => Some(fin(v.current_a[p])),
        Src::TotalPower => Some(fin(v.active_power_w)),
        Src::PhasePower(p) => Some(fin(v.active_power_phase_w[p])),
        Src::CurrentSum => Some(v.current_a.iter().map(|&x| fin(x)).sum()),
        Src::VoltageAvg => {
            let present: Vec<f32> = volts.into_iter().filter(|&x| x != 0.0).collect();
            match present.len() {
                0 => (!known).then_some(0.0),
                n => Some(present.iter().sum::<f32>() / n as f32),
            }
        }
    }
}

/// The registers of one table row, in wire order.
fn encode(v: &MeterValues, cell: &Cell, order: WordOrder) -> Vec<u16> {
    match *cell {
        Cell::Value(s, n) => number(n, source(v, s), order),
        Cell::Absent(n, count) => (0..count).flat_map(|_| number(n, None, order)).collect(),
        Cell::Words(w) => w.to_vec(),
        Cell::Text(text, regs) => {
            let mut bytes = text.as_bytes().to_vec();
            bytes.resize(usize::from(regs).saturating_mul(2), 0);
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect()
        }
        Cell::Scaled(s, group) => {
            let sf = scale_factor(v, group);
            let n = Num {
                kind: Kind::I16,
                mult: 10f64.powi(i32::from(sf)).recip(),
                na: Some(0x8000),
            };
            number(n, source(v, s), order)
        }
        Cell::ScaleFactor(group) => vec![scale_factor(v, group) as u16],
    }
}

/// The finest exponent of the group at which every value fits an int16 (SunSpec `sunssf`).
fn scale_factor(v: &MeterValues, g: &SfGroup) -> i16 {
    let fits = |sf: i16| {
        g.sources.iter().all(|&s| {
            let x = f64::from(source(v, s).unwrap_or(0.0));
            (x / 10f64.powi(i32::from(sf))).round().abs() <= f64::from(i16::MAX)
        })
    };
    (g.finest..=g.coarsest)
        .find(|&sf| fits(sf))
        .unwrap_or(g.coarsest)
}

/// A number in its registers, in wire order: `value × mult`, rounded and clamped to the
/// type's range for integers, never the not-available pattern unless the value is missing
/// (then that pattern, or 0 where the format has none).
fn number(n: Num, x: Option<f32>, order: WordOrder) -> Vec<u16> {
    let bits: u64 = match x {
        None => n.na.unwrap_or(0),
        Some(x) if n.kind == Kind::F32 => {
            let scaled = match n.mult == 1.0 {
                true => x, // exact: the plain Float32 templates send the value as is
                false => (f64::from(x) * n.mult) as f32,
            };
            u64::from(scaled.to_bits())
        }
        Some(x) => integer(n, (f64::from(x) * n.mult).round()),
    };
    let count = usize::from(n.kind.words());
    let be = bits.to_be_bytes();
    let mut words: Vec<u16> = be[be.len().saturating_sub(count.saturating_mul(2))..]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    if order == WordOrder::Cdab {
        words.reverse();
    }
    words
}

/// The two's-complement bits (in the low bits of a u64) of an integer value.
fn integer(n: Num, x: f64) -> u64 {
    let (lo, hi): (i128, i128) = match n.kind {
        Kind::U16 => (0, u16::MAX.into()),
        Kind::I16 => (i16::MIN.into(), i16::MAX.into()),
        Kind::U32 => (0, u32::MAX.into()),
        Kind::I32 => (i32::MIN.into(), i32::MAX.into()),
        Kind::U64 => (0, u64::MAX.into()),
        Kind::F32 => (i64::MIN.into(), i64::MAX.into()),
    };
    // `as` from a float saturates (NaN → 0); the clamp keeps the type's range.
    let mut r = (x as i128).clamp(lo, hi);
    let mask = match n.kind.words() {
        1 => 0xFFFF,
        2 => 0xFFFF_FFFF,
        _ => u64::MAX,
    };
    let bits = |r: i128| (r as u64) & mask;
    if Some(bits(r)) == n.na {
        // A real value must not read as "not available": one step toward zero.
        r = if r > 0 {
            r.saturating_sub(1)
        } else {
            r.saturating_add(1)
        };
    }
    bits(r)
}

/// Decode a Float32 from two registers in CD-AB order (low word first), as a client would.
pub fn f32_cdab(words: [u16; 2]) -> f32 {
    f32::from_bits((u32::from(words[1]) << 16) | u32::from(words[0]))
}

/// Decode a Float32 from two registers in AB-CD order (high word first).
pub fn f32_abcd(words: [u16; 2]) -> f32 {
    f32::from_bits((u32::from(words[0]) << 16) | u32::from(words[1]))
}
