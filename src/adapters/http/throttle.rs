//! Throttling of wrong passwords per source IP address (brute-force protection).
//!
//! The rule:
//! - A request with credentials that are wrong counts as a failure of its source IP
//!   address (a request without an `Authorization` header does not: that is a browser
//!   asking for the login prompt).
//! - The first `FREE_FAILURES` (5) failures get the usual 401. The next one gets 429 with
//!   `Retry-After`, and the source is refused for `FIRST_BLOCK_MS` (1 s); every further
//!   failure after a block ended doubles the block, up to `MAX_BLOCK_MS` (60 s). Wrong
//!   attempts during a block get 429 with the time left and do not extend it.
//! - Correct credentials are always accepted and never slowed, blocked source or not (an
//!   attacker on the same address as the installer must not lock the installer out), and
//!   reset the source's count.
//! - A source without failures for `FORGET_MS` (15 min) starts from zero; a reboot or power
//!   loss of the device (a new `Served::generation`) forgets every source (the table is RAM).
//! - Answers come at once: nothing sleeps while holding a connection.
//! - Time is the host's clock (`Host::now()`: virtual in tests, device time in runs).
//! - At most `MAX_SOURCES` (1024) sources are remembered; a new one evicts the one whose
//!   last failure is oldest.
//! - Like the session, the table belongs to the device: the plain-HTTP and the HTTPS server
//!   of one `Host` share it (`Throttle::for_host`).

use crate::adapters::host::Host;
use crate::sim::clock::Millis;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Failures answered with a plain 401 before blocks start.
pub const FREE_FAILURES: u32 = 5;
/// The first block.
pub const FIRST_BLOCK_MS: Millis = 1_000;
/// The longest block.
pub const MAX_BLOCK_MS: Millis = 60_000;
/// A source quiet this long is forgotten.
pub const FORGET_MS: Millis = 15 * 60_000;
/// Sources remembered at most.
pub const MAX_SOURCES: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Source {
    failures: u32,
    blocked_until: Millis,
    last: Millis,
}

/// What to answer a request with wrong credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// 401: wrong credentials, no block (yet).
    Unauthorized,
    /// 429: refused for `retry_after_ms` more.
    Blocked { retry_after_ms: Millis },
}

/// The failure table of one device.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    sources: Mutex<(u64, HashMap<IpAddr, Source>)>,
}

type Registry = Mutex<Vec<(Weak<Host>, Arc<Throttle>)>>;

/// The block after `failures` failures (`failures > FREE_FAILURES`).
fn block_ms(failures: u32) -> Millis {
    let doublings = failures
        .saturating_sub(FREE_FAILURES.saturating_add(1))
        .min(16);
    FIRST_BLOCK_MS
        .saturating_mul(1 << doublings)
        .min(MAX_BLOCK_MS)
}

impl Throttle {
    /// The table of `host`, shared by all its servers.
    pub fn for_host(host: &Arc<Host>) -> Arc<Throttle> {
        static TABLES: OnceLock<Registry> = OnceLock::new();
        let mut tables = TABLES
            .get_or_init(Registry::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        tables.retain(|(h, _)| h.strong_count() > 0);
        if let Some((_, t)) = tables
            .iter()
            .find(|(h, _)| std::ptr::eq(h.as_ptr(), Arc::as_ptr(host)))
        {
            return Arc::clone(t);
        }
        let t = Arc::new(Throttle::default());
        tables.push((Arc::downgrade(host), Arc::clone(&t)));
        t
    }

    /// Correct credentials from `ip`: its failures are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut table = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        table.1.remove(&ip);
    }

    /// Wrong credentials from `ip` at `now` on device generation `generation`.
    pub fn failed(&self, ip: IpAddr, now: Millis, generation: u64) -> Verdict {
        let mut table = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if table.0 != generation {
            *table = (generation, HashMap::new());
        }
        let sources = &mut table.1;
        if !sources.contains_key(&ip) && sources.len() >= MAX_SOURCES {
            let oldest = sources.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                sources.remove(&oldest);
            }
        }
        let s = sources.entry(ip).or_insert(Source {
            failures: 0,
            blocked_until: now,
            last: now,
        });
        if now.saturating_sub(s.last) >= FORGET_MS && s.blocked_until <= now {
            s.failures = 0;
        }
        s.last = now;
        if s.blocked_until > now {
            return Verdict::Blocked {
                retry_after_ms: s.blocked_until.saturating_sub(now),
            };
        }
        s.failures = s.failures.saturating_add(1);
        if s.failures <= FREE_FAILURES {
            return Verdict::Unauthorized;
        }
        let block = block_ms(s.failures);
        s.blocked_until = now.saturating_add(block);
        Verdict::Blocked {
            retry_after_ms: block,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.sources.lock().unwrap().1.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn blocked(ms: Millis) -> Verdict {
        Verdict::Blocked { retry_after_ms: ms }
    }

    #[test]
    fn five_free_failures_then_doubling_blocks_up_to_a_minute() {
        let t = Throttle::default();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.failed(A, 0, 0), Verdict::Unauthorized);
        }
        assert_eq!(t.failed(A, 0, 0), blocked(1_000));
        assert_eq!(
            t.failed(A, 400, 0),
            blocked(600),
            "during a block: the time left"
        );
        assert_eq!(t.failed(B, 400, 0), Verdict::Unauthorized, "per source");
        let mut now = 1_000;
        let mut want = 2_000;
        for _ in 0..10 {
            assert_eq!(t.failed(A, now, 0), blocked(want));
            now += want;
            want = (want * 2).min(MAX_BLOCK_MS);
        }
        assert_eq!(want, MAX_BLOCK_MS);
        t.succeeded(A);
        assert_eq!(t.failed(A, now, 0), Verdict::Unauthorized, "success resets");
        for _ in 0..FREE_FAILURES {
            t.failed(A, now, 0);
        }
        assert_eq!(
            t.failed(A, now, 1),
            Verdict::Unauthorized,
            "a reboot forgets"
        );
    }

    #[test]
    fn quiet_sources_are_forgotten_and_the_table_is_bounded() {
        let t = Throttle::default();
        for _ in 0..FREE_FAILURES {
            t.failed(A, 0, 0);
        }
        assert_eq!(t.failed(A, FORGET_MS, 0), Verdict::Unauthorized);
        for i in 0..(MAX_SOURCES as u32 + 100) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            t.failed(ip, Millis::from(i), 0);
        }
        assert_eq!(t.len(), MAX_SOURCES);
    }
}
