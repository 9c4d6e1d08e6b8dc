//! Shared by the HTTP API tests: a booted virtual device with a plain HTTP server, clients
//! from chosen loopback addresses, and request helpers.

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::HttpServer;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::store::ConfigStore;
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::sim::clock::{Clock, Millis, VirtualClock};
use std::net::IpAddr;
use std::sync::Arc;

pub const USB: PowerInputs = PowerInputs {
    usb: true,
    p1_supply: false,
};
pub const OFF: PowerInputs = PowerInputs {
    usb: false,
    p1_supply: false,
};

/// A booted virtual device (virtual clock, DHCP) with a plain HTTP server on port 0.
pub struct Dev {
    pub host: Arc<Host>,
    pub clock: VirtualClock,
    pub http: HttpServer,
    pub password: String,
}

impl Dev {
    /// An HTTPS server for this device with a fresh test PKI (its CA is the only root).
    pub async fn https(
        &self,
    ) -> (
        smart_connect_sim::adapters::http::HttpServer,
        smart_connect_sim::adapters::certs::TestPki,
    ) {
        let serial = self.host.with_device(|d| d.identity().serial.clone());
        let pki = smart_connect_sim::adapters::certs::TestPki::new(&serial).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = smart_connect_sim::adapters::http::HttpServer::start_tls(
            std::sync::Arc::clone(&self.host),
            listener,
            pki.server_config().unwrap(),
        )
        .unwrap();
        (server, pki)
    }

    pub async fn new() -> Dev {
        Dev::with_store(None).await
    }

    pub async fn with_store(store: Option<Box<dyn ConfigStore>>) -> Dev {
        let clock = VirtualClock::new(1_750_000_000_000);
        let host = Host::new(
            DeviceConfig::new(Variant::P1),
            store,
            Arc::new(clock.clone()),
        );
        host.handle(Event::Power(USB));
        clock.advance(6_000);
        host.handle(Event::Tick);
        assert!(host.served().serving, "the device serves after 6 s");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = HttpServer::start(Arc::clone(&host), listener).unwrap();
        let password = host.with_device(|d| d.identity().label_password.clone());
        Dev {
            host,
            clock,
            http,
            password,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http.url())
    }

    /// Let `ms` of device time pass, ticking at every deadline on the way.
    pub fn run_for(&self, ms: Millis) {
        let end = self.clock.now() + ms;
        for _ in 0..10_000 {
            match self.host.next_deadline().filter(|&t| t <= end) {
                Some(t) => {
                    self.clock.advance_to(t);
                    self.host.handle(Event::Tick);
                }
                None => break,
            }
        }
        self.clock.advance_to(end);
        self.host.handle(Event::Tick);
    }

    /// An authenticated request from 127.0.0.1.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        client("127.0.0.1")
            .request(method, self.url(path))
            .basic_auth("user", Some(&self.password))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.req(Method::GET, path)).await
    }

    pub async fn patch(&self, body: &Value) -> (StatusCode, Value) {
        send(
            self.req(Method::PATCH, "/api/v1/config")
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn config(&self) -> Value {
        let (s, v) = self.get("/api/v1/config").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

/// A client whose connections come from `ip` (any 127/8 address reaches lo on Linux).
pub fn client(ip: &str) -> Client {
    smart_connect_sim::adapters::certs::install_crypto_provider();
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

pub async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = rb.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn ctype(r: &reqwest::Response) -> String {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}
