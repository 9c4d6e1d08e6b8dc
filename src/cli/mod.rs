//! Command-line interface: clap definitions and dispatch to one file per subcommand.

pub mod parse;

use clap::{Parser, Subcommand};
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
    /// Decode P1 telegrams and TIC frames to JSON lines (one object per telegram).
    Parse(parse::ParseArgs),
}

/// Run the command line; the exit code says whether everything went well.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse::run(&args),
    }
}
