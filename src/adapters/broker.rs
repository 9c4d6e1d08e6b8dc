//! An embedded MQTT broker for tests, the demo and `run`: rumqttd (its router and two plain
//! MQTT 3.1.1 listeners) behind a TLS front of our own, all on loopback.
//!
//! ```text
//!  device (mTLS) ──▶ TLS front :tls ──(client cert from the test CA: CN recorded)──▶ internal plain listener (no auth)
//!                        └────────(no client cert, only when credentials are set)──▶ public plain listener
//!  own-broker mode ──────────────────────────────────────────────────────────────▶ public plain listener :plain
//!                                                                                  (username/password when set, MQ-07)
//!  tests ──▶ `subscribe` / `publish`: in-process links to the router (no socket)
//! ```
//!
//! Why a front: rumqttd never reads the client certificate's CN (MQ-05 needs it) and turns an
//! O field into a tenant prefix; the front verifies the client certificate against the test CA
//! with rustls (the broker's own clock: the wall clock), records the CN together with the
//! client id and username of the MQTT CONNECT it forwards, and refuses anything else. rumqttd
//! is built without its TLS features for the same reason.
//!
//! Lifetime: everything runs on one thread (`mqtt-broker`) with its own tokio runtime, so the
//! broker works from any caller (sync `main`, any runtime flavour). Dropping the broker stops
//! that runtime: the listeners close, every connection is cut, subscriptions end. What leaks:
//! rumqttd's router thread (`router-0`), which holds a sender to itself and so can never be
//! stopped — one idle thread blocked on a channel, plus the retained/commitlog memory of that
//! router (bounded by the router config below: 4 segments of 1 MiB per topic filter).
//!
//! Ports: the TLS front binds the requested port (0 = any) itself. rumqttd binds its listeners
//! from a configured address, so for port 0 a free port is picked first (bind :0, read, close)
//! and rumqttd binds it a moment later; a lost race is detected and retried with other ports.
//! `start` returns once each listener has answered an MQTT CONNECT with a CONNACK.

use super::certs::{PkiError, PkiOptions, PkiPaths, TestPki};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{Filter, Packet, QoS as BrokerQoS, RetainForwardRule, Subscribe};
use rumqttd::{
    ConnectionSettings, LinkType, Notification, Router, RouterConfig, Server, ServerSettings,
};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a TLS handshake or the first MQTT packet may take on the front.
const FRONT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest CONNECT the front buffers before giving up on parsing it.
const MAX_CONNECT: usize = 64 * 1024;
/// The largest MQTT packet the broker accepts.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// What can go wrong when starting the broker or talking to it in-process.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("test PKI: {0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the embedded broker did not start: {0}")]
    Start(String),
    #[error("in-process link to the broker: {0}")]
    Link(String),
}

/// How to start an `EmbeddedBroker`.
#[derive(Clone, Default)]
pub struct BrokerOptions {
    /// The public plain MQTT port (`mqtt://`); 0 = any free port.
    pub plain_port: u16,
    /// The TLS front's port (`mqtts://`, client certificate required); 0 = any free port.
    pub tls_port: u16,
    /// Reuse this PKI (e.g. to restart a broker that devices already trust); else one is made
    /// from `pki_options`.
    pub pki: Option<Arc<TestPki>>,
    /// Names, validity windows and the device certificate's CN (= the device serial, MQ-05).
    pub pki_options: PkiOptions,
    /// Username/password pairs (MQ-07). Empty: the public plain listener takes anyone. Set: it
    /// takes only these, and the TLS front also lets clients without a certificate through to it.
    pub credentials: Vec<(String, String)>,
    /// Where to write `ca.pem`, `server.pem`/`.key`, `device.pem`/`.key`; kept after the broker
    /// stops. `None`: a fresh temporary folder, removed when the broker is dropped.
    pub cert_dir: Option<PathBuf>,
}

