//! The device's network: Ethernet or Wi-Fi client (one at a time, NET-03), DHCP with three
//! attempts then a 169.254.x.x link-local address (NET-01/02, RFC 3927, derived from the MAC),
//! static IPv4 (NET-08), the access point for provisioning (NET-07), over a simulated LAN the
//! scenario describes. Pure: settings, the LAN and time in; addresses and indicators out.

use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How long one DHCP attempt waits for an answer.
pub const DHCP_ATTEMPT_MS: Duration = Duration::from_ms(4_000);
/// Attempts before falling back to link-local (NET-02).
pub const DHCP_ATTEMPTS: u32 = 3;
/// A DHCP server on the simulated LAN answers this fast.
pub const DHCP_ANSWER_MS: Duration = Duration::from_ms(200);
/// The access point's own address (NET-07).
pub const AP_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 71, 1);
/// How a simulated LAN gets Wi-Fi networks (the end of a "not found" problem).
pub const ADD_WIFI_HINT: &str = "add networks with --wifi SSID[:PSK] or a scenario's device.wifi";

/// A Wi-Fi network in range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WifiNetwork {
    pub ssid: String,
    pub password: String,
    /// 2.4 or 5 (GHz); the device joins only 2.4 GHz networks (WEB-04).
    pub band_ghz: f32,
    #[serde(default = "yes")]
    pub dhcp: bool,
}

fn yes() -> bool {
    true
}

impl WifiNetwork {
    /// A 2.4 GHz network for the simulated LAN (`run --wifi`, a scenario's `device.wifi`):
    /// the SSID checked by [`check_ssid`], the password by `config::check_wpa_psk` (empty: an
    /// open network, which the device joins with an empty password).
    pub fn checked(ssid: &str, password: &str, dhcp: bool) -> Result<Self, WifiError> {
        check_ssid(ssid).map_err(|source| WifiError::Ssid {
            ssid: ssid.to_string(),
            source,
        })?;
        super::config::check_wpa_psk(password).map_err(WifiError::Password)?;
        Ok(WifiNetwork {
            ssid: ssid.into(),
            password: password.into(),
            band_ghz: 2.4,
            dhcp,
        })
    }
}

/// Why a Wi-Fi network name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsidError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 32 bytes, got {bytes}")]
    TooLong { bytes: usize },
}

/// Why a Wi-Fi network for the simulated LAN is refused: its name or its password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WifiError {
    #[error("SSID {ssid:?}: {source}")]
    Ssid {
        ssid: String,
        #[source]
        source: SsidError,
    },
    #[error("password: {0}")]
    Password(#[source] super::config::ValueError),
}

/// A Wi-Fi network name: 1 to 32 bytes (IEEE 802.11).
pub fn check_ssid(ssid: &str) -> Result<(), SsidError> {
    match ssid.len() {
        0 => Err(SsidError::Empty),
        1..=32 => Ok(()),
        bytes => Err(SsidError::TooLong { bytes }),
    }
}

/// The network around the device, as the scenario (or a test step) sets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lan {
    /// An Ethernet cable to a live switch is plugged in.
    pub ethernet_link: bool,
    /// A DHCP server answers on the wired LAN.
    pub dhcp: bool,
    /// The LAN reaches the internet.
    pub internet: bool,
    /// The pool a DHCP server hands out from (its first address goes to the device).
    pub dhcp_pool: Ipv4Addr,
    pub wifi: Vec<WifiNetwork>,
}

impl Default for Lan {
    fn default() -> Self {
        Lan {
            ethernet_link: true,
            dhcp: true,
            internet: true,
            dhcp_pool: Ipv4Addr::new(192, 168, 1, 50),
            wifi: Vec::new(),
        }
    }
}

/// Which interface the settings select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interface {
    Ethernet,
    WiFi,
}

/// Static IPv4 settings (NET-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StaticIp {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub dns: Option<Ipv4Addr>,
}

/// The network settings in force (taken from the configuration at boot).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetSettings {
    pub interface: Interface,
    /// `None`: DHCP.
    pub static_ip: Option<StaticIp>,
    pub wifi_ssid: String,
    pub wifi_password: String,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            interface: Interface::Ethernet,
            static_ip: None,
            wifi_ssid: String::new(),
            wifi_password: String::new(),
        }
    }
}

/// How the device got its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IpMode {
    #[serde(rename = "DHCP")]
    Dhcp,
    Static,
    LinkLocal,
}

/// The client interface's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClientState {
    /// No link (no cable, Wi-Fi network absent, wrong password, 5 GHz only).
    NoLink,
    /// Waiting for DHCP attempt `attempt` (1-based) to be answered until `until`.
    Dhcp { attempt: u32, until: Instant },
    Up {
        address: Ipv4Addr,
        prefix: u8,
        mode: IpMode,
    },
}

