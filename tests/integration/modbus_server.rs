//! The Modbus TCP server on a real loopback socket: consistent snapshots under a flood of
//! telegrams (MB-08), malformed frames never stop the server (MB-09), one client at a time
//! with the slot freed the moment a client leaves (MB-02/10), unit and transaction ids echoed,
//! and hostile clients (slow loris, non-Modbus bytes that stay connected) lose the slot.

use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::modbus::ModbusServer;
use smart_connect_sim::adapters::modbus_client::ModbusClient;
use smart_connect_sim::device::registers::f32_cdab;
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::sim::clock::VirtualClock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running device (virtual clock, booted, DHCP) with its Modbus server on port 0.
async fn device() -> (Arc<Host>, VirtualClock, ModbusServer) {
    let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
    assert!(host.served().serving);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = ModbusServer::start(Arc::clone(&host), listener).unwrap();
    (host, clock, server)
}

/// A telegram where every value is derived from `n`, so a read mixing two telegrams shows.
fn telegram(n: u32) -> Vec<u8> {
    let k = f64::from(n % 40);
    let mut r = Reading::empty(Protocol::Dsmr);
    for p in 0..3 {
        r.voltage_v[p] = Some((200.0 + k) as f32);
        r.current_a[p] = Some(k as f32);
        r.active_power_phase_w[p] = Some((1000.0 + k) as f32);
    }
    r.power_import_w = Some((3000.0 + 3.0 * k) as f32);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_mix_two_telegrams_while_telegrams_flood_in() {
    let (host, clock, server) = device().await;
    let telegrams: Vec<Vec<u8>> = (0..40).map(telegram).collect();
    host.handle(Event::SerialBytes(telegrams[1].clone()));
    let done = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (host, done) = (Arc::clone(&host), Arc::clone(&done));
        tokio::task::spawn_blocking(move || {
            let mut n = 0usize;
            while !done.load(Ordering::Relaxed) {
                clock.advance(100);
                host.handle(Event::SerialBytes(telegrams[n % 40].clone()));
                n += 1;
            }
            n
        })
    };
    let mut client = ModbusClient::new(server.local_addr());
    let mut distinct = std::collections::BTreeSet::new();
    for _ in 0..2_000 {
        let r = client.read(3, 1, 0x8006, 57).await.unwrap().unwrap();
        let f = |reg: usize| f32_cdab([r[reg - 0x8006], r[reg - 0x8006 + 1]]);
        let k = f(0x8006) - 200.0;
        for p in 0..3 {
            assert_eq!(f(0x8006 + 2 * p), 200.0 + k, "voltage L{} torn", p + 1);
            assert_eq!(f(0x800E + 2 * p), k, "current L{} torn", p + 1);
            assert_eq!(f(0x801E + 2 * p), 1000.0 + k, "power L{} torn", p + 1);
        }
        assert_eq!(f(0x8016), 3000.0 + 3.0 * k, "total torn");
        distinct.insert(k as i32);
    }
    done.store(true, Ordering::Relaxed);
    let fed = feeder.await.unwrap();
    assert!(fed > 100, "only {fed} telegrams were fed during the reads");
    assert!(
        distinct.len() > 5,
        "the reads saw only {distinct:?}: not concurrent with the updates"
    );
}

