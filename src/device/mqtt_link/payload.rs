//! What the MQTT client sends and understands besides the measurements (those are
//! `device::measurement::Measurement`): remote commands on `…/cmd/<command>` (MQ-13, FW-01),
//! their results on `…/data/events`, and the optional Home Assistant discovery configs.
//! Pure: no I/O.
//!
//! Commands:
//! - `cmd/firmware-update` with `{"Version": "1.5.0"}` (the same body and rules as
//!   `POST /api/v1/firmware`) starts an update;
//! - `cmd/reset` (any payload, usually empty) soft-resets the device once the result is out.
//!
//! Every command gets one result on `…/data/events`:
//! `{"event":"command","command":"firmware-update","accepted":true,"reason":null,
//! "version":"1.5.0","serial":"…","site":"…","timestamp":1750000000}` — `reason` says why a
//! command was refused; `version` is `null` for other commands; `timestamp` is the device
//! clock, UTC epoch seconds.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const CMD_FIRMWARE_UPDATE: &str = "firmware-update";
pub const CMD_RESET: &str = "reset";

/// A remote command the device understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    FirmwareUpdate { version: String },
    Reset,
}

/// The shape of a `firmware-update` payload, for the errors.
const SHAPE: &str = "the payload must be a JSON object like {\"Version\": \"1.5.0\"}";

/// Why a remote command is refused (published as the result's `reason`).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command {name:?}; known: {CMD_FIRMWARE_UPDATE}, {CMD_RESET}")]
    Unknown { name: String },
    #[error("{SHAPE}: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("{SHAPE}")]
    NotObject,
    #[error("unknown key {key:?}; {SHAPE}")]
    UnknownKey { key: String },
    #[error("\"Version\" is missing; {SHAPE}")]
    MissingVersion,
    #[error("\"Version\" must be a version string of 1..32 characters A-Z a-z 0-9 . - + _ (e.g. \"1.5.0\")")]
    BadVersion,
}

/// The command named by the last topic level, with its payload; `Err` says why it is refused.
pub fn parse_command(name: &str, payload: &[u8]) -> Result<Command, CommandError> {
    match name {
        CMD_FIRMWARE_UPDATE => {
            firmware_version(payload).map(|version| Command::FirmwareUpdate { version })
        }
        CMD_RESET => Ok(Command::Reset),
        other => Err(CommandError::Unknown {
            name: other.to_string(),
        }),
    }
}

/// `{"Version": "x.y.z"}` → the version (the rules of `POST /api/v1/firmware`).
fn firmware_version(payload: &[u8]) -> Result<String, CommandError> {
    let v: Value = serde_json::from_slice(payload).map_err(CommandError::NotJson)?;
    let Value::Object(map) = v else {
        return Err(CommandError::NotObject);
    };
    if let Some(k) = map.keys().find(|k| *k != "Version") {
        return Err(CommandError::UnknownKey { key: k.clone() });
    }
    match map.get("Version") {
        None => Err(CommandError::MissingVersion),
        Some(Value::String(s)) if crate::device::firmware::is_version_text(s) => Ok(s.clone()),
        Some(_) => Err(CommandError::BadVersion),
    }
}

/// The result of one command, published on `…/data/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// Always `command`.
    pub event: String,
    pub command: String,
    pub accepted: bool,
    /// Why the command was refused; `null` when accepted.
    pub reason: Option<String>,
    /// The firmware version asked for (`firmware-update` only).
    pub version: Option<String>,
    pub serial: String,
    pub site: String,
    /// Device clock, UTC epoch seconds.
    pub timestamp: i64,
}

