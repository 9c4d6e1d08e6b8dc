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
//! - Commands on `…/cmd/+` (MQ-13, FW-01): see `payload.rs`.
//! - Broker unreachable (MQ-16): the host is never blocked (telegrams arrive on a broadcast
//!   channel; publishing is `try_publish`); reconnects are spaced by a bounded exponential
//!   back-off with seeded jitter in DEVICE time (`backoff.rs`; tests move a virtual clock
//!   instead of sleeping); messages wait in a bounded queue that drops the oldest and counts
//!   the drops (`queue.rs`). Messages handed to rumqttc but not yet written when a connection
//!   drops go back to the queue. The queue is RAM: a reboot empties it.
//! - Every change of the connection state, last publish time (device clock), drop count or
//!   error is reported to the device with `Event::Mqtt` (status `MQTT`, network indicator).
//! - Optional Home Assistant discovery (`ha_discovery`): retained sensor configs at every
//!   connect.
//!
//! Each connection attempt gets a fresh rumqttc `EventLoop` in its own task; that task only
//! polls and forwards events, and everything else (queue, back-off, commands, reports) runs in
//! one manager task, which never awaits a client call.

pub mod backoff;
pub mod payload;
pub mod queue;
pub mod tls;

use self::backoff::{Backoff, BackoffPolicy};
use self::payload::{parse_command, Command, CommandResult};
use self::queue::DropOldest;
use super::broker::EmbeddedBroker;
use super::host::Host;
use crate::device::config::DEFAULT_BROKER;
use crate::device::measurement::{
    command_filter, events_topic, measurements_topic, topic_root, Measurement,
};
use crate::device::status::MqttLink;
use crate::device::{Effect, Event, Reply};
use crate::protocol::Reading;
use crate::sim::clock::Millis;
use rumqttc::{
    AsyncClient, ConnectionError, EventLoop, NetworkOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// Messages kept while the broker is unreachable, by default.
pub const DEFAULT_QUEUE: usize = 100;
/// Requests rumqttc may hold before `try_publish` reports "full".
const CLIENT_CHANNEL: usize = 64;
/// Command results and discovery configs waiting to be sent, at most.
const CONTROL_QUEUE: usize = 64;
/// The largest packet sent or accepted.
const MAX_PACKET: usize = 256 * 1024;
/// Connection attempt times kept in `MqttStats::attempt_times`.
const ATTEMPTS_KEPT: usize = 64;

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
    pub fn parse_resolve(s: &str) -> Result<(String, SocketAddr), String> {
        let (host, addr) = s.split_once('=').ok_or_else(|| {
            format!("{s:?}: expected HOST=ADDR, e.g. broker.xemex-cloud.eu=127.0.0.1:8883")
        })?;
        if host.is_empty() {
            return Err(format!("{s:?}: the host is empty"));
        }
        let addr = addr
            .parse::<SocketAddr>()
            .or_else(|_| addr.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
            .map_err(|_| format!("{s:?}: {addr:?} is not an IP address or IP:PORT"))?;
        Ok((host.to_ascii_lowercase(), addr))
    }

    /// Where `url` leads: a resolve entry for `host:port` or `host`, else an IP address or
    /// `localhost` as given; other host names are refused (no DNS, nothing leaves the machine).
    pub fn address_for(&self, url: &BrokerUrl) -> Result<SocketAddr, String> {
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
        Err(format!(
            "broker host {host} is not in the resolve map (the simulator connects only to mapped hosts, IP addresses and localhost; map it with --resolve {host}=ADDR)"
        ))
    }
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
    pub fn parse(s: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!("broker {s:?} must start with mqtt:// or mqtts://"));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| format!("broker {s:?}: bad port {p:?}"))?,
            ),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(format!("broker {s:?}: bad host {host:?}"));
        }
        Ok(BrokerUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

/// What the client is doing, for tests and the demo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MqttStats {
    /// The boot generation these numbers belong to (they restart at every boot).
    pub generation: u64,
    /// MQTT is enabled in the settings in force.
    pub enabled: bool,
    pub connected: bool,
    /// The command subscription is acknowledged on the current connection.
    pub subscribed: bool,
    /// Connection attempts this boot, and the device times of the latest ones.
    pub attempts: u64,
    pub attempt_times: Vec<Millis>,
    /// When the next attempt is due (device time), while waiting out the back-off.
    pub next_attempt_at: Option<Millis>,
    /// Successful connections (CONNACK) this boot.
    pub connects: u64,
    /// Measurements written to the broker connection.
    pub published: u64,
    /// Command results written.
    pub events_published: u64,
    pub commands: u64,
    /// Measurements waiting in the queue.
    pub queued: usize,
    pub dropped: u64,
    /// The latest reason for not being connected (`None` once connected).
    pub error: Option<String>,
    /// The device time when these numbers were taken.
    pub device_time: Millis,
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
        let manager = Manager {
            host,
            opts,
            stats: tx,
            generation: None,
            resync: true,
            active: None,
            reported: None,
            now: 0,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Measurement,
    Event,
    Discovery,
}

#[derive(Debug, Clone)]
struct Out {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
    kind: Kind,
    /// Soft-reset the device once this is written (the result of `cmd/reset`).
    then_reset: bool,
}

/// How to connect, worked out at boot from the settings in force.
struct Plan {
    url: BrokerUrl,
    addr: SocketAddr,
    username: String,
    password: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// One connection attempt or connection: a rumqttc client and the task polling its loop.
struct Conn {
    client: AsyncClient,
    events: mpsc::Receiver<Result<rumqttc::Event, ConnectionError>>,
    task: JoinHandle<()>,
    connected: bool,
    subscribed: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The state of one boot with MQTT enabled (RAM: gone at the next boot).
struct Active {
    serial: String,
    site: String,
    model: String,
    firmware: String,
    plan: Result<Plan, String>,
    backoff: Backoff,
    queue: DropOldest<Out>,
    control: VecDeque<Out>,
    /// Given to rumqttc, not yet written.
    handed: VecDeque<Out>,
    conn: Option<Conn>,
    next_attempt_at: Option<Millis>,
    attempts: u64,
    attempt_times: VecDeque<Millis>,
    connects: u64,
    published: u64,
    events_published: u64,
    commands: u64,
    last_publish: Option<Millis>,
    error: Option<String>,
    reset_pending: bool,
}

struct Manager {
    host: Arc<Host>,
    opts: MqttOptions,
    stats: watch::Sender<MqttStats>,
    /// The boot generation the current settings were read at.
    generation: Option<u64>,
    /// Boot boundaries may have been missed (start, or the effect stream lagged): follow
    /// `served().generation` instead.
    resync: bool,
    active: Option<Active>,
    reported: Option<MqttLink>,
    now: Millis,
}

enum Step {
    Conn(Option<Result<rumqttc::Event, ConnectionError>>),
    Effect(Result<Arc<Effect>, broadcast::error::RecvError>),
    Time(bool),
}

async fn next_conn_event(
    conn: Option<&mut Conn>,
) -> Option<Result<rumqttc::Event, ConnectionError>> {
    match conn {
        Some(c) => c.events.recv().await,
        None => std::future::pending().await,
    }
}

impl Manager {
    /// The device's effects arrive in the order the device made them, so a telegram parsed
    /// before a reboot is never sent with the settings (or the queue) of the boot after it.
    async fn run(
        mut self,
        mut time: watch::Receiver<Millis>,
        mut effects: broadcast::Receiver<Arc<Effect>>,
    ) {
        loop {
            self.sync();
            self.pump();
            self.report();
            let step = tokio::select! {
                ev = next_conn_event(self.active.as_mut().and_then(|a| a.conn.as_mut())) => Step::Conn(ev),
                e = effects.recv() => Step::Effect(e),
                c = time.changed() => Step::Time(c.is_ok()),
            };
            match step {
                Step::Conn(ev) => {
                    self.on_conn(ev);
                    // Take what else is ready before reporting once.
                    for _ in 0..64 {
                        let Some(Ok(ev)) = self
                            .active
                            .as_mut()
                            .and_then(|a| a.conn.as_mut())
                            .map(|c| c.events.try_recv())
                        else {
                            break;
                        };
                        self.on_conn(Some(ev));
                    }
                }
                Step::Effect(Ok(e)) => match &*e {
                    Effect::Measurement(r) => self.on_reading(r),
                    Effect::Rebooted | Effect::PoweredOff => self.new_boot(),
                    _ => {}
                },
                Step::Effect(Err(broadcast::error::RecvError::Lagged(n))) => {
                    // Overload: effects were skipped (some of them measurements, perhaps a
                    // reboot). Count them all as dropped (an upper bound) and follow the
                    // host's generation from here.
                    tracing::warn!("mqtt: {n} device effects missed; the client is overloaded");
                    if let Some(a) = self.active.as_mut() {
                        a.queue.add_dropped(n);
                    }
                    self.resync = true;
                }
                Step::Effect(Err(broadcast::error::RecvError::Closed)) | Step::Time(false) => {
                    return
                }
                Step::Time(true) => {}
            }
        }
    }

    /// Follow the device: a new boot re-reads the settings; no network drops the connection;
    /// a due attempt is made.
    fn sync(&mut self) {
        let mut served = self.host.served();
        self.now = self.host.now();
        if self.resync {
            if self.generation == Some(served.generation) {
                self.resync = false; // caught up: no boot was missed
            } else {
                self.new_boot();
                served = self.host.served();
            }
        }
        let now = self.now;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if !served.serving {
            if a.conn.take().is_some() {
                a.requeue();
            }
            a.next_attempt_at = None;
            a.error = self
                .host
                .with_device(|d| d.running())
                .then(|| "no network address: MQTT waits for the network".to_string());
            return;
        }
        if a.conn.is_none() && a.plan.is_ok() && a.next_attempt_at.is_none_or(|t| now >= t) {
            a.connect(&self.opts, now);
        }
    }

    /// The device (re)booted or lost power: RAM is gone, the settings in force are re-read.
    fn new_boot(&mut self) {
        // `with_device` waits for the host to finish the event that rebooted the device, so
        // the settings and `served()` read after it belong to the new boot.
        self.active = self.boot();
        self.generation = Some(self.host.served().generation);
        self.resync = false;
        self.reported = None;
    }

    /// The settings in force at this boot.
    fn boot(&self) -> Option<Active> {
        let (serial, cfg, model, firmware) = self.host.with_device(|d| {
            (
                d.identity().serial.clone(),
                d.active_config().mqtt.clone(),
                format!("Smart Connect {}", d.variant().label()),
                d.firmware().version().to_string(),
            )
        });
        if !cfg.enabled {
            return None;
        }
        let plan = self.plan(&cfg);
        let seed = self.opts.seed
            ^ self
                .host
                .served()
                .generation
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some(Active {
            error: plan.as_ref().err().cloned(),
            serial,
            site: cfg.site.clone(),
            model,
            firmware,
            plan,
            backoff: Backoff::new(self.opts.backoff, seed),
            queue: DropOldest::new(self.opts.queue_capacity),
            control: VecDeque::new(),
            handed: VecDeque::new(),
            conn: None,
            next_attempt_at: None,
            attempts: 0,
            attempt_times: VecDeque::new(),
            connects: 0,
            published: 0,
            events_published: 0,
            commands: 0,
            last_publish: None,
            reset_pending: false,
        })
    }

    fn plan(&self, cfg: &crate::device::config::Mqtt) -> Result<Plan, String> {
        let url = BrokerUrl::parse(self.opts.broker.as_deref().unwrap_or(&cfg.broker))?;
        let addr = self.opts.address_for(&url)?;
        let tls = if url.tls {
            let ca = self.opts.ca_pem.as_deref().ok_or(
                "mqtts:// needs a CA certificate to check the broker with; none is configured",
            )?;
            let identity = if cfg.username.is_empty() {
                let id = self
                    .opts
                    .identity
                    .as_ref()
                    .ok_or("mTLS needs the device certificate; none is configured")?;
                Some((id.cert_pem.as_str(), id.key_pem.as_str()))
            } else {
                None
            };
            Some(Arc::new(tls::client_config(
                Arc::clone(&self.host),
                ca,
                &url.host,
                identity,
            )?))
        } else {
            None
        };
        Ok(Plan {
            url,
            addr,
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            tls,
        })
    }

    /// Hand queued messages to rumqttc while connected and it has room.
    fn pump(&mut self) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let Some(conn) = a.conn.as_ref().filter(|c| c.connected) else {
            return;
        };
        loop {
            let (m, control) = match a.control.pop_front() {
                Some(m) => (m, true),
                None => match a.queue.pop() {
                    Some(m) => (m, false),
                    None => break,
                },
            };
            match conn
                .client
                .try_publish(m.topic.clone(), m.qos, m.retain, m.payload.clone())
            {
                Ok(()) => a.handed.push_back(m),
                Err(_) => {
                    if control {
                        a.control.push_front(m);
                    } else {
                        a.queue.push_front(m);
                    }
                    break;
                }
            }
        }
    }

    fn on_conn(&mut self, ev: Option<Result<rumqttc::Event, ConnectionError>>) {
        let now = self.now.max(self.host.now());
        let Some(a) = self.active.as_mut() else {
            return;
        };
        match ev {
            None | Some(Err(_)) => {
                let reason = match &ev {
                    Some(Err(e)) => describe(
                        e,
                        a.plan.as_ref().ok(),
                        a.conn.as_ref().is_some_and(|c| c.connected),
                    ),
                    _ => "the connection task ended".into(),
                };
                tracing::info!("mqtt: {reason}");
                a.conn = None;
                a.requeue();
                a.error = Some(reason);
                a.next_attempt_at = Some(now + a.backoff.next_delay());
                if std::mem::take(&mut a.reset_pending) {
                    self.host.handle(Event::SoftReset);
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::ConnAck(_)))) => {
                a.connects += 1;
                a.backoff.reset();
                a.error = None;
                let filter = command_filter(&a.site, &a.serial);
                if let Some(c) = a.conn.as_mut() {
                    c.connected = true;
                    if let Err(e) = c.client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::warn!("mqtt: cannot subscribe to commands: {e}");
                    }
                }
                if self.opts.ha_discovery {
                    let state = measurements_topic(&a.site, &a.serial);
                    for (topic, payload) in
                        payload::ha_discovery(&a.serial, &state, &a.model, &a.firmware)
                            .into_iter()
                            .rev()
                    {
                        a.control.push_front(Out {
                            topic,
                            payload,
                            qos: QoS::AtLeastOnce,
                            retain: true,
                            kind: Kind::Discovery,
                            then_reset: false,
                        });
                    }
                }
            }
            Some(Ok(rumqttc::Event::Outgoing(Outgoing::Publish(_)))) => {
                let Some(m) = a.handed.pop_front() else {
                    return;
                };
                match m.kind {
                    Kind::Measurement => {
                        a.published += 1;
                        a.last_publish = Some(now);
                    }
                    Kind::Event => a.events_published += 1,
                    Kind::Discovery => {}
                }
                if m.then_reset && std::mem::take(&mut a.reset_pending) {
                    self.host.handle(Event::SoftReset);
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::SubAck(_)))) => {
                if let Some(c) = a.conn.as_mut() {
                    c.subscribed = true;
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::Publish(p)))) => {
                self.on_command(&p.topic, &p.payload)
            }
            Some(Ok(_)) => {}
        }
    }

    fn on_reading(&mut self, r: &Reading) {
        let now = self.host.device_time();
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let m = Measurement::from_reading(r, &a.serial, &a.site, now);
        let payload = serde_json::to_vec(&m).expect("a measurement serialises");
        a.queue.push(Out {
            topic: measurements_topic(&a.site, &a.serial),
            payload,
            qos: QoS::AtMostOnce,
            retain: false,
            kind: Kind::Measurement,
            then_reset: false,
        });
    }

    /// A remote command (MQ-13): carry it out and queue its result.
    fn on_command(&mut self, topic: &str, body: &[u8]) {
        let now = self.host.now();
        let host = Arc::clone(&self.host);
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let prefix = format!("{}/cmd/", topic_root(&a.site, &a.serial));
        let Some(name) = topic.strip_prefix(&prefix) else {
            return;
        };
        a.commands += 1;
        const NOT_RUNNING: &str = "the device is not running";
        let (outcome, version, reset) = match parse_command(name, body) {
            Err(reason) => (Err(reason), None, false),
            Ok(Command::FirmwareUpdate { version }) => {
                let fx = host.handle(Event::FirmwareUpdate {
                    version: version.clone(),
                });
                let outcome = fx
                    .iter()
                    .find_map(|e| match e {
                        Effect::Reply(Reply::Firmware(r)) => Some(r.clone()),
                        Effect::Reply(Reply::NotRunning) => Some(Err(NOT_RUNNING.to_string())),
                        _ => None,
                    })
                    .unwrap_or_else(|| Err("no answer from the device".into()));
                (outcome, Some(version), false)
            }
            Ok(Command::Reset) => match host.with_device(|d| d.running()) {
                true => (Ok(()), None, true),
                false => (Err(NOT_RUNNING.to_string()), None, false),
            },
        };
        tracing::info!("mqtt: command {name}: {outcome:?}");
        let result = CommandResult::new(
            name,
            outcome,
            version,
            &a.serial,
            &a.site,
            now.div_euclid(1000),
        );
        if a.control.len() >= CONTROL_QUEUE {
            a.control.pop_front();
            a.queue.add_dropped(1);
        }
        a.control.push_back(Out {
            topic: events_topic(&a.site, &a.serial),
            payload: result.to_json(),
            qos: QoS::AtLeastOnce,
            retain: false,
            kind: Kind::Event,
            then_reset: reset,
        });
        a.reset_pending |= reset;
    }

    /// Tell the device about a changed link, and publish the numbers.
    fn report(&mut self) {
        let link = match &self.active {
            None => MqttLink::default(),
            Some(a) => MqttLink {
                connected: a.conn.as_ref().is_some_and(|c| c.connected),
                last_publish: a.last_publish,
                dropped: a.queue.dropped(),
                error: a.error.clone(),
            },
        };
        if self.reported.as_ref() != Some(&link) {
            self.host.handle(Event::Mqtt(link.clone()));
            self.reported = Some(link);
        }
        let stats = match &self.active {
            None => MqttStats {
                generation: self.generation.unwrap_or(0),
                device_time: self.now,
                ..MqttStats::default()
            },
            Some(a) => MqttStats {
                generation: self.generation.unwrap_or(0),
                enabled: true,
                connected: a.conn.as_ref().is_some_and(|c| c.connected),
                subscribed: a.conn.as_ref().is_some_and(|c| c.subscribed),
                attempts: a.attempts,
                attempt_times: a.attempt_times.iter().copied().collect(),
                next_attempt_at: a.next_attempt_at,
                connects: a.connects,
                published: a.published,
                events_published: a.events_published,
                commands: a.commands,
                queued: a.queue.len(),
                dropped: a.queue.dropped(),
                error: a.error.clone(),
                device_time: self.now,
            },
        };
        self.stats.send_if_modified(|s| {
            let changed = *s != stats;
            if changed {
                *s = stats;
            }
            changed
        });
    }
}

