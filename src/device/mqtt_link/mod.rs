//! The device's MQTT link policy as a pure state machine (MQ-01..MQ-16): what to connect to,
//! when to try again, what to publish and what to tell the device. No sockets, no clock of
//! its own: the caller passes device time (`crate::time::Instant`) with every input and
//! carries out the returned actions on a transport (the rumqttc adapter,
//! `adapters::mqtt`, or a test).
//!
//! - `Boot` carries the settings in force at this boot (MQ-01): everything held before —
//!   queue, back-off, counters, the network state — is gone; disabled settings give a machine
//!   that does nothing. The network is down until an `Input::Network` says otherwise.
//! - Connection attempts: one at a time, spaced by `Backoff` (capped at 8 s, seeded jitter,
//!   device time); `next_deadline` says when the next one is due.
//! - Outgoing messages: measurements wait in a `DropOldest` queue (100 by default, drops
//!   counted); command results and discovery configs in a small control queue that goes
//!   first. At most `window` messages are handed to the transport unwritten; on a drop they
//!   go back to the front of their queue (discovery configs are sent afresh at each connect).
//!   A transport that refuses a publish (`Input::Refused`) gets them back the same way, and
//!   nothing more until it writes one.
//! - Commands (MQ-13, FW-01): `cmd/reset` soft-resets the device once its result is written
//!   (or the connection drops); `cmd/firmware-update` asks the device (`Action::Ask`) and
//!   publishes the answer (`Input::DeviceAnswer`) on `…/data/events`, QoS 1.
//! - Every change of the link (connected, last publish, drops, error) is an `Action::Link`.
//!
//! Files: `backoff.rs` (reconnect delays), `queue.rs` (the bounded queue), `payload.rs`
//! (commands, results, discovery), `plan.rs` (the inputs, actions and plan types),
//! `tests.rs` and `prop_tests.rs`.

pub mod backoff;
pub mod payload;
pub mod queue;

#[cfg(test)]
mod command_tests;
mod plan;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

pub use self::plan::{Action, Boot, ConnectPlan, Input, Kind, Outgoing, Qos, TlsMode};

use self::backoff::Backoff;
use self::payload::{parse_command, Command, CommandResult};
use self::queue::DropOldest;
use super::measurement::{command_filter, events_topic, measurements_topic, topic_root};
use super::status::MqttLink;
use super::{Effect, Event, Reply};
use crate::protocol::Reading;
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// Messages kept while the broker is unreachable, by default (see `adapters::mqtt`).
pub const DEFAULT_QUEUE: usize = 100;
/// Command results and discovery configs waiting, at most.
pub const CONTROL_QUEUE: usize = 64;
/// Messages handed to the transport and not yet written, at most.
pub const DEFAULT_WINDOW: usize = 64;
const NOT_RUNNING: &str = "the device is not running";

/// The link of one boot with MQTT enabled (RAM: gone at the next boot).
#[derive(Debug)]
struct Active {
    boot: Boot,
    backoff: Backoff,
    queue: DropOldest<Outgoing>,
    control: VecDeque<Outgoing>,
    handed: VecDeque<Outgoing>,
    /// A connection attempt is outstanding (`Some(false)`) or connected (`Some(true)`).
    conn: Option<bool>,
    next_attempt_at: Option<Instant>,
    /// Firmware-update commands waiting for the device's answer: the version asked for.
    asked: VecDeque<String>,
    reset_pending: bool,
    /// The transport refused a publish: hand nothing more until it writes one.
    full: bool,
    stats: Counters,
    last_publish: Option<Instant>,
    error: Option<String>,
}

/// What the link did this boot (the adapter's `MqttStats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub attempts: u64,
    pub connects: u64,
    pub published: u64,
    pub events_published: u64,
    pub commands: u64,
}

/// The device's MQTT link policy. Starts off (no boot yet): nothing happens until `Boot`.
#[derive(Debug, Default)]
pub struct MqttLinkMachine {
    active: Option<Active>,
    network: bool,
    running: bool,
    reported: Option<MqttLink>,
}

