//! The single client slot (MB-02) and its idle limit (MB-10) on the tokio side: a thin
//! wrapper around the pure machine `device::modbus_slot::ClientSlot`, which holds the rule
//! (and its unit tests). This file numbers the connections, keeps the machine behind a
//! mutex, and stops (`CancellationToken`) the connection the machine evicts.

use crate::device::modbus_slot::{ClientId, ClientSlot, Connect, SlotRules};
use crate::sim::clock::Millis;
use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The slot of one server.
pub(super) struct Slot {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

struct Inner {
    rule: ClientSlot,
    /// How to stop each admitted connection.
    stops: HashMap<ClientId, CancellationToken>,
}

/// What an admitted connection gets; gives its place back when dropped.
pub(super) struct Held {
    slot: Arc<Slot>,
    id: ClientId,
    /// Cancelled when a new client takes over the slot from this idle connection.
    pub(super) stop: CancellationToken,
}

fn at(t: Millis) -> Instant {
    Instant::from_epoch_ms(t)
}

impl Held {
    /// Note a complete request at device time `now`; false when the connection has lost its
    /// place (evicted) and must not be answered.
    pub(super) fn active(&self, now: Millis) -> bool {
        self.slot.lock().rule.request(self.id, at(now))
    }

    /// The idle limit (MB-10).
    pub(super) fn idle_limit(&self) -> Duration {
        self.slot.lock().rule.rules().idle_limit
    }

    /// Silent for the idle limit at `now` (or evicted).
    pub(super) fn idle(&self, now: Millis) -> bool {
        self.slot.lock().rule.expired(self.id, at(now))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stop.cancel();
        let mut inner = self.slot.lock();
        inner.rule.disconnect(self.id);
        inner.stops.remove(&self.id);
    }
}

impl Slot {
    /// A free slot; `idle_ms` saturates to "never" when it does not fit device time.
    pub(super) fn new(single_client: bool, idle_ms: Millis) -> Self {
        let rules = SlotRules {
            single_client,
            idle_limit: Duration::from_ms(idle_ms),
        };
        Slot {
            inner: Mutex::new(Inner {
                rule: ClientSlot::new(rules),
                stops: HashMap::new(),
            }),
            next_id: AtomicU64::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a connection arriving at device time `now` would be refused.
    pub(super) fn busy(&self, now: Millis) -> bool {
        self.lock().rule.busy(at(now))
    }

    /// Ask the machine for a place at `now`: an idle holder it evicts is stopped (MB-10).
    /// `None` if refused.
    pub(super) fn take(self: &Arc<Self>, now: Millis) -> Option<Held> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut inner = self.lock();
        let Connect::Admit(admit) = inner.rule.connect(id, at(now)) else {
            return None;
        };
        if let Some(old) = admit.evicted.and_then(|old| inner.stops.remove(&old)) {
            old.cancel();
        }
        let stop = CancellationToken::new();
        inner.stops.insert(id, stop.clone());
        Some(Held {
            slot: Arc::clone(self),
            id,
            stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evicted_connection_is_stopped_and_its_drop_frees_nothing() {
        let slot = Arc::new(Slot::new(true, 60_000));
        let a = slot.take(0).expect("free");
        assert!(slot.take(1_000).is_none(), "busy");
        assert!(a.active(30_000));
        assert!(slot.take(89_999).is_none(), "30 s + 59.999 s");
        let b = slot.take(90_000).expect("idle holder replaced");
        assert!(a.stop.is_cancelled());
        assert!(!a.active(90_000), "the evicted connection is not answered");
        assert!(a.idle(90_000));
        drop(a);
        assert!(slot.busy(90_001), "the new holder keeps the slot");
        assert!(!b.stop.is_cancelled());
        drop(b);
        assert!(!slot.busy(90_002));
        assert!(slot.lock().stops.is_empty());
    }

    #[test]
    fn many_clients_and_no_idle_limit_as_the_defects_ask() {
        let slot = Arc::new(Slot::new(false, Millis::MAX / 4));
        let a = slot.take(0).expect("free");
        let b = slot.take(0).expect("many clients");
        assert!(!a.idle(Millis::MAX / 8) && !b.idle(Millis::MAX / 8));
        assert_eq!(a.idle_limit(), Duration::from_ms(Millis::MAX / 4));
    }
}
