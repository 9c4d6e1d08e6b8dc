//! An embedded MQTT broker for tests, the demo and `run`: rumqttd (its router and two MQTT
//! 3.1.1 listeners on loopback ports nobody is told about) behind two fronts of our own.
//!
//! ```text
//!  device (mTLS) ──▶ TLS front :tls ──(certificate from the test CA, CN recorded, CONNECT re-logged-in
//!                        │            with the front's account)──────────────────▶ internal listener
//!                        └──(no certificate: only when `credentials` are given)──▶ public listener
//!  installer / own-broker mode (MQ-07) ──▶ plain front :plain ───────────────────▶ public listener
//!                                                                  (checks the installer accounts)
//!  tests ──▶ `subscribe` / `publish`: in-process links to the router (no socket)
//! ```
//!
//! In memory (`BrokerOptions::net` = `Net::Mem`, the in-memory target): the fronts listen on
//! the in-memory network, rumqttd opens no listener, and where a front would dial rumqttd's
//! internal or public listener it gets a pipe to a bridge of ours (`bridge.rs`) that plays
//! that listener (same account check, CONNECT rules, keep alive) and feeds the router through
//! a local link. The fronts' guard, filter and log run unchanged; no socket is opened.
//!
//! Why fronts: rumqttd never reads the client certificate's CN (MQ-05 needs it), turns an O
//! field into a tenant prefix, has no ACLs and no connection limit. The fronts parse the
//! CONNECT (`connect_parse.rs`) and apply `guard.rs`:
//!
//! - Accounts. The plain listener takes only the installer accounts (`credentials`; none
//!   given: `installer` with a random password made at every start, `installer()`; `run`
//!   prints it). rumqttd's public listener checks them. The internal listener takes only the
//!   TLS front's own account (random per start): the front rewrites each certificate client's
//!   CONNECT to log in with it, so the internal port cannot be used to go around the front.
//! - The device's client id (= its certificate's CN = the serial, MQ-03/05) is reserved: a
//!   client with another certificate never gets it; a password client gets it only while the
//!   device is not connected with its certificate (the device itself in own-broker mode, MQ-07,
//!   connects with the installer account). Refused: CONNACK 5 "not authorized", then closed;
//!   the device keeps its session.
//! - Commands (`devices/+/smart-connect/+/cmd/#`). Who sends commands to the device (MQ-13,
//!   FW-01)? The cloud, i.e. whoever runs the broker: here the in-process `publish` and the
//!   installer accounts (the rig's watch account; the installer's own broker). So those may,
//!   anonymous clients cannot connect at all, and a client with another certificate from the
//!   test CA (it may connect and read) has its connection cut at its first PUBLISH to a
//!   command topic — checked packet by packet, nothing of it reaches rumqttd.
//! - Budgets. Each front takes at most `max_connections` (default 64) connections at once;
//!   more are closed right after the accept (`turned_away`). From the accept to a
//!   complete CONNECT (TLS handshake included) a client has `connect_timeout` (default 5 s),
//!   else it is closed; rumqttd's own CONNECT timeout is the same. The router takes 1000.
//! - The log of what the TLS front let through and what the fronts refused keeps the newest
//!   256 entries of each (ring buffers), so refusals cannot grow memory; `refusal_count`
//!   counts all.
//!
//! The TLS front verifies client certificates against the test CA with rustls (the broker's
//! own clock: the wall clock). rumqttd is built without its TLS features.
//!
//! Lifetime: everything runs on one thread (`mqtt-broker`) with its own tokio runtime, so the
//! broker works from any caller (sync `main`, any runtime flavour). Dropping the broker stops
//! that runtime: the listeners close, every connection is cut, subscriptions end. What leaks:
//! rumqttd's router thread (`router-0`), which holds a sender to itself and so can never be
//! stopped — one idle thread blocked on a channel, plus the retained/commitlog memory of that
//! router (bounded by the router config below: 4 segments of 1 MiB per topic filter).
//!
//! Ports: the fronts bind the requested ports (0 = any) themselves, once. rumqttd binds its
//! listeners from a configured address, so free loopback ports are picked first (bind :0,
//! read, close) and rumqttd binds them a moment later; a lost race is detected and retried
//! with other ports (in memory none of this: the fronts listen on the `Net`, rumqttd nowhere).
//! `start` returns once each listener has answered an MQTT CONNECT with a
//! CONNACK.
//!
//! Files: `tls_front.rs` (the TLS front), `plain_front.rs` (the plain front), `guard.rs` (the
//! rules both apply, their log and the relay), `bridge.rs` (where the fronts relay to: TCP, or
//! the in-memory bridge into the router), `connect_parse.rs` (the MQTT CONNECT parser
//! and rewriter, packet boundaries, the certificate CN), `subscribe.rs` (in-process subscribe
//! and publish), `listeners.rs` (rumqttd's router and listener settings, free ports, the
//! readiness probe). `options.rs` holds the options and the errors; this file the broker's lifetime.

mod bridge;
mod connect_parse;
mod guard;
mod listeners;
#[cfg(test)]
mod mem_tests;
mod options;
mod plain_front;
mod subscribe;
mod tls_front;

