//! The link machine's remote commands (`cmd/reset`, `cmd/firmware-update`, bad and foreign
//! commands) and their results; the connection, queue and boot tests are in `tests.rs`,
//! whose helpers these use.

use super::tests::*;
use super::*;
use crate::device::measurement::{measurements_topic, topic_root};
use crate::protocol::{Protocol, Reading};
use crate::time::at;

pub(super) fn event_payload(fx: &[Action]) -> serde_json::Value {
    let o = fx
        .iter()
        .find_map(|a| match a {
            Action::Publish(o) if o.topic.ends_with("/data/events") => Some(o),
            _ => None,
        })
        .expect("a result on data/events");
    assert_eq!(o.qos, Qos::AtLeastOnce);
    serde_json::from_slice(&o.payload).expect("JSON")
}

#[test]
fn reset_command_publishes_its_result_then_soft_resets() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let cmd = Input::Command {
        topic: format!("{}/cmd/reset", topic_root(SITE, SERIAL)),
        body: vec![],
    };
    let fx = m.handle(cmd, at(5_000));
    let r = event_payload(&fx);
    assert_eq!(
        (r["command"].as_str(), r["accepted"].as_bool()),
        (Some("reset"), Some(true))
    );
    assert_eq!(r["timestamp"], 5);
    assert!(
        !fx.contains(&Action::Device(Event::SoftReset)),
        "not before it is written"
    );
    let fx = m.handle(Input::Written, at(5_001));
    assert!(fx.contains(&Action::Device(Event::SoftReset)));
    assert_eq!(m.counters().events_published, 1);
    assert_eq!(m.counters().commands, 1);
}

#[test]
fn firmware_update_asks_the_device_and_publishes_its_answer() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let cmd = Input::Command {
        topic: format!("{}/cmd/firmware-update", topic_root(SITE, SERIAL)),
        body: br#"{"Version":"1.5.0"}"#.to_vec(),
    };
    let fx = m.handle(cmd, at(1_000));
    assert!(fx.contains(&Action::Ask(Event::FirmwareUpdate {
        version: "1.5.0".into()
    })));
    let answer = vec![Effect::Reply(Reply::NotRunning)];
    let fx = m.handle(Input::DeviceAnswer(answer), at(1_000));
    let r = event_payload(&fx);
    assert_eq!(r["accepted"], false);
    assert_eq!(r["reason"], NOT_RUNNING);
    assert_eq!(r["version"], "1.5.0");
}

#[test]
fn bad_and_foreign_commands() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let bad = Input::Command {
        topic: format!("{}/cmd/self-destruct", topic_root(SITE, SERIAL)),
        body: vec![],
    };
    let r = event_payload(&m.handle(bad, at(0)));
    assert_eq!(r["accepted"], false);
    assert!(r["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("unknown command"));
    let foreign = Input::Command {
        topic: "devices/other/XM-9/cmd/reset".into(),
        body: vec![],
    };
    assert!(published(&m.handle(foreign, at(0))).is_empty());
    assert_eq!(m.counters().commands, 1);
}

#[test]
fn a_reading_is_published_as_a_measurement_with_qos_0() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let mut r = Reading::empty(Protocol::Dsmr);
    r.power_import_w = Some(1_234.0);
    let (topic, payload) = m.measurement(&r, at(1_750_000_000_000)).expect("enabled");
    let fx = m.handle(Input::Measurement { topic, payload }, at(2_000));
    let o = fx
        .iter()
        .find_map(|a| match a {
            Action::Publish(o) => Some(o),
            _ => None,
        })
        .expect("published");
    assert_eq!(o.topic, measurements_topic(SITE, SERIAL));
    assert_eq!(
        (o.qos, o.retain, o.kind),
        (Qos::AtMostOnce, false, Kind::Measurement)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.payload).expect("JSON");
    assert!(v.to_string().contains("1234"), "{v}");
}

