//! The control surface against a device on virtual time, with no sockets: HTTP through the
//! router, the Modbus set-point through its PDU handler, the MQTT payload through its parser.
//! A change shows in the device's registers at exactly the next telegram; a refused one
//! changes nothing.

use super::feed::feed_house;
use super::{http, modbus, mqtt, Control};
use crate::adapters::host::Host;
use crate::adapters::runner::Pace;
use crate::device::power::PowerInputs;
use crate::device::{DeviceConfig, Variant};
use crate::protocol::MeterKind;
use crate::sim::clock::Clock;
use crate::sim::faults::FaultyMeter;
use crate::sim::generator::{Load, LoadComponent, SyntheticMeter};
use crate::sim::house::live::LiveHouse;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const START: i64 = 1_774_800_000_000;

struct Bench {
    ctl: Arc<Control>,
    pace: Pace,
}

fn bench() -> Bench {
    let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), START);
    let load = Load::Household(vec![LoadComponent::Base {
        watts: 460.0,
        noise: 0.0,
    }]);
    let kind = MeterKind::from_name("smr5").unwrap();
    let meter = SyntheticMeter::new(kind, load, 3, clock.now());
    let house = LiveHouse::new(FaultyMeter::new(meter, vec![]).unwrap());
    let power = PowerInputs {
        usb: true,
        p1_supply: false,
    };
    let ctl = Control::new(host, house, None, power);
    Bench {
        ctl,
        pace: Pace::Max(clock),
    }
}

impl Bench {
    /// Feed `n` telegrams (virtual time).
    async fn telegrams(&self, n: i64) {
        let until = self.ctl.with_house(|h| h.next_at()) + (n - 1) * 1000;
        feed_house(Arc::clone(&self.ctl), self.pace.clone(), Some(until)).await;
    }

