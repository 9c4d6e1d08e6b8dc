//! One simulated day of an SMR 5.0 three-phase meter (86 400 telegrams, one per second) through
//! the simulator's pipeline: generate (household values at wire resolution) → encode (the
//! telegram bytes) → device (framer, CRC + parse, acceptance rules, a new register snapshot
//! per telegram).
//! `cargo bench --bench day`.
//!
//! Before criterion runs, the full day is timed a few times and the best run is printed with
//! its speed-up over real time (target, issue #19: a day in ≤ 0.2 s, ≥ 432 000×). Criterion then
//! measures every prefix of the pipeline (`generate`, `generate+encode`, …), so each stage's
//! share is the difference between consecutive lines; `thrpt:` is telegrams/s.
//!
//! Then a whole year runs through one pipeline (about a minute; `SC_BENCH_SKIP_YEAR=1` skips
//! it) and prints its time against the ≤ 75 s target.
//!
//! Adding a stage (e.g. the device): implement [`Stage`] and add ONE line to [`pipeline`].

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{Device, DeviceConfig, Effect, Event as DevEvent, Variant};
use smart_connect_sim::protocol::dsmr::DsmrRegisters;
use smart_connect_sim::protocol::{KindEncoder, MeterKind, Reading};
use smart_connect_sim::sim::clock::Millis;
use smart_connect_sim::sim::generator::{Load, LoadComponent, SyntheticMeter};
use smart_connect_sim::time::at;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Telegrams in a day of SMR 5.0.
const DAY: usize = 86_400;
/// 2026-04-15T00:00:00+02:00: a whole spring day, night → PV at noon → evening EV.
const START: Millis = 1_776_204_000_000;

/// One telegram on its way through the pipeline.
#[derive(Default)]
struct Slot {
    at: Millis,
    reading: Option<Reading>,
    registers: DsmrRegisters,
    bytes: Vec<u8>,
    parsed: Vec<Reading>,
    /// Register snapshots the device produced for this telegram.
    snapshots: usize,
}

/// A step of the pipeline, run once per telegram.
trait Stage {
    fn name(&self) -> &'static str;
    fn run(&mut self, slot: &mut Slot);
}

/// The household's values at the next telegram time (quantised `Reading`) and the registers
/// beyond them (tariff indicator, M-Bus capture time).
struct Generate(SyntheticMeter);

impl Stage for Generate {
    fn name(&self) -> &'static str {
        "generate"
    }
    fn run(&mut self, slot: &mut Slot) {
        let (at, reading) = self.0.next_reading();
        slot.at = at;
        slot.reading = Some(reading);
        slot.registers.clone_from(self.0.registers());
    }
}

/// The telegram bytes of the reading, from the meter's reusable encoder (as `generate`).
struct Encode(KindEncoder);

impl Stage for Encode {
    fn name(&self) -> &'static str {
        "encode"
    }
    fn run(&mut self, slot: &mut Slot) {
        if let Some(r) = &slot.reading {
            slot.bytes.clear();
            self.0.encode_into(r, &slot.registers, &mut slot.bytes);
        }
    }
}

/// The whole virtual device (booted before the day starts): framer, parser, acceptance
/// rules, register snapshot, LED and timers, driven at each telegram's instant.
struct DeviceStage(Device);

impl DeviceStage {
    fn new() -> Self {
        let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
        d.handle(
            DevEvent::Power(PowerInputs {
                usb: false,
                p1_supply: true,
            }),
            at(START - 10_000),
        );
        d.run_until_running(at(START - 10_000));
        DeviceStage(d)
    }
}

impl Stage for DeviceStage {
    fn name(&self) -> &'static str {
        "device"
    }
    fn run(&mut self, slot: &mut Slot) {
        let bytes = std::mem::take(&mut slot.bytes);
        for e in self.0.handle(DevEvent::SerialBytes(bytes), at(slot.at)) {
            match e {
                Effect::Measurement(r) => slot.parsed.push(*r),
                Effect::RegistersChanged(_) => slot.snapshots += 1,
                _ => {}
            }
        }
    }
}

fn household() -> Load {
    Load::Household(vec![
        LoadComponent::Base {
            watts: 400.0,
            noise: 0.15,
        },
        LoadComponent::PvWindow {
            peak_watts: 4200.0,
            sunrise_min: 6 * 60 + 45,
            sunset_min: 20 * 60 + 30,
        },
        LoadComponent::Ev {
            start_min: 18 * 60,
            amps: 16.0,
            phases: 3,
            minutes: 150,
        },
        LoadComponent::Imbalance {
            l1: 1.3,
            l2: 1.0,
            l3: 0.7,
        },
    ])
}