#[test]
fn discovery_configs_go_first_at_every_connect_and_are_not_requeued() {
    let mut m = MqttLinkMachine::new();
    let Input::Boot(mut b) = boot(10, 0) else {
        unreachable!()
    };
    b.ha_discovery = true;
    b.window = 100;
    m.handle(Input::Boot(b), at(0));
    m.handle(UP, at(0));
    m.handle(measurement(0), at(0));
    let fx = m.handle(Input::Connected, at(0));
    let topics: Vec<&str> = fx
        .iter()
        .filter_map(|a| match a {
            Action::Publish(o) => Some(o.topic.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(topics.len(), payload::HA_SENSORS.len() + 1);
    assert!(topics[0].starts_with("homeassistant/"));
    assert!(topics
        .last()
        .is_some_and(|t| t.ends_with("/data/measurements")));
    m.handle(Input::Dropped("x".into()), at(1));
    assert_eq!(m.queued(), 1, "only the measurement goes back");
}

#[test]
fn firmware_answers_accepted_refused_and_missing() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let topic = format!("{}/cmd/firmware-update", topic_root(SITE, SERIAL));
    let ask = |m: &mut MqttLinkMachine, v: &str| {
        let body = format!(r#"{{"Version":"{v}"}}"#).into_bytes();
        let fx = m.handle(
            Input::Command {
                topic: topic.clone(),
                body,
            },
            at(0),
        );
        assert_eq!(fx.iter().filter(|a| matches!(a, Action::Ask(_))).count(), 1);
    };
    ask(&mut m, "1.5.0");
    let ok = vec![Effect::Reply(Reply::Firmware(Ok(())))];
    let r = event_payload(&m.handle(Input::DeviceAnswer(ok), at(0)));
    assert_eq!(
        (r["accepted"].as_bool(), r["version"].as_str()),
        (Some(true), Some("1.5.0"))
    );
    ask(&mut m, "9.9.9");
    let refused = vec![Effect::Reply(Reply::Firmware(Err(
        crate::device::firmware::UpdateRefused::Running {
            state: "downloading",
        },
    )))];
    let r = event_payload(&m.handle(Input::DeviceAnswer(refused), at(0)));
    assert_eq!(r["accepted"], false);
    assert_eq!(r["reason"], "an update is already downloading");
    ask(&mut m, "1.6.0");
    let r = event_payload(&m.handle(Input::DeviceAnswer(vec![]), at(0)));
    assert_eq!(r["reason"], "no answer from the device");
    let fx = m.handle(Input::DeviceAnswer(vec![]), at(0));
    assert!(
        published(&fx).is_empty(),
        "an answer nobody asked for: {fx:?}"
    );
    assert_eq!(m.counters().commands, 3);
}

#[test]
fn reset_while_not_running_is_refused_and_a_drop_still_resets_once() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let cmd = || Input::Command {
        topic: format!("{}/cmd/reset", topic_root(SITE, SERIAL)),
        body: vec![],
    };
    m.handle(
        Input::Network {
            up: true,
            running: false,
        },
        at(0),
    );
    let fx = m.handle(cmd(), at(0));
    assert_eq!(event_payload(&fx)["reason"], NOT_RUNNING);
    m.handle(UP, at(0));
    m.handle(cmd(), at(0));
    let fx = m.handle(Input::Dropped("gone".into()), at(1));
    let resets = |fx: &[Action]| {
        fx.iter()
            .filter(|a| **a == Action::Device(Event::SoftReset))
            .count()
    };
    assert_eq!(resets(&fx), 1, "a lost connection resets anyway: {fx:?}");
    let due = m.next_deadline().expect("retry");
    m.handle(Input::Tick, due);
    let mut fx = m.handle(Input::Connected, due);
    fx.extend(m.handle(Input::Written, due));
    fx.extend(m.handle(Input::Written, due));
    assert_eq!(resets(&fx), 0, "only once: {fx:?}");
}
