//! The simulator's additions to `/api/v1` ([sim], not in the manual): `POST /api/v1/logout`
//! ends the session at once, `GET /api/v1/meter` shows the register snapshot's values, and
//! the status's `Config.Pending` lists the saved settings that wait for a restart.

use super::support::{client, Dev};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smart_connect_sim::device::Event;
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};

#[tokio::test]
async fn logout_ends_the_session_so_another_client_gets_in_at_once() {
    let dev = Dev::new().await;
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
    let other = client("127.0.0.2");
    let status = |c: &reqwest::Client| {
        c.get(dev.url("/api/v1/status"))
            .basic_auth("user", Some(&dev.password))
            .send()
    };
    assert_eq!(
        status(&other).await.unwrap().status(),
        StatusCode::CONFLICT,
        "the first client holds the session"
    );
    // Only the holder can end it: the other client's logout is refused by the session rule.
    let r = other
        .post(dev.url("/api/v1/logout"))
        .basic_auth("user", Some(&dev.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = dev
        .req(Method::POST, "/api/v1/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty(), "204 has no body");
    assert_eq!(
        status(&other).await.unwrap().status(),
        StatusCode::OK,
        "no 5-minute wait after a logout (no device time passed)"
    );
    assert_eq!(
        dev.get("/api/v1/status").await.0,
        StatusCode::CONFLICT,
        "now the first client is the second one"
    );
    // Without credentials: 401, the session is untouched.
    let r = client("127.0.0.3")
        .post(dev.url("/api/v1/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(status(&other).await.unwrap().status(), StatusCode::OK);
}

fn telegram(volts: f32, amps: f32, watts_per_phase: f32) -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    for p in 0..3 {
        r.voltage_v[p] = Some(volts + p as f32);
        r.current_a[p] = Some(amps);
        r.active_power_phase_w[p] = Some(watts_per_phase);
    }
    r.power_import_w = Some(3.0 * watts_per_phase);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

#[tokio::test]
async fn meter_shows_the_register_snapshot_under_the_design_names() {
    let dev = Dev::new().await;
    let (s, v) = dev.get("/api/v1/meter").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["telegram_seq"], 0, "no telegram yet: {v}");
    assert_eq!(v["timestamp"], Value::Null);
    assert_eq!(
        v["voltage_l1_v"], 0.0,
        "the registers hold 0 before a telegram"
    );
    assert_eq!(v["register_map"], "PhoenixContact-EMPro");

    dev.run_for(1_000);
    dev.host
        .handle(Event::SerialBytes(telegram(230.0, 4.0, 900.0)));
    let (_, v) = dev.get("/api/v1/meter").await;
    assert_eq!(v["telegram_seq"], 1, "{v}");
    assert_eq!(v["voltage_l1_v"], 230.0);
    assert_eq!(v["voltage_l3_v"], 232.0);
    assert_eq!(v["current_l2_a"], 4.0);
    assert_eq!(v["active_power_l1_w"], 900.0);
    assert_eq!(v["active_power_w"], 2700.0);
    assert_eq!(v["power_import_w"], 2700.0);
    assert_eq!(v["power_export_w"], 0.0);
    assert_eq!(v["timestamp"], 1_750_000_007, "the device clock, epoch s");
    // The values are the ones Modbus answers: total active power in the EMPro map.
    let served = dev.host.served().values;
    assert_eq!(served.active_power_w, 2700.0);

    dev.run_for(1_000);
    dev.host
        .handle(Event::SerialBytes(telegram(228.5, 2.0, 450.0)));
    let (_, v) = dev.get("/api/v1/meter").await;
    assert_eq!(v["telegram_seq"], 2);
    assert_eq!(v["voltage_l1_v"], 228.5);
    assert_eq!(v["active_power_w"], 1350.0);

    let r = client("127.0.0.2")
        .get(dev.url("/api/v1/meter"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "authenticated only");
}

#[tokio::test]
async fn pending_lists_the_saved_settings_until_a_restart_applies_them() {
    let dev = Dev::new().await;
    let pending = |v: &Value| v["Config"]["Pending"].clone();
    let (_, v) = dev.get("/api/v1/status").await;
    assert_eq!(pending(&v), json!([]));
    let patch = json!({"MQTT": {"Site": "garage"}, "Ethernet": {"IpMode": "Static",
        "StaticIPv4": {"IpAddress": "192.168.1.50", "Netmask": "24", "Gateway": "192.168.1.1"}}});
    assert_eq!(dev.patch(&patch).await.0, StatusCode::OK);
    let (_, v) = dev.get("/api/v1/status").await;
    assert_eq!(
        pending(&v),
        json!([
            "/Ethernet/IpMode",
            "/Ethernet/StaticIPv4/Gateway",
            "/Ethernet/StaticIPv4/IpAddress",
            "/Ethernet/StaticIPv4/Netmask",
            "/MQTT/Site"
        ])
    );
    // Saving the value in force again: no longer pending.
    assert_eq!(
        dev.patch(&json!({"MQTT": {"Site": "unknown-site"}}))
            .await
            .0,
        StatusCode::OK
    );
    let (_, v) = dev.get("/api/v1/status").await;
    assert!(
        !pending(&v)
            .as_array()
            .unwrap()
            .contains(&json!("/MQTT/Site")),
        "{v}"
    );
    let r = dev.req(Method::POST, "/api/v1/reset").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    dev.run_for(10_000);
    let (s, v) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(pending(&v), json!([]), "the restart applied them");
}
