//! `smart-connect-sim parse FILE…`: frame and decode raw meter bytes, one JSON object per
//! telegram on stdout, a JSON error line (kind, byte offset, line) per rejected telegram.
//! Exit code 1 when any telegram failed, 2 when a file cannot be read.

use crate::protocol::framer::{decode_all, FramerMode};
use crate::protocol::{ErrorKind, ParseError, ParseOptions, Telegram};
use clap::Args;
use serde::Serialize;
use std::io::{Read, Write};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Files of raw meter bytes; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Which frames to look for.
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: Mode,
    /// Leave out the unmapped lines/groups (`raw`).
    #[arg(long)]
    pub no_raw: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Mode {
    Auto,
    P1,
    Tic,
}

/// One output line.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Line<'a> {
    Ok {
        file: &'a str,
        offset: usize,
        #[serde(flatten)]
        telegram: Box<Telegram>,
    },
    Err {
        file: &'a str,
        error: ParseError,
    },
}

/// Decode every telegram in `bytes`; returns the output lines in stream order.
pub fn decode<'a>(
    file: &'a str,
    bytes: &[u8],
    mode: FramerMode,
    opts: ParseOptions,
) -> Vec<Line<'a>> {
    let mut lines: Vec<Line<'a>> = decode_all(bytes, mode, opts)
        .into_iter()
        .map(|d| match d {
            Ok((offset, telegram)) => Line::Ok {
                file,
                offset,
                telegram: Box::new(telegram),
            },
            Err(error) => Line::Err { file, error },
        })
        .collect();
    if lines.is_empty() {
        let error = ParseError::new(ErrorKind::Empty, 0, 1, "no telegram or frame found");
        lines.push(Line::Err { file, error });
    }
    lines
}

pub fn run(args: &ParseArgs) -> ExitCode {
    let mode = match args.mode {
        Mode::Auto => FramerMode::Auto,
        Mode::P1 => FramerMode::P1,
        Mode::Tic => FramerMode::Tic,
    };
    let opts = ParseOptions {
        keep_raw: !args.no_raw,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for file in &args.files {
        let bytes = match read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("smart-connect-sim parse: cannot read {file}: {e}");
                return ExitCode::from(2);
            }
        };
        for line in decode(file, &bytes, mode, opts) {
            failed |= matches!(line, Line::Err { .. });
            let json = serde_json::to_string(&line).expect("serialising plain data cannot fail");
            if writeln!(out, "{json}").is_err() {
                return ExitCode::from(2);
            }
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b)?;
        Ok(b)
    } else {
        std::fs::read(file)
    }
}
