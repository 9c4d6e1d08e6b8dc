//! The one user session (API-02, API-08).
//!
//! The rule:
//! - A request with valid credentials is admitted when no session is held, when the session
//!   is held by the same credentials from the same source IP address, or when the held
//!   session has expired; it then holds (or keeps holding) the session, and its time counts
//!   as the holder's last request.
//! - Any other authenticated request gets 409 with a JSON error (and `Retry-After`, in
//!   seconds of device time). Requests without valid credentials never touch the session
//!   (they get 401 first).
//! - A session expires after `SESSION_IDLE_MS` (5 minutes) without a request from its
//!   holder, measured on the host's clock (`Host::now()`: virtual in tests, the simulated
//!   device clock in runs), never wall time.
//! - A reboot or power loss of the device (a new `Served::generation`) ends the session.
//! - The holder can end it at once (`POST /api/v1/logout`, `release`; a simulator
//!   convenience): another client is then admitted without waiting.
//! - The source port does not matter: a browser opens several connections.
//! - The session belongs to the device, not to one server: the plain-HTTP and the HTTPS
//!   server of one `Host` share it (`Slot::for_host`).

use crate::adapters::host::Host;
use crate::sim::clock::Millis;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A session ends after this long without a request from its holder (device time).
pub const SESSION_IDLE_MS: Millis = 5 * 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    user: String,
    ip: IpAddr,
    last: Millis,
    generation: u64,
}

/// The session slot of one device.
#[derive(Debug, Default)]
pub(super) struct Slot {
    held: Mutex<Option<Session>>,
}

/// Why a request was not admitted: someone else holds the session for `retry_after_ms` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Busy {
    pub retry_after_ms: Millis,
}

type Registry = Mutex<Vec<(Weak<Host>, Arc<Slot>)>>;

impl Slot {
    /// The slot of `host`, shared by all its servers.
    pub fn for_host(host: &Arc<Host>) -> Arc<Slot> {
        static SLOTS: OnceLock<Registry> = OnceLock::new();
        let mut slots = SLOTS
            .get_or_init(Registry::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        slots.retain(|(h, _)| h.strong_count() > 0);
        if let Some((_, s)) = slots
            .iter()
            .find(|(h, _)| std::ptr::eq(h.as_ptr(), Arc::as_ptr(host)))
        {
            return Arc::clone(s);
        }
        let slot = Arc::new(Slot::default());
        slots.push((Arc::downgrade(host), Arc::clone(&slot)));
        slot
    }

    /// Admit an authenticated request from `user` at `ip` at device time `now` on device
    /// generation `generation`; admitted requests hold the session.
    pub fn admit(&self, user: &str, ip: IpAddr, now: Millis, generation: u64) -> Result<(), Busy> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = held.as_ref() {
            let mine = s.user == user && s.ip == ip;
            let alive = s.generation == generation && now.saturating_sub(s.last) < SESSION_IDLE_MS;
            if alive && !mine {
                return Err(Busy {
                    retry_after_ms: s.last + SESSION_IDLE_MS - now,
                });
            }
        }
        *held = Some(Session {
            user: user.to_string(),
            ip,
            last: now,
            generation,
        });
        Ok(())
    }

    /// End the session if `user` at `ip` holds it (logout); true when it was theirs.
    pub fn release(&self, user: &str, ip: IpAddr) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.as_ref().is_some_and(|s| s.user == user && s.ip == ip);
        if mine {
            *held = None;
        }
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_until_five_minutes_of_silence_or_a_reboot() {
        let s = Slot::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(s.admit("user", a, 0, 0).is_ok());
        assert_eq!(
            s.admit("user", b, 1_000, 0),
            Err(Busy {
                retry_after_ms: SESSION_IDLE_MS - 1_000
            })
        );
        assert!(
            s.admit("user", a, 200_000, 0).is_ok(),
            "the holder keeps it and refreshes it"
        );
        assert!(s
            .admit("user", b, 200_000 + SESSION_IDLE_MS - 1, 0)
            .is_err());
        assert!(
            s.admit("user", b, 200_000 + SESSION_IDLE_MS, 0).is_ok(),
            "expired: b takes over"
        );
        assert!(s.admit("user", a, 200_000 + SESSION_IDLE_MS, 0).is_err());
        assert!(
            s.admit("user", a, 200_000 + SESSION_IDLE_MS, 1).is_ok(),
            "a reboot ends the session"
        );
        assert!(
            s.admit("other", a, 200_000 + SESSION_IDLE_MS, 1).is_err(),
            "other credentials, same IP"
        );
    }

    #[test]
    fn the_holder_releases_it_and_another_client_gets_in_at_once() {
        let s = Slot::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(s.admit("user", a, 0, 0).is_ok());
        assert!(!s.release("user", b), "only the holder can release it");
        assert!(s.admit("user", b, 1_000, 0).is_err(), "still held by a");
        assert!(s.release("user", a));
        assert!(s.admit("user", b, 1_000, 0).is_ok(), "b at once");
        assert!(!s.release("user", a), "a no longer holds it");
    }
}
