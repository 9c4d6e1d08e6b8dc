//! The fleet's PKI: one CA, a broker server certificate and one client certificate per device
//! (CN = the device serial, MQ-05), all made with rcgen from Ed25519 keys derived from the
//! fleet seed. Ed25519 signatures are deterministic and rcgen takes the serial number from
//! the public key, so every shard of a fleet — on any machine — makes byte-identical
//! certificates without sharing a file, and the broker needs only `fleet-ca.pem`.
//!
//! These are load-test identities: whoever knows the seed can make every key. Validity is
//! fixed (2024-01-01 .. 2099-12-31) so a device whose clock is unset (1970) cannot connect
//! (MQ-06), as with the fleet's bad-clock fault.

use crate::adapters::certs::{PkiError, PkiOptions, TestPki, Validity};
use crate::fleet::plan::mix64;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rcgen::KeyPair;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};

/// 2024-01-01T00:00:00Z .. 2099-12-31T23:59:59Z.
pub const FLEET_VALIDITY: Validity = Validity {
    not_before: 1_704_067_200_000,
    not_after: 4_102_444_799_000,
};

/// The CN of the latency tap's client certificate (a subscriber, not a device).
pub const TAP_CN: &str = "fleet-tap";

/// PKCS#8 v1 header of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The Ed25519 key of `role` (a name or a device index) in the fleet of `seed`.
fn derived_key(seed: u64, role: u64) -> Result<(KeyPair, Vec<u8>), PkiError> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ 0xF1EE_7C0A, role));
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    der.extend_from_slice(&secret);
    let key = KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_slice()),
        &rcgen::PKCS_ED25519,
    )?;
    Ok((key, der))
}

/// Role numbers of the keys that are not a device's (device keys use the device index).
const ROLE_CA: u64 = u64::MAX;
const ROLE_SERVER: u64 = u64::MAX - 1;
const ROLE_TAP: u64 = u64::MAX - 2;
/// Only `TestPki`'s placeholder client certificate; never used.
const ROLE_SPARE: u64 = u64::MAX - 3;

/// A device's (or the tap's) certificate and key, as rustls takes them.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key_pkcs8: Vec<u8>,
}

impl ClientIdentity {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

/// The fleet CA and broker certificate.
pub struct FleetPki {
    seed: u64,
    pki: std::sync::Arc<TestPki>,
}

/// Files written by [`FleetPki::write_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPkiPaths {
    pub ca: PathBuf,
    pub broker_cert: PathBuf,
    pub broker_key: PathBuf,
    pub tap_cert: PathBuf,
    pub tap_key: PathBuf,
}

impl FleetPki {
    /// The PKI of the fleet of `seed`; the broker certificate covers `broker_names` (DNS
    /// names or IP addresses).
    pub fn derive(seed: u64, broker_names: &[String]) -> Result<FleetPki, PkiError> {
        let opts = PkiOptions {
            ca_name: format!("Smart Connect Fleet CA {seed}"),
            ca_validity: FLEET_VALIDITY,
            server_names: broker_names.to_vec(),
            server_validity: FLEET_VALIDITY,
            client_cn: "000000000000".into(),
            client_validity: FLEET_VALIDITY,
        };
        let pki = TestPki::with_keys(&opts, &|role| {
            let role = match role {
                "ca" => ROLE_CA,
                "server" => ROLE_SERVER,
                _ => ROLE_SPARE,
            };
            derived_key(seed, role).map(|(k, _)| k)
        })?;
        Ok(FleetPki {
            seed,
            pki: std::sync::Arc::new(pki),
        })
    }

    pub fn ca_pem(&self) -> &str {
        self.pki.ca_pem()
    }

    /// The PKI as the embedded broker takes it.
    pub fn test_pki(&self) -> std::sync::Arc<TestPki> {
        std::sync::Arc::clone(&self.pki)
    }

    /// The client certificate of device `index` with CN `serial`.
    pub fn device(&self, index: u64, serial: &str) -> Result<ClientIdentity, PkiError> {
        self.client(index, serial)
    }

    /// The latency tap's client certificate (CN [`TAP_CN`]).
    pub fn tap(&self) -> Result<ClientIdentity, PkiError> {
        self.client(ROLE_TAP, TAP_CN)
    }

    fn client(&self, role: u64, cn: &str) -> Result<ClientIdentity, PkiError> {
        let (key, der) = derived_key(self.seed, role)?;
        let cert = self.pki.issue_client_with(cn, FLEET_VALIDITY, key)?;
        Ok(ClientIdentity {
            chain: vec![cert.cert_der().clone()],
            key_pkcs8: der,
        })
    }

    /// Write `fleet-ca.pem`, `broker.pem`, `broker.key`, `tap.pem`, `tap.key` into `dir`
    /// (created if missing; keys mode 0600). The same seed writes the same bytes.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<FleetPkiPaths> {
        std::fs::create_dir_all(dir)?;
        let tap = self
            .pki
            .issue_client_with(
                TAP_CN,
                FLEET_VALIDITY,
                derived_key(self.seed, ROLE_TAP)
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .0,
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let paths = FleetPkiPaths {
            ca: dir.join("fleet-ca.pem"),
            broker_cert: dir.join("broker.pem"),
            broker_key: dir.join("broker.key"),
            tap_cert: dir.join("tap.pem"),
            tap_key: dir.join("tap.key"),
        };
        std::fs::write(&paths.ca, self.pki.ca_pem())?;
        std::fs::write(&paths.broker_cert, self.pki.server().cert_pem())?;
        write_secret(&paths.broker_key, self.pki.server().key_pem())?;
        std::fs::write(&paths.tap_cert, tap.cert_pem())?;
        write_secret(&paths.tap_key, tap.key_pem())?;
        Ok(paths)
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_makes_the_same_certificates() {
        let names = vec!["127.0.0.1".to_string(), "broker.test".to_string()];
        let a = FleetPki::derive(7, &names).unwrap();
        let b = FleetPki::derive(7, &names).unwrap();
        assert_eq!(a.ca_pem(), b.ca_pem());
        let (da, db) = (
            a.device(5, "02584D000005").unwrap(),
            b.device(5, "02584D000005").unwrap(),
        );
        assert_eq!(da.chain, db.chain);
        assert_eq!(da.key_pkcs8, db.key_pkcs8);
        assert_ne!(FleetPki::derive(8, &names).unwrap().ca_pem(), a.ca_pem());
        assert_ne!(a.device(6, "02584D000006").unwrap().key_pkcs8, da.key_pkcs8);
        let dir = std::env::temp_dir().join(format!("sc-fleet-pki-{}", std::process::id()));
        let p = a.write_to(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&p.ca).unwrap(), a.ca_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p.broker_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "broker key readable by others: {mode:o}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_certificate_names_its_serial_and_chains_to_the_fleet_ca() {
        let a = FleetPki::derive(1, &["localhost".to_string()]).unwrap();
        let d = a.device(0, "02584DABCDEF").unwrap();
        let der = d.chain[0].as_ref();
        assert!(
            der.windows(12).any(|w| w == b"02584DABCDEF"),
            "CN in the certificate"
        );
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for c in CertificateDer::pem_slice_iter(a.ca_pem().as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider,
        )
        .build()
        .unwrap();
        let now = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            1_800_000_000,
        ));
        v.verify_client_cert(&d.chain[0], &[], now)
            .expect("chains to the fleet CA");
        let old = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(0));
        assert!(
            v.verify_client_cert(&d.chain[0], &[], old).is_err(),
            "1970 is before its validity"
        );
    }
}
