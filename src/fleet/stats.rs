//! The fleet's numbers: counters every device task bumps (atomics, no lock on the publish
//! path), the latency samples of the subscriber tap, and the snapshot printed as progress
//! and written as the JSON summary (`--summary FILE`). Process CPU time and resident memory
//! come from `/proc/self` (Linux; `null` elsewhere).

use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

/// Latency samples kept at most (a reservoir beyond that: every k-th sample).
const MAX_SAMPLES: usize = 2_000_000;

/// Seconds of connection-attempt counts kept (a day; later attempts count in the last).
const ATTEMPT_SECONDS: usize = 86_400;

/// Counters shared by every device of this process.
#[derive(Debug)]
pub struct FleetStats {
    started: Instant,
    pub devices: u64,
    pub connected: AtomicI64,
    /// Successful connections (first ones and reconnections).
    pub connects: AtomicU64,
    /// Successful connections after a device's first.
    pub reconnects: AtomicU64,
    /// Connection attempts that failed (dial, TLS, CONNACK, timeout).
    pub failed: AtomicU64,
    /// Of those: the device's clock made the broker certificate invalid (MQ-06).
    pub clock_refused: AtomicU64,
    /// Connections lost after they were up.
    pub lost: AtomicU64,
    /// Measurements written to the broker.
    pub sent: AtomicU64,
    /// Measurements dropped from a full queue while disconnected (oldest first).
    pub dropped: AtomicU64,
    /// Telegrams a silent meter did not send.
    pub silent: AtomicU64,
    pub commands: AtomicU64,
    pub reboots: AtomicU64,
    /// Devices connected at least once, and when the last of them first connected (ms
    /// after start; 0: not yet).
    pub ever_connected: AtomicU64,
    /// Devices given an unset clock / a silent meter by the seed (set at start).
    pub bad_clock_devices: AtomicU64,
    pub silent_devices: AtomicU64,
    pub all_connected_ms: AtomicU64,
    /// Connection attempts started in each second after the start (the ramp's check).
    attempts_by_s: Vec<std::sync::atomic::AtomicU32>,
    /// When each device last wrote a measurement: µs after start (for the tap).
    last_publish_us: Vec<AtomicU64>,
    latency_us: Mutex<Samples>,
    /// Why connections failed or were lost: text → count.
    errors: Mutex<std::collections::BTreeMap<String, u64>>,
}

#[derive(Debug, Default)]
struct Samples {
    kept: Vec<u32>,
    seen: u64,
    /// Since the last [`FleetStats::take_window`]: the latency now, not since the start.
    window: Vec<u32>,
}

/// Distinct failure texts counted at most (more are counted under "other").
const MAX_ERROR_KINDS: usize = 16;

