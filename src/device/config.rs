//! The device configuration behind `GET`/`PATCH /api/v1/config`: the model with the manual's
//! key spelling (API-03, API-11), the factory settings, and `apply_patch` — an RFC 7396 merge
//! patch that is checked and validated as a whole, all-or-nothing (API-04, API-09). Pure: no
//! I/O (persistence is `store.rs`).
//!
//! Decisions: every key always exists (`null` in a patch is refused, it would delete a
//! setting); `Netmask` is a prefix length string `"0"`..`"32"` only (a dotted mask is refused
//! with a hint giving its prefix); an empty static field means "not set"; secrets are not
//! echoed in errors (`value` is `null` for the two passwords).

use super::registers::Template;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;

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

/// A refused configuration: the field's JSON pointer (RFC 6901), why, and the offending value
/// (`null` when there is none, or for a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub pointer: String,
    pub message: String,
    pub value: Value,
}

impl ConfigError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>, value: Value) -> Self {
        ConfigError {
            pointer: pointer.into(),
            message: message.into(),
            value,
        }
    }

    /// The JSON error body for the HTTP layer.
    pub fn to_json(&self) -> Value {
        json!({"error": self.to_string(), "field": self.pointer,
               "message": self.message, "value": self.value})
    }
}

impl fmt::Display for ConfigError {
    /// `"{pointer}: {message}"`; just the message for the document root (pointer `""`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The expected JSON shape, in document order; kept equal to the structs by a test.
enum Shape {
    Str,
    Bool,
    OneOf(&'static [&'static str]),
    Obj(&'static [(&'static str, Shape)]),
}

