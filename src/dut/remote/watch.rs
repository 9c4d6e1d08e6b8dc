//! The harness's own MQTT connection to the broker a remote device publishes to, as an
//! installer's tool would have (rumqttc): subscribe to see the device's messages, publish to
//! send it commands. `mqtt://` with an account, or `mqtts://` trusting a given CA, with a
//! client certificate when the broker wants one.

use super::super::TargetError;
use crate::adapters::broker::Message;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where and how to watch.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// `mqtt://host:1883` or `mqtts://host:8883`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// PEM text of the CA that signed the broker's certificate (`mqtts://`).
    #[serde(skip)]
    pub ca_pem: Option<String>,
    /// PEM text of a client certificate and its key, when the broker wants one.
    #[serde(skip)]
    pub client_pem: Option<(String, String)>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How long to wait for the broker to accept a connection, subscription or message.
const ANSWER: Duration = Duration::from_secs(10);

impl Watch {
    fn options(&self) -> Result<MqttOptions, TargetError> {
        let (tls, rest) = if let Some(r) = self.url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = self.url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(TargetError::bench(format!(
                "MQTT watch URL {:?}: expected mqtt://HOST:PORT or mqtts://HOST:PORT",
                self.url
            )));
        };
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>().map_err(|_| {
                    TargetError::bench(format!("MQTT watch URL {:?}: bad port {p:?}", self.url))
                })?,
            ),
            None => (rest.to_string(), if tls { 8883 } else { 1883 }),
        };
        let id = format!(
            "sc-harness-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let mut o = MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(1 << 20, 1 << 20);
        if let Some(u) = &self.username {
            o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
        }
        if tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(self.tls_config()?),
            )));
        }
        Ok(o)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, TargetError> {
        let err = |what: &str, e: &dyn std::fmt::Display| {
            TargetError::bench(format!("MQTT watch {what}: {e}"))
        };
        let ca = self.ca_pem.as_deref().ok_or_else(|| {
            TargetError::bench("MQTT watch over mqtts:// needs `ca` (the broker's CA certificate)")
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots
                .add(c.map_err(|e| err("CA", &e))?)
                .map_err(|e| err("CA", &e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS", &e))?
            .with_root_certificates(roots);
        match &self.client_pem {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| err("client certificate", &e))?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .map_err(|e| err("client key", &e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| err("client certificate", &e))
            }
        }
    }

    /// Subscribe to `filter`; active when this returns. Messages arrive until the receiver
    /// is dropped.
    pub async fn subscribe(
        &self,
        filter: &str,
    ) -> Result<mpsc::UnboundedReceiver<Message>, TargetError> {
        let (client, mut events) = AsyncClient::new(self.options()?, 64);
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(|e| TargetError::bench(format!("MQTT subscribe {filter}: {e}")))?;
        let subscribed = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(TargetError::bench(format!("MQTT watch {}: {e}", self.url)))
                    }
                }
            }
        };
        tokio::time::timeout(ANSWER, subscribed)
            .await
            .map_err(|_| {
                TargetError::bench(format!(
                    "MQTT watch {}: no SUBACK within {ANSWER:?}",
                    self.url
                ))
            })??;
        let (tx, rx) = mpsc::unbounded_channel();
        let filter = filter.to_string();
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    // A new session after a reconnect: subscribe again.
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let m = Message {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        };
                        if tx.send(m).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("MQTT watch: {e}; reconnecting");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if tx.is_closed() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Publish one message (QoS 1) and wait for the broker's acknowledgement.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), TargetError> {
        let (client, mut events) = AsyncClient::new(self.options()?, 8);
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .map_err(|e| TargetError::bench(format!("MQTT publish {topic}: {e}")))?;
        let acked = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(TargetError::bench(format!("MQTT publish {topic}: {e}"))),
                }
            }
        };
        let r = tokio::time::timeout(ANSWER, acked).await.map_err(|_| {
            TargetError::bench(format!("MQTT publish {topic}: no PUBACK within {ANSWER:?}"))
        })?;
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
        r
    }
}
