//! Scenario files (`scenarios/*.yaml`, design §4): a named, seeded meter with its household
//! load, scheduled faults and device settings, strictly validated. Every error names the
//! file, line, column and field: `scenarios/x.yaml:11:40: load[2].ev.amps: must be between 6
//! and 32 A, got 99`.
//!
//! ```yaml
//! name: ev-charging-evening
//! seed: 42
//! variant: p1            # p1 | tic (default: from the meter)
//! meter: smr5            # MeterKind names: smr5, smr5-1ph, dsmr42, emucs, tic-historic, …
//! phases: 3              # 1 | 3 (default: the meter's); picks the 1-/3-phase model
//! duration: 2h
//! start: 2026-03-29T00:30:00+01:00   # RFC 3339 with offset
//! site: {tariff_region: nl, latitude: 52.1, longitude: 5.2}   # defaults: from the meter
//! load:
//!   - base: {watts: 350, noise: 0.1}
//!   - pv:   {peak_watts: 4200, sunrise: "07:10", sunset: "19:40"}
//!   - ev:   {start: "18:00", amps: 16, phases: 3, minutes: 90}
//!   - imbalance: {l1: 1.2, l2: 1.0, l3: 0.8}
//! mbus:                  # water/heat meters besides gas (channel 1); P1 meters only
//!   water: {channel: 2, persons: 3}     # device type 7, m³
//!   heat: {channel: 3, annual_gj: 25}   # district heating, GJ (not on emucs)
//! faults:                # bad_crc | truncate | noise (bytes) | garbage (bytes)
//!   - {at: 10m, kind: bad_crc}          # | dropout (duration) | incompatible
//!   - {at: 20m, kind: dropout, duration: 45s}   # | clock_skew (seconds)
//! device: {usb_power: true, network: dhcp, mqtt: embedded}   # network: dhcp|static|none
//!                                                             # mqtt: embedded|off|URL
//!   # wifi: [{ssid: Zolder, psk: geheim-wachtwoord, dhcp: true}]  (networks in range)
//! house:                 # the live house at the start (`run`): the control API's vocabulary
//!   fuse: {amps: 25, trip: true}
//!   ev: {on: false, amps: 16, phases: 3, delay_s: 1, ramp_s: 5}
//! setpoint: modbus       # who may move the EV set-point: any | http | modbus | mqtt | events
//! events:                # changes to the live house at times from the start
//!   - {at: 5m, ev: {on: true}}
//! ```
//!
//! Validation runs in two passes: the first reads `variant`, `meter` and `phases`; the second
//! reads everything, checking each value against them where it stands (see `de/mod.rs`).

mod de;
#[cfg(test)]
mod mbus_tests;
#[cfg(test)]
mod site_tests;
#[cfg(test)]
mod tests;

use crate::device::network::{Lan, WifiNetwork};
use crate::protocol::MeterKind;
use crate::sim::clock::Millis;
use crate::sim::faults::{Fault, FaultError, FaultyMeter};
use crate::sim::generator::{Load, LoadComponent, MbusMeters, Site, SyntheticMeter};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Which Smart Connect variant the scenario runs (the device's own type).
pub use crate::device::Variant;
pub use de::SetPointSource;

/// The wired LAN around the device (`device.network`): a DHCP server (`dhcp`), none so the
/// device needs a static address in its settings or falls back to link-local (`static`), or
/// no cable at all (`none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[default]
    Dhcp,
    Static,
    /// No network cable / link.
    None,
}

/// Which MQTT broker the device talks to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mqtt {
    /// The simulator's embedded broker.
    #[default]
    Embedded,
    /// MQTT disabled in the settings a device on factory settings starts with.
    Off,
    /// An external broker, e.g. `mqtts://broker.local:8883`.
    Url(String),
}

/// A 2.4 GHz Wi-Fi network in range of the device (`device.wifi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiSetting {
    pub ssid: String,
    /// WPA2 password; empty: an open network.
    pub psk: String,
    /// A DHCP server answers on it.
    pub dhcp: bool,
}

impl WifiSetting {
    /// The network on the simulated LAN.
    pub fn network(&self) -> WifiNetwork {
        WifiNetwork {
            ssid: self.ssid.clone(),
            password: self.psk.clone(),
            band_ghz: 2.4,
            dhcp: self.dhcp,
        }
    }
}

