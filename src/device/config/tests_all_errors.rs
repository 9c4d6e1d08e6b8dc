//! Every refused field at once (document order, one per field, secrets not echoed, nothing
//! applied) and the gateway-in-subnet rule.

use super::*;

fn patch(p: Value) -> Result<Config, ConfigErrors> {
    apply_patch(&Config::default(), &p)
}

/// A configuration with a static Ethernet address 192.168.1.10/24.
fn static_eth() -> Config {
    let p = json!({"Ethernet": {"IpMode": "Static",
        "StaticIPv4": {"IpAddress": "192.168.1.10", "Netmask": "24"}}});
    patch(p).unwrap()
}

#[test]
fn every_bad_field_is_reported_in_document_order() {
    // Written out of order on purpose: the answer follows the document, not the patch.
    let p = json!({
        "MQTT": {"Site": "a/b", "Broker": "broker.example.com", "Password": "x".repeat(129)},
        "WiFi": {"Password": "short"},
        "Ethernet": {"StaticIPv4": {"Netmask": "33", "IpAddress": "300.1.1.1"}},
        "MeterType": "SDM630"
    });
    let e = patch(p).unwrap_err();
    assert_eq!(
        e.pointers(),
        [
            "/MeterType",
            "/Ethernet/StaticIPv4/IpAddress",
            "/Ethernet/StaticIPv4/Netmask",
            "/WiFi/Password",
            "/MQTT/Broker",
            "/MQTT/Site",
            "/MQTT/Password",
        ]
    );
    let by = |ptr: &str| e.iter().find(|x| x.pointer == ptr).unwrap().clone();
    assert_eq!(by("/WiFi/Password").value, Value::Null, "secret not echoed");
    assert_eq!(by("/MQTT/Password").value, Value::Null, "secret not echoed");
    assert_eq!(by("/MQTT/Site").value, json!("a/b"));
    assert!(by("/MQTT/Broker").message.contains("mqtt://"));
    assert_eq!(e.first().pointer, "/MeterType");
    assert!(e.to_string().starts_with("/MeterType: "));
    assert!(e.to_string().contains("; /MQTT/Site: "));
}

#[test]
fn shape_and_value_errors_come_together_without_descending_into_a_wrong_type() {
    let p = json!({
        "Ethernet": 5,
        "WiFi": {"Ssid": "x", "IpMode": "static", "Password": "short", "StaticIPv4": null},
        "MQTT": {"Enabled": "yes", "Site": "a b", "Colour": "blue"},
        "DefaultNetIf": "Wifi"
    });
    let e = patch(p).unwrap_err();
    assert_eq!(
        e.pointers(),
        [
            "/DefaultNetIf",
            "/Ethernet",
            "/WiFi/Ssid",
            "/WiFi/IpMode",
            "/WiFi/Password",
            "/WiFi/StaticIPv4",
            "/MQTT/Colour",
            "/MQTT/Enabled",
            "/MQTT/Site",
        ]
    );
    assert_eq!(e.first().message, "must be one of \"Ethernet\", \"WiFi\"");
    let eth = e.iter().find(|x| x.pointer == "/Ethernet").unwrap();
    assert_eq!(
        (eth.message.as_str(), &eth.value),
        ("expected an object, got a number", &json!(5))
    );
}

#[test]
fn a_whole_document_reports_every_shape_error() {
    let mut j = Config::default().to_json();
    j["WiFi"].as_object_mut().unwrap().remove("SSID");
    j["MQTT"]["Port"] = json!(1);
    j["Ethernet"] = json!("eth0");
    let e = Config::from_json(&j).unwrap_err();
    assert_eq!(e.pointers(), ["/Ethernet", "/WiFi/SSID", "/MQTT/Port"]);
}

#[test]
fn one_error_per_field_the_first_found() {
    // A control character and too long: the control character is named.
    let e = patch(json!({"WiFi": {"SSID": format!("{}\n", "x".repeat(40))}})).unwrap_err();
    assert_eq!(e.pointers(), ["/WiFi/SSID"]);
    assert!(e.first().message.contains("control characters"));
}