impl Active {
    /// Start a connection attempt now.
    fn connect(&mut self, opts: &MqttOptions, now: Millis) {
        let Ok(plan) = self.plan.as_ref() else { return };
        self.attempts += 1;
        self.attempt_times.push_back(now);
        if self.attempt_times.len() > ATTEMPTS_KEPT {
            self.attempt_times.pop_front();
        }
        self.next_attempt_at = None;
        let mut o = rumqttc::MqttOptions::new(
            self.serial.clone(),
            plan.addr.ip().to_string(),
            plan.addr.port(),
        );
        o.set_keep_alive(Duration::from_secs(u64::from(opts.keep_alive_s.max(1))));
        o.set_clean_session(true);
        o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if !plan.username.is_empty() {
            o.set_credentials(plan.username.clone(), plan.password.clone());
        }
        if let Some(tls) = &plan.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::clone(tls),
            )));
        }
        let (client, mut eventloop) = AsyncClient::new(o, CLIENT_CHANNEL);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(opts.connect_timeout_s.max(1));
        eventloop.set_network_options(net);
        let (tx, events) = mpsc::channel(256);
        let task = tokio::spawn(drive(eventloop, tx));
        tracing::info!(
            "mqtt: connecting to {}:{} at {} as {}",
            plan.url.host,
            plan.url.port,
            plan.addr,
            self.serial
        );
        self.conn = Some(Conn {
            client,
            events,
            task,
            connected: false,
            subscribed: false,
        });
    }

    /// Messages handed to a connection that is gone go back to the queues, oldest first
    /// (discovery configs are sent afresh at every connect).
    fn requeue(&mut self) {
        while let Some(m) = self.handed.pop_back() {
            match m.kind {
                Kind::Measurement => {
                    self.queue.push_front(m);
                }
                Kind::Event if self.control.len() < CONTROL_QUEUE => self.control.push_front(m),
                Kind::Event | Kind::Discovery => {}
            }
        }
        self.control.retain(|m| m.kind != Kind::Discovery);
    }
}

