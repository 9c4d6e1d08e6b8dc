//! A device's identity — serial number, MAC address and label password — derived from the
//! seed (or given by a scenario), so a run can be replayed exactly. Also the names derived
//! from it: hostname (NET-05), access-point SSID (NET-07), MQTT client id (MQ-03).

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
}
