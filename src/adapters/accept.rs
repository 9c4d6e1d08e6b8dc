//! What a listener does when `accept` fails (e.g. out of descriptors): log once per kind of
//! error, back off (10 ms doubling to 1 s of wall time: it waits for the OS, not the device)
//! and keep listening. Shared by the Modbus and HTTP accept loops.

use std::io;
use std::time::Duration;

/// The accept-error state of one listener.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    backoff: Duration,
    last: Option<io::ErrorKind>,
    /// Errors since the last successful accept.
    pub count: u64,
}

impl AcceptErrors {
    /// A connection was accepted: the back-off starts again; logs recovery once.
    pub fn accepted(&mut self, listener: &str) {
        if self.last.take().is_some() {
            tracing::info!(
                "{listener}: accepting connections again after {} failed accepts",
                self.count
            );
        }
        self.backoff = Duration::ZERO;
        self.count = 0;
    }

    /// `accept` failed with `e`: how long to wait before the next try.
    pub fn failed(&mut self, listener: &str, e: &io::Error) -> Duration {
        if self.last != Some(e.kind()) {
            tracing::warn!("{listener}: accept failed (still listening): {e}");
            self.last = Some(e.kind());
        }
        self.count = self.count.saturating_add(1);
        self.backoff = (self.backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        self.backoff
    }
}

/// EMFILE (per process) or ENFILE (system-wide).
pub fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_to_a_second_and_starts_again_after_a_success() {
        let mut a = AcceptErrors::default();
        let e = io::Error::from_raw_os_error(24);
        assert!(out_of_descriptors(&e));
        let waits: Vec<_> = (0..10).map(|_| a.failed("t", &e).as_millis()).collect();
        assert_eq!(waits[..4], [10, 20, 40, 80]);
        assert_eq!(*waits.last().unwrap(), 1000);
        a.accepted("t");
        assert_eq!(a.failed("t", &e).as_millis(), 10);
    }
}
