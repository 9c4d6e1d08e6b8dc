//! How the client reaches its broker: `MqttOptions` (`--mqtt`, `--resolve`, CA, device
//! identity, back-off, queue), the broker URL (`mqtt[s]://host[:port]`) and the resolve map
//! that keeps traffic on the machine.

use super::backoff::BackoffPolicy;
use super::DEFAULT_QUEUE;
use crate::adapters::broker::EmbeddedBroker;
use crate::adapters::net::Net;
use crate::device::config::DEFAULT_BROKER;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The device certificate (CN = serial) and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity").finish_non_exhaustive()
    }
}

/// How the simulated device reaches its broker.
#[derive(Debug, Clone)]
pub struct MqttOptions {
    /// Use this broker URL instead of the configured one (`--mqtt URL`).
    pub broker: Option<String>,
    /// Host name (or `host:port`) → address to connect to instead (`--resolve HOST=ADDR`).
    /// Port 0 in the address keeps the URL's port.
    pub resolve: Vec<(String, SocketAddr)>,
    /// CA certificate(s) trusted for the broker certificate, PEM (needed for `mqtts://`).
    pub ca_pem: Option<String>,
    /// The device certificate for mTLS (needed for `mqtts://` without username).
    pub identity: Option<DeviceIdentity>,
    /// Seed of the reconnect jitter.
    pub seed: u64,
    pub backoff: BackoffPolicy,
    /// Messages kept while disconnected (oldest dropped first).
    pub queue_capacity: usize,
    pub keep_alive_s: u16,
    /// Real-time limit for TCP + TLS + CONNACK of one attempt.
    pub connect_timeout_s: u64,
    /// Publish retained Home Assistant discovery configs at every connect.
    pub ha_discovery: bool,
    /// The network to reach the broker over: `Net::Tcp` connects with rumqttc; `Net::Mem`
    /// with the in-memory client (`mem_client.rs`: the same MQTT 3.1.1 and TLS over a pipe).
    pub net: Net,
}

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            broker: None,
            resolve: Vec::new(),
            ca_pem: None,
            identity: None,
            seed: 0,
            backoff: BackoffPolicy::default(),
            queue_capacity: DEFAULT_QUEUE,
            keep_alive_s: 30,
            connect_timeout_s: 5,
            ha_discovery: false,
            net: Net::Tcp,
        }
    }
}

impl MqttOptions {
    /// Reach `broker` as if it were the factory broker (MQ-02): its host name resolves to the
    /// broker's TLS front; the device trusts the broker's CA and presents the device
    /// certificate the broker's PKI made (CN = the serial the broker was started for).
    pub fn embedded(broker: &EmbeddedBroker) -> Self {
        let pki = broker.pki();
        let host = BrokerUrl::parse(DEFAULT_BROKER)
            .map(|u| u.host)
            .unwrap_or_default();
        MqttOptions {
            resolve: vec![(host, broker.tls_addr())],
            ca_pem: Some(pki.ca_pem().to_string()),
            identity: Some(DeviceIdentity {
                cert_pem: pki.client().cert_pem().to_string(),
                key_pem: pki.client().key_pem().to_string(),
            }),
            ..MqttOptions::default()
        }
    }

    /// Add a resolve entry.
    pub fn with_resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.resolve.push((host.to_string(), addr));
        self
    }

    /// Parse `HOST=IP:PORT`, `HOST=IP` (keep the URL's port) or `HOST:PORT=IP:PORT`.
    pub fn parse_resolve(s: &str) -> Result<(String, SocketAddr), BrokerAddressError> {
        let given = || s.to_string();
        let (host, addr) = s
            .split_once('=')
            .ok_or_else(|| BrokerAddressError::ResolveSyntax { given: given() })?;
        if host.is_empty() {
            return Err(BrokerAddressError::ResolveEmptyHost { given: given() });
        }
        let addr = addr
            .parse::<SocketAddr>()
            .or_else(|_| addr.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
            .map_err(|_| BrokerAddressError::ResolveAddress {
                given: given(),
                addr: addr.to_string(),
            })?;
        Ok((host.to_ascii_lowercase(), addr))
    }

    /// Where `url` leads: a resolve entry for `host:port` or `host`, else an IP address or
    /// `localhost` as given; other host names are refused (no DNS, nothing leaves the machine).
    pub fn address_for(&self, url: &BrokerUrl) -> Result<SocketAddr, BrokerAddressError> {
        let host = url.host.to_ascii_lowercase();
        let with_port = format!("{host}:{}", url.port);
        let hit = self
            .resolve
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(&with_port))
            .or_else(|| {
                self.resolve
                    .iter()
                    .find(|(h, _)| h.eq_ignore_ascii_case(&host))
            });
        if let Some((_, a)) = hit {
            return Ok(if a.port() == 0 {
                SocketAddr::new(a.ip(), url.port)
            } else {
                *a
            });
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, url.port));
        }
        if host == "localhost" {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), url.port));
        }
        Err(BrokerAddressError::Unmapped { host })
    }
}

