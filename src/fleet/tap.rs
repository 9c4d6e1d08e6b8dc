//! The latency tap (`fleet --tap`): one more MQTT client, subscribed to every device's
//! measurements, that notes how long after its device wrote it each message arrived (the
//! device's write time is in `FleetStats`; same process, same clock). What it measures is
//! publish → broker → subscriber, the latency a backend behind the broker sees.

use super::wire::{self, Dialer};
use super::Shared;
use rumqttc::mqttbytes::v4::{Packet, Subscribe};
use rumqttc::mqttbytes::QoS;
use std::collections::HashMap;
use std::sync::Arc;

/// Subscribe and count until the run ends; reconnects after a second when the broker goes.
pub async fn run(sh: Arc<Shared>, dialer: Dialer, slots: HashMap<String, usize>) {
    let filter = format!("devices/{}/smart-connect/+/data/measurements", sh.site);
    loop {
        if tokio::time::Instant::now() >= sh.end_real || sh.stop.is_cancelled() {
            return;
        }
        if let Ok(Ok((mut stream, mut buf))) =
            tokio::time::timeout(super::device::CONNECT_TIMEOUT, wire::connect(&dialer)).await
        {
            let mut sub = Subscribe::new(&filter, QoS::AtMostOnce);
            sub.pkid = 1;
            if wire::write(&mut stream, &Packet::Subscribe(sub))
                .await
                .is_ok()
            {
                'conn: loop {
                    // Large reads: at 10 000 messages/s, 256-byte reads would be 20 000 wakes.
                    buf.reserve(64 * 1024);
                    tokio::select! {
                        r = wire::fill(&mut stream, &mut buf) => if r.is_err() { break 'conn },
                        _ = tokio::time::sleep_until(sh.end_real) => return,
                        _ = sh.stop.cancelled() => return,
                    }
                    loop {
                        match wire::take(&mut buf) {
                            Ok(Some(Packet::Publish(p))) => {
                                let slot = p.topic.split('/').nth(3).and_then(|s| slots.get(s));
                                if let Some(slot) = slot {
                                    sh.stats.received(*slot);
                                }
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(_) => break 'conn,
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = sh.stop.cancelled() => return,
        }
    }
}
