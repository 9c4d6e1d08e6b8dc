//! Field checks of a configuration: `Config::validate` (every value, every error in
//! document order, one per field, secrets not echoed) and the string checkers it uses
//! (Wi-Fi passphrase, IPv4 address, netmask prefix, broker URL), public for the property
//! tests. Cross-field rules: Static mode needs `IpAddress` and `Netmask`; a `Gateway` must
//! be in the subnet of `IpAddress`/`Netmask` when all three are set; Wi-Fi as the default
//! interface needs an `SSID`.
//!
//! No configuration string may hold a control character (U+0000..U+001F, U+007F): a NUL in
//! `MQTT.Username` is a protocol error on a real broker, a newline in `WiFi.SSID` breaks the
//! page and the logs. Checked first, for every string, so every path (API, stored file)
//! shares it; the error names the field (`value` is `null` for the passwords).

use super::{Config, ConfigError, ConfigErrors, IpMode, NetIf, StaticIpv4};
use serde_json::{json, Value};
use std::net::Ipv4Addr;

impl Config {
    /// Check every value; every error, in document order, one per field.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = Vec::new();
        check_no_control_chars(&self.to_json(), "", &mut errs);
        if let Err(e) = self.template() {
            errs.push(e);
        }
        let eth = &self.ethernet;
        eth.static_ipv4
            .validate("/Ethernet", eth.ip_mode, &mut errs);
        let w = &self.wifi;
        let mut ssid_err = |m: &str| errs.push(ConfigError::new("/WiFi/SSID", m, json!(w.ssid)));
        if w.ssid.len() > 32 {
            ssid_err("must be at most 32 bytes");
        } else if w.ssid.is_empty() && self.default_net_if == NetIf::WiFi {
            ssid_err("required when /DefaultNetIf is \"WiFi\"");
        }
        if let Err(e) = check_wpa_psk(&w.password) {
            errs.push(ConfigError::new(
                "/WiFi/Password",
                e.to_string(),
                Value::Null,
            ));
        }
        w.static_ipv4.validate("/WiFi", w.ip_mode, &mut errs);
        let m = &self.mqtt;
        if let Err(e) = check_broker(&m.broker) {
            errs.push(ConfigError::new(
                "/MQTT/Broker",
                e.to_string(),
                json!(m.broker),
            ));
        }
        let site_ok = (1..=64).contains(&m.site.len())
            && m.site
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !site_ok {
            let msg = "must be 1..64 characters of A-Z a-z 0-9 _ - (it is one MQTT topic level)";
            errs.push(ConfigError::new("/MQTT/Site", msg, json!(m.site)));
        }
        for (ptr, s, secret) in [
            ("/MQTT/Username", &m.username, false),
            ("/MQTT/Password", &m.password, true),
        ] {
            let n = s.chars().count();
            if n > 128 {
                let v = if secret { Value::Null } else { json!(s) };
                let msg = format!("must be at most 128 characters, got {n}");
                errs.push(ConfigError::new(ptr, msg, v));
            }
        }
        ConfigErrors::check(errs)
    }
}

/// Secrets: not echoed in errors.
const SECRETS: [&str; 2] = ["/WiFi/Password", "/MQTT/Password"];

/// Every string in `v` (below `pointer`) holding a control character.
fn check_no_control_chars(v: &Value, pointer: &str, errs: &mut Vec<ConfigError>) {
    match v {
        Value::String(s) => {
            if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| c.is_ascii_control()) {
                let msg = format!(
                    "must not contain control characters (U+0000..U+001F, U+007F); found U+{:04X} at character {}",
                    u32::from(c),
                    i.saturating_add(1)
                );
                let value = match SECRETS.contains(&pointer) {
                    true => Value::Null,
                    false => json!(s),
                };
                errs.push(ConfigError::new(pointer, msg, value));
            }
        }
        Value::Object(map) => {
            for (k, x) in map {
                check_no_control_chars(x, &format!("{pointer}/{k}"), errs);
            }
        }
        _ => {}
    }
}

