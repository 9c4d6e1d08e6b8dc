//! The device's MQTT 3.1.1 client over any byte stream, for `Net::Mem` (rumqttc can only dial
//! real sockets). One connection attempt per task, as with rumqttc's `EventLoop`: dial, TLS
//! with the boot's rustls configuration, CONNECT/CONNACK, then SUBSCRIBE, PUBLISH out (QoS 0,
//! or QoS 1 with packet ids and PUBACKs), PUBLISH in (PUBACK for QoS 1; PUBREC/PUBCOMP for
//! QoS 2), PINGREQ every keep-alive and DISCONNECT when the manager lets go of the handle.
//!
//! It speaks to the manager exactly as the rumqttc task does: the same
//! `Result<rumqttc::Event, ConnectionError>` values, with the same error variants for the same
//! failures (so `connection::describe` gives the same words): a dial error is
//! `ConnectionError::Io`, a TLS handshake error `ConnectionError::Tls(TlsError::Io)`, a refused
//! CONNACK `ConnectionRefused(code)`, no CONNACK in time `NetworkTimeout`, the peer closing
//! `MqttState(ConnectionAborted)`, a read or write error `MqttState(Deserialization(Io))`, an
//! unanswered ping `MqttState(AwaitPingResp)`. The packets are rumqttc's own codec
//! (`rumqttc::mqttbytes::v4`); the TLS server name is the resolved address, as rumqttc uses
//! (the device's verifier checks the broker certificate for the configured host name anyway).
//!
//! Timers run on tokio time, as rumqttc's do: the connect timeout and the keep-alive are
//! protocol timers shared with the broker, not device time.

use super::{MqttOptions, Plan, CLIENT_CHANNEL, MAX_PACKET};
use crate::adapters::net::{Io, Stream};
use crate::device::mqtt_link::ConnectPlan;
use rumqttc::mqttbytes::{self, v4::*, QoS};
use rumqttc::{ClientError, ConnectionError, Event, Outgoing, Request, StateError, TlsError};
use rustls::pki_types::ServerName;
use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::bytes::BytesMut;

/// QoS 1 publishes written and not yet acknowledged before requests wait (rumqttc's default).
const MAX_INFLIGHT: usize = 100;

/// Events the task may hold before it waits for the manager (as the rumqttc task's channel).
const EVENT_CHANNEL: usize = 256;

/// A dial in progress: resolves to the connected byte stream.
pub(super) type Dial = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

/// What one connection attempt sends in its CONNECT and how it is secured and timed.
#[derive(Clone)]
pub(super) struct Settings {
    pub client_id: String,
    /// Username and password (`None`: no credentials in the CONNECT).
    pub login: Option<(String, String)>,
    /// PINGREQ period (0: none), also sent in the CONNECT.
    pub keep_alive_s: u16,
    /// Real-time limit for dial + TLS + CONNACK, and for each write.
    pub connect_timeout_s: u64,
    /// TLS configuration and the server name to give it (`None`: plain MQTT).
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl Settings {
    /// This boot's plan for one attempt (same values rumqttc gets in `connection::connect`).
    pub(super) fn new(plan: &Plan, cp: &ConnectPlan, opts: &MqttOptions) -> Settings {
        Settings {
            client_id: cp.client_id.clone(),
            login: (!cp.username.is_empty()).then(|| (cp.username.clone(), cp.password.clone())),
            keep_alive_s: opts.keep_alive_s.max(1),
            connect_timeout_s: opts.connect_timeout_s.max(1),
            tls: plan
                .tls
                .as_ref()
                .map(|c| (Arc::clone(c), ServerName::IpAddress(plan.addr.ip().into()))),
        }
    }
}

/// The manager's handle on one connection: requests are queued for the connection task; a
/// full queue refuses at once (like `AsyncClient::try_publish`). Dropping every handle ends
/// the connection with a DISCONNECT.
#[derive(Debug, Clone)]
pub struct MemClient {
    requests: mpsc::Sender<Request>,
}

impl MemClient {
    /// Queue a PUBLISH; `Err` when the queue is full or the connection has ended.
    pub fn try_publish(
        &self,
        topic: impl Into<String>,
        qos: QoS,
        retain: bool,
        payload: impl Into<Vec<u8>>,
    ) -> Result<(), ClientError> {
        let mut p = Publish::new(topic, qos, payload);
        p.retain = retain;
        self.try_request(Request::Publish(p))
    }

