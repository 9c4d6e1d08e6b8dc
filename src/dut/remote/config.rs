//! The target file (`--target remote.yaml`): where a remote Smart Connect serves Modbus,
//! HTTP and MQTT, how the harness puts telegrams on its meter input, what the bench can do
//! to it (a rig endpoint, hook commands, or an operator with `interactive`), and what the
//! device implements (its conformance statement). Strict: unknown keys are errors, reported
//! with file, line and column. Paths are relative to the file's folder.

use super::error::TargetFileError;
use super::watch::Watch;
use crate::device::Variant;
use crate::dut::OwnBroker;
use crate::protocol::MeterKind;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A whole target file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// One line for reports ("bench 2: Smart Connect P1, firmware 1.4.2").
    #[serde(default)]
    pub description: Option<String>,
    /// The firmware version under test, for the report (`1.4.2`).
    #[serde(default)]
    pub firmware: Option<String>,
    /// `p1` or `tic`; asked from the rig when absent.
    #[serde(default)]
    pub variant: Option<String>,
    /// Meter kinds the bench can present (`smr5`, `dsmr42`, `tic-historic`, …); default all.
    #[serde(default)]
    pub meters: Option<Vec<String>>,
    /// What the device's label says; asked from the rig when absent.
    #[serde(default)]
    pub label: Option<Label>,
    /// `HOST:PORT` of the Modbus TCP server (port 502 on a real device).
    #[serde(default)]
    pub modbus: Option<String>,
    /// `http://HOST[:PORT]` of the web interface and API.
    #[serde(default)]
    pub http: Option<String>,
    /// `https://HOST[:PORT]`.
    #[serde(default)]
    pub https: Option<String>,
    /// The CA certificate (PEM file) that signed the device's HTTPS certificate.
    #[serde(default)]
    pub https_ca: Option<PathBuf>,
    /// A second local address to act as "another client" from (API sessions).
    #[serde(default)]
    pub second_client_addr: Option<IpAddr>,
    /// Where to watch the device's MQTT messages.
    #[serde(default)]
    pub mqtt: Option<MqttWatchFile>,
    /// An installer's own broker with an account for the device (MQ-07).
    #[serde(default)]
    pub own_broker: Option<OwnBroker>,
    /// How telegrams reach the device's meter input.
    pub feed: Feed,
    /// Where the bench reads the device's P1 ext output (otherwise the rig's, if any).
    #[serde(default)]
    pub p1_ext: Option<super::p1_ext::P1ExtSource>,
    /// Real-time mode: how long to let the device digest bytes before looking (ms).
    #[serde(default = "default_settle")]
    pub settle_ms: u64,
    /// Real-time mode: how long the device takes from power-on (or `fresh`) until it serves
    /// Modbus and reads the meter (ms).
    #[serde(default = "default_boot")]
    pub boot_ms: u64,
    /// Real-time mode: the longest time from a telegram's last byte until its values show
    /// in the registers (ms). Steps that expect new values poll until then.
    #[serde(default = "default_latency")]
    pub max_latency_ms: u64,
    /// A bench rig speaking the rig protocol (`run --rig`), e.g. `http://127.0.0.1:7100`.
    #[serde(default)]
    pub rig: Option<String>,
    /// The token `run --rig` printed (default: the `SMART_CONNECT_RIG_TOKEN` environment
    /// variable).
    #[serde(default)]
    pub rig_token: Option<String>,
    /// Commands for what the bench can do; they take precedence over the rig.
    #[serde(default)]
    pub hooks: Hooks,
    /// Ask the operator on the terminal for what no hook or rig does.
    #[serde(default)]
    pub interactive: bool,
    /// Override what the bench is taken to be able to do (e.g. a lab rig that implements
    /// only part of the rig protocol: `{led: false, update_server: false}`).
    #[serde(default)]
    pub capabilities: CapabilityOverrides,
    /// The folder of the file (relative paths).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_settle() -> u64 {
    300
}

fn default_boot() -> u64 {
    crate::conformance::steps::world::BOOT_WAIT_MS as u64
}

fn default_latency() -> u64 {
    1_000
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub serial: String,
    /// `AA:BB:CC:DD:EE:FF`.
    pub mac: String,
    pub password: String,
}

