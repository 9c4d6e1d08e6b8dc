//! Parser throughput on real captures: `cargo bench --bench parse` (about a minute and a half).
//!
//! Every benchmark reports both telegrams/s and bytes/s (`Throughput::ElementsAndBytes`): the
//! `thrpt:` lines of criterion's output are `Kelem/s` (telegrams) then `MiB/s`. The `time:`
//! line is per iteration; every iteration handles one telegram, except in `stream_60s`
//! (60 telegrams per iteration: divide by 60 for the time per telegram).
//!
//! Groups:
//! - `smr5_3ph`: Iskra AM550T SMR 5.0 three-phase (778 bytes).
//!   - `framer_parse`: the device path, the headline number: `Framer` (P1 mode) + `Frame::parse`
//!     (CRC check + full parse into a `Reading`).
//!   - `dsmr_parse`: `dsmr::parse` alone on the telegram bytes.
//!   - `dsmr5_crate`: the `dsmr5` crate on the same bytes, for comparison with `dsmr_parse`.
//!   - `dsmr5_crate_reader`: the `dsmr5` crate's own framer (`Reader`) + the same, for
//!     comparison with `framer_parse`.
//! - `emucs`: Fluvius e-MUCS three-phase with gas and water (1059 bytes), framer + parse.
//! - `tic_standard_tri`: Linky standard three-phase Tempo (1264 bytes), framer (TIC) + parse.
//! - `stream_60s`: 60 s of SMR 5.0 telegrams (46 680 bytes, 60 telegrams per iteration), pushed
//!   as 64-byte reads like a serial port delivers them (`chunks64`) vs one push (`one_push`),
//!   and the framer alone on 64-byte reads (`chunks64_framer_only`).

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use smart_connect_sim::protocol::framer::{Event, Framer, FramerMode};
use smart_connect_sim::protocol::{dsmr, ParseOptions, Telegram};
use std::hint::black_box;
use std::time::Duration;

const SMR5: &[u8] = include_bytes!("../fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt");
const EMUCS: &[u8] = include_bytes!("../fixtures/dsmr/ndokter-fluvius-50217-3ph-gas-water.txt");
const TIC_STD_TRI: &[u8] = include_bytes!("../fixtures/tic/standard-tri-tempo.txt");
const STREAM_60S: &[u8] = include_bytes!("../fixtures/dsmr/nb-stream-iskra-am550t-60s.txt");

/// A long-lived framer (as on the device) fed one read at a time; every frame is parsed.
struct Pipeline {
    framer: Framer,
    events: Vec<Event>,
}

impl Pipeline {
    fn new(mode: FramerMode) -> Self {
        Pipeline {
            framer: Framer::new(mode),
            events: Vec::with_capacity(4),
        }
    }

    /// Push `bytes` in reads of `chunk` bytes; returns how many telegrams parsed successfully.
    fn run(&mut self, bytes: &[u8], chunk: usize, mut sink: impl FnMut(Telegram)) -> usize {
        let mut ok = 0;
        for read in bytes.chunks(chunk) {
            self.framer.push(read, &mut self.events);
            for ev in self.events.drain(..) {
                if let Event::Frame(f) = ev {
                    if let Ok(t) = f.parse(ParseOptions::default()) {
                        sink(t);
                        ok += 1;
                    }
                }
            }
        }
        ok
    }

    /// Push `bytes` in reads of `chunk` bytes without parsing; returns the frames found.
    fn frame_only(&mut self, bytes: &[u8], chunk: usize) -> usize {
        let mut frames = 0;
        for read in bytes.chunks(chunk) {
            self.framer.push(read, &mut self.events);
            for ev in self.events.drain(..) {
                if let Event::Frame(f) = ev {
                    frames += 1;
                    black_box(f);
                }
            }
        }
        frames
    }
}

/// The `dsmr5` crate's view of the values our `Reading` holds.
#[derive(Default, Debug)]
struct Dsmr5Values {
    version: Option<[u8; 1]>,
    timestamp: Option<dsmr5::types::TST>,
    meter_id: Option<String>,
    energy: [[Option<f64>; 2]; 2],
    power_delivered: Option<f64>,
    power_received: Option<f64>,
    voltage: [Option<f64>; 3],
    current: [Option<u64>; 3],
    power_plus: [Option<f64>; 3],
    power_neg: [Option<f64>; 3],
}

