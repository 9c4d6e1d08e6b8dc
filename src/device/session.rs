//! The one user session of the HTTP API (API-02, API-08) as a pure machine: who holds it,
//! since when, on which boot. Device time comes in as an argument, so the rule is replayed
//! by a seed and tested without sockets; the HTTP adapter keeps one `Session` per device
//! behind a mutex and answers `Busy` with 409.
//!
//! The rule:
//! - A request with valid credentials is admitted when no session is held, when the session
//!   is held by the same credentials from the same source IP address, or when the held
//!   session has expired; it then holds (or keeps holding) the session, and its time counts
//!   as the holder's last request.
//! - Any other authenticated request is refused with `Busy` (the adapter: 409 with a JSON
//!   error and `Retry-After`, in seconds of device time). Requests without valid credentials
//!   never reach the session (the adapter answers 401 first).
//! - A session expires after [`IDLE_LIMIT`] (5 minutes) of device time without a request
//!   from its holder; never wall time.
//! - A reboot or power loss of the device (a new boot generation) ends the session. A
//!   request that still carries an older generation than the holder's (it raced the
//!   reboot) ends nothing.
//! - The holder can end it at once ([`Session::release`]: the simulator's
//!   `POST /api/v1/logout`); another client is then admitted without waiting.
//! - The source port does not matter (a browser opens several connections): only the
//!   user name and the IP address identify the holder.
//! - The session belongs to the device, not to one server: the plain-HTTP and the HTTPS
//!   server of one device share it.
//! - A request whose time is earlier than the holder's last one (two servers read the clock
//!   and then queue for the session) never shortens the session: the last request time
//!   only moves forward, and `Busy::retry_after` is never more than the idle limit.

use crate::time::{Duration, Instant};
use std::net::IpAddr;

/// A session ends after this long without a request from its holder (device time).
pub const IDLE_LIMIT: Duration = Duration::from_secs(5 * 60);

/// Why a request was not admitted: another client holds the session for `retry_after` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// Until the held session expires if its holder stays silent (more than zero, at most
    /// [`IDLE_LIMIT`]).
    pub retry_after: Duration,
}

/// Who holds the session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    user: String,
    ip: IpAddr,
    /// Device time of the holder's last admitted request.
    last: Instant,
    /// The boot the session was opened on.
    generation: u64,
}

impl Holder {
    fn is(&self, user: &str, ip: IpAddr) -> bool {
        self.user == user && self.ip == ip
    }

    fn expires_at(&self) -> Instant {
        self.last.saturating_add(IDLE_LIMIT)
    }

    /// Still holding at `now` for a request of boot `generation`.
    fn alive(&self, now: Instant, generation: u64) -> bool {
        generation <= self.generation && now < self.expires_at()
    }
}

/// The session of one device: free, or held by one user at one IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    held: Option<Holder>,
}

impl Session {
    /// A free session.
    pub fn new() -> Self {
        Session::default()
    }

    /// Admit an authenticated request from `user` at `ip` at device time `now` on boot
    /// `generation`: it then holds the session; `Busy` when another client holds it.
    pub fn admit(
        &mut self,
        user: &str,
        ip: IpAddr,
        now: Instant,
        generation: u64,
    ) -> Result<(), Busy> {
        match self.held.as_mut() {
            Some(h) if h.alive(now, generation) && h.is(user, ip) => {
                h.last = h.last.max(now);
                Ok(())
            }
            Some(h) if h.alive(now, generation) => Err(Busy {
                retry_after: h.expires_at().since(now).min(IDLE_LIMIT),
            }),
            _ => {
                self.held = Some(Holder {
                    user: user.to_string(),
                    ip,
                    last: now,
                    generation,
                });
                Ok(())
            }
        }
    }

    /// End the session if `user` at `ip` holds it (logout); true when it was theirs.
    pub fn release(&mut self, user: &str, ip: IpAddr) -> bool {
        let mine = self.held.as_ref().is_some_and(|h| h.is(user, ip));
        if mine {
            self.held = None;
        }
        mine
    }

    /// The holder (user, IP address) at `now` on boot `generation`, if the session is held.
    pub fn holder(&self, now: Instant, generation: u64) -> Option<(&str, IpAddr)> {
        self.held
            .as_ref()
            .filter(|h| h.alive(now, generation))
            .map(|h| (h.user.as_str(), h.ip))
    }

    /// When the held session expires if its holder stays silent (`None`: nobody holds it).
    pub fn expires_at(&self) -> Option<Instant> {
        self.held.as_ref().map(Holder::expires_at)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
