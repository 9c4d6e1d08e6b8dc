//! Authentication (API-01, 401 with the Basic challenge) and the single session on the device
//! clock (409 for a second client), shared by the plain and HTTPS servers.

use super::support::{client, ctype, Dev};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use smart_connect_sim::adapters::http::SESSION_IDLE_MS;
use std::net::IpAddr;

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_the_basic_challenge() {
    let dev = Dev::new().await;
    let intruder = client("127.0.0.2");
    let cases: Vec<reqwest::RequestBuilder> = vec![
        intruder.get(dev.url("/api/v1/config")),
        intruder
            .get(dev.url("/api/v1/config"))
            .basic_auth("user", Some("wrong")),
        intruder
            .get(dev.url("/api/v1/status"))
            .basic_auth("admin", Some(&dev.password)),
        intruder
            .get(dev.url("/api/v1/status"))
            .header("authorization", "Basic %%%not-base64"),
        intruder
            .get(dev.url("/api/v1/status"))
            .header("authorization", "Bearer abc"),
        intruder
            .patch(dev.url("/api/v1/config"))
            .header("content-type", "application/json")
            .body("{}"),
        intruder.post(dev.url("/api/v1/reset")),
        intruder
            .post(dev.url("/api/v1/firmware"))
            .basic_auth("user", Some("x")),
    ];
    for rb in cases {
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{}", r.url());
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"smart-connect\""
        );
        assert_eq!(ctype(&r), "application/problem+json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], 401);
    }
    // None of that took the session: the owner gets in, and a reset did not happen.
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_second_client_gets_409_until_five_minutes_of_host_time_without_requests() {
    let dev = Dev::new().await;
    let (a, b) = (client("127.0.0.1"), client("127.0.0.2"));
    let get = |c: &Client| {
        c.get(dev.url("/api/v1/status"))
            .basic_auth("user", Some(&dev.password))
            .send()
    };
    assert_eq!(
        get(&a).await.unwrap().status(),
        StatusCode::OK,
        "a takes the session"
    );
    let r = get(&b).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "b is refused while a holds the session"
    );
    assert_eq!(ctype(&r), "application/problem+json");
    assert_eq!(r.headers()["retry-after"], "300");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 409);
    assert!(v["detail"].as_str().unwrap().contains("5 minutes"), "{v}");

    // a keeps the session alive with a request after 4 minutes.
    dev.clock.advance(4 * 60_000);
    assert_eq!(get(&a).await.unwrap().status(), StatusCode::OK);
    dev.clock.advance(SESSION_IDLE_MS - 1_000);
    let r = get(&b).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "4:59 after a's last request"
    );
    assert_eq!(r.headers()["retry-after"], "1");
    // No wall time passes in this test: only the host clock expires the session.
    dev.clock.advance(1_000);
    assert_eq!(
        get(&b).await.unwrap().status(),
        StatusCode::OK,
        "5:00 without requests: b gets in"
    );
    assert_eq!(
        get(&a).await.unwrap().status(),
        StatusCode::CONFLICT,
        "now a is the second client"
    );
}

#[tokio::test]
async fn plain_and_https_servers_of_one_device_share_the_session() {
    let dev = Dev::new().await;
    let (https, pki) = dev.https().await;
    assert!(https.is_tls());
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let tls_client = Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = tls_client
        .get(format!("{}/api/v1/status", https.url()))
        .basic_auth("user", Some(&dev.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}