    /// Queue a SUBSCRIBE to one filter; `Err` when the queue is full or the connection has
    /// ended.
    pub fn try_subscribe(&self, filter: impl Into<String>, qos: QoS) -> Result<(), ClientError> {
        self.try_request(Request::Subscribe(Subscribe::new(filter, qos)))
    }

    fn try_request(&self, r: Request) -> Result<(), ClientError> {
        self.requests.try_send(r).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                ClientError::TryRequest(r)
            }
        })
    }
}

/// The events of one connection, as the rumqttc task forwards them.
pub(super) type Events = mpsc::Receiver<Result<Event, ConnectionError>>;

/// Start one connection attempt over whatever `dial` connects to: the handle, the events and
/// the task (which ends after the first error, or after a DISCONNECT once the handle is
/// dropped).
pub(super) fn start(dial: Dial, settings: Settings) -> (MemClient, Events, JoinHandle<()>) {
    let (requests_tx, requests) = mpsc::channel(CLIENT_CHANNEL);
    let (tx, events) = mpsc::channel(EVENT_CHANNEL);
    let task = tokio::spawn(run(dial, settings, requests, tx));
    (
        MemClient {
            requests: requests_tx,
        },
        events,
        task,
    )
}

async fn run(
    dial: Dial,
    settings: Settings,
    requests: mpsc::Receiver<Request>,
    tx: mpsc::Sender<Result<Event, ConnectionError>>,
) {
    let limit = Duration::from_secs(settings.connect_timeout_s);
    let opened = tokio::select! {
        r = tokio::time::timeout(limit, open(dial, &settings)) => match r {
            Ok(r) => r,
            Err(_) => Err(ConnectionError::NetworkTimeout),
        },
        // The manager gave up on this attempt.
        () = tx.closed() => return,
    };
    let (stream, inbuf, connack) = match opened {
        Ok(o) => o,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    if tx
        .send(Ok(Event::Incoming(Packet::ConnAck(connack))))
        .await
        .is_err()
    {
        return;
    }
    let (rd, wr) = tokio::io::split(stream);
    let mut session = Session {
        rd,
        wr,
        inbuf,
        tx,
        settings,
        inflight: HashSet::new(),
        last_pkid: 0,
        await_pingresp: false,
    };
    if let Err(e) = session.serve(requests).await {
        let _ = session.tx.send(Err(e)).await;
    }
}

/// Dial, TLS, CONNECT and CONNACK: the stream, what was read past the CONNACK, the CONNACK.
async fn open(
    dial: Dial,
    settings: &Settings,
) -> Result<(Stream, BytesMut, ConnAck), ConnectionError> {
    let raw = dial.await?;
    let mut stream: Stream = match &settings.tls {
        None => raw,
        Some((config, name)) => Box::new(
            tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name.clone(), raw)
                .await
                .map_err(|e| ConnectionError::Tls(TlsError::Io(e)))?,
        ),
    };
    let mut connect = Connect::new(settings.client_id.clone());
    connect.keep_alive = settings.keep_alive_s;
    connect.clean_session = true;
    if let Some((u, p)) = &settings.login {
        connect.set_login(u.clone(), p.clone());
    }
    write_packet(&mut stream, &Packet::Connect(connect)).await?;
    let mut inbuf = BytesMut::with_capacity(4096);
    match read_packet(&mut stream, &mut inbuf).await? {
        Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => Ok((stream, inbuf, ack)),
        Packet::ConnAck(ack) => Err(ConnectionError::ConnectionRefused(ack.code)),
        other => Err(ConnectionError::NotConnAck(other)),
    }
}

