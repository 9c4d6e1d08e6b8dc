//! The Modbus register map: templates (Phoenix Contact EMPro by default, Eastron SDM630) that
//! lay the device's current values out as Float32 registers, and `read(fc, addr, qty)` that
//! answers a read with words or a Modbus exception (MB-04..06, MB-09, MB-12, TIC-03).

use super::defect::{Defect, Defects};
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
    /// "Gateway target device failed to respond": only a device with the planted
    /// `modbus-unit-id-filter` defect sends it (MB-03 says every unit id is answered).
    GatewayTargetFailed = 0x0B,
}

impl Exception {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Word order of a Float32 in two registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordOrder {
    /// Low word first ("CD AB", EMPro, MB-06).
    Cdab,
    /// High word first ("AB CD", SDM630).
    Abcd,
}

/// Which value sits at a register pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Voltage(usize),
    Current(usize),
    TotalPower,
    PhasePower(usize),
}

/// A register map template (config key `MeterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Template {
    #[serde(rename = "PhoenixContact-EMPro")]
    PhoenixContactEmpro,
    #[serde(rename = "Eastron-SDM630")]
    EastronSdm630,
}

struct Layout {
    blocks: &'static [(u16, u16)],
    order: WordOrder,
    values: &'static [(u16, Quantity)],
}

use Quantity::*;

const EMPRO: Layout = Layout {
    blocks: &[(0x8000, 0x803F), (0x8100, 0x8107)],
    order: WordOrder::Cdab,
    values: &[
        (0x8006, Voltage(0)),
        (0x8008, Voltage(1)),
        (0x800A, Voltage(2)),
        (0x800E, Current(0)),
        (0x8010, Current(1)),
        (0x8012, Current(2)),
        (0x8016, TotalPower),
        (0x801E, PhasePower(0)),
        (0x8020, PhasePower(1)),
        (0x8022, PhasePower(2)),
    ],
};

const SDM630: Layout = Layout {
    blocks: &[(0x0000, 0x004F)],
    order: WordOrder::Abcd,
    values: &[
        (0x0000, Voltage(0)),
        (0x0002, Voltage(1)),
        (0x0004, Voltage(2)),
        (0x0006, Current(0)),
        (0x0008, Current(1)),
        (0x000A, Current(2)),
        (0x000C, PhasePower(0)),
        (0x000E, PhasePower(1)),
        (0x0010, PhasePower(2)),
        (0x0034, TotalPower),
    ],
};

impl Template {
    pub const ALL: [Template; 2] = [Template::PhoenixContactEmpro, Template::EastronSdm630];

    /// The `MeterType` configuration value.
    pub fn name(self) -> &'static str {
        match self {
            Template::PhoenixContactEmpro => "PhoenixContact-EMPro",
            Template::EastronSdm630 => "Eastron-SDM630",
        }
    }

    /// The template of a `MeterType` value; the error lists the valid names (MB-12).
    pub fn from_name(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let valid: Vec<_> = Self::ALL.iter().map(|t| t.name()).collect();
                format!("unknown MeterType {name:?}; valid: {}", valid.join(", "))
            })
    }

    fn layout(self) -> &'static Layout {
        match self {
            Template::PhoenixContactEmpro => &EMPRO,
            Template::EastronSdm630 => &SDM630,
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

    /// Answer a read for `unit` on a device with `defects` (planted bugs, `defect.rs`); with
    /// no defects this is `read` for every unit id (MB-03).
    pub fn read_with(
        self,
        v: &MeterValues,
        unit: u8,
        fc: u8,
        (addr, qty): (u16, u16),
        defects: &Defects,
    ) -> Result<Vec<u16>, Exception> {
        if defects.is_empty() {
            return self.read(v, fc, addr, qty);
        }
        if defects.contains(&Defect::ModbusUnitIdFilter) && unit != 1 {
            return Err(Exception::GatewayTargetFailed);
        }
        let order = match defects.contains(&Defect::ModbusWordOrderAbcd) {
            true => WordOrder::Abcd,
            false => self.layout().order,
        };
        let stale = MeterValues::default();
        let v = match fc == 0x04 && defects.contains(&Defect::ModbusFc4Stale) {
            true => &stale,
            false => v,
        };
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
        let last = u32::from(addr)
            .saturating_add(u32::from(qty))
            .saturating_sub(1);
        let inside = layout
            .blocks
            .iter()
            .any(|&(a, b)| addr >= a && last <= u32::from(b));
        if !inside {
            return Err(Exception::IllegalDataAddress);
        }
        let mut words = vec![0u16; usize::from(qty)];
        for &(reg, q) in layout.values {
            let [hi, lo] = split(value_of(v, q));
            let (first, second) = match order {
                WordOrder::Cdab => (lo, hi),
                WordOrder::Abcd => (hi, lo),
            };
            let reg = u32::from(reg);
            for (r, w) in [(reg, first), (reg.saturating_add(1), second)] {
                if r >= u32::from(addr) && r <= last {
                    words[r.saturating_sub(u32::from(addr)) as usize] = w;
                }
            }
        }
        Ok(words)
    }
}

