//! The broker unreachable (MQ-16): bounded back-off, a bounded queue, and Modbus keeps answering.

use super::support::{boot, device, modbus_power, next, serial, status, telegram, until, T0};
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::modbus::ModbusServer;
use smart_connect_sim::adapters::modbus_client::ModbusClient;
use smart_connect_sim::adapters::mqtt::backoff::BackoffPolicy;
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::Event;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_bounded_backoff_bounded_queue_and_modbus_keeps_answering() {
    // MQ-16. The reconnect spacing is in device time (the virtual clock), so the test moves
    // the clock instead of sleeping; each refused attempt is a real (instant) TCP connect.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let policy = BackoffPolicy {
        initial_ms: 1_000,
        max_ms: 8_000,
        jitter_pct: 20,
    };
    let opts = MqttOptions {
        queue_capacity: 5,
        backoff: policy,
        seed: 7,
        ..MqttOptions::embedded(&broker)
    };
    let client = MqttClient::start(Arc::clone(&host), opts);
    boot(&host, &clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus = ModbusServer::start(Arc::clone(&host), listener).unwrap();
    let mut charger = ModbusClient::new(modbus.local_addr());
    until(&client, "connected", |s| s.connected).await;

    // The broker becomes unreachable (its port stays bound, so no other test can take it).
    broker.set_reachable(false);
    let mut s = until(&client, "the lost connection", |s| {
        !s.connected && s.next_attempt_at.is_some()
    })
    .await;
    assert!(
        s.error.as_deref().unwrap().contains("lost the connection"),
        "{s:?}"
    );
    assert_eq!(status(&host)["MQTT"]["Connected"], false);

    // Attempts are spaced by the back-off: 1 s, 2 s, 4 s, 8 s, 8 s (each minus ≤ 20 % jitter).
    let mut delays = Vec::new();
    for n in 0..5u32 {
        let due = s.next_attempt_at.unwrap();
        let failed_at = *s.attempt_times.last().unwrap();
        // The first wait starts when the connection was lost (the clock stood still since).
        let delay = due - if n == 0 { host.now() } else { failed_at };
        let (lo, hi) = policy.bounds(n);
        assert!(
            (lo..=hi).contains(&delay),
            "delay {n} = {delay} ms, expected {lo}..={hi}"
        );
        delays.push(delay);
        // Just before the deadline: no attempt. Telegrams keep coming and Modbus answers.
        let k = 100 + n * 3;
        for i in 0..3 {
            clock.advance_to(due - 300 + i64::from(i) * 100);
            host.handle(Event::SerialBytes(telegram(k + i)));
        }
        let t = clock.advance_to(due - 1);
        host.handle(Event::Tick);
        let quiet = until(&client, "the client to see the time", |x| {
            x.device_time >= t
        })
        .await;
        assert_eq!(
            quiet.attempts, s.attempts,
            "no attempt before the back-off is over"
        );
        assert_eq!(
            modbus_power(&mut charger).await,
            (k + 2) as f32,
            "Modbus is unaffected"
        );
        // At the deadline: one more attempt, refused.
        clock.advance_to(due);
        host.handle(Event::Tick);
        let attempts = s.attempts;
        s = until(&client, "the next attempt", |x| {
            x.attempts == attempts + 1 && x.next_attempt_at.is_some()
        })
        .await;
        assert!(
            s.error
                .as_deref()
                .unwrap()
                .contains("closed the connection before accepting it"),
            "{s:?}"
        );
    }
    assert!(
        delays.iter().all(|&d| d <= policy.max_ms),
        "bounded: {delays:?}"
    );

    // The queue is bounded: 15 telegrams while down, the 5 newest kept, 10 counted as dropped.
    let s = until(&client, "5 queued, 10 dropped", |x| {
        (x.queued, x.dropped) == (5, 10)
    })
    .await;
    let st = status(&host);
    assert_eq!(st["MQTT"]["Dropped"], 10);
    assert_eq!(st["Meter"]["TelegramsOk"], 15);

    // The broker is back: the next attempt connects and sends the 5.
    broker.set_reachable(true);
    clock.advance_to(s.next_attempt_at.unwrap());
    host.handle(Event::Tick);
    until(&client, "reconnected", |x| x.connected).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(
            next(&mut rx).await.json().unwrap()["power_import_w"]
                .as_f64()
                .unwrap(),
        );
    }
    assert_eq!(
        got,
        [110.0, 111.0, 112.0, 113.0, 114.0],
        "the newest five, in order"
    );
    let s = until(&client, "the queue drained", |x| {
        x.queued == 0 && x.published == 5
    })
    .await;
    assert_eq!(s.dropped, 10);
}
