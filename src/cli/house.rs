//! `smart-connect-sim house VERB …`: a command-line client of the live house's control
//! surface (`run --control`, default http://127.0.0.1:8090). Every verb is one request; the
//! answer (the new state, or the KPIs) is printed as JSON. A refused change prints every
//! wrong field and exits 1; no control surface reachable prints how to start one and exits 2.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct HouseArgs {
    /// The control surface's base URL (`run --control`).
    #[arg(
        long,
        default_value = "http://127.0.0.1:8090",
        env = "SMART_CONNECT_HOUSE"
    )]
    pub at: String,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// The house, device time, speed and KPIs (JSON).
    Show,
    /// The KPIs: overload seconds, worst overshoot, max current per phase, trips, energy.
    Summary,
    /// Any change as JSON, e.g. '{"battery": {"watts": -2000}}' (see `run --help`, OpenAPI).
    Set { json: String },
    /// EV set-point: AMPS per phase (0 = off).
    Ev {
        amps: f64,
        /// 1 or 3 phases.
        #[arg(long)]
        phases: Option<u8>,
        /// Seconds before the charger reacts.
        #[arg(long)]
        delay: Option<f64>,
        /// Seconds to reach a new current.
        #[arg(long)]
        ramp: Option<f64>,
    },
    /// Base load per phase in W: L1 [L2 L3].
    Base {
        #[arg(num_args = 1..=3, required = true)]
        watts: Vec<f64>,
        /// Power factor of the base load.
        #[arg(long)]
        cos_phi: Option<f64>,
    },
    /// PV: peak W, and optionally the irradiance now (W/m²; omit for the sun curve).
    Pv {
        peak_watts: f64,
        #[arg(long)]
        irradiance: Option<f64>,
    },
    /// Home battery: W (+ charging, − discharging, e.g. -2000).
    Battery {
        #[arg(allow_negative_numbers = true)]
        watts: f64,
    },
    /// Main fuse per phase, A (`--trip`: trips on the IEC 60898 C curve; 0: no fuse model).
    Fuse {
        amps: f64,
        #[arg(long)]
        trip: bool,
    },
    /// Put a tripped fuse back in.
    FuseReset,
    /// A meter fault on the next telegram: bad_crc, truncate, noise, garbage, dropout,
    /// slow_cadence, incompatible.
    Fault {
        kind: String,
        #[arg(long)]
        bytes: Option<u64>,
        /// Seconds (dropout, slow_cadence).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Switch the meter kind (same family: smr5, smr5-1ph, dsmr42, emucs; or TIC kinds).
    Meter { kind: String },
    /// Stop device time.
    Pause,
    /// Let device time run again.
    Resume,
    /// Device time speed from now on.
    Speed { speed: f64 },
    /// The control log (changes with device time and source).
    Log,
}

/// The request a verb makes: method, path, body.
fn request(verb: &Verb) -> Result<(&'static str, &'static str, Option<Value>), String> {
    Ok(match verb {
        Verb::Show => ("GET", "/api/house", None),
        Verb::Summary => ("GET", "/api/house/summary", None),
        Verb::Log => ("GET", "/api/house/log", None),
        Verb::Set { json } => {
            let v: Value = serde_json::from_str(json)
                .map_err(|e| format!("set: not JSON at column {}: {e}", e.column()))?;
            ("PATCH", "/api/house", Some(v))
        }
        Verb::Ev {
            amps,
            phases,
            delay,
            ramp,
        } => {
            let mut ev = json!({"amps": amps, "on": *amps > 0.0});
            if let Some(p) = phases {
                ev["phases"] = json!(p);
            }
            for (k, v) in [("delay_s", *delay), ("ramp_s", *ramp)] {
                if let Some(v) = v {
                    ev[k] = json!(v);
                }
            }
            ("PATCH", "/api/house", Some(json!({ "ev": ev })))
        }
        Verb::Base { watts, cos_phi } => {
            let mut base = serde_json::Map::new();
            for (i, w) in watts.iter().enumerate() {
                let mut p = json!({"watts": w});
                if let Some(c) = cos_phi {
                    p["cos_phi"] = json!(c);
                }
                base.insert(format!("l{}", i + 1), p);
            }
            ("PATCH", "/api/house", Some(json!({ "base": base })))
        }
        Verb::Pv {
            peak_watts,
            irradiance,
        } => (
            "PATCH",
            "/api/house",
            Some(json!({"pv": {"peak_watts": peak_watts, "irradiance_w_m2": irradiance}})),
        ),
        Verb::Battery { watts } => (
            "PATCH",
            "/api/house",
            Some(json!({"battery": {"watts": watts}})),
        ),
        Verb::Fuse { amps, .. } if *amps == 0.0 => {
            ("PATCH", "/api/house", Some(json!({ "fuse": null })))
        }
        Verb::Fuse { amps, trip } => (
            "PATCH",
            "/api/house",
            Some(json!({"fuse": {"amps": amps, "trip": trip}})),
        ),
        Verb::FuseReset => ("POST", "/api/house/fuse/reset", None),
        Verb::Fault {
            kind,
            bytes,
            duration,
        } => {
            let mut f = json!({ "kind": kind });
            if let Some(b) = bytes {
                f["bytes"] = json!(b);
            }
            if let Some(d) = duration {
                f["duration_s"] = json!(d);
            }
            ("POST", "/api/house/faults", Some(f))
        }
        Verb::Meter { kind } => ("PATCH", "/api/house", Some(json!({ "meter": kind }))),
        Verb::Pause => ("POST", "/api/house/pause", None),
        Verb::Resume => ("POST", "/api/house/resume", None),
        Verb::Speed { speed } => ("PUT", "/api/house/speed", Some(json!({ "speed": speed }))),
    })
}

pub fn run(args: &HouseArgs) -> ExitCode {
    let (method, path, body) = match request(&args.verb) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smart-connect-sim house: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smart-connect-sim house: {e}");
            return ExitCode::from(2);
        }
    };
    let url = format!("{}{path}", args.at.trim_end_matches('/'));
    let result = rt.block_on(async {
        crate::adapters::certs::install_crypto_provider();
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap_or(reqwest::Method::GET), &url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    });
    match result {
        Ok((status, text)) if status.is_success() => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok((status, text)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
            match v.get("errors").and_then(Value::as_array) {
                Some(errors) => {
                    for e in errors {
                        eprintln!(
                            "smart-connect-sim house: {}: {}",
                            e["field"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        );
                    }
                }
                None => eprintln!(
                    "smart-connect-sim house: {status}: {}",
                    v.get("detail").and_then(Value::as_str).unwrap_or(&text)
                ),
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!(
                "smart-connect-sim house: cannot reach {url}: {e}. Is `smart-connect-sim run` running with its control surface (--control, default 127.0.0.1:8090)? Use --at URL for another address."
            );
            ExitCode::from(2)
        }
    }
}