/// The `dsmr5` crate doing the work `dsmr::parse` does on an SMR 5.0 telegram:
/// - copy the telegram into its fixed `Readout { buffer: [u8; 2048] }` (its API's input type;
///   its own `Reader` fills it the same way);
/// - `Readout::to_telegram`: UTF-8 validation of the 2048-byte buffer, `!` search, CRC16/ARC
///   check, header split;
/// - iterate every COSEM object (`OBIS::parse` on each line: it fails on an unknown OBIS code,
///   as ours fails on a malformed line) and keep the values our `Reading` keeps: version,
///   timestamp (fields only: the crate has no local-time → UTC conversion, ours does it with
///   chrono-tz), equipment identifier hex-decoded into a `String` (as ours), energy registers
///   T1/T2 import/export, total power delivered/received, and per phase voltage, current,
///   active power +/−.
///
/// It does less than ours in three ways: no UTC conversion, no header/version strings
/// allocated, no e-MUCS/M-Bus handling; and the numbers it reads are fixed-width
/// (`UFixedDouble::parse(body, 5, 3)`), where ours takes any decimal and checks the unit.
fn dsmr5_readout(bytes: &[u8]) -> dsmr5::Readout {
    let mut readout = dsmr5::Readout { buffer: [0; 2048] };
    readout.buffer[..bytes.len()].copy_from_slice(bytes);
    readout
}

fn dsmr5_values(readout: &dsmr5::Readout) -> Dsmr5Values {
    use dsmr5::OBIS;
    let telegram = readout.to_telegram().expect("dsmr5: telegram");
    let mut v = Dsmr5Values::default();
    for obj in telegram.objects() {
        match obj.expect("dsmr5: object") {
            OBIS::Version(s) => {
                let mut o = s.as_octets();
                v.version = o.next().and_then(Result::ok).map(|b| [b]);
            }
            OBIS::DateTime(tst) => v.timestamp = Some(tst),
            OBIS::EquipmentIdentifier(s) => {
                v.meter_id = s
                    .as_octets()
                    .map(|b| b.ok().map(char::from))
                    .collect::<Option<String>>();
            }
            OBIS::MeterReadingTo(t, mr) => v.energy[0][t as usize] = Some(f64::from(&mr)),
            OBIS::MeterReadingBy(t, mr) => v.energy[1][t as usize] = Some(f64::from(&mr)),
            OBIS::PowerDelivered(p) => v.power_delivered = Some(f64::from(&p)),
            OBIS::PowerReceived(p) => v.power_received = Some(f64::from(&p)),
            OBIS::InstantaneousVoltage(l, x) => v.voltage[l as usize] = Some(f64::from(&x)),
            OBIS::InstantaneousCurrent(l, x) => v.current[l as usize] = Some(x.0),
            OBIS::InstantaneousActivePowerPlus(l, x) => {
                v.power_plus[l as usize] = Some(f64::from(&x))
            }
            OBIS::InstantaneousActivePowerNeg(l, x) => {
                v.power_neg[l as usize] = Some(f64::from(&x))
            }
            _ => {}
        }
    }
    v
}

/// The `dsmr5` crate's framer (`Reader` over a byte iterator) + the same parse.
fn dsmr5_reader(bytes: &[u8]) -> Vec<Dsmr5Values> {
    dsmr5::Reader::new(bytes.iter().map(|&b| Ok::<u8, ()>(b)))
        .map(|r| dsmr5_values(&r.expect("dsmr5: reader")))
        .collect()
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    telegrams: u64,
    bytes: usize,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::ElementsAndBytes {
        elements: telegrams,
        bytes: bytes as u64,
    });
    g
}