const IP_MODE: Shape = Shape::OneOf(&["DHCP", "Static"]);
const STATIC: Shape = Shape::Obj(&[
    ("IpAddress", Shape::Str),
    ("Netmask", Shape::Str),
    ("Gateway", Shape::Str),
    ("DNS", Shape::Str),
]);
const SCHEMA: Shape = Shape::Obj(&[
    ("MeterType", Shape::Str),
    ("DefaultNetIf", Shape::OneOf(&["Ethernet", "WiFi"])),
    (
        "Ethernet",
        Shape::Obj(&[("IpMode", IP_MODE), ("StaticIPv4", STATIC)]),
    ),
    (
        "WiFi",
        Shape::Obj(&[
            ("IpMode", IP_MODE),
            ("SSID", Shape::Str),
            ("Password", Shape::Str),
            ("StaticIPv4", STATIC),
        ]),
    ),
    (
        "MQTT",
        Shape::Obj(&[
            ("Enabled", Shape::Bool),
            ("Broker", Shape::Str),
            ("Site", Shape::Str),
            ("Username", Shape::Str),
            ("Password", Shape::Str),
        ]),
    ),
]);

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn quoted(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check `v` against `shape`. In a patch keys may be missing but not `null`; in a whole
/// document every key must be there. Unknown keys are reported before a level's fields.
fn check_shape(v: &Value, shape: &Shape, ptr: &str, patch: bool) -> Result<(), ConfigError> {
    let expected = match shape {
        Shape::Str => "a string",
        Shape::Bool => "a boolean",
        Shape::OneOf(_) => "a string",
        Shape::Obj(_) => "an object",
    };
    match (shape, v) {
        (_, Value::Null) if patch => Err(ConfigError::new(
            ptr,
            "cannot be null: every setting must have a value (send the value wanted instead)",
            Value::Null,
        )),
        (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => Ok(()),
        (Shape::OneOf(names), Value::String(s)) if names.contains(&s.as_str()) => Ok(()),
        (Shape::OneOf(names), Value::String(_)) => Err(ConfigError::new(
            ptr,
            format!("must be one of {}", quoted(names.iter().copied())),
            v.clone(),
        )),
        (Shape::Obj(fields), Value::Object(map)) => {
            let mut unknown: Vec<&String> = map
                .keys()
                .filter(|k| !fields.iter().any(|(n, _)| n == k))
                .collect();
            unknown.sort();
            if let Some(k) = unknown.first() {
                let hint = match fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
                    Some((n, _)) => format!("; did you mean {n:?}?"),
                    None => format!("; valid keys here: {}", quoted(fields.iter().map(|f| f.0))),
                };
                return Err(ConfigError::new(
                    join(ptr, k),
                    format!("unknown key{hint}"),
                    map[k.as_str()].clone(),
                ));
            }
            for (name, sub) in fields.iter() {
                match map.get(*name) {
                    Some(x) => check_shape(x, sub, &join(ptr, name), patch)?,
                    None if patch => {}
                    None => return Err(ConfigError::new(join(ptr, name), "missing", Value::Null)),
                }
            }
            Ok(())
        }
        _ => Err(ConfigError::new(
            ptr,
            format!("expected {expected}, got {}", kind(v)),
            v.clone(),
        )),
    }
}

/// Append one reference token (escaped per RFC 6901) to a JSON pointer.
fn join(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Apply an RFC 7396 merge patch to `current` and validate the whole result. On error nothing
/// changes (`current` is only read): the caller keeps its config (API-09).
pub fn apply_patch(current: &Config, patch: &Value) -> Result<Config, ConfigError> {
    if !patch.is_object() {
        let msg = format!("the patch must be a JSON object, got {}", kind(patch));
        return Err(ConfigError::new("", msg, patch.clone()));
    }
    check_shape(patch, &SCHEMA, "", true)?;
    let mut doc = current.to_json();
    json_patch::merge(&mut doc, patch);
    Config::from_json(&doc)
}

impl Config {
    /// The whole configuration, secrets included (the `GET` body, API-03, API-11).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("Config serialises to JSON")
    }

    /// A whole configuration document: every key present, none unknown, all values valid.
    pub fn from_json(v: &Value) -> Result<Config, ConfigError> {
        check_shape(v, &SCHEMA, "", false)?;
        let c =
            Config::deserialize(v).map_err(|e| ConfigError::new("", e.to_string(), v.clone()))?;
        c.validate()?;
        Ok(c)
    }

    /// Whether these are the factory settings.
    pub fn is_factory(&self) -> bool {
        *self == Config::default()
    }

    /// The register map template named by `MeterType`.
    pub fn template(&self) -> Result<Template, ConfigError> {
        Template::from_name(&self.meter_type)
            .map_err(|m| ConfigError::new("/MeterType", m, json!(self.meter_type)))
    }

    /// Check every value; the first error in document order.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.template()?;
        let eth = &self.ethernet;
        eth.static_ipv4.validate("/Ethernet", eth.ip_mode)?;
        let w = &self.wifi;
        let ssid_err = |m: &str| Err(ConfigError::new("/WiFi/SSID", m, json!(w.ssid)));
        if w.ssid.len() > 32 {
            return ssid_err("must be at most 32 bytes");
        }
        if w.ssid.is_empty() && self.default_net_if == NetIf::WiFi {
            return ssid_err("required when /DefaultNetIf is \"WiFi\"");
        }
        check_wpa_psk(&w.password)
            .map_err(|e| ConfigError::new("/WiFi/Password", e, Value::Null))?;
        w.static_ipv4.validate("/WiFi", w.ip_mode)?;
        let m = &self.mqtt;
        check_broker(&m.broker)
            .map_err(|e| ConfigError::new("/MQTT/Broker", e, json!(m.broker)))?;
        let site_ok = (1..=64).contains(&m.site.len())
            && m.site
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !site_ok {
            let msg = "must be 1..64 characters of A-Z a-z 0-9 _ - (it is one MQTT topic level)";
            return Err(ConfigError::new("/MQTT/Site", msg, json!(m.site)));
        }
        for (ptr, s, secret) in [
            ("/MQTT/Username", &m.username, false),
            ("/MQTT/Password", &m.password, true),
        ] {
            let n = s.chars().count();
            if n > 128 {
                let v = if secret { Value::Null } else { json!(s) };
                return Err(ConfigError::new(
                    ptr,
                    format!("must be at most 128 characters, got {n}"),
                    v,
                ));
            }
        }
        Ok(())
    }
}

impl StaticIpv4 {
    /// `base` is the interface's pointer; `IpAddress` and `Netmask` are required in Static mode.
    fn validate(&self, base: &str, mode: IpMode) -> Result<(), ConfigError> {
        type Check = fn(&str) -> Result<(), String>;
        let fields: [(&str, &String, Check, bool); 4] = [
            ("IpAddress", &self.ip_address, check_ipv4, true),
            ("Netmask", &self.netmask, check_prefix, true),
            ("Gateway", &self.gateway, check_ipv4, false),
            ("DNS", &self.dns, check_ipv4, false),
        ];
        for (name, value, check, required) in fields {
            let ptr = format!("{base}/StaticIPv4/{name}");
            if value.is_empty() {
                if required && mode == IpMode::Static {
                    let msg = format!("required when {base}/IpMode is \"Static\"");
                    return Err(ConfigError::new(ptr, msg, json!(value)));
                }
            } else {
                check(value).map_err(|e| ConfigError::new(ptr, e, json!(value)))?;
            }
        }
        Ok(())
    }
}

