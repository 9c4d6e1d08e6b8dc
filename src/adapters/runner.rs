//! The real-time side of `run`: keeps a host's device ticking at its deadlines, and puts
//! meter bytes on its input — from a synthetic meter at each telegram's instant, from a
//! capture file one frame per interval, or from a TCP socket (ser2net-style) as they come.
//! Time is the host's clock: the system clock (optionally faster) or, at `--speed max`, a
//! virtual clock that the meter feed advances as fast as the machine allows.

use super::host::Host;
use crate::device::Event;
use crate::protocol::framer::{frame_all, Event as FrameEvent, FramerMode};
use crate::sim::clock::{Millis, VirtualClock};
use crate::sim::faults::FaultyMeter;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How time passes for a running device.
#[derive(Debug, Clone)]
pub enum Pace {
    /// The host's clock is a system clock running at this speed (1.0 = real time).
    RealTime { speed: f64 },
    /// The host's clock is this virtual clock; the feed moves it without waiting.
    Max(VirtualClock),
}

impl Pace {
    /// Wait until the host's clock reads `t` (or move the virtual clock there).
    pub async fn until(&self, host: &Host, t: Millis) {
        match self {
            Pace::RealTime { speed } => {
                let ahead = t - host.now();
                if ahead > 0 {
                    tokio::time::sleep(Duration::from_secs_f64(
                        ahead as f64 / 1000.0 / speed.max(1e-6),
                    ))
                    .await;
                }
            }
            Pace::Max(clock) => {
                clock.advance_to(t);
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Tick the device at its deadlines, and at least once a second so adapters see time pass.
pub async fn tick_loop(host: Arc<Host>, pace: Pace) {
    loop {
        let now = host.now();
        let next = host
            .next_deadline()
            .unwrap_or(now + 1000)
            .clamp(now + 1, now + 1000);
        pace.until(&host, next).await;
        host.handle(Event::Tick);
    }
}

/// Put a synthetic meter's telegrams on the input at their instants, until `until`.
pub async fn feed_meter(
    host: Arc<Host>,
    mut meter: FaultyMeter,
    pace: Pace,
    until: Option<Millis>,
) {
    loop {
        let t = meter.next_at();
        if until.is_some_and(|u| t > u) {
            pace.until(&host, until.unwrap_or(t)).await;
            host.handle(Event::Tick);
            return;
        }
        pace.until(&host, t).await;
        let tel = meter.next();
        if !tel.bytes.is_empty() {
            host.handle(Event::SerialBytes(tel.bytes));
        }
    }
}

/// Wait (in device time) until the device has booted, so a replayed capture is not lost.
pub async fn until_running(host: &Host, pace: &Pace) {
    while !host.with_device(|d| d.running()) {
        let t = host.now() + 100;
        pace.until(host, t).await;
        host.handle(Event::Tick);
    }
}

/// Replay a capture once the device runs: every frame (and any bytes between frames) in
/// order, one frame per `interval_ms`.
pub async fn feed_file(host: Arc<Host>, bytes: Vec<u8>, pace: Pace, interval_ms: Millis) {
    until_running(&host, &pace).await;
    let mut t = host.now();
    let mut pos = 0;
    for ev in frame_all(&bytes, FramerMode::Auto) {
        let end = match ev {
            FrameEvent::Frame(f) => f.offset + f.bytes.len(),
            FrameEvent::Error(e) => e.offset.max(pos),
        }
        .min(bytes.len());
        if end <= pos {
            continue;
        }
        pace.until(&host, t).await;
        host.handle(Event::SerialBytes(bytes[pos..end].to_vec()));
        pos = end;
        t += interval_ms;
    }
    if pos < bytes.len() {
        host.handle(Event::SerialBytes(bytes[pos..].to_vec()));
    }
}

/// Forward bytes from a TCP socket (a serial-to-TCP bridge) to the input as they arrive.
pub async fn feed_tcp(host: Arc<Host>, addr: String) -> std::io::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(&addr).await?;
    tracing::info!("meter feed: connected to {addr}");
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            tracing::warn!("meter feed: {addr} closed the connection");
            return Ok(());
        }
        host.handle(Event::SerialBytes(buf[..n].to_vec()));
    }
}
