//! The HTTP configuration API (`/api/v1`, API-01..11, FW-01) and the web interface (`/`,
//! WEB-01..06) on axum, over plain HTTP and over HTTPS (rustls, WEB-06), on a TCP or an
//! in-memory listener (`adapters::net`).
//!
//! - `api.rs`: the routes, Basic authentication and the single session; `session.rs`: the
//!   thin wrapper around the session rule (the pure machine `device::session`, kept per
//!   `Host`); `throttle.rs`: the wrong-password limit per source (429);
//!   `problem.rs`: RFC 9457 error bodies; `sim_api.rs`: the simulator's additions (logout,
//!   meter values); `web.rs` + `assets/`: the page.
//! - Every request is answered 503 while the device does not serve (off, booting, no
//!   address). A real device would not answer at all then; the simulator's socket stays
//!   open so tests and tools see why.
//! - One session per device, shared by every server started for the same `Host` (the plain
//!   and the HTTPS server see the same holder): the `Host` keeps it, see `session.rs`.
//! - The server task and every connection stop when the `HttpServer` is dropped.
//!
//! ```no_run
//! # async fn f(host: std::sync::Arc<smart_connect_sim::adapters::host::Host>) -> std::io::Result<()> {
//! use smart_connect_sim::adapters::{certs::TestPki, http::{HttpOptions, HttpServer}};
//! let https = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let http = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let pki = TestPki::new(&host.with_device(|d| d.identity().serial.clone())).unwrap();
//! let tls = HttpServer::start_tls(host.clone(), https, pki.server_config().unwrap())?;
//! let opts = HttpOptions { https_port: Some(tls.local_addr().port()), ..HttpOptions::default() };
//! let plain = HttpServer::start_with(host, http, None, opts)?;
//! # Ok(()) }
//! ```

mod api;
mod problem;
mod session;
mod sim_api;
mod throttle;
mod web;

pub use api::{api_routes, OPENAPI_JSON, USER};
pub use session::SESSION_IDLE_MS;
pub use throttle::{FIRST_BLOCK_MS, FREE_FAILURES, MAX_BLOCK_MS, MAX_SOURCES};

use super::host::Host;
use super::net::Listener;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// Request bodies larger than this get 413.
pub const BODY_LIMIT: usize = 16 * 1024;
/// A TLS handshake or a request head that takes longer than this (wall time: it protects the
/// server's sockets, not a device rule) closes the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body that has not fully arrived this long after its head gets 408 (wall time).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many connections per server at once; more are closed as they arrive, so no
/// client class can use up the process's descriptors (Modbus keeps its own).
pub const MAX_CONNECTIONS: usize = 64;

/// Settings of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The port of the HTTPS server that plain-HTTP pages link to (WEB-01, WEB-06); the link
    /// goes to the host name the browser used. `None`: no link.
    pub https_port: Option<u16>,
    /// Request bodies above this many bytes get 413.
    pub body_limit: usize,
    /// A body not complete this long after the head gets 408 and the connection closes.
    pub body_timeout: Duration,
    /// Connections served at once; further ones are closed at once.
    pub max_connections: usize,
    /// One API session at a time (`true`, API-02/08: a second client gets 409); `false`
    /// serves every authenticated client.
    pub single_session: bool,
}

impl Default for HttpOptions {
    /// The real device's layout: HTTPS on 443, 16 KiB bodies.
    fn default() -> Self {
        HttpOptions {
            https_port: Some(443),
            body_limit: BODY_LIMIT,
            body_timeout: BODY_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            single_session: true,
        }
    }
}

/// A running HTTP or HTTPS server; stops (with all its connections) when dropped.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    tls: bool,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Plain HTTP on `listener` (bind port 0 in tests); pages link to HTTPS on port 443.
    pub fn start(host: Arc<Host>, listener: impl Into<Listener>) -> io::Result<Self> {
        HttpServer::start_with(host, listener, None, HttpOptions::default())
    }

    /// HTTPS on `listener` with `config` (e.g. `TestPki::server_config()`); ALPN is set to
    /// `http/1.1`.
    pub fn start_tls(
        host: Arc<Host>,
        listener: impl Into<Listener>,
        config: rustls::ServerConfig,
    ) -> io::Result<Self> {
        HttpServer::start_with(host, listener, Some(config), HttpOptions::default())
    }

    /// Either kind with explicit options.
    pub fn start_with(
        host: Arc<Host>,
        listener: impl Into<Listener>,
        tls: Option<rustls::ServerConfig>,
        options: HttpOptions,
    ) -> io::Result<Self> {
        let listener: Listener = listener.into();
        let addr = listener.local_addr()?;
        let is_tls = tls.is_some();
        let acceptor = tls.map(|mut c| {
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(c))
        });
        let max = options.max_connections;
        #[cfg(feature = "defects")]
        let options = crate::defects::http::options(&host, options);
        #[cfg(feature = "defects")]
        let wrap = crate::defects::http::wrapper(&host);
        let router = api::router(host, is_tls, options);
        #[cfg(feature = "defects")]
        let router = wrap(router);
        let task = tokio::spawn(accept_loop(listener, router, acceptor, max));
        Ok(HttpServer {
            addr,
            tls: is_tls,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether this server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `router` over plain HTTP on `listener` with the same head timeout and connection
/// budget as the API (the bench rig uses it); stops when the handle is aborted.
pub(crate) fn serve_plain(
    listener: impl Into<Listener>,
    router: axum::Router,
    max_connections: usize,
) -> JoinHandle<()> {
    tokio::spawn(accept_loop(listener.into(), router, None, max_connections))
}

/// Middleware: the whole request body must arrive within `BODY_TIMEOUT` (408) and fit in
/// `BODY_LIMIT` (413); handlers then read it from memory.
pub(crate) async fn whole_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => (
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
            .into_response(),
        Err(_) => (
            hyper::StatusCode::REQUEST_TIMEOUT,
            [(hyper::header::CONNECTION, "close")],
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )
            .into_response(),
    }
}

/// Accept connections until aborted; the connections live in a `JoinSet` owned by this task,
/// so aborting it ends them too.
async fn accept_loop(
    listener: Listener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
) {
    let mut conns = JoinSet::new();
    let mut refused: u64 = 0;
    let mut errors = crate::adapters::accept::AcceptErrors::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if conns.len() >= max_connections => {
                    drop(stream);
                    refused = refused.saturating_add(1);
                    // The first and then every 1000th, so a flood cannot flood the log.
                    if refused % 1000 == 1 {
                        tracing::warn!("http: {peer} closed: {max_connections} connections are open ({refused} refused so far)");
                    }
                }
                Ok((stream, peer)) => {
                    errors.accepted("http");
                    let router = router.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            None => serve_connection(stream, peer, router).await,
                            Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => serve_connection(s, peer, router).await,
                                Ok(Err(e)) => tracing::debug!("https: {peer}: TLS handshake failed: {e}"),
                                Err(_) => tracing::debug!("https: {peer}: TLS handshake timed out"),
                            },
                        }
                    });
                }
                Err(e) => {
                    // e.g. out of file descriptors: wait instead of spinning; log once.
                    let wait = errors.failed("http", &e);
                    tokio::time::sleep(wait).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One HTTP/1.1 connection; the peer address reaches the handlers as `ConnectInfo`.
async fn serve_connection<S>(stream: S, peer: SocketAddr, router: axum::Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        tracing::debug!("http: {peer}: {e}");
    }
}
