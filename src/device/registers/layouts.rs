//! The register tables of every template: where each value sits, how it is encoded (Float32
//! or integer, scale, signedness, word order), what a quantity the device cannot know reads
//! (the vendor's "not available" value, else 0), and the constant registers (SunSpec markers,
//! model headers, strings). `docs/register-maps.md` documents the same tables and their
//! sources; keep both in step.

/// Word order of a value that spans several registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordOrder {
    /// Least significant word first ("CD AB": EMPro Float32, MB-06; Carlo Gavazzi int32).
    Cdab,
    /// Most significant word first ("AB CD": Eastron, Chint, ABB, Socomec, SunSpec).
    Abcd,
}

/// How a number is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    F32,
    U16,
    I16,
    U32,
    I32,
    U64,
}

impl Kind {
    /// Registers taken.
    pub(super) fn words(self) -> u16 {
        match self {
            Kind::U16 | Kind::I16 => 1,
            Kind::F32 | Kind::U32 | Kind::I32 => 2,
            Kind::U64 => 4,
        }
    }
}

/// A number format: the register holds `value × mult` (rounded for integers); `na` is the
/// bit pattern that means "not available" (None: the vendor defines none, 0 is served).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Num {
    pub kind: Kind,
    pub mult: f64,
    pub na: Option<u64>,
}

const fn num(kind: Kind, mult: f64, na: Option<u64>) -> Num {
    Num { kind, mult, na }
}

/// A value the device has (or derives from what it has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src {
    Voltage(usize),
    Current(usize),
    TotalPower,
    PhasePower(usize),
    /// Sum of the phase currents (SunSpec `A`).
    CurrentSum,
    /// Mean of the phase voltages the meter reports (SunSpec `PhV`).
    VoltageAvg,
}

/// A SunSpec scale-factor group: its values share one `sunssf` register. The exponent is the
/// finest in `finest..=coarsest` at which every value of the group fits an int16.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SfGroup {
    pub sources: &'static [Src],
    pub finest: i16,
    pub coarsest: i16,
}

