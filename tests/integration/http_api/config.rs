//! The configuration document (GET) and merge patches: only the fields given change, errors
//! name the field and change nothing, and the configuration survives power cycles and resets.

use super::support::{ctype, Dev, OFF, USB};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smart_connect_sim::adapters::file_store::FileStore;
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::Event;

fn keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            keys(x, &p, out);
        }
    }
}

#[tokio::test]
async fn get_config_returns_the_manuals_document_with_every_key() {
    let dev = Dev::new().await;
    let r = dev.req(Method::GET, "/api/v1/config").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ctype(&r), "application/json");
    assert_eq!(
        r.headers()["cache-control"],
        "no-store",
        "the document holds secrets"
    );
    let v: Value = r.json().await.unwrap();
    let mut got = Vec::new();
    keys(&v, "", &mut got);
    got.sort();
    let static_keys =
        |b: &str| ["IpAddress", "Netmask", "Gateway", "DNS"].map(|k| format!("{b}/StaticIPv4/{k}"));
    let mut want: Vec<String> = [
        "/MeterType",
        "/DefaultNetIf",
        "/Ethernet",
        "/Ethernet/IpMode",
        "/Ethernet/StaticIPv4",
        "/WiFi",
        "/WiFi/IpMode",
        "/WiFi/SSID",
        "/WiFi/Password",
        "/WiFi/StaticIPv4",
        "/MQTT",
        "/MQTT/Enabled",
        "/MQTT/Broker",
        "/MQTT/Site",
        "/MQTT/Username",
        "/MQTT/Password",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(static_keys("/Ethernet"))
    .chain(static_keys("/WiFi"))
    .collect();
    want.sort();
    assert_eq!(got, want, "API-03 + API-11 keys");
    assert_eq!(v, Config::default().to_json(), "factory settings");
    assert_eq!(v["MQTT"]["Broker"], "mqtts://broker.xemex-cloud.eu:8883");
    assert_eq!(v["MQTT"]["Site"], "unknown-site");
    assert_eq!(v["MQTT"]["Enabled"], true);
    assert_eq!(v["MeterType"], "PhoenixContact-EMPro");
}

