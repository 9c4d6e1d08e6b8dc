//! One virtual device of the fleet: its meter, its MQTT connection and the device behaviour
//! the broker sees — one measurement per telegram on `…/data/measurements` (QoS 0, the payload
//! of `device::measurement`, exactly as a single device), commands on `…/cmd/+` answered on
//! `…/data/events` (`cmd/reset` reboots, `cmd/firmware-update` runs the firmware state
//! machine and reboots into the new version), a bounded drop-oldest queue while disconnected
//! (`DEFAULT_QUEUE`, emptied by a reboot: it is RAM), and reconnection with a jittered,
//! bounded back-off in device time, each attempt paced by the fleet's connect ramp.
//!
//! One tokio task per device and no other: the task sleeps on the runtime's one timer wheel
//! until the next telegram, ping, attempt or the end, and reads its socket in the same
//! `select!`. Device time runs `speed` times faster than real time from the fleet's start.

use super::wire::{self, Dialer, Stream, WireError};
use super::Shared;
use crate::device::firmware::Firmware;
use crate::device::mqtt_link::backoff::Backoff;
use crate::device::mqtt_link::payload::{parse_command, Command, CommandResult};
use crate::device::mqtt_link::queue::DropOldest;
use crate::device::mqtt_link::DEFAULT_QUEUE;
use crate::device::{measurement, BOOT_MS, FACTORY_FIRMWARE};
use crate::sim::clock::Millis;
use crate::sim::generator::SyntheticMeter;
use crate::time::Instant as DevInstant;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::bytes::BytesMut;

/// Real-time limit for dial + TLS + CONNACK.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How a connection ended.
enum Outcome {
    /// The run is over (DISCONNECT sent).
    End,
    /// The connection broke.
    Lost(WireError),
    /// The device reboots (reset command or new firmware): offline for the boot time.
    Reboot,
}

/// Everything one device keeps.
pub struct FleetDevice {
    /// Place in this shard (index into the stats' per-device arrays).
    pub slot: usize,
    pub serial: String,
    pub meter: SyntheticMeter,
    pub dialer: Dialer,
    pub measurements_topic: String,
    pub events_topic: String,
    pub command_filter: String,
    pub queue: DropOldest<Vec<u8>>,
    pub firmware: Firmware,
    pub backoff: Backoff,
    /// Device-time window in which the meter sends nothing (the silent-meter fault).
    pub silent: Option<(Millis, Millis)>,
    /// Connected at least once.
    pub ever: bool,
    /// Booting until this device time: telegrams before it are not read.
    pub booting_until: Millis,
}

impl FleetDevice {
    pub fn new(
        slot: usize,
        serial: String,
        meter: SyntheticMeter,
        dialer: Dialer,
        site: &str,
        seed: u64,
    ) -> Self {
        FleetDevice {
            slot,
            measurements_topic: measurement::measurements_topic(site, &serial),
            events_topic: measurement::events_topic(site, &serial),
            command_filter: measurement::command_filter(site, &serial),
            serial,
            meter,
            dialer,
            queue: DropOldest::new(DEFAULT_QUEUE),
            firmware: Firmware::new(FACTORY_FIRMWARE, crate::device::firmware::default_images()),
            backoff: Backoff::new(super::BACKOFF, seed),
            silent: None,
            ever: false,
            booting_until: Millis::MIN,
        }
    }

