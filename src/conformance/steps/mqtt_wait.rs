//! How MQTT steps wait for what the device sends, on the two kinds of target.
//!
//! - A target that settles exactly (the virtual device, whose clock and adapters the harness
//!   drives): waits are in DEVICE time and end on the adapters' own events. A step calls
//!   `Target::settle` (the device's MQTT client is idle and caught up, the broker has
//!   delivered all it wrote) and then looks at what arrived; "nothing (more) arrives" is
//!   judged the same way. A wait for a status change lets one second of device time pass per
//!   round, settling after each, up to `STATUS_WITHIN_MS` of device time. Real time never
//!   decides a verdict (it only bounds `settle` as a hang guard), so a loaded machine gives
//!   the same verdicts as an idle one.
//! - A real device (a remote target): real time is all a bench has. A message is waited for
//!   up to `WAIT`; "nothing (more) arrives" means nothing for `QUIET`; a status wait lets a
//!   second of device time pass every `NUDGE_AFTER`, as it would while a person watches.

use super::world::DeviceWorld;
use crate::adapters::broker::Message;
use crate::sim::clock::Millis;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;

/// Real device: the longest real-time wait for a message, a connection or a status change.
pub(super) const WAIT: Duration = Duration::from_secs(10);
/// Real device: real time a status wait gives the device before letting a second of its
/// time pass (its MQTT back-off runs on device time).
const NUDGE_AFTER: Duration = Duration::from_millis(500);
/// Real device: real time given to the broker to deliver what may still be in flight before
/// concluding that nothing (more) arrives. Loopback delivery takes milliseconds.
pub(super) const QUIET: Duration = Duration::from_millis(200);
/// Virtual device: the most device time a status wait lets pass (the MQTT back-off is capped
/// at 8 s, so a few attempts fit).
pub(super) const STATUS_WITHIN_MS: Millis = 30_000;

/// Which of the two `devices/#` subscriptions a step reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    /// Measurements (other topics are skipped).
    Data,
    /// Command results (other topics are skipped).
    Events,
}

fn feed(w: &mut DeviceWorld, which: Feed) -> &mut UnboundedReceiver<Message> {
    let rx = match which {
        Feed::Data => w.mqtt.data.as_mut(),
        Feed::Events => w.mqtt.events.as_mut(),
    };
    rx.expect(
        "nobody watches the broker: add 'an installer's MQTT client is subscribed to devices/#'",
    )
}

/// Whether waits on this target are in device time and end on the adapters' events.
pub(super) fn exact(w: &mut DeviceWorld) -> bool {
    w.target().settles_exactly()
}

/// What has arrived on `which` by now (the target has settled), oldest first.
fn arrived(w: &mut DeviceWorld, which: Feed, keep: fn(&Message) -> bool) -> Vec<Message> {
    let rx = feed(w, which);
    let mut got = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(m) if keep(&m) => got.push(m),
            Ok(_) => {}
            Err(TryRecvError::Empty) => return got,
            Err(TryRecvError::Disconnected) => panic!("the broker closed the subscription"),
        }
    }
}

/// The next message on `which` satisfying `keep` (others are skipped): on the virtual
/// device, one that has arrived once the target settled; on a real one, within `WAIT`.
pub(super) async fn next_where(
    w: &mut DeviceWorld,
    which: Feed,
    keep: fn(&Message) -> bool,
) -> Option<Message> {
    if exact(w) {
        w.settle().await;
        let rx = feed(w, which);
        loop {
            match rx.try_recv() {
                Ok(m) if keep(&m) => return Some(m),
                Ok(_) => {}
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => panic!("the broker closed the subscription"),
            }
        }
    }
    let rx = feed(w, which);
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(m)) if keep(&m) => return Some(m),
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the broker closed the subscription"),
            Err(_) => return None,
        }
    }
}

/// Everything on `which` satisfying `keep` that has arrived: on the virtual device once the
/// target settled; on a real one, until the broker has been quiet for `QUIET`.
pub(super) async fn drain(
    w: &mut DeviceWorld,
    which: Feed,
    keep: fn(&Message) -> bool,
) -> Vec<Message> {
    if exact(w) {
        w.settle().await;
        return arrived(w, which, keep);
    }
    let rx = feed(w, which);
    let mut got = Vec::new();
    while let Ok(m) = tokio::time::timeout(QUIET, rx.recv()).await {
        let m = m.expect("the broker closed the subscription");
        if keep(&m) {
            got.push(m);
        }
    }
    got
}

/// Wait until `ok` holds for the status's `MQTT` section, and return that section: on the
/// virtual device, settling after each second of device time, up to `STATUS_WITHIN_MS`; on
/// a real one, polling in real time up to `WAIT`.
pub(super) async fn mqtt_status_until(
    w: &mut DeviceWorld,
    what: &str,
    ok: fn(&Value) -> bool,
) -> Value {
    if exact(w) {
        let start = w.now();
        loop {
            w.settle().await;
            let status = w.target().status().await;
            if let Ok(s) = &status {
                if ok(&s["MQTT"]) {
                    return s["MQTT"].clone();
                }
            }
            if w.now() - start >= STATUS_WITHIN_MS {
                match status {
                    Ok(s) => panic!(
                        "{what} did not happen within {} s of device time; MQTT status: {}",
                        STATUS_WITHIN_MS / 1000,
                        s["MQTT"]
                    ),
                    Err(e) => panic!(
                        "{what} did not happen within {} s of device time; the status API does not answer: {e}",
                        STATUS_WITHIN_MS / 1000
                    ),
                }
            }
            // A failed connection attempt is retried after the device's back-off, in device
            // time.
            w.pass(1_000).await;
        }
    }
    let end = tokio::time::Instant::now() + WAIT;
    let mut nudge = tokio::time::Instant::now() + NUDGE_AFTER;
    loop {
        if let Ok(s) = w.target().status().await {
            if ok(&s["MQTT"]) {
                return s["MQTT"].clone();
            }
            if tokio::time::Instant::now() >= end {
                panic!("timed out waiting for {what}; MQTT status: {}", s["MQTT"]);
            }
        } else if tokio::time::Instant::now() >= end {
            panic!("timed out waiting for {what}; the status API does not answer");
        }
        if tokio::time::Instant::now() >= nudge {
            w.pass(1_000).await;
            nudge = tokio::time::Instant::now() + NUDGE_AFTER;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