#[tokio::test]
async fn patch_changes_only_the_fields_given() {
    let dev = Dev::new().await;
    let mut want = dev.config().await;
    let (s, v) = dev.patch(&json!({"MQTT": {"Site": "garage-2"}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    want["MQTT"]["Site"] = json!("garage-2");
    assert_eq!(v, want, "the reply is the whole new configuration");
    assert_eq!(dev.config().await, want);

    let stat = json!({"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101", "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}});
    // Plain application/json with a charset parameter is accepted as well.
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({"Ethernet": stat}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    want["Ethernet"] = stat;
    assert_eq!(dev.config().await, want, "Site stayed, Ethernet changed");

    let (s, _) = dev
        .patch(&json!({"Ethernet": {"StaticIPv4": {"DNS": "9.9.9.9"}}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    want["Ethernet"]["StaticIPv4"]["DNS"] = json!("9.9.9.9");
    assert_eq!(dev.config().await, want, "a nested key alone");
    assert_eq!(
        dev.patch(&json!({})).await.1,
        want,
        "an empty patch changes nothing"
    );
}

#[tokio::test]
async fn patch_errors_name_the_field_and_change_nothing() {
    let dev = Dev::new().await;
    dev.patch(&json!({"MQTT": {"Site": "before"}})).await;
    let before = dev.config().await;
    let stat = |ip: &str, mask: &str| json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": ip, "Netmask": mask}}});
    let cases: Vec<(Value, &str)> = vec![
        (stat("300.1.1.1", "24"), "/Ethernet/StaticIPv4/IpAddress"),
        (stat("192.168.1.10", "33"), "/Ethernet/StaticIPv4/Netmask"),
        (
            json!({"MQTT": {"Broker": "broker.example.com:8883"}}),
            "/MQTT/Broker",
        ),
        (json!({"MQTT": {"Sitee": "x"}}), "/MQTT/Sitee"),
        (json!({"Foo": 1}), "/Foo"),
        (
            json!({"MQTT": {"Site": "after"}, "WiFi": {"StaticIPv4": {"Netmask": "33"}}}),
            "/WiFi/StaticIPv4/Netmask",
        ),
        (json!({"MQTT": {"Enabled": "yes"}}), "/MQTT/Enabled"),
        (json!({"MQTT": null}), "/MQTT"),
        (json!([1, 2]), ""),
    ];
    for (body, pointer) in cases {
        let r = dev
            .req(Method::PATCH, "/api/v1/config")
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(ctype(&r), "application/problem+json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["pointer"], pointer, "{body} → {v}");
        assert_eq!(v["errors"][0]["pointer"], pointer);
        assert_eq!(v["field"], pointer, "the device's own error member");
        assert_eq!(v["status"], 422);
        assert_eq!(v["title"], "Invalid configuration");
        assert_eq!(v["instance"], "/api/v1/config");
        assert!(v["detail"].as_str().unwrap().starts_with(pointer), "{v}");
        assert_eq!(dev.config().await, before, "{body} changed something");
    }

    // Malformed JSON: 400.
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json")
        .body(r#"{"MQTT": {"Site": "after""#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(ctype(&r), "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("malformed JSON at line 1"),
        "{v}"
    );

    // Wrong or missing content type: 415 with Accept-Patch.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut rb = dev
            .req(Method::PATCH, "/api/v1/config")
            .body(r#"{"MQTT": {"Site": "after"}}"#);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(
            r.headers()["accept-patch"],
            "application/merge-patch+json, application/json"
        );
        assert_eq!(ctype(&r), "application/problem+json");
    }

    // Too large: 413.
    let big = json!({"MQTT": {"Site": "x".repeat(17 * 1024)}}).to_string();
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(ctype(&r), "application/problem+json");
    assert_eq!(
        dev.config().await,
        before,
        "nothing changed after all those errors"
    );
}

#[tokio::test]
async fn every_refused_field_is_listed_at_once_and_nothing_changes() {
    let dev = Dev::new().await;
    let before = dev.config().await;
    let body = json!({
        "MQTT": {"Site": "a/b", "Broker": "broker.example.com", "Password": "x".repeat(129)},
        "WiFi": {"Password": "short"},
        "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.1.10",
            "Netmask": "24", "Gateway": "10.0.0.1"}},
        "DefaultNetIf": "Wifi"
    });
    let (s, v) = dev.patch(&body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let pointers: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/DefaultNetIf",
            "/Ethernet/StaticIPv4/Gateway",
            "/WiFi/Password",
            "/MQTT/Broker",
            "/MQTT/Site",
            "/MQTT/Password",
        ],
        "{v}"
    );
    for e in v["errors"].as_array().unwrap() {
        assert!(!e["detail"].as_str().unwrap().is_empty(), "{e}");
    }
    let gw = &v["errors"][1]["detail"];
    assert!(
        gw.as_str()
            .unwrap()
            .starts_with("must be in the subnet 192.168.1.0/24 of IpAddress"),
        "{gw}"
    );
    // The top-level members describe the first error, as with a single one.
    assert_eq!(v["pointer"], "/DefaultNetIf");
    assert_eq!(v["field"], "/DefaultNetIf");
    assert_eq!(v["value"], "Wifi");
    assert!(v["detail"].as_str().unwrap().starts_with("/DefaultNetIf: "));
    assert!(v["error"].as_str().unwrap().starts_with("/DefaultNetIf: "));
    assert_eq!(v["message"], v["errors"][0]["detail"]);
    // Secrets are not echoed anywhere in the answer.
    assert!(!v.to_string().contains("xxxxxxxx"), "{v}");
    assert!(!v.to_string().contains("short"), "{v}");
    assert_eq!(dev.config().await, before, "nothing changed");

    // A gateway inside the subnet is accepted.
    let ok = json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.1.10",
        "Netmask": "24", "Gateway": "192.168.1.1"}}});
    let (s, v) = dev.patch(&ok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["Ethernet"]["StaticIPv4"]["Gateway"], "192.168.1.1");
}

#[tokio::test]
async fn configuration_survives_power_cycles_resets_and_a_new_host() {
    let dir = std::env::temp_dir().join(format!("sc-http-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    let _ = std::fs::remove_file(&path);
    let dev = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (s, want) = dev.patch(&json!({"MQTT": {"Site": "kept", "Username": "u1"}, "WiFi": {"SSID": "home", "Password": "12345678"}})).await;
    assert_eq!(s, StatusCode::OK);

    dev.host.handle(Event::Power(OFF));
    assert!(!dev.host.served().serving);
    let (s, v) = dev.get("/api/v1/config").await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "no answers without power: {v}"
    );
    assert_eq!(v["status"], 503);
    dev.run_for(10_000);
    dev.host.handle(Event::Power(USB));
    dev.run_for(6_000);
    assert_eq!(dev.config().await, want, "after a power cycle");

    assert_eq!(
        dev.req(Method::POST, "/api/v1/reset")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    dev.run_for(6_000);
    assert_eq!(dev.config().await, want, "after a soft reset");

    // A device that starts from the same flash (a new host on the same store) reads it back.
    let again = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    assert_eq!(again.config().await, want, "read back from the store");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every boot reads the store (the device's flash), not what the device remembered: a file
/// changed while the device was off is what it comes back with, and a file made unreadable
/// meanwhile is moved aside and the device comes back on factory settings, saying why.
#[tokio::test]
async fn every_boot_reads_the_settings_from_the_store() {
    let dir = std::env::temp_dir().join(format!("sc-http-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    let _ = std::fs::remove_file(&path);
    let dev = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (s, _) = dev.patch(&json!({"MQTT": {"Site": "before"}})).await;
    assert_eq!(s, StatusCode::OK);

    dev.host.handle(Event::Power(OFF));
    let mut elsewhere = FileStore::new(&path);
    let mut changed = smart_connect_sim::device::store::ConfigStore::load(&mut elsewhere)
        .unwrap()
        .unwrap();
    changed.mqtt.site = "written-while-off".into();
    smart_connect_sim::device::store::ConfigStore::save(&mut elsewhere, &changed).unwrap();
    dev.run_for(2_000);
    dev.host.handle(Event::Power(USB));
    dev.run_for(6_000);
    assert_eq!(dev.config().await["MQTT"]["Site"], "written-while-off");

    dev.host.handle(Event::Power(OFF));
    std::fs::write(&path, b"{ torn").unwrap();
    dev.run_for(2_000);
    dev.host.handle(Event::Power(USB));
    dev.run_for(6_000);
    assert_eq!(
        dev.config().await,
        Config::default().to_json(),
        "factory settings"
    );
    let (_, status) = dev.get("/api/v1/status").await;
    let kept = status["Config"]["Recovered"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(kept.starts_with("config.json.corrupt-"), "{status}");
    assert_eq!(std::fs::read(dir.join(&kept)).unwrap(), b"{ torn");
    std::fs::remove_dir_all(dir).unwrap();
}
