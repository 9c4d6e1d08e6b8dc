//! The device's MQTT client (MQ-01..MQ-16) on rumqttc.
//!
//! - Settings come from `active_config().mqtt` — the settings in force since the last boot —
//!   and are re-read at every (re)boot, so a change through HTTP takes effect only after a
//!   restart (MQ-01). Disabled: nothing is sent. The client follows the device through
//!   `Host::effects()` (not `measurements()`): `Rebooted`/`PoweredOff` arrive in order with the
//!   `Measurement`s, so a telegram parsed before a reboot never goes out with the settings or
//!   queue of the boot after it (`served().generation` is the fallback when that stream lags).
//! - Client id = the serial number (MQ-03). `mqtts://` with an empty username: mutual TLS with
//!   the device certificate (MQ-02, MQ-05); a username: username/password, over TLS for
//!   `mqtts://` (server certificate only) or plain for `mqtt://` (MQ-07).
//! - Certificates are checked against the DEVICE clock (MQ-06): a device whose clock is before
//!   or after the broker certificate's validity cannot connect, and `MqttLink.error` says so.
//! - Host names go through a resolve map (like `curl --resolve`) so the factory broker
//!   `mqtts://broker.xemex-cloud.eu:8883` can be the embedded broker and nothing leaves the
//!   machine; the broker certificate is still checked for the configured name. A host name
//!   that is not in the map is not looked up (IP addresses and `localhost` are used as given).
//! - One `Measurement` JSON per valid telegram on `…/data/measurements` (MQ-08..MQ-12, MQ-14),
//!   QoS 0: live values, at most once — a lost value is superseded a second later, and QoS 0
//!   never delivers one telegram twice. Command results on `…/data/events` use QoS 1.
//! - Commands on `…/cmd/+` (MQ-13, FW-01): see `device::mqtt_link::payload`.
//! - Broker unreachable (MQ-16): the host is never blocked (telegrams arrive on a broadcast
//!   channel; publishing is `try_publish`); reconnects are spaced by a bounded exponential
//!   back-off with seeded jitter in DEVICE time (`device::mqtt_link::backoff`; tests move a
//!   virtual clock instead of sleeping); messages wait in a bounded queue that drops the oldest
//!   and counts the drops (`device::mqtt_link::queue`). Messages handed to rumqttc but not yet
//!   written when a connection drops go back to the queue. The queue is RAM: a reboot empties
//!   it.
//!   Sizing: the back-off is capped at 8 s (jitter included), so a broker that comes back is
//!   found within 8 s plus one attempt; the queue holds `DEFAULT_QUEUE` = 100 messages, 100 s
//!   of SMR5 telegrams (1 s) or 1000 s of DSMR 4.2 ones (10 s). A 60 s outage therefore loses
//!   nothing (≤ 60 + 8 + 1 messages queued); only an outage longer than ~90 s at the 1 s
//!   cadence drops, oldest first, each drop counted (status `MQTT.Dropped`).
//! - Every change of the connection state, last publish time (device clock), drop count or
//!   error is reported to the device with `Event::Mqtt` (status `MQTT`, network indicator).
//! - Optional Home Assistant discovery (`ha_discovery`): retained sensor configs at every
//!   connect.
//! - The payload and topic rules live in `device::measurement`; an `MqttLayer` (only the
//!   `defects` feature's faulty firmware has one) may change the settings acted on and the
//!   measurements published.
//!
//! All of that policy — when to connect and retry, what to queue, hand over, requeue or drop,
//! how commands are answered and when a `cmd/reset` resets — is the pure link machine
//! `device::mqtt_link::MqttLinkMachine` (events in, actions out, device time passed in). This
//! adapter only moves bytes: it turns the device's effects and clock and rumqttc's events into
//! the machine's `Input`s and carries out its `Action`s (connect with rumqttc and the boot's
//! TLS configuration, publish, subscribe, disconnect, tell the device).
//!
//! Each connection attempt gets a fresh rumqttc `EventLoop` in its own task; that task only
//! polls and forwards events, and everything else runs in one manager task, which never awaits
//! a client call. On the in-memory network (`MqttOptions::net` = `Net::Mem`, where rumqttc
//! cannot dial) the attempt's task is our own MQTT 3.1.1 client (`mem_client.rs`) instead: the
//! same TLS and packets over a pipe, the same events for the manager.
//!
//! Files: `options.rs` (options, broker URL, resolve map), `manager.rs` (the manager loop:
//! inputs to the machine, its actions carried out), `connection.rs` (one connection attempt,
//! its client handle and its failures), `mem_client.rs` (the MQTT client for `Net::Mem`;
//! tested in `mem_client_tests.rs`), `stats.rs` (the numbers for tests and the demo), `tls.rs`
//! (the rustls configuration checked against the device clock). This file holds the client
//! handle and the state the manager keeps.

pub mod tls;
/// The pure parts live in the device core (`device::mqtt_link`); re-exported for the adapter
/// and the tests that reach them by these paths.
pub use crate::device::mqtt_link::{backoff, payload, queue};

mod connection;
mod manager;
mod mem_client;
#[cfg(test)]
mod mem_client_tests;
mod options;
mod stats;

pub use self::options::{BrokerAddressError, BrokerUrl, DeviceIdentity, MqttOptions};
pub use self::stats::MqttStats;