impl std::fmt::Debug for BrokerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerOptions")
            .field("plain_port", &self.plain_port)
            .field("tls_port", &self.tls_port)
            .field("pki", &self.pki.is_some())
            .field("pki_options", &self.pki_options)
            .field(
                "credentials",
                &self.credentials.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .field("cert_dir", &self.cert_dir)
            .finish()
    }
}

impl BrokerOptions {
    /// Ephemeral ports, a fresh PKI whose device certificate has `serial` as its CN.
    pub fn for_device(serial: &str) -> Self {
        BrokerOptions {
            pki_options: PkiOptions {
                client_cn: serial.into(),
                ..PkiOptions::default()
            },
            ..Self::default()
        }
    }
}

/// A connection the TLS front let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClient {
    pub peer: SocketAddr,
    /// The client certificate's CN; `None` for a password client without a certificate.
    pub cn: Option<String>,
    /// The client id of the MQTT CONNECT that followed (`None`: not a parsable CONNECT).
    pub client_id: Option<String>,
    pub username: Option<String>,
}

/// A message seen by an in-process subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Message {
    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(&self.payload)
    }
}

struct FrontLog {
    clients: Mutex<Vec<TlsClient>>,
    refusals: Mutex<Vec<String>>,
    /// `false`: the front cuts its connections and closes new ones at once.
    reachable: watch::Sender<bool>,
}

impl Default for FrontLog {
    fn default() -> Self {
        FrontLog {
            clients: Mutex::default(),
            refusals: Mutex::default(),
            reachable: watch::Sender::new(true),
        }
    }
}

type MakeLink = Box<dyn Fn(&str) -> Result<(LinkTx, LinkRx), String> + Send + Sync>;

/// A running broker; stops when dropped (see the module docs for what cannot be stopped).
pub struct EmbeddedBroker {
    plain: SocketAddr,
    tls: SocketAddr,
    internal: SocketAddr,
    pki: Arc<TestPki>,
    paths: PkiPaths,
    cert_dir: PathBuf,
    remove_dir: bool,
    credentials: Vec<(String, String)>,
    log: Arc<FrontLog>,
    make_link: MakeLink,
    publisher: Mutex<Option<LinkTx>>,
    runtime: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("plain", &self.plain)
            .field("tls", &self.tls)
            .field("cert_dir", &self.cert_dir)
            .finish_non_exhaustive()
    }
}

static INSTANCE: AtomicU64 = AtomicU64::new(0);