/// Why a broker URL or a `--resolve` entry is refused, or a broker host has no address; each
/// names the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerAddressError {
    #[error("{given:?}: expected HOST=ADDR, e.g. broker.xemex-cloud.eu=127.0.0.1:8883")]
    ResolveSyntax { given: String },
    #[error("{given:?}: the host is empty")]
    ResolveEmptyHost { given: String },
    #[error("{given:?}: {addr:?} is not an IP address or IP:PORT")]
    ResolveAddress { given: String, addr: String },
    #[error(
        "broker host {host} is not in the resolve map (the simulator connects only to mapped hosts, IP addresses and localhost; map it with --resolve {host}=ADDR)"
    )]
    Unmapped { host: String },
    #[error("broker {url:?} must start with mqtt:// or mqtts://")]
    Scheme { url: String },
    #[error("broker {url:?}: bad port {port:?}")]
    Port { url: String, port: String },
    #[error("broker {url:?}: bad host {host:?}")]
    Host { url: String, host: String },
}

/// A broker URL as the configuration holds it: `mqtt[s]://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// Parse `mqtts://host[:port]` (default 8883) or `mqtt://host[:port]` (default 1883).
    pub fn parse(s: &str) -> Result<Self, BrokerAddressError> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(BrokerAddressError::Scheme { url: s.to_string() });
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                    BrokerAddressError::Port {
                        url: s.to_string(),
                        port: p.to_string(),
                    }
                })?,
            ),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(BrokerAddressError::Host {
                url: s.to_string(),
                host: host.to_string(),
            });
        }
        Ok(BrokerUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerUrl::parse(DEFAULT_BROKER),
            Ok(BrokerUrl {
                tls: true,
                host: "broker.xemex-cloud.eu".into(),
                port: 8883
            })
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://10.0.0.5"),
            Ok(BrokerUrl {
                tls: false,
                host: "10.0.0.5".into(),
                port: 1883
            })
        );
        assert_eq!(
            BrokerUrl::parse("mqtts://h:1"),
            Ok(BrokerUrl {
                tls: true,
                host: "h".into(),
                port: 1
            })
        );
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:x",
            "mqtt://u@h",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_resolve_map_keeps_traffic_local() {
        let o = MqttOptions::default()
            .with_resolve("broker.xemex-cloud.eu", "127.0.0.1:4000".parse().unwrap())
            .with_resolve("own.example:1883", "127.0.0.1:5000".parse().unwrap());
        let url = |s| BrokerUrl::parse(s).unwrap();
        assert_eq!(
            o.address_for(&url(DEFAULT_BROKER)),
            Ok("127.0.0.1:4000".parse().unwrap())
        );
        assert_eq!(
            o.address_for(&url("mqtt://OWN.example:1883")),
            Ok("127.0.0.1:5000".parse().unwrap())
        );
        assert!(
            o.address_for(&url("mqtt://own.example:1884")).is_err(),
            "host:port entries match that port only"
        );
        assert_eq!(
            o.address_for(&url("mqtt://192.168.1.9:1883")),
            Ok("192.168.1.9:1883".parse().unwrap())
        );
        assert_eq!(
            o.address_for(&url("mqtt://localhost")),
            Ok("127.0.0.1:1883".parse().unwrap())
        );
        let e = o
            .address_for(&url("mqtts://elsewhere.example"))
            .unwrap_err();
        assert_eq!(
            e,
            BrokerAddressError::Unmapped {
                host: "elsewhere.example".into()
            }
        );
        let e = e.to_string();
        assert!(
            e.contains("not in the resolve map") && e.contains("--resolve"),
            "{e}"
        );
        assert_eq!(
            MqttOptions::parse_resolve("B.x=127.0.0.1:9"),
            Ok(("b.x".into(), "127.0.0.1:9".parse().unwrap()))
        );
        assert_eq!(
            MqttOptions::parse_resolve("b=127.0.0.2"),
            Ok(("b".into(), "127.0.0.2:0".parse().unwrap()))
        );
        assert!(MqttOptions::parse_resolve("b").is_err());
        assert!(MqttOptions::parse_resolve("=127.0.0.1").is_err());
        assert!(MqttOptions::parse_resolve("b=nowhere").is_err());
        // Port 0 keeps the URL's port.
        let keep = MqttOptions::default().with_resolve("b", "127.0.0.2:0".parse().unwrap());
        assert_eq!(
            keep.address_for(&url("mqtt://b:1234")),
            Ok("127.0.0.2:1234".parse().unwrap())
        );
    }
}
