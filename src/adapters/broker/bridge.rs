//! Where the fronts send the connections they admit (`Backend`): over TCP to rumqttd's
//! internal or public listener (`Net::Tcp`), or — in-memory mode (`Net::Mem`), where rumqttd
//! opens no listener at all — into an in-memory pipe whose other end a bridge of ours serves,
//! straight into rumqttd's router through a local link.
//!
//! The bridge does what rumqttd's network link does (`mqtt_connect`, `handle_auth`,
//! `RemoteLink` in rumqttd 0.20), with the same MQTT 3.1.1 codec (`V4`):
//!
//! - the CONNECT within the listener's CONNECT deadline; the account checked like rumqttd's
//!   static `auth` table (no login, an unknown user or another password: closed without a
//!   CONNACK); keep alive 0 refused (closed); an empty client id with a persistent session
//!   refused with CONNACK "identifier rejected"; an empty client id otherwise gets
//!   `rumqtt-<random>`;
//! - the router's CONNACK, then packets in → the link, the router's notifications (forwards,
//!   acks, PINGRESP) → packets out; no byte for 1.5 × the keep alive → closed;
//! - at the end the router forgets the connection: a DISCONNECT is sent on the link unless
//!   the client sent one or the router already dropped the link (its client id was taken
//!   over). A stale DISCONNECT cannot hit another connection: it goes into this link's own
//!   buffer, which the router no longer reads once the connection is gone.
//! - Last will: rumqttd publishes it from its network task with a router event that is not
//!   public, so the bridge gives the link no will and publishes it itself (at QoS 0, the only
//!   PUBLISH rumqttd lets us make) before the DISCONNECT when the connection ends without one.

use super::super::net::Stream;
use super::MAX_PAYLOAD;
use bytes::BytesMut;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{
    ConnAck, ConnectReturnCode, Disconnect, DisconnectReasonCode, LastWill, Login, Packet,
    Protocol, Publish,
};
use rumqttd::Notification;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Bytes the pipe between a front and its bridge buffers in each direction.
const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// What a router link is made for.
pub(super) struct LinkSpec {
    pub(super) client_id: String,
    pub(super) clean_session: bool,
}

/// Makes a link to the router (blocks until the router answers); `Err`: why not.
pub(super) type BuildLink =
    Arc<dyn Fn(LinkSpec) -> Result<(LinkTx, LinkRx, Notification), String> + Send + Sync>;

/// One of rumqttd's listeners, served in memory: the accounts it takes, its CONNECT deadline
/// and how links to the router are made.
pub(super) struct Door {
    pub(super) name: &'static str,
    pub(super) accounts: HashMap<String, String>,
    pub(super) connect_timeout: Duration,
    pub(super) build: BuildLink,
    /// Bridged connections whose link the router still holds.
    pub(super) live: AtomicUsize,
}

impl Door {
    /// rumqttd's `handle_auth` with a static table: a login whose user is known and whose
    /// password matches (compared in constant time).
    fn admits(&self, login: Option<&Login>) -> bool {
        let Some(login) = login else {
            return false;
        };
        self.accounts
            .get(&login.username)
            .is_some_and(|p| same_secret(p.as_bytes(), login.password.as_bytes()))
    }
}

/// Equal byte strings, compared without an early exit on the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Which of rumqttd's listeners a front wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// Certificate clients, logged in with the TLS front's own account.
    Internal,
    /// Password clients (the installer accounts).
    Public,
}

/// Where the fronts send admitted connections.
pub(super) enum Backend {
    Tcp {
        internal: SocketAddr,
        public: SocketAddr,
    },
    Mem {
        internal: Arc<Door>,
        public: Arc<Door>,
    },
}

impl Backend {
    /// In memory: the connections bridged into the router right now; 0 over TCP.
    pub(super) fn live(&self) -> usize {
        match self {
            Backend::Mem { internal, public } => {
                internal.live.load(Ordering::SeqCst) + public.live.load(Ordering::SeqCst)
            }
            Backend::Tcp { .. } => 0,
        }
    }