pub use self::connect_parse::{
    cert_cn, connect_packet, parse_connect, with_credentials, ConnectParse,
};
pub use self::options::{
    BrokerError, BrokerOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, MAX_PAYLOAD,
    OWN_BROKER_HOST, OWN_BROKER_PASSWORD, OWN_BROKER_USER,
};

use self::bridge::{Backend, BuildLink, Door, LinkSpec};
use self::guard::{FrontLog, Guard};
use self::listeners::{free_port, probe, router_config, server_settings};
use self::options::{random_password, FRONT_USER};
use self::plain_front::plain_front;
use self::tls_front::{front, front_config, Upstreams};
use super::certs::{PkiPaths, TestPki};
use super::net::{Listener, Net};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::v4::V4;
use rumqttd::{LinkType, Router, Server};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

/// A connection the TLS front let through.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

type MakeLink = Box<dyn Fn(&str) -> Result<(LinkTx, LinkRx), String> + Send + Sync>;

/// The fronts' listeners: bound TCP sockets (cloned for each start attempt) or listeners on
/// the in-memory network.
enum FrontListeners {
    Tcp(std::net::TcpListener, std::net::TcpListener),
    Mem(Listener, Listener),
}

const TLS_WHAT: &str = "mTLS listener, --mqtt-tls-port";
const PLAIN_WHAT: &str = "plain listener, --mqtt-plain-port";

