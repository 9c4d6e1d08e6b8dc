//! Insta snapshots of the LED timeline (colour spans) in the situations the manual describes:
//! boot with and without meter data, DHCP failure (link-local), no network link, AP mode.

use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::led::ColourSpan;
use smart_connect_sim::device::network::Lan;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{Device, DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::time::at;

fn device(lan: Lan) -> Device {
    let mut hw = DeviceConfig::new(Variant::P1);
    hw.lan = lan;
    let mut d = Device::new(hw, Config::default());
    d.handle(
        Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }),
        at(0),
    );
    d
}

fn telegram() -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.power_import_w = Some(500.0);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

/// Feed a telegram every second from `from` to `to` (ms).
fn meter(d: &mut Device, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        d.handle(Event::SerialBytes(telegram()), at(t));
        t += 1000;
    }
}

fn spans(d: &mut Device, to: i64) -> Vec<ColourSpan> {
    d.handle(Event::Tick, at(to));
    d.led().spans(at(0), at(to))
}

#[test]
fn boot_with_meter_data() {
    let mut d = device(Lan::default());
    meter(&mut d, 0, 9_000);
    insta::assert_json_snapshot!(spans(&mut d, 9_000));
}

#[test]
fn boot_without_meter_data() {
    let mut d = device(Lan::default());
    insta::assert_json_snapshot!(spans(&mut d, 9_000));
}

#[test]
fn dhcp_failure_falls_back_to_link_local() {
    let mut d = device(Lan {
        dhcp: false,
        ..Lan::default()
    });
    meter(&mut d, 0, 19_000);
    insta::assert_json_snapshot!(spans(&mut d, 19_000));
}

#[test]
fn no_network_link() {
    let mut d = device(Lan {
        ethernet_link: false,
        ..Lan::default()
    });
    meter(&mut d, 0, 9_000);
    insta::assert_json_snapshot!(spans(&mut d, 9_000));
}

#[test]
fn access_point_mode() {
    let mut d = device(Lan {
        ethernet_link: false,
        ..Lan::default()
    });
    meter(&mut d, 0, 7_000);
    d.handle(Event::ButtonDown, at(7_000));
    meter(&mut d, 7_000, 13_000);
    d.handle(Event::ButtonUp, at(13_000));
    meter(&mut d, 13_000, 16_000);
    insta::assert_json_snapshot!(spans(&mut d, 18_000));
}