    /// A connection to rumqttd's `side` listener (in memory: a pipe to a fresh bridge).
    pub(super) async fn connect(&self, side: Side) -> io::Result<Stream> {
        match self {
            Backend::Tcp { internal, public } => {
                let addr = if side == Side::Internal {
                    internal
                } else {
                    public
                };
                let s = tokio::net::TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s))
            }
            Backend::Mem { internal, public } => {
                let door = Arc::clone(if side == Side::Internal {
                    internal
                } else {
                    public
                });
                let (front, back) = tokio::io::duplex(PIPE_BUFFER_BYTES);
                tokio::spawn(async move {
                    match serve(back, &door).await {
                        Ok(end) => tracing::debug!("mqtt bridge ({}): {end:?}", door.name),
                        Err(e) => tracing::debug!("mqtt bridge ({}): {e}", door.name),
                    }
                });
                Ok(Box::new(front))
            }
        }
    }
}

/// Why a bridged connection was refused or broken.
#[derive(Debug, thiserror::Error)]
pub(super) enum BridgeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("invalid MQTT data: {0}")]
    Protocol(rumqttd::protocol::Error),
    #[error("closed before its CONNECT")]
    ClosedBeforeConnect,
    #[error("no CONNECT in time")]
    ConnectTimeout,
    #[error("the first packet is not a CONNECT")]
    NotConnect,
    #[error("not authorized: {0}")]
    Auth(String),
    #[error("keep alive 0 is not accepted")]
    ZeroKeepAlive,
    #[error("a persistent session needs a client id")]
    InvalidClientId,
    #[error("router link: {0}")]
    Link(String),
}

/// How a bridged connection that got its CONNACK ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    /// The client sent DISCONNECT.
    Disconnected,
    /// The router dropped the link (the client id connected again elsewhere).
    TakenOver,
    /// The client closed, broke the protocol or went silent; the bridge told the router.
    Lost(String),
}

/// Serve one connection (the bridge's end of a pipe) until it ends.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    door: &Door,
) -> Result<Ended, BridgeError> {
    let mut rbuf = BytesMut::with_capacity(4096);
    let mut wbuf = BytesMut::with_capacity(4096);
    let first = tokio::time::timeout(door.connect_timeout, read_packet(&mut s, &mut rbuf))
        .await
        .map_err(|_| BridgeError::ConnectTimeout)??;
    let Packet::Connect(connect, _, will, _, login) = first else {
        return Err(BridgeError::NotConnect);
    };
    if !door.admits(login.as_ref()) {
        let user = login.map_or_else(|| "no login".into(), |l| format!("user {}", l.username));
        return Err(BridgeError::Auth(user));
    }
    if connect.keep_alive == 0 {
        return Err(BridgeError::ZeroKeepAlive);
    }
    if connect.client_id.is_empty() && !connect.clean_session {
        let ack = ConnAck {
            session_present: false,
            code: ConnectReturnCode::ClientIdentifierNotValid,
        };
        write(&mut s, &mut wbuf, Packet::ConnAck(ack, None)).await?;
        return Err(BridgeError::InvalidClientId);
    }
    let client_id = if connect.client_id.is_empty() {
        assigned_client_id()
    } else {
        connect.client_id.clone()
    };
    let spec = LinkSpec {
        client_id,
        clean_session: connect.clean_session,
    };
    let build = Arc::clone(&door.build);
    let (mut tx, mut rx, ack) = tokio::task::spawn_blocking(move || build(spec))
        .await
        .map_err(|e| BridgeError::Link(e.to_string()))?
        .map_err(BridgeError::Link)?;
    door.live.fetch_add(1, Ordering::SeqCst);
    let keep_alive = Duration::from_secs(u64::from(connect.keep_alive)).mul_f32(1.5);
    let end = match Option::<Packet>::from(ack) {
        Some(p) => match write(&mut s, &mut wbuf, p).await {
            Ok(()) => session(&mut s, rbuf, wbuf, &mut tx, &mut rx, keep_alive).await,
            Err(e) => Ended::Lost(e.to_string()),
        },
        None => Ended::Lost("the router gave no CONNACK".into()),
    };
    if let Ended::Lost(_) = end {
        if let Some(w) = will {
            let _ = tx.send(will_publish(w)).await;
        }
        let disconnect = Disconnect {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        };
        let _ = tx.send(Packet::Disconnect(disconnect, None)).await;
    }
    door.live.fetch_sub(1, Ordering::SeqCst);
    Ok(end)
}

