//! What both fronts (plain and TLS) enforce: connection budgets, the CONNECT deadline, the
//! device's reserved client id and `cmd/#` topics, the bounded log of what they let through
//! and refused, and the relay to rumqttd (with the `cmd/#` filter where it applies).

use super::connect_parse::{next_packet, parse_connect, publish_topic, ConnectParse, NextPacket};
use super::{TlsClient, MAX_PAYLOAD};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// Entries kept in each of the front log's lists (the newest; older ones are counted only).
pub(super) const LOG_KEEP: usize = 256;
/// The largest CONNECT a front buffers before giving up on parsing it.
const MAX_CONNECT: usize = 64 * 1024;
/// CONNACK "refused: not authorized" (MQTT 3.1.1 return code 5).
const CONNACK_NOT_AUTHORIZED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];

/// A list that keeps the newest `LOG_KEEP` entries and counts all of them.
#[derive(Debug)]
pub(super) struct Ring<T> {
    items: VecDeque<T>,
    total: u64,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            items: VecDeque::new(),
            total: 0,
        }
    }
}

impl<T: Clone> Ring<T> {
    pub(super) fn push(&mut self, item: T) {
        if self.items.len() >= LOG_KEEP {
            self.items.pop_front();
        }
        self.items.push_back(item);
        self.total += 1;
    }

    pub(super) fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }
}

/// What the fronts saw. Bounded: the newest `LOG_KEEP` clients and refusals are kept, the rest
/// only counted (an attacker cannot grow it).
pub(super) struct FrontLog {
    pub(super) clients: Mutex<Ring<TlsClient>>,
    pub(super) refusals: Mutex<Ring<String>>,
    /// Connections closed at once because a listener's budget was used up.
    pub(super) turned_away: AtomicU64,
    /// `false`: the TLS front cuts its connections and closes new ones at once.
    pub(super) reachable: watch::Sender<bool>,
    /// Bumped after every entry in `clients` or `refusals`, so waiters need not poll.
    pub(super) entries: watch::Sender<u64>,
}

impl FrontLog {
    pub(super) fn refused(&self, why: String) {
        tracing::debug!("mqtt front: refused {why}");
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(why);
        self.entries.send_modify(|n| *n += 1);
    }

    pub(super) fn let_through(&self, c: TlsClient) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
        self.entries.send_modify(|n| *n += 1);
    }
}

impl Default for FrontLog {
    fn default() -> Self {
        FrontLog {
            clients: Mutex::default(),
            refusals: Mutex::default(),
            turned_away: AtomicU64::new(0),
            reachable: watch::Sender::new(true),
            entries: watch::Sender::new(0),
        }
    }
}

/// Who a connection is, as far as the fronts can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Who<'a> {
    /// A client certificate whose CN is the device's (MQ-05).
    Device,
    /// A client certificate from the test CA with another CN.
    OtherCert(&'a str),
    /// No certificate: a password client (rumqttd's public listener checks the account).
    Account,
}

/// The policy shared by both fronts.
pub(super) struct Guard {
    /// The device certificate's CN = the device serial = its client id (MQ-03, MQ-05).
    pub(super) device_cn: String,
    /// Open connections of the device itself (its certificate and its client id).
    device_live: AtomicUsize,
    /// How long a client may take from the TCP accept to a complete CONNECT.
    pub(super) connect_timeout: std::time::Duration,
    pub(super) log: Arc<FrontLog>,
}

/// Held while the device's own connection is open.
pub(super) struct DeviceLive<'a>(&'a Guard);

