//! The status document (API-06, WEB-02): System, Meter, Network with the Link / Network /
//! Internet / MQTT indicators, MQTT and the LED — what `GET /api/v1/status` and the web page
//! show. Built from the device's sub-machines; keys in the manual's PascalCase style.

use super::firmware::UpdateState;
use super::led::{Color, LedPattern};
use super::meter::{MeterState, MeterStatus};
use super::network::{ClientState, IpMode, NetStatus};
use super::Variant;
use crate::protocol::Protocol;
use crate::time::Instant;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Status {
    pub system: SystemStatus,
    pub meter: MeterReport,
    pub network: NetworkReport,
    #[serde(rename = "MQTT")]
    pub mqtt: MqttReport,
    #[serde(rename = "LED")]
    pub led: LedReport,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemStatus {
    pub serial: String,
    pub variant: Variant,
    pub firmware: String,
    pub firmware_update: String,
    /// Why the last firmware update failed (`update to 1.6.0 failed: …`) while its state is
    /// `failed`; `null` otherwise (FW-02).
    pub firmware_error: Option<String>,
    pub uptime_s: i64,
    pub hostname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeterReport {
    pub protocol: Option<Protocol>,
    pub version: Option<String>,
    /// UTC epoch seconds (device clock) of the last valid telegram.
    pub last_telegram: Option<i64>,
    pub telegrams_ok: u64,
    pub telegrams_rejected: u64,
    /// `receiving` or `no_data`.
    pub state: &'static str,
    /// Why there is no data: `never_received`, `timeout`, `incompatible`.
    pub reason: Option<String>,
    /// Last rejection, as `kind at byte N (line L): message`.
    pub last_error: Option<String>,
    /// TIC STGE bit 9 of the last telegram (TIC-04).
    pub exporting: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkReport {
    pub active_interface: String,
    pub ip_mode: Option<IpMode>,
    pub address: Option<String>,
    pub netmask: Option<String>,
    pub link: bool,
    pub network: bool,
    pub internet: bool,
    #[serde(rename = "MQTT")]
    pub mqtt: bool,
    pub access_point: Option<String>,
    pub mdns: &'static str,
    /// Why the selected interface has no link (a Wi-Fi network not in range, a wrong
    /// password, no cable), or `null`: a simulator addition (`Network::problem`).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MqttReport {
    pub enabled: bool,
    pub connected: bool,
    pub last_publish: Option<i64>,
    pub dropped: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LedReport {
    pub pattern: LedPattern,
    pub colour: Color,
}

/// What the MQTT adapter tells the device about its connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MqttLink {
    pub connected: bool,
    pub last_publish: Option<Instant>,
    pub dropped: u64,
    pub error: Option<String>,
}

impl MeterReport {
    pub fn from(m: &MeterStatus) -> Self {
        let (state, reason) = match m.state {
            MeterState::Receiving => ("receiving", None),
            MeterState::NoData(r) => (
                "no_data",
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from)),
            ),
        };
        MeterReport {
            protocol: m.protocol,
            version: m.version.clone(),
            last_telegram: m.last_telegram_at.map(Instant::epoch_secs),
            telegrams_ok: m.telegrams_ok,
            telegrams_rejected: m.telegrams_rejected,
            state,
            reason,
            last_error: m.last_error.as_ref().map(|e| e.to_string()),
            exporting: m.exporting,
        }
    }
}

impl NetworkReport {
    pub fn from(n: &NetStatus, mqtt_connected: bool) -> Self {
        let (ip_mode, address, netmask) = match n.client {
            ClientState::Up {
                address,
                prefix,
                mode,
            } => (
                Some(mode),
                Some(address.to_string()),
                Some(prefix_to_mask(prefix)),
            ),
            _ => (None, None, None),
        };
        NetworkReport {
            active_interface: format!("{:?}", n.interface),
            ip_mode,
            network: address.is_some(),
            address,
            netmask,
            link: n.link,
            internet: n.internet,
            mqtt: mqtt_connected,
            access_point: n.access_point.clone(),
            mdns: "smart-connect.local",
            problem: n.problem.clone(),
        }
    }
}

impl NetworkReport {
    /// The report while the network is not up (off, booting).
    pub fn down(wifi: bool) -> Self {
        NetworkReport {
            active_interface: if wifi { "WiFi" } else { "Ethernet" }.into(),
            ip_mode: None,
            address: None,
            netmask: None,
            link: false,
            network: false,
            internet: false,
            mqtt: false,
            access_point: None,
            mdns: "smart-connect.local",
            problem: None,
        }
    }
}

/// `24` → `255.255.255.0`.
pub fn prefix_to_mask(prefix: u8) -> String {
    // A shift by 32 (prefix 0) does not fit: no bits set.
    let bits = u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0);
    std::net::Ipv4Addr::from(bits).to_string()
}

/// The firmware update state's name.
pub fn update_name(s: &UpdateState) -> String {
    s.name().to_string()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(prefix_to_mask(24), "255.255.255.0");
        assert_eq!(prefix_to_mask(16), "255.255.0.0");
        assert_eq!(prefix_to_mask(0), "0.0.0.0");
        assert_eq!(prefix_to_mask(32), "255.255.255.255");
    }
}