impl StaticIpv4 {
    /// `base` is the interface's pointer; `IpAddress` and `Netmask` are required in Static
    /// mode. A `Gateway` given with `IpAddress` and `Netmask` must be in their subnet (the
    /// device reaches its gateway directly), in either mode: the values are kept for Static.
    fn validate(&self, base: &str, mode: IpMode, errs: &mut Vec<ConfigError>) {
        type Check = fn(&str) -> Result<(), ValueError>;
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
                    errs.push(ConfigError::new(ptr, msg, json!(value)));
                }
            } else if let Err(e) = check(value) {
                errs.push(ConfigError::new(ptr, e.to_string(), json!(value)));
            }
        }
        // The subnet rule only when the three values are each valid.
        let ptrs = ["IpAddress", "Netmask", "Gateway"].map(|n| format!("{base}/StaticIPv4/{n}"));
        let clean = !errs.iter().any(|e| ptrs.contains(&e.pointer));
        if let (true, Some(msg)) = (clean, self.gateway_outside_subnet()) {
            let [.., gateway] = ptrs;
            errs.push(ConfigError::new(gateway, msg, json!(self.gateway)));
        }
    }

    /// Why `Gateway` is not in the subnet of `IpAddress`/`Netmask`; `None` when it is, or when
    /// one of the three is not set (or not parseable).
    fn gateway_outside_subnet(&self) -> Option<String> {
        let ip: Ipv4Addr = self.ip_address.parse().ok()?;
        let gw: Ipv4Addr = self.gateway.parse().ok()?;
        let prefix: u32 = self.netmask.parse().ok().filter(|p| *p <= 32)?;
        let mask = u32::MAX
            .checked_shl(32u32.saturating_sub(prefix))
            .unwrap_or(0);
        let net = u32::from(ip) & mask;
        if u32::from(gw) & mask == net {
            return None;
        }
        Some(format!(
            "must be in the subnet {}/{prefix} of IpAddress ({ip} with Netmask \"{prefix}\"): \
             the device reaches its gateway directly; change IpAddress, Netmask or Gateway",
            Ipv4Addr::from(net)
        ))
    }
}

/// Why a value given to one of the string checkers is refused; the field it belongs to is
/// named by the caller (`ConfigError::pointer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(
        "must be empty or 8..63 printable ASCII characters (WPA2-PSK); got {chars} characters"
    )]
    Psk { chars: usize },
    #[error("IPv6 is not supported; give an IPv4 address like 192.168.1.10")]
    Ipv6Address,
    #[error(
        "must be an IPv4 address of 4 numbers 0..255 separated by dots (e.g. 192.168.1.10), \
         got {parts} part(s)"
    )]
    Ipv4Parts { parts: usize },
    #[error("octet {octet:?} is not a decimal number 0..255")]
    OctetNotDecimal { octet: String },
    #[error("octet {octet:?} has a leading zero")]
    OctetLeadingZero { octet: String },
    #[error("octet {octet} is greater than 255")]
    OctetTooLarge { octet: String },
    /// `hint`: the prefix length of a dotted mask given instead (`255.255.255.0` → 24).
    #[error(
        "must be a prefix length \"0\"..\"32\" as a string (e.g. \"24\"){}",
        .hint.map_or(String::new(), |n| format!("; for {given} write \"{n}\""))
    )]
    Prefix { given: String, hint: Option<u32> },
    #[error("must start with mqtt:// or mqtts:// (e.g. mqtts://broker.example.com:8883)")]
    BrokerScheme,
    #[error("no credentials in the URL: use /MQTT/Username and /MQTT/Password")]
    BrokerCredentials,
    #[error("must be scheme://host[:port] only, found {found:?}")]
    BrokerExtra { found: char },
    #[error("IPv6 is not supported; give a host name or IPv4 address")]
    Ipv6Host,
    #[error("port {port:?} must be a number 1..65535")]
    Port { port: String },
    #[error("the host name is missing")]
    HostMissing,
    #[error("host {host}: {source}")]
    HostAddress {
        host: String,
        #[source]
        source: Box<ValueError>,
    },
    #[error("host {host:?} is not a valid host name")]
    HostName { host: String },
}

