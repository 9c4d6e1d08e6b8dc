//! Unit tests of the device's meter path on encoded telegrams.
#![allow(clippy::arithmetic_side_effects)]

use super::*;
use crate::device::config::{Config, NetIf};
use crate::device::led::LedPattern;
use crate::device::power::PowerInputs;
use crate::protocol::dsmr::{self, DsmrKind};
use crate::protocol::fault::{apply, FrameFault};
use crate::protocol::tic::{self, TicKind};
use crate::protocol::{ErrorKind, Protocol};
use crate::time::{at, ms, Instant};
use meter::NoDataReason;

/// When a device powered at 0 runs: red, then the colour cycle.
const T0: Instant = at(0).saturating_add(BOOT_MS.saturating_add(crate::device::led::INIT_CYCLE_MS));

/// A device powered by USB-C at 0 and ticked until it runs (at `T0`).
fn running(variant: Variant) -> Device {
    let mut d = Device::new(DeviceConfig::new(variant), Config::default());
    d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        at(0),
    );
    assert_eq!(d.run_until_running(at(0)), T0);
    d
}

fn feed(d: &mut Device, bytes: Vec<u8>, now: i64) -> Vec<Effect> {
    d.handle(Event::SerialBytes(bytes), T0 + ms(now))
}

fn tick(d: &mut Device, now: i64) -> Vec<Effect> {
    d.handle(Event::Tick, T0 + ms(now))
}

fn smr5(watts: f32) -> Vec<u8> {
    dsmr::encode(
        &reading(DsmrKind::Smr5ThreePhase, watts),
        DsmrKind::Smr5ThreePhase,
    )
}

/// A DSMR reading drawing `watts` on L1 (shared with `defects::device_tests`).
pub(crate) fn reading(kind: DsmrKind, watts: f32) -> Reading {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.version = Some(
        if kind == DsmrKind::Dsmr42 {
            "4.2"
        } else {
            "5.0"
        }
        .into(),
    );
    r.power_import_w = Some(watts.max(0.0));
    r.power_export_w = Some((-watts).max(0.0));
    r.active_power_phase_w[0] = Some(watts);
    r.current_a[0] = Some(6.0);
    if kind.has_voltage() {
        r.voltage_v[0] = Some(230.0);
    }
    r
}

#[test]
fn registers_read_zero_before_the_first_telegram() {
    let d = running(Variant::P1);
    assert!(d
        .read_registers(3, 0x8000, 64)
        .unwrap()
        .iter()
        .all(|&w| w == 0));
    assert_eq!(
        d.meter_status().state,
        MeterState::NoData(NoDataReason::NeverReceived)
    );
}

#[test]
fn a_valid_telegram_replaces_the_snapshot_and_copies_to_p1_ext() {
    let mut d = running(Variant::P1);
    let bytes = smr5(1380.0);
    let fx = feed(&mut d, bytes.clone(), 1000);
    let expected_regs = fx.iter().any(|e| matches!(e, Effect::RegistersChanged(v) if v.active_power_w == 1380.0 && v.telegram_seq == 1));
    assert!(expected_regs, "{fx:?}");
    assert!(fx.iter().any(|e| matches!(e, Effect::Measurement(_))));
    assert!(fx.contains(&Effect::MeterStateChanged(MeterState::Receiving)));
    assert!(fx.contains(&Effect::P1ExtOut(bytes)));
    assert!(fx.contains(&Effect::Led(LedPattern::Normal)));
    assert_eq!(d.values().voltage_v[0], 230.0);
}

#[test]
fn a_rejected_telegram_changes_only_the_counter_and_p1_ext() {
    let mut d = running(Variant::P1);
    feed(&mut d, smr5(500.0), 0);
    let before = *d.values();
    let bad = apply(&smr5(900.0), &FrameFault::BadIntegrity);
    let fx = feed(&mut d, bad.clone(), 1000);
    assert_eq!(fx.len(), 2, "{fx:?}");
    assert!(matches!(&fx[0], Effect::TelegramRejected(e) if e.kind == ErrorKind::BadCrc));
    assert_eq!(fx[1], Effect::P1ExtOut(bad));
    assert_eq!(*d.values(), before);
    assert_eq!(d.meter_status().telegrams_rejected, 1);
}

