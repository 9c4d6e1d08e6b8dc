//! A device's identity — serial number, MAC address and label password — derived from the
//! seed (or given by a scenario), so a run can be replayed exactly. Also the names derived
//! from it: hostname (NET-05), access-point SSID (NET-07), MQTT client id (MQ-03).
//!
//! `from_seed` derives everything from one seed (in-process devices: the virtual target,
//! tests). `run` keeps a random label seed per state folder (`<state>/label-seed`) and uses
//! `with_label_seed`: the serial and MAC still come from `--seed` (a run replays the same
//! meter), but the label password differs per installation instead of being the same on
//! every default run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Locally administered OUI used by simulated devices ("XM").
const OUI: [u8; 3] = [0x02, 0x58, 0x4D];
/// Label password alphabet: no 0/O, 1/l/I look-alikes.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// What is printed on the device's label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Twelve hex digits (the MAC without separators, upper case).
    pub serial: String,
    pub mac: [u8; 6],
    /// Basic-auth password for user `user` and the AP's WPA2 key.
    pub label_password: String,
}

impl Identity {
    /// The identity of the simulated device built from `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005E_ED1D);
        let mut mac = [0u8; 6];
        mac[..3].copy_from_slice(&OUI);
        for b in &mut mac[3..] {
            *b = rng.random();
        }
        let label_password = (0..16)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Identity {
            serial: mac.iter().map(|b| format!("{b:02X}")).collect(),
            mac,
            label_password,
        }
    }

    /// The identity of `from_seed(seed)` with the label password derived from `label_seed`
    /// instead (one per installation; `run` keeps it in the state folder).
    pub fn with_label_seed(seed: u64, label_seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(label_seed ^ 0x1ABE_15EE_D000_0001);
        let label_password = (0..16)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Identity {
            label_password,
            ..Identity::from_seed(seed)
        }
    }

    /// `smart-connect-<serial>` (NET-05).
    pub fn hostname(&self) -> String {
        format!("smart-connect-{}", self.serial)
    }

    /// `SC-<serial>` (NET-07).
    pub fn ap_ssid(&self) -> String {
        format!("SC-{}", self.serial)
    }

    /// `02:58:4D:…` form.
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let a = Identity::from_seed(42);
        assert_eq!(a, Identity::from_seed(42));
        assert_ne!(a.serial, Identity::from_seed(43).serial);
        assert_eq!(a.serial.len(), 12);
        assert!(a.serial.starts_with("02584D"));
        assert_eq!(a.label_password.len(), 16);
        assert_eq!(a.hostname(), format!("smart-connect-{}", a.serial));
        assert_eq!(a.ap_ssid().len(), 15);
        assert_eq!(a.mac_string().len(), 17);
    }

    #[test]
    fn the_label_seed_changes_only_the_password() {
        let a = Identity::with_label_seed(1, 7);
        let b = Identity::with_label_seed(1, 8);
        let plain = Identity::from_seed(1);
        assert_eq!((&a.serial, a.mac), (&plain.serial, plain.mac));
        assert_eq!((&b.serial, b.mac), (&plain.serial, plain.mac));
        assert_ne!(a.label_password, b.label_password);
        assert_ne!(a.label_password, plain.label_password);
        assert_eq!(a, Identity::with_label_seed(1, 7), "deterministic");
        assert_eq!(a.label_password.len(), 16);
        assert!(a.label_password.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