impl MqttLinkMachine {
    /// A machine before its first boot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one input at device time `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Boot(b) => self.boot(*b, &mut out),
            Input::Network { up, running } => {
                self.network = up;
                self.running = running;
            }
            Input::Measurement { topic, payload } => self.queue_measurement(topic, payload),
            Input::Missed(n) => {
                if let Some(a) = self.active.as_mut() {
                    a.queue.add_dropped(n);
                }
            }
            Input::Tick => {}
            Input::Connected => self.on_connected(&mut out),
            Input::ConnectFailed(reason) | Input::Dropped(reason) => {
                self.lost(reason, now, &mut out)
            }
            Input::Refused(count) => {
                if let Some(a) = self.active.as_mut() {
                    for _ in 0..count {
                        if let Some(m) = a.handed.pop_back() {
                            a.requeue_one(m);
                        }
                    }
                    a.full = true;
                }
            }
            Input::Written => self.written(now, &mut out),
            Input::Command { topic, body } => self.command(&topic, &body, now, &mut out),
            Input::DeviceAnswer(fx) => self.answer(firmware_outcome(&fx), now),
        }
        self.sync(now, &mut out);
        self.pump(&mut out);
        self.report(&mut out);
        out
    }

    /// When the machine wants to be called again with `Input::Tick` (the next attempt).
    pub fn next_deadline(&self) -> Option<Instant> {
        let a = self.active.as_ref()?;
        if a.conn.is_some() || !self.network {
            return None;
        }
        a.next_attempt_at
    }

    /// The topic and payload of a valid reading (MQ-08..MQ-12, MQ-14) at this boot, stamped
    /// with the device's clock `clock` when the reading has no time of its own; `None` while
    /// MQTT is disabled. Feed it back as `Input::Measurement`.
    pub fn measurement(&self, r: &Reading, clock: Instant) -> Option<(String, Vec<u8>)> {
        let a = self.active.as_ref()?;
        let (site, serial) = (&a.boot.settings.site, &a.boot.serial);
        Some((
            measurements_topic(site, serial),
            super::measurement::payload(r, serial, site, clock),
        ))
    }

    /// Messages not yet written: waiting in either queue or handed to the transport.
    pub fn outgoing(&self) -> usize {
        self.active.as_ref().map_or(0, |a| {
            a.queue
                .len()
                .saturating_add(a.control.len())
                .saturating_add(a.handed.len())
        })
    }

    /// Measurements waiting (not handed to the transport).
    pub fn queued(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.queue.len())
    }

    /// Messages handed to the transport and not yet written.
    pub fn handed(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.handed.len())
    }

    /// How many measurements the queue holds at most (this boot's setting).
    pub fn queue_capacity(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.queue.capacity())
    }

    /// Measurements dropped this boot (queue full, or missed by the caller).
    pub fn dropped(&self) -> u64 {
        self.active.as_ref().map_or(0, |a| a.queue.dropped())
    }

    /// MQTT is enabled in the settings in force.
    pub fn enabled(&self) -> bool {
        self.active.is_some()
    }

    /// A connection attempt is outstanding (not yet connected or failed).
    pub fn connecting(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.conn == Some(false))
    }

    pub fn connected(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.conn == Some(true))
    }

    pub fn counters(&self) -> Counters {
        self.active
            .as_ref()
            .map_or_else(Counters::default, |a| a.stats.clone())
    }

    /// The link as last reported (or as it would be).
    pub fn link(&self) -> MqttLink {
        match &self.active {
            None => MqttLink::default(),
            Some(a) => MqttLink {
                connected: a.conn == Some(true),
                last_publish: a.last_publish,
                dropped: a.queue.dropped(),
                error: a.error.clone(),
            },
        }
    }

    fn boot(&mut self, b: Boot, out: &mut Vec<Action>) {
        if self.active.as_ref().is_some_and(|a| a.conn.is_some()) {
            out.push(Action::Disconnect);
        }
        self.reported = None;
        // RAM is gone: the booting device has no address and does not run until told so.
        self.network = false;
        self.running = false;
        self.active = b.settings.enabled.then(|| Active {
            backoff: Backoff::new(b.backoff, b.seed),
            queue: DropOldest::new(b.queue_capacity),
            control: VecDeque::new(),
            handed: VecDeque::new(),
            conn: None,
            next_attempt_at: None,
            asked: VecDeque::new(),
            reset_pending: false,
            full: false,
            stats: Counters::default(),
            last_publish: None,
            error: b.plan.as_ref().err().cloned(),
            boot: b,
        });
    }

    fn queue_measurement(&mut self, topic: String, payload: Vec<u8>) {
        if let Some(a) = self.active.as_mut() {
            a.queue.push(Outgoing {
                topic,
                payload,
                qos: Qos::AtMostOnce,
                retain: false,
                kind: Kind::Measurement,
            });
        }
    }

    /// No network drops the connection; a due attempt is made.
    fn sync(&mut self, now: Instant, out: &mut Vec<Action>) {
        let (network, running) = (self.network, self.running);
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if !network {
            if a.conn.take().is_some() {
                out.push(Action::Disconnect);
                a.requeue();
            }
            a.next_attempt_at = None;
            a.error = running.then(|| "no network address: MQTT waits for the network".into());
            return;
        }
        let plan = match a.boot.plan.as_ref() {
            Ok(plan) => plan,
            Err(reason) => {
                a.error = Some(reason.clone());
                return;
            }
        };
        if a.conn.is_none() && a.next_attempt_at.is_none_or(|t| now >= t) {
            a.conn = Some(false);
            a.next_attempt_at = None;
            a.stats.attempts = a.stats.attempts.saturating_add(1);
            out.push(Action::Connect(plan.clone()));
        }
    }

    fn on_connected(&mut self, out: &mut Vec<Action>) {
        let Some(a) = self.active.as_mut().filter(|a| a.conn == Some(false)) else {
            return;
        };
        a.conn = Some(true);
        a.stats.connects = a.stats.connects.saturating_add(1);
        a.backoff.reset();
        a.error = None;
        let (site, serial) = (&a.boot.settings.site, &a.boot.serial);
        out.push(Action::Subscribe(command_filter(site, serial)));
        if a.boot.ha_discovery {
            let state = measurements_topic(site, serial);
            let configs = payload::ha_discovery(serial, &state, &a.boot.model, &a.boot.firmware);
            for (topic, payload) in configs.into_iter().rev() {
                a.control.push_front(Outgoing {
                    topic,
                    payload,
                    qos: Qos::AtLeastOnce,
                    retain: true,
                    kind: Kind::Discovery,
                });
            }
        }
    }

    fn lost(&mut self, reason: String, now: Instant, out: &mut Vec<Action>) {
        let Some(a) = self.active.as_mut().filter(|a| a.conn.is_some()) else {
            return;
        };
        a.conn = None;
        a.full = false;
        a.requeue();
        a.error = Some(reason);
        let delay = Duration::from_ms(a.backoff.next_delay());
        a.next_attempt_at = Some(now.saturating_add(delay));
        if std::mem::take(&mut a.reset_pending) {
            out.push(Action::Device(Event::SoftReset));
        }
    }

    fn written(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.full = false;
        let Some(m) = a.handed.pop_front() else {
            return;
        };
        match m.kind {
            Kind::Measurement => {
                a.stats.published = a.stats.published.saturating_add(1);
                a.last_publish = Some(now);
            }
            Kind::Event | Kind::ResetResult => {
                a.stats.events_published = a.stats.events_published.saturating_add(1)
            }
            Kind::Discovery => {}
        }
        if m.kind == Kind::ResetResult && std::mem::take(&mut a.reset_pending) {
            out.push(Action::Device(Event::SoftReset));
        }
    }

    fn command(&mut self, topic: &str, body: &[u8], now: Instant, out: &mut Vec<Action>) {
        let running = self.running;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let prefix = format!("{}/cmd/", topic_root(&a.boot.settings.site, &a.boot.serial));
        let Some(name) = topic.strip_prefix(&prefix) else {
            return;
        };
        a.stats.commands = a.stats.commands.saturating_add(1);
        match parse_command(name, body) {
            Err(reason) => a.result(name, Err(reason.to_string()), None, false, now),
            Ok(Command::FirmwareUpdate { version }) => {
                out.push(Action::Ask(Event::FirmwareUpdate {
                    version: version.clone(),
                }));
                a.asked.push_back(version);
            }
            Ok(Command::Reset) if running => {
                a.result(name, Ok(()), None, true, now);
                a.reset_pending = true;
            }
            Ok(Command::Reset) => a.result(name, Err(NOT_RUNNING.into()), None, false, now),
        }
    }

    fn answer(&mut self, outcome: Result<(), String>, now: Instant) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let Some(version) = a.asked.pop_front() else {
            return;
        };
        a.result(
            payload::CMD_FIRMWARE_UPDATE,
            outcome,
            Some(version),
            false,
            now,
        );
    }

    /// Hand queued messages to the transport while connected, up to the window.
    fn pump(&mut self, out: &mut Vec<Action>) {
        let Some(a) = self.active.as_mut().filter(|a| a.conn == Some(true)) else {
            return;
        };
        while !a.full && a.handed.len() < a.boot.window.max(1) {
            let Some(m) = a.control.pop_front().or_else(|| a.queue.pop()) else {
                break;
            };
            out.push(Action::Publish(m.clone()));
            a.handed.push_back(m);
        }
    }

    fn report(&mut self, out: &mut Vec<Action>) {
        let link = self.link();
        if self.reported.as_ref() != Some(&link) {
            out.push(Action::Link(link.clone()));
            self.reported = Some(link);
        }
    }
}

