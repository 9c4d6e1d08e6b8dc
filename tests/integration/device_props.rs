//! Property test of the whole device: any sequence of power cycles, button presses, config
//! patches (valid or not), LAN changes, soft resets and telegrams leaves a configuration that
//! validates, a status that builds, and an LED that is off exactly when the device is unpowered.

use proptest::prelude::*;
use serde_json::json;
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::led::LedPattern;
use smart_connect_sim::device::network::Lan;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{Device, DeviceConfig, Effect, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::time::{at, Duration};

#[derive(Debug, Clone)]
enum Op {
    Power { usb: bool, p1: bool },
    Button { held_ms: i64 },
    Patch(serde_json::Value),
    Lan { link: bool, dhcp: bool },
    SoftReset,
    Telegram,
    Pass { ms: i64 },
}

fn patch() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(json!({"MQTT": {"Site": "garage"}})),
        Just(json!({"MQTT": {"Site": "bad/site"}})),
        Just(json!({"MQTT": {"Enabled": false}})),
        Just(json!({"MQTT": {"Broker": "broker.example.com"}})),
        Just(json!({"MeterType": "Eastron-SDM630"})),
        Just(json!({"MeterType": "ABB-B23"})),
        Just(
            json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.0.0.9", "Netmask": "24"}}})
        ),
        Just(json!({"Ethernet": {"StaticIPv4": {"Netmask": "33"}}})),
        Just(json!({"Ethernet": {"IpMode": "DHCP"}})),
        Just(json!({"WiFi": {"Password": "short"}})),
        Just(json!({"Unknown": 1})),
        Just(json!([1, 2])),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(usb, p1)| Op::Power { usb, p1 }),
        prop::sample::select(vec![500i64, 3_000, 6_000, 12_000])
            .prop_map(|held_ms| Op::Button { held_ms }),
        patch().prop_map(Op::Patch),
        (any::<bool>(), any::<bool>()).prop_map(|(link, dhcp)| Op::Lan { link, dhcp }),
        Just(Op::SoftReset),
        Just(Op::Telegram),
        (1i64..20_000).prop_map(|ms| Op::Pass { ms }),
    ]
}

fn telegram() -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.power_import_w = Some(100.0);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_leaves_a_valid_device(ops in prop::collection::vec(op(), 1..40)) {
        let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
        let mut now = at(0);
        let mut persisted = Config::default();
        for op in ops {
            let fx = match op {
                Op::Power { usb, p1 } => d.handle(Event::Power(PowerInputs { usb, p1_supply: p1 }), now),
                Op::Button { held_ms } => {
                    d.handle(Event::ButtonDown, now);
                    now += Duration::from_ms(held_ms);
                    d.handle(Event::ButtonUp, now)
                }
                Op::Patch(p) => d.handle(Event::PatchConfig(p), now),
                Op::Lan { link, dhcp } => d.handle(Event::Lan(Lan { ethernet_link: link, dhcp, ..Lan::default() }), now),
                Op::SoftReset => d.handle(Event::SoftReset, now),
                Op::Telegram => d.handle(Event::SerialBytes(telegram()), now),
                Op::Pass { ms } => {
                    now += Duration::from_ms(ms);
                    d.handle(Event::Tick, now)
                }
            };
            for e in &fx {
                if let Effect::PersistConfig(c) = e {
                    persisted = (**c).clone();
                }
            }
            let c = d.config();
            prop_assert!(c.validate().is_ok(), "{c:?}");
            prop_assert_eq!(&Config::from_json(&c.to_json()).unwrap(), c);
            prop_assert_eq!(&persisted, c, "every change of the stored config is persisted");
            let status = d.status(now);
            prop_assert_eq!(status.led.pattern == LedPattern::Off, !d.powered());
            prop_assert_eq!(d.led().pattern_at(now), status.led.pattern);
        }
    }
}
