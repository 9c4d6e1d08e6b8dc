//! What goes into and comes out of the MQTT link machine: the boot settings and connection
//! plan, the inputs (transport and device happenings) and the actions.

use super::backoff::BackoffPolicy;
use crate::device::config::Mqtt;
use crate::device::status::MqttLink;
use crate::device::{Effect, Event};

/// How the connection is secured, from the broker URL scheme and the username (MQ-02,
/// MQ-05, MQ-07).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `mqtt://`: plain TCP.
    None,
    /// `mqtts://` with a username: the broker's certificate is checked.
    ServerOnly,
    /// `mqtts://` without a username: mutual TLS with the device certificate.
    Mutual,
}

/// How to connect: what the transport needs, without its TLS configuration (the adapter
/// builds that from `tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPlan {
    /// The broker's `host:port`, from the URL configured (or overridden).
    pub url: String,
    /// Where the URL's host resolves to (`ip:port`), as the adapter worked it out.
    pub address: String,
    /// The serial number (MQ-03).
    pub client_id: String,
    pub username: String,
    pub password: String,
    pub tls: TlsMode,
}

impl ConnectPlan {
    /// The TLS mode for a broker URL (`mqtts://`: `tls`) and username (MQ-05, MQ-07).
    pub fn tls_mode(tls: bool, username: &str) -> TlsMode {
        match (tls, username.is_empty()) {
            (false, _) => TlsMode::None,
            (true, false) => TlsMode::ServerOnly,
            (true, true) => TlsMode::Mutual,
        }
    }
}

/// What the machine learns at a (re)boot: the settings in force (MQ-01) and the device.
#[derive(Debug, Clone)]
pub struct Boot {
    pub settings: Mqtt,
    pub serial: String,
    pub model: String,
    pub firmware: String,
    /// The plan, or why there is none (shown as `MQTT.Error`; no attempt is made).
    pub plan: Result<ConnectPlan, String>,
    pub ha_discovery: bool,
    pub backoff: BackoffPolicy,
    /// Jitter seed for this boot.
    pub seed: u64,
    pub queue_capacity: usize,
    /// Messages the transport may hold unwritten.
    pub window: usize,
}

/// Something that happened, for `MqttLinkMachine::handle`.
#[derive(Debug, Clone)]
pub enum Input {
    /// The device (re)booted or lost power; these are the settings in force now: all RAM
    /// state is gone.
    Boot(Box<Boot>),
    /// The device has a network address (`up`) and runs its firmware (`running`).
    Network { up: bool, running: bool },
    /// A measurement to publish on `…/data/measurements` (see
    /// `MqttLinkMachine::measurement`; a test harness's layer may have changed it).
    Measurement { topic: String, payload: Vec<u8> },
    /// Measurements the caller could not take in (it fell behind the device): counted as
    /// dropped.
    Missed(u64),
    /// Time passed (see `next_deadline`).
    Tick,
    /// The outstanding connection attempt succeeded (CONNACK).
    Connected,
    /// The outstanding connection attempt failed, in words.
    ConnectFailed(String),
    /// The connection was lost, in words.
    Dropped(String),
    /// The transport refused the latest `count` `Publish` actions (full): they go back to
    /// the front of their queues, and nothing more is handed until a write.
    Refused(usize),
    /// The transport wrote the oldest handed publish.
    Written,
    /// A message on the command subscription.
    Command { topic: String, body: Vec<u8> },
    /// The device's effects for the oldest `Action::Ask` (a firmware update).
    DeviceAnswer(Vec<Effect>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// What an outgoing message is, for the counters and the requeue rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Measurement,
    Event,
    /// The result of `cmd/reset`: the device soft-resets once it is written.
    ResetResult,
    Discovery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
    pub kind: Kind,
}

/// What the machine wants done, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a connection attempt with this plan.
    Connect(ConnectPlan),
    /// Close the connection (or abandon the attempt).
    Disconnect,
    /// Subscribe to the command filter (QoS 1).
    Subscribe(String),
    /// Hand this message to the transport.
    Publish(Outgoing),
    /// Tell the device about its link (`Event::Mqtt`).
    Link(MqttLink),
    /// Give the device this event (`SoftReset` after a `cmd/reset`).
    Device(Event),
    /// Give the device this event (`FirmwareUpdate`) and feed its effects back as
    /// `Input::DeviceAnswer`.
    Ask(Event),
}
