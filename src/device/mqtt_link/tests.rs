//! Unit tests of the MQTT link machine: no sockets, device time passed in.
#![allow(clippy::arithmetic_side_effects)]

use super::backoff::BackoffPolicy;
use super::command_tests::event_payload;
use super::*;
use crate::device::config::Mqtt;
use crate::device::measurement::{measurements_topic, topic_root};
use crate::time::at;

pub(super) const SERIAL: &str = "XM-0001";
pub(super) const SITE: &str = "home";

pub(super) fn plan() -> ConnectPlan {
    ConnectPlan {
        url: "mqtt://broker.local:1883".into(),
        address: "127.0.0.1:1883".into(),
        client_id: SERIAL.into(),
        username: "u".into(),
        password: "p".into(),
        tls: ConnectPlan::tls_mode(false, "u"),
    }
}

/// A boot with MQTT enabled, queue of `capacity`, seed `seed`.
pub(super) fn boot(capacity: usize, seed: u64) -> Input {
    Input::Boot(Box::new(Boot {
        settings: Mqtt {
            enabled: true,
            broker: "mqtt://broker.local:1883".into(),
            site: SITE.into(),
            username: "u".into(),
            password: "p".into(),
        },
        serial: SERIAL.into(),
        model: "Smart Connect P1".into(),
        firmware: "1.4.0".into(),
        plan: Ok(plan()),
        ha_discovery: false,
        backoff: BackoffPolicy::default(),
        seed,
        queue_capacity: capacity,
        window: 4,
    }))
}

pub(super) fn measurement(i: usize) -> Input {
    Input::Measurement {
        topic: measurements_topic(SITE, SERIAL),
        payload: format!("{i}").into_bytes(),
    }
}

pub(super) const UP: Input = Input::Network {
    up: true,
    running: true,
};

pub(super) fn connects(fx: &[Action]) -> usize {
    fx.iter()
        .filter(|a| matches!(a, Action::Connect(_)))
        .count()
}

pub(super) fn published(fx: &[Action]) -> Vec<String> {
    fx.iter()
        .filter_map(|a| match a {
            Action::Publish(o) => Some(String::from_utf8_lossy(&o.payload).into_owned()),
            _ => None,
        })
        .collect()
}

/// A machine booted at 0 with the network up, its first attempt made.
pub(super) fn booted(capacity: usize, seed: u64) -> MqttLinkMachine {
    let mut m = MqttLinkMachine::new();
    m.handle(boot(capacity, seed), at(0));
    let fx = m.handle(UP, at(0));
    assert_eq!(connects(&fx), 1, "first attempt at once: {fx:?}");
    m
}

/// The device times of the attempts made while the broker keeps refusing, following
/// `next_deadline`, until `until_ms`.
pub(super) fn attempt_times(seed: u64, until_ms: i64) -> Vec<i64> {
    let mut m = booted(10, seed);
    let mut times = vec![0];
    let mut now = at(0);
    m.handle(Input::ConnectFailed("refused".into()), now);
    while let Some(t) = m.next_deadline() {
        assert!(t > now, "the deadline lies ahead");
        now = t;
        if now.epoch_ms() > until_ms {
            break;
        }
        let fx = m.handle(Input::Tick, now);
        assert_eq!(connects(&fx), 1);
        times.push(now.epoch_ms());
        m.handle(Input::ConnectFailed("refused".into()), now);
    }
    times
}

#[test]
fn attempts_back_off_in_device_time_capped_at_8_s_and_replay_from_the_seed() {
    let times = attempt_times(7, 120_000);
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let p = BackoffPolicy::default();
    for (n, g) in gaps.iter().enumerate() {
        let (lo, hi) = p.bounds(n as u32);
        assert!((lo..=hi).contains(g), "gap {n} = {g} not in {lo}..={hi}");
    }
    assert!(gaps.iter().all(|&g| g <= 8_000), "{gaps:?}");
    assert!(gaps.len() > 12, "keeps trying: {gaps:?}");
    assert_eq!(times, attempt_times(7, 120_000), "same seed, same times");
    assert_ne!(times, attempt_times(8, 120_000), "another seed differs");
}

#[test]
fn no_attempt_before_the_deadline_and_one_at_a_time() {
    let mut m = booted(10, 1);
    assert!(
        connects(&m.handle(Input::Tick, at(50))) == 0,
        "attempt outstanding"
    );
    m.handle(Input::ConnectFailed("refused".into()), at(100));
    let due = m.next_deadline().expect("a retry is due");
    assert!((900..=1_100).contains(&due.epoch_ms()), "{due:?}");
    assert_eq!(connects(&m.handle(Input::Tick, at(due.epoch_ms() - 1))), 0);
    assert_eq!(connects(&m.handle(Input::Tick, due)), 1);
    assert_eq!(m.link().error.as_deref(), Some("refused"));
}

