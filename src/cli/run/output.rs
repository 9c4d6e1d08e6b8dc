//! What `run` prints: the banner (what runs where) and the log of what the device does, with
//! device time on every line.

use super::{Plan, RunArgs};
use crate::adapters::host::{Host, FACTORY_RESET_HINT};
use crate::device::identity::Identity;
use crate::device::Effect;
use std::net::SocketAddr;
use std::sync::Arc;

/// What `run` logs unless `RUST_LOG` says otherwise. Normal events of the libraries are not
/// errors here: rumqttd logs every subscriber that leaves as an ERROR `router-drop`, and rustls
/// warns about every client that sends an IP address as SNI (`mosquitto_sub -h 127.0.0.1`).
pub(super) const DEFAULT_LOG: &str =
    "info,rumqttd=warn,rumqttd::server::broker=off,rumqttc=warn,rustls::msgs::handshake=error";

pub(super) fn banner(
    plan: &Plan,
    id: &Identity,
    modbus: SocketAddr,
    web: &str,
    mqtt_lines: &[String],
    settings_lines: &[String],
    args: &RunArgs,
) {
    let feed = args
        .feed
        .clone()
        .unwrap_or_else(|| format!("synthetic {} meter, seed {}", plan.kind.name(), plan.seed));
    println!(
        "Virtual Smart Connect {} — serial {}",
        plan.variant.label(),
        id.serial
    );
    println!("  meter        {feed}");
    if let Some(s) = &plan.scenario {
        println!("  scenario     {} ({} faults)", s.name, s.faults.len());
    }
    println!(
        "  power        {}",
        if plan.usb { "USB-C" } else { "P1 port only" }
    );
    println!("  Modbus TCP   {modbus}  (EMPro map: 0x8006 V L1 … 0x8016 total W, CD-AB floats)");
    println!("  web / API    {web}");
    for line in mqtt_lines {
        println!("  {line}");
    }
    println!("  HTTP login   user / {}", id.label_password);
    println!(
        "  hostname     {}  ({})",
        id.hostname(),
        if args.mdns {
            "mDNS: advertised as smart-connect.local"
        } else {
            "mDNS off; --mdns advertises smart-connect.local"
        }
    );
    println!(
        "  speed        {}",
        if plan.rig_time {
            "moved by the bench rig".to_string()
        } else if plan.speed.is_none() {
            "max".to_string()
        } else {
            format!("{}x", args.speed)
        }
    );
    for line in settings_lines {
        println!("  {line}");
    }
    for w in &plan.lan.wifi {
        let psk = if w.password.is_empty() {
            "open"
        } else {
            "WPA2"
        };
        println!("  Wi-Fi        {:?} in range ({psk}, 2.4 GHz)", w.ssid);
    }
    println!("  Ctrl-C stops.");
}

/// Log what the device does, with device time: a telegram line at most once a second (with
/// how many were read and rejected since the last one), rejections, meter state, LED,
/// reboots, power.
///
/// When `stop` fires, what the device did before is still logged (the effects already sent
/// are drained), then the task ends: at `--speed max` a short run is over before this task
/// first runs, and its lines must not be lost.
pub(super) async fn log_effects(
    host: Arc<Host>,
    mut rx: tokio::sync::broadcast::Receiver<Arc<Effect>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut lines = crate::adapters::rate_log::RateLog::new(std::time::Duration::from_secs(1));
    let mut rejected = 0u64;
    let at = |host: &Host| crate::sim::clock::rfc3339(host.now());
    let mut stopping = false;
    loop {
        let next = if stopping {
            match rx.try_recv() {
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n))
                }
                Err(_) => return,
                Ok(e) => Ok(e),
            }
        } else {
            tokio::select! {
                biased;
                e = rx.recv() => e,
                _ = &mut stop => {
                    stopping = true;
                    continue;
                }
            }
        };
        match next {
            Ok(e) => match &*e {
                Effect::Measurement(r) => {
                    if let Some(n) = lines.note(1) {
                        tracing::info!(
                            "[{}] telegram: {} W total ({:?} {}; {n} read, {rejected} rejected since the last line)",
                            at(&host),
                            r.active_power_w.unwrap_or(0.0),
                            r.protocol,
                            r.version.as_deref().unwrap_or(""),
                        );
                        rejected = 0;
                    }
                }
                Effect::TelegramRejected(err) => {
                    rejected += 1;
                    tracing::warn!("[{}] telegram rejected: {err}", at(&host))
                }
                Effect::MeterStateChanged(s) => tracing::info!("[{}] meter: {s:?}", at(&host)),
                Effect::Led(p) => tracing::info!("[{}] LED: {p:?}", at(&host)),
                Effect::NetworkProblem(Some(p)) => {
                    // The way out only where factory settings would change something.
                    match host.with_device(|d| d.active_config().is_factory()) {
                        true => tracing::warn!("[{}] network: {p}", at(&host)),
                        false => tracing::warn!(
                            "[{}] network: {p}; no address with these settings: \
                             {FACTORY_RESET_HINT}",
                            at(&host)
                        ),
                    }
                }
                Effect::NetworkProblem(None) => {
                    tracing::info!("[{}] network: link up again", at(&host))
                }
                Effect::Rebooted => tracing::info!("[{}] device (re)booting", at(&host)),
                Effect::PoweredOff => tracing::info!("[{}] device powered off", at(&host)),
                _ => {}
            },
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!("log skipped {n} events")
            }
            Err(_) => return,
        }
    }
}
