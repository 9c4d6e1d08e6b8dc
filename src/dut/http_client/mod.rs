//! The suite's HTTP client (hyper 1, HTTP/1.1), over a `Net`: real TCP or the in-memory
//! network, with HTTPS through rustls. It talks to a device as any client on the LAN would:
//! one new connection per request (the device's session is held by the credentials and the
//! source address, not by a connection), redirects are never followed (the steps look at
//! them), and a request that gets no whole answer within the timeout fails.
//!
//! - `HttpClient::new(net)` then `from(ip)` (bind the source address: "another client"),
//!   `trust_ca_pem(pem)` (HTTPS checks the device's certificate against exactly this CA) or
//!   `accept_any_certificate()`, `resolve(name, ip)` (a name as mDNS or the router's DNS
//!   would answer it), `timeout(d)`.
//! - `client.request(method, url)` → `RequestBuilder` (`basic_auth`, `header`, `body`,
//!   `json`) → `send()` → `Response` (`status`, `headers`, `text`, `json`).
//! - Errors say what a firmware engineer needs: `cannot connect to http://…: connection
//!   refused`, `TLS handshake with https://… failed: invalid peer certificate: …`.

#[cfg(test)]
mod tests;
mod tls;

pub use hyper::{header, HeaderMap, Method, StatusCode};

use crate::adapters::net::{Net, Stream};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long a request may take, connection and whole answer included (wall time: it waits
/// for the network, not for the device's clock).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Answers larger than this are an error (the device's pages are a few kB).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The client or the request is wrongly set up (bad URL, bad CA, bad header).
    #[error("{0}")]
    Setup(String),
    /// The host name has no address.
    #[error("cannot resolve {host} (in {url}): {why}")]
    Resolve {
        url: String,
        host: String,
        why: String,
    },
    /// No connection.
    #[error("cannot connect to {url}: {why}")]
    Connect { url: String, why: String },
    /// The TLS handshake failed (e.g. a certificate not valid for the name, or not signed by
    /// the trusted CA).
    #[error("TLS handshake with {url} failed: {why}")]
    Tls { url: String, why: String },
    /// No whole answer in time.
    #[error("{url}: no answer within {} s", timeout.as_secs_f64())]
    Timeout { url: String, timeout: Duration },
    /// The connection broke, or what came back is not HTTP.
    #[error("{url}: {why}")]
    Exchange { url: String, why: String },
}

/// What a request's TLS trusts.
#[derive(Clone)]
enum Trust {
    /// No CA given: an `https` URL is refused before connecting.
    Nothing,
    Config(Arc<rustls::ClientConfig>),
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trust::Nothing => "Nothing",
            Trust::Config(_) => "Config",
        })
    }
}

/// An HTTP client over a `Net` (cheap to clone).
#[derive(Debug, Clone)]
pub struct HttpClient {
    net: Net,
    from: Option<IpAddr>,
    trust: Trust,
    resolve: Vec<(String, IpAddr)>,
    timeout: Duration,
}

impl HttpClient {
    /// A client on `net`: from the default source address, no HTTPS trust, `TIMEOUT`.
    pub fn new(net: Net) -> Self {
        HttpClient {
            net,
            from: None,
            trust: Trust::Nothing,
            resolve: Vec::new(),
            timeout: TIMEOUT,
        }
    }

    /// Connect from the local address `ip` (a second client, from another address).
    pub fn from(mut self, ip: IpAddr) -> Self {
        self.from = Some(ip);
        self
    }

    /// HTTPS trusts exactly the CA certificate(s) in `pem`.
    pub fn trust_ca_pem(mut self, pem: &str) -> Result<Self, HttpError> {
        self.trust = Trust::Config(Arc::new(tls::trusting(pem)?));
        Ok(self)
    }

    /// HTTPS accepts any server certificate.
    pub fn accept_any_certificate(mut self) -> Result<Self, HttpError> {
        self.trust = Trust::Config(Arc::new(tls::any_certificate()?));
        Ok(self)
    }

    /// The host `name` resolves to `ip` (the URL's port is kept).
    pub fn resolve(mut self, name: &str, ip: IpAddr) -> Self {
        self.resolve.push((name.to_ascii_lowercase(), ip));
        self
    }

    /// A request (connection and whole answer) fails after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A request with `method` to `url` (`http://` or `https://`).
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            error: None,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, url)
    }

    /// The address `host` stands for: a `resolve` entry, an IP literal, `localhost`, or (on
    /// TCP only) the system resolver.
    async fn address(&self, url: &str, host: &str, port: u16) -> Result<SocketAddr, HttpError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let fail = |why: String| HttpError::Resolve {
            url: url.to_string(),
            host: host.to_string(),
            why,
        };
        let lower = bare.to_ascii_lowercase();
        if let Some((_, ip)) = self.resolve.iter().rev().find(|(n, _)| *n == lower) {
            return Ok(SocketAddr::new(*ip, port));
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        if lower == "localhost" {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
        match &self.net {
            Net::Mem(_) => Err(fail(
                "the in-memory network knows no host names (use an IP address)".into(),
            )),
            Net::Tcp => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| fail(e.to_string()))?
                .next()
                .ok_or_else(|| fail("no address".into())),
        }
    }
}

