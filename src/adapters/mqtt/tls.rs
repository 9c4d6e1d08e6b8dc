//! The device's TLS client settings for MQTT (MQ-02, MQ-05, MQ-06): trust only the given
//! CA, present the device certificate (CN = serial) for mTLS, check certificate validity
//! against the DEVICE clock (so a device whose clock is wrong cannot connect, as the manual
//! warns), and check the broker certificate against the broker's configured host name even
//! when the connection goes to another address through the resolve map. Plus plain-language
//! reasons for TLS failures, for `MqttLink.error`.

use crate::adapters::host::Host;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;

/// rustls reads the time from the device's clock.
#[derive(Debug)]
pub struct DeviceTime(pub Arc<Host>);

impl rustls::time_provider::TimeProvider for DeviceTime {
    fn current_time(&self) -> Option<UnixTime> {
        let ms = self.0.device_time();
        u64::try_from(ms)
            .ok()
            .map(|ms| UnixTime::since_unix_epoch(Duration::from_millis(ms)))
    }
}

/// Verifies the broker certificate for a fixed name (the host in the broker URL), whatever
/// name rumqttc connected with (the resolved address).
#[derive(Debug)]
struct PinnedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for PinnedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The device's TLS client configuration: trust `ca_pem` only, check the broker certificate
/// for `server_name` at device time, and present `identity` (certificate chain PEM, key PEM)
/// when given (mTLS).
pub fn client_config(
    host: Arc<Host>,
    ca_pem: &str,
    server_name: &str,
    identity: Option<(&str, &str)>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    use TlsSetupError as E;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| E::CaPem(e.to_string()))?)
            .map_err(|e| E::CaPem(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(E::NoCa);
    }
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| E::ServerName {
        name: server_name.to_string(),
        message: e.to_string(),
    })?;
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| E::Verifier(e.to_string()))?;
    let builder = rustls::ClientConfig::builder_with_details(provider, Arc::new(DeviceTime(host)))
        .with_safe_default_protocol_versions()
        .map_err(E::Rustls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedName { inner, name }));
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| E::DeviceCert(e.to_string()))?;
            if chain.is_empty() {
                return Err(E::NoDeviceCert);
            }
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| E::DeviceKey(e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| E::DeviceCert(e.to_string()))
        }
    }
}

/// Why the device's TLS client could not be set up from its CA, certificate and key.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("CA certificate: {0}")]
    CaPem(String),
    #[error("no CA certificate to trust the broker with")]
    NoCa,
    #[error("broker host {name:?}: {message}")]
    ServerName { name: String, message: String },
    #[error("broker certificate verifier: {0}")]
    Verifier(String),
    #[error("{0}")]
    Rustls(#[source] rustls::Error),
    #[error("device certificate: {0}")]
    DeviceCert(String),
    #[error("the device certificate PEM holds no certificate")]
    NoDeviceCert,
    #[error("device key: {0}")]
    DeviceKey(String),
}

fn when(t: &UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("{} s", t.as_secs()),
            |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// A TLS failure in words a user can act on.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::Error as E;
    const CLOCK: &str =
        "a correct date and time are required for MQTT (MQ-06): check the device clock";
    match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::NotValidYetContext { time, not_before } => format!(
                "TLS: the broker certificate is not valid yet at device time {} (valid from {}); {CLOCK}",
                when(time),
                when(not_before)
            ),
            CertificateError::ExpiredContext { time, not_after } => format!(
                "TLS: the broker certificate has expired at device time {} (valid until {}); {CLOCK}",
                when(time),
                when(not_after)
            ),
            CertificateError::NotValidYet => format!("TLS: the broker certificate is not valid yet at device time; {CLOCK}"),
            CertificateError::Expired => format!("TLS: the broker certificate has expired at device time; {CLOCK}"),
            CertificateError::UnknownIssuer => "TLS: the broker certificate is not signed by a trusted CA".into(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("TLS: the broker certificate is not valid for the broker host name ({c})")
            }
            other => format!("TLS: invalid broker certificate: {other}"),
        },
        E::AlertReceived(a) => {
            use rustls::AlertDescription as A;
            match a {
                A::CertificateExpired => format!("TLS: the broker refused the device certificate as expired or not yet valid (alert {a:?})"),
                // DecryptError: the certificate names a CA the broker knows, but its signature does
                // not check out (signed by another CA of the same name).
                A::UnknownCA | A::BadCertificate | A::CertificateRequired | A::CertificateUnknown | A::AccessDenied | A::DecryptError => {
                    format!("TLS: the broker refused the device certificate (alert {a:?})")
                }
                _ => format!("TLS: the broker ended the handshake (alert {a:?})"),
            }
        }
        other => format!("TLS: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_errors_name_the_dates_and_the_clock() {
        let e = rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(0)),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(946_684_800)),
        });
        let s = describe(&e);
        assert!(
            s.contains("not valid yet")
                && s.contains("1970-01-01T00:00:00Z")
                && s.contains("2000-01-01T00:00:00Z"),
            "{s}"
        );
        assert!(s.contains("clock"), "{s}");
        let a = describe(&rustls::Error::AlertReceived(
            rustls::AlertDescription::UnknownCA,
        ));
        assert!(a.contains("refused the device certificate"), "{a}");
    }
}
