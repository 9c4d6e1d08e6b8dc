//! A local test PKI, made with `rcgen` (no openssl): one CA, a server certificate for the
//! device's HTTPS interface (WEB-06) or a test MQTT broker, and a device (client) certificate
//! whose CN is the serial number, as the real device uses for MQTT mTLS (MQ-05).
//!
//! - Keys are fresh ECDSA P-256 keys on every run (random; certificates differ between runs,
//!   their names and validity windows do not).
//! - No certificate carries an Organization (O) or any other name part than the CN: some
//!   brokers (rumqttd) map O to a tenant, which would split the device from its topics.
//! - Validity windows are parameters in device time (`Millis`), so MQ-06 tests can make a
//!   certificate that is not yet valid or expired relative to a device clock. The default
//!   window (`Validity::ALWAYS`, 2000–2099) is valid for any scenario date and for the wall
//!   clock.
//! - Every certificate is signed by the same CA: `issue_server` / `issue_client` make more
//!   (e.g. an expired device certificate) after the fact.
//! - `rustls` configurations use the ring provider explicitly, so they work whichever
//!   other rustls crypto providers the dependency tree enables.
//! - `with_keys` takes the keys instead (the fleet's PKI: keys derived from the fleet seed, so
//!   every shard makes the same CA and certificates).
//!
//! ```no_run
//! use smart_connect_sim::adapters::certs::{PkiOptions, TestPki};
//! let pki = TestPki::new("02584D0A1B2C").unwrap();
//! let paths = pki.write_to(std::path::Path::new("/tmp/pki")).unwrap();
//! let https = pki.server_config().unwrap(); // for HttpServer::start_tls
//! # let _ = (paths, https, PkiOptions::default());
//! ```

use crate::sim::clock::Millis;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What can go wrong while making the PKI or a TLS configuration from it.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("validity: {0}")]
    Validity(String),
}

/// A certificate's validity window, UTC epoch milliseconds (whole seconds are used: X.509
/// times have second precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: Millis,
    pub not_after: Millis,
}

const DAY_MS: Millis = 86_400_000;

impl Validity {
    /// 2000-01-01T00:00:00Z .. 2099-12-31T23:59:59Z: valid for any scenario and the wall clock.
    pub const ALWAYS: Validity = Validity {
        not_before: 946_684_800_000,
        not_after: 4_102_444_799_000,
    };

    pub fn from_millis(not_before: Millis, not_after: Millis) -> Self {
        Validity {
            not_before,
            not_after,
        }
    }

    /// From `days_before` days before `at` to `days_after` days after it. Negative numbers
    /// move the window: `days_around(now, -10, 20)` is not yet valid at `now` (MQ-06),
    /// `days_around(now, 20, -10)` has expired.
    pub fn days_around(at: Millis, days_before: i64, days_after: i64) -> Self {
        Validity {
            not_before: at - days_before * DAY_MS,
            not_after: at + days_after * DAY_MS,
        }
    }

    /// Whether a certificate with this window is valid at `t`.
    pub fn contains(&self, t: Millis) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    fn apply(&self, p: &mut CertificateParams) -> Result<(), PkiError> {
        if self.not_after < self.not_before {
            return Err(PkiError::Validity(format!(
                "not_after {} is before not_before {}",
                self.not_after, self.not_before
            )));
        }
        let at = |ms: Millis| {
            time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
                .map_err(|e| PkiError::Validity(format!("{ms} ms: {e}")))
        };
        p.not_before = at(self.not_before)?;
        p.not_after = at(self.not_after)?;
        Ok(())
    }
}

impl Default for Validity {
    fn default() -> Self {
        Validity::ALWAYS
    }
}

/// The names a test server certificate covers by default: loopback, the device's mDNS name
/// (NET-06, WEB-01) and the default MQTT broker (MQ-02).
pub const DEFAULT_SERVER_NAMES: [&str; 4] = [
    "localhost",
    "127.0.0.1",
    "smart-connect.local",
    "broker.xemex-cloud.eu",
];

/// How to make a `TestPki`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// The CA's common name.
    pub ca_name: String,
    pub ca_validity: Validity,
    /// DNS names and IP addresses (an entry that parses as an IP becomes an IP SAN).
    pub server_names: Vec<String>,
    pub server_validity: Validity,
    /// The device certificate's CN: the serial number (MQ-05).
    pub client_cn: String,
    pub client_validity: Validity,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            ca_name: "Smart Connect Test CA".into(),
            ca_validity: Validity::ALWAYS,
            server_names: DEFAULT_SERVER_NAMES.iter().map(|s| s.to_string()).collect(),
            server_validity: Validity::ALWAYS,
            client_cn: "000000000000".into(),
            client_validity: Validity::ALWAYS,
        }
    }
}

