//! The plain front: the public `mqtt://` listener (on the broker's `Net`). It applies the
//! guard (budget, CONNECT deadline, the device's client id) and relays to rumqttd's public
//! listener (in memory: a bridge playing it, `bridge.rs`), which checks the account
//! (username/password). Password clients may publish commands (they are the
//! installer's accounts), so no `cmd/#` filter runs here.

use super::bridge::{Backend, Side};
use super::guard::{read_connect, refuse, relay, Guard, Who};
use crate::adapters::net::{Listener, Stream};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub(super) async fn plain_front(
    listener: Listener,
    backend: Arc<Backend>,
    guard: Arc<Guard>,
    budget: Arc<Semaphore>,
) {
    let mut errors = crate::adapters::accept::AcceptErrors::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => {
                errors.accepted("mqtt plain front");
                c
            }
            Err(e) => {
                // e.g. out of descriptors: logged once, backed off, still listening.
                tokio::time::sleep(errors.failed("mqtt plain front", &e)).await;
                continue;
            }
        };
        // Over budget: closed at once.
        let Ok(permit) = Arc::clone(&budget).try_acquire_owned() else {
            guard.log.turned_away.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let (guard, backend) = (Arc::clone(&guard), Arc::clone(&backend));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = forward(tcp, peer, &backend, &guard).await {
                tracing::debug!("mqtt plain front: {peer}: {e}");
            }
        });
    }
}

async fn forward(
    mut tcp: Stream,
    peer: SocketAddr,
    backend: &Backend,
    guard: &Guard,
) -> std::io::Result<()> {
    let deadline = Instant::now() + guard.connect_timeout;
    let (buf, client_id, _username) = match read_connect(&mut tcp, deadline).await {
        Ok(c) => c,
        Err(why) => {
            guard.log.refused(format!("plain {peer}: {why}"));
            return Ok(());
        }
    };
    if let Err(why) = guard.admit(Who::Account, &client_id) {
        guard.log.refused(format!("plain {peer}: {why}"));
        refuse(&mut tcp).await;
        return Ok(());
    }
    let upstream = backend.connect(Side::Public).await?;
    relay(tcp, upstream, buf, false).await?;
    Ok(())
}
