//! The faulty firmware around the correct device: a `DeviceLayer` that rewrites the events
//! going in and the effects (replies, LED, persistence, P1 ext, measurements, register
//! values) coming out, as each planted defect says. The device itself stays correct.

use super::meter::{CrcFixer, ValueDefects};
use super::patch::apply_patch_partially;
use super::{Defect, Defects};
use crate::adapters::host::DeviceLayer;
use crate::device::button::FACTORY_MIN_MS;
use crate::device::config::{Config, IpMode};
use crate::device::firmware::UpdateRefused;
use crate::device::led::{LedPattern, LedTimeline};
use crate::device::power::PowerInputs;
use crate::device::registers::MeterValues;
use crate::device::status::{LedReport, Status};
use crate::device::{Device, Effect, Event, Reply, Variant};
use crate::protocol::Reading;
use crate::time::Instant;

/// The device with the planted defects' firmware bugs.
#[derive(Debug)]
pub struct FaultyDevice {
    defects: Defects,
    variant: Variant,
    values: ValueDefects,
    crc: CrcFixer,
    /// The last valid reading (`mqtt-publishes-rejected`).
    last_reading: Option<Box<Reading>>,
    /// What was last written to flash (`config-not-persisted`); read at the first event.
    persisted: Option<Config>,
    /// The LED as it shows (the LED defects); `synced` device changes mapped so far.
    led: LedTimeline,
    synced: usize,
    /// When the button went down (`button-factory-reset-keeps-settings`).
    pressed_at: Option<Instant>,
}

impl FaultyDevice {
    /// The layer for `defects` on a device of `variant`.
    pub fn new(variant: Variant, defects: Defects) -> Self {
        FaultyDevice {
            values: ValueDefects::new(variant, &defects),
            crc: CrcFixer::default(),
            variant,
            defects,
            last_reading: None,
            persisted: None,
            led: LedTimeline::default(),
            synced: 0,
            pressed_at: None,
        }
    }

    fn has(&self, d: Defect) -> bool {
        self.defects.contains(&d)
    }

    fn led_defects(&self) -> bool {
        self.has(Defect::LedGreenWithoutMeterData) || self.has(Defect::LedNoIpGreen)
    }

    /// What the buggy LED rule shows where the correct one shows `p`.
    fn led_map(&self, p: LedPattern) -> LedPattern {
        use LedPattern::*;
        let p = match p {
            NoMeterData if self.has(Defect::LedGreenWithoutMeterData) => Normal,
            NoMeterDataNoIp if self.has(Defect::LedGreenWithoutMeterData) => NoIp,
            AccessPointNoMeterData if self.has(Defect::LedGreenWithoutMeterData) => AccessPoint,
            p => p,
        };
        match p {
            NoIp if self.has(Defect::LedNoIpGreen) => Normal,
            NoMeterDataNoIp if self.has(Defect::LedNoIpGreen) => NoMeterData,
            p => p,
        }
    }

    /// The event the buggy firmware acts on.
    fn event_in(&mut self, device: &Device, event: Event, now: Instant) -> Event {
        match event {
            // `power-smr5-no-p1-power`: only USB-C starts the device.
            Event::Power(p) if self.has(Defect::PowerSmr5NoP1Power) => Event::Power(PowerInputs {
                usb: p.usb,
                p1_supply: false,
            }),
            Event::ButtonDown if device.powered() => {
                self.pressed_at = Some(now);
                Event::ButtonDown
            }
            // `button-factory-reset-keeps-settings`: a > 10 s press only restarts.
            Event::ButtonUp if self.has(Defect::ButtonFactoryResetKeepsSettings) => {
                let held = self.pressed_at.take().map(|t| now.elapsed_since(t));
                match held.is_some_and(|h| h >= FACTORY_MIN_MS) && device.running() {
                    true => Event::SoftReset,
                    false => Event::ButtonUp,
                }
            }
            // `p1-bad-crc-accepted`: every DSMR CRC reads as right.
            Event::SerialBytes(b)
                if self.has(Defect::P1BadCrcAccepted) && self.variant == Variant::P1 =>
            {
                Event::SerialBytes(self.crc.fix(&b))
            }
            e => e,
        }
    }

    /// Feed `event`; `network-static-ignored` hides static addresses from every boot.
    fn feed(&mut self, device: &mut Device, event: Event, now: Instant) -> Vec<Effect> {
        let hide =
            self.has(Defect::NetworkStaticIgnored) && !matches!(event, Event::PatchConfig(_));
        // At boot the settings come from the store: hide the static address in what it read.
        let (real, event) = match event {
            Event::ConfigLoaded(c) if hide => {
                let shown = without_static(&c);
                (*c, Event::ConfigLoaded(Box::new(shown)))
            }
            e => (device.config().clone(), e),
        };
        let shown = match hide {
            true => without_static(&real),
            false => real.clone(),
        };
        if shown != real && !matches!(event, Event::ConfigLoaded(_)) {
            device.restore_stored(shown.clone());
        }
        let fx = device.handle(event, now);
        if shown != real && *device.config() == shown {
            device.restore_stored(real);
        }
        fx
    }

