//! Throttling of wrong passwords per source IP address (brute-force protection of the HTTP
//! API) as a pure machine: device time and the boot generation come in as arguments, so the
//! rule is replayed by a seed and tested without sockets. The HTTP adapter keeps one
//! `LoginThrottle` per device (in the `Host`, shared by its plain-HTTP and HTTPS servers)
//! and answers `Verdict::Blocked` with 429 and `Retry-After`.
//!
//! The rule:
//! - A request with credentials that are wrong counts as a failure of its source IP
//!   address (a request without an `Authorization` header does not: that is a browser
//!   asking for the login prompt; the adapter does not call `failed` for it).
//! - The first [`FREE_FAILURES`] (5) failures get the usual 401. The next one gets 429 with
//!   `Retry-After`, and the source is refused for [`FIRST_BLOCK`] (1 s); every further
//!   failure after a block ended doubles the block, up to [`MAX_BLOCK`] (60 s). Wrong
//!   attempts during a block get 429 with the time left and do not extend it.
//! - Correct credentials are always accepted and never slowed, blocked source or not (an
//!   attacker on the same address as the installer must not lock the installer out), and
//!   reset the source's count (`succeeded`).
//! - A source without failures for [`FORGET_AFTER`] (15 min) starts from zero; a reboot or
//!   power loss of the device (a new boot generation) forgets every source (the table is RAM).
//! - At most [`MAX_SOURCES`] (1024) sources are remembered; a new one evicts the one whose
//!   last failure is oldest.

use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::net::IpAddr;

/// Failures answered with a plain 401 before blocks start.
pub const FREE_FAILURES: u32 = 5;
/// The first block.
pub const FIRST_BLOCK: Duration = Duration::from_secs(1);
/// The longest block.
pub const MAX_BLOCK: Duration = Duration::from_secs(60);
/// A source quiet this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Sources remembered at most.
pub const MAX_SOURCES: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Source {
    failures: u32,
    blocked_until: Instant,
    last: Instant,
}

/// What to answer a request with wrong credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 401: wrong credentials, no block (yet).
    Unauthorized,
    /// 429: refused for `retry_after` more.
    Blocked { retry_after: Duration },
}

/// The failure table of one device.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    /// The boot generation the table belongs to.
    generation: u64,
    sources: HashMap<IpAddr, Source>,
}

/// The block after `failures` failures (`failures > FREE_FAILURES`).
fn block(failures: u32) -> Duration {
    let doublings = failures
        .saturating_sub(FREE_FAILURES.saturating_add(1))
        .min(16);
    FIRST_BLOCK.saturating_mul(1 << doublings).min(MAX_BLOCK)
}

impl LoginThrottle {
    /// Correct credentials from `ip`: its failures are forgotten.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.sources.remove(&ip);
    }

    /// Wrong credentials from `ip` at `now` on boot generation `generation`.
    pub fn failed(&mut self, ip: IpAddr, now: Instant, generation: u64) -> Verdict {
        if self.generation != generation {
            self.generation = generation;
            self.sources.clear();
        }
        let sources = &mut self.sources;
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
        if now.elapsed_since(s.last) >= FORGET_AFTER && s.blocked_until <= now {
            s.failures = 0;
        }
        s.last = s.last.max(now);
        if s.blocked_until > now {
            return Verdict::Blocked {
                retry_after: s.blocked_until.since(now),
            };
        }
        s.failures = s.failures.saturating_add(1);
        if s.failures <= FREE_FAILURES {
            return Verdict::Unauthorized;
        }
        let b = block(s.failures);
        s.blocked_until = now.saturating_add(b);
        debug_assert!(sources.len() <= MAX_SOURCES);
        Verdict::Blocked { retry_after: b }
    }

    /// Sources remembered now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is remembered.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{at, ms};

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn blocked(v: i64) -> Verdict {
        Verdict::Blocked { retry_after: ms(v) }
    }

    #[test]
    fn five_free_failures_then_doubling_blocks_up_to_a_minute() {
        let mut t = LoginThrottle::default();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.failed(A, at(0), 0), Verdict::Unauthorized);
        }
        assert_eq!(t.failed(A, at(0), 0), blocked(1_000));
        assert_eq!(
            t.failed(A, at(400), 0),
            blocked(600),
            "during a block: the time left"
        );
        assert_eq!(t.failed(B, at(400), 0), Verdict::Unauthorized, "per source");
        let mut now = 1_000;
        let mut want = 2_000;
        for _ in 0..10 {
            assert_eq!(t.failed(A, at(now), 0), blocked(want));
            now += want;
            want = (want * 2).min(MAX_BLOCK.as_ms());
        }
        assert_eq!(want, MAX_BLOCK.as_ms());
        t.succeeded(A);
        assert_eq!(
            t.failed(A, at(now), 0),
            Verdict::Unauthorized,
            "success resets"
        );
        for _ in 0..FREE_FAILURES {
            t.failed(A, at(now), 0);
        }
        assert_eq!(
            t.failed(A, at(now), 1),
            Verdict::Unauthorized,
            "a reboot forgets"
        );
        assert_eq!(t.len(), 1, "only the new boot's source");
    }

    #[test]
    fn quiet_sources_are_forgotten_and_the_table_is_bounded() {
        let mut t = LoginThrottle::default();
        for _ in 0..FREE_FAILURES {
            t.failed(A, at(0), 0);
        }
        assert_eq!(
            t.failed(A, at(FORGET_AFTER.as_ms()), 0),
            Verdict::Unauthorized
        );
        for i in 0..(MAX_SOURCES as u32 + 100) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            t.failed(ip, at(i64::from(i)), 0);
        }
        assert_eq!(t.len(), MAX_SOURCES);
        assert!(!t.is_empty());
    }

    #[test]
    fn a_request_with_an_earlier_time_never_moves_a_source_back() {
        let mut t = LoginThrottle::default();
        for _ in 0..=FREE_FAILURES {
            t.failed(A, at(10_000), 0);
        }
        // Blocked until 11 000; a request that read the clock before the block began
        // still sees the block, with the time left counted from its own time.
        assert_eq!(t.failed(A, at(9_000), 0), blocked(2_000));
        assert_eq!(t.failed(A, at(11_000), 0), blocked(2_000));
    }
}