#[test]
fn reconnects_after_a_drop_and_resets_the_back_off() {
    let mut m = booted(10, 3);
    let fx = m.handle(Input::Connected, at(10));
    assert!(fx.contains(&Action::Subscribe(format!(
        "{}/cmd/+",
        topic_root(SITE, SERIAL)
    ))));
    assert!(fx
        .iter()
        .any(|a| matches!(a, Action::Link(l) if l.connected)));
    let fx = m.handle(Input::Dropped("lost".into()), at(5_000));
    assert!(fx.iter().any(
        |a| matches!(a, Action::Link(l) if !l.connected && l.error.as_deref() == Some("lost"))
    ));
    let due = m.next_deadline().expect("retry");
    assert!(
        (5_800..=6_000).contains(&due.epoch_ms()),
        "first delay after a success: {due:?}"
    );
    assert_eq!(connects(&m.handle(Input::Tick, due)), 1);
    m.handle(Input::Connected, due);
    assert_eq!(m.counters().connects, 2);
    assert_eq!(m.counters().attempts, 2);
    assert!(m.link().error.is_none());
}

#[test]
fn the_queue_is_bounded_drops_the_oldest_and_counts() {
    let mut m = booted(3, 0);
    for i in 0..10 {
        m.handle(measurement(i), at(i as i64));
    }
    assert_eq!(m.queued(), 3);
    assert_eq!(m.dropped(), 7);
    let fx = m.handle(Input::Connected, at(20));
    assert_eq!(published(&fx), ["7", "8", "9"], "the newest, oldest first");
    assert!(fx
        .iter()
        .any(|a| matches!(a, Action::Link(l) if l.dropped == 7)));
}

#[test]
fn handed_but_unwritten_messages_are_requeued_on_a_drop() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let fx: Vec<Action> = (0..3)
        .flat_map(|i| m.handle(measurement(i), at(1)))
        .collect();
    assert_eq!(published(&fx), ["0", "1", "2"]);
    m.handle(Input::Written, at(2));
    assert_eq!(m.counters().published, 1);
    assert_eq!(m.link().last_publish, Some(at(2)));
    m.handle(measurement(3), at(3));
    m.handle(Input::Dropped("gone".into()), at(4));
    assert_eq!((m.handed(), m.queued()), (0, 3), "1, 2 back in front of 3");
    let due = m.next_deadline().expect("retry");
    m.handle(Input::Tick, due);
    let fx = m.handle(Input::Connected, due);
    assert_eq!(published(&fx), ["1", "2", "3"]);
    assert_eq!(m.dropped(), 0);
}

#[test]
fn the_window_bounds_what_is_handed_and_a_refusal_puts_it_back() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let fx: Vec<Action> = (0..6)
        .flat_map(|i| m.handle(measurement(i), at(1)))
        .collect();
    assert_eq!(published(&fx), ["0", "1", "2", "3"], "window of 4");
    assert_eq!(m.queued(), 2);
    let fx = m.handle(Input::Refused(1), at(2));
    assert!(
        published(&fx).is_empty(),
        "nothing more until a write: {fx:?}"
    );
    assert_eq!((m.handed(), m.queued()), (3, 3), "3 put back");
    let fx = m.handle(Input::Written, at(3));
    assert_eq!(published(&fx), ["3", "4"], "room again");
}

#[test]
fn a_reboot_empties_the_queue_and_rereads_the_settings() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    m.handle(Input::Dropped("x".into()), at(1));
    for i in 0..5 {
        m.handle(measurement(i), at(2));
    }
    assert_eq!(m.queued(), 5);
    let fx = m.handle(boot(2, 9), at(3));
    assert_eq!(m.queued(), 0, "RAM is gone");
    assert_eq!(m.queue_capacity(), 2, "the new settings");
    assert_eq!(connects(&fx), 0, "the booting device has no address yet");
    let fx = m.handle(UP, at(3));
    assert_eq!(
        m.counters(),
        Counters {
            attempts: 1,
            ..Counters::default()
        },
        "counted afresh"
    );
    assert_eq!(
        connects(&fx),
        1,
        "a new boot connects as soon as it has an address"
    );
    // Disabled at the next boot: a connection is closed and nothing more happens.
    m.handle(Input::Connected, at(4));
    let Input::Boot(mut b) = boot(2, 9) else {
        unreachable!()
    };
    b.settings.enabled = false;
    let fx = m.handle(Input::Boot(b), at(5));
    assert!(fx.contains(&Action::Disconnect), "{fx:?}");
    assert!(!m.enabled());
}

