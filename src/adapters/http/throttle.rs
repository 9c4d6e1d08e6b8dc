//! Throttling of wrong passwords per source IP address on the HTTP side: a thin wrapper
//! around the pure machine `device::login_throttle::LoginThrottle`, which holds the rule
//! (five free failures, then blocks doubling from 1 s to 60 s; correct credentials always
//! accepted; a reboot forgets) and its unit tests.
//!
//! What stays here:
//! - The table belongs to the device, not to one server: it lives in the `Host`
//!   (`Host::http_throttle`), so the plain-HTTP and the HTTPS server of one `Host` share it,
//!   and another host has its own.
//! - Time is the host's clock (`Host::now()`: virtual in tests, device time in runs); the
//!   boot generation is `Served::generation`.
//! - Answers come at once: nothing sleeps while holding a connection (`api.rs` turns
//!   `Verdict::Blocked` into 429 with `Retry-After`).

use crate::adapters::host::Host;
use crate::device::login_throttle::{LoginThrottle, FIRST_BLOCK, MAX_BLOCK};
pub use crate::device::login_throttle::{Verdict, FREE_FAILURES, MAX_SOURCES};
use crate::sim::clock::Millis;
use crate::time::Instant;
use std::net::IpAddr;
use std::sync::MutexGuard;

/// The first block.
pub const FIRST_BLOCK_MS: Millis = FIRST_BLOCK.as_ms();
/// The longest block.
pub const MAX_BLOCK_MS: Millis = MAX_BLOCK.as_ms();

fn table(host: &Host) -> MutexGuard<'_, LoginThrottle> {
    host.http_throttle.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wrong credentials from `ip` now (host time, current boot).
pub(super) fn failed(host: &Host, ip: IpAddr) -> Verdict {
    let generation = host.served().generation;
    let now = Instant::from_epoch_ms(host.now());
    table(host).failed(ip, now, generation)
}

/// Correct credentials from `ip`: its failures are forgotten.
pub(super) fn succeeded(host: &Host, ip: IpAddr) {
    table(host).succeeded(ip);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceConfig, Variant};

    #[test]
    fn the_servers_of_one_host_share_its_table_and_other_hosts_have_their_own() {
        let (host, clock) =
            Host::running_virtual(DeviceConfig::new(Variant::P1), 1_764_805_200_000);
        let (other, _) = Host::running_virtual(DeviceConfig::new(Variant::P1), 1_764_805_200_000);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            assert_eq!(failed(&host, a), Verdict::Unauthorized);
        }
        clock.advance(250);
        assert_eq!(
            failed(&host, a),
            Verdict::Blocked {
                retry_after: crate::time::ms(FIRST_BLOCK_MS)
            }
        );
        assert_eq!(failed(&other, a), Verdict::Unauthorized, "another device");
        succeeded(&host, a);
        assert_eq!(failed(&host, a), Verdict::Unauthorized, "a success resets");
    }
}
