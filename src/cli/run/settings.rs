//! The saved settings at `run`'s start: `--factory-reset` discards them (logged with the file
//! and what it held), otherwise they are carried over from the last run of this state folder;
//! the banner says which, and warns when carried-over settings select a Wi-Fi network the
//! simulated LAN does not offer (the device would get no address).

use super::RunError;
use crate::adapters::file_store::FileStore;
use crate::device::config::{Config, IpMode, NetIf};
use crate::device::network::{Lan, Network};
use crate::device::store::ConfigStore;
use crate::time::Instant;
use std::path::{Path, PathBuf};

/// Where the settings the device starts with come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    /// Nothing was saved in this state folder.
    Factory,
    /// `--factory-reset` removed this file.
    Discarded(PathBuf),
    /// The file an earlier run saved, with its modification time (UTC, RFC 3339).
    CarriedOver { path: PathBuf, saved: String },
    /// Factory settings but MQTT off, as the scenario's `device.mqtt: off` says (saved like a
    /// change on the device's page); `discarded` is what `--factory-reset` removed.
    ScenarioMqttOff { discarded: Option<PathBuf> },
}

/// Before the device loads its store: with `reset`, remove the saved settings (logging the
/// file and what it held); otherwise note whether there are any.
pub(super) fn take(store: &FileStore, reset: bool) -> Result<Origin, RunError> {
    let path = store.path().to_path_buf();
    let saved = match std::fs::metadata(&path) {
        Ok(m) => m.modified().ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if reset {
                tracing::info!(
                    "--factory-reset: no saved settings in {}; starting from factory settings",
                    path.display()
                );
            }
            return Ok(Origin::Factory);
        }
        Err(e) => return Err(RunError::file(path)(e)),
    };
    if !reset {
        let saved = saved
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .map_or_else(|| "time unknown".into(), crate::sim::clock::rfc3339);
        return Ok(Origin::CarriedOver { path, saved });
    }
    let held = match FileStore::new(&path).load() {
        Ok(Some(c)) => describe(&c),
        Ok(None) => "nothing".into(),
        Err(e) => format!("unreadable settings: {}", e.cause()),
    };
    std::fs::remove_file(&path).map_err(|source| RunError::FactoryReset {
        path: path.clone(),
        source,
    })?;
    tracing::warn!(
        "--factory-reset: discarded the saved settings {} ({held}); starting from factory settings",
        path.display()
    );
    Ok(Origin::Discarded(path))
}

/// A scenario's `device.mqtt: off`: a device that starts from factory settings starts with
/// MQTT disabled (saved in `store`, as if switched off on its page). Settings carried over
/// from an earlier run win, and the log says so.
pub(super) fn scenario_mqtt_off(
    store: &FileStore,
    origin: Origin,
    off: bool,
) -> Result<Origin, RunError> {
    if !off {
        return Ok(origin);
    }
    let discarded = match origin {
        Origin::Factory => None,
        Origin::Discarded(p) => Some(p),
        carried => {
            tracing::info!(
                "the scenario's device.mqtt: off is not applied: the settings carried over from an earlier run win (start with --factory-reset to apply it)"
            );
            return Ok(carried);
        }
    };
    let mut c = Config::default();
    c.mqtt.enabled = false;
    FileStore::new(store.path())
        .save(&c)
        .map_err(RunError::SaveMqttOff)?;
    Ok(Origin::ScenarioMqttOff { discarded })
}

/// The settings in a few words: the connection and MQTT.
pub(super) fn describe(c: &Config) -> String {
    let ip = |m: IpMode| {
        if m == IpMode::Static {
            "static IP"
        } else {
            "DHCP"
        }
    };
    let net = match c.default_net_if {
        NetIf::Ethernet => format!("Ethernet, {}", ip(c.ethernet.ip_mode)),
        NetIf::WiFi => format!("Wi-Fi {:?}, {}", c.wifi.ssid, ip(c.wifi.ip_mode)),
    };
    let mqtt = if c.mqtt.enabled {
        format!("MQTT to {}", c.mqtt.broker)
    } else {
        "MQTT off".into()
    };
    format!("{net}; {mqtt}")
}

/// The banner's lines about the settings: where they come from, and a warning when they
/// cannot bring the device onto `lan`.
pub(super) fn banner_lines(
    origin: &Origin,
    dir: &Path,
    recovered: Option<&str>,
    loaded: &Config,
    lan: &Lan,
    mac: [u8; 6],
) -> Vec<String> {
    let mut lines = vec![format!("state dir    {}", dir.display())];
    lines.push(match (origin, recovered) {
        (_, Some(name)) => format!(
            "!! settings  the saved configuration was corrupt: kept as {name}; running on factory settings"
        ),
        (Origin::Factory, None) => "settings     factory defaults".into(),
        (Origin::ScenarioMqttOff { discarded }, None) => format!(
            "settings     factory defaults with MQTT off (the scenario's device.mqtt: off){}",
            discarded.as_ref().map_or_else(String::new, |p| format!(
                "; --factory-reset discarded {}",
                p.display()
            ))
        ),
        (Origin::Discarded(p), None) => format!(
            "settings     factory defaults (--factory-reset discarded {})",
            p.display()
        ),
        (Origin::CarriedOver { path, .. }, None) if loaded.is_factory() => format!(
            "settings     factory defaults (as saved in {})",
            path.display()
        ),
        (Origin::CarriedOver { path, saved }, None) => format!(
            "settings     carried over from {} (saved {saved}; {}); start with --factory-reset to discard them",
            path.display(),
            describe(loaded)
        ),
    });
    if matches!(origin, Origin::CarriedOver { .. }) && recovered.is_none() {
        let network = Network::start(
            crate::device::net_settings(loaded),
            lan.clone(),
            mac,
            Instant::EPOCH,
        );
        if let Some(p) = network.problem() {
            lines.push(format!(
                "!! network   {p}; the device will get no address with these settings \
                 (start with --factory-reset to discard them)"
            ));
        }
    }
    lines
}