/// A running broker; stops when dropped (see the module docs for what cannot be stopped).
pub struct EmbeddedBroker {
    plain: SocketAddr,
    tls: SocketAddr,
    internal: Option<SocketAddr>,
    public: Option<SocketAddr>,
    net: Net,
    backend: Arc<Backend>,
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
        let mut opts = opts;
        if opts.credentials.is_empty() {
            opts.credentials = vec![(OWN_BROKER_USER.to_string(), random_password())];
        }
        let started = if opts.net.is_memory() {
            let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
            let listen = |port: u16, what: &'static str| {
                let addr = SocketAddr::new(lo, port);
                (opts.net.listen_now(addr)).map_err(|source| BrokerError::Bind {
                    addr,
                    what,
                    source,
                })
            };
            listen(opts.tls_port, TLS_WHAT)
                .and_then(|t| Ok(FrontListeners::Mem(t, listen(opts.plain_port, PLAIN_WHAT)?)))
                .and_then(|l| Self::try_start(&opts, &pki, tls_cfg, l))
        } else {
            Self::start_tcp(&opts, &pki, tls_cfg)
        };
        match started {
            Ok(mut b) => {
                b.paths = paths;
                b.cert_dir = cert_dir;
                b.remove_dir = remove_dir;
                Ok(b)
            }
            Err(e) => {
                if remove_dir {
                    let _ = std::fs::remove_dir_all(&cert_dir);
                }
                Err(e)
            }
        }
    }

    fn try_start(
        opts: &BrokerOptions,
        pki: &Arc<TestPki>,
        tls_cfg: Arc<rustls::ServerConfig>,
        fronts: FrontListeners,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (tls, plain) = match &fronts {
            FrontListeners::Tcp(t, p) => (t.local_addr()?, p.local_addr()?),
            FrontListeners::Mem(t, p) => (t.local_addr()?, p.local_addr()?),
        };
        let front_login = (FRONT_USER.to_string(), random_password());

        let router = Router::new(0, router_config());
        let router_tx = router.spawn();
        let auth = opts.credentials.iter().cloned().collect::<HashMap<_, _>>();
        let front_accounts = HashMap::from([front_login.clone()]);
        let (backend, servers) = if let FrontListeners::Mem(..) = fronts {
            // No rumqttd listener: bridges feed the router through local links.
            let links = router_tx.clone();
            let build: BuildLink = Arc::new(move |spec: LinkSpec| {
                rumqttd::local::LinkBuilder::new(&spec.client_id, links.clone())
                    .clean_session(spec.clean_session)
                    .dynamic_filters(true)
                    .build()
                    .map_err(|e| e.to_string())
            });
            let door = |name, accounts| {
                Arc::new(Door {
                    name,
                    accounts,
                    connect_timeout: opts.connect_timeout,
                    build: Arc::clone(&build),
                    live: AtomicUsize::new(0),
                })
            };
            let internal = door("internal", front_accounts);
            let public = door("public", auth);
            (Backend::Mem { internal, public }, None)
        } else {
            let internal = SocketAddr::new(lo, free_port()?);
            let public = SocketAddr::new(lo, free_port()?);
            let settings =
                |name, addr, accounts| server_settings(name, addr, accounts, opts.connect_timeout);
            let internal_srv = Server::new(
                settings("internal", internal, front_accounts),
                router_tx.clone(),
                V4,
            );
            let public_srv = Server::new(settings("public", public, auth), router_tx.clone(), V4);
            (
                Backend::Tcp { internal, public },
                Some((internal_srv, public_srv)),
            )
        };
        let backend = Arc::new(backend);
        let (internal, public) = match *backend {
            Backend::Tcp { internal, public } => (Some(internal), Some(public)),
            Backend::Mem { .. } => (None, None),
        };
        let make_link: MakeLink = Box::new(move |id: &str| {
            rumqttd::local::LinkBuilder::new(id, router_tx.clone())
                .build()
                .map(|(tx, rx, _ack)| (tx, rx))
                .map_err(|e| e.to_string())
        });

        let log = Arc::new(FrontLog::default());
        let device_cn = cert_cn(pki.client().cert_der().as_ref())
            .unwrap_or_else(|| opts.pki_options.client_cn.clone());
        let guard = Arc::new(Guard::new(
            device_cn,
            opts.connect_timeout,
            Arc::clone(&log),
        ));
        let upstreams = Arc::new(Upstreams {
            backend: Arc::clone(&backend),
            front_login: front_login.clone(),
        });
        let plain_backend = Arc::clone(&backend);
        let max = opts.max_connections.max(1);
        let (tls_budget, plain_budget) =
            (Arc::new(Semaphore::new(max)), Arc::new(Semaphore::new(max)));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (failed_tx, failed_rx) = std::sync::mpsc::channel::<String>();
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
                let listeners = match fronts {
                    FrontListeners::Tcp(t, p) => TcpListener::from_std(t).and_then(|t| {
                        Ok((Listener::from(t), Listener::from(TcpListener::from_std(p)?)))
                    }),
                    FrontListeners::Mem(t, p) => Ok((t, p)),
                };
                let (tls_l, plain_l) = match listeners {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = failed_tx.send(format!("front listeners: {e}"));
                        return;
                    }
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(tls_cfg);
                let rumqttd = async {
                    let Some((mut i, mut p)) = servers else {
                        return std::future::pending::<String>().await;
                    };
                    tokio::select! {
                        r = i.start(LinkType::Remote) => format!("internal listener {internal:?}: {r:?}"),
                        r = p.start(LinkType::Remote) => format!("public listener {public:?}: {r:?}"),
                    }
                };
                tokio::select! {
                    why = rumqttd => { let _ = failed_tx.send(why); }
                    () = front(tls_l, acceptor, upstreams, Arc::clone(&guard), tls_budget) => {}
                    () = plain_front(plain_l, plain_backend, guard, plain_budget) => {}
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
            public,
            net: opts.net.clone(),
            backend,
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
        // In memory nothing can lose a race: the listeners exist and the router answers below.
        let probes = match internal {
            Some(internal) => vec![(internal, Some(front_login)), (plain, creds)],
            None => Vec::new(),
        };
        for (addr, creds) in probes {
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

    /// The public plain MQTT listener (`mqtt://`, the plain front; an installer account is
    /// required, MQ-07).
    pub fn plain_addr(&self) -> SocketAddr {
        self.plain
    }

    /// The TLS front (`mqtts://`; a client certificate from the test CA is required unless
    /// credentials were given in the options).
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls
    }

    /// rumqttd's listener behind the TLS front (only the front's own account, random per
    /// start, gets in; loopback only). `None` in memory: rumqttd listens nowhere.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal
    }

    /// rumqttd's listener behind the plain front (the installer accounts; loopback only).
    /// `None` in memory.
    pub fn public_internal_addr(&self) -> Option<SocketAddr> {
        self.public
    }

    /// The network the fronts listen on (`tls_addr` and `plain_addr` are addresses on it).
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// In memory: the MQTT connections bridged into the router right now (a closed one counts
    /// until the router was told); 0 over TCP.
    pub fn bridged(&self) -> usize {
        self.backend.live()
    }

    /// The installer account on the plain listener: (username, password) — the first of
    /// `BrokerOptions::credentials`, or the one made with a random password at start.
    pub fn installer(&self) -> (&str, &str) {
        self.credentials
            .first()
            .map(|(u, p)| (u.as_str(), p.as_str()))
            .unwrap_or_default()
    }

    /// Connections the fronts closed at once because their budget was used up.
    pub fn turned_away(&self) -> u64 {
        self.log.turned_away.load(Ordering::Relaxed)
    }

    /// Refusals the fronts logged since start (only the newest are kept, see `tls_refusals`).
    pub fn refusal_count(&self) -> u64 {
        self.log
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .total()
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

    /// The connections the TLS front let through, with CN and MQTT client id, in order (the
    /// newest 256).
    pub fn tls_clients(&self) -> Vec<TlsClient> {
        self.log
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_vec()
    }

    /// Changes whenever a front logs a client or a refusal (await `changed()` instead of
    /// polling `tls_clients` / `tls_refusals`).
    pub fn tls_log_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.log.entries.subscribe()
    }

    /// Why the fronts refused connections (failed handshakes, no CONNECT in time, a reserved
    /// client id, a command from another certificate; the plain front's entries start with
    /// `plain`), in order: the newest 256 (`refusal_count` counts all).
    pub fn tls_refusals(&self) -> Vec<String> {
        self.log
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .to_vec()
    }

    /// Make the TLS front unreachable (`false`: every connection through it is cut and new
    /// ones are closed right after the accept — TCP or in memory — as a broker that is down behind a load
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