fn value_of(v: &MeterValues, q: Quantity) -> f32 {
    let x = match q {
        Voltage(p) => v.voltage_v[p],
        Current(p) => v.current_a[p],
        TotalPower => v.active_power_w,
        PhasePower(p) => v.active_power_phase_w[p],
    };
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn split(x: f32) -> [u16; 2] {
    let b = x.to_bits();
    [(b >> 16) as u16, b as u16]
}

/// Decode a Float32 from two registers in CD-AB order (low word first), as a client would.
pub fn f32_cdab(words: [u16; 2]) -> f32 {
    f32::from_bits((u32::from(words[1]) << 16) | u32::from(words[0]))
}

/// Decode a Float32 from two registers in AB-CD order (high word first).
pub fn f32_abcd(words: [u16; 2]) -> f32 {
    f32::from_bits((u32::from(words[0]) << 16) | u32::from(words[1]))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn values() -> MeterValues {
        MeterValues {
            voltage_v: [230.0, 231.5, 229.0],
            current_a: [6.0, 1.0, 0.0],
            active_power_w: -1500.0,
            active_power_phase_w: [1380.0, -2880.0, 0.0],
            telegram_seq: 1,
        }
    }

    #[test]
    fn empro_voltage_is_word_swapped() {
        let w = Template::PhoenixContactEmpro
            .read(&values(), 3, 0x8006, 2)
            .unwrap();
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
        assert_eq!(
            bytes,
            [0x00, 0x00, 0x43, 0x66],
            "230.0 V is sent as 00 00 43 66 (MB-06)"
        );
        assert_eq!(f32_cdab([w[0], w[1]]), 230.0);
    }

    #[test]
    fn fc3_and_fc4_agree_and_blocks_are_enforced() {
        let t = Template::PhoenixContactEmpro;
        let v = values();
        assert_eq!(t.read(&v, 3, 0x8006, 57), t.read(&v, 4, 0x8006, 57));
        assert_eq!(t.read(&v, 3, 0x8100, 8).unwrap(), vec![0; 8]);
        assert_eq!(t.read(&v, 3, 0x8000, 64).unwrap().len(), 64);
        assert_eq!(
            t.read(&v, 3, 0x8030, 17),
            Err(Exception::IllegalDataAddress)
        );
        assert_eq!(t.read(&v, 3, 0x7FFF, 2), Err(Exception::IllegalDataAddress));
        assert_eq!(t.read(&v, 3, 0xFFFF, 2), Err(Exception::IllegalDataAddress));
        assert_eq!(t.read(&v, 3, 0x8000, 0), Err(Exception::IllegalDataValue));
        assert_eq!(t.read(&v, 3, 0x8000, 126), Err(Exception::IllegalDataValue));
        assert_eq!(t.read(&v, 6, 0x8000, 1), Err(Exception::IllegalFunction));
        let w = t.read(&v, 4, 0x8016, 2).unwrap();
        assert_eq!(f32_cdab([w[0], w[1]]), -1500.0);
        let w = t.read(&v, 4, 0x8020, 2).unwrap();
        assert_eq!(f32_cdab([w[0], w[1]]), -2880.0);
    }

    #[test]
    fn zero_before_first_telegram_and_nan_reads_zero() {
        let t = Template::PhoenixContactEmpro;
        assert!(t
            .read(&MeterValues::default(), 3, 0x8000, 64)
            .unwrap()
            .iter()
            .all(|&w| w == 0));
        let v = MeterValues {
            active_power_w: f32::NAN,
            ..values()
        };
        assert_eq!(t.read(&v, 3, 0x8016, 2).unwrap(), vec![0, 0]);
    }

    #[test]
    fn sdm630_is_big_endian_abcd() {
        let t = Template::EastronSdm630;
        let w = t.read(&values(), 4, 0x0000, 2).unwrap();
        assert_eq!(f32_abcd([w[0], w[1]]), 230.0);
        let w = t.read(&values(), 3, 0x0034, 2).unwrap();
        assert_eq!(f32_abcd([w[0], w[1]]), -1500.0);
        assert_eq!(
            t.read(&values(), 4, 0x8006, 2),
            Err(Exception::IllegalDataAddress)
        );
    }

    #[test]
    fn planted_defects_change_the_answers() {
        let t = Template::PhoenixContactEmpro;
        let v = values();
        let none = Defects::new();
        for unit in [0, 1, 247, 255] {
            assert_eq!(
                t.read_with(&v, unit, 3, (0x8006, 57), &none),
                t.read(&v, 3, 0x8006, 57)
            );
        }
        let abcd = Defects::from([Defect::ModbusWordOrderAbcd]);
        let w = t.read_with(&v, 1, 3, (0x8006, 2), &abcd).unwrap();
        assert_eq!(w, [0x4366, 0x0000], "high word first");
        assert_eq!(f32_abcd([w[0], w[1]]), 230.0);
        let stale = Defects::from([Defect::ModbusFc4Stale]);
        assert_eq!(t.read_with(&v, 1, 4, (0x8016, 2), &stale), Ok(vec![0, 0]));
        assert_eq!(
            t.read_with(&v, 1, 3, (0x8016, 2), &stale),
            t.read(&v, 3, 0x8016, 2)
        );
        let unit = Defects::from([Defect::ModbusUnitIdFilter]);
        assert!(t.read_with(&v, 1, 3, (0x8016, 2), &unit).is_ok());
        assert_eq!(
            t.read_with(&v, 0, 3, (0x8016, 2), &unit),
            Err(Exception::GatewayTargetFailed)
        );
        assert_eq!(Exception::GatewayTargetFailed.code(), 0x0B);
    }

    #[test]
    fn unknown_template_lists_valid_names() {
        let e = Template::from_name("ABB-B23").unwrap_err();
        assert!(
            e.contains("PhoenixContact-EMPro") && e.contains("Eastron-SDM630"),
            "{e}"
        );
        assert_eq!(
            Template::from_name("Eastron-SDM630"),
            Ok(Template::EastronSdm630)
        );
    }
}