    /// Run until the fleet's end (or its stop).
    pub async fn run(mut self, sh: Arc<Shared>) {
        let mut attempt_at = sh.now_ms();
        loop {
            if !self.idle_until(&sh, sh.real_at(attempt_at)).await {
                return;
            }
            if !self.wait_turn(&sh).await {
                return;
            }
            sh.stats.attempt();
            let result = tokio::time::timeout(CONNECT_TIMEOUT, wire::connect(&self.dialer)).await;
            let result = result.unwrap_or(Err(WireError::Timeout(CONNECT_TIMEOUT)));
            match result {
                Ok((stream, buf)) => {
                    self.backoff.reset();
                    sh.stats.connected(!self.ever, sh.expected_connected);
                    self.ever = true;
                    let outcome = self.session(&sh, stream, buf).await;
                    sh.stats.connected.fetch_sub(1, Relaxed);
                    match outcome {
                        Outcome::End => return,
                        Outcome::Lost(e) => {
                            sh.stats.lost.fetch_add(1, Relaxed);
                            sh.stats.error(&format!("connection lost: {}", e.kind()));
                            attempt_at = sh.now_ms() + self.backoff.next_delay();
                        }
                        Outcome::Reboot => {
                            sh.stats.reboots.fetch_add(1, Relaxed);
                            // The queue is RAM: a reboot empties it.
                            while self.queue.pop().is_some() {}
                            self.booting_until = sh.now_ms() + BOOT_MS.as_ms();
                            attempt_at = self.booting_until;
                        }
                    }
                }
                Err(e) => {
                    sh.stats.failed.fetch_add(1, Relaxed);
                    sh.stats.error(&e.kind());
                    if e.is_clock() {
                        sh.stats.clock_refused.fetch_add(1, Relaxed);
                    }
                    attempt_at = sh.now_ms() + self.backoff.next_delay();
                }
            }
        }
    }

