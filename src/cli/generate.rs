//! `smart-connect-sim generate --meter <name> --seed N --duration 120s [--scenario F]
//! [--start RFC3339] [--out FILE] [--jobs N]`: the raw bytes a synthetic meter puts on the
//! wire in that much meter time (every telegram sent before start + duration), with the
//! scenario's load, water/heat meters and faults when `--scenario` is given (`--meter`,
//! `--seed`, `--duration`, `--start` override the scenario's). Same arguments, same bytes — whatever `--jobs`: the
//! telegrams are encoded on N threads an hour of meter time at a time and written in order
//! (`sim::parallel`). A terminal on standard error shows the progress in meter time.
//!
//! Exit codes: 0 written; 2 bad arguments or scenario (unknown meter, bad duration, …);
//! 1 the output could not be written.

use super::progress::Progress;
use crate::protocol::MeterKind;
use crate::sim::clock::{parse_duration, DurationError, Millis};
use crate::sim::faults::{FaultError, FaultyMeter};
use crate::sim::generator::{Load, Site, SyntheticMeter};
use crate::sim::parallel::{write_parallel, CHUNK_SLOTS};
use crate::sim::scenario::{self, ScenarioError};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Start time without `--start` or a scenario: a spring weekday at noon (deterministic).
pub const DEFAULT_START: &str = "2026-04-15T12:00:00+02:00";
/// Seed without `--seed` or a scenario.
pub const DEFAULT_SEED: u64 = 1;

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Meter kind: smr5, smr5-1ph, dsmr42, emucs, tic-historic, tic-historic-tri,
    /// tic-standard, tic-standard-tri, tic-producer, tic-producer-tri [default: smr5, or the
    /// scenario's].
    #[arg(long, value_parser = parse_meter)]
    pub meter: Option<MeterKind>,
    /// Random seed [default: 1, or the scenario's].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Meter time to cover, e.g. 120s, 10m, 1h30m, 1d [required without --scenario].
    #[arg(long, value_parser = parse_duration_arg)]
    pub duration: Option<i64>,
    /// Scenario file (scenarios/*.yaml): load, water/heat meters, faults, seed, meter, start
    /// and duration.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// First telegram time, RFC 3339 with offset [default: 2026-04-15T12:00:00+02:00, or the
    /// scenario's].
    #[arg(long, value_parser = parse_start)]
    pub start: Option<Millis>,
    /// Output file [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads that encode telegrams; the bytes do not depend on it [default: the CPUs].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
}

/// Why `generate` cannot start: a bad argument or scenario, named with its value.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("unknown meter `{name}`; valid meters: {}", MeterKind::names())]
    UnknownMeter { name: String },
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("the duration must be longer than 0")]
    ZeroDuration,
    #[error("`{text}` is not an RFC 3339 time with offset, e.g. {DEFAULT_START} ({source})")]
    Start {
        text: String,
        #[source]
        source: chrono::ParseError,
    },
    #[error("give --duration (e.g. --duration 120s) or a --scenario")]
    NoDuration,
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Faults(#[from] FaultError),
}

fn parse_meter(s: &str) -> Result<MeterKind, GenerateError> {
    MeterKind::from_name(s).ok_or_else(|| GenerateError::UnknownMeter {
        name: s.to_string(),
    })
}

fn parse_duration_arg(s: &str) -> Result<i64, GenerateError> {
    match parse_duration(s)? {
        0 => Err(GenerateError::ZeroDuration),
        ms => Ok(ms),
    }
}

fn parse_start(s: &str) -> Result<Millis, GenerateError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|source| GenerateError::Start {
            text: s.to_string(),
            source,
        })
}

pub use crate::sim::generator::default_load;

/// The meter and the end time (exclusive) the arguments describe.
pub fn plan(args: &GenerateArgs) -> Result<(FaultyMeter, Millis), GenerateError> {
    let sc = match &args.scenario {
        Some(path) => Some(scenario::load(path)?),
        None => None,
    };
    let kind = args
        .meter
        .or(sc.as_ref().map(|s| s.meter_kind))
        .unwrap_or_else(|| MeterKind::from_name("smr5").expect("smr5 exists"));
    let seed = args
        .seed
        .or(sc.as_ref().map(|s| s.seed))
        .unwrap_or(DEFAULT_SEED);
    let duration = args
        .duration
        .or(sc.as_ref().map(|s| s.duration_ms))
        .ok_or(GenerateError::NoDuration)?;
    let start = match (args.start, &sc) {
        (Some(t), _) => t,
        (None, Some(s)) => s.start,
        (None, None) => parse_start(DEFAULT_START)?,
    };
    let load = sc.as_ref().map_or_else(default_load, |s| s.load.clone());
    // The scenario's site (tariff schedule, location) unless `--meter` picked a meter it
    // does not fit.
    let site = sc
        .as_ref()
        .map(|s| s.site)
        .filter(|site| site.tariff_region.fits(kind))
        .unwrap_or_else(|| Site::of(kind));
    // The scenario's water and heat meters (those the meter can carry: `--meter` may have
    // picked one without them).
    let mbus = sc.as_ref().map(|s| s.mbus).unwrap_or_default();
    let faults = sc.map(|s| s.faults).unwrap_or_default();
    let meter =
        SyntheticMeter::at_site(kind, Load::Household(load), seed, start, site).with_mbus(mbus);
    let meter = FaultyMeter::new(meter, faults)?;
    Ok((meter, start.saturating_add(duration)))
}

