//! The TLS front: verifies the client certificate against the test CA, applies the guard
//! (budget, CONNECT deadline, the device's client id, `cmd/#` from other certificates), logs
//! the CN with the client id and username of the CONNECT it forwards, and relays the
//! connection to rumqttd's internal (certificate: logged in with the front's own account) or
//! public (password) listener — or, in memory, to a bridge that plays that listener
//! (`bridge.rs`). It listens on the broker's `Net`.

use super::bridge::{Backend, Side};
use super::connect_parse::{cert_cn, with_credentials};
use super::guard::{read_connect, refuse, relay, Guard, Who};
use super::TlsClient;
use crate::adapters::certs::{PkiError, TestPki};
use crate::adapters::net::{Listener, Stream};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Where the TLS front relays to, and how it logs in to the internal listener.
pub(super) struct Upstreams {
    /// rumqttd's listeners: internal for certificate clients (accepts only the front's
    /// account), public for password clients (accepts the configured accounts).
    pub(super) backend: Arc<Backend>,
    /// The front's account on `internal`: (username, password), random per broker start.
    pub(super) front_login: (String, String),
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
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
    listener: Listener,
    acceptor: tokio_rustls::TlsAcceptor,
    up: Arc<Upstreams>,
    guard: Arc<Guard>,
    budget: Arc<Semaphore>,
) {
    let log = Arc::clone(&guard.log);
    let mut errors = crate::adapters::accept::AcceptErrors::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => {
                errors.accepted("mqtt TLS front");
                c
            }
            Err(e) => {
                // e.g. out of descriptors: logged once, backed off, still listening.
                tokio::time::sleep(errors.failed("mqtt TLS front", &e)).await;
                continue;
            }
        };
        if !*log.reachable.borrow() {
            drop(tcp);
            continue;
        }
        // Over budget: closed at once, before any TLS work.
        let Ok(permit) = Arc::clone(&budget).try_acquire_owned() else {
            log.turned_away
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let (acceptor, up, guard) = (acceptor.clone(), Arc::clone(&up), Arc::clone(&guard));
        tokio::spawn(async move {
            let _permit = permit;
            let mut reachable = guard.log.reachable.subscribe();
            tokio::select! {
                r = forward(tcp, peer, acceptor, &up, &guard) => {
                    if let Err(e) = r {
                        tracing::debug!("mqtt TLS front: {peer}: {e}");
                    }
                }
                _ = reachable.wait_for(|r| !*r) => tracing::debug!("mqtt TLS front: {peer}: cut (broker unreachable)"),
            }
        });
    }
}

/// One TLS connection: handshake and CONNECT within the deadline, the guard's rules, then relay.
async fn forward(
    tcp: Stream,
    peer: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    up: &Upstreams,
    guard: &Guard,
) -> io::Result<()> {
    let log = &guard.log;
    let deadline = Instant::now() + guard.connect_timeout;
    let mut tls = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
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
    let (buf, client_id, username) = match read_connect(&mut tls, deadline).await {
        Ok(c) => c,
        Err(why) => {
            log.refused(format!("{peer}: {why}"));
            return Ok(());
        }
    };
    let who = match cn.as_deref() {
        Some(c) if c == guard.device_cn => Who::Device,
        Some(c) => Who::OtherCert(c),
        None => Who::Account,
    };
    if let Err(why) = guard.admit(who, &client_id) {
        log.refused(format!("{peer}: {why}"));
        refuse(&mut tls).await;
        return Ok(());
    }
    let filter = !Guard::may_command(who);
    let (first, upstream) = if cn.is_some() {
        // Certificate clients go to the internal listener, which takes only the front's
        // account: nobody reaches it without passing this front.
        let Some((mut login, used)) = with_credentials(&buf, &up.front_login.0, &up.front_login.1)
        else {
            log.refused(format!("{peer}: not an MQTT 3.1.1 CONNECT"));
            refuse(&mut tls).await;
            return Ok(());
        };
        login.extend_from_slice(&buf[used..]);
        (login, Side::Internal)
    } else {
        (buf, Side::Public)
    };
    let _live =
        (who == Who::Device && client_id == guard.device_cn).then(|| guard.device_connected());
    log.let_through(TlsClient {
        peer,
        cn: cn.clone(),
        client_id: Some(client_id),
        username,
    });
    let upstream = up.backend.connect(upstream).await?;
    if let Some(topic) = relay(tls, upstream, first, filter).await? {
        log.refused(format!(
            "{peer}: PUBLISH to {topic} cut: commands are not accepted from certificate {}",
            cn.unwrap_or_default()
        ));
    }
    Ok(())
}