/// Poll one connection until it fails; forward everything to the manager.
async fn drive(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Result<rumqttc::Event, ConnectionError>>,
) {
    loop {
        let r = eventloop.poll().await;
        let failed = r.is_err();
        if tx.send(r).await.is_err() || failed {
            return;
        }
    }
}

/// A connection failure in words a user can act on (for `MqttLink.error`).
fn describe(e: &ConnectionError, plan: Option<&Plan>, was_connected: bool) -> String {
    let target = plan.map_or_else(String::new, |p| {
        format!("{}:{} ({})", p.url.host, p.url.port, p.addr)
    });
    if let Some(t) = find_rustls(e) {
        return tls::describe(t);
    }
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker {target} refused the connection: {code:?}")
        }
        ConnectionError::NetworkTimeout => format!("no answer from the broker {target} in time"),
        ConnectionError::FlushTimeout => format!("the broker {target} stopped reading"),
        _ if was_connected => format!("lost the connection to the broker {target}: {e}"),
        _ => match find_io(e).map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                format!("cannot connect to the broker {target}: connection refused")
            }
            Some(
                std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof,
            )
            | None
                if closed_early(e) || find_io(e).is_some() =>
            {
                let creds = plan.is_some_and(|p| !p.username.is_empty());
                format!(
                    "the broker {target} closed the connection before accepting it ({})",
                    if creds {
                        "username or password refused?"
                    } else {
                        "certificate or client id refused, or the broker is down?"
                    }
                )
            }
            _ => format!("cannot connect to the broker {target}: {e}"),
        },
    }
}

/// rumqttc's way of saying the broker hung up (before or after CONNECT).
fn closed_early(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::MqttState(rumqttc::StateError::ConnectionAborted)
    )
}

fn find_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
        }
        cur = c.source();
    }
    None
}

fn find_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = c.source();
    }
    None
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
