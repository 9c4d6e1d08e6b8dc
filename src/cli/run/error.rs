//! Why `run` cannot start or stops with an error: `RunError`, one variant per thing that can
//! go wrong, each naming the flag, file, address or value involved (`main` prints it).

use super::listen::ListenError;
use crate::adapters::broker::BrokerError;
use crate::adapters::certs::PkiError;
use crate::adapters::control::ControlError;
use crate::adapters::mdns::MdnsError;
use crate::adapters::mqtt::BrokerAddressError;
use crate::adapters::p1_stream::P1StreamError;
use crate::device::network::WifiError;
use crate::device::store::StoreError;
use crate::device::Variant;
use crate::protocol::MeterKind;
use crate::sim::faults::FaultError;
use crate::sim::scenario::ScenarioError;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("unknown meter `{name}`; valid meters: {}", MeterKind::names())]
    UnknownMeter { name: String },
    #[error("{source}; expected SSID (an open network) or SSID:PSK (PSK 8..63 characters)")]
    WifiArg {
        #[source]
        source: WifiError,
    },
    #[error("--wifi {ssid}: the Wi-Fi network {ssid:?} is given twice")]
    WifiTwice { ssid: String },
    #[error("{source}, or `off`")]
    ControlArg {
        #[source]
        source: ListenError,
    },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// `flag` is `--mqtt` or "the scenario's device.mqtt".
    #[error("{flag} {url}: {source} (or `embedded` for the broker in this process)")]
    BrokerUrl {
        flag: &'static str,
        url: String,
        #[source]
        source: BrokerAddressError,
    },
    #[error(
        "--summary: the KPIs are the live house's, which needs the synthetic meter (drop --feed)"
    )]
    SummaryNeedsHouse,
    #[error("--speed rig: time moves only on the bench rig's request; add --rig ADDR")]
    RigSpeedNeedsRig,
    #[error(
        "--speed rig: the harness sends the telegrams; add --feed tcp:HOST:PORT (or serial:…)"
    )]
    RigSpeedNeedsFeed,
    #[error("--speed {given}: a positive number or `max`")]
    Speed { given: String },
    #[error("state folder {}: {source}", .dir.display())]
    StateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file `run` reads or writes (settings, label seed, rig token, the test CA).
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("--factory-reset: cannot remove {}: {source}", .path.display())]
    FactoryReset {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("device.mqtt: off: cannot save the settings: {0}")]
    SaveMqttOff(#[source] StoreError),
    #[error(
        "{}: not a hexadecimal number; delete the file to get a new label password",
        .path.display()
    )]
    LabelSeed { path: PathBuf },
    /// `flag`: the flag whose address it is, when the message should name it.
    #[error(
        "{}cannot listen on {addr}: {}",
        .flag.map_or(String::new(), |f| format!("{f}: ")),
        bind_reason(.source)
    )]
    Bind {
        flag: Option<&'static str>,
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the address it listens on: {0}")]
    LocalAddr(#[source] io::Error),
    #[error("Modbus server: {0}")]
    Modbus(#[source] io::Error),
    #[error("HTTP server: {0}")]
    Http(#[source] io::Error),
    #[error("HTTPS server: {0}")]
    Https(#[source] io::Error),
    #[error(transparent)]
    P1Stream(#[from] P1StreamError),
    #[error(
        "--p1-tcp {addr}: the {} variant (meter {}) has no P1 ext port; use a P1 meter (smr5, dsmr42, emucs …)",
        .variant.label(), .meter.name()
    )]
    P1TcpNotP1 {
        addr: SocketAddr,
        variant: Variant,
        meter: MeterKind,
    },
    #[error(transparent)]
    Mdns(#[from] MdnsError),
    #[error("--resolve {entry}: {source}")]
    Resolve {
        entry: String,
        #[source]
        source: BrokerAddressError,
    },
    #[error("embedded MQTT broker: {0}")]
    Broker(#[source] BrokerError),
    #[error("test PKI: {0}")]
    Pki(#[source] PkiError),
    #[error("writing the test PKI: {0}")]
    PkiWrite(#[source] io::Error),
    #[error(transparent)]
    Faults(#[from] FaultError),
    #[error("{scenario}: house: {source}")]
    House {
        scenario: String,
        #[source]
        source: ControlError,
    },
    #[error("no --feed: the synthetic meter is the live house's")]
    NoFeed,
    #[error("--feed {feed}: {source}")]
    FeedRead {
        feed: String,
        #[source]
        source: io::Error,
    },
    #[error("--feed {feed}: expected file:PATH, tcp:HOST:PORT or serial:/dev/…")]
    FeedKind { feed: String },
    #[error("--rig-token: must be non-empty without spaces or control characters")]
    RigToken,
    #[error("Ctrl-C handler: {0}")]
    Signal(#[source] io::Error),
    #[error("--summary: the KPIs do not serialise: {0}")]
    SummaryJson(#[source] serde_json::Error),
    #[error("--summary {}: {source}", .path.display())]
    Summary {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl RunError {
    /// `Bind` without a flag in the message.
    pub(super) fn bind(addr: SocketAddr, source: io::Error) -> Self {
        RunError::Bind {
            flag: None,
            addr,
            source,
        }
    }

    /// `File` for `path`.
    pub(super) fn file(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| RunError::File { path, source }
    }
}

/// Why an address cannot be listened on, with the fix for a privileged port.
fn bind_reason(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::PermissionDenied {
        "ports below 1024 need privileges (run as root or with CAP_NET_BIND_SERVICE, or choose a port above 1024)".into()
    } else {
        e.to_string()
    }
}
