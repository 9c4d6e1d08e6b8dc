//! Bounded exponential reconnect back-off with jitter (MQ-16). Pure: delays in device
//! milliseconds, jitter from a `ChaCha8Rng` seed so a run is reproducible.
//!
//! The n-th delay after the last success (n = 0, 1, …) is `base = min(initial · 2ⁿ, max)`
//! minus a random part of at most `jitter_pct` % of `base`: with the defaults 0.8–1 s,
//! 1.6–2 s, 3.2–4 s, then 6.4–8 s for every further attempt. The jitter only shortens a
//! delay, so `max` is a hard bound; it spreads the reconnects of a fleet that lost its broker
//! at one instant.
//!
//! Why 8 s and not minutes: a broker that comes back is found within 8 s of device time
//! (plus one connection attempt), so a one-minute outage costs about a minute of data delay,
//! not two (with a 60 s cap the device reconnected ~53 s after the broker returned, and the
//! longer gap overflowed the queue). One attempt every 8 s is one TCP (+ TLS) handshake
//! per device — negligible for a broker, even for a fleet (the jitter spreads them).

/// Device milliseconds (the same unit as `crate::time::Duration::as_ms`).
pub type Millis = i64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The default longest delay between two attempts (jitter included), ms.
pub const DEFAULT_MAX_MS: Millis = 8_000;

/// The shape of the back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The first delay (before jitter), ms.
    pub initial_ms: Millis,
    /// No delay is longer than this, ms.
    pub max_ms: Millis,
    /// At most this share of a delay (percent, 0..=100) is taken off at random.
    pub jitter_pct: u8,
}

impl Default for BackoffPolicy {
    /// 1 s doubling to 8 s, 20 % jitter: a returning broker is found within 8 s.
    fn default() -> Self {
        BackoffPolicy {
            initial_ms: 1_000,
            max_ms: DEFAULT_MAX_MS,
            jitter_pct: 20,
        }
    }
}

impl BackoffPolicy {
    /// The delay before jitter for failure number `n` (0-based) since the last success.
    pub fn base(&self, n: u32) -> Millis {
        let initial = self.initial_ms.max(1);
        let max = self.max_ms.max(initial);
        initial.saturating_mul(1i64 << n.min(40)).min(max)
    }

    /// The range every delay for failure `n` falls in: `[base − jitter, base]`.
    pub fn bounds(&self, n: u32) -> (Millis, Millis) {
        let base = self.base(n);
        (base.saturating_sub(self.spread(base)), base)
    }

    fn spread(&self, base: Millis) -> Millis {
        base.saturating_mul(Millis::from(self.jitter_pct.min(100))) / 100
    }
}

/// The back-off state of one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    rng: ChaCha8Rng,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy, seed: u64) -> Self {
        Backoff {
            policy,
            failures: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn policy(&self) -> BackoffPolicy {
        self.policy
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A connection attempt failed: how long to wait before the next one.
    pub fn next_delay(&mut self) -> Millis {
        let base = self.policy.base(self.failures);
        self.failures = self.failures.saturating_add(1);
        let spread = self.policy.spread(base);
        base.saturating_sub(if spread > 0 {
            self.rng.random_range(0..=spread)
        } else {
            0
        })
    }

    /// A connection succeeded: the next failure waits the initial delay again. The random
    /// sequence goes on (it is not replayed).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_the_eight_second_cap_within_the_jitter() {
        let p = BackoffPolicy::default();
        let mut b = Backoff::new(p, 7);
        let delays: Vec<Millis> = (0..12).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let (lo, hi) = p.bounds(n as u32);
            assert!((lo..=hi).contains(d), "delay {n} = {d} not in {lo}..={hi}");
        }
        assert_eq!(p.bounds(0), (800, 1_000));
        assert_eq!(p.bounds(1), (1_600, 2_000));
        assert_eq!(p.bounds(2), (3_200, 4_000));
        assert_eq!(p.bounds(3), (6_400, 8_000), "capped at 8 s");
        assert_eq!(p.bounds(6), (6_400, 8_000), "capped at 8 s");
        assert_eq!(
            p.bounds(1_000),
            (6_400, 8_000),
            "no overflow however many failures"
        );
        assert!(delays.iter().all(|&d| d <= 8_000), "{delays:?}");
        assert!(
            delays.windows(2).take(3).all(|w| w[1] > w[0]),
            "grows while below the cap: {delays:?}"
        );
        // A returning broker is found within 10 s whatever the failure count: the longest
        // wait between two attempts, jitter included, is the cap.
        assert!((0..64).all(|n| p.bounds(n).1 <= 8_000));
    }

    #[test]
    fn the_same_seed_gives_the_same_delays_and_another_seed_differs() {
        let run = |seed| {
            let mut b = Backoff::new(BackoffPolicy::default(), seed);
            (0..10).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn reset_starts_over_from_the_initial_delay() {
        let mut b = Backoff::new(BackoffPolicy::default(), 1);
        for _ in 0..8 {
            b.next_delay();
        }
        assert_eq!(b.failures(), 8);
        b.reset();
        assert_eq!(b.failures(), 0);
        assert!((800..=1_000).contains(&b.next_delay()));
    }

    #[test]
    fn no_jitter_gives_exact_powers_of_two_and_odd_policies_stay_sane() {
        let p = BackoffPolicy {
            initial_ms: 250,
            max_ms: 1_000,
            jitter_pct: 0,
        };
        let mut b = Backoff::new(p, 0);
        let d: Vec<Millis> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(d, [250, 500, 1_000, 1_000, 1_000]);
        // max below initial: the initial delay is the bound; zero initial counts as 1 ms.
        assert_eq!(
            BackoffPolicy {
                initial_ms: 5_000,
                max_ms: 10,
                jitter_pct: 0
            }
            .base(3),
            5_000
        );
        assert_eq!(
            BackoffPolicy {
                initial_ms: 0,
                max_ms: 4,
                jitter_pct: 0
            }
            .base(9),
            4
        );
        // 100 % jitter may give 0 but never more than the base.
        let mut full = Backoff::new(
            BackoffPolicy {
                initial_ms: 10,
                max_ms: 10,
                jitter_pct: 100,
            },
            3,
        );
        assert!((0..50)
            .map(|_| full.next_delay())
            .all(|d| (0..=10).contains(&d)));
    }
}
