//! Properties of the configuration model and its store (API-04, API-09, API-10): random merge
//! patches applied all-or-nothing keep a valid config; a power loss at any step of a save leaves
//! the old or the new config; the factory settings are valid. Also the value tables of the
//! string checks (IPv4, netmask, broker URL).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};
use smart_connect_sim::device::config::{
    apply_patch, check_broker, check_ipv4, check_prefix, Config,
};
use smart_connect_sim::device::store::{ConfigStore, MemStore, StoreError};

/// Values for one field: (valid, invalid). Cross-field rules can still refuse valid ones.
type Pool = (&'static [&'static str], &'static [&'static str]);

const METERS: Pool = (&["PhoenixContact-EMPro", "Eastron-SDM630"], &["SDM630", ""]);
const NETIFS: Pool = (&["Ethernet", "WiFi"], &["Wifi"]);
const MODES: Pool = (&["DHCP", "Static"], &["static"]);
const IPS: Pool = (
    &["", "192.168.1.10", "10.0.0.1", "0.0.0.0"],
    &["300.1.1.1", "::1", "1.2.3"],
);
const MASKS: Pool = (&["", "0", "24", "32"], &["33", "255.255.255.0", "024"]);
const SSIDS: Pool = (
    &["", "home", "Café Wi-Fi", "0123456789abcdef0123456789abcdef"],
    &["0123456789abcdef0123456789abcdefX"],
);
const WIFI_PASSWORDS: Pool = (
    &["", "12345678", "correct horse battery"],
    &["short", "p\u{e4}sswort1"],
);
const BROKERS: Pool = (
    &[
        "mqtts://broker.xemex-cloud.eu:8883",
        "mqtt://10.0.0.5:1883",
        "mqtt://localhost",
    ],
    &[
        "broker.example.com",
        "mqtts://b:0",
        "mqtts://b/path",
        "mqtts://[::1]:8883",
    ],
);
const SITES: Pool = (
    &["unknown-site", "site-new", "a", "home_2"],
    &["a/b", "", "#"],
);
const CREDENTIALS: Pool = (&["", "user", "p@ss w0rd!", "é"], &[]);
const UNKNOWN_KEYS: &[&str] = &["Foo", "Dns", "ssid", "Port", "a/b"];

/// A leaf value from the field's pool; when `bad`, sometimes an invalid one, a wrong type or
/// `null`.
fn leaf((good, invalid): Pool, bad: bool) -> BoxedStrategy<Value> {
    let good = prop::sample::select(good).prop_map(|s| json!(s)).boxed();
    match (bad, invalid.is_empty()) {
        (false, _) => good,
        (true, true) => prop_oneof![8 => good, 1 => junk()].boxed(),
        (true, false) => {
            let invalid = prop::sample::select(invalid).prop_map(|s| json!(s));
            prop_oneof![6 => good, 2 => invalid, 1 => junk()].boxed()
        }
    }
}

fn junk() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(24)),
        Just(json!(["a"])),
        Just(json!({})),
        Just(json!(true)),
        "[ -~]{0,70}".prop_map(Value::String),
    ]
    .boxed()
}

/// An object with a random subset of `fields`; when `bad`, sometimes an unknown key too, or
/// junk instead of the object.
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>, bad: bool) -> BoxedStrategy<Value> {
    let picks: Vec<_> = fields
        .into_iter()
        .map(|(k, s)| prop::option::weighted(0.4, s.prop_map(move |v| (k.to_string(), v))))
        .collect();
    let unknown = prop::sample::select(UNKNOWN_KEYS)
        .prop_flat_map(|k| junk().prop_map(move |v| (k.to_string(), v)));
    let unknown = match bad {
        true => prop::option::weighted(0.05, unknown).boxed(),
        false => Just(None).boxed(),
    };
    let obj = (picks, unknown)
        .prop_map(|(picks, extra)| {
            Value::Object(
                picks
                    .into_iter()
                    .flatten()
                    .chain(extra)
                    .collect::<Map<_, _>>(),
            )
        })
        .boxed();
    if bad {
        prop_oneof![12 => obj, 1 => junk()].boxed()
    } else {
        obj
    }
}

fn static_ipv4(bad: bool) -> BoxedStrategy<Value> {
    let fields = vec![
        ("IpAddress", leaf(IPS, bad)),
        ("Netmask", leaf(MASKS, bad)),
        ("Gateway", leaf(IPS, bad)),
        ("DNS", leaf(IPS, bad)),
    ];
    object(fields, bad)
}