use super::host::Host;
use crate::device::mqtt_link::MqttLinkMachine;
use crate::device::status::MqttLink;
use crate::protocol::Reading;
use crate::sim::clock::Millis;
use rumqttc::ConnectionError;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Messages kept while the broker is unreachable, by default: 100 s of 1 s telegrams, more
/// than a 60 s outage plus the 8 s back-off cap (see the module docs).
pub use crate::device::mqtt_link::DEFAULT_QUEUE;
/// Requests rumqttc may hold before `try_publish` reports "full"; also the machine's window
/// of messages handed and not yet written.
const CLIENT_CHANNEL: usize = 64;
/// The largest packet sent or accepted.
const MAX_PACKET: usize = 256 * 1024;
/// Connection attempt times kept in `MqttStats::attempt_times`.
const ATTEMPTS_KEPT: usize = 64;

/// Something between the device and its MQTT client (the faulty firmware of the `defects`
/// feature): changes the settings the client acts on and the measurements it publishes.
pub trait MqttLayer: Send + Sync {
    /// The MQTT settings acted on at a boot, given the device's.
    fn settings(&self, cfg: crate::device::config::Mqtt) -> crate::device::config::Mqtt;
    /// A measurement about to be queued: its topic and payload, and the reading behind them.
    fn measurement(&self, topic: &mut String, payload: &mut Vec<u8>, reading: &Reading);
}

/// The running client; stops (and disconnects) when dropped. Needs a tokio runtime.
#[derive(Debug)]
pub struct MqttClient {
    task: JoinHandle<()>,
    stats: watch::Receiver<MqttStats>,
}

impl MqttClient {
    /// Start the device's MQTT client for `host`.
    pub fn start(host: Arc<Host>, opts: MqttOptions) -> MqttClient {
        let (tx, stats) = watch::channel(MqttStats::default());
        let time = host.time();
        let effects = host.effects();
        #[cfg(feature = "defects")]
        let layer = crate::defects::mqtt::layer(&host);
        #[cfg(not(feature = "defects"))]
        let layer = None;
        let manager = Manager {
            layer,
            host,
            opts,
            stats: tx,
            link: MqttLinkMachine::new(),
            plan: None,
            conn: None,
            generation: None,
            resync: true,
            network: None,
            link_out: None,
            reported: None,
            attempt_times: VecDeque::new(),
            now: 0,
            missed_log: crate::adapters::rate_log::RateLog::new(std::time::Duration::from_secs(10)),
            effects_seen: 0,
            written_total: 0,
            received_total: 0,
        };
        let task = tokio::spawn(manager.run(time, effects));
        MqttClient { task, stats }
    }

    /// The numbers now.
    pub fn stats(&self) -> MqttStats {
        self.stats.borrow().clone()
    }

    /// The numbers as they change (`wait_for` in tests).
    pub fn watch(&self) -> watch::Receiver<MqttStats> {
        self.stats.clone()
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to reach the broker this boot, worked out at boot from the settings in force: the
/// transport's side of the machine's `ConnectPlan` (the address and TLS configuration).
struct Plan {
    url: BrokerUrl,
    addr: SocketAddr,
    username: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// One connection attempt or connection: a client handle and the task polling its loop.
struct Conn {
    client: connection::Client,
    events: mpsc::Receiver<Result<rumqttc::Event, ConnectionError>>,
    task: JoinHandle<()>,
    connected: bool,
    subscribed: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // rumqttc's loop is stopped here; the in-memory client's task sees its handle and
        // event channel go, sends DISCONNECT (bounded by the write limit) and ends by itself.
        if let connection::Client::Rumqttc(_) = self.client {
            self.task.abort();
        }
    }
}

struct Manager {
    host: Arc<Host>,
    /// What changes the settings acted on and the measurements (none for the device).
    layer: Option<Arc<dyn MqttLayer>>,
    opts: MqttOptions,
    stats: watch::Sender<MqttStats>,
    /// The link policy: every decision is the machine's.
    link: MqttLinkMachine,
    /// This boot's transport plan (`None`: disabled, or the plan failed).
    plan: Option<Plan>,
    conn: Option<Conn>,
    /// The boot generation the current settings were read at.
    generation: Option<u64>,
    /// Boot boundaries may have been missed (start, or the effect stream lagged): follow
    /// `served().generation` instead.
    resync: bool,
    /// The device's network and running state as last told to the machine.
    network: Option<(bool, bool)>,
    /// The latest link the machine reported, delivered to the device once per step.
    link_out: Option<MqttLink>,
    /// The link the device was last told about (`None`: nothing yet this boot).
    reported: Option<MqttLink>,
    /// Device times of this boot's latest connection attempts (`MqttStats::attempt_times`).
    attempt_times: VecDeque<Millis>,
    now: Millis,
    /// Overload warnings at a readable rate.
    missed_log: crate::adapters::rate_log::RateLog,
    /// Since start: effects taken in, messages written, messages received (`MqttStats`).
    effects_seen: u64,
    written_total: u64,
    received_total: u64,
}

/// Why the device cannot plan a connection with its MQTT settings (shown in the status as
/// `MQTT.Error`; the client then does not try).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Address(#[from] BrokerAddressError),
    #[error("mqtts:// needs a CA certificate to check the broker with; none is configured")]
    NoCa,
    #[error("mTLS needs the device certificate; none is configured")]
    NoIdentity,
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
}
