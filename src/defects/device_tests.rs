//! Unit tests of the faulty-firmware layer (`device.rs`) and the variant parameters
//! `layer_for` sets: each planted defect changes the behaviour it names, and only that.
#![allow(clippy::arithmetic_side_effects)]

use super::{layer_for, Defect, Defects};
use crate::adapters::host::DeviceLayer;
use crate::device::config::Config;
use crate::device::led::LedPattern;
use crate::device::meter::{MeterState, NoDataReason};
use crate::device::network::Lan;
use crate::device::power::PowerInputs;
use crate::device::registers::MeterValues;
use crate::device::tests::reading;
use crate::device::{Device, DeviceConfig, Effect, Event, Reply, Variant};
use crate::protocol::dsmr::{self, DsmrKind};
use crate::protocol::fault::{apply, FrameFault};
use crate::protocol::tic::{self, TicKind};
use crate::protocol::{Protocol, Reading};
use crate::time::{at, ms, Instant};
use serde_json::json;

const USB: PowerInputs = PowerInputs {
    usb: true,
    p1_supply: false,
};

/// A device behind its planted defects' layer, fed as the host feeds it.
struct Faulty {
    d: Device,
    layer: Box<dyn DeviceLayer>,
}

impl Faulty {
    fn new(hw: DeviceConfig) -> Self {
        let (hw, layer) = layer_for(hw);
        let layer = layer.expect("defects planted");
        Faulty {
            d: Device::new(hw, Config::default()),
            layer,
        }
    }

    fn handle(&mut self, e: Event, now: Instant) -> Vec<Effect> {
        self.layer.handle(&mut self.d, e, now)
    }

    fn run_until_running(&mut self, mut now: Instant) -> Instant {
        while self.d.powered() && !self.d.running() {
            match self.d.next_deadline() {
                Some(t) => {
                    now = now.max(t);
                    self.handle(Event::Tick, now);
                }
                None => break,
            }
        }
        now
    }

    fn values(&self) -> MeterValues {
        self.layer.values(&self.d)
    }

    fn led_pattern(&self, now: Instant) -> LedPattern {
        self.layer.status(&self.d, now).led.pattern
    }
}

fn hw(variant: Variant, defects: &[Defect]) -> DeviceConfig {
    let mut hw = DeviceConfig::new(variant);
    hw.defects = defects.iter().copied().collect::<Defects>();
    hw
}

/// A device with `defects` powered at 0 and ticked until it runs; returns it and that time.
fn running(variant: Variant, defects: &[Defect]) -> (Faulty, Instant) {
    let mut d = Faulty::new(hw(variant, defects));
    d.handle(Event::Power(USB), at(0));
    let t0 = d.run_until_running(at(0));
    (d, t0)
}

fn telegram(kind: DsmrKind, watts: f32) -> Vec<u8> {
    let mut r = reading(kind, watts);
    r.active_power_w = Some(watts);
    dsmr::encode(&r, kind)
}

fn smr5(watts: f32) -> Vec<u8> {
    telegram(DsmrKind::Smr5ThreePhase, watts)
}

fn feed(d: &mut Faulty, bytes: Vec<u8>, at: Instant) -> Vec<Effect> {
    d.handle(Event::SerialBytes(bytes), at)
}

