//! The session rule of `session.rs`, rule by rule, then as a property over random request
//! sequences (several clients, time steps around the idle limit, reboots, logouts).
#![allow(clippy::arithmetic_side_effects)]

use super::*;
use crate::time::{at, ms};
use proptest::prelude::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 168, 1, last])
}

const T0: Instant = at(1_764_805_200_000);

#[test]
fn a_free_session_goes_to_the_first_client_and_refuses_a_second_until_it_expires() {
    let mut s = Session::new();
    assert_eq!(s.holder(T0, 0), None);
    assert_eq!(s.admit("user", ip(1), T0, 0), Ok(()));
    assert_eq!(s.holder(T0, 0), Some(("user", ip(1))));
    assert_eq!(
        s.admit("user", ip(2), T0 + ms(1_000), 0),
        Err(Busy {
            retry_after: IDLE_LIMIT - ms(1_000)
        })
    );
    assert_eq!(
        s.expires_at(),
        Some(T0 + IDLE_LIMIT),
        "a refusal refreshes nothing"
    );
    assert!(s.admit("user", ip(2), T0 + IDLE_LIMIT - ms(1), 0).is_err());
    assert_eq!(
        s.admit("user", ip(2), T0 + IDLE_LIMIT, 0),
        Ok(()),
        "expired"
    );
    assert_eq!(s.holder(T0 + IDLE_LIMIT, 0), Some(("user", ip(2))));
}

#[test]
fn every_request_of_the_holder_refreshes_it() {
    let mut s = Session::new();
    s.admit("user", ip(1), T0, 0).unwrap();
    let later = T0 + ms(200_000);
    assert_eq!(s.admit("user", ip(1), later, 0), Ok(()));
    assert_eq!(s.expires_at(), Some(later + IDLE_LIMIT));
    assert!(s
        .admit("user", ip(2), later + IDLE_LIMIT - ms(1), 0)
        .is_err());
    assert!(s.admit("user", ip(2), later + IDLE_LIMIT, 0).is_ok());
}

#[test]
fn the_holder_is_the_user_at_one_ip_address_whatever_the_port() {
    let mut s = Session::new();
    s.admit("user", ip(1), T0, 0).unwrap();
    assert!(
        s.admit("other", ip(1), T0, 0).is_err(),
        "same IP, other user"
    );
    assert!(
        s.admit("user", ip(2), T0, 0).is_err(),
        "same user, other IP"
    );
    let v6: IpAddr = "::ffff:192.168.1.1".parse().unwrap();
    assert!(
        s.admit("user", v6, T0, 0).is_err(),
        "another address family"
    );
    assert!(s.admit("user", ip(1), T0, 0).is_ok());
}

#[test]
fn a_new_boot_ends_the_session_and_a_request_from_the_old_boot_ends_nothing() {
    let mut s = Session::new();
    s.admit("user", ip(1), T0, 3).unwrap();
    assert_eq!(s.holder(T0, 4), None, "rebooted");
    assert_eq!(s.admit("user", ip(2), T0 + ms(1), 4), Ok(()));
    assert!(
        s.admit("user", ip(1), T0 + ms(2), 3).is_err(),
        "a request that raced the reboot does not take the new session"
    );
    assert_eq!(s.holder(T0 + ms(2), 4), Some(("user", ip(2))));
    assert_eq!(
        s.admit("user", ip(1), T0 + ms(3), 5),
        Ok(()),
        "and the next boot"
    );
}

#[test]
fn the_holder_releases_it_and_another_client_gets_in_at_once() {
    let mut s = Session::new();
    s.admit("user", ip(1), T0, 0).unwrap();
    assert!(!s.release("user", ip(2)), "only the holder can release it");
    assert!(!s.release("other", ip(1)));
    assert!(
        s.admit("user", ip(2), T0 + ms(1_000), 0).is_err(),
        "still held"
    );
    assert!(s.release("user", ip(1)));
    assert_eq!(s.expires_at(), None);
    assert!(s.admit("user", ip(2), T0 + ms(1_000), 0).is_ok(), "at once");
    assert!(!s.release("user", ip(1)), "no longer the holder");
}

