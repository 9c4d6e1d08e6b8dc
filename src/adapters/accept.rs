//! The accept loop every listener of the simulator shares (`accept_forever`: the device's
//! Modbus, the P1 stream, the control Modbus; over TCP or the in-memory network), and what it does when `accept` fails (e.g. out
//! of descriptors): log once per kind of error, back off (10 ms doubling to 1 s of wall time:
//! it waits for the OS, not the device) and keep listening (`AcceptErrors`, also used by the
//! HTTP listeners).

use super::net::{Listener, Stream};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Accept on `listener` until the calling task is aborted. Each accepted stream goes to
/// `admit`, which answers with the connection's future, or `None` to close the stream at
/// once (it logs why). The connections run in this task's set: aborting the listener ends
/// them too. An accept error is logged once per kind and backed off, never fatal. With
/// `Spare::Held` a spare descriptor is held so that, when the process runs out, it can be
/// given up to accept the pending client (and is taken again later): for the device's Modbus,
/// which a charger must reach; the other listeners hold none, so they take no descriptor
/// from the rest under exhaustion. The spare matters only for TCP: an in-memory listener
/// holds none, whatever `spare` says.
pub async fn accept_forever<A, F, C>(
    listener: impl Into<Listener>,
    name: &str,
    spare: Spare,
    mut admit: A,
) where
    A: FnMut(Stream, SocketAddr) -> F,
    F: Future<Output = Option<C>>,
    C: Future<Output = ()> + Send + 'static,
{
    let listener: Listener = listener.into();
    let held = spare == Spare::Held && matches!(listener, Listener::Tcp(_));
    let open_spare = || if held { open_spare() } else { None };
    let mut spare = open_spare();
    let mut errors = AcceptErrors::default();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                errors.accepted(name);
                if let Some(conn) = admit(stream, peer).await {
                    conns.spawn(conn);
                }
                if spare.is_none() {
                    spare = open_spare(); // fails harmlessly while descriptors are short
                }
            }
            Err(e) => {
                let wait = errors.failed(name, &e);
                if out_of_descriptors(&e) && spare.take().is_some() {
                    // Retry at once with the spare descriptor free; it is taken again only
                    // after an accept or a back-off, or it would take the freed one back.
                    continue;
                }
                tokio::time::sleep(wait).await;
                if spare.is_none() {
                    spare = open_spare();
                }
            }
        }
    }
}

/// One of a listener's limited places (readers, clients); given back when dropped, also
/// when the connection's task is aborted.
pub struct Seat(Arc<AtomicUsize>);

impl Seat {
    /// A place if fewer than `max` are taken.
    pub fn take(taken: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n.saturating_add(1))
            })
            .ok()
            .map(|_| Seat(Arc::clone(taken)))
    }

    /// Places taken now, this one included.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a listener keeps a spare descriptor for when the process runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spare {
    Held,
    None,
}

fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

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
