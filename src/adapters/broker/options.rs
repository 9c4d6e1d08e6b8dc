//! How to start the embedded broker (`BrokerOptions`), its defaults and bounds, the
//! installer's own-broker account, and what can go wrong (`BrokerError`).

use super::super::certs::{PkiError, PkiOptions, TestPki};
use super::super::net::Net;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The largest MQTT packet the broker accepts.
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Concurrent connections each front (plain, TLS) takes by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// How long a client may take from the TCP accept to a complete CONNECT (TLS handshake
/// included), by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The TLS front's account on rumqttd's internal listener (its password is random per start).
pub(super) const FRONT_USER: &str = "smart-connect-tls-front";

/// What can go wrong when starting the broker or talking to it in-process.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("test PKI: {0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A listener port cannot be bound (taken, or below 1024 without privileges).
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        addr: std::net::SocketAddr,
        what: &'static str,
        source: io::Error,
    },
    #[error("the embedded broker did not start: {0}")]
    Start(String),
    #[error("in-process link to the broker: {0}")]
    Link(String),
}

/// How to start an `EmbeddedBroker`.
#[derive(Clone)]
pub struct BrokerOptions {
    /// The public plain MQTT port (`mqtt://`); 0 = any free port.
    pub plain_port: u16,
    /// The TLS front's port (`mqtts://`, client certificate required); 0 = any free port.
    pub tls_port: u16,
    /// Reuse this PKI (e.g. to restart a broker that devices already trust); else one is made
    /// from `pki_options`.
    pub pki: Option<Arc<TestPki>>,
    /// Names, validity windows and the device certificate's CN (= the device serial, MQ-05).
    pub pki_options: PkiOptions,
    /// Username/password pairs (MQ-07), the installer's accounts. The public plain listener
    /// takes only these. Empty: one account `installer` with a random password is made at
    /// start (`EmbeddedBroker::installer`). Given here: the TLS front also lets clients
    /// without a certificate through to the public listener (password over TLS).
    pub credentials: Vec<(String, String)>,
    /// Concurrent connections each front (plain, TLS) takes; more are closed at once.
    pub max_connections: usize,
    /// From the TCP accept to a complete CONNECT (TLS handshake included), at most.
    pub connect_timeout: Duration,
    /// Where to write `ca.pem`, `server.pem`/`.key`, `device.pem`/`.key`; kept after the broker
    /// stops. `None`: a fresh temporary folder, removed when the broker is dropped.
    pub cert_dir: Option<PathBuf>,
    /// Where the fronts listen (`tls_port`/`plain_port` on 127.0.0.1) and how admitted
    /// connections reach rumqttd: `Net::Tcp` (rumqttd's two loopback listeners) or `Net::Mem`
    /// (the fronts listen on the in-memory network and rumqttd opens no listener: a bridge
    /// feeds each connection to its router, no socket at all).
    pub net: Net,
}

impl std::fmt::Debug for BrokerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerOptions")
            .field("plain_port", &self.plain_port)
            .field("tls_port", &self.tls_port)
            .field("pki", &self.pki.is_some())
            .field("pki_options", &self.pki_options)
            .field(
                "credentials",
                &self.credentials.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .field("cert_dir", &self.cert_dir)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("net", &self.net)
            .finish()
    }
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            plain_port: 0,
            tls_port: 0,
            pki: None,
            pki_options: PkiOptions::default(),
            credentials: Vec::new(),
            cert_dir: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            net: Net::Tcp,
        }
    }
}

/// A random password: 20 letters and digits.
pub(super) fn random_password() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

impl BrokerOptions {
    /// Ephemeral ports, a fresh PKI whose device certificate has `serial` as its CN.
    pub fn for_device(serial: &str) -> Self {
        BrokerOptions {
            pki_options: PkiOptions {
                client_cn: serial.into(),
                ..PkiOptions::default()
            },
            ..Self::default()
        }
    }
}

/// The installer's own broker as the simulator offers it (MQ-07): a name the device resolves
/// to the embedded broker's password-checked listener, and the account on it (the fixed
/// password is for the conformance targets; `run` uses a random one, see
/// `BrokerOptions::credentials`).
pub const OWN_BROKER_HOST: &str = "mqtt.installer.test";
pub const OWN_BROKER_USER: &str = "installer";
pub const OWN_BROKER_PASSWORD: &str = "own-broker-secret";