/// `mqtt:` in the target file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttWatchFile {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// PEM files.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// `capabilities:` in the target file: ability name (`led`, `p1_ext`, …) → whether the bench
/// has it, overriding what hooks, rig and operator would allow.
pub type CapabilityOverrides = std::collections::BTreeMap<String, bool>;

/// `caps` with the target file's overrides applied.
pub fn apply_overrides(
    overrides: &CapabilityOverrides,
    mut caps: crate::dut::Capabilities,
) -> crate::dut::Capabilities {
    for (name, has) in caps.fields_mut() {
        if let Some(v) = overrides.get(name) {
            *has = *v;
        }
    }
    caps
}

/// The telegram feed: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// Connect to a serial-to-TCP bridge (ser2net) at `HOST:PORT`.
    #[serde(default)]
    pub tcp: Option<String>,
    /// Listen at `HOST:PORT`; the device side connects (a simulator's `run --feed tcp:`).
    #[serde(default)]
    pub listen: Option<String>,
    /// A serial port wired to the meter input (DSMR 115200 8N1; TIC 9600 or 1200 7E1).
    #[serde(default)]
    pub serial: Option<String>,
    /// Serial speed override (default by variant and meter).
    #[serde(default)]
    pub baud: Option<u32>,
}

/// Hook commands, run with `sh -c` after `{placeholder}` substitution; a non-zero exit is
/// an error with the command's stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// `{usb}` and `{meter}` are `1`/`0`: switch USB-C power and the meter's P1 supply.
    pub power: Option<String>,
    /// `{state}` is `down` or `up`.
    pub button: Option<String>,
    /// Prints the LED colour now: red, green, blue, orange or off.
    pub led: Option<String>,
    /// `{utc_ms}`: set the device's clock.
    pub device_clock: Option<String>,
    /// Simulators only: `{until_ms}` (empty: do not move) after `{fed_bytes}` meter bytes
    /// arrived; prints the device time now (ms).
    pub time: Option<String>,
    /// Bring the device to factory settings, unpowered, before each scenario.
    pub fresh: Option<String>,
    /// `{version}` and `{good}` (`1`/`0`): stage a firmware image on the update server the
    /// device uses (a bad one fails verification).
    pub firmware: Option<String>,
}

impl RemoteConfig {
    /// Read and check a target file.
    pub fn load(path: &Path) -> Result<RemoteConfig, TargetFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = RemoteConfig::parse(&text).map_err(|e| TargetFileError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        cfg.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(cfg)
    }

    /// Parse target-file text; errors read `line:column: message`.
    pub fn parse(text: &str) -> Result<RemoteConfig, TargetFileError> {
        let cfg: RemoteConfig =
            yaml_serde::from_str(text).map_err(|source| TargetFileError::Yaml {
                at: source.location().map(|l| (l.line(), l.column())),
                source,
            })?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), TargetFileError> {
        let f = &self.feed;
        let n = [&f.tcp, &f.listen, &f.serial]
            .iter()
            .filter(|x| x.is_some())
            .count();
        if n != 1 {
            return Err(TargetFileError::FeedCount);
        }
        self.variant()?;
        self.meter_kinds()?;
        let names = crate::dut::Capabilities::default().fields().map(|(n, _)| n);
        if let Some(bad) = self
            .capabilities
            .keys()
            .find(|k| !names.contains(&k.as_str()))
        {
            return Err(TargetFileError::UnknownAbility {
                name: bad.clone(),
                valid: names.to_vec(),
            });
        }
        if self.rig.is_none() {
            if self.modbus.is_none() && self.http.is_none() && self.mqtt.is_none() {
                return Err(TargetFileError::NoInterface);
            }
            if self.label.is_none() && (self.http.is_some() || self.mqtt.is_some()) {
                return Err(TargetFileError::LabelRequired);
            }
            if self.variant.is_none() {
                return Err(TargetFileError::VariantRequired);
            }
        }
        Ok(())
    }

