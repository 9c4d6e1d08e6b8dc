//! MQTT command steps (MQ-13, MQ-14, FW-01) and broker reachability (MQ-16): a command
//! published on the device's broker and its answer on the events topic, the broker taken
//! down and brought back. Waits follow the rules of `mqtt_wait.rs`.

use super::bench::status;
use super::mqtt::*;
use super::world::DeviceWorld;
use cucumber::{then, when};
use std::time::Duration;

// ---- commands (MQ-13, MQ-14, FW-01) ------------------------------------------------------

async fn command(w: &mut DeviceWorld, name: &str, body: &str) {
    watch(w).await;
    let uptime = status(w).await["System"]["UptimeS"].as_u64();
    w.mqtt.uptime_before = uptime;
    let topic = format!(
        "devices/{}/smart-connect/{}/cmd/{name}",
        site(w).await,
        serial(w)
    );
    w.target()
        .mqtt_publish(&topic, body.as_bytes())
        .await
        .expect("publish the command");
}

#[when(regex = r"^the command (\S+) is published with (\{.*\})$")]
async fn command_with(w: &mut DeviceWorld, name: String, body: String) {
    command(w, &name, &body).await;
}

#[when(regex = r"^the command (\S+) is published with an empty payload$")]
async fn command_empty(w: &mut DeviceWorld, name: String) {
    command(w, &name, "").await;
}

#[then(
    regex = r#"^the device answers on "(.+)" that (\S+) was (accepted|refused)(?: for version (\S+))?$"#
)]
async fn answer(w: &mut DeviceWorld, topic: String, name: String, how: String, version: String) {
    let want_topic = topic.replace("{serial}", &serial(w));
    let m = next_where(w, Feed::Events, is_event)
        .await
        .unwrap_or_else(|| panic!("no answer to {name} on the events topic"));
    assert_eq!(m.topic, want_topic);
    let v = m.json().expect("the answer is JSON");
    assert_eq!(v["command"].as_str(), Some(name.as_str()), "{v}");
    assert_eq!(v["accepted"].as_bool(), Some(how == "accepted"), "{v}");
    if !version.is_empty() {
        assert_eq!(v["version"].as_str(), Some(version.as_str()), "{v}");
    }
    if how == "refused" {
        assert!(
            v["reason"].as_str().is_some_and(|r| !r.trim().is_empty()),
            "refused without a reason: {v}"
        );
    }
    assert!(v["timestamp"].is_i64(), "no UTC epoch timestamp: {v}");
}

#[then(regex = r"^the device restarts$")]
async fn restarts(w: &mut DeviceWorld) {
    let before = w.mqtt.uptime_before.expect("no command was published");
    // Virtual device: the restart follows the written answer, with no time passing; look
    // once the client has settled. A real device gets `WAIT` of real time.
    let exact = exact(w);
    if exact {
        w.settle().await;
    }
    let end = tokio::time::Instant::now() + super::mqtt_wait::WAIT;
    loop {
        match w.target().status().await {
            // Restarting: the API does not answer, or the uptime starts again.
            Err(_) => return,
            Ok(s) if s["System"]["UptimeS"].as_u64().is_some_and(|u| u < before) => return,
            Ok(s) => assert!(
                !exact && tokio::time::Instant::now() < end,
                "the device did not restart; uptime {} s",
                s["System"]["UptimeS"]
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- broker reachability (MQ-16) ----------------------------------------------------------

#[when(regex = r"^the broker becomes unreachable$")]
async fn unreachable(w: &mut DeviceWorld) {
    watch(w).await;
    w.target()
        .set_broker_reachable(false)
        .await
        .expect("make the broker unreachable");
    mqtt_status_until(w, "the device to notice the lost connection", |m| {
        m["Connected"].as_bool() == Some(false)
    })
    .await;
    // What was published before the loss is not part of the backlog.
    drain(w, Feed::Data, is_measurement).await;
    w.mqtt.ok_at_loss = Some(telegrams_ok(w).await);
}

#[when(regex = r"^the broker is reachable again$")]
async fn reachable(w: &mut DeviceWorld) {
    w.target()
        .set_broker_reachable(true)
        .await
        .expect("make the broker reachable");
}

#[then(regex = r"^the status counts the measurements it dropped$")]
async fn dropped(w: &mut DeviceWorld) {
    let s = status(w).await;
    let d = s["MQTT"]["Dropped"].as_u64().unwrap_or(0);
    assert!(d > 0, "nothing counted as dropped: {}", s["MQTT"]);
}

#[then(
    regex = r"^the backlog sent after reconnecting holds fewer measurements than the telegrams accepted since the broker became unreachable, the rest counted as dropped$"
)]
async fn backlog(w: &mut DeviceWorld) {
    let since = telegrams_ok(w).await
        - w.mqtt
            .ok_at_loss
            .expect("the broker was never made unreachable");
    let mut got = Vec::new();
    if let Some(m) = next_where(w, Feed::Data, is_measurement).await {
        got.push(m);
    }
    got.extend(drain(w, Feed::Data, is_measurement).await);
    let s = status(w).await;
    let dropped = s["MQTT"]["Dropped"].as_u64().unwrap_or(0);
    let delivered = got.len() as u64;
    assert!(delivered > 0, "nothing was sent after reconnecting");
    assert!(
        delivered < since,
        "the whole backlog of {since} telegrams was sent ({delivered} messages): unbounded"
    );
    assert!(dropped > 0, "nothing counted as dropped: {}", s["MQTT"]);
    assert!(
        delivered + dropped <= since,
        "{delivered} sent + {dropped} dropped > {since} telegrams accepted"
    );
}