/// A merge patch: of valid values only, or (`bad`) also invalid ones, unknown keys, `null`s,
/// wrong types and non-objects.
fn patch_of(bad: bool) -> BoxedStrategy<Value> {
    let enabled = match bad {
        false => any::<bool>().prop_map(Value::Bool).boxed(),
        true => prop_oneof![4 => any::<bool>().prop_map(Value::Bool), 1 => junk()].boxed(),
    };
    let eth = vec![
        ("IpMode", leaf(MODES, bad)),
        ("StaticIPv4", static_ipv4(bad)),
    ];
    let wifi = vec![
        ("IpMode", leaf(MODES, bad)),
        ("SSID", leaf(SSIDS, bad)),
        ("Password", leaf(WIFI_PASSWORDS, bad)),
        ("StaticIPv4", static_ipv4(bad)),
    ];
    let mqtt = vec![
        ("Enabled", enabled),
        ("Broker", leaf(BROKERS, bad)),
        ("Site", leaf(SITES, bad)),
        ("Username", leaf(CREDENTIALS, bad)),
        ("Password", leaf(CREDENTIALS, bad)),
    ];
    let root = object(
        vec![
            ("MeterType", leaf(METERS, bad)),
            ("DefaultNetIf", leaf(NETIFS, bad)),
            ("Ethernet", object(eth, bad)),
            ("WiFi", object(wifi, bad)),
            ("MQTT", object(mqtt, bad)),
        ],
        false,
    );
    if bad {
        prop_oneof![30 => root, 1 => junk()].boxed()
    } else {
        root
    }
}

/// Any patch: half of them of valid values only.
fn patch() -> BoxedStrategy<Value> {
    prop_oneof![patch_of(false), patch_of(true)].boxed()
}

