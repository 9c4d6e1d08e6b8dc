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
    pub all_connected_ms: AtomicU64,
    /// When each device last wrote a measurement: µs after start (for the tap).
    last_publish_us: Vec<AtomicU64>,
    latency_us: Mutex<Samples>,
}

#[derive(Debug, Default)]
struct Samples {
    kept: Vec<u32>,
    seen: u64,
}

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
            all_connected_ms: AtomicU64::new(0),
            last_publish_us: (0..devices).map(|_| AtomicU64::new(0)).collect(),
            latency_us: Mutex::new(Samples::default()),
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

    /// Device `slot` wrote a measurement now.
    pub fn published(&self, slot: usize) {
        self.sent.fetch_add(1, Relaxed);
        if let Some(t) = self.last_publish_us.get(slot) {
            t.store(self.since_start_us(), Relaxed);
        }
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
    }

    /// The numbers now.
    pub fn snapshot(&self) -> Snapshot {
        let (p50, p99, samples) = {
            let s = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
            let mut v = s.kept.clone();
            v.sort_unstable();
            let q = |f: f64| {
                (!v.is_empty()).then(|| {
                    let i = ((v.len() as f64 - 1.0) * f).round() as usize;
                    f64::from(v[i]) / 1000.0
                })
            };
            (q(0.50), q(0.99), s.seen)
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
            latency_samples: samples,
            latency_p50_ms: p50,
            latency_p99_ms: p99,
            cpu_s,
            rss_kb,
        }
    }
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
    pub latency_samples: u64,
    /// Publish → tap delivery, ms (with `--tap`).
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// This process's CPU time so far (user + system), s.
    pub cpu_s: Option<f64>,
    /// Resident memory now, KiB.
    pub rss_kb: Option<u64>,
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
        let lat = match (self.latency_p50_ms, self.latency_p99_ms) {
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
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name's closing parenthesis; utime and stime are the
            // 14th and 15th fields of the line (12th and 13th after it).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        });
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        });
    (cpu, rss)
}
