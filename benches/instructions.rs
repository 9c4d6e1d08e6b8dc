//! Instruction counts per telegram, deterministic where wall-clock time on a shared VM is not:
//! `cargo bench --bench instructions` (about 10 s once built; needs valgrind).
//!
//! The bench re-runs its own binary under `valgrind --tool=callgrind` twice per side of each
//! stage, with [`ITERS_LONG`] and [`ITERS_SHORT`] iterations of the work, and divides the
//! difference of the two instruction totals by the difference of the iteration counts: start-up,
//! set-up and one-time initialisation cancel out. Each stage prints ours, the reference crate's
//! count in the same run, the ratio and the targets beside them (issue #19), e.g.
//!
//! ```text
//! parse SMR5: 7 412 instr/telegram (dsmr5 33 480: 4.5×)  target ≤ 8 000 and ≥ 4×  OK
//! ```
//!
//! Options after `--`: `--check` exits 1 when a stage misses its target (instruction counts do
//! not drift between runs of the same binary); a stage name filters (`-- parse`).
//! `SC_INSTR_KEEP=DIR` keeps the callgrind profiles (`DIR/<stage>-<side>-<iters>.out`) for
//! `callgrind_annotate`. Without valgrind the bench says so and exits 0.
//!
//! Adding a stage (encode, the device path): write its `fn(u64)` loop and add ONE entry to
//! [`STAGES`] with its target; a stage without a reference crate prints its count and target.

mod common;

use common::{dsmr5_readout, dsmr5_values, Pipeline, SMR5};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{Device, DeviceConfig, Effect, Event as DevEvent, Variant};
use smart_connect_sim::protocol::dsmr::{DsmrKind, Encoder};
use smart_connect_sim::protocol::framer::FramerMode;
use smart_connect_sim::protocol::{MeterKind, Telegram};
use smart_connect_sim::sim::generator::{Load, SyntheticMeter};
use smart_connect_sim::time::{at, Duration};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Iterations of the work in the two runs whose difference is measured.
const ITERS_LONG: u64 = 1200;
const ITERS_SHORT: u64 = 200;
/// Environment variable that makes the binary run one side of a stage (`INDEX/SIDE/ITERS`).
const CHILD_ENV: &str = "SC_INSTR_RUN";
/// Directory to keep the callgrind profiles in.
const KEEP_ENV: &str = "SC_INSTR_KEEP";

/// One measured stage: our code, optionally a reference crate doing the same work, targets.
struct Stage {
    name: &'static str,
    /// Runs the work `n` times (set-up outside the loop is fine: it cancels out).
    ours: fn(u64),
    /// Most instructions per iteration allowed.
    max_instr: u64,
    reference: Option<Reference>,
}

/// Another implementation of the same work, measured in the same run.
struct Reference {
    name: &'static str,
    run: fn(u64),
    /// Ours must take at least this many times fewer instructions.
    min_ratio: f64,
}

/// Every stage, in the order printed.
const STAGES: &[Stage] = &[
    Stage {
        name: "parse SMR5",
        ours: framer_parse_smr5,
        max_instr: 8_000,
        reference: Some(Reference {
            name: "dsmr5",
            run: dsmr5_parse_smr5,
            min_ratio: 4.0,
        }),
    },
    Stage {
        name: "encode SMR5",
        ours: encode_smr5,
        max_instr: 3_000,
        reference: None,
    },
    Stage {
        name: "device path SMR5",
        ours: device_path_smr5,
        max_instr: 3_000,
        reference: None,
    },
];