#[test]
fn a_late_request_time_never_shortens_the_session_nor_stretches_the_wait() {
    let mut s = Session::new();
    s.admit("user", ip(1), T0 + ms(10_000), 0).unwrap();
    s.admit("user", ip(1), T0, 0).unwrap();
    assert_eq!(s.expires_at(), Some(T0 + ms(10_000) + IDLE_LIMIT));
    let busy = s.admit("user", ip(2), T0, 0).unwrap_err();
    assert_eq!(busy.retry_after, IDLE_LIMIT, "capped at the limit");
}

#[test]
fn the_end_of_device_time_does_not_overflow() {
    let mut s = Session::new();
    s.admit("user", ip(1), Instant::MAX - ms(1), 0).unwrap();
    assert_eq!(s.expires_at(), Some(Instant::MAX));
    let busy = s.admit("user", ip(2), Instant::MAX - ms(1), 0).unwrap_err();
    assert_eq!(busy.retry_after, ms(1));
    assert!(s.admit("user", ip(2), Instant::MIN, 0).is_err());
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// `client` (user × address) sends a request `after_ms` after the previous step,
    /// on a new boot when `reboot`.
    Request {
        client: usize,
        after_ms: i64,
        reboot: bool,
    },
    Logout {
        client: usize,
    },
}

const CLIENTS: [(&str, u8); 4] = [("user", 1), ("user", 2), ("other", 1), ("other", 2)];

fn step() -> impl Strategy<Value = Step> {
    let after = prop_oneof![
        0..5_000i64,
        IDLE_LIMIT.as_ms() - 2..IDLE_LIMIT.as_ms() + 2,
        0..2 * IDLE_LIMIT.as_ms(),
    ];
    prop_oneof![
        6 => (0..CLIENTS.len(), after, proptest::bool::weighted(0.05)).prop_map(
            |(client, after_ms, reboot)| Step::Request { client, after_ms, reboot }
        ),
        1 => (0..CLIENTS.len()).prop_map(|client| Step::Logout { client }),
    ]
}

proptest! {
    /// Never two holders; a holder loses the session only by its silence for the whole
    /// limit, a reboot or its own logout; a refused client waits exactly until the
    /// holder's silence reaches the limit.
    #[test]
    fn one_holder_who_keeps_it_until_silent_for_the_limit(steps in prop::collection::vec(step(), 1..60)) {
        let mut s = Session::new();
        let (mut now, mut generation) = (T0, 0u64);
        // The model: the last admitted client, its last request, its boot.
        let mut model: Option<(usize, Instant, u64)> = None;
        for st in steps {
            match st {
                Step::Request { client, after_ms, reboot } => {
                    now += ms(after_ms);
                    generation += u64::from(reboot);
                    let (user, last) = CLIENTS[client];
                    let got = s.admit(user, ip(last), now, generation);
                    let held = model.filter(|&(_, t, g)| g == generation && now - t < IDLE_LIMIT);
                    match held {
                        Some((holder, t, _)) if holder != client => {
                            prop_assert_eq!(got, Err(Busy { retry_after: t + IDLE_LIMIT - now }));
                            let wait = got.unwrap_err().retry_after;
                            prop_assert!(wait > Duration::ZERO && wait <= IDLE_LIMIT);
                        }
                        _ => {
                            prop_assert_eq!(got, Ok(()));
                            model = Some((client, now, generation));
                        }
                    }
                }
                Step::Logout { client } => {
                    let (user, last) = CLIENTS[client];
                    let mine = model.is_some_and(|(h, _, _)| h == client);
                    prop_assert_eq!(s.release(user, ip(last)), mine);
                    if mine {
                        model = None;
                    }
                }
            }
            let expected = model
                .filter(|&(_, t, g)| g == generation && now - t < IDLE_LIMIT)
                .map(|(c, _, _)| (CLIENTS[c].0, ip(CLIENTS[c].1)));
            prop_assert_eq!(s.holder(now, generation), expected);
        }
    }
}
