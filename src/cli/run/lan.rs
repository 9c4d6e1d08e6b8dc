//! The simulated LAN `run` puts around the device: the wired DHCP LAN, plus the Wi-Fi
//! networks of the scenario's `device.wifi` and of `--wifi SSID[:PSK]` (repeatable), each
//! checked at start with an error naming the flag and the value.

use super::RunError;
use crate::device::network::{Lan, WifiNetwork};
use crate::sim::scenario::Scenario;

/// `--wifi SSID[:PSK]`: split at the first colon (an SSID with a colon cannot be given this
/// way; a scenario's `device.wifi` can); no PSK: an open network. DHCP answers on it.
pub fn parse_wifi(s: &str) -> Result<WifiNetwork, RunError> {
    let (ssid, psk) = s.split_once(':').unwrap_or((s, ""));
    WifiNetwork::checked(ssid, psk, true).map_err(|source| RunError::WifiArg { source })
}

/// The LAN of this run: the scenario's networks, then each `--wifi` (replacing a scenario's
/// network of the same name). The same name twice on the command line is refused.
pub(super) fn lan(scenario: Option<&Scenario>, wifi: &[WifiNetwork]) -> Result<Lan, RunError> {
    let mut lan = scenario.map(Scenario::lan).unwrap_or_default();
    for (i, w) in wifi.iter().enumerate() {
        if wifi[..i].iter().any(|o| o.ssid == w.ssid) {
            return Err(RunError::WifiTwice {
                ssid: w.ssid.clone(),
            });
        }
        lan.wifi.retain(|o| o.ssid != w.ssid);
        lan.wifi.push(w.clone());
    }
    Ok(lan)
}