/// A request being built; `send` sends it.
#[derive(Debug)]
pub struct RequestBuilder<'c> {
    client: &'c HttpClient,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    /// The first thing set wrongly (reported by `send`).
    error: Option<HttpError>,
}

impl RequestBuilder<'_> {
    /// Add the header `name: value` (a bad name or value fails the request with an error
    /// naming it).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let (name, value) = (name.as_ref(), value.as_ref());
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => {
                self.error.get_or_insert(HttpError::Setup(format!(
                    "{} {}: the header {name:?}: {value:?} is not valid HTTP",
                    self.method, self.url
                )));
            }
        }
        self
    }

    /// Basic authentication as `user` with `password`.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Self {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.unwrap_or("")));
        self.header(header::AUTHORIZATION, format!("Basic {token}"))
    }

    /// The request body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body (`content-type: application/json`).
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header(header::CONTENT_TYPE, "application/json")
            .body(value.to_string())
    }

    /// Send the request and read the whole answer.
    pub async fn send(self) -> Result<Response, HttpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let timeout = self.client.timeout;
        let url = self.url.clone();
        tokio::time::timeout(timeout, self.exchange())
            .await
            .map_err(|_| HttpError::Timeout { url, timeout })?
    }

    async fn exchange(self) -> Result<Response, HttpError> {
        let url = self.url.as_str();
        let parsed =
            Url::parse(url).map_err(|e| HttpError::Setup(format!("{url:?} is not a URL: {e}")))?;
        let https = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(HttpError::Setup(format!(
                    "{url}: the scheme {other:?} is not http or https"
                )))
            }
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| HttpError::Setup(format!("{url}: no host")))?;
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| HttpError::Setup(format!("{url}: no port")))?;
        let tls = match (&self.client.trust, https) {
            (_, false) => None,
            (Trust::Config(c), true) => Some((Arc::clone(c), tls::server_name(host)?)),
            (Trust::Nothing, true) => {
                return Err(HttpError::Setup(format!(
                "{url}: no CA to check the server's certificate against (the client trusts none)"
            )))
            }
        };
        let addr = self.client.address(url, host, port).await?;
        let dialled = match self.client.from {
            Some(local) => self.client.net.connect_from(local, addr).await,
            None => self.client.net.connect(addr).await,
        };
        let stream = dialled.map_err(|e| HttpError::Connect {
            url: url.to_string(),
            why: io_words(&e),
        })?;
        let stream: Stream = match tls {
            None => stream,
            Some((config, name)) => Box::new(
                tokio_rustls::TlsConnector::from(config)
                    .connect(name, stream)
                    .await
                    .map_err(|e| HttpError::Tls {
                        url: url.to_string(),
                        why: io_words(&e),
                    })?,
            ),
        };
        let broken = |e: &dyn std::error::Error| HttpError::Exchange {
            url: url.to_string(),
            why: error_chain(e),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| broken(&e))?;
        let conn = AbortOnDrop(tokio::spawn(conn));
        let mut req = hyper::Request::builder()
            .method(self.method.clone())
            .uri(&parsed[url::Position::BeforePath..url::Position::AfterQuery])
            .header(header::HOST, authority(&parsed, host))
            .body(Full::new(self.body))
            .map_err(|e| HttpError::Setup(format!("{} {url}: {e}", self.method)))?;
        req.headers_mut().extend(self.headers);
        let resp = sender.send_request(req).await.map_err(|e| broken(&e))?;
        let (parts, body) = resp.into_parts();
        let bytes = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| broken(e.as_ref()))?
            .to_bytes();
        drop(conn);
        Ok(Response {
            url: url.to_string(),
            status: parts.status,
            headers: parts.headers,
            body: bytes,
        })
    }
}

/// `host[:port]` as the `Host` header carries it (no port when it is the scheme's default).
fn authority(url: &Url, host: &str) -> String {
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Ends the connection's task when the request is done (or given up).
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An I/O error in plain words (`connection refused`), with what the OS or TLS added.
fn io_words(e: &io::Error) -> String {
    let detail = error_chain(e);
    match e.kind() {
        io::ErrorKind::ConnectionRefused if e.raw_os_error().is_some() => {
            "connection refused".into()
        }
        io::ErrorKind::ConnectionRefused => format!("connection refused ({detail})"),
        _ => detail,
    }
}

/// An error with its causes (hyper and TLS put the reason a few levels down).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(&format!(": {s}"));
        }
        cause = c.source();
    }
    out
}

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Response {
    url: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that was asked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; an error names the URL and what is wrong.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Exchange {
            url: self.url.clone(),
            why: format!("the answer is not the expected JSON: {e}"),
        })
    }
}
