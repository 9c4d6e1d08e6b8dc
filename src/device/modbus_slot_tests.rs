//! The slot rule of `modbus_slot.rs`, case by case, then as properties over random histories
//! of connects, requests and closes.
#![allow(clippy::arithmetic_side_effects)]

use super::*;
use crate::time::{at, ms};
use proptest::prelude::*;

const T0: Instant = at(1_764_805_200_000);

fn admitted(evicted: Option<ClientId>) -> Connect {
    Connect::Admit(Admit { evicted })
}

#[test]
fn one_holder_until_it_leaves() {
    let mut s = ClientSlot::default();
    assert_eq!(s.idle_deadline(), None);
    assert_eq!(s.connect(1, T0), admitted(None));
    assert_eq!(
        s.connect(2, T0 + ms(1_000)),
        Connect::Refuse {
            until: T0 + IDLE_LIMIT
        }
    );
    assert!(!s.holds(2), "a refused connection holds nothing");
    assert!(!s.request(2, T0 + ms(1_000)), "and is not answered");
    s.disconnect(2);
    assert!(
        s.holds(1),
        "the close of a refused connection frees nothing"
    );
    s.disconnect(1);
    assert!(!s.busy(T0 + ms(1_000)));
    assert_eq!(s.connect(3, T0 + ms(1_000)), admitted(None), "at once");
}

#[test]
fn a_holder_silent_for_the_limit_loses_the_slot_to_the_next_client() {
    let mut s = ClientSlot::default();
    s.connect(1, T0);
    assert!(
        s.request(1, T0 + ms(30_000)),
        "a complete request refreshes it"
    );
    assert_eq!(s.idle_deadline(), Some(T0 + ms(30_000) + IDLE_LIMIT));
    assert!(!s.expired(1, T0 + ms(89_999)));
    assert!(matches!(
        s.connect(2, T0 + ms(89_999)),
        Connect::Refuse { .. }
    ));
    assert!(s.expired(1, T0 + ms(90_000)));
    assert_eq!(s.connect(2, T0 + ms(90_000)), admitted(Some(1)));
    assert!(
        !s.request(1, T0 + ms(90_001)),
        "the evicted holder is not answered"
    );
    s.disconnect(1);
    assert!(s.holds(2), "its close does not free the new holder's slot");
    assert!(s.busy(T0 + ms(90_002)));
    assert_eq!(s.holders().collect::<Vec<_>>(), vec![2]);
}

#[test]
fn connecting_counts_as_activity_and_a_refusal_does_not_refresh_the_holder() {
    let mut s = ClientSlot::default();
    s.connect(1, T0);
    for k in 1..10 {
        assert!(matches!(
            s.connect(10 + k, T0 + ms(k as i64 * 5_000)),
            Connect::Refuse { .. }
        ));
    }
    assert_eq!(s.deadline_of(1), Some(T0 + IDLE_LIMIT));
    assert_eq!(s.deadline_of(11), None);
}

#[test]
fn a_late_request_time_does_not_move_the_deadline_back() {
    let mut s = ClientSlot::default();
    s.connect(1, T0 + ms(10_000));
    assert!(s.request(1, T0));
    assert_eq!(s.deadline_of(1), Some(T0 + ms(10_000) + IDLE_LIMIT));
}

#[test]
fn many_clients_when_single_client_is_off_each_with_its_idle_limit() {
    let mut s = ClientSlot::new(SlotRules {
        single_client: false,
        idle_limit: IDLE_LIMIT,
    });
    assert_eq!(s.connect(1, T0), admitted(None));
    assert_eq!(s.connect(2, T0 + ms(10_000)), admitted(None));
    assert!(!s.busy(T0 + ms(10_000)));
    assert_eq!(s.idle_deadline(), Some(T0 + IDLE_LIMIT));
    assert!(s.expired(1, T0 + IDLE_LIMIT));
    assert!(!s.expired(2, T0 + IDLE_LIMIT));
    s.disconnect(1);
    assert_eq!(s.holders().collect::<Vec<_>>(), vec![2]);
}