impl Drop for DeviceLive<'_> {
    fn drop(&mut self) {
        self.0.device_live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Guard {
    pub(super) fn new(
        device_cn: String,
        connect_timeout: std::time::Duration,
        log: Arc<FrontLog>,
    ) -> Self {
        Guard {
            device_cn,
            device_live: AtomicUsize::new(0),
            connect_timeout,
            log,
        }
    }

    /// May `who` connect with `client_id`? The device's client id belongs to its certificate:
    /// another certificate never gets it; a password client (the installer account, or the
    /// device itself on its own broker, MQ-07) only while the device is not connected with
    /// its certificate — so nobody can take the device's session over (rumqttd would close
    /// the older connection of a client id).
    pub(super) fn admit(&self, who: Who<'_>, client_id: &str) -> Result<(), String> {
        if client_id != self.device_cn {
            return Ok(());
        }
        match who {
            Who::Device => Ok(()),
            Who::OtherCert(cn) => Err(format!(
                "client id {client_id} is reserved to the device certificate; this certificate's CN is {cn}"
            )),
            Who::Account if self.device_live.load(Ordering::SeqCst) > 0 => Err(format!(
                "client id {client_id} is the device's, which is connected with its certificate"
            )),
            Who::Account => Ok(()),
        }
    }

    /// Count the device's connection as open until the returned value is dropped.
    pub(super) fn device_connected(&self) -> DeviceLive<'_> {
        self.device_live.fetch_add(1, Ordering::SeqCst);
        DeviceLive(self)
    }

    /// May `who` publish commands to a device (`devices/+/smart-connect/+/cmd/#`, MQ-13/14)?
    /// The cloud's side of the embedded broker: the in-process `publish` and the password
    /// accounts (the installer); not another certificate's holder.
    pub(super) fn may_command(who: Who<'_>) -> bool {
        !matches!(who, Who::OtherCert(_))
    }
}

/// Whether `topic` is a device command topic: `devices/<site>/smart-connect/<serial>/cmd/…`.
pub(super) fn is_command_topic(topic: &str) -> bool {
    let mut parts = topic.split('/');
    parts.next() == Some("devices")
        && parts.next().is_some()
        && parts.next() == Some("smart-connect")
        && parts.next().is_some()
        && parts.next() == Some("cmd")
}

/// Read until a complete CONNECT is buffered (before `deadline`): the bytes read and the
/// client id and username. `Err`: why the connection is given up (timeout, not MQTT, closed).
pub(super) async fn read_connect<S: AsyncRead + Unpin>(
    s: &mut S,
    deadline: Instant,
) -> Result<(Vec<u8>, String, Option<String>), String> {
    let mut buf = Vec::with_capacity(256);
    loop {
        match parse_connect(&buf) {
            ConnectParse::Incomplete if buf.len() < MAX_CONNECT => {}
            ConnectParse::Incomplete | ConnectParse::Invalid => {
                return Err("not an MQTT CONNECT".into())
            }
            ConnectParse::Done {
                client_id,
                username,
            } => return Ok((buf, client_id, username)),
        }
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("no CONNECT in time".into()),
        };
        if n == 0 {
            return Err("closed before its CONNECT".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Answer a refused CONNECT with CONNACK "not authorized" and close.
pub(super) async fn refuse<S: AsyncWrite + Unpin>(s: &mut S) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = s.write_all(&CONNACK_NOT_AUTHORIZED).await;
        let _ = s.shutdown().await;
    })
    .await;
}

