//! What the client reports for tests and the demo: `MqttStats`, taken from the link machine's
//! counters and the transport's connection. (The `MqttLink` for the device comes from the
//! machine as `Action::Link`.)

use super::Manager;
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
    /// Publish the numbers (to watchers, when they changed).
    pub(super) fn publish_stats(&mut self) {
        let link = &self.link;
        let c = link.counters();
        let conn = self.conn.as_ref();
        let stats = MqttStats {
            generation: self.generation.unwrap_or(0),
            enabled: link.enabled(),
            connected: link.connected(),
            subscribed: conn.is_some_and(|c| c.subscribed),
            attempts: c.attempts,
            attempt_times: self.attempt_times.iter().copied().collect(),
            next_attempt_at: link.next_deadline().map(crate::time::Instant::epoch_ms),
            connects: c.connects,
            published: c.published,
            events_published: c.events_published,
            commands: c.commands,
            queued: link.queued(),
            dropped: link.dropped(),
            error: link.link().error,
            device_time: self.now,
            effects_seen: self.effects_seen,
            written_total: self.written_total,
            received_total: self.received_total,
            busy: self.busy(),
        };
        self.stats.send_if_modified(|s| {
            let changed = *s != stats;
            if changed {
                *s = stats;
            }
            changed
        });
    }

    /// What this boot's client is in the middle of, if anything (`MqttStats::busy`).
    fn busy(&self) -> Option<&'static str> {
        let conn = self.conn.as_ref()?;
        if !conn.connected {
            Some("connecting to the broker")
        } else if !conn.subscribed {
            Some("subscribing to commands")
        } else if self.link.outgoing() > 0 {
            Some("writing messages to the broker")
        } else {
            None
        }
    }
}
