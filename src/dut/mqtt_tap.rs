//! The virtual target's one subscription to everything on its embedded broker (`#`), fanned
//! out to the suite's subscriptions in-process. Because every message reaches the suite
//! through this tap, and the tap counts what it has forwarded, the target can tell when
//! everything the device's client wrote has reached the suite's receivers (`settle`): a
//! barrier on the broker's own deliveries instead of a pause in real time.

use crate::adapters::broker::{BrokerError, EmbeddedBroker, Message};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Subscribers, shared with the forwarding task.
#[derive(Debug, Default)]
struct Shared {
    subscribers: Vec<(String, UnboundedSender<Message>)>,
}

/// The tap; its forwarding task ends when the broker stops.
#[derive(Debug)]
pub(super) struct MqttTap {
    shared: Arc<Mutex<Shared>>,
    /// Messages the tap has forwarded (every topic).
    seen: Arc<AtomicU64>,
}

impl MqttTap {
    /// Subscribe to `#` on `broker` and start forwarding.
    pub(super) async fn start(broker: &EmbeddedBroker) -> Result<MqttTap, BrokerError> {
        let mut rx = broker.subscribe("#").await?;
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let seen = Arc::new(AtomicU64::new(0));
        let (task_shared, task_seen) = (Arc::clone(&shared), Arc::clone(&seen));
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                {
                    let mut s = task_shared.lock().unwrap_or_else(|p| p.into_inner());
                    s.subscribers.retain(|(filter, tx)| {
                        !matches(filter, &m.topic) || tx.send(m.clone()).is_ok()
                    });
                }
                // Counted after the fan-out: a count seen means the receivers have it.
                task_seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(MqttTap { shared, seen })
    }

    /// A subscription to `filter`, active at once. It gets what is published from now on,
    /// not retained messages: the broker clears the retain flag of what it forwards live, so
    /// the tap cannot tell them (subscribe on the broker itself for those).
    pub(super) fn subscribe(&self, filter: &str) -> UnboundedReceiver<Message> {
        let (tx, rx) = unbounded_channel();
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.subscribers.push((filter.to_string(), tx));
        rx
    }

    /// Messages forwarded so far.
    pub(super) fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
}

/// Whether the MQTT topic filter `filter` (`+` one level, `#` the rest) matches `topic`.
pub(super) fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn topic_filters() {
        assert!(matches("#", "devices/a/b"));
        assert!(matches(
            "devices/#",
            "devices/a/smart-connect/s/data/measurements"
        ));
        assert!(matches(
            "devices/+/smart-connect/+/data/measurements",
            "devices/a/smart-connect/s/data/measurements"
        ));
        assert!(!matches(
            "devices/+/smart-connect/+/data/measurements",
            "devices/a/smart-connect/s/data/events"
        ));
        assert!(!matches("devices/+", "devices/a/b"));
        assert!(!matches("devices/a/b", "devices/a"));
        assert!(matches("homeassistant/#", "homeassistant/sensor/x/config"));
    }
}