#[test]
fn silence_means_no_meter_data_with_last_values_kept() {
    let mut d = running(Variant::P1);
    feed(&mut d, smr5(500.0), 0);
    assert_eq!(d.next_deadline(), Some(T0 + ms(3000)));
    assert!(tick(&mut d, 2999).is_empty());
    let fx = tick(&mut d, 3000);
    assert_eq!(
        fx,
        vec![
            Effect::MeterStateChanged(MeterState::NoData(NoDataReason::Timeout)),
            Effect::Led(LedPattern::NoMeterData)
        ]
    );
    assert_eq!(d.values().active_power_w, 500.0);
}

#[test]
fn dsmr42_times_out_after_30_s_and_reads_zero_voltage() {
    let mut d = running(Variant::P1);
    feed(
        &mut d,
        dsmr::encode(&reading(DsmrKind::Dsmr42, 1500.0), DsmrKind::Dsmr42),
        0,
    );
    assert_eq!(d.next_deadline(), Some(T0 + ms(30_000)));
    assert_eq!(d.values().voltage_v, [0.0; 3]);
}

/// A meter that stops sending after a telegram the device cannot read: the reason shown is
/// what the last rejected telegram said — an old DSMR version is "incompatible", anything
/// else (a bad CRC) is just silence.
#[test]
fn silence_after_a_rejected_telegram_is_named_by_that_telegram() {
    let old = crate::protocol::dsmr::encode_dsmr22(&reading(DsmrKind::Dsmr42, 100.0));
    let bad_crc = apply(&smr5(100.0), &FrameFault::BadIntegrity);
    for (last, want) in [
        (old, NoDataReason::Incompatible),
        (bad_crc, NoDataReason::Timeout),
    ] {
        let mut d = running(Variant::P1);
        feed(&mut d, smr5(500.0), 0);
        feed(&mut d, last, 1000);
        assert_eq!(d.meter_status().state, MeterState::Receiving);
        let deadline = d.next_deadline().unwrap();
        d.handle(Event::Tick, deadline);
        assert_eq!(d.meter_status().state, MeterState::NoData(want));
    }
}

#[test]
fn the_status_of_a_device_without_network_names_its_default_interface() {
    for (iface, shown) in [(NetIf::WiFi, "WiFi"), (NetIf::Ethernet, "Ethernet")] {
        let cfg = Config {
            default_net_if: iface,
            ..Config::default()
        };
        // Off: no network machine yet.
        let d = Device::new(DeviceConfig::new(Variant::P1), cfg);
        let s = d.status(at(0));
        assert_eq!(s.network.active_interface, shown);
        assert!(!s.network.link);
    }
}

#[test]
fn dsmr_older_than_4_2_is_no_meter_data() {
    let mut d = running(Variant::P1);
    feed(
        &mut d,
        crate::protocol::dsmr::encode_dsmr22(&reading(DsmrKind::Dsmr42, 100.0)),
        0,
    );
    assert_eq!(
        d.meter_status().state,
        MeterState::NoData(NoDataReason::Incompatible)
    );
    let v40 = dsmr::with_version(
        &dsmr::encode(&reading(DsmrKind::Dsmr42, 100.0), DsmrKind::Dsmr42),
        "40",
    );
    feed(&mut d, v40, 1000);
    assert_eq!(d.meter_status().telegrams_ok, 0);
    assert_eq!(d.meter_status().telegrams_rejected, 2);
    assert!(d
        .read_registers(3, 0x8000, 64)
        .unwrap()
        .iter()
        .all(|&w| w == 0));
}

#[test]
fn tic_phase_power_is_never_negative_but_the_total_may_be() {
    let mut d = running(Variant::Tic);
    let mut r = Reading::empty(Protocol::TicStandard);
    r.power_import_w = Some(0.0);
    r.power_export_w = Some(2480.0);
    r.active_power_w = Some(-2480.0);
    r.active_power_phase_w = [Some(0.0); 3];
    let fx = feed(&mut d, tic::encode(&r, TicKind::StandardTriProducer), 0);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))),
        "the TIC variant has no P1 ext"
    );
    assert_eq!(d.values().active_power_w, -2480.0);
    assert!(d.values().active_power_phase_w.iter().all(|&p| p >= 0.0));
    assert_eq!(d.next_deadline(), Some(T0 + ms(10_000)));
}

