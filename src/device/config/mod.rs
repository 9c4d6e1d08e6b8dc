//! The device configuration behind `GET`/`PATCH /api/v1/config`: the model with the manual's
//! key spelling (API-03, API-11), the factory settings, and `apply_patch` — an RFC 7396 merge
//! patch that is checked and validated as a whole, all-or-nothing (API-04, API-09). Pure: no
//! I/O (persistence is `store.rs`).
//!
//! Decisions: every key always exists (`null` in a patch is refused, it would delete a
//! setting); `Netmask` is a prefix length string `"0"`..`"32"` only (a dotted mask is refused
//! with a hint giving its prefix); an empty static field means "not set"; secrets are not
//! echoed in errors (`value` is `null` for the two passwords).
//!
//! Every refused field is reported at once (`ConfigErrors`, document order), so a client
//! fixes all its mistakes after one answer.
//!
//! Layout: this file holds the model, the factory settings and `apply_patch`; `errors.rs`
//! the error types; `shape.rs` checks the JSON shape of a patch or document against the
//! key table; `validate.rs` checks the field values (and has the public string checkers);
//! `tests.rs` and `tests_all_errors.rs` have the unit tests.

mod errors;
mod shape;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_all_errors;
mod validate;

use super::registers::Template;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shape::{check_shape, kind, SCHEMA};

pub use errors::{ConfigError, ConfigErrors};
pub use validate::{check_broker, check_ipv4, check_prefix, check_wpa_psk, ValueError};

/// The whole configuration; serialises to the `GET /api/v1/config` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Config {
    /// Modbus register map template (TIC-03, MB-12); a `Template` name.
    pub meter_type: String,
    /// The one active connection (NET-03).
    pub default_net_if: NetIf,
    pub ethernet: Ethernet,
    #[serde(rename = "WiFi")]
    pub wifi: WiFi,
    #[serde(rename = "MQTT")]
    pub mqtt: Mqtt,
}

/// Which network interface is used (`DefaultNetIf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NetIf {
    #[default]
    Ethernet,
    WiFi,
}

/// How an interface gets its address (NET-01, NET-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IpMode {
    #[default]
    #[serde(rename = "DHCP")]
    Dhcp,
    Static,
}

/// Static IPv4 settings; `""` = not set. Used only when `IpMode` is `Static` (NET-08).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct StaticIpv4 {
    pub ip_address: String,
    /// Prefix length as a string, `"0"`..`"32"` (the manual writes `"24"`).
    pub netmask: String,
    pub gateway: String,
    #[serde(rename = "DNS")]
    pub dns: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Ethernet {
    pub ip_mode: IpMode,
    #[serde(rename = "StaticIPv4")]
    pub static_ipv4: StaticIpv4,
}

/// Wi-Fi client settings (WEB-04, API-11): WPA2-PSK only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct WiFi {
    pub ip_mode: IpMode,
    #[serde(rename = "SSID")]
    pub ssid: String,
    pub password: String,
    #[serde(rename = "StaticIPv4")]
    pub static_ipv4: StaticIpv4,
}

/// Cloud settings (MQ-01, MQ-02, MQ-04, MQ-07, WEB-05).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Mqtt {
    pub enabled: bool,
    pub broker: String,
    /// One MQTT topic level (`devices/<site>/...`).
    pub site: String,
    /// Empty for mTLS authentication.
    pub username: String,
    pub password: String,
}

pub const DEFAULT_METER_TYPE: &str = "PhoenixContact-EMPro";
pub const DEFAULT_BROKER: &str = "mqtts://broker.xemex-cloud.eu:8883";
pub const DEFAULT_SITE: &str = "unknown-site";

impl Default for Mqtt {
    fn default() -> Self {
        Mqtt {
            enabled: true,
            broker: DEFAULT_BROKER.into(),
            site: DEFAULT_SITE.into(),
            username: String::new(),
            password: String::new(),
        }
    }
}

impl Default for Config {
    /// The factory settings.
    fn default() -> Self {
        Config {
            meter_type: DEFAULT_METER_TYPE.into(),
            default_net_if: NetIf::Ethernet,
            ethernet: Ethernet::default(),
            wifi: WiFi::default(),
            mqtt: Mqtt::default(),
        }
    }
}

/// Apply an RFC 7396 merge patch to `current` and validate the whole result. On error nothing
/// changes (`current` is only read): the caller keeps its config (API-09). Every error is
/// reported: a part of the patch with the wrong shape is left out and the rest is still
/// merged and validated.
pub fn apply_patch(current: &Config, patch: &Value) -> Result<Config, ConfigErrors> {
    if !patch.is_object() {
        let msg = format!("the patch must be a JSON object, got {}", kind(patch));
        return Err(ConfigError::new("", msg, patch.clone()).into());
    }
    let mut errs = Vec::new();
    let shaped = check_shape(patch, &SCHEMA, "", true, &mut errs).unwrap_or_else(|| json!({}));
    let mut doc = current.to_json();
    json_patch::merge(&mut doc, &shaped);
    match Config::from_json(&doc) {
        Ok(c) => ConfigErrors::check(errs).map(|()| c),
        Err(more) => Err(more.after(errs)),
    }
}

impl Config {
    /// The whole configuration, secrets included (the `GET` body, API-03, API-11).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("Config serialises to JSON")
    }

    /// A whole configuration document: every key present, none unknown, all values valid.
    /// Values are checked only once the shape is right (every shape error is reported).
    pub fn from_json(v: &Value) -> Result<Config, ConfigErrors> {
        let mut errs = Vec::new();
        check_shape(v, &SCHEMA, "", false, &mut errs);
        ConfigErrors::check(errs)?;
        let c =
            Config::deserialize(v).map_err(|e| ConfigError::new("", e.to_string(), v.clone()))?;
        c.validate()?;
        Ok(c)
    }

    /// JSON pointers (`/Ethernet/IpMode`, …) of the settings where these (the saved ones)
    /// differ from `active`, the ones in force since the last boot: every setting applies at
    /// a restart (network, MQTT, the register map template), so these wait for one. Sorted
    /// by key (serde_json's map order).
    pub fn pending_against(&self, active: &Config) -> Vec<String> {
        fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
            match (a, b) {
                (Value::Object(x), Value::Object(y)) => {
                    for (k, v) in x {
                        walk(
                            &shape::join(path, k),
                            v,
                            y.get(k).unwrap_or(&Value::Null),
                            out,
                        );
                    }
                }
                _ if a != b => out.push(path.to_string()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk("", &self.to_json(), &active.to_json(), &mut out);
        out
    }

    /// Whether these are the factory settings.
    pub fn is_factory(&self) -> bool {
        *self == Config::default()
    }

    /// The register map template named by `MeterType`.
    pub fn template(&self) -> Result<Template, ConfigError> {
        Template::from_name(&self.meter_type)
            .map_err(|e| ConfigError::new("/MeterType", e.to_string(), json!(self.meter_type)))
    }
}