#[test]
fn nothing_changes_and_every_error_is_reported() {
    let cur = patch(json!({"MQTT": {"Site": "before"}})).unwrap();
    let p = json!({"MQTT": {"Site": "after", "Broker": "x", "Username": "y".repeat(129)},
        "WiFi": {"Password": "1"}});
    let e = apply_patch(&cur, &p).unwrap_err();
    assert_eq!(e.iter().count(), 3);
    assert_eq!(cur.mqtt.site, "before");
    assert_eq!(
        e.pointers(),
        ["/WiFi/Password", "/MQTT/Broker", "/MQTT/Username"]
    );
}

#[test]
fn a_gateway_outside_the_static_subnet_is_refused() {
    let cur = static_eth();
    let p = json!({"Ethernet": {"StaticIPv4": {"Gateway": "10.0.0.1"}}});
    let e = apply_patch(&cur, &p).unwrap_err();
    assert_eq!(e.pointers(), ["/Ethernet/StaticIPv4/Gateway"]);
    let e = e.first();
    assert_eq!(e.value, json!("10.0.0.1"));
    assert!(
        e.message
            .starts_with("must be in the subnet 192.168.1.0/24 of IpAddress (192.168.1.10"),
        "{}",
        e.message
    );
    // Moving the address away from a kept gateway is refused the same way.
    let cur = apply_patch(
        &cur,
        &json!({"Ethernet": {"StaticIPv4": {"Gateway": "192.168.1.1"}}}),
    )
    .unwrap();
    let p = json!({"Ethernet": {"StaticIPv4": {"IpAddress": "192.168.2.10"}}});
    let e = apply_patch(&cur, &p).unwrap_err();
    assert_eq!(e.pointers(), ["/Ethernet/StaticIPv4/Gateway"]);
    assert!(e.first().message.contains("192.168.2.0/24"));
    // On Wi-Fi, in DHCP mode too (the static values are kept for later).
    let p = json!({"WiFi": {"StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "16",
        "Gateway": "10.2.0.1"}}});
    assert_eq!(
        patch(p).unwrap_err().pointers(),
        ["/WiFi/StaticIPv4/Gateway"]
    );
}

#[test]
fn a_gateway_inside_the_static_subnet_is_accepted() {
    let cur = static_eth();
    for gw in ["192.168.1.1", "192.168.1.254", "192.168.1.10"] {
        let p = json!({"Ethernet": {"StaticIPv4": {"Gateway": gw}}});
        assert!(apply_patch(&cur, &p).is_ok(), "{gw}");
    }
    // The manual's example and a wide subnet.
    let p = json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101",
        "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}}});
    assert!(patch(p).is_ok());
    let p = json!({"WiFi": {"StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "8",
        "Gateway": "10.200.0.1"}}});
    assert!(patch(p).is_ok());
    // Prefix 0: every address is in the subnet.
    let p = json!({"WiFi": {"StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "0",
        "Gateway": "172.16.0.1"}}});
    assert!(patch(p).is_ok());
}

#[test]
fn a_gateway_without_a_static_address_follows_the_other_rules() {
    // No address or no netmask: no subnet to compare with; the gateway is only an IPv4.
    assert!(patch(json!({"Ethernet": {"StaticIPv4": {"Gateway": "10.0.0.1"}}})).is_ok());
    let p =
        json!({"Ethernet": {"StaticIPv4": {"IpAddress": "192.168.1.10", "Gateway": "10.0.0.1"}}});
    assert!(patch(p).is_ok());
    // Static mode still needs the address and the netmask; the gateway is not blamed.
    let p = json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"Gateway": "10.0.0.1"}}});
    assert_eq!(
        patch(p).unwrap_err().pointers(),
        [
            "/Ethernet/StaticIPv4/IpAddress",
            "/Ethernet/StaticIPv4/Netmask"
        ]
    );
    // An invalid address or netmask is named; the subnet rule waits for valid values.
    let p = json!({"Ethernet": {"StaticIPv4": {"IpAddress": "192.168.1.300", "Netmask": "24",
        "Gateway": "10.0.0.1"}}});
    assert_eq!(
        patch(p).unwrap_err().pointers(),
        ["/Ethernet/StaticIPv4/IpAddress"]
    );
    let p = json!({"Ethernet": {"StaticIPv4": {"IpAddress": "192.168.1.1", "Netmask": "024",
        "Gateway": "10.0.0.1"}}});
    assert_eq!(
        patch(p).unwrap_err().pointers(),
        ["/Ethernet/StaticIPv4/Netmask"]
    );
}