impl FleetStats {
    pub fn new(devices: u64) -> Self {
        FleetStats {
            started: Instant::now(),
            devices,
            connected: AtomicI64::new(0),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            clock_refused: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            silent: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            reboots: AtomicU64::new(0),
            ever_connected: AtomicU64::new(0),
            bad_clock_devices: AtomicU64::new(0),
            silent_devices: AtomicU64::new(0),
            all_connected_ms: AtomicU64::new(0),
            attempts_by_s: (0..ATTEMPT_SECONDS)
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            last_publish_us: (0..devices).map(|_| AtomicU64::new(0)).collect(),
            latency_us: Mutex::new(Samples::default()),
            errors: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    fn since_start_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Device `slot` (its place in this shard) connected; `first`: for the first time.
    pub fn connected(&self, first: bool, expected: u64) {
        self.connects.fetch_add(1, Relaxed);
        self.connected.fetch_add(1, Relaxed);
        if !first {
            self.reconnects.fetch_add(1, Relaxed);
            return;
        }
        if self.ever_connected.fetch_add(1, Relaxed) + 1 == expected {
            let ms = self.started.elapsed().as_millis();
            self.all_connected_ms
                .store(u64::try_from(ms).unwrap_or(u64::MAX).max(1), Relaxed);
        }
    }

    /// A connection attempt starts now.
    pub fn attempt(&self) {
        let s = usize::try_from(self.started.elapsed().as_secs()).unwrap_or(usize::MAX);
        if let Some(b) = self.attempts_by_s.get(s.min(ATTEMPT_SECONDS - 1)) {
            b.fetch_add(1, Relaxed);
        }
    }

    /// The most connection attempts started within one second (from second `from_s` on).
    pub fn max_attempts_per_s(&self, from_s: u64) -> u32 {
        let from = usize::try_from(from_s).unwrap_or(usize::MAX);
        self.attempts_by_s
            .iter()
            .skip(from)
            .map(|b| b.load(Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Device `slot` hands a measurement to its connection now (noted before the write, so
    /// the tap never sees a message before its time is here).
    pub fn publishing(&self, slot: usize) {
        if let Some(t) = self.last_publish_us.get(slot) {
            t.store(self.since_start_us(), Relaxed);
        }
    }

    /// A measurement was written.
    pub fn published(&self) {
        self.sent.fetch_add(1, Relaxed);
    }

    /// The tap received device `slot`'s measurement now.
    pub fn received(&self, slot: usize) {
        let Some(sent) = self.last_publish_us.get(slot).map(|t| t.load(Relaxed)) else {
            return;
        };
        if sent == 0 {
            return;
        }
        let us = self.since_start_us().saturating_sub(sent);
        let mut s = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
        s.seen += 1;
        let v = u32::try_from(us).unwrap_or(u32::MAX);
        if s.kept.len() < MAX_SAMPLES {
            s.kept.push(v);
        } else {
            let i = (s.seen % MAX_SAMPLES as u64) as usize;
            s.kept[i] = v;
        }
        if s.window.len() < MAX_SAMPLES {
            s.window.push(v);
        }
    }

    /// A connection failed or broke because of `why` (counted by its text).
    pub fn error(&self, why: &str) {
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        let key = if e.len() < MAX_ERROR_KINDS || e.contains_key(why) {
            why.to_string()
        } else {
            "other".to_string()
        };
        *e.entry(key).or_default() += 1;
    }

    /// Latency p50 and p99 (ms) of the samples since the last call, and how many there were;
    /// starts the next window.
    pub fn take_window(&self) -> (Option<f64>, Option<f64>, usize) {
        let mut v = {
            let mut s = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut s.window)
        };
        v.sort_unstable();
        (quantile(&v, 0.5), quantile(&v, 0.99), v.len())
    }

    /// The numbers now.
    pub fn snapshot(&self) -> Snapshot {
        let (p50, p99, samples) = {
            let s = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
            let mut v = s.kept.clone();
            v.sort_unstable();
            (quantile(&v, 0.50), quantile(&v, 0.99), s.seen)
        };
        let all = self.all_connected_ms.load(Relaxed);
        let (cpu_s, rss_kb) = proc_self();
        let elapsed_s = self.started.elapsed().as_secs_f64();
        Snapshot {
            elapsed_s,
            devices: self.devices,
            connected: self.connected.load(Relaxed).max(0) as u64,
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            failed: self.failed.load(Relaxed),
            clock_refused: self.clock_refused.load(Relaxed),
            lost: self.lost.load(Relaxed),
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            silent: self.silent.load(Relaxed),
            commands: self.commands.load(Relaxed),
            reboots: self.reboots.load(Relaxed),
            all_connected_s: (all > 0).then(|| all as f64 / 1000.0),
            bad_clock_devices: self.bad_clock_devices.load(Relaxed),
            silent_devices: self.silent_devices.load(Relaxed),
            max_attempts_per_s: self.max_attempts_per_s(0),
            latency_samples: samples,
            latency_p50_ms: p50,
            latency_p99_ms: p99,
            recent_p50_ms: None,
            recent_p99_ms: None,
            cpu_s,
            rss_kb,
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// The `f` quantile of sorted µs samples, in ms.
fn quantile(sorted_us: &[u32], f: f64) -> Option<f64> {
    (!sorted_us.is_empty()).then(|| {
        let i = ((sorted_us.len() as f64 - 1.0) * f).round() as usize;
        f64::from(sorted_us[i]) / 1000.0
    })
}

/// What `--summary` writes and the progress line shows.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Snapshot {
    pub elapsed_s: f64,
    pub devices: u64,
    pub connected: u64,
    pub connects: u64,
    pub reconnects: u64,
    pub failed: u64,
    pub clock_refused: u64,
    pub lost: u64,
    pub sent: u64,
    pub dropped: u64,
    pub silent: u64,
    pub commands: u64,
    pub reboots: u64,
    /// Seconds from start until every device (but the bad-clock ones) had connected.
    pub all_connected_s: Option<f64>,
    /// Devices with an unset clock (they cannot connect) and meters that go silent once.
    pub bad_clock_devices: u64,
    pub silent_devices: u64,
    /// The most connection attempts (first connects and reconnects) started in one second.
    pub max_attempts_per_s: u32,
    pub latency_samples: u64,
    /// Publish → tap delivery, ms (with `--tap`).
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// The same since the previous progress line (progress lines only).
    #[serde(skip)]
    pub recent_p50_ms: Option<f64>,
    #[serde(skip)]
    pub recent_p99_ms: Option<f64>,
    /// This process's CPU time so far (user + system), s.
    pub cpu_s: Option<f64>,
    /// Resident memory now, KiB.
    pub rss_kb: Option<u64>,
    /// Why connection attempts failed or connections broke: message → count.
    pub errors: std::collections::BTreeMap<String, u64>,
}

impl Snapshot {
    /// The numbers at the start (for rates over the whole run).
    pub fn origin() -> Snapshot {
        Snapshot {
            cpu_s: Some(0.0),
            ..Snapshot::default()
        }
    }

    /// One progress line: `earlier` is the previous snapshot (for rates).
    pub fn line(&self, earlier: &Snapshot) -> String {
        let dt = (self.elapsed_s - earlier.elapsed_s).max(1e-3);
        let rate = self.sent.saturating_sub(earlier.sent) as f64 / dt;
        let cpu = match (self.cpu_s, earlier.cpu_s) {
            (Some(a), Some(b)) => format!("{:.2} cores", (a - b) / dt),
            _ => "cpu ?".into(),
        };
        let lat = match (
            self.recent_p50_ms.or(self.latency_p50_ms),
            self.recent_p99_ms.or(self.latency_p99_ms),
        ) {
            (Some(a), Some(b)) => format!(" latency p50 {a:.1} ms p99 {b:.1} ms"),
            _ => String::new(),
        };
        format!(
            "[{:>6.0} s] connected {}/{} · {:.0} msg/s · reconnects {} · failed {} · drops {} · {cpu} · rss {} MiB{lat}",
            self.elapsed_s,
            self.connected,
            self.devices,
            rate,
            self.reconnects,
            self.failed,
            self.dropped,
            self.rss_kb.unwrap_or(0) / 1024,
        )
    }
}

/// (CPU seconds user+system, resident KiB) of this process, from `/proc/self`.
fn proc_self() -> (Option<f64>, Option<u64>) {
    process_usage("self")
}

/// (CPU seconds user+system, resident KiB) of process `pid` (`self`: this one), from
/// `/proc/<pid>/stat` and `/proc/<pid>/status` (Linux; `None` elsewhere). Clock ticks are
/// taken as 100 a second (`USER_HZ` on Linux).
pub fn process_usage(pid: &str) -> (Option<f64>, Option<u64>) {
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name's closing parenthesis; utime and stime are the
            // 14th and 15th fields of the line (12th and 13th after it).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        });
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        });
    (cpu, rss)
}