#[test]
fn disabled_does_nothing() {
    let mut m = MqttLinkMachine::new();
    let Input::Boot(mut b) = boot(10, 0) else {
        unreachable!()
    };
    b.settings.enabled = false;
    let mut fx = m.handle(Input::Boot(b), at(0));
    fx.extend(m.handle(UP, at(0)));
    fx.extend(m.handle(measurement(0), at(1)));
    fx.extend(m.handle(Input::Connected, at(1)));
    let cmd = Input::Command {
        topic: format!("{}/cmd/reset", topic_root(SITE, SERIAL)),
        body: vec![],
    };
    fx.extend(m.handle(cmd, at(2)));
    fx.extend(m.handle(Input::Tick, at(60_000)));
    assert!(
        fx.iter()
            .all(|a| matches!(a, Action::Link(l) if *l == MqttLink::default())),
        "{fx:?}"
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn no_network_no_attempt_and_a_plan_error_is_shown_not_tried() {
    let mut m = MqttLinkMachine::new();
    assert_eq!(connects(&m.handle(boot(10, 0), at(0))), 0);
    let fx = m.handle(
        Input::Network {
            up: false,
            running: true,
        },
        at(1),
    );
    assert_eq!(connects(&fx), 0);
    assert!(m.link().error.unwrap_or_default().contains("network"));
    let Input::Boot(mut b) = boot(10, 0) else {
        unreachable!()
    };
    b.plan = Err("mqtts:// needs a CA certificate".into());
    m.handle(Input::Boot(b), at(2));
    assert_eq!(connects(&m.handle(UP, at(3))), 0);
    assert_eq!(
        m.link().error.as_deref(),
        Some("mqtts:// needs a CA certificate")
    );
}

#[test]
fn refusals_go_back_in_order_and_missed_measurements_count_as_dropped() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let fx: Vec<Action> = (0..4)
        .flat_map(|i| m.handle(measurement(i), at(1)))
        .collect();
    assert_eq!(published(&fx), ["0", "1", "2", "3"]);
    m.handle(Input::Refused(3), at(2));
    assert_eq!((m.handed(), m.queued()), (1, 3));
    let fx = m.handle(Input::Written, at(3));
    assert_eq!(published(&fx), ["1", "2", "3"], "in their order");
    m.handle(Input::Missed(5), at(4));
    assert_eq!(m.dropped(), 5);
    assert_eq!(m.link().dropped, 5);
}

#[test]
fn a_network_loss_closes_the_connection_and_waits_without_deadline() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    m.handle(measurement(0), at(0));
    let down = Input::Network {
        up: false,
        running: true,
    };
    let fx = m.handle(down, at(1));
    assert!(fx.contains(&Action::Disconnect), "{fx:?}");
    assert_eq!((m.handed(), m.queued()), (0, 1), "requeued");
    assert_eq!(m.next_deadline(), None);
    let fx = m.handle(Input::Tick, at(60_000));
    assert_eq!(connects(&fx), 0);
    assert_eq!(
        connects(&m.handle(UP, at(60_001))),
        1,
        "at once when it is back"
    );
}

/// A command result handed to the transport but not written when the connection drops is
/// sent again after the reconnect: an answer is never lost with the link.
#[test]
fn an_unwritten_command_result_is_sent_again_after_a_drop() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    assert_eq!(m.next_deadline(), None, "connected: nothing to retry");
    let cmd = Input::Command {
        topic: format!("{}/cmd/firmware-update", topic_root(SITE, SERIAL)),
        body: br#"{"Version":"1.5.0"}"#.to_vec(),
    };
    m.handle(cmd, at(1_000));
    let fx = m.handle(
        Input::DeviceAnswer(vec![Effect::Reply(Reply::NotRunning)]),
        at(1_000),
    );
    assert_eq!(event_payload(&fx)["version"], "1.5.0");
    m.handle(Input::Dropped("gone".into()), at(1_500));
    let due = m.next_deadline().expect("a retry after the drop");
    m.handle(Input::Tick, due);
    assert_eq!(m.next_deadline(), None, "an attempt is outstanding");
    let fx = m.handle(Input::Connected, due);
    let again = event_payload(&fx);
    assert_eq!(
        (again["version"].as_str(), again["accepted"].as_bool()),
        (Some("1.5.0"), Some(false))
    );
}

/// Without a network there is nothing to wait for: no deadline, before or after a drop.
#[test]
fn no_deadline_without_a_network() {
    let mut m = MqttLinkMachine::new();
    m.handle(boot(10, 0), at(0));
    assert_eq!(m.next_deadline(), None, "booted, no address yet");
    let mut m = booted(10, 0);
    m.handle(Input::ConnectFailed("refused".into()), at(0));
    assert!(m.next_deadline().is_some(), "a retry is due");
    m.handle(
        Input::Network {
            up: false,
            running: true,
        },
        at(10),
    );
    assert_eq!(m.next_deadline(), None, "the address is gone: no retry");
}

/// A reboot forgets the network: the new boot's first attempt waits until the device says it
/// has an address again, and the old boot starts nothing meanwhile.
#[test]
fn a_boot_waits_for_the_network_before_its_first_attempt() {
    let mut m = booted(10, 0);
    m.handle(Input::Connected, at(0));
    let fx = m.handle(boot(10, 1), at(5_000));
    assert_eq!(connects(&fx), 0, "no address yet after the reboot: {fx:?}");
    assert!(
        fx.contains(&Action::Disconnect),
        "the old boot's connection goes"
    );
    assert_eq!(m.next_deadline(), None);
    let fx = m.handle(UP, at(9_000));
    assert_eq!(connects(&fx), 1, "the address came: {fx:?}");
}
