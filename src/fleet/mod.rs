//! Fleet mode (`smart-connect-sim fleet`): thousands of virtual Smart Connects in one process
//! against a real MQTT broker, each with its own identity, client certificate and connection,
//! sending what a single device sends at its meter's cadence — for load-testing a broker and
//! the backend behind it. Shards (`--shard I/N`) split one fleet over processes or pods.
//!
//! ```text
//!  plan.rs   fleet seed + device index → serial, MAC, label password, meter kind, phase (pure)
//!  pki.rs    fleet seed → CA, broker certificate, one client certificate per device (rcgen)
//!  device.rs one task per device: meter → measurement → MQTT; commands; back-off; reboots
//!  wire.rs   the device's MQTT 3.1.1 connection (TCP/TLS, rumqttc's codec, no extra task)
//!  tap.rs    optional subscriber measuring publish → delivery latency
//!  stats.rs  counters, progress line, JSON summary
//! ```
//!
//! Everything runs on one tokio runtime: one task per device sleeping on the runtime's timer
//! wheel, not N copies of `run`. Connection attempts (first ones and reconnections) all take
//! a slot from one process-wide ramp (`--ramp N/s`), so a broker outage is followed by a
//! reconnect wave no steeper than the ramp; each device's own back-off (1 s doubling to 8 s,
//! up to 90 % jitter: spread over the back-off window) keeps retries from arriving together.
//!
//! Faults from the seed: `bad_clock_pct` % of devices have an unset clock (1970): they cannot
//! validate the broker certificate and never connect (MQ-06), retrying with back-off as a
//! real device does; `silent_pct` % of meters go silent for 30 s–5 min once during the run.

pub mod device;
pub mod launch;
pub mod limits;
pub mod pki;
pub mod plan;
pub mod stats;
pub mod tap;
pub mod wire;

use crate::device::mqtt_link::backoff::BackoffPolicy;
use crate::sim::clock::Millis;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The fleet devices' reconnect back-off: the device's bounds (1 s doubling to 8 s) with up
/// to 90 % of each delay taken off at random, so a fleet's retries spread over the window.
pub const BACKOFF: BackoffPolicy = BackoffPolicy {
    initial_ms: 1_000,
    max_ms: crate::device::mqtt_link::backoff::DEFAULT_MAX_MS,
    jitter_pct: 90,
};

/// Connection attempts paced over the whole process: a pacer adds `rate / 100` permits every
/// 10 ms (fractions carried over) without letting unused ones pile up, and each attempt takes
/// one, first come first served. So no second ever sees more than the rate plus one tick's
/// worth, however late a task wakes, and a device waiting for its turn keeps its place.
#[derive(Debug)]
pub struct Ramp {
    rate_per_s: u32,
    permits: tokio::sync::Semaphore,
}

/// The pacer's period.
const RAMP_TICK: std::time::Duration = std::time::Duration::from_millis(10);

impl Ramp {
    pub fn per_second(rate_per_s: u32) -> Ramp {
        Ramp {
            rate_per_s: rate_per_s.max(1),
            permits: tokio::sync::Semaphore::new(0),
        }
    }

    /// Most permits one tick adds.
    fn per_tick_max(&self) -> usize {
        (self.rate_per_s as usize).div_ceil(100)
    }

    /// Hand out permits until `stop`.
    pub async fn pace(&self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(RAMP_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut carry_hundredths = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            carry_hundredths += u64::from(self.rate_per_s);
            let due = usize::try_from(carry_hundredths / 100).unwrap_or(usize::MAX);
            carry_hundredths %= 100;
            let room = self
                .per_tick_max()
                .saturating_sub(self.permits.available_permits());
            self.permits.add_permits(due.min(room));
        }
    }

    /// Wait for this attempt's turn.
    pub async fn admit(&self) {
        if let Ok(p) = self.permits.acquire().await {
            p.forget();
        }
    }
}

/// What every device task of the process shares.
pub struct Shared {
    pub stats: std::sync::Arc<stats::FleetStats>,
    pub ramp: Ramp,
    pub site: String,
    /// Real instant and device time (UTC epoch ms) of the start.
    pub epoch: Instant,
    pub t0_ms: Millis,
    /// Device time runs this many times faster than real time.
    pub speed: u32,
    /// Real instant the run ends (far future: no `--duration`).
    pub end_real: Instant,
    pub stop: CancellationToken,
    /// Devices expected to connect (the bad-clock ones cannot).
    pub expected_connected: u64,
}

impl Shared {
    /// Device time now, UTC epoch ms.
    pub fn now_ms(&self) -> Millis {
        let real = Instant::now().saturating_duration_since(self.epoch);
        let dev_ms = real.as_millis().saturating_mul(u128::from(self.speed));
        self.t0_ms
            .saturating_add(Millis::try_from(dev_ms).unwrap_or(Millis::MAX / 2))
    }

    /// The real instant device time reaches `ms`.
    pub fn real_at(&self, ms: Millis) -> Instant {
        let dev = u64::try_from(ms.saturating_sub(self.t0_ms)).unwrap_or(0);
        let real_us = dev.saturating_mul(1000) / u64::from(self.speed.max(1));
        self.epoch + std::time::Duration::from_micros(real_us.min(u64::MAX / 4))
    }
}

/// An instant no run reaches (a run without `--duration`).
pub(crate) fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(100 * 365 * 86_400)
}