/// What the device answered to a firmware update (FW-01), for the command's result.
fn firmware_outcome(fx: &[Effect]) -> Result<(), String> {
    fx.iter()
        .find_map(|e| match e {
            Effect::Reply(Reply::Firmware(r)) => Some(r.clone().map_err(|e| e.to_string())),
            Effect::Reply(Reply::NotRunning) => Some(Err(NOT_RUNNING.to_string())),
            _ => None,
        })
        .unwrap_or_else(|| Err("no answer from the device".into()))
}

impl Active {
    /// Queue a command's result for `…/data/events` (QoS 1).
    fn result(
        &mut self,
        name: &str,
        outcome: Result<(), String>,
        version: Option<String>,
        then_reset: bool,
        now: Instant,
    ) {
        let (site, serial) = (&self.boot.settings.site, &self.boot.serial);
        let r = CommandResult::new(name, outcome, version, serial, site, now.epoch_secs());
        if self.control.len() >= CONTROL_QUEUE {
            self.control.pop_front();
            self.queue.add_dropped(1);
        }
        self.control.push_back(Outgoing {
            topic: events_topic(site, serial),
            payload: r.to_json(),
            qos: Qos::AtLeastOnce,
            retain: false,
            kind: if then_reset {
                Kind::ResetResult
            } else {
                Kind::Event
            },
        });
    }

    /// Messages handed to a connection that is gone go back to their queues, oldest first
    /// (discovery configs are sent afresh at every connect).
    fn requeue(&mut self) {
        while let Some(m) = self.handed.pop_back() {
            self.requeue_one(m);
        }
        self.control.retain(|m| m.kind != Kind::Discovery);
    }

    fn requeue_one(&mut self, m: Outgoing) {
        match m.kind {
            Kind::Measurement => {
                self.queue.push_front(m);
            }
            Kind::Event | Kind::ResetResult | Kind::Discovery
                if self.control.len() < CONTROL_QUEUE =>
            {
                self.control.push_front(m)
            }
            _ => {}
        }
    }
}