    /// Read telegrams into the queue until real time `until`; `false` when the run ended.
    async fn idle_until(&mut self, sh: &Shared, until: Instant) -> bool {
        loop {
            let due = sh.real_at(self.meter.next_at());
            let wake = due.min(until).min(sh.end_real);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = sh.stop.cancelled() => return false,
            }
            let now = Instant::now();
            if now >= sh.end_real {
                return false;
            }
            self.read_due(sh, now);
            if now >= until {
                return true;
            }
        }
    }

    /// Wait for the ramp's permit, reading telegrams meanwhile; `false` when the run ended.
    async fn wait_turn(&mut self, sh: &Shared) -> bool {
        let admit = sh.ramp.admit();
        tokio::pin!(admit);
        loop {
            let due = sh.real_at(self.meter.next_at());
            tokio::select! {
                _ = &mut admit => return true,
                _ = tokio::time::sleep_until(due.min(sh.end_real)) => {}
                _ = sh.stop.cancelled() => return false,
            }
            let now = Instant::now();
            if now >= sh.end_real {
                return false;
            }
            self.read_due(sh, now);
        }
    }

    /// Queue the measurements of the telegrams due by `now`.
    fn read_due(&mut self, sh: &Shared, now: Instant) {
        while sh.real_at(self.meter.next_at()) <= now {
            if let Some(p) = self.telegram(sh) {
                if self.queue.push(p).is_some() {
                    sh.stats.dropped.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// The next telegram's measurement payload, or `None` while the meter is silent or the
    /// device boots.
    fn telegram(&mut self, sh: &Shared) -> Option<Vec<u8>> {
        let (at, reading) = self.meter.next_reading();
        if at < self.booting_until {
            return None;
        }
        if self
            .silent
            .is_some_and(|(from, to)| (from..to).contains(&at))
        {
            sh.stats.silent.fetch_add(1, Relaxed);
            return None;
        }
        let now = DevInstant::from_epoch_ms(at);
        Some(measurement::payload(&reading, &self.serial, &sh.site, now))
    }

    /// One connection, until it ends.
    async fn session(&mut self, sh: &Shared, mut stream: Stream, buf: BytesMut) -> Outcome {
        match self.connected(sh, &mut stream, buf).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Lost(e),
        }
    }

    async fn connected(
        &mut self,
        sh: &Shared,
        stream: &mut Stream,
        mut buf: BytesMut,
    ) -> Result<Outcome, WireError> {
        let mut pkid: u16 = 1;
        let mut sub = Subscribe::new(&self.command_filter, QoS::AtLeastOnce);
        sub.pkid = pkid;
        wire::write(stream, &Packet::Subscribe(sub)).await?;
        while let Some(p) = self.queue.pop() {
            sh.stats.publishing(self.slot);
            let sent = publish(
                stream,
                &self.measurements_topic,
                p.clone(),
                QoS::AtMostOnce,
                0,
            );
            if let Err(e) = sent.await {
                self.queue.push_front(p);
                return Err(e);
            }
            sh.stats.published();
        }
        let keep_alive = std::time::Duration::from_secs(u64::from(self.dialer.keep_alive_s.max(1)));
        let mut last_write = Instant::now();
        loop {
            let due = sh.real_at(self.meter.next_at());
            let ping_at = last_write + keep_alive / 2;
            let wake = due.min(ping_at).min(sh.end_real);
            let read = tokio::select! {
                r = wire::fill(stream, &mut buf) => Some(r),
                _ = tokio::time::sleep_until(wake) => None,
                _ = sh.stop.cancelled() => {
                    let _ = wire::write(stream, &Packet::Disconnect).await;
                    return Ok(Outcome::End);
                }
            };
            let now = Instant::now();
            if let Some(r) = read {
                r?;
                while let Some(packet) = wire::take(&mut buf)? {
                    if let Packet::Publish(p) = packet {
                        if self.command(sh, stream, &p, &mut pkid).await? {
                            let _ = wire::write(stream, &Packet::Disconnect).await;
                            return Ok(Outcome::Reboot);
                        }
                        last_write = Instant::now();
                    }
                }
                continue;
            }
            if now >= sh.end_real {
                let _ = wire::write(stream, &Packet::Disconnect).await;
                return Ok(Outcome::End);
            }
            while sh.real_at(self.meter.next_at()) <= now {
                if let Some(p) = self.telegram(sh) {
                    sh.stats.publishing(self.slot);
                    publish(stream, &self.measurements_topic, p, QoS::AtMostOnce, 0).await?;
                    sh.stats.published();
                    last_write = Instant::now();
                }
            }
            if self.firmware.tick(DevInstant::from_epoch_ms(sh.now_ms())) {
                let _ = wire::write(stream, &Packet::Disconnect).await;
                return Ok(Outcome::Reboot);
            }
            if Instant::now() >= ping_at {
                wire::write(stream, &Packet::PingReq).await?;
                last_write = Instant::now();
            }
        }
    }

    /// Answer one command; `Ok(true)`: reboot now (after a `cmd/reset`'s result is out).
    async fn command(
        &mut self,
        sh: &Shared,
        stream: &mut Stream,
        p: &Publish,
        pkid: &mut u16,
    ) -> Result<bool, WireError> {
        if p.qos == QoS::AtLeastOnce {
            wire::write(stream, &Packet::PubAck(PubAck::new(p.pkid))).await?;
        }
        let topic = p.topic.as_str();
        let Some(name) = topic.strip_prefix(self.command_filter.trim_end_matches('+')) else {
            return Ok(false);
        };
        sh.stats.commands.fetch_add(1, Relaxed);
        let now = DevInstant::from_epoch_ms(sh.now_ms());
        let (outcome, version, reset) = match parse_command(name, &p.payload) {
            Ok(Command::Reset) => (Ok(()), None, true),
            Ok(Command::FirmwareUpdate { version }) => (
                self.firmware
                    .start(&version, now)
                    .map_err(|e| e.to_string()),
                Some(version),
                false,
            ),
            Err(e) => (Err(e.to_string()), None, false),
        };
        let result = CommandResult::new(
            name,
            outcome,
            version,
            &self.serial,
            &sh.site,
            now.epoch_secs(),
        );
        *pkid = pkid.checked_add(1).filter(|n| *n != 0).unwrap_or(1);
        publish(
            stream,
            &self.events_topic,
            result.to_json(),
            QoS::AtLeastOnce,
            *pkid,
        )
        .await?;
        Ok(reset)
    }
}

/// Write one PUBLISH.
async fn publish(
    stream: &mut Stream,
    topic: &str,
    payload: Vec<u8>,
    qos: QoS,
    pkid: u16,
) -> Result<(), WireError> {
    let mut p = Publish::new(topic, qos, payload);
    p.pkid = pkid;
    wire::write(stream, &Packet::Publish(p)).await
}
