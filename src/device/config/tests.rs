//! Each rule through `apply_patch` (the error names the pointer); the value tables of the
//! string checkers are in `tests/integration/config_props.rs`.
#![allow(clippy::arithmetic_side_effects)]

use super::*;

fn patch(p: Value) -> Result<Config, ConfigErrors> {
    apply_patch(&Config::default(), &p)
}

/// The first error a patch gets.
fn err(p: Value) -> ConfigError {
    patch(p.clone()).expect_err(&p.to_string()).first().clone()
}

/// The pointer of the (first) error a patch gets (and Display starts with it).
fn refused(p: Value) -> String {
    let e = err(p);
    assert!(e.pointer.is_empty() || e.to_string().starts_with(&format!("{}: ", e.pointer)));
    e.pointer
}

#[test]
fn factory_settings_validate_and_match_the_manual_shape() {
    let c = Config::default();
    assert!(c.is_factory() && c.validate().is_ok());
    let j = c.to_json();
    let want = json!({"MeterType": "PhoenixContact-EMPro", "DefaultNetIf": "Ethernet",
        "Ethernet": {"IpMode": "DHCP", "StaticIPv4":
            {"IpAddress": "", "Netmask": "", "Gateway": "", "DNS": ""}},
        "WiFi": {"IpMode": "DHCP", "SSID": "", "Password": "", "StaticIPv4":
            {"IpAddress": "", "Netmask": "", "Gateway": "", "DNS": ""}},
        "MQTT": {"Enabled": true, "Broker": "mqtts://broker.xemex-cloud.eu:8883",
            "Site": "unknown-site", "Username": "", "Password": ""}});
    assert_eq!(j, want);
    // The shape table and the structs agree: the factory JSON is a whole document.
    let mut errs = Vec::new();
    assert_eq!(
        check_shape(&j, &SCHEMA, "", false, &mut errs),
        Some(j.clone())
    );
    assert_eq!(errs, []);
    assert_eq!(Config::from_json(&j), Ok(c));
}

#[test]
fn the_manuals_get_example_is_accepted_as_a_patch() {
    let example = json!({"MeterType": "PhoenixContact-EMPro", "DefaultNetIf": "WiFi",
        "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101",
            "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}},
        "WiFi": {"IpMode": "DHCP", "SSID": "home"},
        "MQTT": {"Broker": "mqtts://broker.xemex-cloud.eu:8883", "Site": "site",
            "Username": "username", "Password": "password"}});
    let c = patch(example).unwrap();
    assert_eq!(c.ethernet.static_ipv4.netmask, "24");
    assert_eq!(c.default_net_if, NetIf::WiFi);
    assert!(!c.is_factory());
}

#[test]
fn merge_patch_changes_only_the_fields_given() {
    let c = patch(json!({"MQTT": {"Site": "site-new"}})).unwrap();
    let mut want = Config::default();
    want.mqtt.site = "site-new".into();
    assert_eq!(c, want);
    // Nested objects merge: the second patch keeps the first one's address.
    let p1 = json!({"Ethernet": {"StaticIPv4": {"IpAddress": "10.0.0.2"}}});
    let c = apply_patch(&c, &p1).unwrap();
    let c = apply_patch(&c, &json!({"Ethernet": {"StaticIPv4": {"Netmask": "8"}}})).unwrap();
    assert_eq!(c.ethernet.static_ipv4.ip_address, "10.0.0.2");
    assert_eq!(c.ethernet.static_ipv4.netmask, "8");
    assert_eq!(c.mqtt.site, "site-new");
    assert_eq!(apply_patch(&c, &json!({})), Ok(c.clone()));
    // The result is exactly RFC 7396 applied to the old document.
    let p = json!({"WiFi": {"SSID": "x", "StaticIPv4": {"DNS": "1.1.1.1"}}});
    let mut doc = c.to_json();
    json_patch::merge(&mut doc, &p);
    assert_eq!(apply_patch(&c, &p).unwrap().to_json(), doc);
}

#[test]
fn arrays_replace_and_wrong_types_are_refused_naming_the_field() {
    let cases = [
        (json!({"MQTT": {"Site": ["a"]}}), "/MQTT/Site"),
        (json!({"MQTT": {"Enabled": "yes"}}), "/MQTT/Enabled"),
        (json!({"MQTT": "off"}), "/MQTT"),
        (
            json!({"Ethernet": {"StaticIPv4": {"Netmask": 24}}}),
            "/Ethernet/StaticIPv4/Netmask",
        ),
        (
            json!({"Ethernet": {"IpMode": "static"}}),
            "/Ethernet/IpMode",
        ),
        (json!({"DefaultNetIf": "Wifi"}), "/DefaultNetIf"),
    ];
    for (p, ptr) in cases {
        assert_eq!(refused(p), ptr);
    }
}