/// A read or write error, as rumqttc's codec reports it.
fn io_error(e: io::Error) -> ConnectionError {
    ConnectionError::MqttState(StateError::Deserialization(mqttbytes::Error::Io(e)))
}

fn codec_error(e: mqttbytes::Error) -> ConnectionError {
    ConnectionError::MqttState(StateError::Deserialization(e))
}

/// Encode and write one packet, flushed.
async fn write_packet<W: AsyncWrite + Unpin>(
    wr: &mut W,
    packet: &Packet,
) -> Result<(), ConnectionError> {
    let mut out = BytesMut::new();
    packet.write(&mut out, MAX_PACKET).map_err(codec_error)?;
    wr.write_all(&out).await.map_err(io_error)?;
    wr.flush().await.map_err(io_error)
}

/// The next whole packet from `buf`, if there is one (errors as rumqttc's codec gives them).
fn parse(buf: &mut BytesMut) -> Result<Option<Packet>, mqttbytes::Error> {
    match Packet::read(buf, MAX_PACKET) {
        Ok(p) => Ok(Some(p)),
        Err(mqttbytes::Error::InsufficientBytes(n)) => {
            buf.reserve(n);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Read into `buf` once; the peer closing is `ConnectionAborted`.
async fn fill<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> Result<(), ConnectionError> {
    match rd.read_buf(buf).await {
        Ok(0) => Err(ConnectionError::MqttState(StateError::ConnectionAborted)),
        Ok(_) => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

/// Read until one whole packet is in `buf`, and take it.
async fn read_packet<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
) -> Result<Packet, ConnectionError> {
    loop {
        if let Some(p) = parse(buf).map_err(codec_error)? {
            return Ok(p);
        }
        fill(rd, buf).await?;
    }
}

/// A connected session: the stream's halves and the MQTT state rumqttc would keep.
struct Session {
    rd: tokio::io::ReadHalf<Box<dyn Io>>,
    wr: tokio::io::WriteHalf<Box<dyn Io>>,
    inbuf: BytesMut,
    tx: mpsc::Sender<Result<Event, ConnectionError>>,
    settings: Settings,
    /// Packet ids of QoS 1 publishes written and not yet acknowledged.
    inflight: HashSet<u16>,
    last_pkid: u16,
    await_pingresp: bool,
}

/// Why serving ended without an error to report.
struct Gone;

impl Session {
    /// Serve until an error (returned) or until the manager lets go (DISCONNECT sent: `Ok`).
    async fn serve(
        &mut self,
        mut requests: mpsc::Receiver<Request>,
    ) -> Result<(), ConnectionError> {
        // Keep-alive 0 means no pings (MQTT 3.1.1 §3.1.2.10); the timer then never fires.
        let pinging = self.settings.keep_alive_s > 0;
        let keep_alive = Duration::from_secs(u64::from(self.settings.keep_alive_s.max(1)));
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                r = fill(&mut self.rd, &mut self.inbuf) => match r {
                    Ok(()) => self.incoming().await,
                    Err(e) => Err(e),
                },
                r = requests.recv(), if self.inflight.len() < MAX_INFLIGHT => match r {
                    Some(r) => self.outgoing(r).await,
                    None => {
                        self.disconnect().await;
                        return Ok(());
                    }
                },
                _ = ping.tick(), if pinging => self.ping().await,
            };
            match step {
                Ok(Ok(())) => {}
                Ok(Err(Gone)) => {
                    self.disconnect().await;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Forward an event; `Err(Gone)` when the manager no longer listens.
    async fn emit(&self, e: Event) -> Result<(), Gone> {
        self.tx.send(Ok(e)).await.map_err(|_| Gone)
    }

    async fn write(&mut self, packet: &Packet) -> Result<(), ConnectionError> {
        let limit = Duration::from_secs(self.settings.connect_timeout_s);
        tokio::time::timeout(limit, write_packet(&mut self.wr, packet))
            .await
            .map_err(|_| ConnectionError::FlushTimeout)?
    }

    /// Every whole packet read so far, handled in order.
    async fn incoming(&mut self) -> Result<Result<(), Gone>, ConnectionError> {
        while let Some(packet) = parse(&mut self.inbuf).map_err(codec_error)? {
            let answer = match &packet {
                Packet::Publish(p) => match p.qos {
                    QoS::AtMostOnce => None,
                    QoS::AtLeastOnce => Some(Packet::PubAck(PubAck::new(p.pkid))),
                    QoS::ExactlyOnce => Some(Packet::PubRec(PubRec::new(p.pkid))),
                },
                Packet::PubRel(r) => Some(Packet::PubComp(PubComp::new(r.pkid))),
                Packet::PubAck(a) => {
                    if !self.inflight.remove(&a.pkid) {
                        return Err(ConnectionError::MqttState(StateError::Unsolicited(a.pkid)));
                    }
                    None
                }
                Packet::PingResp => {
                    self.await_pingresp = false;
                    None
                }
                Packet::SubAck(_) | Packet::UnsubAck(_) => None,
                _ => return Err(ConnectionError::MqttState(StateError::WrongPacket)),
            };
            if let Err(g) = self.emit(Event::Incoming(packet)).await {
                return Ok(Err(g));
            }
            if let Some(a) = answer {
                self.write(&a).await?;
                let sent = match a {
                    Packet::PubAck(a) => Outgoing::PubAck(a.pkid),
                    Packet::PubRec(r) => Outgoing::PubRec(r.pkid),
                    Packet::PubComp(c) => Outgoing::PubComp(c.pkid),
                    _ => continue,
                };
                if let Err(g) = self.emit(Event::Outgoing(sent)).await {
                    return Ok(Err(g));
                }
            }
        }
        Ok(Ok(()))
    }

    /// The next free packet id (1..=65535, skipping those awaiting a PUBACK).
    fn next_pkid(&mut self) -> u16 {
        loop {
            self.last_pkid = self.last_pkid.checked_add(1).unwrap_or(1);
            if !self.inflight.contains(&self.last_pkid) {
                return self.last_pkid;
            }
        }
    }

    async fn outgoing(&mut self, r: Request) -> Result<Result<(), Gone>, ConnectionError> {
        let (packet, event) = match r {
            Request::Publish(mut p) => {
                if p.qos != QoS::AtMostOnce {
                    p.pkid = self.next_pkid();
                    self.inflight.insert(p.pkid);
                }
                let pkid = p.pkid;
                (Packet::Publish(p), Outgoing::Publish(pkid))
            }
            Request::Subscribe(mut s) => {
                s.pkid = self.next_pkid();
                let pkid = s.pkid;
                (Packet::Subscribe(s), Outgoing::Subscribe(pkid))
            }
            // The manager asks for nothing else.
            _ => return Err(ConnectionError::MqttState(StateError::InvalidState)),
        };
        self.write(&packet).await?;
        Ok(self.emit(Event::Outgoing(event)).await)
    }

    /// A keep-alive tick: PINGREQ, or an error when the last one is still unanswered.
    async fn ping(&mut self) -> Result<Result<(), Gone>, ConnectionError> {
        if self.await_pingresp {
            return Err(ConnectionError::MqttState(StateError::AwaitPingResp));
        }
        self.await_pingresp = true;
        self.write(&Packet::PingReq).await?;
        Ok(self.emit(Event::Outgoing(Outgoing::PingReq)).await)
    }

    /// Say goodbye (best effort, bounded by the write limit) and close the stream.
    async fn disconnect(&mut self) {
        if self.write(&Packet::Disconnect).await.is_ok() {
            let _ = self.wr.shutdown().await;
        }
    }
}
