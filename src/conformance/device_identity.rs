//! Who the device under test is, as the device itself says: its firmware version and serial
//! from `GET /api/v1/status` (`System.Firmware`, `System.Serial`). The suite asks a remote
//! device once, right after one of the first scenarios that leave it running (a pass or a
//! device failure, never a blocked run, nor a firmware-update scenario that may have changed
//! the version), so the report names the firmware that was judged instead of what a target
//! file declares. A virtual device is not asked: each scenario builds its own, with the
//! label its scenario seed gives.

use crate::dut::Target;
use serde_json::Value;
use std::time::Duration;

/// How long the status read may take: a device that is off must not hold up the run.
pub const STATUS_WAIT: Duration = Duration::from_secs(3);

/// Attempts after which the suite stops asking (each after a different scenario).
pub const MAX_ATTEMPTS: usize = 3;

/// What the device said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// `System.Firmware`, if the status carries it as a string.
    pub firmware: Option<String>,
    /// `System.Serial`, if the status carries it as a string.
    pub serial: Option<String>,
    /// Where it was asked: after the scenario at this place (`modbus.feature:12`).
    pub after: String,
}

/// What the suite learned: the identity, or why it could not ask.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seen {
    /// Not asked (a virtual target, no HTTP API, or no scenario that ran).
    #[default]
    NotAsked,
    /// Every attempt failed; the last cause.
    Failed(String),
    Read(DeviceIdentity),
}

impl Seen {
    /// Whether to ask again after the scenario that just finished.
    pub fn wants(&self, attempts: usize) -> bool {
        !matches!(self, Seen::Read(_)) && attempts < MAX_ATTEMPTS
    }
}

/// Firmware and serial out of a status document (each `None` when absent or not a string).
pub fn from_status(status: &Value, after: &str) -> DeviceIdentity {
    let field = |name: &str| {
        status["System"][name]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    DeviceIdentity {
        firmware: field("Firmware"),
        serial: field("Serial"),
        after: after.to_string(),
    }
}

/// Whether a scenario may change the firmware version (an update scenario): the identity
/// is not read after it.
pub fn may_change_firmware(tags: &[String]) -> bool {
    tags.iter().any(|t| {
        let t = t.trim_start_matches('@');
        t.starts_with("FW-") || t == "needs-update-server"
    })
}

/// Ask the device for its status (bounded by [`STATUS_WAIT`]).
pub async fn read(target: &mut dyn Target, after: &str) -> Result<DeviceIdentity, String> {
    match tokio::time::timeout(STATUS_WAIT, target.status()).await {
        Ok(Ok(status)) => Ok(from_status(&status, after)),
        Ok(Err(e)) => Err(format!("GET /api/v1/status after {after}: {e}")),
        Err(_) => Err(format!(
            "GET /api/v1/status after {after}: no answer within {} s",
            STATUS_WAIT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn firmware_and_serial_come_from_the_system_object() {
        let status =
            json!({"System": {"Firmware": "1.4.3", "Serial": "0A1B2C3D4E5F", "UptimeS": 5}});
        let id = from_status(&status, "modbus.feature:12");
        assert_eq!(id.firmware.as_deref(), Some("1.4.3"));
        assert_eq!(id.serial.as_deref(), Some("0A1B2C3D4E5F"));
        assert_eq!(id.after, "modbus.feature:12");
        // Absent, empty or not a string: not known (never invented).
        let id = from_status(&json!({"System": {"Firmware": 2, "Serial": " "}}), "x");
        assert_eq!((id.firmware, id.serial), (None, None));
        let id = from_status(&json!("not a status"), "x");
        assert_eq!((id.firmware, id.serial), (None, None));
    }

    #[test]
    fn update_scenarios_and_enough_attempts_stop_the_asking() {
        assert!(may_change_firmware(&["@firmware".into(), "@FW-02".into()]));
        assert!(may_change_firmware(&["@needs-update-server".into()]));
        assert!(!may_change_firmware(&[
            "@MB-01".into(),
            "@needs-http".into()
        ]));
        assert!(Seen::NotAsked.wants(0));
        assert!(Seen::Failed("off".into()).wants(MAX_ATTEMPTS - 1));
        assert!(!Seen::Failed("off".into()).wants(MAX_ATTEMPTS));
        let read = Seen::Read(from_status(&json!({}), "x"));
        assert!(!read.wants(0));
    }
}
