//! `smart-connect-sim fleet`: N virtual devices in one process against an MQTT broker (see
//! `crate::fleet`). `--mqtt embedded` starts the embedded broker on loopback trusting the
//! fleet CA (for trying it out, up to 1 000 devices); for load tests point it at Mosquitto or
//! EMQX (`docs/fleet.md`). `--pki DIR` writes the fleet CA and a broker certificate for that
//! broker; `--pki-only` stops there.

use crate::adapters::broker::{BrokerOptions, EmbeddedBroker};
use crate::adapters::mqtt::BrokerUrl;
use crate::fleet::launch::{self, Auth, FleetOptions};
use crate::fleet::pki::FleetPki;
use crate::fleet::plan::{parse_ramp, MeterMix, Shard};
use crate::fleet::stats::Snapshot;
use crate::sim::clock::{parse_duration, Millis};
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The most devices `--mqtt embedded` takes (its router's connection limit).
pub const EMBEDDED_MAX_DEVICES: u64 = 900;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// Client certificate from the fleet CA, CN = serial (needs mqtts://).
    Mtls,
    /// Username = serial, password = the device's label password.
    Password,
}

#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Devices in the whole fleet (all shards together).
    #[arg(long)]
    pub devices: u64,
    /// Broker: mqtts://HOST[:PORT], mqtt://HOST[:PORT], or `embedded` (a loopback broker
    /// started here, trusting the fleet CA; ≤ 900 devices).
    #[arg(long)]
    pub mqtt: String,
    /// This process runs shard I of N (0-based): `--shard $JOB_COMPLETION_INDEX/N`.
    #[arg(long, value_parser = Shard::parse, default_value = "0/1")]
    pub shard: Shard,
    /// Meter kinds and weights.
    #[arg(long, value_parser = MeterMix::parse, default_value = "smr5:100")]
    pub meter_mix: MeterMix,
    /// Fleet seed: identities, keys, meters and faults all follow from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Connection attempts per second over this process (first connects and reconnects).
    #[arg(long, value_parser = parse_ramp, default_value = "500/s")]
    pub ramp: u32,
    /// Device time to run (e.g. 10m, 1h); default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Millis>,
    /// Device time runs this many times faster than real time.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub speed: u32,
    /// Write the fleet CA (`fleet-ca.pem`), a broker certificate (`broker.pem`/`.key`) and the
    /// tap's client certificate (`tap.pem`/`.key`) here.
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Write the PKI (`--pki DIR`) and exit.
    #[arg(long, requires = "pki")]
    pub pki_only: bool,
    /// Names the broker certificate covers (repeatable) [default: the URL's host, localhost,
    /// 127.0.0.1].
    #[arg(long = "broker-name")]
    pub broker_names: Vec<String>,
    /// How devices log in.
    #[arg(long, value_enum, default_value = "mtls")]
    pub auth: AuthArg,
    /// PEM file with the CA devices check the broker with [default: the fleet CA].
    #[arg(long)]
    pub broker_ca: Option<PathBuf>,
    /// Site name in the topics and payloads.
    #[arg(long, default_value = crate::device::config::DEFAULT_SITE)]
    pub site: String,
    /// Measure publish → delivery latency with a subscriber (needs read access to every
    /// device's measurements: CN `fleet-tap` on mTLS).
    #[arg(long)]
    pub tap: bool,
    /// Percentage of devices with an unset clock (1970): they cannot connect (MQ-06).
    #[arg(long, default_value_t = 0.0)]
    pub bad_clocks: f64,
    /// Percentage of meters that go silent for 30 s–5 min once.
    #[arg(long, default_value_t = 0.0)]
    pub silent: f64,
    /// Write the final numbers as JSON here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
}

