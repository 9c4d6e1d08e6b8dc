//! `smart-connect-sim replay FILE…`: captured meter bytes through a virtual device; one JSON
//! line per resulting register snapshot (design §6 keys, with the values the registers
//! show: DSMR 4.2 voltage 0, TIC phase power never negative) and one per rejected telegram.

use super::progress::Progress;
use crate::device::config::Config;
use crate::device::power::PowerInputs;
use crate::device::registers::MeterValues;
use crate::device::{Device, DeviceConfig, Effect, Event, Variant};
use crate::protocol::reading::ReadingRecord;
use crate::protocol::Reading;
use crate::time::Instant;
use clap::Args;
use serde::Serialize;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Files of raw meter bytes; `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Device variant; `auto` picks TIC when the file holds STX-framed frames.
    #[arg(long, default_value = "auto", value_parser = ["auto", "p1", "tic"])]
    pub variant: String,
}

/// Bytes handed to the device at a time: the framer reads a stream, so the split changes
/// nothing; it bounds the effects held at once and lets a big capture show progress.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Replay one capture through a fresh device; the JSON lines it produces.
pub fn replay(file: &str, bytes: &[u8], variant: Variant) -> Vec<String> {
    let mut out = Vec::new();
    replay_into(
        file,
        bytes,
        variant,
        &mut |line| out.push(line),
        &mut |_, _| {},
    );
    out
}

/// Replay one capture through a fresh device, `CHUNK_BYTES` at a time: each JSON line goes to
/// `line` as soon as it is made; `progress` hears the bytes fed so far and the meter time the
/// telegrams have covered (ms from the first telegram's timestamp to the last's).
pub fn replay_into(
    file: &str,
    bytes: &[u8],
    variant: Variant,
    line: &mut dyn FnMut(String),
    progress: &mut dyn FnMut(usize, i64),
) {
    let mut device = Device::new(DeviceConfig::new(variant), Config::default());
    device.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        Instant::EPOCH,
    );
    let t = device.run_until_running(Instant::EPOCH);
    let mut values = None;
    let (mut first_ts, mut covered_ms) = (None, 0i64);
    let mut fed = 0usize;
    let chunks = bytes.chunks(CHUNK_BYTES).map(Some).chain([None]);
    for chunk in chunks {
        let effects = match chunk {
            Some(c) => {
                fed = fed.saturating_add(c.len());
                device.handle(Event::SerialBytes(c.to_vec()), t)
            }
            // The end of the capture: the idle gap ends a telegram still waiting for more.
            None => device.handle(Event::Tick, t + crate::device::meter::IDLE_MS),
        };
        for e in effects {
            match e {
                // The device announces the new registers, then the reading behind them.
                Effect::RegistersChanged(v) => values = Some(v),
                Effect::Measurement(r) => {
                    if let Some(ts) = r.timestamp {
                        let first = *first_ts.get_or_insert(ts);
                        covered_ms = ts
                            .saturating_sub(first)
                            .saturating_mul(1000)
                            .max(covered_ms);
                    }
                    if let Some(v) = values.take() {
                        line(snapshot_line(file, &r, &v));
                    }
                }
                Effect::TelegramRejected(err) => {
                    line(json!({ "file": file, "rejected": err }).to_string())
                }
                _ => {}
            }
        }
        progress(fed, covered_ms);
    }
}

/// One register snapshot: the reading's identity fields with the values the registers show.
#[derive(Serialize)]
struct SnapshotLine<'a> {
    file: &'a str,
    telegram_seq: u64,
    #[serde(flatten)]
    reading: ReadingRecord,
}

fn snapshot_line(file: &str, r: &Reading, v: &MeterValues) -> String {
    let mut reading = ReadingRecord::from(Reading {
        voltage_v: v.voltage_v.map(Some),
        current_a: v.current_a.map(Some),
        active_power_w: Some(v.active_power_w),
        active_power_phase_w: v.active_power_phase_w.map(Some),
        ..r.clone()
    });
    reading.energy = Default::default();
    serde_json::to_string(&SnapshotLine {
        file,
        telegram_seq: v.telegram_seq,
        reading,
    })
    .expect("plain data")
}

pub fn run(args: &ReplayArgs) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for file in &args.files {
        let bytes = match if file == "-" {
            read_stdin()
        } else {
            std::fs::read(file)
        } {
            Ok(b) => b,
            Err(e) => {
                eprintln!("smart-connect-sim replay: cannot read {file}: {e}");
                return ExitCode::from(2);
            }
        };
        let variant = match args.variant.as_str() {
            "p1" => Variant::P1,
            "tic" => Variant::Tic,
            _ if bytes.contains(&0x02) => Variant::Tic,
            _ => Variant::P1,
        };
        let bar = Progress::bytes("replay", bytes.len());
        let mut failed = false;
        replay_into(
            file,
            &bytes,
            variant,
            &mut |line| failed = failed || writeln!(out, "{line}").is_err(),
            &mut |fed, covered_ms| bar.fed(fed, covered_ms),
        );
        bar.finish();
        if failed {
            return ExitCode::from(2);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut b = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::generate::{plan, write_until, GenerateArgs};

    #[test]
    fn a_capture_of_many_chunks_gives_every_telegram_and_its_progress() {
        let args = GenerateArgs {
            meter: crate::protocol::MeterKind::from_name("smr5"),
            seed: Some(3),
            duration: Some(600_000),
            scenario: None,
            start: None,
            out: None,
            jobs: None,
        };
        let (mut meter, end) = plan(&args).unwrap();
        let mut bytes = Vec::new();
        assert_eq!(write_until(&mut meter, end, &mut bytes).unwrap(), 600);
        assert!(bytes.len() > 4 * CHUNK_BYTES, "several chunks");
        let (mut lines, mut seen) = (Vec::new(), Vec::new());
        replay_into(
            "cap",
            &bytes,
            Variant::P1,
            &mut |l| lines.push(l),
            &mut |fed, covered| seen.push((fed, covered)),
        );
        assert_eq!(lines.len(), 600, "one snapshot per telegram");
        assert!(lines.iter().all(|l| !l.contains("rejected")));
        assert_eq!(seen.last(), Some(&(bytes.len(), 599_000)));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress only grows");
        assert_eq!(lines, replay("cap", &bytes, Variant::P1));
    }
}
