//! The real-time side of `run`: keeps a host's device ticking at its deadlines, and puts
//! meter bytes on its input — from a synthetic meter at each telegram's instant, from a
//! capture file one frame per interval, or from a serial port or a TCP socket (ser2net-style)
//! as they come.
//! Time is the host's clock: the system clock (optionally faster) or, at `--speed max`, a
//! virtual clock that the meter feed advances as fast as the machine allows.

use super::host::Host;
use super::rig::FeedCounter;
use super::speed_clock::SpeedClock;
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
    /// The host's clock is this scaled wall clock (speed 1.0 = real time; it can change).
    RealTime(Arc<SpeedClock>),
    /// The host's clock is this virtual clock; the feed moves it without waiting.
    Max(VirtualClock),
}

impl Pace {
    /// Wait until the host's clock reads `t` (or move the virtual clock there).
    pub async fn until(&self, t: Millis) {
        match self {
            Pace::RealTime(clock) => clock.until(t).await,
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
        pace.until(next).await;
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
            pace.until(until.unwrap_or(t)).await;
            host.handle(Event::Tick);
            return;
        }
        pace.until(t).await;
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
        pace.until(t).await;
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
            FrameEvent::Frame(f) => f.offset + f.bytes().len(),
            FrameEvent::Error(e) => e.offset.max(pos),
        }
        .min(bytes.len());
        if end <= pos {
            continue;
        }
        pace.until(t).await;
        host.handle(Event::SerialBytes(bytes[pos..end].to_vec()));
        pos = end;
        t += interval_ms;
    }
    if pos < bytes.len() {
        host.handle(Event::SerialBytes(bytes[pos..].to_vec()));
    }
}

/// Forward bytes from a TCP socket (a serial-to-TCP bridge, or a conformance harness's meter
/// line) to the input as they arrive. Connects again (every 200 ms) until the other side
/// listens, and again after it closes; `counter` counts the bytes of each connection.
pub async fn feed_tcp(host: Arc<Host>, addr: String, counter: FeedCounter) -> std::io::Result<()> {
    let mut waiting_logged = false;
    loop {
        match tokio::net::TcpStream::connect(&addr).await {
            // Connecting to a local port nobody listens on can connect the socket to itself
            // (TCP simultaneous open on the same ephemeral port); that is not the meter line.
            Ok(stream) if stream.local_addr().ok() == stream.peer_addr().ok() => drop(stream),
            Ok(mut stream) => {
                stream.set_nodelay(true).ok();
                tracing::info!("meter feed: connected to {addr}");
                waiting_logged = false;
                counter.reset();
                if let Err(e) =
                    feed_reader(Arc::clone(&host), &mut stream, &addr, Some(&counter)).await
                {
                    tracing::warn!("meter feed {addr}: {e}");
                }
            }
            Err(e) if !waiting_logged => {
                tracing::info!("meter feed: waiting for {addr} ({e})");
                waiting_logged = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Serial line settings for a meter input: DSMR 4+/SMR5 115200 8N1, TIC standard 9600 7E1,
/// TIC historic 1200 7E1 (the framer strips the parity bit either way).
pub fn serial_settings(
    kind: crate::protocol::MeterKind,
) -> (u32, tokio_serial::DataBits, tokio_serial::Parity) {
    use crate::protocol::MeterKind;
    use tokio_serial::{DataBits, Parity};
    match kind {
        MeterKind::Dsmr(_) => (115_200, DataBits::Eight, Parity::None),
        MeterKind::Tic(k) if k.is_standard() => (9_600, DataBits::Seven, Parity::Even),
        MeterKind::Tic(_) => (1_200, DataBits::Seven, Parity::Even),
    }
}

/// Read a meter from a serial port (a P1 cable on a USB adapter, a TIC interface) and put
/// the bytes on the device's input as they arrive.
pub async fn feed_serial(
    host: Arc<Host>,
    path: String,
    kind: crate::protocol::MeterKind,
) -> std::io::Result<()> {
    use tokio_serial::SerialPortBuilderExt;
    let (baud, bits, parity) = serial_settings(kind);
    let mut port = tokio_serial::new(&path, baud)
        .data_bits(bits)
        .parity(parity)
        .open_native_async()
        .map_err(|e| std::io::Error::other(format!("{path}: {e}")))?;
    tracing::info!("meter feed: reading {path} at {baud} Bd");
    feed_reader(host, &mut port, &path, None).await
}

/// Forward everything `r` yields to the device's input until end of stream.
async fn feed_reader(
    host: Arc<Host>,
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    name: &str,
    counter: Option<&FeedCounter>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            tracing::warn!("meter feed: {name} closed");
            return Ok(());
        }
        host.handle(Event::SerialBytes(buf[..n].to_vec()));
        if let Some(c) = counter {
            c.add(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceConfig;
    use crate::protocol::dsmr::{self, DsmrKind};
    use crate::protocol::{MeterKind, Protocol, Reading};
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_serial_port_feeds_the_device() {
        // A pseudo-terminal pair stands in for the P1 cable: the test writes the master side,
        // the feed reads the slave side by its path, as it would /dev/ttyUSB0.
        let (mut master, slave) = tokio_serial::SerialStream::pair().expect("a pty pair");
        let path = tokio_serial::SerialPort::name(&slave).expect("the pty has a path");
        drop(slave);
        let (host, _clock) =
            Host::running_virtual(DeviceConfig::new(crate::device::Variant::P1), 0);
        let feed = tokio::spawn(feed_serial(
            Arc::clone(&host),
            path,
            MeterKind::Dsmr(DsmrKind::Smr5ThreePhase),
        ));
        let mut r = Reading::empty(Protocol::Dsmr);
        r.power_import_w = Some(1234.0);
        r.power_export_w = Some(0.0);
        let mut effects = host.effects();
        // The feed opens the port asynchronously; bytes written before that may be lost, so
        // write until the device has accepted one telegram (bounded).
        let accepted = async {
            loop {
                master
                    .write_all(&dsmr::encode(&r, DsmrKind::Smr5ThreePhase))
                    .await
                    .unwrap();
                while let Ok(Ok(e)) =
                    tokio::time::timeout(std::time::Duration::from_millis(200), effects.recv())
                        .await
                {
                    if matches!(*e, crate::device::Effect::RegistersChanged(v) if v.active_power_w == 1234.0)
                    {
                        return;
                    }
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), accepted)
            .await
            .expect("the device read the serial port");
        feed.abort();
    }

    #[test]
    fn line_settings_per_meter() {
        use tokio_serial::{DataBits, Parity};
        assert_eq!(
            serial_settings(MeterKind::from_name("smr5").unwrap()),
            (115_200, DataBits::Eight, Parity::None)
        );
        assert_eq!(
            serial_settings(MeterKind::from_name("tic-standard").unwrap()),
            (9_600, DataBits::Seven, Parity::Even)
        );
        assert_eq!(
            serial_settings(MeterKind::from_name("tic-historic").unwrap()),
            (1_200, DataBits::Seven, Parity::Even)
        );
    }
}
