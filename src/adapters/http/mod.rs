//! The HTTP configuration API (`/api/v1`, API-01..11, FW-01) and the web interface (`/`,
//! WEB-01..06) on axum, over plain HTTP and over HTTPS (rustls, WEB-06).
//!
//! - `api.rs`: the routes, Basic authentication and the single session; `session.rs`: the
//!   session rule; `throttle.rs`: the wrong-password limit per source (429);
//!   `problem.rs`: RFC 9457 error bodies; `web.rs` + `assets/`: the page.
//! - Every request is answered 503 while the device does not serve (off, booting, no
//!   address). A real device would not answer at all then; the simulator's socket stays
//!   open so tests and tools see why.
//! - One session per device, shared by every server started for the same `Host` (the plain
//!   and the HTTPS server see the same holder): see `session.rs`.
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
mod throttle;
mod web;

pub use api::{api_routes, OPENAPI_JSON};
pub use session::SESSION_IDLE_MS;
pub use throttle::{FIRST_BLOCK_MS, FREE_FAILURES, MAX_BLOCK_MS, MAX_SOURCES};

use super::host::Host;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// Request bodies larger than this get 413.
pub const BODY_LIMIT: usize = 16 * 1024;
/// A TLS handshake or a request head that takes longer than this (wall time: it protects the
/// server's sockets, not a device rule) closes the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The port of the HTTPS server that plain-HTTP pages link to (WEB-01, WEB-06); the link
    /// goes to the host name the browser used. `None`: no link.
    pub https_port: Option<u16>,
    /// Request bodies above this many bytes get 413.
    pub body_limit: usize,
}

impl Default for HttpOptions {
    /// The real device's layout: HTTPS on 443, 16 KiB bodies.
    fn default() -> Self {
        HttpOptions {
            https_port: Some(443),
            body_limit: BODY_LIMIT,
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
    pub fn start(host: Arc<Host>, listener: TcpListener) -> io::Result<Self> {
        HttpServer::start_with(host, listener, None, HttpOptions::default())
    }

    /// HTTPS on `listener` with `config` (e.g. `TestPki::server_config()`); ALPN is set to
    /// `http/1.1`.
    pub fn start_tls(
        host: Arc<Host>,
        listener: TcpListener,
        config: rustls::ServerConfig,
    ) -> io::Result<Self> {
        HttpServer::start_with(host, listener, Some(config), HttpOptions::default())
    }

    /// Either kind with explicit options.
    pub fn start_with(
        host: Arc<Host>,
        listener: TcpListener,
        tls: Option<rustls::ServerConfig>,
        options: HttpOptions,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let is_tls = tls.is_some();
        let acceptor = tls.map(|mut c| {
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(c))
        });
        let router = api::router(host, is_tls, options);
        let task = tokio::spawn(accept_loop(listener, router, acceptor));
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

/// Accept connections until aborted; the connections live in a `JoinSet` owned by this task,
/// so aborting it ends them too.
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
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
                    // e.g. out of file descriptors: wait a little instead of spinning.
                    tracing::warn!("http: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
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