/// A Wi-Fi password: empty (not set) or a WPA2-PSK passphrase of 8..=63 printable ASCII.
pub fn check_wpa_psk(s: &str) -> Result<(), String> {
    let ok = s.is_empty()
        || ((8..=63).contains(&s.len()) && s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "must be empty or 8..63 printable ASCII characters (WPA2-PSK); got {} characters",
            s.chars().count()
        )),
    }
}

/// An IPv4 address in dotted-quad form: four decimal octets 0..=255, no signs, no leading zeros
/// (ambiguous: octal on some stacks), no spaces. IPv6 is refused as such (NET-04).
pub fn check_ipv4(s: &str) -> Result<(), String> {
    if s.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::Ipv6Addr>()
        .is_ok()
    {
        return Err("IPv6 is not supported; give an IPv4 address like 192.168.1.10".into());
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(format!(
            "must be an IPv4 address of 4 numbers 0..255 separated by dots (e.g. 192.168.1.10), \
             got {} part(s)",
            parts.len()
        ));
    }
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("octet {p:?} is not a decimal number 0..255"));
        }
        if p.len() > 1 && p.starts_with('0') {
            return Err(format!("octet {p:?} has a leading zero"));
        }
        if p.parse::<u16>().map_or(true, |n| n > 255) {
            return Err(format!("octet {p} is greater than 255"));
        }
    }
    Ok(())
}

/// A netmask as a prefix length string `"0"`..`"32"`. A dotted mask is refused with a hint.
pub fn check_prefix(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 2
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() == 2 && s.starts_with('0'))
        && s.parse::<u8>().is_ok_and(|n| n <= 32);
    if ok {
        return Ok(());
    }
    let mut msg = String::from("must be a prefix length \"0\"..\"32\" as a string (e.g. \"24\")");
    if check_ipv4(s).is_ok() {
        let m = s
            .split('.')
            .fold(0u32, |acc, o| acc << 8 | o.parse::<u32>().unwrap_or(0));
        if m.leading_ones() + m.trailing_zeros() == 32 {
            msg += &format!("; for {s} write \"{}\"", m.leading_ones());
        }
    }
    Err(msg)
}

/// `mqtt://` or `mqtts://`, a host name or IPv4 address, an optional `:port` 1..=65535, and
/// nothing else (no credentials, path, query or fragment).
pub fn check_broker(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("mqtts://")
        .or_else(|| s.strip_prefix("mqtt://"))
        .ok_or("must start with mqtt:// or mqtts:// (e.g. mqtts://broker.example.com:8883)")?;
    if rest.contains('@') {
        return Err("no credentials in the URL: use /MQTT/Username and /MQTT/Password".into());
    }
    if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#')) {
        return Err(format!("must be scheme://host[:port] only, found {c:?}"));
    }
    if rest.starts_with('[') || rest.matches(':').count() > 1 {
        return Err("IPv6 is not supported; give a host name or IPv4 address".into());
    }
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    check_host(host)?;
    if let Some(p) = port {
        let ok = !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && !p.starts_with('0')
            && p.parse::<u16>().is_ok();
        if !ok {
            return Err(format!("port {p:?} must be a number 1..65535"));
        }
    }
    Ok(())
}