/// What the network reports (status page, LED rule).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetStatus {
    pub interface: Interface,
    pub client: ClientState,
    pub link: bool,
    pub internet: bool,
    /// SSID of the access point while it is on.
    pub access_point: Option<String>,
    /// Why the client interface has no link (`Network::problem`).
    pub problem: Option<String>,
}

/// The network state machine.
#[derive(Debug, Clone)]
pub struct Network {
    settings: NetSettings,
    lan: Lan,
    mac: [u8; 6],
    client: ClientState,
    ap_ssid: Option<String>,
    /// Fall back to link-local after the DHCP attempts (NET-02; on by default, see
    /// `set_link_local_fallback`).
    link_local: bool,
}

impl Network {
    /// Bring the network up with `settings` on `lan` at `now` (boot, soft reset).
    pub fn start(settings: NetSettings, lan: Lan, mac: [u8; 6], now: Instant) -> Self {
        let mut n = Network {
            settings,
            lan,
            mac,
            client: ClientState::NoLink,
            ap_ssid: None,
            link_local: true,
        };
        n.relink(now);
        n
    }

    /// Whether the device falls back to a link-local address when DHCP gets no answer
    /// (`true`, NET-02, the default) or retries DHCP forever (`false`: a firmware without
    /// the fallback, `DeviceConfig::link_local_fallback`).
    pub fn set_link_local_fallback(&mut self, on: bool) {
        self.link_local = on;
    }

    /// The LAN changed (cable plugged/unplugged, DHCP server gone, Wi-Fi networks).
    pub fn set_lan(&mut self, lan: Lan, now: Instant) {
        let had_link = self.link();
        self.lan = lan;
        if self.link() != had_link || !self.link() {
            self.relink(now);
        }
        // A DHCP server that appeared during an attempt answers now, not at an instant that
        // has already passed (the deadline would have been before `now`).
        self.tick(now);
    }

    pub fn lan(&self) -> &Lan {
        &self.lan
    }

    /// Switch the access point on (NET-07).
    pub fn start_access_point(&mut self, ssid: String) {
        if !self.wifi_client_connected() {
            self.ap_ssid = Some(ssid);
        }
    }

    /// Time passed: DHCP answers, attempts time out. Without a DHCP server and without the
    /// link-local fallback (`set_link_local_fallback(false)`) the retries change nothing
    /// until the LAN does, so they are not stepped through one by one (a jump of years in
    /// device time would otherwise take as many steps); `set_lan` ticks again. An attempt
    /// that would end after `Instant::MAX` never ends.
    pub fn tick(&mut self, now: Instant) {
        while let ClientState::Dhcp { attempt, until } = self.client {
            let available = self.dhcp_available();
            if available && now >= answer_at(until) {
                self.client = ClientState::Up {
                    address: self.lan_address(),
                    prefix: 24,
                    mode: IpMode::Dhcp,
                };
            } else if !available && !self.link_local {
                break;
            } else if now >= until && until < Instant::MAX {
                self.client = if attempt >= DHCP_ATTEMPTS && self.link_local {
                    ClientState::Up {
                        address: link_local(&self.mac),
                        prefix: 16,
                        mode: IpMode::LinkLocal,
                    }
                } else {
                    ClientState::Dhcp {
                        attempt: attempt.saturating_add(1),
                        until: until.saturating_add(DHCP_ATTEMPT_MS),
                    }
                };
            } else {
                break;
            }
        }
        if self.wifi_client_connected() {
            self.ap_ssid = None;
        }
    }

    /// When `tick` next changes something (see `tick` for the retries that change nothing).
    pub fn deadline(&self) -> Option<Instant> {
        match self.client {
            ClientState::Dhcp { until, .. } if self.dhcp_available() => Some(answer_at(until)),
            ClientState::Dhcp { .. } if !self.link_local => None,
            ClientState::Dhcp { until, .. } => Some(until),
            _ => None,
        }
    }

    /// The client address, if any.
    pub fn address(&self) -> Option<Ipv4Addr> {
        match self.client {
            ClientState::Up { address, .. } => Some(address),
            _ => None,
        }
    }