#[test]
fn a_tic_device_ignores_p1_telegrams() {
    let mut d = running(Variant::Tic);
    feed(&mut d, smr5(1.0), 0);
    assert_eq!(d.meter_status().telegrams_ok, 0);
}

#[test]
fn boot_shows_red_then_the_colour_cycle_then_the_state() {
    let d = running(Variant::P1);
    let changes: Vec<LedPattern> = d.led().changes().iter().map(|c| c.1).collect();
    assert_eq!(
        changes,
        vec![
            LedPattern::Booting,
            LedPattern::Initialising,
            LedPattern::NoMeterData
        ]
    );
    assert_eq!(d.led().changes()[1].0, at(0) + BOOT_MS);
}

#[test]
fn bytes_during_boot_are_not_read_but_still_copied_to_p1_ext() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
    d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        at(0),
    );
    let fx = d.handle(Event::SerialBytes(smr5(700.0)), at(100));
    assert!(fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))));
    assert_eq!(d.meter_status().telegrams_ok, 0);
}

/// The network problem is an effect once when it arises (and again after a reboot, which
/// starts the network afresh), once `None` when it is gone; the status shows it meanwhile.
#[test]
fn a_network_problem_is_reported_once_when_it_arises_and_when_it_goes() {
    let problems = |fx: &[Effect]| -> Vec<Option<String>> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::NetworkProblem(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    };
    let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
    let unplugged = network::Lan {
        ethernet_link: false,
        ..network::Lan::default()
    };
    d.handle(Event::Lan(unplugged.clone()), at(0));
    let mut fx = d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        at(0),
    );
    fx.extend(d.handle(Event::Tick, T0));
    let cable = Some("Ethernet: no cable (no link to a switch or router)".to_string());
    assert_eq!(problems(&fx), vec![cable.clone()]);
    assert_eq!(d.status(T0).network.problem, cable);
    assert!(
        problems(&d.handle(Event::Tick, T0 + ms(60_000))).is_empty(),
        "not repeated"
    );
    assert!(problems(&d.handle(Event::Lan(unplugged), T0 + ms(61_000))).is_empty());
    let mut fx = d.handle(Event::SoftReset, T0 + ms(62_000));
    fx.extend(d.handle(Event::Tick, T0 + ms(T0.epoch_ms() + 62_000)));
    assert_eq!(problems(&fx), vec![cable], "a reboot reports it afresh");
    let fx = d.handle(
        Event::Lan(network::Lan::default()),
        T0 + ms(T0.epoch_ms() + 63_000),
    );
    assert_eq!(problems(&fx), vec![None], "gone");
    assert_eq!(
        d.status(T0 + ms(T0.epoch_ms() + 63_000)).network.problem,
        None
    );
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "device time went backwards")]
fn device_time_going_backwards_is_a_callers_bug() {
    let mut d = running(Variant::P1);
    tick(&mut d, 5_000);
    tick(&mut d, 4_000);
}

/// Every boot asks for the stored settings; an answer while booting becomes the stored and
/// active settings, one at any other time is stale and changes nothing.
#[test]
fn a_boot_asks_the_store_and_takes_its_answer_only_while_booting() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
    let fx = d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        at(0),
    );
    assert!(fx.contains(&Effect::LoadConfig), "{fx:?}");
    let mut flash = Config::default();
    flash.mqtt.site = "from-flash".into();
    d.handle(Event::ConfigLoaded(Box::new(flash.clone())), at(1));
    assert_eq!(d.config(), &flash);
    assert_eq!(d.active_config(), &flash);
    let t = d.run_until_running(at(1));
    d.handle(Event::ConfigLoaded(Box::default()), t);
    assert_eq!(d.config(), &flash, "stale answer ignored while running");
}