    /// Rewrite the effects of `event` (`original`: the input bytes before any rewrite).
    fn effects_out(
        &mut self,
        device: &mut Device,
        event: &Event,
        original: Option<Vec<u8>>,
        before: &Config,
        fx: Vec<Effect>,
    ) -> Vec<Effect> {
        let rejected = fx.iter().any(|e| matches!(e, Effect::TelegramRejected(_)));
        let mut out = Vec::with_capacity(fx.len());
        let mut fx = fx.into_iter().peekable();
        while let Some(e) = fx.next() {
            match e {
                Effect::RegistersChanged(v) => {
                    let reading = match fx.peek() {
                        Some(Effect::Measurement(r)) => Some(r.as_ref()),
                        _ => None,
                    };
                    out.push(Effect::RegistersChanged(self.values.next(v, reading)));
                }
                Effect::Measurement(r) => {
                    if self.has(Defect::MqttPublishesRejected) {
                        self.last_reading = Some(r.clone());
                    }
                    out.push(Effect::Measurement(r));
                }
                Effect::TelegramRejected(err) => {
                    out.push(Effect::TelegramRejected(err));
                    if let Some(r) = self.last_reading.clone() {
                        out.push(Effect::Measurement(r));
                    }
                }
                // `p1-ext-drops-rejected`: the copy is made from what the parser accepted.
                Effect::P1ExtOut(_) if rejected && self.has(Defect::P1ExtDropsRejected) => {}
                Effect::P1ExtOut(b) => out.push(Effect::P1ExtOut(original.clone().unwrap_or(b))),
                Effect::PersistConfig(_) if self.has(Defect::ConfigNotPersisted) => {}
                Effect::PoweredOff => {
                    self.values.reset();
                    self.last_reading = None;
                    if let Some(c) = self.persisted.clone() {
                        // RAM is gone: what comes back is what was last written to flash.
                        device.restore_stored(c);
                    }
                    out.push(Effect::PoweredOff);
                }
                Effect::Rebooted => {
                    self.last_reading = None;
                    out.push(Effect::Rebooted);
                }
                Effect::Led(p) => out.push(Effect::Led(self.led_map(p))),
                Effect::Reply(r) => out.push(Effect::Reply(self.reply(device, event, before, r))),
                e => out.push(e),
            }
        }
        // `power-ext-without-usb`: the ext output runs on the meter's P1 power.
        if let (Event::SerialBytes(b), true) = (event, self.has(Defect::PowerExtWithoutUsb)) {
            if device.powered() && !out.iter().any(|e| matches!(e, Effect::P1ExtOut(_))) {
                out.push(Effect::P1ExtOut(original.unwrap_or_else(|| b.clone())));
            }
        }
        out
    }

    /// The reply the buggy firmware gives.
    fn reply(&self, device: &mut Device, event: &Event, before: &Config, r: Reply) -> Reply {
        match (event, r) {
            // `config-patch-partial`: the valid leaves stay applied.
            (Event::PatchConfig(patch), Reply::Config(Err(_)))
                if self.has(Defect::ConfigPatchPartial) =>
            {
                let (partial, res) = apply_patch_partially(before, patch);
                if partial != *before {
                    device.restore_stored(partial);
                }
                Reply::Config(res.map(Box::new))
            }
            // `firmware-second-update-restarts`: a request while one runs is taken.
            (
                Event::FirmwareUpdate { .. },
                Reply::Firmware(Err(UpdateRefused::Running { state })),
            ) if self.has(Defect::FirmwareSecondUpdateRestarts) && state != "rebooting" => {
                Reply::Firmware(Ok(()))
            }
            (_, r) => r,
        }
    }

    /// Follow the device's LED timeline, mapped by the LED defects.
    fn sync_led(&mut self, device: &Device) {
        let changes = device.led().changes();
        if changes.len() < self.synced {
            // The device's timeline dropped its oldest half: start over.
            self.led = LedTimeline::default();
            self.synced = 0;
        }
        for &(t, p) in changes.iter().skip(self.synced) {
            let mapped = self.led_map(p);
            self.led.set(t, mapped);
        }
        self.synced = changes.len();
    }
}

impl DeviceLayer for FaultyDevice {
    fn handle(&mut self, device: &mut Device, event: Event, now: Instant) -> Vec<Effect> {
        if self.persisted.is_none() && self.has(Defect::ConfigNotPersisted) {
            self.persisted = Some(device.config().clone());
        }
        let original = match &event {
            Event::SerialBytes(b) => Some(b.clone()),
            _ => None,
        };
        let before = device.config().clone();
        let event = self.event_in(device, event, now);
        let fx = self.feed(device, event.clone(), now);
        let partial =
            matches!(&event, Event::PatchConfig(_)) && self.has(Defect::ConfigPatchPartial);
        let mut fx = self.effects_out(device, &event, original, &before, fx);
        if partial && *device.config() != before && !self.has(Defect::ConfigNotPersisted) {
            let saved = fx.iter().any(|e| matches!(e, Effect::PersistConfig(_)));
            if !saved {
                fx.push(Effect::PersistConfig(Box::new(device.config().clone())));
            }
        }
        if self.led_defects() {
            self.sync_led(device);
        }
        fx
    }

    fn values(&self, device: &Device) -> MeterValues {
        match self.values.planted() {
            true => self.values.current(),
            false => *device.values(),
        }
    }

    fn led<'a>(&'a self, device: &'a Device) -> &'a LedTimeline {
        match self.led_defects() {
            true => &self.led,
            false => device.led(),
        }
    }

    fn status(&self, device: &Device, now: Instant) -> Status {
        let mut s = device.status(now);
        if self.led_defects() {
            s.led = LedReport {
                pattern: self.led.pattern_at(now),
                colour: self.led.colour_at(now),
            };
        }
        s
    }
}

/// `c` with DHCP wherever it asks for a static address (`network-static-ignored`).
fn without_static(c: &Config) -> Config {
    let mut c = c.clone();
    c.ethernet.ip_mode = IpMode::Dhcp;
    c.wifi.ip_mode = IpMode::Dhcp;
    c
}