/// A Wi-Fi password: empty (not set) or a WPA2-PSK passphrase of 8..=63 printable ASCII.
pub fn check_wpa_psk(s: &str) -> Result<(), ValueError> {
    let ok = s.is_empty()
        || ((8..=63).contains(&s.len()) && s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    match ok {
        true => Ok(()),
        false => Err(ValueError::Psk {
            chars: s.chars().count(),
        }),
    }
}

/// An IPv4 address in dotted-quad form: four decimal octets 0..=255, no signs, no leading zeros
/// (ambiguous: octal on some stacks), no spaces. IPv6 is refused as such (NET-04).
pub fn check_ipv4(s: &str) -> Result<(), ValueError> {
    if s.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::Ipv6Addr>()
        .is_ok()
    {
        return Err(ValueError::Ipv6Address);
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(ValueError::Ipv4Parts { parts: parts.len() });
    }
    for p in parts {
        let octet = p.to_string();
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::OctetNotDecimal { octet });
        }
        if p.len() > 1 && p.starts_with('0') {
            return Err(ValueError::OctetLeadingZero { octet });
        }
        if p.parse::<u16>().map_or(true, |n| n > 255) {
            return Err(ValueError::OctetTooLarge { octet });
        }
    }
    Ok(())
}

/// A netmask as a prefix length string `"0"`..`"32"`. A dotted mask is refused with a hint.
pub fn check_prefix(s: &str) -> Result<(), ValueError> {
    let ok = !s.is_empty()
        && s.len() <= 2
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() == 2 && s.starts_with('0'))
        && s.parse::<u8>().is_ok_and(|n| n <= 32);
    if ok {
        return Ok(());
    }
    let mut hint = None;
    if check_ipv4(s).is_ok() {
        let m = s.split('.').fold(0u32, |acc, o| {
            acc.checked_shl(8).unwrap_or(0) | o.parse::<u32>().unwrap_or(0)
        });
        if m.leading_ones().saturating_add(m.trailing_zeros()) == 32 {
            hint = Some(m.leading_ones());
        }
    }
    Err(ValueError::Prefix {
        given: s.to_string(),
        hint,
    })
}

/// `mqtt://` or `mqtts://`, a host name or IPv4 address, an optional `:port` 1..=65535, and
/// nothing else (no credentials, path, query or fragment).
pub fn check_broker(s: &str) -> Result<(), ValueError> {
    let rest = s
        .strip_prefix("mqtts://")
        .or_else(|| s.strip_prefix("mqtt://"))
        .ok_or(ValueError::BrokerScheme)?;
    if rest.contains('@') {
        return Err(ValueError::BrokerCredentials);
    }
    if let Some(found) = rest.chars().find(|c| matches!(c, '/' | '?' | '#')) {
        return Err(ValueError::BrokerExtra { found });
    }
    if rest.starts_with('[') || rest.matches(':').count() > 1 {
        return Err(ValueError::Ipv6Host);
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
            return Err(ValueError::Port {
                port: p.to_string(),
            });
        }
    }
    Ok(())
}

/// A DNS host name (RFC 1123 labels) or, when the last label is numeric, an IPv4 address.
fn check_host(h: &str) -> Result<(), ValueError> {
    if h.is_empty() {
        return Err(ValueError::HostMissing);
    }
    if h.rsplit('.')
        .next()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return check_ipv4(h).map_err(|e| ValueError::HostAddress {
            host: h.to_string(),
            source: Box::new(e),
        });
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if h.len() > 253 || !h.split('.').all(label_ok) {
        return Err(ValueError::HostName {
            host: h.to_string(),
        });
    }
    Ok(())
}
