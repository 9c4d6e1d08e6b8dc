//! The device's bounded outgoing queue (MQ-16): while the broker is unreachable, only the
//! newest `capacity` messages are kept; each message pushed out counts as dropped. Pure.

use std::collections::VecDeque;

/// A FIFO that never holds more than `capacity` items: adding to a full queue drops the
/// oldest item and counts it.
#[derive(Debug, Clone)]
pub struct DropOldest<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> DropOldest<T> {
    /// A queue of at most `capacity` items (0: every item is dropped at once).
    pub fn new(capacity: usize) -> Self {
        DropOldest {
            items: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            dropped: 0,
        }
    }

    /// Add the newest item; returns the item dropped to make room, if any.
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.capacity == 0 {
            self.dropped = self.dropped.saturating_add(1);
            return Some(item);
        }
        let out = if self.items.len() >= self.capacity {
            self.dropped = self.dropped.saturating_add(1);
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        out
    }

    /// Put back an item that is older than everything queued (one taken out but not sent). In
    /// a full queue it is the oldest, so it is the one dropped; returns it then.
    pub fn push_front(&mut self, item: T) -> Option<T> {
        if self.items.len() >= self.capacity {
            self.dropped = self.dropped.saturating_add(1);
            return Some(item);
        }
        self.items.push_front(item);
        None
    }

    /// Take the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items dropped since the queue was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Count items lost elsewhere (e.g. before they reached the queue).
    pub fn add_dropped(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_counts_drops() {
        let mut q = DropOldest::new(3);
        for i in 0..10 {
            let out = q.push(i);
            assert_eq!(out, if i >= 3 { Some(i - 3) } else { None });
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.dropped(), 7);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(
            (q.pop(), q.pop(), q.pop(), q.pop()),
            (Some(7), Some(8), Some(9), None)
        );
        assert!(q.is_empty());
        assert_eq!(q.dropped(), 7, "taking items out is not dropping them");
    }

    #[test]
    fn push_front_requeues_and_drops_the_requeued_item_when_full() {
        let mut q = DropOldest::new(2);
        q.push(5);
        assert_eq!(q.push_front(4), None);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [4, 5]);
        assert_eq!(q.push_front(3), Some(3), "the oldest goes when full");
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(), Some(4));
    }

    #[test]
    fn zero_capacity_drops_everything_and_extra_drops_add_up() {
        let mut q = DropOldest::new(0);
        assert_eq!(q.push(1), Some(1));
        assert_eq!(q.push_front(2), Some(2));
        assert!(q.is_empty());
        q.add_dropped(5);
        assert_eq!(q.dropped(), 7);
        assert_eq!(q.capacity(), 0);
    }

    #[test]
    fn never_exceeds_its_capacity_under_any_mix() {
        let mut q = DropOldest::new(4);
        let mut pushed = 0u64;
        let mut popped = 0u64;
        for i in 0u64..1_000 {
            match i % 7 {
                0 | 3 => {
                    popped += u64::from(q.pop().is_some());
                }
                5 => {
                    q.push_front(i);
                    pushed += 1;
                }
                _ => {
                    q.push(i);
                    pushed += 1;
                }
            }
            assert!(q.len() <= 4);
            assert_eq!(
                pushed,
                popped + q.dropped() + q.len() as u64,
                "nothing is lost uncounted"
            );
        }
    }
}