#[test]
fn without_an_idle_limit_a_silent_holder_keeps_the_slot_to_the_end_of_time() {
    let mut s = ClientSlot::new(SlotRules {
        single_client: true,
        idle_limit: Duration::MAX,
    });
    s.connect(1, T0);
    assert_eq!(s.idle_deadline(), Some(Instant::MAX));
    assert!(!s.expired(1, Instant::MAX - ms(1)));
    assert!(matches!(
        s.connect(2, Instant::MAX - ms(1)),
        Connect::Refuse { .. }
    ));
}

#[derive(Debug, Clone)]
enum Step {
    /// A new connection `after_ms` after the previous step.
    Connect { after_ms: i64 },
    /// Connection number `which` (modulo those made so far) sends a complete request.
    Request { which: usize, after_ms: i64 },
    /// Connection number `which` closes.
    Close { which: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let limit = IDLE_LIMIT.as_ms();
    let after = prop_oneof![0..2_000i64, limit - 2..limit + 2, 0..2 * limit];
    prop_oneof![
        after
            .clone()
            .prop_map(|after_ms| Step::Connect { after_ms }),
        (0..16usize, after).prop_map(|(which, after_ms)| Step::Request { which, after_ms }),
        (0..16usize).prop_map(|which| Step::Close { which }),
    ]
}

proptest! {
    /// Never two holders; a connection is refused only while the holder has been silent
    /// for less than the limit, and the holder is evicted only after the limit.
    #[test]
    fn never_two_holders_and_evicted_only_after_the_limit(
        steps in prop::collection::vec(step(), 1..80)
    ) {
        let mut s = ClientSlot::default();
        let mut now = T0;
        let mut made: Vec<ClientId> = Vec::new();
        // Last activity of each connection as the model sees it.
        let mut last = std::collections::HashMap::<ClientId, Instant>::new();
        for st in steps {
            let holder_before = s.holders().next();
            match st {
                Step::Connect { after_ms } => {
                    now += ms(after_ms);
                    let id = made.len() as ClientId;
                    made.push(id);
                    let got = s.connect(id, now);
                    match holder_before {
                        Some(h) if now - last[&h] < IDLE_LIMIT => {
                            prop_assert_eq!(got, Connect::Refuse { until: last[&h] + IDLE_LIMIT });
                            prop_assert_eq!(s.holders().next(), Some(h), "the holder keeps it");
                        }
                        Some(h) => prop_assert_eq!(got, admitted(Some(h))),
                        None => prop_assert_eq!(got, admitted(None)),
                    }
                    if matches!(got, Connect::Admit(_)) {
                        last.insert(id, now);
                    }
                }
                Step::Request { which, after_ms } if !made.is_empty() => {
                    now += ms(after_ms);
                    let id = made[which % made.len()];
                    let answered = s.request(id, now);
                    prop_assert_eq!(answered, holder_before == Some(id));
                    if answered {
                        last.insert(id, now);
                    }
                }
                Step::Close { which } if !made.is_empty() => {
                    let id = made[which % made.len()];
                    s.disconnect(id);
                    if holder_before == Some(id) {
                        prop_assert_eq!(s.holders().next(), None);
                    } else {
                        prop_assert_eq!(s.holders().next(), holder_before);
                    }
                }
                _ => {}
            }
            prop_assert!(s.holders().count() <= 1, "never two holders");
            if let Some(h) = s.holders().next() {
                prop_assert_eq!(s.idle_deadline(), Some(last[&h] + IDLE_LIMIT));
                prop_assert_eq!(s.busy(now), now - last[&h] < IDLE_LIMIT);
            }
        }
    }

    /// With `single_client` off nobody is ever refused or evicted.
    #[test]
    fn with_single_client_off_every_connection_is_admitted(
        gaps in prop::collection::vec(0..2 * IDLE_LIMIT.as_ms(), 1..20)
    ) {
        let mut s = ClientSlot::new(SlotRules { single_client: false, idle_limit: IDLE_LIMIT });
        let mut now = T0;
        for (id, gap) in gaps.iter().enumerate() {
            now += ms(*gap);
            prop_assert_eq!(s.connect(id as ClientId, now), admitted(None));
        }
        prop_assert_eq!(s.holders().count(), gaps.len());
    }
}