impl EmbeddedBroker {
    /// Start the broker and wait until every listener answers MQTT.
    pub fn start(opts: BrokerOptions) -> Result<EmbeddedBroker, BrokerError> {
        let pki = match &opts.pki {
            Some(p) => Arc::clone(p),
            None => Arc::new(TestPki::with_options(&opts.pki_options)?),
        };
        let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let (cert_dir, remove_dir) = match &opts.cert_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir()
                    .join(format!("smart-connect-broker-{}-{n}", std::process::id())),
                true,
            ),
        };
        let paths = pki.write_to(&cert_dir)?;
        let tls_cfg = Arc::new(front_config(&pki, !opts.credentials.is_empty())?);
        let mut last_err = String::new();
        for _ in 0..5 {
            match Self::try_start(&opts, &pki, Arc::clone(&tls_cfg)) {
                Ok(mut b) => {
                    b.paths = paths;
                    b.cert_dir = cert_dir;
                    b.remove_dir = remove_dir;
                    return Ok(b);
                }
                // Only auto-picked ports can lose a race; a requested port that is taken is final.
                Err(e) if opts.plain_port == 0 => last_err = e.to_string(),
                Err(e) => {
                    if remove_dir {
                        let _ = std::fs::remove_dir_all(&cert_dir);
                    }
                    return Err(e);
                }
            }
        }
        if remove_dir {
            let _ = std::fs::remove_dir_all(&cert_dir);
        }
        Err(BrokerError::Start(last_err))
    }

    fn try_start(
        opts: &BrokerOptions,
        pki: &Arc<TestPki>,
        tls_cfg: Arc<rustls::ServerConfig>,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let tls_listener = std::net::TcpListener::bind((lo, opts.tls_port))?;
        tls_listener.set_nonblocking(true)?;
        let tls = tls_listener.local_addr()?;
        let plain = SocketAddr::new(
            lo,
            if opts.plain_port == 0 {
                free_port()?
            } else {
                opts.plain_port
            },
        );
        let internal = SocketAddr::new(lo, free_port()?);

        let router = Router::new(0, router_config());
        let router_tx = router.spawn();
        let auth = (!opts.credentials.is_empty())
            .then(|| opts.credentials.iter().cloned().collect::<HashMap<_, _>>());
        let mut internal_srv = Server::new(
            server_settings("internal", internal, None),
            router_tx.clone(),
            V4,
        );
        let mut public_srv = Server::new(
            server_settings("public", plain, auth),
            router_tx.clone(),
            V4,
        );
        let make_link: MakeLink = Box::new(move |id: &str| {
            rumqttd::local::LinkBuilder::new(id, router_tx.clone())
                .build()
                .map(|(tx, rx, _ack)| (tx, rx))
                .map_err(|e| e.to_string())
        });

        let log = Arc::new(FrontLog::default());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (failed_tx, failed_rx) = std::sync::mpsc::channel::<String>();
        let front_log = Arc::clone(&log);
        let thread = std::thread::Builder::new().name("mqtt-broker".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = failed_tx.send(format!("runtime: {e}"));
                    return;
                }
            };
            let _ = handle_tx.send(rt.handle().clone());
            rt.block_on(async move {
                let listener = match TcpListener::from_std(tls_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = failed_tx.send(format!("TLS listener: {e}"));
                        return;
                    }
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(tls_cfg);
                tokio::select! {
                    r = internal_srv.start(LinkType::Remote) => { let _ = failed_tx.send(format!("internal listener {internal}: {r:?}")); }
                    r = public_srv.start(LinkType::Remote) => { let _ = failed_tx.send(format!("plain listener {plain}: {r:?}")); }
                    () = front(listener, acceptor, internal, plain, front_log) => {}
                    _ = stop_rx => {}
                }
            });
            // Dropping the runtime here cancels every connection and subscription task.
        })?;
        let runtime = handle_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| {
                BrokerError::Start(failed_rx.try_recv().unwrap_or_else(|_| "no runtime".into()))
            })?;
        let mut broker = EmbeddedBroker {
            plain,
            tls,
            internal,
            pki: Arc::clone(pki),
            paths: PkiPaths {
                ca: PathBuf::new(),
                server_cert: PathBuf::new(),
                server_key: PathBuf::new(),
                device_cert: PathBuf::new(),
                device_key: PathBuf::new(),
            },
            cert_dir: PathBuf::new(),
            remove_dir: false,
            credentials: opts.credentials.clone(),
            log,
            make_link,
            publisher: Mutex::new(None),
            runtime,
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        let creds = broker
            .credentials
            .first()
            .map(|(u, p)| (u.clone(), p.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        for (addr, creds) in [(internal, None), (plain, creds)] {
            loop {
                if let Ok(e) = failed_rx.try_recv() {
                    return Err(BrokerError::Start(e));
                }
                match probe(addr, creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))) {
                    Ok(()) => break,
                    Err(e) if Instant::now() > deadline => {
                        return Err(BrokerError::Start(format!(
                            "{addr} does not answer MQTT: {e}"
                        )))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        let (tx, _rx) = (broker.make_link)("sim-broker-publisher").map_err(BrokerError::Link)?;
        broker.publisher = Mutex::new(Some(tx));
        Ok(broker)
    }

    /// The public plain MQTT listener (`mqtt://`; username/password when configured, MQ-07).
    pub fn plain_addr(&self) -> SocketAddr {
        self.plain
    }

    /// The TLS front (`mqtts://`; a client certificate from the test CA is required unless
    /// credentials are configured).
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls
    }

    /// rumqttd's listener behind the TLS front (no authentication; loopback only).
    pub fn internal_addr(&self) -> SocketAddr {
        self.internal
    }

    /// The folder with `ca.pem`, `server.pem`, `server.key`, `device.pem`, `device.key`.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    pub fn paths(&self) -> &PkiPaths {
        &self.paths
    }

    pub fn ca_pem_path(&self) -> &Path {
        &self.paths.ca
    }

    /// The device certificate (CN = serial) and its key, for the device or `mosquitto_sub`.
    pub fn device_cert_path(&self) -> &Path {
        &self.paths.device_cert
    }

    pub fn device_key_path(&self) -> &Path {
        &self.paths.device_key
    }

    /// The PKI (CA, broker and device certificates); keep it to restart a broker on the same
    /// port that devices already trust.
    pub fn pki(&self) -> Arc<TestPki> {
        Arc::clone(&self.pki)
    }

    pub fn credentials(&self) -> &[(String, String)] {
        &self.credentials
    }

    /// The CNs of the client certificates the TLS front accepted, in order (MQ-05).
    pub fn client_cns(&self) -> Vec<String> {
        self.tls_clients()
            .into_iter()
            .filter_map(|c| c.cn)
            .collect()
    }

    /// Every connection the TLS front let through, with CN and MQTT client id.
    pub fn tls_clients(&self) -> Vec<TlsClient> {
        self.log
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Why the TLS front refused connections (failed handshakes), in order.
    pub fn tls_refusals(&self) -> Vec<String> {
        self.log
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An in-process subscription to `filter` (retained messages included), active when this
    /// returns. Messages arrive on the receiver until the broker stops.
    pub async fn subscribe(
        &self,
        filter: &str,
    ) -> Result<mpsc::UnboundedReceiver<Message>, BrokerError> {
        static SUBS: AtomicU64 = AtomicU64::new(0);
        let id = format!("sim-subscriber-{}", SUBS.fetch_add(1, Ordering::Relaxed));
        let (mut link_tx, mut link_rx) = (self.make_link)(&id).map_err(BrokerError::Link)?;
        let filters = vec![Filter {
            path: filter.to_string(),
            qos: BrokerQoS::AtMostOnce,
            nolocal: false,
            preserve_retain: true,
            retain_forward_rule: RetainForwardRule::OnEverySubscribe,
        }];
        link_tx
            .send(Packet::Subscribe(Subscribe { pkid: 1, filters }, None))
            .await
            .map_err(|e| BrokerError::Link(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (acked_tx, acked_rx) = oneshot::channel();
        self.runtime.spawn(async move {
            let _keep = link_tx;
            let mut acked = Some(acked_tx);
            loop {
                match link_rx.next().await {
                    Ok(Some(Notification::Forward(f))) => {
                        let m = Message {
                            topic: String::from_utf8_lossy(&f.publish.topic).into_owned(),
                            payload: f.publish.payload.to_vec(),
                            retain: f.publish.retain,
                        };
                        if tx.send(m).is_err() {
                            break;
                        }
                    }
                    Ok(Some(Notification::DeviceAck(_))) => {
                        if let Some(a) = acked.take() {
                            let _ = a.send(());
                        }
                    }
                    Ok(Some(Notification::Unschedule)) => {
                        if link_rx.wake().await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), acked_rx)
            .await
            .map_err(|_| BrokerError::Link(format!("no SUBACK for {filter}")))?
            .map_err(|_| BrokerError::Link("the broker stopped".into()))?;
        Ok(rx)
    }

    /// Publish in-process (QoS 0, not retained), e.g. a command to the device (MQ-13).
    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) -> Result<(), BrokerError> {
        let mut guard = self.publisher.lock().unwrap_or_else(|p| p.into_inner());
        let tx = guard
            .as_mut()
            .ok_or_else(|| BrokerError::Link("no publisher".into()))?;
        tx.publish(topic.to_string(), payload.into())
            .map(|_| ())
            .map_err(|e| BrokerError::Link(e.to_string()))
    }

    /// Make the TLS front unreachable (`false`: every connection through it is cut and new
    /// ones are closed right after the TCP accept, as a broker that is down behind a load
    /// balancer) or reachable again. The port stays bound, so nothing else can take it while
    /// a test has the broker "down" (MQ-16); rumqttd, its sessions and retained messages stay.
    /// The plain listener is not affected.
    pub fn set_reachable(&self, reachable: bool) {
        self.log.reachable.send_replace(reachable);
    }

    pub fn reachable(&self) -> bool {
        *self.log.reachable.borrow()
    }

    /// Stop now (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.cert_dir);
        }
    }
}

fn router_config() -> RouterConfig {
    RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 200,
        max_segment_size: 1 << 20,
        max_segment_count: 4,
        ..RouterConfig::default()
    }
}

fn server_settings(
    name: &str,
    listen: SocketAddr,
    auth: Option<HashMap<String, String>>,
) -> ServerSettings {
    ServerSettings {
        name: format!("smart-connect-{name}"),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: MAX_PAYLOAD,
            max_inflight_count: 100,
            auth,
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The TLS front's configuration: the broker certificate; client certificates from the test
/// CA required, or optional when password clients are allowed.
fn front_config(pki: &TestPki, allow_no_cert: bool) -> Result<rustls::ServerConfig, PkiError> {
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

async fn front(
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
            log.refusals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{peer}: {e}"));
            return Err(e);
        }
        Err(_) => {
            log.refusals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("{peer}: TLS handshake timed out"));
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
    let mut upstream = TcpStream::connect(if cn.is_some() { internal } else { public }).await?;
    upstream.set_nodelay(true)?;
    upstream.write_all(&buf).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}

/// The subject CN of a DER certificate.
pub fn cert_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

/// The result of looking for an MQTT CONNECT at the start of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectParse {
    Incomplete,
    Invalid,
    Done {
        client_id: String,
        username: Option<String>,
    },
}

/// Parse the CONNECT packet at the start of `b` (MQTT 3.1, 3.1.1 and 5).
pub fn parse_connect(b: &[u8]) -> ConnectParse {
    use ConnectParse::*;
    let Some(&first) = b.first() else {
        return Incomplete;
    };
    if first != 0x10 {
        return Invalid;
    }
    let Some((len, hdr)) = varint(&b[1..]) else {
        return if b.len() < 5 { Incomplete } else { Invalid };
    };
    let start = 1 + hdr;
    let Some(body) = b.get(start..start + len) else {
        return Incomplete;
    };
    let mut r = Reader(body);
    let parse = |r: &mut Reader| -> Option<(String, Option<String>)> {
        let name = r.bytes()?;
        if name != b"MQTT" && name != b"MQIsdp" {
            return None;
        }
        let level = r.u8()?;
        let flags = r.u8()?;
        r.take(2)?; // keep alive
        if level == 5 {
            let (n, used) = varint(r.0)?;
            r.take(used + n)?;
        }
        let client_id = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        if flags & 0x04 != 0 {
            if level == 5 {
                let (n, used) = varint(r.0)?;
                r.take(used + n)?;
            }
            r.bytes()?; // will topic
            r.bytes()?; // will payload
        }
        let username = if flags & 0x80 != 0 {
            Some(String::from_utf8(r.bytes()?.to_vec()).ok()?)
        } else {
            None
        };
        Some((client_id, username))
    };
    match parse(&mut r) {
        Some((client_id, username)) => Done {
            client_id,
            username,
        },
        None => Invalid,
    }
}

/// An MQTT variable byte integer: (value, bytes used); `None` when incomplete or too long.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &byte) in b.iter().take(4).enumerate() {
        v |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (h, t) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let l = self.take(2)?;
        self.take(usize::from(u16::from_be_bytes([l[0], l[1]])))
    }
}

/// An MQTT 3.1.1 CONNECT (clean session, keep alive 10 s).
pub fn connect_packet(client_id: &str, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let field = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s);
    };
    let mut body = Vec::new();
    field(&mut body, b"MQTT");
    body.push(4);
    body.push(0x02 | if credentials.is_some() { 0xC0 } else { 0 });
    body.extend_from_slice(&10u16.to_be_bytes());
    field(&mut body, client_id.as_bytes());
    if let Some((u, p)) = credentials {
        field(&mut body, u.as_bytes());
        field(&mut body, p.as_bytes());
    }
    let mut out = vec![0x10];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&body);
    out
}