#[test]
fn meter_value_defects() {
    let (mut d, t) = running(Variant::P1, &[Defect::P1BadCrcAccepted]);
    feed(&mut d, smr5(500.0), t);
    feed(
        &mut d,
        apply(&smr5(900.0), &FrameFault::BadIntegrity),
        t + ms(1000),
    );
    assert_eq!(d.values().active_power_w, 900.0, "bad CRC used");

    let (mut d, t) = running(Variant::P1, &[Defect::ModbusTornReads]);
    feed(&mut d, smr5(1000.0), t);
    feed(&mut d, smr5(4000.0), t + ms(1000));
    let v = d.values();
    assert_eq!(v.active_power_w, 4000.0);
    assert_eq!(
        v.active_power_phase_w[0], 1000.0,
        "phase power one telegram behind"
    );

    let (mut d, t) = running(Variant::P1, &[Defect::P1RegistersNotUpdated]);
    for i in 0..10 {
        feed(&mut d, smr5(100.0 * (i + 1) as f32), t + ms(1000) * i);
    }
    assert_eq!(d.values().active_power_w, 100.0, "still the first telegram");
    feed(&mut d, smr5(5000.0), t + ms(10_000));
    assert_eq!(d.values().active_power_w, 5000.0, "the 11th refreshes");

    let (mut d, t) = running(Variant::P1, &[Defect::P1Dsmr42VoltageNominal]);
    feed(&mut d, telegram(DsmrKind::Dsmr42, 1500.0), t);
    assert_eq!(d.values().voltage_v[0], 230.0);

    let (mut d, t) = running(Variant::P1, &[Defect::P1Dsmr42ShortTimeout]);
    feed(&mut d, telegram(DsmrKind::Dsmr42, 1500.0), t);
    assert_eq!(d.d.next_deadline(), Some(t + ms(3_000)));

    let (mut d, t) = running(Variant::P1, &[Defect::P1OldDsmrAccepted]);
    let v40 = dsmr::with_version(&telegram(DsmrKind::Dsmr42, 100.0), "40");
    feed(&mut d, v40, t);
    assert_eq!(d.d.meter_status().telegrams_ok, 1, "DSMR 4.0 accepted");
}

#[test]
fn tic_defects() {
    let (mut d, t) = running(Variant::Tic, &[Defect::TicNegativePhasePower]);
    let mut r = Reading::empty(Protocol::TicStandard);
    r.power_import_w = Some(0.0);
    r.power_export_w = Some(2400.0);
    r.active_power_w = Some(-2400.0);
    r.active_power_phase_w = [Some(0.0); 3];
    feed(&mut d, tic::encode(&r, TicKind::StandardTriProducer), t);
    assert_eq!(d.values().active_power_phase_w, [-800.0; 3]);

    let (mut d, t) = running(Variant::Tic, &[Defect::TicHistoricRejected]);
    let mut r = Reading::empty(Protocol::TicHistoric);
    r.active_power_w = Some(500.0);
    feed(&mut d, tic::encode(&r, TicKind::HistoricMono), t);
    assert_eq!(d.d.meter_status().telegrams_ok, 0);
    assert_eq!(d.d.meter_status().telegrams_rejected, 1);
}

#[test]
fn a_rejected_telegram_is_republished_and_dropped_from_p1_ext() {
    let defects = [Defect::MqttPublishesRejected, Defect::P1ExtDropsRejected];
    let (mut d, t) = running(Variant::P1, &defects);
    feed(&mut d, smr5(500.0), t);
    let fx = feed(
        &mut d,
        apply(&smr5(900.0), &FrameFault::BadIntegrity),
        t + ms(1000),
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Measurement(r) if r.active_power_w == Some(500.0))));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))),
        "{fx:?}"
    );
    let fx = feed(&mut d, smr5(600.0), t + ms(2000));
    assert!(fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))));
}

#[test]
fn power_defects() {
    let mut d = Faulty::new(hw(Variant::P1, &[Defect::PowerSmr5NoP1Power]));
    let p1 = PowerInputs {
        usb: false,
        p1_supply: true,
    };
    d.handle(Event::Power(p1), at(0));
    assert!(!d.d.powered(), "the SMR 5 meter's power does not start it");

    let mut d = Faulty::new(hw(Variant::P1, &[Defect::PowerExtWithoutUsb]));
    d.handle(Event::Power(p1), at(0));
    let t = d.run_until_running(at(0));
    let fx = feed(&mut d, smr5(800.0), t);
    assert!(fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))));
}

#[test]
fn led_defects() {
    let (d, t) = running(Variant::P1, &[Defect::LedGreenWithoutMeterData]);
    assert_eq!(
        d.d.meter_status().state,
        MeterState::NoData(NoDataReason::NeverReceived)
    );
    assert_eq!(d.led_pattern(t), LedPattern::Normal);
    assert_eq!(d.layer.led(&d.d).pattern_at(t), LedPattern::Normal);
    let (mut d, t) = running(Variant::P1, &[Defect::LedNoIpGreen]);
    feed(&mut d, smr5(800.0), t);
    let lan = Lan {
        ethernet_link: false,
        ..Default::default()
    };
    d.handle(Event::Lan(lan), t + ms(10));
    assert!(!d.d.network().unwrap().has_ip());
    assert_eq!(d.led_pattern(t + ms(10)), LedPattern::Normal);
}

