//! Steps for the simulator's Home Assistant discovery option (`run --ha-discovery`), a
//! `@sim-convention`: retained sensor configs that point at the measurements topic.

use super::world::DeviceWorld;
use cucumber::then;
use std::time::Duration;

#[then(
    regex = r"^an installer's MQTT client subscribed to homeassistant/# receives a retained sensor config for each of (\d+) measurement values, reading the device's measurements topic$"
)]
async fn discovery(w: &mut DeviceWorld, n: usize) {
    let serial = w.target().label().serial;
    let mut rx = w
        .target()
        .mqtt_subscribe("homeassistant/#")
        .await
        .expect("subscribe");
    let mut seen = std::collections::BTreeSet::new();
    // Retained messages arrive right after subscribing: real socket I/O, bounded wait.
    while seen.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} discovery configs arrived: {seen:?}", seen.len()))
            .expect("broker closed");
        assert!(m.retain, "{} is not retained", m.topic);
        let v = m.json().expect("JSON config");
        let state = v["state_topic"].as_str().unwrap_or_default();
        assert!(
            state.ends_with(&format!("/smart-connect/{serial}/data/measurements")),
            "{}: {v}",
            m.topic
        );
        seen.insert(m.topic);
    }
    assert_eq!(seen.len(), n);
}
