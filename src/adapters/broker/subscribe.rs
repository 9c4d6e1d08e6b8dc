//! In-process links to the broker's router (no socket): `subscribe` for tests and the demo,
//! `publish` for commands to the device (MQ-13).

use super::{BrokerError, EmbeddedBroker, Message};
use rumqttd::protocol::{Filter, Packet, QoS as BrokerQoS, RetainForwardRule, Subscribe};
use rumqttd::Notification;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

impl EmbeddedBroker {
    /// An in-process subscription to `filter` (retained messages included), active when this
    /// returns. Messages arrive on the receiver until the broker stops.
    pub async fn subscribe(
        &self,
        filter: &str,
    ) -> Result<mpsc::UnboundedReceiver<Message>, BrokerError> {
        static SUBS: AtomicU64 = AtomicU64::new(0);
        let id = format!("sim-subscriber-{}", SUBS.fetch_add(1, Ordering::Relaxed));
        let (mut link_tx, mut link_rx) = (self.make_link)(&id).map_err(BrokerError::Link)?;
        let filters = vec![Filter {
            path: filter.to_string(),
            qos: BrokerQoS::AtMostOnce,
            nolocal: false,
            preserve_retain: true,
            retain_forward_rule: RetainForwardRule::OnEverySubscribe,
        }];
        link_tx
            .send(Packet::Subscribe(Subscribe { pkid: 1, filters }, None))
            .await
            .map_err(|e| BrokerError::Link(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (acked_tx, acked_rx) = oneshot::channel();
        self.runtime.spawn(async move {
            let _keep = link_tx;
            let mut acked = Some(acked_tx);
            loop {
                match link_rx.next().await {
                    Ok(Some(Notification::Forward(f))) => {
                        let m = Message {
                            topic: String::from_utf8_lossy(&f.publish.topic).into_owned(),
                            payload: f.publish.payload.to_vec(),
                            retain: f.publish.retain,
                        };
                        if tx.send(m).is_err() {
                            break;
                        }
                    }
                    Ok(Some(Notification::DeviceAck(_))) => {
                        if let Some(a) = acked.take() {
                            let _ = a.send(());
                        }
                    }
                    Ok(Some(Notification::Unschedule)) => {
                        if link_rx.wake().await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), acked_rx)
            .await
            .map_err(|_| BrokerError::Link(format!("no SUBACK for {filter}")))?
            .map_err(|_| BrokerError::Link("the broker stopped".into()))?;
        Ok(rx)
    }

    /// Publish in-process (QoS 0, not retained), e.g. a command to the device (MQ-13).
    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) -> Result<(), BrokerError> {
        let mut guard = self.publisher.lock().unwrap_or_else(|p| p.into_inner());
        let tx = guard
            .as_mut()
            .ok_or_else(|| BrokerError::Link("no publisher".into()))?;
        tx.publish(topic.to_string(), payload.into())
            .map(|_| ())
            .map_err(|e| BrokerError::Link(e.to_string()))
    }
}