    /// Every address the device answers on (client interface and access point).
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        self.address()
            .into_iter()
            .chain(self.ap_ssid.as_ref().map(|_| AP_ADDRESS))
            .collect()
    }

    pub fn has_ip(&self) -> bool {
        self.address().is_some()
    }

    pub fn access_point(&self) -> Option<&str> {
        self.ap_ssid.as_deref()
    }

    pub fn status(&self) -> NetStatus {
        let routable = matches!(
            self.client,
            ClientState::Up {
                mode: IpMode::Dhcp | IpMode::Static,
                ..
            }
        );
        NetStatus {
            interface: self.settings.interface,
            client: self.client,
            link: self.link(),
            internet: routable && self.lan.internet,
            access_point: self.ap_ssid.clone(),
            problem: self.problem(),
        }
    }

    /// Why the selected interface has no link, in words for the status page and the log
    /// (`Network.Problem`, a simulator addition: the manual only has the LED); `None` while
    /// the device has an address or is asking for one.
    pub fn problem(&self) -> Option<String> {
        if self.client != ClientState::NoLink {
            return None;
        }
        Some(match self.settings.interface {
            Interface::Ethernet => "Ethernet: no cable (no link to a switch or router)".into(),
            Interface::WiFi => self.wifi_problem(),
        })
    }

    /// Why the Wi-Fi network the settings name cannot be joined.
    fn wifi_problem(&self) -> String {
        let ssid = &self.settings.wifi_ssid;
        if ssid.is_empty() {
            return "Wi-Fi: no network name (SSID) is set".into();
        }
        let named: Vec<&WifiNetwork> = self.lan.wifi.iter().filter(|w| &w.ssid == ssid).collect();
        if named.is_empty() {
            return format!(
                "Wi-Fi network {ssid:?} not found ({}; {ADD_WIFI_HINT})",
                offered(&self.lan)
            );
        }
        if named.iter().all(|w| w.band_ghz >= 3.0) {
            return format!(
                "Wi-Fi network {ssid:?} is on 5 GHz only; the device joins only 2.4 GHz networks"
            );
        }
        format!("Wi-Fi network {ssid:?}: wrong password")
    }

    fn wifi_client_connected(&self) -> bool {
        self.settings.interface == Interface::WiFi && self.has_ip()
    }

    /// The Wi-Fi network the settings name, if it is in range and joinable.
    fn joinable_wifi(&self) -> Option<&WifiNetwork> {
        let s = &self.settings;
        self.lan.wifi.iter().find(|w| {
            w.ssid == s.wifi_ssid
                && !s.wifi_ssid.is_empty()
                && w.password == s.wifi_password
                && w.band_ghz < 3.0
        })
    }

    fn link(&self) -> bool {
        match self.settings.interface {
            Interface::Ethernet => self.lan.ethernet_link,
            Interface::WiFi => self.joinable_wifi().is_some(),
        }
    }

    fn dhcp_available(&self) -> bool {
        match self.settings.interface {
            Interface::Ethernet => self.lan.ethernet_link && self.lan.dhcp,
            Interface::WiFi => self.joinable_wifi().is_some_and(|w| w.dhcp),
        }
    }

    fn lan_address(&self) -> Ipv4Addr {
        match self.settings.interface {
            Interface::Ethernet => self.lan.dhcp_pool,
            Interface::WiFi => {
                let [a, b, c, d] = self.lan.dhcp_pool.octets();
                Ipv4Addr::new(a, b, c, d.wrapping_add(1))
            }
        }
    }

    fn relink(&mut self, now: Instant) {
        self.client = if !self.link() {
            ClientState::NoLink
        } else if let Some(s) = self.settings.static_ip {
            ClientState::Up {
                address: s.address,
                prefix: s.prefix,
                mode: IpMode::Static,
            }
        } else {
            ClientState::Dhcp {
                attempt: 1,
                until: now.saturating_add(DHCP_ATTEMPT_MS),
            }
        };
        self.tick(now);
    }
}

/// The Wi-Fi networks a LAN offers, for a problem text.
fn offered(lan: &Lan) -> String {
    if lan.wifi.is_empty() {
        return "the simulated LAN offers no Wi-Fi networks".into();
    }
    let names: Vec<String> = lan.wifi.iter().map(|w| format!("{:?}", w.ssid)).collect();
    format!("the simulated LAN offers: {}", names.join(", "))
}

/// When a DHCP server answers the attempt that times out at `until` (device time saturates).
fn answer_at(until: Instant) -> Instant {
    until
        .saturating_sub(DHCP_ATTEMPT_MS)
        .saturating_add(DHCP_ANSWER_MS)
}

/// RFC 3927 link-local address from the MAC: 169.254.1.0 – 169.254.254.255, deterministic.
pub fn link_local(mac: &[u8; 6]) -> Ipv4Addr {
    let h = mac.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let third = ((h >> 8) % 254).saturating_add(1); // 1..=254
    Ipv4Addr::new(169, 254, third as u8, h as u8)
}

#[cfg(test)]
mod tests;
