//! `smart-connect-sim run`: the virtual Smart Connect on real ports for charger developers.
//! With no arguments: an SMR 5.0 three-phase household, USB-C powered on a DHCP LAN, Modbus
//! on 127.0.0.1:5020 (502 needs privileges), real time. A scenario, `--meter`, `--seed`,
//! `--speed` and `--feed` change that; the banner prints what runs where.

mod error;
pub mod house;
mod lan;
mod listen;
mod output;
mod services;
mod settings;
mod state;
#[cfg(test)]
mod tests;

use super::progress::Progress;
use crate::adapters::file_store::FileStore;
use crate::adapters::host::Host;
use crate::adapters::modbus::ModbusServer;
use crate::adapters::p1_stream::P1Stream;
use crate::adapters::rig::{FeedCounter, Rig};
use crate::adapters::runner::{feed_file, feed_serial, feed_tcp, tick_loop, Pace};
use crate::adapters::speed_clock::SpeedClock;
use crate::device::identity::Identity;
use crate::device::power::PowerInputs;
use crate::device::store::ConfigStore;
use crate::device::{DeviceConfig, Event, Variant};
use crate::protocol::MeterKind;
use crate::sim::clock::{parse_duration, Clock, Millis, SystemClock, VirtualClock};
use crate::sim::scenario::{self, Scenario};
use clap::Args;
pub use error::RunError;
use listen::parse_listen;
use output::{banner, log_effects, DEFAULT_LOG};
use services::{start_mqtt, start_web};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (scenarios/*.yaml): meter, load, faults, seed, start, power.
    pub scenario: Option<PathBuf>,
    /// Meter kind (overrides the scenario's): smr5, smr5-1ph, dsmr42, emucs, tic-historic, …
    #[arg(long, value_parser = parse_meter)]
    pub meter: Option<MeterKind>,
    /// Seed for the meter's values and the device's serial and MAC. The label password is
    /// random per state folder (kept in `<state-dir>/label-seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Modbus TCP address (the real device uses port 502).
    #[arg(long, default_value = "127.0.0.1:5020", value_parser = parse_listen)]
    pub modbus: SocketAddr,
    /// HTTP configuration API and web interface.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub http: SocketAddr,
    /// The same over HTTPS, with a device certificate from the local test CA (WEB-06).
    #[arg(long, default_value = "127.0.0.1:8443", value_parser = parse_listen)]
    pub https: SocketAddr,
    /// MQTT broker: `embedded` (default: a broker in this process, mTLS with the local test
    /// CA, the config's default broker name mapped to it) or a URL such as
    /// `mqtts://broker.example.com:8883` (then `--resolve` maps names to addresses).
    #[arg(long, default_value = "embedded")]
    pub mqtt: String,
    /// `HOST=ADDR[:PORT]`: connect to ADDR when the device's broker URL names HOST.
    #[arg(long)]
    pub resolve: Vec<String>,
    /// Port of the embedded broker's mTLS listener (0: any free port).
    #[arg(long, default_value = "8883")]
    pub mqtt_tls_port: u16,
    /// Port of the embedded broker's plain listener (0: any free port); it takes only the
    /// installer account the banner prints (a new random password each start).
    #[arg(long, default_value = "1883")]
    pub mqtt_plain_port: u16,
    /// Advertise `smart-connect.local` (an `_http._tcp` service pointing at the web
    /// interface) on this machine's network with mDNS. Off by default.
    #[arg(long)]
    pub mdns: bool,
    /// Also publish retained Home Assistant discovery configs (own-broker setups).
    #[arg(long)]
    pub ha_discovery: bool,
    /// Device time speed: `1` real time, `10` ten times faster, `max` as fast as possible,
    /// `rig` only when the bench rig moves it (conformance runs; needs `--rig` and `--feed`).
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Serve the bench-rig endpoint at ADDR (`127.0.0.1:7100`): power, button, LED, device
    /// clock, LAN, broker, firmware images, P1 ext and a fresh device for each conformance
    /// scenario (the `Remote` target's `rig:`).
    #[arg(long, value_parser = parse_listen)]
    pub rig: Option<SocketAddr>,
    /// The token the rig requires (`Authorization: Bearer …`); default: a random one, printed
    /// and written to `<state dir>/rig-token` (mode 0600).
    #[arg(long, env = "SMART_CONNECT_RIG_TOKEN", hide_env_values = true)]
    pub rig_token: Option<String>,
    /// The live house's control surface (HTTP JSON + console page), or `off`. Loopback by
    /// default: it has no password. Not with `--feed` (the house is the synthetic meter's).
    #[arg(long, default_value = "127.0.0.1:8090", value_parser = house::parse_control)]
    pub control: house::Listen,
    /// The EV set-point as a Modbus TCP holding register (0 = amps × 10, 1 = phases), for a
    /// charger under test; never the device's own Modbus port. `off` to disable.
    #[arg(long, default_value = "127.0.0.1:5021", value_parser = house::parse_control)]
    pub control_modbus: house::Listen,
    /// Write the live house's KPIs (overload seconds, max current per phase, worst
    /// overshoot, trips, energy imported/exported, EV energy) to this JSON file at the end.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Serve the P1 ext copy (every byte the P1 input receives, raw, ser2net-style) to any
    /// number of TCP readers at ADDR (`127.0.0.1:2001`; port 0: any free port). Point Home
    /// Assistant's DSMR integration at it ("network", host + port, DSMR version 5), or
    /// dsmr_parser's `create_tcp_dsmr_reader`, evcc's `dsmr` meter, dsmr-reader's network
    /// datalogger. Off by default; see docs/charger-developers.md.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub p1_tcp: Option<SocketAddr>,
    /// Meter bytes from elsewhere instead of the synthetic meter: `file:PATH`, `tcp:HOST:PORT`
    /// or `serial:/dev/ttyUSB0` (115200 8N1 for P1, 9600/1200 7E1 for TIC by `--meter`).
    #[arg(long)]
    pub feed: Option<String>,
    /// Stop after this much device time (e.g. `90s`, `1h`); default: run until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Millis>,
    /// Folder for the device's persistent settings, label seed and keys (default: a folder
    /// per serial in the temp dir); kept owner-only (0700, secrets 0600).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// A Wi-Fi network in range of the device (2.4 GHz, with DHCP): `SSID` for an open one,
    /// `SSID:PSK` (split at the first colon; PSK 8..63 printable ASCII characters).
    /// Repeatable; adds to a scenario's `device.wifi`. Without one the simulated LAN has no
    /// Wi-Fi, and settings that select Wi-Fi leave the device without an address.
    #[arg(long = "wifi", value_name = "SSID[:PSK]", value_parser = lan::parse_wifi)]
    pub wifi: Vec<crate::device::network::WifiNetwork>,
    /// Start from factory settings: the settings saved in the state folder by an earlier run
    /// are discarded (the log names the file and what it held). The label password stays.
    #[arg(long)]
    pub factory_reset: bool,
    /// Plant a firmware bug from the defect catalogue (repeatable; for testing test suites).
    /// Needs a binary built with the `defects` feature.
    #[arg(long = "defect", hide = true, value_parser = crate::cli::parse_defect)]
    pub defects: Vec<crate::cli::DefectName>,
}

fn parse_meter(s: &str) -> Result<MeterKind, RunError> {
    MeterKind::from_name(s).ok_or_else(|| RunError::UnknownMeter {
        name: s.to_string(),
    })
}

/// Everything `run` decided before starting.
struct Plan {
    scenario: Option<Scenario>,
    kind: MeterKind,
    seed: u64,
    variant: Variant,
    usb: bool,
    speed: Option<f64>,
    /// Time moves only when the bench rig says so (`--speed rig`).
    rig_time: bool,
    /// The simulated LAN: wired DHCP (or what the scenario's `device.network` says) plus the
    /// scenario's and `--wifi`'s Wi-Fi networks.
    lan: crate::device::network::Lan,
    /// The broker: `--mqtt`, else the scenario's `device.mqtt` URL, else `embedded`.
    mqtt: String,
    /// The scenario's `device.mqtt: off`: a device on factory settings starts with MQTT off.
    mqtt_off: bool,
}

fn plan(args: &RunArgs) -> Result<Plan, RunError> {
    let scenario = match &args.scenario {
        Some(p) => Some(scenario::load(p)?),
        None => None,
    };
    let kind = args
        .meter
        .or(scenario.as_ref().map(|s| s.meter_kind))
        .unwrap_or(MeterKind::Dsmr(
            crate::protocol::dsmr::DsmrKind::Smr5ThreePhase,
        ));
    let variant = match kind {
        MeterKind::Dsmr(_) => Variant::P1,
        MeterKind::Tic(_) => Variant::Tic,
    };
    let scenario_mqtt = scenario.as_ref().map(|s| &s.device.mqtt);
    let (mqtt, from) = match scenario_mqtt {
        Some(scenario::Mqtt::Url(u)) if args.mqtt == "embedded" => {
            (u.clone(), "the scenario's device.mqtt")
        }
        _ => (args.mqtt.clone(), "--mqtt"),
    };
    if mqtt != "embedded" {
        crate::adapters::mqtt::BrokerUrl::parse(&mqtt).map_err(|e| RunError::BrokerUrl {
            flag: from,
            url: mqtt.clone(),
            source: e,
        })?;
    }
    let mqtt_off = matches!(scenario_mqtt, Some(scenario::Mqtt::Off));
    if args.summary.is_some() && args.feed.is_some() {
        return Err(RunError::SummaryNeedsHouse);
    }
    let rig_time = args.speed == "rig";
    if rig_time && args.rig.is_none() {
        return Err(RunError::RigSpeedNeedsRig);
    }
    if rig_time
        && !args
            .feed
            .as_deref()
            .is_some_and(|f| f.starts_with("tcp:") || f.starts_with("serial:"))
    {
        return Err(RunError::RigSpeedNeedsFeed);
    }
    let speed = match args.speed.as_str() {
        "max" | "rig" => None,
        s => Some(
            s.parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0)
                .ok_or_else(|| RunError::Speed {
                    given: s.to_string(),
                })?,
        ),
    };
    let lan = lan::lan(scenario.as_ref(), &args.wifi)?;
    Ok(Plan {
        lan,
        mqtt,
        mqtt_off,
        seed: args.seed.or(scenario.as_ref().map(|s| s.seed)).unwrap_or(1),
        usb: scenario.as_ref().is_none_or(|s| s.device.usb_power),
        scenario,
        kind,
        variant,
        speed,
        rig_time,
    })
}

pub fn run(args: &RunArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| DEFAULT_LOG.into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("smart-connect-sim run: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smart-connect-sim run: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(serve(args, plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smart-connect-sim run: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: &RunArgs, plan: Plan) -> Result<(), RunError> {
    let serial = Identity::from_seed(plan.seed).serial;
    let start = plan
        .scenario
        .as_ref()
        .map_or_else(|| SystemClock::new(1.0).now(), |s| s.start);
    let (clock, pace, virtual_clock, speed_clock): (
        Arc<dyn Clock>,
        Pace,
        Option<VirtualClock>,
        Option<Arc<SpeedClock>>,
    ) = match plan.speed {
        Some(speed) => {
            let c = Arc::new(SpeedClock::new(start, speed));
            (c.clone(), Pace::RealTime(c.clone()), None, Some(c))
        }
        None => {
            let c = VirtualClock::new(start);
            (Arc::new(c.clone()), Pace::Max(c.clone()), Some(c), None)
        }
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("smart-connect-sim-{serial}")));
    let file_store = FileStore::new(state_dir.join("config.json"));
    state::prepare(&state_dir, &file_store)?;
    let origin = settings::take(&file_store, args.factory_reset)?;
    let origin = settings::scenario_mqtt_off(&file_store, origin, plan.mqtt_off)?;
    // The serial and MAC replay `--seed`; the label password belongs to this installation.
    let identity = Identity::with_label_seed(plan.seed, state::label_seed(&state_dir)?);
    let store: Box<dyn ConfigStore> = Box::new(file_store);
    let mut hw = DeviceConfig::new(plan.variant);
    hw.identity = identity.clone();
    hw.lan = plan.lan.clone();
    #[cfg(feature = "defects")]
    {
        hw.defects = args.defects.iter().copied().collect();
        crate::defects::warn_if_any(&hw.defects);
    }
    let fresh_hw = hw.clone();
    let host = Host::new(hw, Some(store), clock);
    let settings_lines = settings::banner_lines(
        &origin,
        &state_dir,
        host.config_report().recovered.as_deref(),
        &host.with_device(|d| d.config().clone()),
        &plan.lan,
        identity.mac,
    );
    let listener = tokio::net::TcpListener::bind(args.modbus)
        .await
        .map_err(|e| RunError::bind(args.modbus, e))?;
    let modbus = ModbusServer::start(Arc::clone(&host), listener).map_err(RunError::Modbus)?;
    let p1_stream = match args.p1_tcp {
        Some(addr) if plan.variant != Variant::P1 => {
            return Err(RunError::P1TcpNotP1 {
                addr,
                variant: plan.variant,
                meter: plan.kind,
            });
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| RunError::bind(addr, e))?;
            Some(P1Stream::start(Arc::clone(&host), listener)?)
        }
        None => None,
    };
    let web = start_web(&host, &identity, &state_dir, args).await?;
    let _mdns = if args.mdns {
        let ip = if args.http.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            args.http.ip()
        };
        let info =
            crate::adapters::mdns::service(&identity.serial, ip, web.http.local_addr().port())?;
        Some(crate::adapters::mdns::Advertiser::start(info)?)
    } else {
        None
    };
    let mqtt = start_mqtt(&host, &identity, &state_dir, args, &plan.mqtt, plan.seed)?;
    let house = match args.feed {
        None => {
            let account = mqtt.broker.as_ref().map(|b| {
                (
                    b.plain_addr(),
                    (b.installer().0.to_string(), b.installer().1.to_string()),
                )
            });
            Some(
                house::start(
                    args,
                    &plan,
                    &host,
                    speed_clock,
                    start,
                    account,
                    &identity.serial,
                )
                .await?,
            )
        }
        Some(_) => None,
    };
    let mut lines = mqtt.lines.clone();
    lines.extend(house.iter().flat_map(|h| h.lines.iter().cloned()));
    let web_line = format!(
        "http://{}  https://{}  (CA {})",
        web.http.local_addr(),
        web.https.local_addr(),
        web.ca.display()
    );
    banner(
        &plan,
        &identity,
        modbus.local_addr(),
        &web_line,
        &lines,
        &settings_lines,
        args,
    );
    if let Some(p1) = &p1_stream {
        println!("  P1 stream    tcp://{}  (raw telegrams, P1 ext copy; Home Assistant DSMR \"network\", evcc, dsmr-reader)", p1.local_addr());
    }
    let effects = host.effects();
    let (stop_log, log_stop) = tokio::sync::oneshot::channel();
    let log = tokio::spawn(log_effects(Arc::clone(&host), effects, log_stop));
    host.handle(Event::Power(PowerInputs {
        usb: plan.usb,
        p1_supply: plan.kind.supplies_p1_power(),
    }));
    if plan.speed.is_some() {
        tokio::spawn(tick_loop(Arc::clone(&host), pace.clone()));
    }
    let until = args.duration.map(|d| start + d);
    // At `--speed max` with a duration: a progress bar in device time (on a terminal only).
    let progress = match (&pace, until) {
        (Pace::Max(_), Some(to)) => Some(tokio::spawn(show_progress(Arc::clone(&host), start, to))),
        _ => None,
    };
    let fed = FeedCounter::default();
    let feed = match &house {
        Some(h) => house::feed(h, &plan, pace.clone(), until),
        None => feed_task(args, &plan, Arc::clone(&host), pace.clone(), fed.clone())?,
    };
    let _rig = match args.rig {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| RunError::bind(addr, e))?;
            let rig = Rig {
                host: Arc::clone(&host),
                hw: fresh_hw,
                clock: virtual_clock.filter(|_| plan.rig_time),
                fed,
                broker: mqtt.broker.clone(),
                watch: mqtt.watch.clone(),
                own_broker: mqtt.own_broker.clone(),
                modbus: modbus.local_addr(),
                http: format!("http://{}", web.http.local_addr()),
                https: format!("https://{}", web.https.local_addr()),
                https_ca_pem: std::fs::read_to_string(&web.ca).map_err(RunError::file(&web.ca))?,
                token: rig_token(args.rig_token.as_deref(), &state_dir)?,
            };
            println!(
                "  bench rig    http://{}/rig  token {} (also in {})",
                listener.local_addr().map_err(RunError::LocalAddr)?,
                rig.token,
                state_dir.join("rig-token").display()
            );
            Some(crate::adapters::rig::serve(rig, listener))
        }
        None => None,
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            r.map_err(RunError::Signal)?;
            tracing::info!("Ctrl-C: stopping ({})", telegram_totals(&host));
        }
        () = feed => {
            match until {
                Some(u) => {
                    pace.until(u).await;
                    tracing::info!(
                        "{} s of device time done: stopping ({})",
                        args.duration.unwrap_or(0) / 1000,
                        telegram_totals(&host)
                    );
                }
                None => {
                    tracing::info!("meter feed ended; still serving (Ctrl-C to stop)");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    // Every effect the device made so far is logged before the process ends.
    let _ = stop_log.send(());
    let _ = log.await;
    if let (Some(h), Some(path)) = (&house, &args.summary) {
        house::write_summary(h, path)?;
    }
    drop(modbus);
    drop(web);
    drop(mqtt);
    Ok(())
}

/// `N telegrams read, M rejected` since the device last booted: the log samples
/// telegram lines at high speed, so the last line gives the totals.
fn telegram_totals(host: &Host) -> String {
    let now = crate::time::Instant::from_epoch_ms(host.now());
    let m = host.with_device(|d| d.status(now).meter);
    format!(
        "{} telegrams read, {} rejected since the device booted",
        m.telegrams_ok, m.telegrams_rejected
    )
}

/// Meter bytes from `--feed` (the synthetic meter is the live house's: `house.rs`).
fn feed_task(
    args: &RunArgs,
    plan: &Plan,
    host: Arc<Host>,
    pace: Pace,
    fed: FeedCounter,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>, RunError> {
    Ok(match args.feed.as_deref() {
        None => return Err(RunError::NoFeed),
        Some(f) if f.starts_with("file:") => {
            let path = &f[5..];
            let bytes = std::fs::read(path).map_err(|source| RunError::FeedRead {
                feed: f.to_string(),
                source,
            })?;
            Box::pin(feed_file(host, bytes, pace, plan.kind.interval_ms()))
        }
        Some(f) if f.starts_with("tcp:") => {
            let addr = f[4..].to_string();
            Box::pin(async move {
                if let Err(e) = feed_tcp(host, addr.clone(), fed).await {
                    tracing::error!("meter feed tcp:{addr}: {e}");
                }
            })
        }
        Some(f) if f.starts_with("serial:") => {
            let path = f[7..].to_string();
            let kind = plan.kind;
            Box::pin(async move {
                if let Err(e) = feed_serial(host, path.clone(), kind).await {
                    tracing::error!("meter feed serial:{path}: {e}");
                }
            })
        }
        Some(f) => {
            return Err(RunError::FeedKind {
                feed: f.to_string(),
            })
        }
    })
}

/// The rig's token: the given one, or a new random one; written to `<state>/rig-token` (0600)
/// either way so hook scripts can read it.
fn rig_token(given: Option<&str>, state_dir: &std::path::Path) -> Result<String, RunError> {
    use rand::Rng;
    let token = match given {
        Some(t) if t.is_empty() || t.chars().any(|c| c.is_control() || c == ' ') => {
            return Err(RunError::RigToken)
        }
        Some(t) => t.to_string(),
        None => {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| format!("{:x}", rng.random_range(0..16u8)))
                .collect()
        }
    };
    let path = state_dir.join("rig-token");
    write_private(&path, token.as_bytes()).map_err(RunError::file(&path))?;
    Ok(token)
}

/// Write a file only its owner can read (0600 on Unix), replacing an older one.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(bytes)
}

/// Show how far `--speed max` is in device time, four times a second of wall time (the bar
/// is for the person watching; the device's time is not affected).
async fn show_progress(host: Arc<Host>, from: Millis, to: Millis) {
    let bar = Progress::meter_time("run --speed max", from, to);
    let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        every.tick().await;
        let now = host.now();
        bar.at(now);
        if now >= to {
            return;
        }
    }
}