/// What one table row serves.
#[derive(Debug, PartialEq)]
pub(super) enum Cell {
    /// A value the device has.
    Value(Src, Num),
    /// `n` consecutive quantities of this format the device cannot know (frequency, energy,
    /// reactive power, …): the format's not-available pattern, else 0.
    Absent(Num, u16),
    /// Fixed registers.
    Words(&'static [u16]),
    /// ASCII text in `n` registers, two characters a register, NUL-padded (SunSpec string).
    Text(&'static str, u16),
    /// A SunSpec int16 value scaled by its group's scale factor.
    Scaled(Src, &'static SfGroup),
    /// The SunSpec scale factor (`sunssf`, int16 exponent of ten) of a group.
    ScaleFactor(&'static SfGroup),
}

impl Cell {
    /// Registers taken.
    pub(super) fn words(&self) -> u16 {
        match self {
            Cell::Value(_, n) => n.kind.words(),
            Cell::Absent(n, count) => n.kind.words().saturating_mul(*count),
            Cell::Words(w) => u16::try_from(w.len()).unwrap_or(u16::MAX),
            Cell::Text(_, n) => *n,
            Cell::Scaled(..) | Cell::ScaleFactor(_) => 1,
        }
    }
}

/// A template's register map.
pub(super) struct Layout {
    /// Readable address blocks (inclusive); addresses inside a block no row covers read 0.
    pub blocks: &'static [(u16, u16)],
    pub order: WordOrder,
    pub cells: &'static [(u16, Cell)],
}

use Cell::*;
use Kind::*;
use Src::*;

// --- Phoenix Contact EMPro (MB-05, MB-06, MB-09) ---------------------------------------------

const FLOAT: Num = num(Kind::F32, 1.0, None);

pub(super) const EMPRO: Layout = Layout {
    blocks: &[(0x8000, 0x803F), (0x8100, 0x8107)],
    order: WordOrder::Cdab,
    cells: &[
        (0x8006, Value(Voltage(0), FLOAT)),
        (0x8008, Value(Voltage(1), FLOAT)),
        (0x800A, Value(Voltage(2), FLOAT)),
        (0x800E, Value(Current(0), FLOAT)),
        (0x8010, Value(Current(1), FLOAT)),
        (0x8012, Value(Current(2), FLOAT)),
        (0x8016, Value(TotalPower, FLOAT)),
        (0x801E, Value(PhasePower(0), FLOAT)),
        (0x8020, Value(PhasePower(1), FLOAT)),
        (0x8022, Value(PhasePower(2), FLOAT)),
    ],
};

// --- Eastron SDM630 (MB-12) --------------------------------------------------------------------

pub(super) const SDM630: Layout = Layout {
    blocks: &[(0x0000, 0x004F)],
    order: WordOrder::Abcd,
    cells: &[
        (0x0000, Value(Voltage(0), FLOAT)),
        (0x0002, Value(Voltage(1), FLOAT)),
        (0x0004, Value(Voltage(2), FLOAT)),
        (0x0006, Value(Current(0), FLOAT)),
        (0x0008, Value(Current(1), FLOAT)),
        (0x000A, Value(Current(2), FLOAT)),
        (0x000C, Value(PhasePower(0), FLOAT)),
        (0x000E, Value(PhasePower(1), FLOAT)),
        (0x0010, Value(PhasePower(2), FLOAT)),
        (0x0034, Value(TotalPower, FLOAT)),
    ],
};

// --- Eastron SDM72D-M (v2 map; v1 defines only 0x0034 and the energies) ----------------------

pub(super) const SDM72: Layout = Layout {
    blocks: &[(0x0000, 0x004F), (0x0156, 0x0159)],
    order: WordOrder::Abcd,
    cells: &[
        (0x0000, Value(Voltage(0), FLOAT)),
        (0x0002, Value(Voltage(1), FLOAT)),
        (0x0004, Value(Voltage(2), FLOAT)),
        (0x0006, Value(Current(0), FLOAT)),
        (0x0008, Value(Current(1), FLOAT)),
        (0x000A, Value(Current(2), FLOAT)),
        (0x000C, Value(PhasePower(0), FLOAT)),
        (0x000E, Value(PhasePower(1), FLOAT)),
        (0x0010, Value(PhasePower(2), FLOAT)),
        (0x0012, Absent(FLOAT, 9)), // VA, var, PF per phase
        (0x0034, Value(TotalPower, FLOAT)),
        (0x0038, Absent(FLOAT, 1)), // total VA
        (0x003C, Absent(FLOAT, 2)), // total var, PF
        (0x0046, Absent(FLOAT, 3)), // Hz, import kWh, export kWh
        (0x0156, Absent(FLOAT, 2)), // total kWh, total kvarh
    ],
};

// --- Chint DTSU666 (Float32 ABCD holding registers; register = value / unit) ------------------

const DTSU_V: Num = num(Kind::F32, 10.0, None); // 0.1 V
const DTSU_A: Num = num(Kind::F32, 1000.0, None); // 0.001 A
const DTSU_W: Num = num(Kind::F32, 10.0, None); // 0.1 W

pub(super) const DTSU666: Layout = Layout {
    blocks: &[(0x101E, 0x1029), (0x2000, 0x2045)],
    order: WordOrder::Abcd,
    cells: &[
        (0x101E, Absent(FLOAT, 1)),  // ImpEp, kWh
        (0x1028, Absent(FLOAT, 1)),  // ExpEp, kWh
        (0x2000, Absent(DTSU_V, 3)), // Uab, Ubc, Uca (line to line)
        (0x2006, Value(Voltage(0), DTSU_V)),
        (0x2008, Value(Voltage(1), DTSU_V)),
        (0x200A, Value(Voltage(2), DTSU_V)),
        (0x200C, Value(Current(0), DTSU_A)),
        (0x200E, Value(Current(1), DTSU_A)),
        (0x2010, Value(Current(2), DTSU_A)),
        (0x2012, Value(TotalPower, DTSU_W)),
        (0x2014, Value(PhasePower(0), DTSU_W)),
        (0x2016, Value(PhasePower(1), DTSU_W)),
        (0x2018, Value(PhasePower(2), DTSU_W)),
        (0x201A, Absent(DTSU_W, 4)), // Qt, Qa, Qb, Qc
        (0x202A, Absent(FLOAT, 4)),  // PFt, PFa, PFb, PFc (×0.001)
        (0x2044, Absent(FLOAT, 1)),  // Freq (×0.01 Hz)
    ],
};

// --- ABB B21 / B23 (int high word first; all-ones / 0x7FFF… = not available) ------------------

const ABB_V: Num = num(U32, 10.0, Some(0xFFFF_FFFF)); // 0.1 V
const ABB_A: Num = num(U32, 100.0, Some(0xFFFF_FFFF)); // 0.01 A
const ABB_W: Num = num(I32, 100.0, Some(0x7FFF_FFFF)); // 0.01 W
const ABB_U64: Num = num(U64, 100.0, Some(u64::MAX)); // 0.01 kWh
const ABB_U16: Num = num(U16, 100.0, Some(0xFFFF)); // 0.01 Hz
const ABB_I16: Num = num(I16, 1000.0, Some(0x7FFF)); // 0.001 (power factor)

pub(super) const ABB_B23: Layout = Layout {
    blocks: &[(0x5000, 0x5007), (0x5460, 0x5477), (0x5B00, 0x5B3D)],
    order: WordOrder::Abcd,
    cells: &[
        (0x5000, Absent(ABB_U64, 2)), // active import, export kWh
        (0x5460, Absent(ABB_U64, 6)), // import L1..L3, export L1..L3 kWh
        (0x5B00, Value(Voltage(0), ABB_V)),
        (0x5B02, Value(Voltage(1), ABB_V)),
        (0x5B04, Value(Voltage(2), ABB_V)),
        (0x5B0C, Value(Current(0), ABB_A)),
        (0x5B0E, Value(Current(1), ABB_A)),
        (0x5B10, Value(Current(2), ABB_A)),
        (0x5B14, Value(TotalPower, ABB_W)),
        (0x5B16, Value(PhasePower(0), ABB_W)),
        (0x5B18, Value(PhasePower(1), ABB_W)),
        (0x5B1A, Value(PhasePower(2), ABB_W)),
        (0x5B2C, Absent(ABB_U16, 1)), // frequency
        (0x5B3A, Absent(ABB_I16, 4)), // power factor total, L1..L3
    ],
};

// --- Carlo Gavazzi EM24 (int32 least significant word first, input registers) ---------------

const EM24_V: Num = num(I32, 10.0, None); // 0.1 V
const EM24_A: Num = num(I32, 1000.0, None); // 0.001 A
const EM24_W: Num = num(I32, 10.0, None); // 0.1 W
const EM24_I16: Num = num(I16, 1.0, None);

pub(super) const EM24: Layout = Layout {
    blocks: &[(0x0000, 0x005D)],
    order: WordOrder::Cdab,
    cells: &[
        (0x0000, Value(Voltage(0), EM24_V)),
        (0x0002, Value(Voltage(1), EM24_V)),
        (0x0004, Value(Voltage(2), EM24_V)),
        (0x0006, Absent(EM24_V, 3)), // V L1-L2, L2-L3, L3-L1
        (0x000C, Value(Current(0), EM24_A)),
        (0x000E, Value(Current(1), EM24_A)),
        (0x0010, Value(Current(2), EM24_A)),
        (0x0012, Value(PhasePower(0), EM24_W)),
        (0x0014, Value(PhasePower(1), EM24_W)),
        (0x0016, Value(PhasePower(2), EM24_W)),
        (0x0028, Value(TotalPower, EM24_W)),
        (0x0032, Absent(EM24_I16, 4)), // PF L1..L3, PF sys (×0.001)
        (0x0037, Absent(EM24_I16, 1)), // Hz (×0.1)
        (0x0042, Absent(EM24_W, 1)),   // kWh (+) total (×0.1)
        (0x0046, Absent(EM24_W, 3)),   // kWh (+) L1..L3 (×0.1)
        (0x005C, Absent(EM24_W, 1)),   // kWh (−) total (×0.1)
    ],
};

// --- Socomec Countis E3x/E4x (JBUS common table, int MSW first, holding registers) -----------

const SOCO_V: Num = num(U32, 100.0, None); // 0.01 V
const SOCO_A: Num = num(U32, 1000.0, None); // mA
const SOCO_W: Num = num(I32, 0.1, None); // 0.01 kW = 10 W
const SOCO_U32: Num = num(U32, 1.0, None);

pub(super) const SOCOMEC: Layout = Layout {
    blocks: &[(0xC550, 0xC58F), (0xC650, 0xC65B)],
    order: WordOrder::Abcd,
    cells: &[
        (0xC550, Absent(SOCO_U32, 1)), // hour meter (h/100)
        (0xC552, Absent(SOCO_V, 3)),   // U12, U23, U31
        (0xC558, Value(Voltage(0), SOCO_V)),
        (0xC55A, Value(Voltage(1), SOCO_V)),
        (0xC55C, Value(Voltage(2), SOCO_V)),
        (0xC55E, Absent(SOCO_U32, 1)), // frequency (Hz/100)
        (0xC560, Value(Current(0), SOCO_A)),
        (0xC562, Value(Current(1), SOCO_A)),
        (0xC564, Value(Current(2), SOCO_A)),
        (0xC566, Absent(SOCO_U32, 1)), // neutral current (mA)
        (0xC568, Value(TotalPower, SOCO_W)),
        (0xC56A, Absent(SOCO_W, 3)), // Σ Q, Σ S, Σ PF
        (0xC570, Value(PhasePower(0), SOCO_W)),
        (0xC572, Value(PhasePower(1), SOCO_W)),
        (0xC574, Value(PhasePower(2), SOCO_W)),
        (0xC576, Absent(SOCO_W, 9)),   // Q, S, PF per phase
        (0xC588, Absent(SOCO_U32, 3)), // I sys, U sys (L-L), V sys (L-N)
        (0xC650, Absent(SOCO_U32, 6)), // hour meter, kWh+, kvarh+, kVAh, kWh−, kvarh−
    ],
};

// --- SunSpec model 1 + 203 at 40000 (int16 with scale factors) --------------------------------

/// int16 not implemented (also `sunssf`).
const SS_I16: Num = num(I16, 1.0, Some(0x8000));
/// acc32 not accumulated.
const SS_ACC32: Num = num(U32, 1.0, Some(0));

pub(super) static SS_AMPS: SfGroup = SfGroup {
    sources: &[CurrentSum, Current(0), Current(1), Current(2)],
    finest: -2,
    coarsest: 2,
};
pub(super) static SS_VOLTS: SfGroup = SfGroup {
    sources: &[VoltageAvg, Voltage(0), Voltage(1), Voltage(2)],
    finest: -1,
    coarsest: 2,
};
pub(super) static SS_WATTS: SfGroup = SfGroup {
    sources: &[TotalPower, PhasePower(0), PhasePower(1), PhasePower(2)],
    finest: 0,
    coarsest: 4,
};

pub(super) const SUNSPEC: Layout = Layout {
    blocks: &[(40000, 40178)],
    order: WordOrder::Abcd,
    cells: &[
        (40000, Words(&[0x5375, 0x6E53])), // "SunS"
        // Common model 1 (L 66): Mn, Md, Opt, Vr, SN, DA, Pad.
        (40002, Words(&[1, 66])),
        (40004, Text("Xemex", 16)),
        (40020, Text("Smart Connect", 16)),
        (40036, Text("", 8)),         // Opt: not implemented
        (40044, Text("", 8)),         // Vr: not implemented
        (40052, Text("", 16)),        // SN: not implemented (no serial reaches the register map)
        (40068, Words(&[1, 0x8000])), // DA 1, Pad
        // Model 203 (L 105): wye-connect three-phase meter.
        (40070, Words(&[203, 105])),
        (40072, Scaled(CurrentSum, &SS_AMPS)),
        (40073, Scaled(Current(0), &SS_AMPS)),
        (40074, Scaled(Current(1), &SS_AMPS)),
        (40075, Scaled(Current(2), &SS_AMPS)),
        (40076, ScaleFactor(&SS_AMPS)),
        (40077, Scaled(VoltageAvg, &SS_VOLTS)),
        (40078, Scaled(Voltage(0), &SS_VOLTS)),
        (40079, Scaled(Voltage(1), &SS_VOLTS)),
        (40080, Scaled(Voltage(2), &SS_VOLTS)),
        (40081, Absent(SS_I16, 4)), // PPV, PPVphAB, PPVphBC, PPVphCA
        (40085, ScaleFactor(&SS_VOLTS)),
        (40086, Absent(SS_I16, 2)), // Hz, Hz_SF
        (40088, Scaled(TotalPower, &SS_WATTS)),
        (40089, Scaled(PhasePower(0), &SS_WATTS)),
        (40090, Scaled(PhasePower(1), &SS_WATTS)),
        (40091, Scaled(PhasePower(2), &SS_WATTS)),
        (40092, ScaleFactor(&SS_WATTS)),
        (40093, Absent(SS_I16, 15)), // VA.., VA_SF, VAR.., VAR_SF, PF.., PF_SF
        (40108, Absent(SS_ACC32, 8)), // TotWhExp(+phases), TotWhImp(+phases)
        (40124, Words(&[0])),        // TotWh_SF
        (40125, Absent(SS_ACC32, 8)), // TotVAhExp.., TotVAhImp..
        (40141, Absent(SS_I16, 1)),  // TotVAh_SF
        (40142, Absent(SS_ACC32, 16)), // TotVArhImpQ1.., Q2.., TotVArhExpQ3.., Q4..
        (40174, Absent(SS_I16, 1)),  // TotVArh_SF
        (40175, Words(&[0, 0])),     // Evt: no events
        (40177, Words(&[0xFFFF, 0])), // end model
    ],
};
