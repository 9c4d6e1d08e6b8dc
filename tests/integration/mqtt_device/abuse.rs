//! The embedded broker under abuse (issue "Hardening under abuse" 2, 3, 9): the plain
//! listener wants the installer account, the device's client id and commands are reserved,
//! connection budgets, and a 60 s outage that loses nothing and is over within 10 s.

use super::support::{boot, device, eventually, next, serial, telegram, until, T0};
use smart_connect_sim::adapters::broker::{connect_packet, BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::Event;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A QoS 0 PUBLISH.
fn publish_packet(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    assert!(body.len() < 128);
    let mut p = vec![0x30, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

/// A SUBSCRIBE (packet id 1, QoS 0) to `filter`.
fn subscribe_packet(filter: &str) -> Vec<u8> {
    let mut body = vec![0, 1];
    body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
    body.extend_from_slice(filter.as_bytes());
    body.push(0);
    let mut p = vec![0x82, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

/// Send `bytes` after a CONNECT as `id`; the CONNACK's return code, or `None` when the
/// connection was closed without one.
async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    id: &str,
    creds: Option<(&str, &str)>,
    then: &[u8],
) -> Option<u8> {
    let mut out = connect_packet(id, creds);
    out.extend_from_slice(then);
    s.write_all(&out).await.ok()?;
    let mut ack = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut ack)).await {
        Ok(Ok(_)) if ack[..2] == [0x20, 0x02] => Some(ack[3]),
        Ok(_) => None,
        Err(_) => panic!("neither a CONNACK nor a close within 10 s"),
    }
}

/// Whether the peer closed `s` within `within` (EOF or an error), reading and discarding.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 64];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_commands_and_client_id_takeovers_are_refused_the_installer_account_works() {
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let (user, password) = broker.installer();
    assert_eq!(user, "installer");
    assert_eq!(password.len(), 20, "a random password was made");
    let other = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    assert_ne!(
        other.installer().1,
        password,
        "a new password at every start"
    );
    drop(other);
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "connected and subscribed", |s| s.subscribed).await;
    let generation = client.stats().generation;
    let root = format!("devices/unknown-site/smart-connect/{sn}");
    let reset = publish_packet(&format!("{root}/cmd/reset"), b"");

    // 1. Anonymous on the plain listener: no CONNACK accepting it, and the reset that came
    //    with the CONNECT has no effect.
    let mut anon = TcpStream::connect(broker.plain_addr()).await.unwrap();
    assert_eq!(connect(&mut anon, "attacker", None, &reset).await, None);
    // 2. The device's client id, anonymous and with the installer account, while the device
    //    is connected: refused (CONNACK 5 from the front), the device keeps its session.
    let mut anon_id = TcpStream::connect(broker.plain_addr()).await.unwrap();
    let got = connect(&mut anon_id, &sn, None, &reset).await;
    assert!(matches!(got, None | Some(5)), "{got:?}");
    let mut takeover = TcpStream::connect(broker.plain_addr()).await.unwrap();
    assert_eq!(
        connect(&mut takeover, &sn, Some((user, password)), &reset).await,
        Some(5),
        "the device's client id is refused while the device is connected"
    );
    assert!(closed_within(&mut takeover, Duration::from_secs(2)).await);
    // 3. Another certificate from the broker's CA: it may connect, but not with the device's
    //    client id, and a command from it cuts its connection before rumqttd sees it.
    let pki = broker.pki();
    let stranger = pki
        .issue_client("STRANGER0001", pki.client().validity())
        .unwrap();
    let tls_cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(pki.root_store().unwrap())
    .with_client_auth_cert(
        vec![stranger.cert_der().clone(), pki.ca().cert_der().clone()],
        stranger.key_der(),
    )
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_cfg));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls_addr = broker.tls_addr();
    let tls = |connector: tokio_rustls::TlsConnector, name| async move {
        let tcp = TcpStream::connect(tls_addr).await.unwrap();
        connector.connect(name, tcp).await.unwrap()
    };
    let mut s = tls(connector.clone(), name.clone()).await;
    assert_eq!(connect(&mut s, &sn, None, b"").await, Some(5));
    let mut s = tls(connector.clone(), name.clone()).await;
    assert_eq!(connect(&mut s, "stranger", None, b"").await, Some(0));
    s.write_all(&reset).await.unwrap();
    let mut b = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
        .await
        .expect("cut in time");
    assert!(matches!(n, Ok(0) | Err(_)), "the connection is cut: {n:?}");
    eventually("the front to log the cut", broker.tls_log_changes(), || {
        broker
            .tls_refusals()
            .iter()
            .any(|r| r.contains("cmd/reset cut"))
    })
    .await;

    // None of it reached the device: no command, no reset, still connected and publishing.
    host.handle(Event::SerialBytes(telegram(1)));
    let m = next(&mut rx).await;
    assert_eq!(m.json().unwrap()["power_import_w"], 1.0, "{m:?}");
    let s = client.stats();
    assert_eq!(
        (s.generation, s.commands, s.connects, s.connected),
        (generation, 0, 1, true),
        "{s:?}"
    );
    assert!(
        broker
            .tls_clients()
            .iter()
            .filter(|c| c.client_id.as_deref() == Some(sn.as_str()))
            .all(|c| c.cn.as_deref() == Some(sn.as_str())),
        "only the device certificate came through with the device's client id"
    );

    // 4. The installer account works: it sees the measurements and may send commands (the
    //    cloud side, MQ-13), which the device answers.
    let mut inst = TcpStream::connect(broker.plain_addr()).await.unwrap();
    let sub = subscribe_packet(&format!("{root}/data/#"));
    assert_eq!(
        connect(&mut inst, "installer-laptop", Some((user, password)), &sub).await,
        Some(0)
    );
    let mut suback = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(5), inst.read_exact(&mut suback))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(suback[0], 0x90, "SUBACK {suback:?}");
    inst.write_all(&publish_packet(&format!("{root}/cmd/self-destruct"), b"{}"))
        .await
        .unwrap();
    until(&client, "the installer's command", |s| s.commands == 1).await;
    let ev = loop {
        let m = next(&mut rx).await;
        if m.topic.ends_with("/data/events") {
            break m;
        }
        assert!(m.topic.ends_with("/cmd/self-destruct"), "{m:?}");
    };
    assert_eq!(ev.json().unwrap()["accepted"], false);
    // The installer's subscription got the device's answer too.
    let mut got = vec![0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), inst.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got[0] & 0xF0, 0x30, "a PUBLISH to the installer");
    // A wrong password is refused.
    let mut wrong = TcpStream::connect(broker.plain_addr()).await.unwrap();
    assert_eq!(
        connect(&mut wrong, "guess", Some((user, "guess")), b"").await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_budget_are_closed_at_once_and_the_device_keeps_publishing() {
    const BUDGET: usize = 8;
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions {
        max_connections: BUDGET,
        connect_timeout: Duration::from_secs(2),
        ..BrokerOptions::for_device(&sn)
    })
    .unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "connected", |s| s.connected).await;

    for (addr, taken) in [(broker.plain_addr(), 0), (broker.tls_addr(), 1)] {
        // budget + 10 idle connections (the device holds one TLS slot).
        let turned_away = broker.turned_away();
        let mut conns = Vec::new();
        for _ in 0..BUDGET + 10 {
            conns.push(TcpStream::connect(addr).await.unwrap());
        }
        let started = std::time::Instant::now();
        // Wait until the front has turned the extra ones away (its own count), not a fixed time.
        while broker.turned_away() < turned_away + 10 + taken as u64
            && started.elapsed() < Duration::from_millis(1_000)
        {
            tokio::task::yield_now().await;
        }
        let mut closed = Vec::new();
        for c in conns.iter_mut() {
            closed.push(closed_within(c, Duration::from_millis(20)).await);
        }
        assert!(started.elapsed() < Duration::from_millis(1_500));
        let n_closed = closed.iter().filter(|&&c| c).count();
        assert_eq!(n_closed, 10 + taken, "{addr}: closed {closed:?}");
        assert!(
            closed[..BUDGET - taken].iter().all(|&c| !c),
            "the first ones wait for their CONNECT: {closed:?}"
        );
        // The device is not affected.
        host.handle(Event::SerialBytes(telegram(addr.port() as u32)));
        assert_eq!(
            next(&mut rx).await.json().unwrap()["power_import_w"],
            addr.port() as f64
        );
        // No CONNECT within the deadline (2 s here): the idle ones are closed too, and the
        // budget is free again.
        for c in conns.iter_mut() {
            assert!(closed_within(c, Duration::from_secs(4)).await, "{addr}");
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert!(broker.turned_away() >= 21, "{}", broker.turned_away());
    let (user, password) = broker.installer();
    let mut s = TcpStream::connect(broker.plain_addr()).await.unwrap();
    assert_eq!(
        connect(&mut s, "after", Some((user, password)), b"").await,
        Some(0),
        "the budget is free again"
    );
    assert!(client.stats().connected && client.stats().dropped == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_s_outage_loses_nothing_and_the_device_is_back_within_10_s() {
    // Device time only: the clock moves 1 s per telegram (SMR5 cadence); the default
    // back-off and queue.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker
        .subscribe("devices/+/smart-connect/+/data/measurements")
        .await
        .unwrap();
    let client = MqttClient::start(
        Arc::clone(&host),
        MqttOptions {
            seed: 3,
            ..MqttOptions::embedded(&broker)
        },
    );
    boot(&host, &clock);
    until(&client, "connected", |s| s.connected).await;

    let mut n = 0u32;
    // One second of device time with its telegram; wait until the client has seen it and
    // is not in the middle of a connection attempt.
    let step = |n: u32| {
        let t = clock.advance(1_000);
        host.handle(Event::SerialBytes(telegram(n)));
        host.handle(Event::Tick);
        t
    };
    broker.set_reachable(false);
    until(&client, "the lost connection", |s| !s.connected).await;
    let down_at = host.now();
    while host.now() < down_at + 60_000 {
        n += 1;
        let t = step(n);
        until(&client, "the step", |x| {
            x.device_time >= t && (x.connected || x.next_attempt_at.is_some())
        })
        .await;
    }
    // The time step can reach the client before the telegram's measurement does.
    let s = until(&client, "every telegram queued", |x| x.queued == n as usize).await;
    assert!(!s.connected);
    assert_eq!((s.queued, s.dropped), (n as usize, 0), "{s:?}");
    assert!(s.attempts >= 8, "it kept trying: {s:?}");

    broker.set_reachable(true);
    let back_at = host.now();
    while !client.stats().connected {
        assert!(
            host.now() - back_at <= 10_000,
            "not back within 10 s: {:?}",
            client.stats()
        );
        n += 1;
        let t = step(n);
        until(&client, "the step", |x| {
            x.device_time >= t && (x.connected || x.next_attempt_at.is_some())
        })
        .await;
    }
    let back_after = host.now() - back_at;
    assert!(back_after <= 10_000, "back after {back_after} ms");
    for k in 1..=n {
        let m = next(&mut rx).await.json().unwrap();
        assert_eq!(m["power_import_w"], f64::from(k), "message {k} of {n}");
    }
    let s = until(&client, "all sent", |x| x.published == u64::from(n)).await;
    assert_eq!(s.dropped, 0, "{s:?}");
    eprintln!("outage: {n} telegrams, reconnected {back_after} ms after the broker came back");
}