/// A DNS host name (RFC 1123 labels) or, when the last label is numeric, an IPv4 address.
fn check_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("the host name is missing".into());
    }
    if h.rsplit('.')
        .next()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return check_ipv4(h).map_err(|e| format!("host {h}: {e}"));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if h.len() > 253 || !h.split('.').all(label_ok) {
        return Err(format!("host {h:?} is not a valid host name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each rule through `apply_patch` (the error names the pointer); the value tables of the
    //! string checkers are in `tests/config_props.rs`.
    use super::*;

    fn patch(p: Value) -> Result<Config, ConfigError> {
        apply_patch(&Config::default(), &p)
    }

    /// The pointer of the error a patch gets (and Display starts with it).
    fn refused(p: Value) -> String {
        let e = patch(p.clone()).expect_err(&p.to_string());
        assert!(e.pointer.is_empty() || e.to_string().starts_with(&format!("{}: ", e.pointer)));
        e.pointer
    }

    #[test]
    fn factory_settings_validate_and_match_the_manual_shape() {
        let c = Config::default();
        assert!(c.is_factory() && c.validate().is_ok());
        let j = c.to_json();
        let want = json!({"MeterType": "PhoenixContact-EMPro", "DefaultNetIf": "Ethernet",
            "Ethernet": {"IpMode": "DHCP", "StaticIPv4":
                {"IpAddress": "", "Netmask": "", "Gateway": "", "DNS": ""}},
            "WiFi": {"IpMode": "DHCP", "SSID": "", "Password": "", "StaticIPv4":
                {"IpAddress": "", "Netmask": "", "Gateway": "", "DNS": ""}},
            "MQTT": {"Enabled": true, "Broker": "mqtts://broker.xemex-cloud.eu:8883",
                "Site": "unknown-site", "Username": "", "Password": ""}});
        assert_eq!(j, want);
        // The shape table and the structs agree: the factory JSON is a whole document.
        check_shape(&j, &SCHEMA, "", false).unwrap();
        assert_eq!(Config::from_json(&j), Ok(c));
    }

    #[test]
    fn the_manuals_get_example_is_accepted_as_a_patch() {
        let example = json!({"MeterType": "PhoenixContact-EMPro", "DefaultNetIf": "WiFi",
            "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101",
                "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}},
            "WiFi": {"IpMode": "DHCP", "SSID": "home"},
            "MQTT": {"Broker": "mqtts://broker.xemex-cloud.eu:8883", "Site": "site",
                "Username": "username", "Password": "password"}});
        let c = patch(example).unwrap();
        assert_eq!(c.ethernet.static_ipv4.netmask, "24");
        assert_eq!(c.default_net_if, NetIf::WiFi);
        assert!(!c.is_factory());
    }

    #[test]
    fn merge_patch_changes_only_the_fields_given() {
        let c = patch(json!({"MQTT": {"Site": "site-new"}})).unwrap();
        let mut want = Config::default();
        want.mqtt.site = "site-new".into();
        assert_eq!(c, want);
        // Nested objects merge: the second patch keeps the first one's address.
        let p1 = json!({"Ethernet": {"StaticIPv4": {"IpAddress": "10.0.0.2"}}});
        let c = apply_patch(&c, &p1).unwrap();
        let c = apply_patch(&c, &json!({"Ethernet": {"StaticIPv4": {"Netmask": "8"}}})).unwrap();
        assert_eq!(c.ethernet.static_ipv4.ip_address, "10.0.0.2");
        assert_eq!(c.ethernet.static_ipv4.netmask, "8");
        assert_eq!(c.mqtt.site, "site-new");
        assert_eq!(apply_patch(&c, &json!({})), Ok(c.clone()));
        // The result is exactly RFC 7396 applied to the old document.
        let p = json!({"WiFi": {"SSID": "x", "StaticIPv4": {"DNS": "1.1.1.1"}}});
        let mut doc = c.to_json();
        json_patch::merge(&mut doc, &p);
        assert_eq!(apply_patch(&c, &p).unwrap().to_json(), doc);
    }

    #[test]
    fn arrays_replace_and_wrong_types_are_refused_naming_the_field() {
        let cases = [
            (json!({"MQTT": {"Site": ["a"]}}), "/MQTT/Site"),
            (json!({"MQTT": {"Enabled": "yes"}}), "/MQTT/Enabled"),
            (json!({"MQTT": "off"}), "/MQTT"),
            (
                json!({"Ethernet": {"StaticIPv4": {"Netmask": 24}}}),
                "/Ethernet/StaticIPv4/Netmask",
            ),
            (
                json!({"Ethernet": {"IpMode": "static"}}),
                "/Ethernet/IpMode",
            ),
            (json!({"DefaultNetIf": "Wifi"}), "/DefaultNetIf"),
        ];
        for (p, ptr) in cases {
            assert_eq!(refused(p), ptr);
        }
    }

    #[test]
    fn a_patch_must_be_an_object() {
        for p in [json!(null), json!([]), json!("x"), json!(3)] {
            assert_eq!(refused(p), "");
        }
        let msg = patch(json!([1])).unwrap_err().to_string();
        assert_eq!(msg, "the patch must be a JSON object, got an array");
    }

    #[test]
    fn null_and_unknown_keys_are_refused_naming_the_key() {
        assert_eq!(refused(json!({"MQTT": {"Site": null}})), "/MQTT/Site");
        assert_eq!(refused(json!({"MQTT": null})), "/MQTT");
        assert_eq!(refused(json!({"Foo": null})), "/Foo");
        let p = json!({"WiFi": {"StaticIPv4": {"Mask": "24"}}});
        assert_eq!(refused(p), "/WiFi/StaticIPv4/Mask");
        assert_eq!(refused(json!({"a/b~c": 1})), "/a~1b~0c");
        let e = patch(json!({"Ethernet": {"StaticIPv4": {"Dns": "1.1.1.1"}}})).unwrap_err();
        let msg = "/Ethernet/StaticIPv4/Dns: unknown key; did you mean \"DNS\"?";
        assert_eq!(e.to_string(), msg);
        assert_eq!(e.value, json!("1.1.1.1"));
        // Unknown keys are refused by plain serde too.
        let mut j = Config::default().to_json();
        j["MQTT"]["Port"] = json!(1);
        assert!(serde_json::from_value::<Config>(j.clone()).is_err());
        assert_eq!(Config::from_json(&j).unwrap_err().pointer, "/MQTT/Port");
    }

    #[test]
    fn a_whole_document_must_have_every_key() {
        let mut j = Config::default().to_json();
        j["WiFi"].as_object_mut().unwrap().remove("SSID");
        let e = Config::from_json(&j).unwrap_err();
        assert_eq!(e.to_string(), "/WiFi/SSID: missing");
    }

    #[test]
    fn all_or_nothing_one_bad_field_refuses_the_whole_patch() {
        let cur = patch(json!({"MQTT": {"Site": "a"}})).unwrap();
        let before = cur.clone();
        let p = json!({"MQTT": {"Site": "b", "Broker": "broker.example.com"}});
        let e = apply_patch(&cur, &p).unwrap_err();
        assert_eq!(e.pointer, "/MQTT/Broker");
        assert_eq!(e.value, json!("broker.example.com"));
        assert_eq!(cur, before);
        // The first error in document order is reported.
        let e = patch(json!({"MQTT": {"Site": "a/b"}, "MeterType": "x"})).unwrap_err();
        assert_eq!(e.pointer, "/MeterType");
    }

    #[test]
    fn ipv4_rule_on_every_address_field() {
        for iface in ["Ethernet", "WiFi"] {
            for field in ["IpAddress", "Gateway", "DNS"] {
                let ptr = format!("/{iface}/StaticIPv4/{field}");
                for bad in ["300.1.1.1", "1.2.3", "+1.2.3.4", "01.2.3.4", " 1.2.3.4"] {
                    assert_eq!(refused(json!({iface: {"StaticIPv4": {field: bad}}})), ptr);
                }
                let e = patch(json!({iface: {"StaticIPv4": {field: "fe80::1"}}})).unwrap_err();
                assert!(e.message.starts_with("IPv6 is not supported"));
                assert_eq!((e.pointer, e.value), (ptr, json!("fe80::1")));
                assert!(patch(json!({iface: {"StaticIPv4": {field: "192.168.1.1"}}})).is_ok());
            }
        }
    }

    #[test]
    fn netmask_rule() {
        for good in ["0", "24", "32"] {
            assert!(patch(json!({"WiFi": {"StaticIPv4": {"Netmask": good}}})).is_ok());
        }
        for bad in ["33", "024", "+24", "-1", "255.255.255.0"] {
            let e = patch(json!({"WiFi": {"StaticIPv4": {"Netmask": bad}}})).unwrap_err();
            assert_eq!(
                (e.pointer.as_str(), e.value),
                ("/WiFi/StaticIPv4/Netmask", json!(bad))
            );
        }
        assert!(check_prefix("255.255.255.0")
            .unwrap_err()
            .ends_with("write \"24\""));
        assert!(!check_prefix("255.0.255.0").unwrap_err().contains("write"));
    }

    #[test]
    fn static_mode_requires_address_and_netmask_only() {
        for iface in ["Ethernet", "WiFi"] {
            let p = json!({iface: {"IpMode": "Static"}});
            assert_eq!(refused(p), format!("/{iface}/StaticIPv4/IpAddress"));
            let p = json!({iface: {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.0.0.5"}}});
            let e = patch(p).unwrap_err();
            assert_eq!(e.pointer, format!("/{iface}/StaticIPv4/Netmask"));
            assert_eq!(
                e.message,
                format!("required when /{iface}/IpMode is \"Static\"")
            );
            let p = json!({iface: {"IpMode": "Static",
                "StaticIPv4": {"IpAddress": "10.0.0.5", "Netmask": "24"}}});
            assert!(patch(p).is_ok());
        }
        // In DHCP mode the static values are kept (and validated) but not required.
        assert!(patch(json!({"Ethernet": {"StaticIPv4": {"Gateway": "10.0.0.1"}}})).is_ok());
    }

    #[test]
    fn broker_rule() {
        for good in [
            "mqtt://localhost",
            "mqtts://10.0.0.1:1883",
            "mqtts://b.example.com:8883",
        ] {
            assert!(patch(json!({"MQTT": {"Broker": good}})).is_ok(), "{good}");
        }
        for bad in [
            "broker.example.com",
            "http://b",
            "mqtts://b:0",
            "mqtts://b/x",
            "mqtts://",
        ] {
            assert_eq!(
                refused(json!({"MQTT": {"Broker": bad}})),
                "/MQTT/Broker",
                "{bad}"
            );
        }
        let e = patch(json!({"MQTT": {"Broker": "mqtts://[::1]:8883"}})).unwrap_err();
        assert!(e.message.starts_with("IPv6 is not supported"));
    }

    #[test]
    fn wifi_rules() {
        assert!(patch(json!({"WiFi": {"Password": "12345678"}})).is_ok());
        assert!(patch(json!({"WiFi": {"Password": "~".repeat(63)}})).is_ok());
        for pw in [
            "1234567".into(),
            "x".repeat(64),
            "pässwort1".into(),
            "tab\there1".into(),
        ] {
            let e = patch(json!({"WiFi": {"Password": pw}})).unwrap_err();
            assert_eq!(
                (e.pointer.as_str(), e.value),
                ("/WiFi/Password", Value::Null)
            );
        }
        assert_eq!(refused(json!({"DefaultNetIf": "WiFi"})), "/WiFi/SSID");
        assert!(patch(json!({"DefaultNetIf": "WiFi", "WiFi": {"SSID": "s"}})).is_ok());
        assert!(patch(json!({"WiFi": {"SSID": "x".repeat(32)}})).is_ok());
        assert_eq!(
            refused(json!({"WiFi": {"SSID": "x".repeat(33)}})),
            "/WiFi/SSID"
        );
        assert_eq!(
            refused(json!({"WiFi": {"SSID": "é".repeat(17)}})),
            "/WiFi/SSID"
        );
    }

    #[test]
    fn mqtt_site_and_credentials_rules() {
        for s in ["a", "site-new", "Site_2", &"x".repeat(64)] {
            assert!(patch(json!({"MQTT": {"Site": s}})).is_ok(), "{s}");
        }
        for s in ["", "a/b", "a+b", "#", "a b", "é", &"x".repeat(65)] {
            assert_eq!(refused(json!({"MQTT": {"Site": s}})), "/MQTT/Site", "{s}");
        }
        for f in ["Username", "Password"] {
            assert!(patch(json!({"MQTT": {f: "é".repeat(128)}})).is_ok());
            assert_eq!(
                refused(json!({"MQTT": {f: "x".repeat(129)}})),
                format!("/MQTT/{f}")
            );
        }
        let e = patch(json!({"MQTT": {"Password": "x".repeat(129)}})).unwrap_err();
        assert_eq!(e.value, Value::Null, "secrets are not echoed");
        assert!(patch(json!({"MQTT": {"Enabled": false}})).is_ok());
    }

    #[test]
    fn meter_type_rule_lists_the_valid_names() {
        let c = patch(json!({"MeterType": "Eastron-SDM630"})).unwrap();
        assert_eq!(c.template(), Ok(Template::EastronSdm630));
        let e = patch(json!({"MeterType": "SDM630"})).unwrap_err();
        assert_eq!(e.pointer, "/MeterType");
        assert!(e.message.contains("PhoenixContact-EMPro") && e.message.contains("Eastron-SDM630"));
        assert_eq!(e.to_json()["field"], "/MeterType");
    }
}
