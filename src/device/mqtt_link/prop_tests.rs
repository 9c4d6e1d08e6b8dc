//! Property test of the MQTT link machine over random event sequences: the queue never
//! exceeds its capacity, at most one connection attempt is outstanding, nothing is published
//! while not connected, and every measurement is accounted for.
#![allow(clippy::arithmetic_side_effects)]

use super::tests::{boot, measurement, SERIAL, SITE};
use super::*;
use crate::time::at;
use proptest::prelude::*;

fn input(code: u8, i: usize) -> Input {
    match code % 12 {
        0 => boot(1 + i % 7, i as u64),
        1 => Input::Network {
            up: !i.is_multiple_of(3),
            running: true,
        },
        2 | 3 => measurement(i),
        4 => Input::Tick,
        5 => Input::Connected,
        6 => Input::ConnectFailed("refused".into()),
        7 => Input::Dropped("lost".into()),
        8 | 9 => Input::Written,
        10 => Input::Refused(1 + i % 3),
        _ => Input::Command {
            topic: format!(
                "{}/cmd/reset",
                crate::device::measurement::topic_root(SITE, SERIAL)
            ),
            body: vec![],
        },
    }
}

proptest! {
    #[test]
    fn invariants_hold_for_any_sequence(
        steps in proptest::collection::vec((any::<u8>(), 0i64..3_000), 1..200)
    ) {
        let mut m = MqttLinkMachine::new();
        let mut now = 0i64;
        // Connected per the transport: a `Connect` opens an attempt, `Connected` completes it.
        let mut attempt_open = false;
        let mut transport_up = false;
        // The transport's view of what it holds unwritten (kinds, oldest first), and the
        // measurements given since the last boot.
        let mut handed: std::collections::VecDeque<Kind> = Default::default();
        let mut fed = 0u64;
        for (i, (code, dt)) in steps.into_iter().enumerate() {
            now += dt;
            let inp = input(code, i);
            // The transport only reports on an attempt or connection it has.
            let legit = match &inp {
                Input::Connected => attempt_open,
                Input::ConnectFailed(_) => attempt_open,
                Input::Dropped(_) | Input::Written => transport_up,
                Input::Refused(n) => transport_up && *n <= m.handed(),
                _ => true,
            };
            if !legit {
                continue;
            }
            match &inp {
                Input::Connected => { attempt_open = false; transport_up = true; }
                Input::ConnectFailed(_) => attempt_open = false,
                Input::Dropped(_) => { transport_up = false; handed.clear(); }
                Input::Boot(_) => { fed = 0; handed.clear(); }
                Input::Measurement { .. } if m.enabled() => fed += 1,
                Input::Written => { handed.pop_front(); }
                Input::Refused(n) => { handed.truncate(handed.len() - n); }
                _ => {}
            }
            let fx = m.handle(inp, at(now));
            for a in &fx {
                match a {
                    Action::Connect(_) => {
                        prop_assert!(!attempt_open && !transport_up, "a second attempt: {fx:?}");
                        attempt_open = true;
                    }
                    Action::Disconnect => { attempt_open = false; transport_up = false; handed.clear(); }
                    Action::Publish(o) => {
                        prop_assert!(transport_up && m.connected(), "publish while not connected");
                        handed.push_back(o.kind);
                    }
                    _ => {}
                }
            }
            prop_assert!(m.queued() <= m.queue_capacity());
            prop_assert_eq!(handed.len(), m.handed());
            // Every measurement is waiting, handed, written or counted as dropped (command
            // results never overflow here: fewer than `CONTROL_QUEUE` of them).
            let in_flight = handed.iter().filter(|k| **k == Kind::Measurement).count();
            prop_assert_eq!(
                fed,
                (m.queued() + in_flight) as u64 + m.counters().published + m.dropped(),
                "measurements lost"
            );
            prop_assert!(m.handed() <= 4);
            prop_assert!(!(m.connecting() && m.connected()));
            prop_assert_eq!(m.connected(), transport_up);
            prop_assert_eq!(m.connecting(), attempt_open);
        }
    }
}
