//! The settings in force: disabled MQTT sends nothing and enabling takes effect after a restart
//! (MQ-01); Home Assistant discovery is retained and off by default.

use super::support::{boot, device, next, serial, status, telegram, until, T0};
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::{Effect, Event, Reply};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_mqtt_sends_nothing_and_enabling_takes_effect_after_a_restart() {
    // MQ-01.
    let mut cfg = Config::default();
    cfg.mqtt.enabled = false;
    let (host, clock) = device(0, Some(cfg), T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    host.handle(Event::SerialBytes(telegram(1)));
    let t = clock.advance(1_000);
    host.handle(Event::Tick);
    let s = until(&client, "the client to see the boot", |s| {
        s.device_time >= t
    })
    .await;
    assert!(!s.enabled && s.attempts == 0, "{s:?}");
    assert_eq!(status(&host)["MQTT"]["Enabled"], false);

    // Enable through the config API: stored, but not in force until a restart.
    let fx = host.handle(Event::PatchConfig(
        serde_json::json!({"MQTT": {"Enabled": true}}),
    ));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Reply(Reply::Config(Ok(_))))),
        "{fx:?}"
    );
    host.handle(Event::SerialBytes(telegram(2)));
    let t = clock.advance(1_000);
    host.handle(Event::Tick);
    let s = until(&client, "the client to see the patch", |s| {
        s.device_time >= t
    })
    .await;
    assert!(!s.enabled && s.attempts == 0, "not before a restart: {s:?}");
    assert!(broker.tls_clients().is_empty(), "never connected");
    assert!(rx.try_recv().is_err(), "nothing published");

    host.handle(Event::SoftReset);
    boot(&host, &clock);
    until(&client, "connected after the restart", |s| {
        s.enabled && s.connected
    })
    .await;
    host.handle(Event::SerialBytes(telegram(3)));
    let m = next(&mut rx).await;
    assert_eq!(
        m.json().unwrap()["power_import_w"],
        3.0,
        "the first message is from after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_discovery_is_retained_and_off_by_default() {
    assert!(!MqttOptions::default().ha_discovery);
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut data = broker.subscribe("devices/#").await.unwrap();
    let _client = MqttClient::start(
        Arc::clone(&host),
        MqttOptions {
            ha_discovery: true,
            ..MqttOptions::embedded(&broker)
        },
    );
    boot(&host, &clock);
    host.handle(Event::SerialBytes(telegram(5)));
    // The configs went out before this measurement on the same connection, so the broker
    // holds them once the measurement arrives; a subscriber that comes later gets them
    // because they are retained.
    next(&mut data).await;
    let mut rx = broker.subscribe("homeassistant/#").await.unwrap();
    let mut topics = Vec::new();
    for _ in 0..12 {
        let m = next(&mut rx).await;
        assert!(m.retain, "{}", m.topic);
        assert_eq!(
            m.json().unwrap()["state_topic"],
            format!("devices/unknown-site/smart-connect/{sn}/data/measurements")
        );
        topics.push(m.topic);
    }
    topics.sort();
    topics.dedup();
    assert_eq!(topics.len(), 12);
    assert!(topics.contains(&format!(
        "homeassistant/sensor/smart_connect_{sn}/active_power_w/config"
    )));
}