impl CommandResult {
    pub fn new(
        command: &str,
        outcome: Result<(), String>,
        version: Option<String>,
        serial: &str,
        site: &str,
        timestamp: i64,
    ) -> Self {
        CommandResult {
            event: "command".into(),
            command: command.into(),
            accepted: outcome.is_ok(),
            reason: outcome.err(),
            version,
            serial: serial.into(),
            site: site.into(),
            timestamp,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a command result serialises")
    }
}

/// The sensors announced to Home Assistant: (payload key, name, unit, device class).
pub const HA_SENSORS: [(&str, &str, &str, &str); 12] = [
    ("voltage_l1_v", "Voltage L1", "V", "voltage"),
    ("voltage_l2_v", "Voltage L2", "V", "voltage"),
    ("voltage_l3_v", "Voltage L3", "V", "voltage"),
    ("current_l1_a", "Current L1", "A", "current"),
    ("current_l2_a", "Current L2", "A", "current"),
    ("current_l3_a", "Current L3", "A", "current"),
    ("active_power_w", "Active power", "W", "power"),
    ("active_power_l1_w", "Active power L1", "W", "power"),
    ("active_power_l2_w", "Active power L2", "W", "power"),
    ("active_power_l3_w", "Active power L3", "W", "power"),
    ("power_import_w", "Power import", "W", "power"),
    ("power_export_w", "Power export", "W", "power"),
];

/// Home Assistant MQTT discovery: one retained config per sensor on
/// `homeassistant/sensor/smart_connect_<serial>/<key>/config`, each reading its value from
/// the measurements topic.
pub fn ha_discovery(
    serial: &str,
    state_topic: &str,
    model: &str,
    firmware: &str,
) -> Vec<(String, Vec<u8>)> {
    let node = format!("smart_connect_{serial}");
    HA_SENSORS
        .iter()
        .map(|(key, name, unit, class)| {
            let config = json!({
                "name": name,
                "unique_id": format!("{node}_{key}"),
                "object_id": format!("{node}_{key}"),
                "state_topic": state_topic,
                "value_template": format!("{{{{ value_json.{key} }}}}"),
                "unit_of_measurement": unit,
                "device_class": class,
                "state_class": "measurement",
                "device": {
                    "identifiers": [node],
                    "manufacturer": "Xemex",
                    "model": model,
                    "name": format!("Smart Connect {serial}"),
                    "serial_number": serial,
                    "sw_version": firmware,
                },
            });
            (
                format!("homeassistant/sensor/{node}/{key}/config"),
                serde_json::to_vec(&config).expect("JSON serialises"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_like_the_http_api() {
        assert_eq!(
            parse_command("firmware-update", br#"{"Version":"1.5.0"}"#).unwrap(),
            Command::FirmwareUpdate {
                version: "1.5.0".into()
            }
        );
        assert_eq!(parse_command("reset", b"").unwrap(), Command::Reset);
        assert_eq!(parse_command("reset", b"whatever").unwrap(), Command::Reset);
        for bad in [
            &b"1.5.0"[..],
            br#"{"version":"1.5.0"}"#,
            br#"{"Version":15}"#,
            br#"{"Version":"1.5.0; rm"}"#,
            br#"{}"#,
            br#"[]"#,
            b"",
        ] {
            let e = parse_command("firmware-update", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("Version"), "{e}");
        }
        let e = parse_command("reboot-now", b"").unwrap_err().to_string();
        assert!(
            e.contains("unknown command") && e.contains("firmware-update"),
            "{e}"
        );
    }

    #[test]
    fn results_have_fixed_keys() {
        let r = CommandResult::new(
            "reset",
            Err("device not running".into()),
            None,
            "02584D000001",
            "home",
            1_750_000_000,
        );
        let v: Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(v["event"], "command");
        assert_eq!(v["accepted"], false);
        assert_eq!(v["reason"], "device not running");
        assert!(v["version"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 8);
        let ok = CommandResult::new("firmware-update", Ok(()), Some("1.5.0".into()), "S", "s", 1);
        assert_eq!(serde_json::to_value(&ok).unwrap()["reason"], Value::Null);
    }

    #[test]
    fn discovery_configs_point_at_the_measurements() {
        let d = ha_discovery(
            "02584D000001",
            "devices/home/smart-connect/02584D000001/data/measurements",
            "Smart Connect P1",
            "1.4.2",
        );
        assert_eq!(d.len(), 12);
        let (topic, payload) = &d[6];
        assert_eq!(
            topic,
            "homeassistant/sensor/smart_connect_02584D000001/active_power_w/config"
        );
        let v: Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(v["value_template"], "{{ value_json.active_power_w }}");
        assert_eq!(
            v["state_topic"],
            "devices/home/smart-connect/02584D000001/data/measurements"
        );
        assert_eq!(v["unit_of_measurement"], "W");
        assert_eq!(v["device"]["identifiers"][0], "smart_connect_02584D000001");
    }
}