/// Device settings at the start of the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSettings {
    pub usb_power: bool,
    pub network: Network,
    pub mqtt: Mqtt,
    /// Wi-Fi networks in range (the simulated LAN's).
    pub wifi: Vec<WifiSetting>,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings {
            usb_power: true,
            network: Network::Dhcp,
            mqtt: Mqtt::Embedded,
            wifi: Vec::new(),
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub variant: Variant,
    /// The meter model (after `phases` picked the one- or three-phase model).
    pub meter_kind: MeterKind,
    pub phases: u8,
    pub duration_ms: i64,
    /// First telegram, UTC epoch ms.
    pub start: Millis,
    /// Tariff region and location of the meter.
    pub site: Site,
    pub load: Vec<LoadComponent>,
    /// Water and heat meters on the meter's other M-Bus channels (none by default).
    pub mbus: MbusMeters,
    pub faults: Vec<Fault>,
    pub device: DeviceSettings,
    /// The live house's starting point (`house:`, the control API's change vocabulary).
    pub house: Option<serde_json::Value>,
    /// Who may move the EV set-point while `run` runs.
    pub setpoint: SetPointSource,
    /// Changes to the live house at times from the start (ms), in order.
    pub events: Vec<(Millis, serde_json::Value)>,
}

impl Scenario {
    /// The scenario's meter with its faults.
    ///
    /// # Panics
    /// When the fault list does not fit the meter (`incompatible` on a TIC meter), which
    /// [`load`] rules out; use [`try_meter`](Self::try_meter) for hand-built scenarios.
    pub fn meter(&self) -> FaultyMeter {
        self.try_meter()
            .expect("the faults of a loaded scenario fit its meter")
    }

    /// The scenario's meter with its faults, or why the faults do not fit the meter.
    pub fn try_meter(&self) -> Result<FaultyMeter, FaultError> {
        FaultyMeter::new(self.synthetic_meter(), self.faults.clone())
    }

    /// The scenario's meter without faults.
    pub fn synthetic_meter(&self) -> SyntheticMeter {
        SyntheticMeter::at_site(
            self.meter_kind,
            Load::Household(self.load.clone()),
            self.seed,
            self.start,
            self.site,
        )
        .with_mbus(self.mbus)
    }

    /// The LAN around the device: the wired LAN `device.network` describes (DHCP, no DHCP
    /// server, or no cable) with the scenario's Wi-Fi networks in range.
    pub fn lan(&self) -> Lan {
        Lan {
            wifi: self.device.wifi.iter().map(WifiSetting::network).collect(),
            ethernet_link: self.device.network != Network::None,
            dhcp: self.device.network == Network::Dhcp,
            ..Lan::default()
        }
    }

    /// End of the scenario (exclusive), UTC epoch ms.
    pub fn end(&self) -> Millis {
        self.start.saturating_add(self.duration_ms)
    }
}

/// Why a scenario file was refused: `path:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based; `None` when the error is not about a place in the file (cannot read it).
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Starts with the field path (`load[2].ev.amps: …`) when the error is inside a field.
    pub message: String,
}

impl ScenarioError {
    fn from_yaml(path: &Path, e: &yaml_serde::Error) -> Self {
        let mut message = e.to_string();
        let loc = e.location();
        if let Some(l) = &loc {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(m) = message.strip_suffix(&suffix) {
                message = m.to_string();
            }
        }
        ScenarioError {
            path: path.to_path_buf(),
            line: loc.as_ref().map(yaml_serde::Location::line),
            column: loc.as_ref().map(yaml_serde::Location::column),
            message,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}:{}", self.column.unwrap_or(1))?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Read and validate a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read the scenario file: {e}"),
    })?;
    parse(&text, path)
}

/// Validate scenario `text`; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let err = |e: yaml_serde::Error| ScenarioError::from_yaml(path, &e);
    let head: de::Head = yaml_serde::from_str(text).map_err(err)?;
    let meter = head.meter.map(|m| m.0);
    let kind = meter
        .and_then(|m| de::with_phases(m, head.phases.map_or(m.phases(), |p| usize::from(p.0))));
    let ctx = de::Context {
        variant: head.variant,
        meter,
        kind,
    };
    let file: de::ScenarioFile =
        de::with_context(ctx, || yaml_serde::from_str(text)).map_err(err)?;
    let named = file.meter.0;
    let phases = file.phases.map_or(named.phases(), |p| usize::from(p.0));
    let meter_kind = de::with_phases(named, phases).expect("checked while reading `phases`");
    Ok(Scenario {
        name: file.name.0,
        seed: file.seed,
        variant: file.variant.unwrap_or(de::variant_of(meter_kind)),
        meter_kind,
        phases: meter_kind.phases() as u8,
        duration_ms: file.duration.0,
        start: file.start.0,
        site: file.site.site(meter_kind),
        load: file.load.into_iter().map(|l| l.0).collect(),
        mbus: file.mbus.0,
        faults: file.faults.into_iter().map(|f| f.0).collect(),
        device: file.device.into(),
        house: file.house.map(|h| h.0),
        setpoint: file.setpoint,
        events: {
            let mut e: Vec<_> = file.events.into_iter().map(|e| (e.0, e.1)).collect();
            e.sort_by_key(|e| e.0);
            e
        },
    })
}