/// The synthetic meter's encode step: generated SMR 5.0 values (generated before the loop,
/// a household meter's consecutive seconds) → the telegram bytes with CRC, in the meter's
/// reusable [`Encoder`].
fn encode_smr5(n: u64) {
    let kind = MeterKind::from_name("smr5").expect("smr5");
    let load = Load::Household(smart_connect_sim::cli::generate::default_load());
    let mut meter = SyntheticMeter::new(kind, load, 42, 1_776_254_400_000);
    let telegrams: Vec<_> = (0..64)
        .map(|_| {
            let (_, r) = meter.next_reading();
            (r, meter.registers().clone())
        })
        .collect();
    let mut enc = Encoder::new(DsmrKind::Smr5ThreePhase);
    for i in 0..n {
        let (r, regs) = &telegrams[i as usize % telegrams.len()];
        black_box(enc.encode(black_box(r), regs));
    }
}

/// The device path's first half: a long-lived P1 framer fed the 778-byte SMR 5.0 telegram in
/// one read, the frame CRC-checked and parsed as the device does it (see `common::Pipeline`:
/// into a reused `Telegram`, the frame buffer recycled, the reading moved out and dropped).
fn framer_parse_smr5(n: u64) {
    let mut p = Pipeline::new(FramerMode::P1);
    for _ in 0..n {
        let ok = p.run(black_box(SMR5), SMR5.len(), |t| drop(black_box(t)));
        assert_eq!(ok, 1, "framer + parse: one telegram");
    }
}

/// The device path's second half, where the parse stage ends: a running P1 device (powered by
/// the meter, booted before the loop) handed the already-parsed SMR 5.0 telegram once a
/// second through `Device::handle_telegram_into` — the code `Event::SerialBytes` runs for each
/// parsed frame: due timers, the acceptance rules (DSMR version), the new register snapshot
/// (`MeterValues`), status counters, meter state, LED and network problem, and the effects
/// (`RegistersChanged`, `Measurement`) appended to a reused buffer. Not measured here: the
/// framer and parser (the parse stage) and the P1 ext copy of the bytes (a move of the read
/// buffer). The loop recycles the reading the `Measurement` effect hands back (its strings
/// are the parser's allocations and the MQTT consumer's to free) and copies the header, whose
/// allocation is counted against us (the device drops the telegram's header).
fn device_path_smr5(n: u64) {
    let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
    let mut now = at(1_776_204_000_000);
    d.handle(
        DevEvent::Power(PowerInputs {
            usb: false,
            p1_supply: true,
        }),
        now,
    );
    now = d.run_until_running(now);
    let Telegram {
        reading,
        header,
        quirks,
        raw,
        ..
    } = smart_connect_sim::protocol::dsmr::parse(SMR5).expect("the SMR 5.0 fixture parses");
    let mut reading = Some(Box::new(reading));
    let mut fx = Vec::with_capacity(8);
    for _ in 0..n {
        now += Duration::from_secs(1);
        let t = Telegram::from_parts(
            *reading
                .take()
                .expect("the last telegram's reading came back"),
            header.clone(),
            quirks.clone(),
            raw.clone(),
        );
        d.handle_telegram_into(black_box(t), now, &mut fx);
        let mut snapshots = 0;
        for e in fx.drain(..) {
            match e {
                Effect::Measurement(r) => reading = Some(r),
                Effect::RegistersChanged(v) => snapshots += black_box(v).telegram_seq.min(1),
                _ => {}
            }
        }
        assert_eq!(snapshots, 1, "device path: one new register snapshot");
    }
}

/// The `dsmr5` crate on the same telegram (see `common::dsmr5_values` for what it does).
fn dsmr5_parse_smr5(n: u64) {
    for _ in 0..n {
        black_box(dsmr5_values(&dsmr5_readout(black_box(SMR5))));
    }
}

#[derive(Clone, Copy)]
enum Side {
    Ours,
    Reference,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Reference => "ref",
        }
    }
}