/// Write every telegram sent before `end`; returns how many slots were produced.
pub fn write_until(
    meter: &mut FaultyMeter,
    end: Millis,
    out: &mut impl Write,
) -> std::io::Result<usize> {
    let mut n = 0;
    while meter.next_at() < end {
        out.write_all(&meter.next().bytes)?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

pub fn run(args: &GenerateArgs) -> ExitCode {
    let (mut meter, end) = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("smart-connect-sim generate: {e}");
            return ExitCode::from(2);
        }
    };
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let progress = Progress::meter_time("generate", meter.next_at(), end);
    let mut write = |out: &mut dyn Write| {
        write_parallel(&mut meter, end, out, jobs, CHUNK_SLOTS, &mut |at, _| {
            progress.at(at)
        })
    };
    let written = match &args.out {
        Some(path) => std::fs::File::create(path)
            .and_then(|f| write(&mut std::io::BufWriter::with_capacity(1 << 20, f))),
        None => write(&mut std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout().lock(),
        )),
    };
    progress.finish();
    let to = args
        .out
        .as_ref()
        .map_or("standard output".into(), |p| p.display().to_string());
    match written_outcome(written.map(|_| ()), args.out.is_none()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smart-connect-sim generate: cannot write {to}: {e}");
            ExitCode::from(1)
        }
    }
}

/// A write failure, except a closed pipe on standard output (`generate | head`: the reader
/// took what it wanted — not a failure).
fn written_outcome(r: std::io::Result<()>, to_stdout: bool) -> std::io::Result<()> {
    match r {
        Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_on_stdout_is_not_a_failure() {
        let pipe = || Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(written_outcome(pipe(), true).is_ok());
        assert!(
            written_outcome(pipe(), false).is_err(),
            "a file that breaks is"
        );
        let full = Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(written_outcome(full, true).is_err());
    }
    use crate::protocol::framer::{decode_all, FramerMode};
    use crate::protocol::ParseOptions;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        args: GenerateArgs,
    }

    fn args(argv: &[&str]) -> Result<GenerateArgs, clap::Error> {
        T::try_parse_from(std::iter::once("generate").chain(argv.iter().copied())).map(|t| t.args)
    }

    fn bytes(a: &GenerateArgs) -> Vec<u8> {
        let (mut m, end) = plan(a).unwrap();
        let mut out = Vec::new();
        write_until(&mut m, end, &mut out).unwrap();
        out
    }

    #[test]
    fn writes_exactly_the_telegrams_of_the_duration() {
        let a = args(&["--meter", "smr5", "--seed", "3", "--duration", "120s"]).unwrap();
        let out = bytes(&a);
        let decoded = decode_all(&out, FramerMode::P1, ParseOptions::default());
        assert_eq!(decoded.len(), 120);
        assert!(decoded.iter().all(Result::is_ok));
        assert_eq!(out, bytes(&a), "deterministic");
        let a = args(&[
            "--meter",
            "dsmr42",
            "--duration",
            "1m",
            "--start",
            "2026-01-01T00:00:00Z",
        ])
        .unwrap();
        assert_eq!(
            decode_all(&bytes(&a), FramerMode::P1, ParseOptions::default()).len(),
            6
        );
    }

    #[test]
    fn bad_arguments_are_clear_usage_errors() {
        let e = args(&["--meter", "smr7", "--duration", "1m"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.contains("unknown meter `smr7`") && text.contains("tic-producer-tri"),
            "{text}"
        );
        let e = args(&["--duration", "10x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("unknown unit"), "{e}");
        let e = plan(&args(&["--meter", "smr5"]).unwrap()).err().unwrap();
        assert!(matches!(e, GenerateError::NoDuration), "{e}");
        assert!(e.to_string().contains("--duration"), "{e}");
        let e = args(&["--duration", "1m", "--start", "2026-01-01 10:00"]).unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }

    #[test]
    fn scenario_with_overrides() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/ev-charging-evening.yaml"
        );
        let a = args(&["--scenario", path, "--duration", "12m"]).unwrap();
        let out = bytes(&a);
        let decoded = decode_all(&out, FramerMode::P1, ParseOptions::default());
        // 720 telegrams, the one at 10 min has a bad CRC.
        assert_eq!(decoded.iter().filter(|d| d.is_ok()).count(), 719);
        let a = args(&[
            "--scenario",
            path,
            "--duration",
            "5s",
            "--meter",
            "tic-standard",
        ])
        .unwrap();
        let out = bytes(&a);
        assert_eq!(out[0], 0x02, "a TIC frame");
        let e = plan(&args(&["--scenario", "nope.yaml"]).unwrap())
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("nope.yaml: cannot read"), "{e}");
    }
}