#[test]
fn a_patch_must_be_an_object() {
    for p in [json!(null), json!([]), json!("x"), json!(3)] {
        assert_eq!(refused(p), "");
    }
    let msg = err(json!([1])).to_string();
    assert_eq!(msg, "the patch must be a JSON object, got an array");
}

#[test]
fn null_and_unknown_keys_are_refused_naming_the_key() {
    assert_eq!(refused(json!({"MQTT": {"Site": null}})), "/MQTT/Site");
    assert_eq!(refused(json!({"MQTT": null})), "/MQTT");
    assert_eq!(refused(json!({"Foo": null})), "/Foo");
    let p = json!({"WiFi": {"StaticIPv4": {"Mask": "24"}}});
    assert_eq!(refused(p), "/WiFi/StaticIPv4/Mask");
    assert_eq!(refused(json!({"a/b~c": 1})), "/a~1b~0c");
    let e = err(json!({"Ethernet": {"StaticIPv4": {"Dns": "1.1.1.1"}}}));
    let msg = "/Ethernet/StaticIPv4/Dns: unknown key; did you mean \"DNS\"?";
    assert_eq!(e.to_string(), msg);
    assert_eq!(e.value, json!("1.1.1.1"));
    // Unknown keys are refused by plain serde too.
    let mut j = Config::default().to_json();
    j["MQTT"]["Port"] = json!(1);
    assert!(serde_json::from_value::<Config>(j.clone()).is_err());
    assert_eq!(
        Config::from_json(&j).unwrap_err().pointers(),
        ["/MQTT/Port"]
    );
}

#[test]
fn a_whole_document_must_have_every_key() {
    let mut j = Config::default().to_json();
    j["WiFi"].as_object_mut().unwrap().remove("SSID");
    let e = Config::from_json(&j).unwrap_err();
    assert_eq!(e.to_string(), "/WiFi/SSID: missing");
}

#[test]
fn all_or_nothing_one_bad_field_refuses_the_whole_patch() {
    let cur = patch(json!({"MQTT": {"Site": "a"}})).unwrap();
    let before = cur.clone();
    let p = json!({"MQTT": {"Site": "b", "Broker": "broker.example.com"}});
    let e = apply_patch(&cur, &p).unwrap_err().first().clone();
    assert_eq!(e.pointer, "/MQTT/Broker");
    assert_eq!(e.value, json!("broker.example.com"));
    assert_eq!(cur, before);
    // Every error is reported, in document order.
    let e = patch(json!({"MQTT": {"Site": "a/b"}, "MeterType": "x"})).unwrap_err();
    assert_eq!(e.pointers(), ["/MeterType", "/MQTT/Site"]);
}

#[test]
fn ipv4_rule_on_every_address_field() {
    for iface in ["Ethernet", "WiFi"] {
        for field in ["IpAddress", "Gateway", "DNS"] {
            let ptr = format!("/{iface}/StaticIPv4/{field}");
            for bad in ["300.1.1.1", "1.2.3", "+1.2.3.4", "01.2.3.4", " 1.2.3.4"] {
                assert_eq!(refused(json!({iface: {"StaticIPv4": {field: bad}}})), ptr);
            }
            let e = err(json!({iface: {"StaticIPv4": {field: "fe80::1"}}}));
            assert!(e.message.starts_with("IPv6 is not supported"));
            assert_eq!((e.pointer, e.value), (ptr, json!("fe80::1")));
            assert!(patch(json!({iface: {"StaticIPv4": {field: "192.168.1.1"}}})).is_ok());
        }
    }
}

#[test]
fn netmask_rule() {
    for good in ["0", "24", "32"] {
        assert!(patch(json!({"WiFi": {"StaticIPv4": {"Netmask": good}}})).is_ok());
    }
    for bad in ["33", "024", "+24", "-1", "255.255.255.0"] {
        let e = err(json!({"WiFi": {"StaticIPv4": {"Netmask": bad}}}));
        assert_eq!(
            (e.pointer.as_str(), e.value),
            ("/WiFi/StaticIPv4/Netmask", json!(bad))
        );
    }
    assert_eq!(
        check_prefix("255.255.255.0"),
        Err(ValueError::Prefix {
            given: "255.255.255.0".into(),
            hint: Some(24)
        })
    );
    assert!(check_prefix("255.255.255.0")
        .unwrap_err()
        .to_string()
        .ends_with("write \"24\""));
    assert!(!check_prefix("255.0.255.0")
        .unwrap_err()
        .to_string()
        .contains("write"));
}

