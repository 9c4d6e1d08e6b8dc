//! The single client slot (MB-02): who holds it and when they last sent a complete request.
//! A holder silent for the idle limit (MB-10) loses it to the next client.

use crate::sim::clock::Millis;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

pub(super) struct Slot {
    holder: Mutex<Option<Holder>>,
    next_id: AtomicU64,
    /// A holder silent this long loses the slot (`IDLE_MS`, MB-10).
    pub(super) idle_ms: Millis,
}

struct Holder {
    id: u64,
    last: Arc<AtomicI64>,
    stop: CancellationToken,
}

/// What a connection gets with the slot; releases it when dropped.
pub(super) struct Held {
    slot: Arc<Slot>,
    id: u64,
    /// Device time of the holder's last complete request.
    pub(super) last: Arc<AtomicI64>,
    /// Cancelled when a new client takes over an idle slot.
    pub(super) stop: CancellationToken,
}

impl Held {
    /// Note a complete request at device time `now`.
    pub(super) fn active(&self, now: Millis) {
        self.last.store(now, Ordering::SeqCst);
    }

    /// The idle limit (MB-10).
    pub(super) fn idle_ms(&self) -> Millis {
        self.slot.idle_ms
    }

    /// Silent for the idle limit at `now`.
    pub(super) fn idle(&self, now: Millis) -> bool {
        now.saturating_sub(self.last.load(Ordering::SeqCst)) >= self.slot.idle_ms
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stop.cancel();
        let mut h = self.slot.lock();
        if h.as_ref().is_some_and(|x| x.id == self.id) {
            *h = None;
        }
    }
}

impl Slot {
    pub(super) fn new(idle_ms: Millis) -> Self {
        Slot {
            holder: Mutex::default(),
            next_id: AtomicU64::default(),
            idle_ms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Holder>> {
        self.holder.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Held by a client that is not idle past the limit at device time `now`.
    pub(super) fn busy(&self, now: Millis) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|h| now.saturating_sub(h.last.load(Ordering::SeqCst)) < self.idle_ms)
    }

    /// Take the slot: a holder idle past the limit is stopped first (MB-10). `None` if busy.
    pub(super) fn take(self: &Arc<Self>, now: Millis) -> Option<Held> {
        let mut h = self.lock();
        if let Some(old) = h.as_ref() {
            if now.saturating_sub(old.last.load(Ordering::SeqCst)) < self.idle_ms {
                return None;
            }
            old.stop.cancel();
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let last = Arc::new(AtomicI64::new(now));
        let stop = CancellationToken::new();
        *h = Some(Holder {
            id,
            last: Arc::clone(&last),
            stop: stop.clone(),
        });
        Some(Held {
            slot: Arc::clone(self),
            id,
            last,
            stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_until_it_leaves_or_idles() {
        let slot = Arc::new(Slot::new(60_000));
        let a = slot.take(0).expect("free");
        assert!(slot.take(1_000).is_none(), "busy");
        a.active(30_000);
        assert!(slot.take(89_999).is_none(), "30 s + 59.999 s");
        let b = slot.take(90_000).expect("idle holder replaced");
        assert!(a.stop.is_cancelled());
        drop(a); // the old holder's drop must not free the new holder's slot
        assert!(slot.busy(90_001));
        drop(b);
        assert!(!slot.busy(90_002));
    }
}
