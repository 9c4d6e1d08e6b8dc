//! HTTPS with the test CA as the only root.

use super::support::{client, Dev};
use reqwest::{Client, StatusCode};
use smart_connect_sim::adapters::certs::TestPki;

#[tokio::test]
async fn https_answers_with_the_test_ca_as_the_only_root() {
    let dev = Dev::new().await;
    let (https, pki) = dev.https().await;
    let port = https.local_addr().port();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let c = Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .resolve("smart-connect.local", https.local_addr())
        .build()
        .unwrap();
    for url in [
        format!("https://127.0.0.1:{port}/api/v1/status"),
        format!("https://localhost:{port}/api/v1/status"),
        format!("https://smart-connect.local:{port}/api/v1/status"),
    ] {
        let r = c
            .get(&url)
            .basic_auth("user", Some(&dev.password))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
    }
    let page = c
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<meta name="sc-scheme" content="https">"#));

    // A client that trusts another CA refuses the device.
    let other = TestPki::new("000000000000").unwrap();
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let wrong = Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(other.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(wrong
        .get(format!("https://127.0.0.1:{port}/api/v1/status"))
        .send()
        .await
        .is_err());
    // Plain HTTP to the TLS port gets no HTTP answer.
    assert!(client("127.0.0.1")
        .get(format!("http://127.0.0.1:{port}/api/v1/status"))
        .send()
        .await
        .is_err());
}