/// A valid configuration reached from the factory settings by random patches.
fn valid_config() -> impl Strategy<Value = Config> {
    prop::collection::vec(patch_of(false), 0..10).prop_map(|ps| {
        ps.iter()
            .fold(Config::default(), |c, p| apply_patch(&c, p).unwrap_or(c))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// (a) All-or-nothing: after any sequence of patches the config validates, equals RFC 7396
    /// applied to the previous one when accepted, is unchanged when refused, and re-parses to
    /// itself.
    #[test]
    fn random_patches_keep_a_valid_self_reparsing_config(ps in prop::collection::vec(patch(), 1..25)) {
        let mut cur = Config::default();
        for p in &ps {
            let before = cur.to_json();
            match apply_patch(&cur, p) {
                Ok(next) => {
                    let mut want = before.clone();
                    json_patch::merge(&mut want, p);
                    prop_assert_eq!(next.to_json(), want, "API-04: only the fields given change");
                    cur = next;
                }
                Err(e) => {
                    prop_assert_eq!(&cur.to_json(), &before);
                    // Every error names a field of the patch or of the config, once.
                    for x in e.iter() {
                        prop_assert!(x.pointer.is_empty() || p.pointer(&x.pointer).is_some()
                            || before.pointer(&x.pointer).is_some(), "{}", x);
                    }
                    let mut ptrs = e.pointers();
                    ptrs.dedup();
                    prop_assert_eq!(ptrs.len(), e.iter().count(), "one error per field: {}", e);
                }
            }
            prop_assert!(cur.validate().is_ok());
            let text = serde_json::to_string(&cur.to_json()).unwrap();
            prop_assert_eq!(&serde_json::from_str::<Config>(&text).unwrap(), &cur);
            prop_assert_eq!(&Config::from_json(&cur.to_json()).unwrap(), &cur);
        }
    }

    /// (b) A power loss after any step of a save leaves exactly the old or the new config.
    #[test]
    fn power_loss_during_a_save_leaves_old_or_new(
        old in valid_config(), new in valid_config(), first_save in any::<bool>(),
    ) {
        for k in 0..=MemStore::STEPS + 1 {
            let mut s = MemStore::new();
            let old_on_disk = if first_save { None } else {
                s.save(&old).unwrap();
                Some(old.clone())
            };
            let r = s.fail_after(k).save(&new);
            let survived = s.durable_config();
            prop_assert!(survived.is_ok(), "broken after a power loss at step {}: {:?}", k, survived);
            let survived = survived.unwrap();
            prop_assert!(survived == old_on_disk || survived.as_ref() == Some(&new), "k={}", k);
            match r {
                Ok(()) => {
                    prop_assert_eq!(survived.as_ref(), Some(&new), "an acknowledged save is durable")
                }
                Err(e) => prop_assert!(matches!(e, StoreError::PowerLoss { step } if step == k), "{}", e),
            }
            prop_assert_eq!(s.load().unwrap(), survived, "the reboot loads what survived");
        }
    }
}

/// The patch generator is not vacuous: many patches are accepted, many refused.
#[test]
fn the_patch_generator_mixes_accepted_and_refused() {
    let mut runner = TestRunner::deterministic();
    let strategy = patch();
    let mut ok = 0;
    for _ in 0..1000 {
        let p = strategy.new_tree(&mut runner).unwrap().current();
        ok += apply_patch(&Config::default(), &p).is_ok() as u32;
    }
    assert!((200..=800).contains(&ok), "{ok} of 1000 accepted");
    let configs = valid_config();
    let custom = (0..200)
        .filter(|_| {
            !configs
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .is_factory()
        })
        .count();
    assert!(
        custom >= 150,
        "only {custom} of 200 generated configs differ from the factory"
    );
}

/// (c) The factory settings validate and are recognised as such.
#[test]
fn factory_settings_validate() {
    let c = Config::default();
    assert!(c.is_factory());
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(Config::from_json(&c.to_json()), Ok(c.clone()));
    assert_eq!(apply_patch(&c, &json!({})), Ok(c.clone()));
    assert!(!apply_patch(&c, &json!({"MQTT": {"Enabled": false}}))
        .unwrap()
        .is_factory());
    let mut s = MemStore::new();
    assert_eq!(
        s.load().unwrap(),
        None,
        "an empty store means factory settings"
    );
}

#[test]
fn ipv4_table() {
    for s in ["0.0.0.0", "192.168.10.101", "255.255.255.255", "10.0.0.1"] {
        assert_eq!(check_ipv4(s), Ok(()), "{s}");
    }
    let bad = "300.1.1.1|1.2.3|1.2.3.4.5|+1.2.3.4|01.2.3.4|1.2.3.-4|a.b.c.d| 1.2.3.4|1.2.3.4 \
               |1..3.4|1.2.3.4/24|1.2.3.4:80|1.2.3.256|0x1.2.3.4|１.2.3.4";
    for s in bad.split('|') {
        assert!(check_ipv4(s).is_err(), "{s:?}");
    }
    for s in ["::1", "fe80::1", "2001:db8::5", "[::1]", "::ffff:1.2.3.4"] {
        assert!(
            check_ipv4(s)
                .unwrap_err()
                .to_string()
                .starts_with("IPv6 is not supported"),
            "{s}"
        );
    }
}

#[test]
fn netmask_table() {
    for s in ["0", "8", "24", "32"] {
        assert_eq!(check_prefix(s), Ok(()), "{s}");
    }
    for s in "33|-1|+24|024|00|24 |/24|1e1|255.255.255.0|| 24|100".split('|') {
        assert!(check_prefix(s).is_err(), "{s:?}");
    }
    let hint = check_prefix("255.255.240.0").unwrap_err().to_string();
    assert!(hint.ends_with("for 255.255.240.0 write \"20\""), "{hint}");
}

#[test]
fn broker_table() {
    let good = "mqtts://broker.xemex-cloud.eu:8883|mqtt://localhost|mqtt://10.0.0.1:1883|\
                mqtts://a:1|mqtts://b:65535|mqtt://Broker-1.Example.COM|mqtt://a1.b2";
    for s in good.split('|') {
        assert_eq!(check_broker(s), Ok(()), "{s}");
    }
    let bad = "broker.example.com|http://broker|MQTTS://b|mqtts://|mqtts://:8883|mqtts://b:0|\
               mqtts://b:65536|mqtts://b:|mqtts://b:08|mqtts://b:x|mqtts://b/|\
               mqtts://b:8883/path|mqtts://b?x|mqtts://b#f|mqtts://u:p@b|mqtts://-b|mqtts://b-|\
               mqtts://b_c|mqtts://300.1.1.1|mqtts://1.2.3|mqtts://a..b|mqtts://b.|mqtts://b c|\
               mqtts://b | mqtts://b|mqtt:/b|mqtts//b";
    for s in bad.split('|') {
        assert!(check_broker(s).is_err(), "{s:?}");
    }
    assert!(check_broker(&format!("mqtt://{}", "a".repeat(64))).is_err());
    assert_eq!(check_broker(&format!("mqtt://{}", "a".repeat(63))), Ok(()));
    for s in ["mqtts://[::1]:8883", "mqtt://fe80::1"] {
        assert!(
            check_broker(s)
                .unwrap_err()
                .to_string()
                .starts_with("IPv6 is not supported"),
            "{s}"
        );
    }
}
