//! Unit tests of the device's meter path on encoded telegrams.

use super::*;
use crate::protocol::dsmr::{self, DsmrKind};
use crate::protocol::fault::{apply, FrameFault};
use crate::protocol::tic::{self, TicKind};
use crate::protocol::Protocol;
use meter::NoDataReason;

fn reading(kind: DsmrKind, watts: f32) -> Reading {
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

fn feed(d: &mut Device, bytes: Vec<u8>, now: i64) -> Vec<Effect> {
    d.handle(Event::SerialBytes(bytes), now)
}

#[test]
fn registers_read_zero_before_the_first_telegram() {
    let d = Device::new(DeviceConfig::new(Variant::P1));
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
    let mut d = Device::new(DeviceConfig::new(Variant::P1));
    let bytes = dsmr::encode(
        &reading(DsmrKind::Smr5ThreePhase, 1380.0),
        DsmrKind::Smr5ThreePhase,
    );
    let fx = feed(&mut d, bytes.clone(), 1000);
    assert_eq!(fx[0], Effect::P1ExtOut(bytes));
    assert!(
        matches!(fx[1], Effect::RegistersChanged(v) if v.active_power_w == 1380.0 && v.telegram_seq == 1)
    );
    assert!(matches!(fx[2], Effect::Measurement(_)));
    assert_eq!(fx[3], Effect::MeterStateChanged(MeterState::Receiving));
    assert_eq!(d.values().voltage_v[0], 230.0);
}

#[test]
fn a_rejected_telegram_changes_only_the_counter_and_p1_ext() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1));
    feed(
        &mut d,
        dsmr::encode(
            &reading(DsmrKind::Smr5ThreePhase, 500.0),
            DsmrKind::Smr5ThreePhase,
        ),
        0,
    );
    let before = *d.values();
    let bad = apply(
        &dsmr::encode(
            &reading(DsmrKind::Smr5ThreePhase, 900.0),
            DsmrKind::Smr5ThreePhase,
        ),
        &FrameFault::BadIntegrity,
    );
    let fx = feed(&mut d, bad.clone(), 1000);
    assert_eq!(fx.len(), 2, "{fx:?}");
    assert_eq!(fx[0], Effect::P1ExtOut(bad));
    assert!(
        matches!(&fx[1], Effect::TelegramRejected(e) if e.kind == crate::protocol::ErrorKind::BadCrc)
    );
    assert_eq!(*d.values(), before);
    assert_eq!(d.meter_status().telegrams_rejected, 1);
}

#[test]
fn silence_means_no_meter_data_with_last_values_kept() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1));
    feed(
        &mut d,
        dsmr::encode(
            &reading(DsmrKind::Smr5ThreePhase, 500.0),
            DsmrKind::Smr5ThreePhase,
        ),
        0,
    );
    assert_eq!(d.next_deadline(), Some(3000));
    assert!(d.handle(Event::Tick, 2999).is_empty());
    let fx = d.handle(Event::Tick, 3000);
    assert_eq!(
        fx,
        vec![Effect::MeterStateChanged(MeterState::NoData(
            NoDataReason::Timeout
        ))]
    );
    assert_eq!(d.values().active_power_w, 500.0);
}

#[test]
fn dsmr42_times_out_after_30_s_and_reads_zero_voltage() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1));
    feed(
        &mut d,
        dsmr::encode(&reading(DsmrKind::Dsmr42, 1500.0), DsmrKind::Dsmr42),
        0,
    );
    assert_eq!(d.next_deadline(), Some(30_000));
    assert_eq!(d.values().voltage_v, [0.0; 3]);
}

#[test]
fn dsmr_older_than_4_2_is_no_meter_data() {
    let mut d = Device::new(DeviceConfig::new(Variant::P1));
    let old = b"/ISk5\\2MT382-1000\r\n\r\n1-0:1.7.0(0000.16*kW)\r\n!\r\n".to_vec();
    feed(&mut d, old, 0);
    assert_eq!(
        d.meter_status().state,
        MeterState::NoData(NoDataReason::Incompatible)
    );
    let mut r40 = reading(DsmrKind::Dsmr42, 100.0);
    r40.version = Some("4.0".into());
    let text = String::from_utf8(dsmr::encode(&r40, DsmrKind::Dsmr42)).unwrap();
    assert!(text.contains("1-3:0.2.8(42)"));
    let t40 = text.replace("1-3:0.2.8(42)", "1-3:0.2.8(40)");
    let body = &t40[..t40.rfind('!').unwrap() + 1];
    let crc = crate::protocol::dsmr::CRC.checksum(body.as_bytes());
    feed(&mut d, format!("{body}{crc:04X}\r\n").into_bytes(), 1000);
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
    let mut d = Device::new(DeviceConfig::new(Variant::Tic));
    let mut r = Reading::empty(Protocol::TicStandard);
    r.power_import_w = Some(0.0);
    r.power_export_w = Some(2480.0);
    r.active_power_w = Some(-2480.0);
    r.active_power_phase_w = [Some(0.0); 3];
    let fx = d.handle(
        Event::SerialBytes(tic::encode(&r, TicKind::StandardTriProducer)),
        0,
    );
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::P1ExtOut(_))),
        "the TIC variant has no P1 ext"
    );
    assert_eq!(d.values().active_power_w, -2480.0);
    assert!(d.values().active_power_phase_w.iter().all(|&p| p >= 0.0));
    assert_eq!(d.next_deadline(), Some(10_000));
}

#[test]
fn a_tic_device_ignores_p1_telegrams() {
    let mut d = Device::new(DeviceConfig::new(Variant::Tic));
    feed(
        &mut d,
        dsmr::encode(
            &reading(DsmrKind::Smr5ThreePhase, 1.0),
            DsmrKind::Smr5ThreePhase,
        ),
        0,
    );
    assert_eq!(d.meter_status().telegrams_ok, 0);
}