/// The whole pipeline, in order. Add a stage with one line here.
fn pipeline() -> Vec<Box<dyn Stage>> {
    let kind = MeterKind::from_name("smr5").expect("smr5");
    vec![
        Box::new(Generate(SyntheticMeter::new(kind, household(), 42, START))),
        Box::new(Encode(kind.encoder())),
        Box::new(DeviceStage::new()),
    ]
}

fn label(stages: &[Box<dyn Stage>]) -> String {
    stages
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join("+")
}

/// Run a day through `stages`; returns the telegrams parsed (0 when parsing is not in them).
fn run_day(stages: &mut [Box<dyn Stage>], mut check: impl FnMut(&Slot)) -> usize {
    let mut parsed = 0;
    let mut slot = Slot::default();
    for _ in 0..DAY {
        slot.parsed.clear();
        slot.snapshots = 0;
        for s in stages.iter_mut() {
            s.run(&mut slot);
        }
        parsed += slot.parsed.len();
        check(&slot);
        black_box(&slot);
    }
    parsed
}

/// Outside the timing: the day has every telegram, each parsed back to its reading, spread
/// over 24 h, with export at noon and the EV in the evening.
fn sanity() {
    let (mut export, mut ev, mut last_at) = (false, false, 0);
    let parsed = run_day(&mut pipeline(), |slot| {
        let r = slot.reading.as_ref().unwrap();
        assert_eq!(slot.parsed.len(), 1, "one telegram per second");
        assert_eq!(&slot.parsed[0], r, "parse(encode(r)) == r");
        assert_eq!(slot.snapshots, 1, "one register snapshot per telegram");
        export |= r.active_power_w.unwrap() < -1000.0;
        ev |= r.active_power_w.unwrap() > 11_000.0;
        last_at = slot.at;
    });
    assert_eq!(parsed, DAY);
    assert_eq!(last_at, START + (DAY as i64 - 1) * 1000);
    assert!(export && ev, "export {export}, ev {ev}");
}

/// Time whole days (best of `runs`) and print the speed-up over real time.
fn report(runs: usize) {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let mut stages = pipeline();
        let t = Instant::now();
        let n = run_day(&mut stages, |_| {});
        best = best.min(t.elapsed());
        assert_eq!(n, DAY);
    }
    let speedup = 86_400.0 / best.as_secs_f64();
    println!(
        "one simulated SMR5 day ({DAY} telegrams, {}): {:.1} ms, {:.2} µs/telegram, \
         speed-up {:.0}x real time (target ≤ 200 ms, ≥ 432000x){}",
        label(&pipeline()),
        best.as_secs_f64() * 1000.0,
        best.as_secs_f64() * 1e6 / DAY as f64,
        speedup,
        if speedup >= 432_000.0 {
            ""
        } else {
            "  ** BELOW TARGET **"
        }
    );
}

/// A year of SMR 5.0 meter time (365 days, 31.5 million telegrams) through one pipeline on
/// one thread: the time against the target (issue #19: ≤ 75 s single core).
fn report_year() {
    let mut stages = pipeline();
    let t = Instant::now();
    let mut n = 0;
    for _ in 0..365 {
        n += run_day(&mut stages, |_| {});
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(n, 365 * DAY);
    println!(
        "one simulated SMR5 year ({n} telegrams, {}, one thread): {s:.1} s \
         (target ≤ 75 s){}",
        label(&stages),
        if s <= 75.0 {
            ""
        } else {
            "  ** BELOW TARGET **"
        }
    );
}

fn benches(c: &mut Criterion) {
    sanity();
    report(5);
    if std::env::var_os("SC_BENCH_SKIP_YEAR").is_none() {
        report_year();
    }
    let mut g = c.benchmark_group("day_smr5");
    g.throughput(Throughput::Elements(DAY as u64));
    let all = pipeline().len();
    for upto in 1..=all {
        let name = label(&pipeline()[..upto]);
        g.bench_function(name, |b| {
            b.iter_batched(
                pipeline,
                |mut stages| run_day(&mut stages[..upto], |_| {}),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    // Each iteration is a whole day (~0.1–1 s): few samples, enough time for them.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
}

criterion_group! {
    name = day;
    config = config();
    targets = benches
}
criterion_main!(day);
