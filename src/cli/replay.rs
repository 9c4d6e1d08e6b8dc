//! `smart-connect-sim replay FILE…`: captured meter bytes through a virtual device; one JSON
//! line per resulting register snapshot (design §6 keys, with the values the registers
//! show: DSMR 4.2 voltage 0, TIC phase power never negative) and one per rejected telegram.

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

/// Replay one capture through a fresh device; the JSON lines it produces.
pub fn replay(file: &str, bytes: &[u8], variant: Variant) -> Vec<String> {
    let mut device = Device::new(DeviceConfig::new(variant), Config::default());
    device.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        Instant::EPOCH,
    );
    let t = device.run_until_running(Instant::EPOCH);
    let mut out = Vec::new();
    let mut effects = device.handle(Event::SerialBytes(bytes.to_vec()), t);
    effects.extend(device.handle(Event::Tick, t + crate::device::meter::IDLE_MS));
    let mut values = None;
    for e in effects {
        match e {
            // The device announces the new registers, then the reading behind them.
            Effect::RegistersChanged(v) => values = Some(v),
            Effect::Measurement(r) => {
                if let Some(v) = values.take() {
                    out.push(snapshot_line(file, &r, &v));
                }
            }
            Effect::TelegramRejected(err) => {
                out.push(json!({ "file": file, "rejected": err }).to_string())
            }
            _ => {}
        }
    }
    out
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
        for line in replay(file, &bytes, variant) {
            if writeln!(out, "{line}").is_err() {
                return ExitCode::from(2);
            }
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
