//! The TLS front: verifies the client certificate against the test CA, records its CN with
//! the client id and username of the CONNECT it forwards, and relays the connection to
//! rumqttd's internal (certificate) or public (password) listener.

use super::connect_parse::{cert_cn, parse_connect, ConnectParse};
use super::TlsClient;
use crate::adapters::certs::{PkiError, TestPki};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a TLS handshake or the first MQTT packet may take on the front.
const FRONT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest CONNECT the front buffers before giving up on parsing it.
const MAX_CONNECT: usize = 64 * 1024;

pub(super) struct FrontLog {
    pub(super) clients: Mutex<Vec<TlsClient>>,
    pub(super) refusals: Mutex<Vec<String>>,
    /// `false`: the front cuts its connections and closes new ones at once.
    pub(super) reachable: watch::Sender<bool>,
    /// Bumped after every entry in `clients` or `refusals`, so waiters need not poll.
    pub(super) entries: watch::Sender<u64>,
}

impl FrontLog {
    fn refused(&self, why: String) {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(why);
        self.entries.send_modify(|n| *n += 1);
    }
}

impl Default for FrontLog {
    fn default() -> Self {
        FrontLog {
            clients: Mutex::default(),
            refusals: Mutex::default(),
            reachable: watch::Sender::new(true),
            entries: watch::Sender::new(0),
        }
    }
}

/// The TLS front's configuration: the broker certificate; client certificates from the test
/// CA required, or optional when password clients are allowed.
pub(super) fn front_config(
    pki: &TestPki,
    allow_no_cert: bool,
) -> Result<rustls::ServerConfig, PkiError> {
    if !allow_no_cert {
        return pki.server_config_with_client_auth();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(pki.root_store()?),
        Arc::clone(&provider),
    )
    .allow_unauthenticated()
    .build()?;
    let chain = vec![pki.server().cert_der().clone(), pki.ca().cert_der().clone()];
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, pki.server().key_der())?)
}

pub(super) async fn front(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    internal: SocketAddr,
    public: SocketAddr,
    log: Arc<FrontLog>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("mqtt TLS front: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !*log.reachable.borrow() {
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let (acceptor, log) = (acceptor.clone(), Arc::clone(&log));
        tokio::spawn(async move {
            let mut reachable = log.reachable.subscribe();
            tokio::select! {
                r = forward(tcp, peer, acceptor, internal, public, &log) => {
                    if let Err(e) = r {
                        tracing::debug!("mqtt TLS front: {peer}: {e}");
                    }
                }
                _ = reachable.wait_for(|r| !*r) => tracing::debug!("mqtt TLS front: {peer}: cut (broker unreachable)"),
            }
        });
    }
}

/// One TLS connection: handshake, note the certificate's CN and the CONNECT, then relay.
async fn forward(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    internal: SocketAddr,
    public: SocketAddr,
    log: &FrontLog,
) -> io::Result<()> {
    let mut tls = match tokio::time::timeout(FRONT_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            log.refused(format!("{peer}: {e}"));
            return Err(e);
        }
        Err(_) => {
            log.refused(format!("{peer}: TLS handshake timed out"));
            return Ok(());
        }
    };
    let cn = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| cert_cn(c.as_ref()));
    let mut buf = Vec::with_capacity(256);
    let parsed = loop {
        match parse_connect(&buf) {
            ConnectParse::Incomplete if buf.len() < MAX_CONNECT => {}
            ConnectParse::Incomplete | ConnectParse::Invalid => break None,
            ConnectParse::Done {
                client_id,
                username,
            } => break Some((client_id, username)),
        }
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout(FRONT_TIMEOUT, tls.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (client_id, username) = parsed.map_or((None, None), |(c, u)| (Some(c), u));
    log.clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(TlsClient {
            peer,
            cn: cn.clone(),
            client_id,
            username,
        });
    log.entries.send_modify(|n| *n += 1);
    let mut upstream = TcpStream::connect(if cn.is_some() { internal } else { public }).await?;
    upstream.set_nodelay(true)?;
    upstream.write_all(&buf).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}