/// Relay `client` to rumqttd (`upstream`: its listener, or a bridge in memory), `first` (the CONNECT, perhaps rewritten, and what
/// came with it) sent ahead, until either side closes (then both are closed: a client cannot
/// hold a budget slot on a half-closed connection). `filter`: cut the connection at its first
/// PUBLISH to a command topic (returned as `Ok(Some(topic))`) — checked packet by packet, so
/// nothing of it reaches rumqttd.
pub(super) async fn relay<S, U>(
    client: S,
    upstream: U,
    first: Vec<u8>,
    filter: bool,
) -> io::Result<Option<String>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = tokio::io::split(upstream);
    let down = async {
        tokio::io::copy(&mut ur, &mut cw).await?;
        let _ = cw.shutdown().await;
        io::Result::Ok(None)
    };
    let up = async {
        if !filter {
            uw.write_all(&first).await?;
            tokio::io::copy(&mut cr, &mut uw).await?;
            return io::Result::Ok(None);
        }
        let mut buf = first;
        loop {
            let mut sent = 0;
            loop {
                match next_packet(&buf[sent..], MAX_PAYLOAD + 1024) {
                    NextPacket::Incomplete => break,
                    NextPacket::Invalid => {
                        return Err(io::Error::other("malformed MQTT packet"));
                    }
                    NextPacket::Complete(n) => {
                        let packet = &buf[sent..sent + n];
                        if let Some(t) = publish_topic(packet).filter(|t| is_command_topic(t)) {
                            uw.write_all(&buf[..sent]).await?;
                            return Ok(Some(t));
                        }
                        sent += n;
                    }
                }
            }
            uw.write_all(&buf[..sent]).await?;
            buf.drain(..sent);
            let mut chunk = [0u8; 8192];
            let n = cr.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::select! {
        r = down => r,
        r = up => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_topics_are_recognised() {
        assert!(is_command_topic(
            "devices/s/smart-connect/02584D0A1B2C/cmd/reset"
        ));
        assert!(is_command_topic("devices/+/smart-connect/+/cmd/x/y"));
        assert!(!is_command_topic(
            "devices/s/smart-connect/02584D0A1B2C/data/measurements"
        ));
        assert!(!is_command_topic("devices/s/other/02584D0A1B2C/cmd/reset"));
        assert!(!is_command_topic("devices/s/smart-connect"));
    }

    #[test]
    fn the_device_client_id_belongs_to_the_device_certificate() {
        let g = Guard::new(
            "02584D0A1B2C".into(),
            std::time::Duration::from_secs(5),
            Arc::default(),
        );
        let id = "02584D0A1B2C";
        assert!(g.admit(Who::Device, id).is_ok());
        assert!(g.admit(Who::OtherCert("X"), id).is_err());
        assert!(g.admit(Who::OtherCert("X"), "other").is_ok());
        assert!(
            g.admit(Who::Account, id).is_ok(),
            "the device on its own broker"
        );
        let live = g.device_connected();
        assert!(g.admit(Who::Account, id).is_err(), "no takeover");
        assert!(g.admit(Who::Account, "installer-1").is_ok());
        drop(live);
        assert!(g.admit(Who::Account, id).is_ok());
        assert!(Guard::may_command(Who::Account) && Guard::may_command(Who::Device));
        assert!(!Guard::may_command(Who::OtherCert("X")));
    }

    #[tokio::test]
    async fn the_filter_cuts_at_the_first_command_and_forwards_what_came_before() {
        use super::super::connect_parse::connect_packet;
        let publish = |topic: &str| {
            let mut p = vec![0x30, (topic.len() + 4) as u8];
            p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
            p.extend_from_slice(topic.as_bytes());
            p.extend_from_slice(b"hi");
            p
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut broker_side, _) = listener.accept().await.unwrap();
        let (client, mut attacker) = tokio::io::duplex(4096);
        let first = connect_packet("stranger", None);
        let data = publish("devices/s/smart-connect/X/data/measurements");
        let mut rest = data.clone();
        rest.extend_from_slice(&publish("devices/s/smart-connect/X/cmd/reset"));
        rest.extend_from_slice(&publish("devices/s/smart-connect/X/data/after"));
        attacker.write_all(&rest).await.unwrap();
        let cut = relay(client, upstream, first.clone(), true).await.unwrap();
        assert_eq!(cut.as_deref(), Some("devices/s/smart-connect/X/cmd/reset"));
        let mut got = Vec::new();
        broker_side.read_to_end(&mut got).await.unwrap();
        let mut want = first;
        want.extend_from_slice(&data);
        assert_eq!(got, want, "the CONNECT and the data PUBLISH, nothing after");
    }

    #[test]
    fn the_log_keeps_the_newest_entries_and_counts_all() {
        let log = FrontLog::default();
        for i in 0..10_000 {
            log.refused(format!("127.0.0.1:{i}: handshake failed"));
        }
        let r = log.refusals.lock().unwrap();
        assert_eq!((r.len(), r.total()), (LOG_KEEP, 10_000));
        assert_eq!(
            r.to_vec().last().map(String::as_str),
            Some("127.0.0.1:9999: handshake failed")
        );
    }
}
