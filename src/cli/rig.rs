//! `smart-connect-sim rig VERB …`: a command-line client of the bench-rig protocol, for hook
//! commands and for poking a running simulator by hand (`run --rig`). Prints what a hook
//! must print: the LED colour for `led`, the device time for `time`, JSON for `info`.

use crate::dut::rig_client::RigClient;
use clap::{Args, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RigArgs {
    /// The rig's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7100", env = "RIG")]
    pub at: String,
    /// The token `run --rig` printed.
    #[arg(long, env = "SMART_CONNECT_RIG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// What is on the bench (JSON).
    Info,
    /// A factory-new device, unpowered.
    Fresh,
    /// USB-C power and the meter's P1 supply, `1`/`0` each.
    Power { usb: u8, meter: u8 },
    /// Press (`down`) or release (`up`) the button.
    Button { state: String },
    /// Print the LED colour.
    Led,
    /// Wait until FED_BYTES meter bytes arrived, then move the clock to UNTIL_MS (empty: stay);
    /// prints the device time.
    Time { until_ms: String, fed_bytes: u64 },
    /// Set the device's own clock.
    DeviceClock { utc_ms: i64 },
    /// Take the broker down (`off`) or up (`on`).
    Broker { state: String },
    /// Stage firmware VERSION on the update server, `good` or `bad`.
    Firmware { version: String, quality: String },
    /// Write the bytes out of P1 ext since the last call to stdout.
    P1Ext,
}

pub fn run(args: &RigArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smart-connect-sim rig: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(call(args)) {
        Ok(out) => {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&out).and_then(|_| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smart-connect-sim rig: {e}");
            ExitCode::from(1)
        }
    }
}

/// A call whose answer a hook does not print.
fn done<T>(r: Result<T, crate::dut::TargetError>) -> Result<Vec<u8>, String> {
    r.map(|_| Vec::new()).map_err(|e| e.0)
}

fn flag(v: u8, what: &str) -> Result<bool, String> {
    match v {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(format!("{what}: 1 or 0, not {v}")),
    }
}

async fn call(args: &RigArgs) -> Result<Vec<u8>, String> {
    let rig = RigClient::new(&args.at, args.token.clone()).map_err(|e| e.0)?;
    let line = |s: String| Ok(format!("{s}\n").into_bytes());
    match &args.verb {
        Verb::Info => line(
            serde_json::to_string_pretty(&rig.info().await.map_err(|e| e.0)?)
                .map_err(|e| e.to_string())?,
        ),
        Verb::Fresh => done(rig.fresh().await),
        Verb::Power { usb, meter } => {
            done(rig.power(flag(*usb, "usb")?, flag(*meter, "meter")?).await)
        }
        Verb::Button { state } => match state.as_str() {
            "down" => done(rig.button(true).await),
            "up" => done(rig.button(false).await),
            other => Err(format!("button: down or up, not {other:?}")),
        },
        Verb::Led => {
            let c = rig.led().await.map_err(|e| e.0)?;
            line(
                serde_json::to_value(c)
                    .map_err(|e| e.to_string())?
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
        }
        Verb::Time {
            until_ms,
            fed_bytes,
        } => {
            let until = match until_ms.trim() {
                "" => None,
                s => Some(
                    s.parse()
                        .map_err(|_| format!("time: {s:?} is not a time in ms"))?,
                ),
            };
            line(
                rig.time(until, *fed_bytes)
                    .await
                    .map_err(|e| e.0)?
                    .to_string(),
            )
        }
        Verb::DeviceClock { utc_ms } => done(rig.device_clock(*utc_ms).await),
        Verb::Broker { state } => match state.as_str() {
            "on" => done(rig.broker(true).await),
            "off" => done(rig.broker(false).await),
            other => Err(format!("broker: on or off, not {other:?}")),
        },
        Verb::Firmware { version, quality } => match quality.as_str() {
            "good" | "bad" => done(rig.firmware(version, quality == "good").await),
            other => Err(format!("firmware: good or bad, not {other:?}")),
        },
        Verb::P1Ext => rig.p1_ext().await.map_err(|e| e.0),
    }
}