#[test]
fn button_defects() {
    let patch = json!({"MQTT": {"Site": "garage-3"}});
    let (mut d, t) = running(Variant::P1, &[Defect::ButtonApOutsideFactory]);
    d.handle(Event::PatchConfig(patch.clone()), t);
    d.handle(Event::ButtonDown, t);
    d.handle(Event::ButtonUp, t + ms(6_000));
    assert!(d.d.network().unwrap().access_point().is_some());

    let (mut d, t) = running(Variant::P1, &[Defect::ButtonFactoryResetKeepsSettings]);
    d.handle(Event::PatchConfig(patch), t);
    d.handle(Event::ButtonDown, t);
    let fx = d.handle(Event::ButtonUp, t + ms(11_000));
    assert!(fx.contains(&Effect::Rebooted));
    assert_eq!(d.d.config().mqtt.site, "garage-3");
}

#[test]
fn config_defects() {
    let (mut d, t) = running(Variant::P1, &[Defect::ConfigPatchPartial]);
    let bad = json!({"MQTT": {"Site": "garage-3", "Broker": "broker.example.com"}});
    let fx = d.handle(Event::PatchConfig(bad), t);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Reply(Reply::Config(Err(_))))));
    assert_eq!(
        d.d.config().mqtt.site,
        "garage-3",
        "the valid half was applied"
    );

    let (mut d, t) = running(Variant::P1, &[Defect::ConfigNotPersisted]);
    let fx = d.handle(Event::PatchConfig(json!({"MQTT": {"Site": "garage-3"}})), t);
    assert!(!fx.iter().any(|e| matches!(e, Effect::PersistConfig(_))));
    d.handle(Event::SoftReset, t + ms(1));
    assert_eq!(d.d.config().mqtt.site, "garage-3", "kept over a soft reset");
    d.handle(Event::Power(PowerInputs::default()), t + ms(2));
    d.handle(Event::Power(USB), t + ms(3));
    assert_eq!(
        d.d.config().mqtt.site,
        "unknown-site",
        "lost at a power cut"
    );
}

#[test]
fn network_defects() {
    let patch = json!({"Ethernet": {"IpMode": "Static",
        "StaticIPv4": {"IpAddress": "10.0.0.7", "Netmask": "16"}}});
    let (mut d, t) = running(Variant::P1, &[Defect::NetworkStaticIgnored]);
    d.handle(Event::PatchConfig(patch), t);
    d.handle(Event::SoftReset, t);
    let t = d.run_until_running(t);
    d.handle(Event::Tick, t + ms(1_000));
    assert_eq!(
        d.d.network().unwrap().address(),
        Some(Lan::default().dhcp_pool)
    );
    assert_eq!(
        d.d.config().ethernet.ip_mode,
        crate::device::config::IpMode::Static,
        "the setting is kept, only ignored"
    );

    let mut hw = hw(Variant::P1, &[Defect::NetworkNoLinkLocal]);
    hw.lan.dhcp = false;
    let mut d = Faulty::new(hw);
    d.handle(Event::Power(USB), at(0));
    let t = d.run_until_running(at(0));
    d.handle(Event::Tick, t + ms(60_000));
    assert!(!d.d.network().unwrap().has_ip(), "no link-local fallback");
}

#[test]
fn firmware_defects() {
    let (mut d, t) = running(Variant::P1, &[Defect::FirmwareSecondUpdateRestarts]);
    let update = || Event::FirmwareUpdate {
        version: "1.5.0".into(),
    };
    let fx = d.handle(update(), t);
    assert!(fx.contains(&Effect::Reply(Reply::Firmware(Ok(())))));
    let fx = d.handle(update(), t + ms(1_000));
    assert!(
        fx.contains(&Effect::Reply(Reply::Firmware(Ok(())))),
        "not refused"
    );
}

#[test]
fn no_defects_no_layer() {
    assert!(layer_for(DeviceConfig::new(Variant::P1)).1.is_none());
}
