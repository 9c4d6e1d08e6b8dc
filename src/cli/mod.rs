//! Command-line interface: clap definitions and dispatch to one file per subcommand.

pub mod conformance;
mod conformance_device;
mod conformance_estimate;
pub mod coverage;
pub mod fleet;
pub mod generate;
pub mod house;
pub mod parse;
pub mod progress;
pub mod replay;
pub mod rig;
pub mod run;

use clap::{Parser, Subcommand};

/// A defect named by the hidden `--defect NAME` (the `defects` feature's catalogue).
#[cfg(feature = "defects")]
pub use crate::defects::Defect as DefectName;

/// A defect named by the hidden `--defect NAME`: none exists in a binary built without the
/// `defects` feature.
#[cfg(not(feature = "defects"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefectName {}

/// `--defect NAME`: the defect, or an error naming the valid ones (or saying that this
/// binary has none).
pub fn parse_defect(s: &str) -> Result<DefectName, String> {
    #[cfg(feature = "defects")]
    return crate::defects::parse_defect(s);
    #[cfg(not(feature = "defects"))]
    Err(format!(
        "cannot plant defect `{s}`: this binary was built without the `defects` feature \
         (build it with `cargo build --features defects`)"
    ))
}
use std::process::ExitCode;

/// Virtual Xemex Smart Connect: simulator and conformance harness.
#[derive(Debug, Parser)]
#[command(name = "smart-connect-sim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the virtual device on real ports (Modbus TCP) with a synthetic or captured meter.
    Run(Box<run::RunArgs>),
    /// Decode P1 telegrams and TIC frames to JSON lines (one object per telegram).
    Parse(parse::ParseArgs),
    /// Run the Gherkin conformance suite against the virtual device or a remote one; JUnit
    /// XML and a requirement report.
    Conformance(conformance::ConformanceArgs),
    /// Drive the live house behind a running simulator's meter (`run --control`): EV
    /// set-point, base load, PV, battery, fuse, faults now, pause/speed.
    House(house::HouseArgs),
    /// Talk to a simulator's bench rig (`run --rig`): for hook commands and by hand.
    Rig(rig::RigArgs),
    /// Requirement-ID coverage table of the last conformance run (markdown).
    Coverage(coverage::CoverageArgs),
    /// Feed captured meter bytes through a virtual device; one JSON line per register snapshot.
    Replay(replay::ReplayArgs),
    /// Synthetic meter telegrams (raw bytes as on the wire), optionally from a scenario file.
    Generate(generate::GenerateArgs),
    /// Many virtual devices in one process against an MQTT broker (load tests; shards for
    /// Kubernetes): own identities and client certificates, one message per telegram.
    Fleet(Box<fleet::FleetArgs>),
}

/// Run the command line; the exit code says whether everything went well.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Parse(args) => parse::run(&args),
        Command::Conformance(args) => conformance::run(&args),
        Command::Coverage(args) => coverage::run(&args),
        Command::Rig(args) => rig::run(&args),
        Command::House(args) => house::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Fleet(args) => fleet::run(&args),
    }
}
