//! Remote commands (MQ-13, FW-01): firmware update and reset answer on `…/data/events`.

use super::support::{boot, device, next, serial, status, until, T0};
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmware_update_and_reset_commands_answer_on_events() {
    // MQ-13, FW-01.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let root = format!("devices/unknown-site/smart-connect/{sn}");
    let mut events = broker
        .subscribe(&format!("{root}/data/events"))
        .await
        .unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "subscribed to commands", |s| s.subscribed).await;

    let schema = events_schema();
    let command = |name: &str, body: &str| {
        broker.publish(&format!("{root}/cmd/{name}"), body).unwrap();
    };
    command("firmware-update", r#"{"Version":"1.5.0"}"#);
    let ok = next(&mut events).await.json().unwrap();
    assert!(
        schema.is_valid(&ok),
        "result does not match schemas/events.schema.json: {ok}"
    );
    let mut extra = ok.clone();
    extra["energy"] = serde_json::json!(1);
    assert!(
        !schema.is_valid(&extra),
        "the events schema admits unknown keys"
    );
    assert_eq!(
        (
            ok["command"].as_str(),
            ok["accepted"].as_bool(),
            ok["version"].as_str()
        ),
        (Some("firmware-update"), Some(true), Some("1.5.0")),
        "{ok}"
    );
    assert!(ok["reason"].is_null());
    assert_eq!(ok["timestamp"], host.now() / 1000);
    assert_eq!(status(&host)["System"]["FirmwareUpdate"], "downloading");

    command("firmware-update", r#"{"Version":"1.5.0"}"#);
    let busy = next(&mut events).await.json().unwrap();
    assert!(
        schema.is_valid(&busy),
        "result does not match schemas/events.schema.json: {busy}"
    );
    assert_eq!(busy["accepted"], false);
    assert!(
        busy["reason"].as_str().unwrap().contains("already"),
        "{busy}"
    );

    command("firmware-update", r#"{"version":"1.5.0"}"#);
    let bad = next(&mut events).await.json().unwrap();
    assert!(
        schema.is_valid(&bad),
        "result does not match schemas/events.schema.json: {bad}"
    );
    assert_eq!(bad["accepted"], false);
    assert!(bad["reason"].as_str().unwrap().contains("Version"), "{bad}");

    command("self-destruct", "");
    let unknown = next(&mut events).await.json().unwrap();
    assert!(
        schema.is_valid(&unknown),
        "result does not match schemas/events.schema.json: {unknown}"
    );
    assert_eq!(
        (unknown["command"].as_str(), unknown["accepted"].as_bool()),
        (Some("self-destruct"), Some(false))
    );

    let before = client.stats().generation;
    command("reset", "");
    let reset = next(&mut events).await.json().unwrap();
    assert!(
        schema.is_valid(&reset),
        "result does not match schemas/events.schema.json: {reset}"
    );
    assert_eq!(
        (reset["command"].as_str(), reset["accepted"].as_bool()),
        (Some("reset"), Some(true)),
        "{reset}"
    );
    until(&client, "the reboot", |s| s.generation > before).await;
    assert!(!host.served().serving, "the device restarted");
    assert_eq!(status(&host)["System"]["UptimeS"], 0);
    boot(&host, &clock);
    let s = until(&client, "reconnected after the reset", |s| s.connected).await;
    assert_eq!((s.connects, s.commands), (1, 0), "numbers of the new boot");
}

/// The published JSON Schema of command results (MQ-14).
fn events_schema() -> smart_connect_sim::conformance::schema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/events.schema.json"
    ))
    .unwrap();
    smart_connect_sim::conformance::schema::Validator::new(&serde_json::from_str(&text).unwrap())
        .expect("valid JSON Schema")
}