    /// The declared variant, if any.
    pub fn variant(&self) -> Result<Option<Variant>, TargetFileError> {
        match self
            .variant
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(None),
            Some("p1") => Ok(Some(Variant::P1)),
            Some("tic") => Ok(Some(Variant::Tic)),
            Some(other) => Err(TargetFileError::Variant {
                given: other.to_string(),
            }),
        }
    }

    /// The declared meter kinds, if any.
    pub fn meter_kinds(&self) -> Result<Option<Vec<MeterKind>>, TargetFileError> {
        self.meters
            .as_ref()
            .map(|names| {
                names
                    .iter()
                    .map(|n| {
                        MeterKind::from_name(n)
                            .ok_or_else(|| TargetFileError::UnknownMeter { name: n.clone() })
                    })
                    .collect()
            })
            .transpose()
    }

    /// A path from the file, relative to its folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// Read a PEM file named in the target file.
    pub fn read_pem(&self, p: &Path, what: &str) -> Result<String, TargetFileError> {
        let full = self.path(p);
        std::fs::read_to_string(&full).map_err(|source| TargetFileError::Pem {
            what: what.to_string(),
            path: full.clone(),
            source,
        })
    }

    /// The MQTT watch from the file, PEM files read.
    pub fn watch(&self) -> Result<Option<Watch>, TargetFileError> {
        let Some(m) = &self.mqtt else { return Ok(None) };
        let ca_pem =
            m.ca.as_deref()
                .map(|p| self.read_pem(p, "mqtt.ca"))
                .transpose()?;
        let client_pem = match (&m.cert, &m.key) {
            (Some(c), Some(k)) => Some((
                self.read_pem(c, "mqtt.cert")?,
                self.read_pem(k, "mqtt.key")?,
            )),
            (None, None) => None,
            _ => return Err(TargetFileError::CertWithoutKey),
        };
        Ok(Some(Watch {
            url: m.url.clone(),
            username: m.username.clone(),
            password: m.password.clone(),
            ca_pem,
            client_pem,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_overrides_win() {
        let c = RemoteConfig::parse(
            "rig: x\nfeed: {tcp: a}\ncapabilities: {led: false, p1_ext: false}\n",
        )
        .unwrap();
        let caps = apply_overrides(&c.capabilities, crate::dut::Capabilities::ALL);
        assert!(!caps.led && !caps.p1_ext && caps.power && caps.button);
        let e = RemoteConfig::parse("rig: x\nfeed: {tcp: a}\ncapabilities: {lde: false}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown ability \"lde\"") && e.contains("p1_ext"),
            "{e}"
        );
    }

    #[test]
    fn the_example_target_files_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/targets");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                let c = RemoteConfig::load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(c.dir, dir, "{}", p.display());
                n += 1;
            }
        }
        assert!(n >= 3, "only {n} example target files");
    }

    #[test]
    fn a_device_with_modbus_only_is_declared_without_http() {
        let c = RemoteConfig::parse(
            "variant: p1\nmodbus: 127.0.0.1:1502\nfeed: {tcp: 127.0.0.1:2001}\nboot_ms: 500\nmax_latency_ms: 1000\ncapabilities: {web: false}\n",
        )
        .unwrap();
        assert_eq!((c.boot_ms, c.max_latency_ms), (500, 1000));
        assert!(c.http.is_none() && c.label.is_none());
    }

    #[test]
    fn a_minimal_simulator_file_parses() {
        let c = RemoteConfig::parse("rig: http://127.0.0.1:7100\nfeed: {listen: 127.0.0.1:7101}\n")
            .unwrap();
        assert_eq!(c.rig.as_deref(), Some("http://127.0.0.1:7100"));
        assert_eq!(c.settle_ms, 300);
    }

    #[test]
    fn errors_name_the_place_and_the_field() {
        let e = RemoteConfig::parse("rig: x\nfeed: {listen: a}\nmodbsu: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("3:1:") && e.contains("modbsu"), "{e}");
        let e = RemoteConfig::parse("rig: x\nfeed: {listen: a, tcp: b}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one"), "{e}");
        let e = RemoteConfig::parse("feed: {tcp: a}\nvariant: p1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one interface"), "{e}");
        let e = RemoteConfig::parse("feed: {tcp: a}\nvariant: p1\nhttp: http://x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("label: required"), "{e}");
        let e = RemoteConfig::parse("rig: x\nfeed: {tcp: a}\nmeters: [smr6]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown meter \"smr6\""), "{e}");
        let e = RemoteConfig::parse("rig: x\nfeed: {tcp: a}\nvariant: xx\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("variant"), "{e}");
    }
}