fn main() -> ExitCode {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if !valgrind_available() {
        println!(
            "instruction counts: skipped, valgrind is not installed \
             (apt-get install valgrind, then rerun `cargo bench --bench instructions`)"
        );
        return ExitCode::SUCCESS;
    }
    let mut missed = 0;
    for (i, stage) in STAGES.iter().enumerate() {
        if !filter.is_empty() && !filter.iter().any(|f| stage.name.contains(f.as_str())) {
            continue;
        }
        match report(i, stage) {
            Ok(true) => {}
            Ok(false) => missed += 1,
            Err(e) => {
                println!("{}: not measured: {e}", stage.name);
                missed += 1;
            }
        }
    }
    if check && missed > 0 {
        println!("{missed} stage(s) miss their target");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Run one side of one stage (inside valgrind).
fn child(spec: &str) -> ExitCode {
    let parts: Vec<&str> = spec.split('/').collect();
    let parsed = match parts.as_slice() {
        [i, side, n] => i
            .parse::<usize>()
            .ok()
            .and_then(|i| STAGES.get(i))
            .zip(n.parse::<u64>().ok())
            .map(|(s, n)| (s, *side, n)),
        _ => None,
    };
    let Some((stage, side, n)) = parsed else {
        eprintln!("{CHILD_ENV}={spec:?}: expected STAGE_INDEX/ours|ref/ITERATIONS");
        return ExitCode::FAILURE;
    };
    match (side, &stage.reference) {
        ("ours", _) => (stage.ours)(n),
        ("ref", Some(r)) => (r.run)(n),
        _ => {
            eprintln!("{CHILD_ENV}={spec:?}: no such side for {}", stage.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Measure and print one stage; `Ok(true)` when it meets its targets.
fn report(index: usize, stage: &Stage) -> Result<bool, String> {
    let ours = per_iteration(index, stage, Side::Ours)?;
    let mut ok = ours <= stage.max_instr as f64;
    let mut line = format!("{}: {} instr/telegram", stage.name, grouped(ours));
    let mut target = format!("target ≤ {}", grouped(stage.max_instr as f64));
    if let Some(r) = &stage.reference {
        let theirs = per_iteration(index, stage, Side::Reference)?;
        let ratio = theirs / ours;
        ok &= ratio >= r.min_ratio;
        line.push_str(&format!(" ({} {}: {ratio:.2}×)", r.name, grouped(theirs)));
        target.push_str(&format!(" and ≥ {}×", r.min_ratio));
    }
    let verdict = if ok { "OK" } else { "** MISSES TARGET **" };
    println!("{line}  {target}  {verdict}");
    Ok(ok)
}

/// Instructions per iteration of one side: difference of a long and a short run.
fn per_iteration(index: usize, stage: &Stage, side: Side) -> Result<f64, String> {
    let long = instructions(index, stage, side, ITERS_LONG)?;
    let short = instructions(index, stage, side, ITERS_SHORT)?;
    let diff = long.checked_sub(short).ok_or_else(|| {
        format!("the {ITERS_LONG}-iteration run counted fewer instructions than the {ITERS_SHORT}-iteration one")
    })?;
    Ok(diff as f64 / (ITERS_LONG - ITERS_SHORT) as f64)
}

/// Total instructions of this binary running `iters` iterations of one side under callgrind.
fn instructions(index: usize, stage: &Stage, side: Side, iters: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let keep = std::env::var_os(KEEP_ENV).map(PathBuf::from);
    let slug: String = stage
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let file = format!("{slug}-{}-{iters}.out", side.as_str());
    let out = match &keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir.join(&file)
        }
        None => std::env::temp_dir().join(format!("sc-instr-{}-{file}", std::process::id())),
    };
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--quiet")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .env(CHILD_ENV, format!("{index}/{}/{iters}", side.as_str()))
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !status.success() {
        return Err(format!(
            "valgrind run of {} failed: {status}",
            side.as_str()
        ));
    }
    let total = read_total(&out);
    if keep.is_none() {
        let _ = std::fs::remove_file(&out);
    }
    total
}

/// The `totals:` (or `summary:`) line of a callgrind profile: instructions executed.
fn read_total(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{}: no totals line", path.display()))
}

/// `29712.4` → `29 712` (thin groups of three, as in the issue's tables).
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}