/// The connected part: packets both ways until the connection ends.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    mut rbuf: BytesMut,
    mut wbuf: BytesMut,
    tx: &mut LinkTx,
    rx: &mut LinkRx,
    keep_alive: Duration,
) -> Ended {
    let lost = |e: &dyn std::fmt::Display| Ended::Lost(e.to_string());
    let mut deadline = Instant::now() + keep_alive;
    loop {
        tokio::select! {
            r = tokio::time::timeout_at(deadline, s.read_buf(&mut rbuf)) => {
                match r {
                    Err(_) => return Ended::Lost("keep alive timed out".into()),
                    Ok(Err(e)) => return lost(&e),
                    Ok(Ok(0)) => return Ended::Lost("closed by the client".into()),
                    Ok(Ok(_)) => deadline = Instant::now() + keep_alive,
                }
                loop {
                    match V4.read_mut(&mut rbuf, MAX_PAYLOAD) {
                        Ok(p @ Packet::Disconnect(..)) => {
                            return match tx.send(p).await {
                                Ok(_) => Ended::Disconnected,
                                Err(e) => lost(&e),
                            };
                        }
                        Ok(p) => {
                            if let Err(e) = tx.send(p).await {
                                return lost(&e);
                            }
                        }
                        Err(rumqttd::protocol::Error::InsufficientBytes(_)) => break,
                        Err(e) => return lost(&e),
                    }
                }
            }
            n = rx.next() => match n {
                Ok(Some(Notification::Unschedule)) => {
                    if rx.wake().await.is_err() {
                        return Ended::TakenOver;
                    }
                }
                Ok(Some(n)) => {
                    if let Some(p) = Option::<Packet>::from(n) {
                        if let Err(e) = write(s, &mut wbuf, p).await {
                            return lost(&e);
                        }
                    }
                }
                Ok(None) => {}
                Err(_) => return Ended::TakenOver,
            },
        }
    }
}

/// Read until one whole packet is buffered (the CONNECT).
async fn read_packet<S: AsyncRead + Unpin>(
    s: &mut S,
    rbuf: &mut BytesMut,
) -> Result<Packet, BridgeError> {
    loop {
        match V4.read_mut(rbuf, MAX_PAYLOAD) {
            Ok(p) => return Ok(p),
            Err(rumqttd::protocol::Error::InsufficientBytes(_)) => {}
            Err(e) => return Err(BridgeError::Protocol(e)),
        }
        if s.read_buf(rbuf).await? == 0 {
            return Err(BridgeError::ClosedBeforeConnect);
        }
    }
}

async fn write<S: AsyncWrite + Unpin>(
    s: &mut S,
    wbuf: &mut BytesMut,
    p: Packet,
) -> Result<(), BridgeError> {
    V4.write(p, wbuf).map_err(BridgeError::Protocol)?;
    s.write_all(wbuf).await?;
    wbuf.clear();
    Ok(())
}

/// The will as a PUBLISH, at QoS 0: rumqttd makes only QoS 0 PUBLISH packets outside its
/// codec (`Publish::new`), and a link whose connection is gone could not take part in a QoS 1
/// or 2 exchange anyway.
fn will_publish(w: LastWill) -> Packet {
    Packet::Publish(Publish::new(w.topic, w.message, w.retain), None)
}

/// A client id for a client that sent none (rumqttd: `rumqtt-<uuid>`).
fn assigned_client_id() -> String {
    use rand::Rng;
    format!("rumqtt-{:032x}", rand::rng().random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttd::protocol::QoS;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"own-broker-secret", b"own-broker-secret"));
        assert!(!same_secret(b"own-broker-secret", b"own-broker-secreT"));
        assert!(!same_secret(b"own", b"own-broker-secret"));
        assert!(same_secret(b"", b""));
    }

    #[test]
    fn an_assigned_client_id_is_fresh_each_time() {
        let (a, b) = (assigned_client_id(), assigned_client_id());
        assert!(a.starts_with("rumqtt-") && a.len() == 39, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_will_becomes_a_qos_0_publish() {
        let w = LastWill {
            topic: "a/status".into(),
            message: "offline".into(),
            qos: QoS::ExactlyOnce,
            retain: true,
        };
        let Packet::Publish(p, None) = will_publish(w) else {
            panic!("not a PUBLISH");
        };
        assert!(p.retain);
        assert_eq!(
            (&p.topic[..], &p.payload[..], p.len()),
            (&b"a/status"[..], &b"offline"[..], 2 + 8 + 7)
        );
    }
}