#[test]
fn static_mode_requires_address_and_netmask_only() {
    for iface in ["Ethernet", "WiFi"] {
        let p = json!({iface: {"IpMode": "Static"}});
        let want = ["IpAddress", "Netmask"].map(|f| format!("/{iface}/StaticIPv4/{f}"));
        assert_eq!(patch(p).unwrap_err().pointers(), want);
        let p = json!({iface: {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.0.0.5"}}});
        let e = err(p);
        assert_eq!(e.pointer, format!("/{iface}/StaticIPv4/Netmask"));
        assert_eq!(
            e.message,
            format!("required when /{iface}/IpMode is \"Static\"")
        );
        let p = json!({iface: {"IpMode": "Static",
            "StaticIPv4": {"IpAddress": "10.0.0.5", "Netmask": "24"}}});
        assert!(patch(p).is_ok());
    }
    // In DHCP mode the static values are kept (and validated) but not required.
    assert!(patch(json!({"Ethernet": {"StaticIPv4": {"Gateway": "10.0.0.1"}}})).is_ok());
}

#[test]
fn broker_rule() {
    for good in [
        "mqtt://localhost",
        "mqtts://10.0.0.1:1883",
        "mqtts://b.example.com:8883",
        "mqtts://my-broker.example.com",
    ] {
        assert!(patch(json!({"MQTT": {"Broker": good}})).is_ok(), "{good}");
    }
    for bad in [
        "broker.example.com",
        "http://b",
        "mqtts://b:0",
        "mqtts://b/x",
        "mqtts://",
        // RFC 1123 labels: letters, digits and inner hyphens, 1..63 bytes each.
        "mqtts://-b.example.com",
        "mqtts://b-.example.com",
        "mqtts://b_x.example.com",
        "mqtts://b..example.com",
    ] {
        assert_eq!(
            refused(json!({"MQTT": {"Broker": bad}})),
            "/MQTT/Broker",
            "{bad}"
        );
    }
    let e = err(json!({"MQTT": {"Broker": "mqtts://[::1]:8883"}}));
    assert!(e.message.starts_with("IPv6 is not supported"));
}

#[test]
fn wifi_rules() {
    assert!(patch(json!({"WiFi": {"Password": "12345678"}})).is_ok());
    assert!(patch(json!({"WiFi": {"Password": "~".repeat(63)}})).is_ok());
    for pw in [
        "1234567".into(),
        "x".repeat(64),
        "pässwort1".into(),
        "tab\there1".into(),
    ] {
        let e = err(json!({"WiFi": {"Password": pw}}));
        assert_eq!(
            (e.pointer.as_str(), e.value),
            ("/WiFi/Password", Value::Null)
        );
    }
    assert_eq!(refused(json!({"DefaultNetIf": "WiFi"})), "/WiFi/SSID");
    assert!(patch(json!({"DefaultNetIf": "WiFi", "WiFi": {"SSID": "s"}})).is_ok());
    assert!(patch(json!({"WiFi": {"SSID": "x".repeat(32)}})).is_ok());
    assert_eq!(
        refused(json!({"WiFi": {"SSID": "x".repeat(33)}})),
        "/WiFi/SSID"
    );
    assert_eq!(
        refused(json!({"WiFi": {"SSID": "é".repeat(17)}})),
        "/WiFi/SSID"
    );
}

#[test]
fn mqtt_site_and_credentials_rules() {
    for s in ["a", "site-new", "Site_2", &"x".repeat(64)] {
        assert!(patch(json!({"MQTT": {"Site": s}})).is_ok(), "{s}");
    }
    for s in ["", "a/b", "a+b", "#", "a b", "é", &"x".repeat(65)] {
        assert_eq!(refused(json!({"MQTT": {"Site": s}})), "/MQTT/Site", "{s}");
    }
    for f in ["Username", "Password"] {
        assert!(patch(json!({"MQTT": {f: "é".repeat(128)}})).is_ok());
        assert_eq!(
            refused(json!({"MQTT": {f: "x".repeat(129)}})),
            format!("/MQTT/{f}")
        );
    }
    let e = err(json!({"MQTT": {"Password": "x".repeat(129)}}));
    assert_eq!(e.value, Value::Null, "secrets are not echoed");
    assert!(patch(json!({"MQTT": {"Enabled": false}})).is_ok());
}

#[test]
fn meter_type_rule_lists_the_valid_names() {
    let c = patch(json!({"MeterType": "Eastron-SDM630"})).unwrap();
    assert_eq!(c.template(), Ok(Template::EastronSdm630));
    let e = err(json!({"MeterType": "SDM630"}));
    assert_eq!(e.pointer, "/MeterType");
    assert!(e.message.contains("PhoenixContact-EMPro") && e.message.contains("Eastron-SDM630"));
    assert_eq!(e.to_json()["field"], "/MeterType");
}

#[test]
fn pending_settings_are_the_differing_leaves_as_json_pointers() {
    let active = Config::default();
    assert!(active.pending_against(&active).is_empty());
    let mut saved = active.clone();
    saved.ethernet.ip_mode = IpMode::Static;
    saved.ethernet.static_ipv4.gateway = "10.0.0.1".into();
    saved.mqtt.site = "garage-2".into();
    assert_eq!(
        saved.pending_against(&active),
        [
            "/Ethernet/IpMode",
            "/Ethernet/StaticIPv4/Gateway",
            "/MQTT/Site"
        ]
    );
}
