//! The web page and its assets (WEB-01/06), and the link to HTTPS.

use super::support::{client, ctype, USB};
use reqwest::StatusCode;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::{HttpOptions, HttpServer};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::sim::clock::VirtualClock;
use std::sync::Arc;

#[tokio::test]
async fn the_web_page_and_its_assets_are_served_and_link_to_https() {
    let clock = VirtualClock::new(0);
    let host = Host::new(
        DeviceConfig::new(Variant::P1),
        None,
        Arc::new(clock.clone()),
    );
    host.handle(Event::Power(USB));
    clock.advance(6_000);
    host.handle(Event::Tick);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = HttpOptions {
        https_port: Some(8443),
        ..HttpOptions::default()
    };
    let http = HttpServer::start_with(host, listener, None, opts).unwrap();
    let c = client("127.0.0.1");
    let r = c.get(format!("{}/", http.url())).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the page needs no credentials (it holds no data)"
    );
    assert_eq!(ctype(&r), "text/html; charset=utf-8");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let html = r.text().await.unwrap();
    for text in [
        "Save network settings",
        "Save MQTT settings",
        "2.4 GHz networks only",
        "leave empty for mTLS",
        "Enable MQTT",
        "Disable MQTT",
        "Static IP",
        "DHCP",
        "Wi-Fi",
        "Ethernet",
        "Restart device",
        ">Link<",
        ">Network<",
        ">Internet<",
        ">MQTT<",
        r#"<meta name="sc-https-port" content="8443">"#,
        "secure-link",
    ] {
        assert!(html.contains(text), "the page lacks {text:?}");
    }
    for (path, ct) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/settings.js", "text/javascript; charset=utf-8"),
        ("/assets/live.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/logo.svg", "image/svg+xml"),
    ] {
        let r = c.get(format!("{}{path}", http.url())).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(ctype(&r), ct);
    }
    let r = c.get(format!("{}/nope", http.url())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(ctype(&r), "application/problem+json");

    // Dropping the server stops it.
    let addr = http.local_addr();
    drop(http);
    // The accept task is aborted; it lets go of the listener when the runtime next runs it.
    let mut closed = false;
    for _ in 0..1000 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "still listening after drop");
}