    async fn call(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let r = http::router(Arc::clone(&self.ctl))
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn registers(&self) -> crate::device::registers::MeterValues {
        self.ctl.host().served().values
    }
}

#[tokio::test]
async fn a_change_shows_in_the_registers_at_exactly_the_next_telegram() {
    let b = bench();
    b.telegrams(3).await;
    let before = b.registers();
    assert!(before.active_power_w < 600.0, "{before:?}");
    let (s, state) = b
        .call(
            "PATCH",
            "/api/house",
            r#"{"ev": {"on": true, "amps": 16, "phases": 3}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{state}");
    assert_eq!(b.registers(), before, "nothing before the next telegram");
    b.telegrams(1).await;
    let after = b.registers();
    assert_eq!(after.telegram_seq, before.telegram_seq + 1);
    assert!(after.active_power_w > 11_000.0, "{after:?}");
    assert!(after.current_a.iter().all(|a| *a >= 16.0), "{after:?}");
    let (_, log) = b.call("GET", "/api/house/log", "").await;
    assert!(
        log[0]["change"].as_str().unwrap().contains("\"amps\":16"),
        "{log}"
    );
}

#[tokio::test]
async fn bad_control_input_changes_nothing() {
    let b = bench();
    b.telegrams(2).await;
    let (_, before) = b.call("GET", "/api/house", "").await;
    let (s, p) = b
        .call(
            "PATCH",
            "/api/house",
            r#"{"ev": {"amps": -1}, "battery": {}, "fuse": {"amps": 25, "trip": 1}, "colour": 3}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["colour", "ev.amps", "battery.watts", "fuse.trip"],
        "{p}"
    );
    let (s, p) = b.call("PATCH", "/api/house", r#"{"ev": {"amps": 6"#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        p["detail"].as_str().unwrap().contains("line 1 column"),
        "{p}"
    );
    let (s, p) = b
        .call("POST", "/api/house/faults", r#"{"kind": "hum"}"#)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("valid: bad_crc"),
        "{p}"
    );
    let (s, p) = b.call("PUT", "/api/house/speed", r#"{"speed": 10}"#).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "no speed control at --speed max: {p}"
    );
    let (_, after) = b.call("GET", "/api/house", "").await;
    assert_eq!(before["house"], after["house"]);
    assert!(b.ctl.log().is_empty());
}

#[tokio::test]
async fn a_fault_now_is_rejected_by_the_device_at_the_next_telegram() {
    let b = bench();
    b.telegrams(2).await;
    let seq = b.registers().telegram_seq;
    let (s, _) = b
        .call("POST", "/api/house/faults", r#"{"kind": "bad_crc"}"#)
        .await;
    assert_eq!(s, StatusCode::OK);
    b.telegrams(1).await;
    assert_eq!(
        b.registers().telegram_seq,
        seq,
        "the bad telegram is not read"
    );
    b.telegrams(1).await;
    assert_eq!(b.registers().telegram_seq, seq + 1);
}

#[tokio::test]
async fn the_modbus_set_point_register_drives_the_ev() {
    let b = bench();
    // FC 6: 10.0 A, then FC 3 reads it back.
    let w = modbus::answer(&b.ctl, &[6, 0, 0, 0, 100]);
    assert_eq!(w, [6, 0, 0, 0, 100]);
    let r = modbus::answer(&b.ctl, &[3, 0, 0, 0, 2]);
    assert_eq!(r, [3, 4, 0, 100, 0, 3]);
    b.telegrams(1).await;
    assert!(b.registers().current_a.iter().all(|a| *a >= 10.0));
    // FC 16: 6.0 A on one phase, as one change.
    let w = modbus::answer(&b.ctl, &[16, 0, 0, 0, 2, 4, 0, 60, 0, 1]);
    assert_eq!(w, [16, 0, 0, 0, 2]);
    b.telegrams(1).await;
    let v = b.registers();
    assert!(v.current_a[0] >= 6.0 && v.current_a[1] < 3.0, "{v:?}");
    // Refusals change nothing.
    let n = b.ctl.log().len();
    assert_eq!(
        modbus::answer(&b.ctl, &[6, 0, 0, 0x03, 0x21]),
        [0x86, 0x03],
        "80.1 A"
    );
    assert_eq!(
        modbus::answer(&b.ctl, &[6, 0, 1, 0, 2]),
        [0x86, 0x03],
        "2 phases"
    );
    assert_eq!(
        modbus::answer(&b.ctl, &[6, 0, 2, 0, 1]),
        [0x86, 0x02],
        "read-only"
    );
    assert_eq!(modbus::answer(&b.ctl, &[3, 0, 5, 0, 3]), [0x83, 0x02]);
    assert_eq!(modbus::answer(&b.ctl, &[5, 0, 0, 0xFF, 0]), [0x85, 0x01]);
    assert_eq!(b.ctl.log().len(), n);
}

#[tokio::test]
async fn an_mqtt_payload_sets_the_ev() {
    let b = bench();
    mqtt::set_point(&b.ctl, b"16").unwrap();
    mqtt::set_point(&b.ctl, br#"{"phases": 1}"#).unwrap();
    assert!(mqtt::set_point(&b.ctl, b"banana").is_err());
    assert!(mqtt::set_point(&b.ctl, br#"{"amps": 100}"#).is_err());
    b.telegrams(1).await;
    let v = b.registers();
    assert!(v.current_a[0] >= 16.0 && v.current_a[2] < 3.0, "{v:?}");
}

#[tokio::test]
async fn a_trip_powers_the_device_off_and_a_reset_brings_it_back() {
    let b = bench();
    let (s, _) = b
        .call(
            "PATCH",
            "/api/house",
            &json!({"fuse": {"amps": 16, "trip": true}, "base": {"l1": {"amps": 200}}}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    b.telegrams(2).await;
    assert!(
        !b.ctl.host().served().serving,
        "12.5 In: the magnetic release trips at once"
    );
    let (_, st) = b.call("GET", "/api/house/summary", "").await;
    assert_eq!(st["trips"], 1, "{st}");
    b.call("PATCH", "/api/house", r#"{"base": null}"#).await;
    let (s, _) = b.call("POST", "/api/house/fuse/reset", "").await;
    assert_eq!(s, StatusCode::OK);
    b.telegrams(15).await;
    assert!(b.ctl.host().served().serving, "booted again");
}
