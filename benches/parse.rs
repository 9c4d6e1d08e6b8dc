//! Parser throughput on real captures: `cargo bench --bench parse` (about a minute and a half).
//!
//! First line printed: SMR5 framer + parse against the `dsmr5` crate, best of 7 interleaved
//! rounds, with the ratio beside its target (≥ 4×, issue #19). Wall-clock figures swing on a
//! shared VM; `cargo bench --bench instructions` counts instructions instead.
//!
//! Every benchmark reports both telegrams/s and bytes/s (`Throughput::ElementsAndBytes`): the
//! `thrpt:` lines of criterion's output are `Kelem/s` (telegrams) then `MiB/s`. The `time:`
//! line is per iteration; every iteration handles one telegram, except in `stream_60s`
//! (60 telegrams per iteration: divide by 60 for the time per telegram).
//!
//! Groups:
//! - `smr5_3ph`: Iskra AM550T SMR 5.0 three-phase (778 bytes).
//!   - `framer_parse`: the device path, the headline number: `Framer` (P1 mode) +
//!     `Frame::parse_into` a reused telegram, the frame buffer recycled and the `Reading` moved
//!     out, as the device's meter input does (CRC check + full parse; see `common::Pipeline`).
//!   - `dsmr_parse`: `dsmr::parse` alone on the telegram bytes.
//!   - `dsmr5_crate`: the `dsmr5` crate on the same bytes, for comparison with `dsmr_parse`.
//!   - `dsmr5_crate_reader`: the `dsmr5` crate's own framer (`Reader`) + the same, for
//!     comparison with `framer_parse`.
//! - `emucs`: Fluvius e-MUCS three-phase with gas and water (1059 bytes), framer + parse.
//! - `tic_standard_tri`: Linky standard three-phase Tempo (1264 bytes), framer (TIC) + parse.
//! - `stream_60s`: 60 s of SMR 5.0 telegrams (46 680 bytes, 60 telegrams per iteration), pushed
//!   as 64-byte reads like a serial port delivers them (`chunks64`) vs one push (`one_push`),
//!   and the framer alone on 64-byte reads (`chunks64_framer_only`).

mod common;

use common::{dsmr5_readout, dsmr5_values, Dsmr5Values, Pipeline, SMR5};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use smart_connect_sim::protocol::dsmr;
use smart_connect_sim::protocol::framer::{Event, FramerMode};
use std::hint::black_box;
use std::time::{Duration, Instant};

const EMUCS: &[u8] = include_bytes!("../fixtures/dsmr/ndokter-fluvius-50217-3ph-gas-water.txt");
const TIC_STD_TRI: &[u8] = include_bytes!("../fixtures/tic/standard-tri-tempo.txt");
const STREAM_60S: &[u8] = include_bytes!("../fixtures/dsmr/nb-stream-iskra-am550t-60s.txt");
/// Target from issue #19: framer + parse at least this many times faster than `dsmr5`.
const TARGET_RATIO: f64 = 4.0;

/// Push `bytes` in reads of `chunk` bytes without parsing; returns the frames found.
fn frame_only(p: &mut Pipeline, bytes: &[u8], chunk: usize) -> usize {
    let mut frames = 0;
    for read in bytes.chunks(chunk) {
        p.framer.push(read, &mut p.events);
        for ev in p.events.drain(..) {
            if let Event::Frame(f) = ev {
                frames += 1;
                p.framer.recycle(black_box(f));
            }
        }
    }
    frames
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
    let r = &one(SMR5, FramerMode::P1);
    assert_eq!(r, &dsmr::parse(SMR5).unwrap().reading);
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

/// Mean time per call of `f` over `iters` calls, in ns.
fn time_ns(iters: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
}

/// Before criterion: framer + parse of the SMR5 telegram against the `dsmr5` crate, in
/// interleaved rounds (both sides see the same machine load), best of each, with the ratio
/// printed beside its target. Wall-clock swings on a shared VM; `--bench instructions` gives
/// the deterministic figure.
fn report() {
    let mut p = Pipeline::new(FramerMode::P1);
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..7 {
        ours = ours.min(time_ns(20_000, || {
            p.run(black_box(SMR5), SMR5.len(), |t| drop(black_box(t)));
        }));
        theirs = theirs.min(time_ns(20_000, || {
            black_box(dsmr5_values(&dsmr5_readout(black_box(SMR5))));
        }));
    }
    let ratio = theirs / ours;
    println!(
        "parse SMR5 ({} B) framer + parse: {ours:.0} ns (dsmr5 {theirs:.0} ns: {ratio:.1}x) \
         target >= {TARGET_RATIO}x  {}",
        SMR5.len(),
        if ratio >= TARGET_RATIO {
            "OK"
        } else {
            "** BELOW TARGET **"
        }
    );
}

fn benches(c: &mut Criterion) {
    sanity();
    report();

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
        b.iter(|| frame_only(&mut p, black_box(STREAM_60S), 64))
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
