//! The one user session (API-02, API-08) on the HTTP side: a thin wrapper around the pure
//! machine `device::session::Session`, which holds the rule (and its unit tests).
//!
//! What stays here:
//! - The session belongs to the device, not to one server: it lives in the `Host`
//!   (`Host::http_session`, one `Mutex<Session>` per host), so the plain-HTTP and the HTTPS
//!   server of one `Host` share it.
//! - Time is the host's clock (`Host::now()`: virtual in tests, the simulated device clock
//!   in runs), never wall time; the boot generation is `Served::generation`.
//! - Only requests with valid credentials get here (`api.rs` answers 401 first); `Busy`
//!   becomes 409 with `Retry-After` there, and `POST /api/v1/logout` calls `release`.
//! - `HttpOptions::single_session = false` (a planted defect) skips `admit` in `api.rs`.

use crate::adapters::host::Host;
use crate::device::session::{Busy, Session, IDLE_LIMIT};
use crate::sim::clock::Millis;
use crate::time::Instant;
use std::net::IpAddr;
use std::sync::MutexGuard;

/// A session ends after this long without a request from its holder (device time).
pub const SESSION_IDLE_MS: Millis = IDLE_LIMIT.as_ms();

fn session(host: &Host) -> MutexGuard<'_, Session> {
    host.http_session.lock().unwrap_or_else(|p| p.into_inner())
}

/// Admit an authenticated request from `user` at `ip` now (host time, current boot).
pub(super) fn admit(host: &Host, user: &str, ip: IpAddr) -> Result<(), Busy> {
    let generation = host.served().generation;
    let now = Instant::from_epoch_ms(host.now());
    session(host).admit(user, ip, now, generation)
}

/// End the session if `user` at `ip` holds it (logout); true when it was theirs.
pub(super) fn release(host: &Host, user: &str, ip: IpAddr) -> bool {
    session(host).release(user, ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceConfig, Variant};

    #[test]
    fn the_servers_of_one_host_share_its_session_and_other_hosts_have_their_own() {
        let (host, clock) =
            Host::running_virtual(DeviceConfig::new(Variant::P1), 1_764_805_200_000);
        let (other, _) = Host::running_virtual(DeviceConfig::new(Variant::P1), 1_764_805_200_000);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(admit(&host, "user", a).is_ok());
        clock.advance(1_000);
        assert_eq!(
            admit(&host, "user", b).map_err(|busy| busy.retry_after.as_ms()),
            Err(SESSION_IDLE_MS - 1_000),
            "on host time"
        );
        assert!(admit(&other, "user", b).is_ok(), "another device");
        assert!(release(&host, "user", a));
        assert!(admit(&host, "user", b).is_ok());
    }
}
