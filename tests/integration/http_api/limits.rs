//! Hostile HTTP clients: a body that never comes gets 408 and frees its connection; beyond
//! the connection budget new connections are closed at once and the server serves again as
//! soon as the budget has room. (The timeouts are wall time by design — they protect sockets,
//! not a device rule — so the tests shorten them through `HttpOptions`.)

use super::support::Dev;
use smart_connect_sim::adapters::http::{HttpOptions, HttpServer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(dev: &Dev, options: HttpOptions) -> HttpServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    HttpServer::start_with(Arc::clone(&dev.host), listener, None, options).unwrap()
}

/// Everything the server sends until it closes (at most `limit` of wall time).
async fn read_all(s: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_body_that_never_comes_gets_408_and_the_connection_closes() {
    let dev = Dev::new().await;
    let opts = HttpOptions {
        body_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let srv = server(&dev, opts).await;
    let mut s = TcpStream::connect(srv.local_addr()).await.unwrap();
    let auth = base64_auth(&dev.password);
    let head = format!(
        "PATCH /api/v1/config HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/merge-patch+json\r\nContent-Length: 100\r\n\r\n{{\"Mo"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_all(&mut s, Duration::from_secs(5))
        .await
        .expect("the server neither answered nor closed within 5 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 300 ms"), "{answer}");
}

fn base64_auth(password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("user:{password}"))
}

#[tokio::test]
async fn connections_beyond_the_budget_are_closed_at_once() {
    let dev = Dev::new().await;
    let opts = HttpOptions {
        max_connections: 4,
        ..HttpOptions::default()
    };
    let srv = server(&dev, opts).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(srv.local_addr()).await.unwrap());
    }
    // Give the accept loop a chance to take all four before the extra ones arrive.
    let mut closed = 0;
    for _ in 0..10 {
        let mut extra = TcpStream::connect(srv.local_addr()).await.unwrap();
        if read_all(&mut extra, Duration::from_secs(2)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 10,
        "every connection beyond the budget of 4 is closed"
    );
    drop(idle);
    // The budget has room again once the server has seen the four close.
    let url = format!("{}/api/v1/status", srv.url());
    let mut status = None;
    for _ in 0..100 {
        let r = super::support::client("127.0.0.1")
            .get(&url)
            .basic_auth("user", Some(&dev.password))
            .send()
            .await;
        if let Ok(r) = r {
            status = Some(r.status());
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, Some(reqwest::StatusCode::OK));
}