/// Send raw bytes on a fresh connection; returns what came back before the server closed or
/// went quiet for `ms`.
async fn raw(addr: std::net::SocketAddr, chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    for c in chunks {
        s.write_all(c).await.unwrap();
        s.flush().await.unwrap();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(Ok(n)) =
        tokio::time::timeout(std::time::Duration::from_millis(300), s.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

const READ_TOTAL: [u8; 12] = [0x12, 0x34, 0, 0, 0, 6, 0xF7, 0x03, 0x80, 0x16, 0, 2];

#[tokio::test]
async fn transaction_and_unit_id_are_echoed_and_split_frames_are_answered() {
    let (host, _clock, server) = device().await;
    host.handle(Event::SerialBytes(telegram(5)));
    let one_byte_at_a_time: Vec<&[u8]> = READ_TOTAL.chunks(1).collect();
    let reply = raw(server.local_addr(), &one_byte_at_a_time).await;
    assert_eq!(&reply[..2], &[0x12, 0x34], "transaction id");
    assert_eq!(reply[6], 0xF7, "unit id");
    assert_eq!(reply[7], 0x03);
    assert_eq!(
        f32_cdab([
            u16::from_be_bytes([reply[9], reply[10]]),
            u16::from_be_bytes([reply[11], reply[12]])
        ]),
        3015.0
    );
}

#[tokio::test]
async fn malformed_frames_never_stop_the_server() {
    let (host, _clock, server) = device().await;
    host.handle(Event::SerialBytes(telegram(7)));
    let addr = server.local_addr();
    let cases: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![
            0x00, 0x01, 0x12, 0x34, 0x00, 0x06, 0x01, 0x03, 0x80, 0x06, 0x00, 0x02,
        ], // protocol id 0x1234
        vec![0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x01, 0x03, 0x80, 0x06], // length lies
        vec![0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01],                   // length 1: no PDU
        vec![0xFF; 300],
    ];
    for bad in &cases {
        let _ = raw(addr, &[bad]).await;
        let mut c = ModbusClient::new(addr);
        let r = c.read(4, 1, 0x8016, 2).await.unwrap().unwrap();
        assert_eq!(
            f32_cdab([r[0], r[1]]),
            3021.0,
            "the server still answers after {bad:02X?}"
        );
        c.disconnect().await;
    }
    // A half-open client: connects, sends half a header and stays.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&READ_TOTAL[..3]).await.unwrap();
    drop(half);
    let mut c = ModbusClient::new(addr);
    assert!(c.read(3, 1, 0x8016, 2).await.unwrap().is_ok());
}

#[tokio::test]
async fn hundred_clients_one_after_another_are_all_served() {
    let (host, _clock, server) = device().await;
    host.handle(Event::SerialBytes(telegram(3)));
    for i in 0..100 {
        let mut c = ModbusClient::new(server.local_addr());
        for _ in 0..100 {
            let r = c
                .read_once(3, 1, 0x8016, 2)
                .await
                .unwrap_or_else(|e| panic!("client {i}: {e}"));
            assert_eq!(r.map(|w| f32_cdab([w[0], w[1]])), Ok(3009.0));
        }
        c.disconnect().await;
        // The slot is free once the server has seen the close: wait for it, as a charger
        // reconnecting after a restart would retry.
        let mut tries = 0;
        while server_busy(server.local_addr()).await {
            tries += 1;
            assert!(tries < 100, "the slot was never freed after client {i}");
            tokio::task::yield_now().await;
        }
    }
}

/// True when a new connection is refused (closed without an answer).
async fn server_busy(addr: std::net::SocketAddr) -> bool {
    let mut c = ModbusClient::new(addr);
    let busy = c.read_once(3, 1, 0x8016, 2).await.is_err();
    c.disconnect().await;
    busy
}

/// Waits (at most 2 s of wall time) for the server to close `s`; true when it did.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn a_slow_loris_loses_the_slot_after_the_partial_frame_limit() {
    let (host, clock, server) = device().await;
    host.handle(Event::SerialBytes(telegram(4)));
    let mut loris = TcpStream::connect(server.local_addr()).await.unwrap();
    // A header announcing the largest legal frame, then one byte per second of device time:
    // before, every byte counted as activity and held the slot for 18 h.
    loris.write_all(&[0, 1, 0, 0, 0, 254, 1]).await.unwrap();
    let mut seconds = 0;
    loop {
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(std::time::Duration::from_millis(50), loris.read(&mut probe)).await
        {
            break;
        }
        assert!(
            seconds <= smart_connect_sim::adapters::modbus::PARTIAL_MS / 1000,
            "still connected after {seconds} s of a partial frame"
        );
        let _ = loris.write_all(&[0]).await;
        clock.advance(1_000);
        host.handle(Event::Tick);
        seconds += 1;
    }
    let mut c = ModbusClient::new(server.local_addr());
    let r = c.read(3, 1, 0x8016, 2).await.unwrap().unwrap();
    assert_eq!(f32_cdab([r[0], r[1]]), 3012.0, "the next client is served");
}

#[tokio::test]
async fn a_client_that_does_not_speak_modbus_is_closed_at_once_and_frees_the_slot() {
    let (host, _clock, server) = device().await;
    host.handle(Event::SerialBytes(telegram(6)));
    let cases: [&[u8]; 3] = [
        // An MQTT CONNECT (a broker URL pointing at the Modbus port): protocol id 0x0004.
        &[0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 4, 2, 0, 60],
        // An MBAP header announcing 65 535 bytes that never come.
        &[0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x01],
        // A TLS ClientHello's first bytes.
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
    ];
    for bad in cases {
        let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
        s.write_all(bad).await.unwrap();
        // The bad client stays connected; no device time passes.
        assert!(
            closed_by_server(&mut s).await,
            "{bad:02X?} kept the connection open"
        );
        let mut c = ModbusClient::new(server.local_addr());
        let r = c.read(3, 1, 0x8016, 2).await.unwrap().unwrap();
        assert_eq!(f32_cdab([r[0], r[1]]), 3018.0, "served after {bad:02X?}");
        c.disconnect().await;
        let mut tries = 0;
        while server_busy(server.local_addr()).await {
            tries += 1;
            assert!(tries < 100, "the slot was never freed");
            tokio::task::yield_now().await;
        }
    }
}