/// Check once, outside the timing, that each benchmark does the work it claims.
fn sanity() {
    let one = |bytes: &[u8], mode| {
        let mut p = Pipeline::new(mode);
        let mut ts = Vec::new();
        assert_eq!(p.run(bytes, bytes.len(), |t| ts.push(t)), 1);
        assert!(p.framer.position() == bytes.len());
        ts.pop().unwrap()
    };
    let t = one(SMR5, FramerMode::P1);
    assert_eq!(t, dsmr::parse(SMR5).unwrap());
    let r = &t.reading;
    let d = &dsmr5_values(&dsmr5_readout(SMR5));
    assert!(d.timestamp.is_some() && d.version == Some([0x50]));
    assert_eq!(d.meter_id, r.meter_id);
    for p in 0..3 {
        assert_eq!(d.voltage[p].map(|x| x as f32), r.voltage_v[p]);
        assert_eq!(d.current[p].map(|x| x as f32), r.current_a[p]);
        let w = d.power_plus[p].unwrap() * 1000.0 - d.power_neg[p].unwrap() * 1000.0;
        assert_eq!(Some(w.round() as f32), r.active_power_phase_w[p]);
    }
    assert_eq!(
        d.power_delivered.map(|x| (x * 1000.0).round() as f32),
        r.power_import_w
    );
    assert_eq!(d.energy[0][0], r.energy.import_t1_kwh);
    assert_eq!(dsmr5_reader(SMR5).len(), 1);

    one(EMUCS, FramerMode::P1);
    one(TIC_STD_TRI, FramerMode::Tic);
    let mut p = Pipeline::new(FramerMode::P1);
    assert_eq!(p.run(STREAM_60S, 64, drop), 60);
    let mut events = Vec::new();
    p.framer.finish(&mut events);
    assert!(events.is_empty(), "stream_60s: {events:?}");
}

fn benches(c: &mut Criterion) {
    sanity();

    let mut g = group(c, "smr5_3ph", 1, SMR5.len());
    let mut p = Pipeline::new(FramerMode::P1);
    g.bench_function("framer_parse", |b| {
        b.iter(|| p.run(black_box(SMR5), SMR5.len(), |t| drop(black_box(t))))
    });
    g.bench_function("dsmr_parse", |b| {
        b.iter(|| dsmr::parse(black_box(SMR5)).unwrap())
    });
    g.bench_function("dsmr5_crate", |b| {
        b.iter(|| dsmr5_values(&dsmr5_readout(black_box(SMR5))))
    });
    g.bench_function("dsmr5_crate_reader", |b| {
        b.iter(|| dsmr5_reader(black_box(SMR5)))
    });
    g.finish();

    let mut g = group(c, "emucs", 1, EMUCS.len());
    let mut p = Pipeline::new(FramerMode::P1);
    g.bench_function("framer_parse", |b| {
        b.iter(|| p.run(black_box(EMUCS), EMUCS.len(), |t| drop(black_box(t))))
    });
    g.finish();

    let mut g = group(c, "tic_standard_tri", 1, TIC_STD_TRI.len());
    let mut p = Pipeline::new(FramerMode::Tic);
    g.bench_function("framer_parse", |b| {
        b.iter(|| {
            p.run(black_box(TIC_STD_TRI), TIC_STD_TRI.len(), |t| {
                drop(black_box(t))
            })
        })
    });
    g.finish();

    let mut g = group(c, "stream_60s", 60, STREAM_60S.len());
    let mut p = Pipeline::new(FramerMode::P1);
    g.bench_function("chunks64", |b| {
        b.iter(|| p.run(black_box(STREAM_60S), 64, |t| drop(black_box(t))))
    });
    g.bench_function("one_push", |b| {
        b.iter(|| {
            p.run(black_box(STREAM_60S), STREAM_60S.len(), |t| {
                drop(black_box(t))
            })
        })
    });
    g.bench_function("chunks64_framer_only", |b| {
        b.iter(|| p.frame_only(black_box(STREAM_60S), 64))
    });
    g.finish();
}

fn config() -> Criterion {
    // 10 benchmarks × (1 s warm-up + 4 s measurement + analysis) ≈ 1 minute.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(60)
}

criterion_group! {
    name = parse;
    config = config();
    targets = benches
}
criterion_main!(parse);
