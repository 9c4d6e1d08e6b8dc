//! Given-steps: the device under test and the meter wired to it.

use super::world::{DeviceWorld, MeterLine, Rewrite};
use crate::device::Variant;
use crate::protocol::dsmr::{self, DsmrKind};
use crate::protocol::tic::TicKind;
use crate::protocol::MeterKind;
use crate::sim::faults::encode_dsmr22;
use crate::sim::generator::{FixedValues, Load, SyntheticMeter};
use cucumber::gherkin::Step;
use cucumber::given;

#[given(regex = r"^a Smart Connect (P1|TIC)(?: with USB-C power)?(?: on a DHCP network)?$")]
async fn smart_connect(w: &mut DeviceWorld, variant: String) {
    w.install(if variant == "P1" {
        Variant::P1
    } else {
        Variant::Tic
    })
    .await;
    w.supply(true).await;
    w.boot().await;
}

/// Meters as scenarios name them: the kind on the wire, and what an older meter generation
/// puts there instead of our encoder's output.
pub const METERS: &[(&str, MeterKind)] = &[
    (
        "an SMR 5.0 meter",
        MeterKind::Dsmr(DsmrKind::Smr5ThreePhase),
    ),
    (
        "a single-phase SMR 5.0 meter",
        MeterKind::Dsmr(DsmrKind::Smr5OnePhase),
    ),
    ("a DSMR 4.2 meter", MeterKind::Dsmr(DsmrKind::Dsmr42)),
    ("a Belgian e-MUCS meter", MeterKind::Dsmr(DsmrKind::Emucs)),
    ("a DSMR 4.0 meter", MeterKind::Dsmr(DsmrKind::Dsmr42)),
    ("a DSMR 2.2 meter", MeterKind::Dsmr(DsmrKind::Dsmr42)),
    (
        "a Linky in historic mode",
        MeterKind::Tic(TicKind::HistoricMono),
    ),
    (
        "a three-phase Linky in historic mode",
        MeterKind::Tic(TicKind::HistoricTri),
    ),
    (
        "a Linky in standard mode",
        MeterKind::Tic(TicKind::StandardMono),
    ),
    (
        "a three-phase Linky in standard mode",
        MeterKind::Tic(TicKind::StandardTri),
    ),
    (
        "a producer Linky in standard mode",
        MeterKind::Tic(TicKind::StandardMonoProducer),
    ),
    (
        "a three-phase producer Linky in standard mode",
        MeterKind::Tic(TicKind::StandardTriProducer),
    ),
];

/// A meter as a scenario names it, and the rewrite that turns our encoder's output into it.
fn meter_choice(phrase: &str) -> (MeterKind, Option<Rewrite>) {
    let dsmr40: Rewrite = |_, b| dsmr::with_version(b, "40");
    let dsmr22: Rewrite = |r, _| encode_dsmr22(r);
    let kind = METERS
        .iter()
        .find(|(p, _)| *p == phrase)
        .map(|(_, k)| *k)
        .unwrap_or_else(|| panic!("unknown meter {phrase:?}"));
    let rewrite = match phrase {
        "a DSMR 4.0 meter" => Some(dsmr40),
        "a DSMR 2.2 meter" => Some(dsmr22),
        _ => None,
    };
    (kind, rewrite)
}

/// Power in watts from a number and `W` / `kW`.
pub fn watts(n: f64, unit: &str) -> f64 {
    if unit == "kW" {
        n * 1000.0
    } else {
        n
    }
}

/// 230 V on every phase the meter has, `w` watts (and its current) on one phase, 0 elsewhere.
pub fn single_load(kind: MeterKind, phase: usize, w: f64) -> FixedValues {
    let mut f = FixedValues {
        voltage_v: [None; 3],
        current_a: [None; 3],
        power_w: [None; 3],
    };
    for p in 0..kind.phases() {
        f.voltage_v[p] = Some(230.0);
        f.current_a[p] = Some(0.0);
        f.power_w[p] = Some(0.0);
    }
    f.current_a[phase] = Some((w.abs() / 230.0).round());
    f.power_w[phase] = Some(w);
    f
}

pub fn phase_index(l: &str) -> usize {
    match l {
        "L1" => 0,
        "L2" => 1,
        "L3" => 2,
        other => panic!("unknown phase {other:?} (L1, L2 or L3)"),
    }
}

async fn connect(w: &mut DeviceWorld, phrase: &str, values: Option<FixedValues>, sending: bool) {
    let (kind, rewrite) = meter_choice(phrase);
    let values = values.unwrap_or_else(|| single_load(kind, 0, 0.0));
    let meter = SyntheticMeter::new(kind, Load::Fixed(values), w.seed, w.now());
    w.line = Some(MeterLine {
        meter,
        sending,
        every: None,
        rewrite,
    });
    // An SMR 5 meter also supplies P1 power from now on (PWR-01).
    let usb = w.usb;
    w.supply(usb).await;
}

#[given(regex = r"^(an? .+?) drawing ([\d.]+) (W|kW) on (L[123])$")]
async fn meter_drawing(w: &mut DeviceWorld, phrase: String, n: f64, unit: String, phase: String) {
    let (kind, _) = meter_choice(&phrase);
    connect(
        w,
        &phrase,
        Some(single_load(kind, phase_index(&phase), watts(n, &unit))),
        true,
    )
    .await;
}

#[given(regex = r"^(an? .+?) injecting (\d+) VA$")]
async fn meter_injecting(w: &mut DeviceWorld, phrase: String, va: f64) {
    let (kind, _) = meter_choice(&phrase);
    connect(w, &phrase, Some(single_load(kind, 0, -va)), true).await;
}

#[given(regex = r"^(an? .+?) that is not yet sending$")]
async fn meter_silent(w: &mut DeviceWorld, phrase: String) {
    connect(w, &phrase, None, false).await;
}

#[given(regex = r"^(an? (?:DSMR 2\.2|DSMR 4\.0) meter)$")]
async fn legacy_meter(w: &mut DeviceWorld, phrase: String) {
    let (kind, _) = meter_choice(&phrase);
    connect(w, &phrase, Some(single_load(kind, 0, 1000.0)), true).await;
}

/// `230.0 V` → 230.0 (the unit is for the reader).
fn number(cell: &str) -> f64 {
    let n = cell.split_whitespace().next().unwrap_or("");
    n.parse()
        .unwrap_or_else(|_| panic!("{cell:?} is not a number with a unit"))
}

#[given(regex = r"^(an? .+?) reporting$")]
async fn meter_reporting(w: &mut DeviceWorld, phrase: String, step: &Step) {
    let table = step
        .table
        .as_ref()
        .expect("a table: phase | voltage | current | power");
    let mut f = FixedValues {
        voltage_v: [None; 3],
        current_a: [None; 3],
        power_w: [None; 3],
    };
    let (kind, _) = meter_choice(&phrase);
    for p in 0..kind.phases() {
        f.voltage_v[p] = Some(230.0);
        f.current_a[p] = Some(0.0);
        f.power_w[p] = Some(0.0);
    }
    for row in table.rows.iter().skip(1) {
        let p = phase_index(&row[0]);
        f.voltage_v[p] = Some(number(&row[1]));
        f.current_a[p] = Some(number(&row[2]));
        f.power_w[p] = Some(number(&row[3]));
    }
    connect(w, &phrase, Some(f), true).await;
}