/// Why `fleet` could not run, naming the option.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("--mqtt {0:?}: {1}")]
    Url(String, String),
    #[error("--mqtt {url}: cannot resolve {host}: {why}")]
    Resolve {
        url: String,
        host: String,
        why: String,
    },
    #[error("--broker-ca {0}: {1}")]
    BrokerCa(PathBuf, std::io::Error),
    #[error("--pki {0}: {1}")]
    PkiDir(PathBuf, std::io::Error),
    #[error("--summary {0}: {1}")]
    Summary(PathBuf, std::io::Error),
    #[error("--{0} {1}: expected a percentage 0..=100")]
    Percent(&'static str, f64),
    #[error("--mqtt embedded takes at most {EMBEDDED_MAX_DEVICES} devices in this process (got {0}); use Mosquitto or EMQX for more (docs/fleet.md)")]
    EmbeddedTooMany(u64),
    #[error("embedded broker: {0}")]
    Broker(String),
    #[error(transparent)]
    Fleet(#[from] launch::FleetError),
    #[error(transparent)]
    Pki(#[from] crate::adapters::certs::PkiError),
    #[error(transparent)]
    Fds(#[from] crate::fleet::limits::FdLimitError),
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
}

pub fn run(args: &FleetArgs) -> ExitCode {
    crate::adapters::certs::install_crypto_provider();
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smart-connect-sim fleet: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &FleetArgs) -> Result<(), CliError> {
    for (name, v) in [("bad-clocks", args.bad_clocks), ("silent", args.silent)] {
        if !(0.0..=100.0).contains(&v) {
            return Err(CliError::Percent(name, v));
        }
    }
    let embedded = args.mqtt == "embedded";
    let url = if embedded {
        BrokerUrl {
            tls: true,
            host: "127.0.0.1".into(),
            port: 0,
        }
    } else {
        BrokerUrl::parse(&args.mqtt).map_err(|e| CliError::Url(args.mqtt.clone(), e.to_string()))?
    };
    let mut names = args.broker_names.clone();
    if names.is_empty() {
        names = vec![url.host.clone(), "localhost".into(), "127.0.0.1".into()];
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
    }
    let pki = Arc::new(FleetPki::derive(args.seed, &names)?);
    if let Some(dir) = &args.pki {
        let p = pki
            .write_to(dir)
            .map_err(|e| CliError::PkiDir(dir.clone(), e))?;
        eprintln!(
            "fleet PKI (seed {}): {} (trust it for client certificates), {} + {}",
            args.seed,
            p.ca.display(),
            p.broker_cert.display(),
            p.broker_key.display()
        );
        if args.pki_only {
            return Ok(());
        }
    }
    let range = args
        .shard
        .range(args.devices)
        .map_err(launch::FleetError::from)?;
    if embedded && range.end - range.start > EMBEDDED_MAX_DEVICES {
        return Err(CliError::EmbeddedTooMany(range.end - range.start));
    }
    // The embedded broker's fronts hold two descriptors per device in this process too.
    let per_device = if embedded { 3 } else { 1 };
    crate::fleet::limits::ensure_fds((range.end - range.start) * per_device)?;
    let broker_ca_pem = match &args.broker_ca {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| CliError::BrokerCa(p.clone(), e))?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    rt.block_on(async {
        let _broker;
        let broker_addr: SocketAddr = if embedded {
            let b = EmbeddedBroker::start(BrokerOptions {
                pki: Some(pki.test_pki()),
                max_connections: usize::try_from(range.end - range.start).unwrap_or(0) + 16,
                ..BrokerOptions::default()
            })
            .map_err(|e| CliError::Broker(e.to_string()))?;
            let a = b.tls_addr();
            eprintln!("embedded broker on mqtts://{a} (fleet CA)");
            _broker = b;
            a
        } else {
            resolve(&args.mqtt, &url).await?
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let ctrl_c = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                ctrl_c.cancel();
            }
        });
        let terminal = std::io::stderr().is_terminal();
        let opts = FleetOptions {
            devices: args.devices,
            shard: args.shard,
            mix: args.meter_mix.clone(),
            seed: args.seed,
            ramp_per_s: args.ramp,
            duration_ms: args.duration,
            speed: args.speed,
            broker: broker_addr,
            broker_host: if embedded {
                "127.0.0.1".into()
            } else {
                url.host.clone()
            },
            tls: url.tls,
            auth: match args.auth {
                AuthArg::Mtls => Auth::Mtls,
                AuthArg::Password => Auth::Password,
            },
            broker_ca_pem,
            pki,
            site: args.site.clone(),
            keep_alive_s: 60,
            tap: args.tap,
            bad_clock_pct: args.bad_clocks,
            silent_pct: args.silent,
            progress_every: std::time::Duration::from_secs(if terminal { 1 } else { 10 }),
            stop,
        };
        let mut last = Snapshot::origin();
        let mut every = 0u32;
        let fin = launch::run(opts, |s| {
            every += 1;
            // On a terminal one line per second overwritten in place; else a line every 10 s.
            let line = s.line(&last);
            if terminal {
                eprint!("\r\x1b[2K{line}");
                if every.is_multiple_of(10) {
                    eprintln!();
                }
            } else {
                eprintln!("{line}");
            }
            last = s.clone();
        })
        .await?;
        if terminal {
            eprintln!();
        }
        let json = serde_json::to_string_pretty(&fin).expect("a snapshot serialises");
        eprintln!("done: {}", fin.line(&Snapshot::origin()));
        if let Some(p) = &args.summary {
            std::fs::write(p, json + "\n").map_err(|e| CliError::Summary(p.clone(), e))?;
        }
        Ok(())
    })
}

async fn resolve(given: &str, url: &BrokerUrl) -> Result<SocketAddr, CliError> {
    let err = |why: String| CliError::Resolve {
        url: given.to_string(),
        host: url.host.clone(),
        why,
    };
    let mut addrs = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|e| err(e.to_string()))?;
    addrs.next().ok_or_else(|| err("no address".into()))
}