/// A certificate with its private key.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_pem: String,
    key_der: Vec<u8>,
    validity: Validity,
}

impl IssuedCert {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The private key as rustls takes it.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    pub fn validity(&self) -> Validity {
        self.validity
    }
}

/// Files written by `TestPki::write_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    /// `ca.pem`
    pub ca: PathBuf,
    /// `server.pem`
    pub server_cert: PathBuf,
    /// `server.key`
    pub server_key: PathBuf,
    /// `device.pem` (client certificate, CN = serial)
    pub device_cert: PathBuf,
    /// `device.key`
    pub device_key: PathBuf,
}

/// A CA with one server and one device (client) certificate.
pub struct TestPki {
    ca: IssuedCert,
    issuer: Issuer<'static, KeyPair>,
    server: IssuedCert,
    client: IssuedCert,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("server", &self.server.validity)
            .field("client", &self.client.validity)
            .finish_non_exhaustive()
    }
}

/// A distinguished name with only a CN.
fn cn_only(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Make `ring` the process's default rustls provider, once: reqwest builds its TLS settings
/// from the process default (every other TLS configuration here names its provider).
pub fn install_crypto_provider() {
    // An error means a default is installed already: nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestPki {
    /// Default names and validity; the device certificate's CN is `client_serial`.
    pub fn new(client_serial: &str) -> Result<Self, PkiError> {
        TestPki::with_options(&PkiOptions {
            client_cn: client_serial.into(),
            ..PkiOptions::default()
        })
    }

    pub fn with_options(o: &PkiOptions) -> Result<Self, PkiError> {
        Self::with_keys(o, &|_| Ok(KeyPair::generate()?))
    }

    /// The PKI of `o` with the keys `key(role)` gives for the roles `ca`, `server` and
    /// `client` (fixed keys make the same certificates every time: the fleet PKI).
    pub fn with_keys(
        o: &PkiOptions,
        key: &dyn Fn(&str) -> Result<KeyPair, PkiError>,
    ) -> Result<Self, PkiError> {
        let ca_key = key("ca")?;
        let mut p = CertificateParams::default();
        p.distinguished_name = cn_only(&o.ca_name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        o.ca_validity.apply(&mut p)?;
        let cert = p.self_signed(&ca_key)?;
        let ca = IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: ca_key.serialize_pem(),
            key_der: ca_key.serialize_der(),
            validity: o.ca_validity,
        };
        let issuer = Issuer::new(p, ca_key);
        let mut pki = TestPki {
            server: ca.clone(),
            client: ca.clone(),
            ca,
            issuer,
        };
        pki.server = pki.issue_server_with(&o.server_names, o.server_validity, key("server")?)?;
        pki.client = pki.issue_client_with(&o.client_cn, o.client_validity, key("client")?)?;
        Ok(pki)
    }

    /// A new server certificate from this CA for `names` (DNS names or IP addresses; the
    /// first is also the CN).
    pub fn issue_server<S: AsRef<str>>(
        &self,
        names: &[S],
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        self.issue_server_with(names, validity, KeyPair::generate()?)
    }

    /// [`issue_server`](Self::issue_server) for the given key.
    pub fn issue_server_with<S: AsRef<str>>(
        &self,
        names: &[S],
        validity: Validity,
        key: KeyPair,
    ) -> Result<IssuedCert, PkiError> {
        let names: Vec<String> = names.iter().map(|s| s.as_ref().to_string()).collect();
        let mut p = CertificateParams::new(names.clone())?;
        p.distinguished_name = cn_only(names.first().map_or("localhost", String::as_str));
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        validity.apply(&mut p)?;
        self.sign(p, validity, key)
    }

    /// A new client certificate from this CA with `cn` as its only name (the device serial).
    pub fn issue_client(&self, cn: &str, validity: Validity) -> Result<IssuedCert, PkiError> {
        self.issue_client_with(cn, validity, KeyPair::generate()?)
    }

    /// [`issue_client`](Self::issue_client) for the given key.
    pub fn issue_client_with(
        &self,
        cn: &str,
        validity: Validity,
        key: KeyPair,
    ) -> Result<IssuedCert, PkiError> {
        let mut p = CertificateParams::default();
        p.distinguished_name = cn_only(cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        validity.apply(&mut p)?;
        self.sign(p, validity, key)
    }

    fn sign(
        &self,
        p: CertificateParams,
        validity: Validity,
        key: KeyPair,
    ) -> Result<IssuedCert, PkiError> {
        let cert = p.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            validity,
        })
    }

    /// The CA certificate (its key is `ca().key_pem()`, should a test need it).
    pub fn ca(&self) -> &IssuedCert {
        &self.ca
    }

    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    pub fn server(&self) -> &IssuedCert {
        &self.server
    }

    /// The device (client) certificate, CN = serial.
    pub fn client(&self) -> &IssuedCert {
        &self.client
    }

    /// A root store holding only this CA.
    pub fn root_store(&self) -> Result<rustls::RootCertStore, PkiError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.cert_der.clone())?;
        Ok(roots)
    }

    /// Write `ca.pem`, `server.pem`, `server.key`, `device.pem`, `device.key` into `dir`
    /// (created if missing, mode 0700 on Unix). The private keys are created with mode 0600.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PkiPaths> {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(dir)?;
        let paths = PkiPaths {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            device_cert: dir.join("device.pem"),
            device_key: dir.join("device.key"),
        };
        std::fs::write(&paths.ca, self.ca.cert_pem())?;
        std::fs::write(&paths.server_cert, self.server.cert_pem())?;
        write_private(&paths.server_key, self.server.key_pem())?;
        std::fs::write(&paths.device_cert, self.client.cert_pem())?;
        write_private(&paths.device_key, self.client.key_pem())?;
        Ok(paths)
    }

    /// The server certificate chain (server, CA).
    fn server_chain(&self, cert: &IssuedCert) -> Vec<CertificateDer<'static>> {
        vec![cert.cert_der.clone(), self.ca.cert_der.clone()]
    }

    /// A TLS server configuration with the server certificate, no client authentication
    /// (HTTPS, WEB-06). No ALPN is set; `HttpServer::start_tls` sets `http/1.1`.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        Ok(rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.server_chain(&self.server), self.server.key_der())?)
    }

    /// A TLS server configuration that requires a client certificate from this CA (a test
    /// MQTT broker with mTLS, MQ-05).
    pub fn server_config_with_client_auth(&self) -> Result<rustls::ServerConfig, PkiError> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.root_store()?),
            provider(),
        )
        .build()?;
        Ok(rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain(&self.server), self.server.key_der())?)
    }

    /// A TLS client configuration trusting only this CA; with `client_cert` it presents the
    /// device certificate (mTLS).
    pub fn client_config(&self, client_cert: bool) -> Result<rustls::ClientConfig, PkiError> {
        let b = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.root_store()?);
        Ok(match client_cert {
            true => b.with_client_auth_cert(
                vec![self.client.cert_der.clone(), self.ca.cert_der.clone()],
                self.client.key_der(),
            )?,
            false => b.with_no_client_auth(),
        })
    }
}