/// Connect, send a CONNECT, expect a CONNACK accepting it, close.
fn probe(addr: SocketAddr, credentials: Option<(&str, &str)>) -> io::Result<()> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let id = format!("sim-probe-{}", PROBES.fetch_add(1, Ordering::Relaxed));
    s.write_all(&connect_packet(&id, credentials))?;
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack)?;
    if ack[0] != 0x20 || ack[3] != 0 {
        return Err(io::Error::other(format!("unexpected CONNACK {ack:02X?}")));
    }
    // No DISCONNECT packet: rumqttd 0.20 then sends its router a second disconnect for the
    // same connection id once the socket closes, and if a new link (e.g. `subscribe`) got
    // that id in between, the new link is cut. Closing the socket disconnects once.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_packets() {
        let p = connect_packet("02584D0A1B2C", Some(("meter", "secret")));
        assert_eq!(
            parse_connect(&p),
            ConnectParse::Done {
                client_id: "02584D0A1B2C".into(),
                username: Some("meter".into())
            }
        );
        for cut in 0..p.len() {
            assert_eq!(
                parse_connect(&p[..cut]),
                ConnectParse::Incomplete,
                "cut at {cut}"
            );
        }
        assert_eq!(
            parse_connect(&connect_packet("x", None)),
            ConnectParse::Done {
                client_id: "x".into(),
                username: None
            }
        );
        assert_eq!(parse_connect(b"GET / HTTP/1.1\r\n"), ConnectParse::Invalid);
        // A long CONNECT: two-byte remaining length.
        let long = "A".repeat(300);
        assert_eq!(
            parse_connect(&connect_packet(&long, None)),
            ConnectParse::Done {
                client_id: long,
                username: None
            }
        );
    }

    #[test]
    fn parses_an_mqtt5_connect_with_properties_and_will() {
        // MQTT 5: properties after keep alive, will properties before the will topic.
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02 | 0x04 | 0x80, 0, 30];
        body.extend_from_slice(&[3, 0x21, 0x00, 0x10]); // properties: receive maximum
        body.extend_from_slice(&[0, 2, b'i', b'd']);
        body.extend_from_slice(&[0]); // will properties: none
        body.extend_from_slice(&[0, 1, b't', 0, 1, b'p']);
        body.extend_from_slice(&[0, 1, b'u']);
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        assert_eq!(
            parse_connect(&p),
            ConnectParse::Done {
                client_id: "id".into(),
                username: Some("u".into())
            }
        );
    }

    #[test]
    fn reads_the_cn_of_a_test_certificate() {
        let pki = TestPki::new("02584D0A1B2C").unwrap();
        assert_eq!(
            cert_cn(pki.client().cert_der().as_ref()).as_deref(),
            Some("02584D0A1B2C")
        );
        assert_eq!(cert_cn(b"not a certificate"), None);
    }
}
