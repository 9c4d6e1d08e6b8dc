//! Tests of the HTTP client over the in-memory network against the device's real
//! `HttpServer`, plain and with the test PKI's HTTPS.

use super::*;
use crate::adapters::certs::TestPki;
use crate::adapters::host::Host;
use crate::adapters::http::{HttpOptions, HttpServer};
use crate::device::{DeviceConfig, Variant};
use serde_json::Value;

fn at(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

struct Device {
    host: Arc<Host>,
    password: String,
    _clock: crate::sim::clock::VirtualClock,
}

fn device() -> Device {
    let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
    let password = host.with_device(|d| d.identity().label_password.clone());
    Device {
        host,
        password,
        _clock: clock,
    }
}

#[tokio::test]
async fn plain_http_over_the_memory_network_reaches_the_api_with_headers_and_json() {
    let net = Net::memory();
    let dev = device();
    let server =
        HttpServer::start(Arc::clone(&dev.host), net.listen(at(80)).await.unwrap()).unwrap();
    assert_eq!(server.url(), "http://127.0.0.1:80");
    let client = HttpClient::new(net.clone());

    let challenge = client
        .get("http://127.0.0.1/api/v1/status")
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let www = challenge.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(www.starts_with("Basic"), "{www}");

    let status = client
        .get("http://127.0.0.1:80/api/v1/status")
        .basic_auth("user", Some(&dev.password))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK, "{}", status.text());
    let doc: Value = status.json().unwrap();
    assert!(doc.get("System").is_some(), "{doc}");

    let refused = client
        .request(Method::PATCH, "http://127.0.0.1/api/v1/config")
        .basic_auth("user", Some(&dev.password))
        .json(&serde_json::json!({"Modbus": {"Nonsense": 1}}))
        .send()
        .await
        .unwrap();
    assert!(
        refused.status().is_client_error(),
        "{} {}",
        refused.status(),
        refused.text()
    );
}

#[tokio::test]
async fn a_second_client_is_seen_from_its_own_address() {
    let net = Net::memory();
    let dev = device();
    let _server =
        HttpServer::start(Arc::clone(&dev.host), net.listen(at(80)).await.unwrap()).unwrap();
    let first = HttpClient::new(net.clone());
    let second = HttpClient::new(net.clone()).from(IpAddr::from([127, 0, 0, 2]));
    let password = dev.password.as_str();
    let status = |c: HttpClient| async move {
        c.get("http://127.0.0.1/api/v1/status")
            .basic_auth("user", Some(password))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(status(first.clone()).await, StatusCode::OK);
    // API-02: the session belongs to the first client's address.
    assert_eq!(status(second).await, StatusCode::CONFLICT);
    assert_eq!(status(first).await, StatusCode::OK);
}

#[tokio::test]
async fn nothing_listening_is_a_clear_connect_error() {
    let client = HttpClient::new(Net::memory());
    let err = client
        .get("http://127.0.0.1:8080/api/v1/status")
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert!(
        text.starts_with(
            "cannot connect to http://127.0.0.1:8080/api/v1/status: connection refused"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn bad_urls_headers_and_names_are_errors_not_panics() {
    let client = HttpClient::new(Net::memory());
    let e = client.get("not a url").send().await.unwrap_err();
    assert!(e.to_string().contains("is not a URL"), "{e}");
    let e = client.get("ftp://127.0.0.1/").send().await.unwrap_err();
    assert!(e.to_string().contains("not http or https"), "{e}");
    let e = client
        .get("http://127.0.0.1/")
        .header("bad header", "x")
        .send()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"bad header\""), "{e}");
    let e = client
        .get("http://smart-connect.local/")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Resolve { .. }), "{e}");
    let e = client.get("https://127.0.0.1/").send().await.unwrap_err();
    assert!(e.to_string().contains("no CA"), "{e}");
    let e = HttpClient::new(Net::memory())
        .trust_ca_pem("not a certificate")
        .unwrap_err();
    assert!(e.to_string().contains("the CA certificate (PEM)"), "{e}");
}

async fn https_device(net: &Net, pki: &TestPki) -> (Device, HttpServer) {
    let dev = device();
    let server = HttpServer::start_with(
        Arc::clone(&dev.host),
        net.listen(at(443)).await.unwrap(),
        Some(pki.server_config().unwrap()),
        HttpOptions::default(),
    )
    .unwrap();
    (dev, server)
}

#[tokio::test]
async fn https_trusting_the_device_ca_checks_the_certificate_and_its_name() {
    let net = Net::memory();
    let pki = TestPki::new("SC-TEST").unwrap();
    let (dev, server) = https_device(&net, &pki).await;
    assert!(server.is_tls());
    let client = HttpClient::new(net.clone())
        .trust_ca_pem(pki.ca_pem())
        .unwrap()
        .resolve("smart-connect.local", IpAddr::from([127, 0, 0, 1]));
    for url in [
        "https://127.0.0.1/api/v1/status",
        "https://smart-connect.local/api/v1/status",
    ] {
        let r = client
            .get(url)
            .basic_auth("user", Some(&dev.password))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(r.status(), StatusCode::OK, "{url}: {}", r.text());
    }
    // The certificate is not valid for a name it does not carry.
    let wrong_name = client
        .clone()
        .resolve("elsewhere.example", IpAddr::from([127, 0, 0, 1]))
        .get("https://elsewhere.example/api/v1/status")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(wrong_name, HttpError::Tls { .. }), "{wrong_name}");
    assert!(
        wrong_name.to_string().contains("certificate"),
        "{wrong_name}"
    );
}

#[tokio::test]
async fn https_refuses_another_ca_unless_any_certificate_is_accepted() {
    let net = Net::memory();
    let pki = TestPki::new("SC-TEST").unwrap();
    let (_dev, _server) = https_device(&net, &pki).await;
    let other = TestPki::new("SC-OTHER").unwrap();
    let strict = HttpClient::new(net.clone())
        .trust_ca_pem(other.ca_pem())
        .unwrap();
    let err = strict
        .get("https://127.0.0.1/api/v1/status")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "TLS handshake with https://127.0.0.1/api/v1/status failed: invalid peer certificate"
        ),
        "{err}"
    );
    let lax = HttpClient::new(net).accept_any_certificate().unwrap();
    let r = lax
        .get("https://127.0.0.1/api/v1/status")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_answer_that_never_comes_times_out() {
    let net = Net::memory();
    let listener = net.listen(at(80)).await.unwrap();
    let client = HttpClient::new(net).timeout(Duration::from_millis(50));
    let (err, accepted) = tokio::join!(client.get("http://127.0.0.1/").send(), listener.accept());
    let _silent = accepted.unwrap();
    let err = err.unwrap_err();
    assert_eq!(
        err.to_string(),
        "http://127.0.0.1/: no answer within 0.05 s"
    );
}