/// Write a private key readable by its owner only (0600 on Unix, also when the file existed).
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::adapters::file_store::create_private(path)?;
    f.write_all(pem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_pki_without_organization_and_with_the_given_windows() {
        let now = 1_750_000_000_000;
        let o = PkiOptions {
            client_cn: "02584D0A1B2C".into(),
            client_validity: Validity::days_around(now, -1, 30),
            ..PkiOptions::default()
        };
        let pki = TestPki::with_options(&o).unwrap();
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.client().key_pem().contains("PRIVATE KEY"));
        assert!(!pki.client().validity().contains(now), "not yet valid");
        assert!(pki.client().validity().contains(now + 2 * DAY_MS));
        for c in [pki.ca(), pki.server(), pki.client()] {
            // OID 2.5.4.10 (organizationName) encoded: 06 03 55 04 0A
            let der = c.cert_der().as_ref();
            assert!(
                !der.windows(5).any(|w| w == [0x06, 0x03, 0x55, 0x04, 0x0A]),
                "no O field"
            );
        }
        // CN 02584D0A1B2C is in the client certificate.
        assert!(pki
            .client()
            .cert_der()
            .windows(12)
            .any(|w| w == b"02584D0A1B2C"));
        pki.server_config().unwrap();
        pki.server_config_with_client_auth().unwrap();
        pki.client_config(true).unwrap();
        pki.client_config(false).unwrap();
        assert!(Validity::days_around(now, 1, -2)
            .apply(&mut CertificateParams::default())
            .is_err());
    }

    #[test]
    fn writes_the_five_files() {
        let dir = std::env::temp_dir().join(format!("sc-pki-{}", std::process::id()));
        let paths = TestPki::new("0123456789AB")
            .unwrap()
            .write_to(&dir)
            .unwrap();
        for p in [
            &paths.ca,
            &paths.server_cert,
            &paths.server_key,
            &paths.device_cert,
            &paths.device_key,
        ] {
            assert!(
                std::fs::read_to_string(p)
                    .unwrap()
                    .starts_with("-----BEGIN"),
                "{p:?}"
            );
        }
        assert_eq!(paths.device_key.file_name().unwrap(), "device.key");
        #[cfg(unix)]
        for key in [&paths.server_key, &paths.device_key] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", key.display());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
