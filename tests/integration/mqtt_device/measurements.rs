//! One schema-valid measurement per valid telegram (MQ-04, MQ-08..MQ-12, MQ-14), with the
//! serial as client id and certificate CN (MQ-03, MQ-05).

use super::support::{boot, device, next, schema, serial, status, telegram, until, T0};
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::Event;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schema_valid_message_per_valid_telegram_with_serial_as_client_id_and_cn() {
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "connected", |s| s.connected).await;

    // MQ-08: a valid telegram, a rejected one (CRC broken), another valid one.
    host.handle(Event::SerialBytes(telegram(101)));
    let mut bad = telegram(555);
    let pos = bad.len() - 10;
    bad[pos] ^= 0x01;
    clock.advance(1_000);
    host.handle(Event::SerialBytes(bad));
    clock.advance(1_000);
    host.handle(Event::SerialBytes(telegram(102)));
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(
        status(&host)["Meter"]["TelegramsRejected"],
        1,
        "the middle telegram was rejected"
    );
    host.handle(Event::SerialBytes(telegram(103)));
    let c = next(&mut rx).await;
    let powers: Vec<f64> = [&a, &b, &c]
        .iter()
        .map(|m| m.json().unwrap()["power_import_w"].as_f64().unwrap())
        .collect();
    assert_eq!(
        powers,
        [101.0, 102.0, 103.0],
        "one message per valid telegram, none for the rejected one"
    );

    // MQ-04/12/14: the topic, with the default site.
    let topic = format!("devices/unknown-site/smart-connect/{sn}/data/measurements");
    let validator = schema();
    for m in [&a, &b, &c] {
        assert_eq!(m.topic, topic);
        assert!(!m.retain);
        let v = m.json().unwrap();
        if let Err(e) = validator.validate(&v) {
            panic!("payload does not match the schema (MQ-14): {e}\n{v}");
        }
    }
    let v = a.json().unwrap();
    assert_eq!(v["serial"], sn.as_str());
    assert_eq!(v["site"], "unknown-site");
    assert_eq!(
        v["timestamp"],
        T0 / 1000 + 101,
        "the telegram's own time, UTC epoch seconds (MQ-11, MQ-15)"
    );
    assert_eq!(v["time_source"], "meter");
    assert!(
        v["voltage_l2_v"].is_null() && v["current_l3_a"].is_null(),
        "absent values are null (MQ-10): {v}"
    );
    assert_eq!(v["voltage_l1_v"], 230.0);
    assert!(
        v.get("energy").is_none() && !v.to_string().contains("kwh"),
        "no cumulative counters (MQ-09)"
    );

    // MQ-03/05: the TLS front saw the device certificate's CN and the CONNECT's client id.
    let clients = broker.tls_clients();
    let last = clients
        .last()
        .expect("the device came through the TLS front");
    assert_eq!(
        last.cn.as_deref(),
        Some(sn.as_str()),
        "certificate CN = serial"
    );
    assert_eq!(
        last.client_id.as_deref(),
        Some(sn.as_str()),
        "client id = serial"
    );
    assert_eq!(last.username, None, "mTLS: no username");
    assert_eq!(broker.client_cns(), vec![sn.clone()]);

    // The device knows: status MQTT block and the network indicator.
    let s = until(&client, "three publishes", |s| s.published == 3).await;
    assert_eq!((s.dropped, s.queued, s.attempts, s.connects), (0, 0, 1, 1));
    let st = status(&host);
    assert_eq!(st["MQTT"]["Connected"], true);
    assert_eq!(
        st["MQTT"]["LastPublish"],
        host.now() / 1000,
        "last publish time on the device clock"
    );
    assert_eq!(st["Network"]["MQTT"], true);
    assert!(st["MQTT"]["Error"].is_null());
}
