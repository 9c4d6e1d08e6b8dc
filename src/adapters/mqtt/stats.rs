//! What the client reports: `MqttStats` for tests and the demo, and the `MqttLink` (status
//! `MQTT`, network indicator) sent to the device when it changes.

use super::{Active, Manager};
use crate::device::status::MqttLink;
use crate::device::Event;
use crate::sim::clock::Millis;

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
    /// Since start (never reset at a boot): device effects the client has taken in, messages
    /// it has written to a broker connection, and messages it received there. A harness
    /// driving a virtual clock compares them with what it did, to wait on the client's own
    /// progress instead of on real time.
    pub effects_seen: u64,
    pub written_total: u64,
    pub received_total: u64,
    /// What the client is in the middle of (a connection attempt, the command subscription,
    /// messages handed to the connection but not yet written); `None`: it waits for the
    /// device, the clock or the broker.
    pub busy: Option<&'static str>,
}

impl Manager {
    /// Tell the device about a changed link, and publish the numbers.
    pub(super) fn report(&mut self) {
        let link = match &self.active {
            None => MqttLink::default(),
            Some(a) => MqttLink {
                connected: a.conn.as_ref().is_some_and(|c| c.connected),
                last_publish: a.last_publish.map(crate::time::Instant::from_epoch_ms),
                dropped: a.queue.dropped(),
                error: a.error.clone(),
            },
        };
        if self.reported.as_ref() != Some(&link) {
            self.host.handle(Event::Mqtt(link.clone()));
            self.reported = Some(link);
        }
        let busy = self.active.as_ref().and_then(Active::busy);
        let (effects_seen, written_total, received_total) =
            (self.effects_seen, self.written_total, self.received_total);
        let stats = match &self.active {
            None => MqttStats {
                generation: self.generation.unwrap_or(0),
                device_time: self.now,
                effects_seen,
                written_total,
                received_total,
                busy,
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
                effects_seen,
                written_total,
                received_total,
                busy,
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
    /// What this boot's client is in the middle of, if anything (`MqttStats::busy`).
    fn busy(&self) -> Option<&'static str> {
        let conn = self.conn.as_ref()?;
        if !conn.connected {
            Some("connecting to the broker")
        } else if !conn.subscribed {
            Some("subscribing to commands")
        } else if !self.handed.is_empty() || !self.control.is_empty() || !self.queue.is_empty() {
            Some("writing messages to the broker")
        } else {
            None
        }
    }
}
