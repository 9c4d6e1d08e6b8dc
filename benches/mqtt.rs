//! MQTT throughput and latency of the virtual device into the embedded broker, end to end:
//! telegram bytes into `Host::handle` (framing, parsing, register snapshot) → `MqttClient`
//! (payload JSON, rumqttc, TLS) → the TLS front → rumqttd → one in-process subscriber.
//!
//! - throughput: telegrams fed as fast as the subscriber drains them, at most `WINDOW` in
//!   flight (below the host's broadcast capacity, so nothing is dropped); messages/s.
//! - latency: one telegram at a time, `handle` call → message at the subscriber; p50/p99.
//!
//! Both over mTLS (the default, through the TLS front) and plain MQTT (rumqttd directly).
//! `cargo bench --bench mqtt` (plain `main`, no harness); `MQTT_BENCH_N` sets the count.

use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker, Message};
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::store::{ConfigStore, MemStore};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::sim::clock::VirtualClock;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

const WINDOW: usize = 128;
const T0: i64 = 1_781_517_600_000;

fn telegrams() -> Vec<Vec<u8>> {
    (0..50u32)
        .map(|n| {
            let mut r = Reading::empty(Protocol::Dsmr);
            r.timestamp = Some(T0 / 1000 + i64::from(n));
            for p in 0..3 {
                r.voltage_v[p] = Some(230.0 + n as f32 / 10.0);
                r.current_a[p] = Some(n as f32 / 5.0);
                r.active_power_phase_w[p] = Some(n as f32 * 46.0);
            }
            r.power_import_w = Some(n as f32 * 138.0);
            r.power_export_w = Some(0.0);
            dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
        })
        .collect()
}

/// The account on the broker's plain listener for the plain-MQTT runs.
const BENCH_ACCOUNT: (&str, &str) = ("bench", "bench-secret");

struct Rig {
    host: Arc<Host>,
    client: MqttClient,
    rx: UnboundedReceiver<Message>,
    _broker: EmbeddedBroker,
}

async fn rig(plain: bool) -> Rig {
    let clock = VirtualClock::new(T0);
    let mut cfg = Config::default();
    if plain {
        // The plain listener wants an account (MQ-07).
        cfg.mqtt.broker = "mqtt://bench-broker.local:1883".into();
        cfg.mqtt.username = BENCH_ACCOUNT.0.into();
        cfg.mqtt.password = BENCH_ACCOUNT.1.into();
    }
    let mut store = MemStore::new();
    store.save(&cfg).unwrap();
    let host = Host::new(
        DeviceConfig::new(Variant::P1),
        Some(Box::new(store) as Box<dyn ConfigStore>),
        Arc::new(clock.clone()),
    );
    let serial = host.with_device(|d| d.identity().serial.clone());
    let broker = EmbeddedBroker::start(BrokerOptions {
        credentials: vec![(BENCH_ACCOUNT.0.into(), BENCH_ACCOUNT.1.into())],
        ..BrokerOptions::for_device(&serial)
    })
    .unwrap();
    let rx = broker
        .subscribe("devices/+/smart-connect/+/data/measurements")
        .await
        .unwrap();
    let opts = MqttOptions {
        queue_capacity: 10_000,
        ..MqttOptions::embedded(&broker)
    }
    .with_resolve("bench-broker.local", broker.plain_addr());
    let client = MqttClient::start(Arc::clone(&host), opts);
    host.handle(Event::Power(PowerInputs {
        usb: true,
        p1_supply: false,
    }));
    while !host.served().serving {
        clock.advance(500);
        host.handle(Event::Tick);
    }
    let mut w = client.watch();
    tokio::time::timeout(Duration::from_secs(20), w.wait_for(|s| s.connected))
        .await
        .unwrap()
        .unwrap();
    Rig {
        host,
        client,
        rx,
        _broker: broker,
    }
}

async fn recv(rx: &mut UnboundedReceiver<Message>) -> Message {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

async fn throughput(r: &mut Rig, tel: &[Vec<u8>], n: usize) -> f64 {
    let (mut fed, mut got) = (0usize, 0usize);
    let start = Instant::now();
    while got < n {
        while fed < n && fed - got < WINDOW {
            r.host
                .handle(Event::SerialBytes(tel[fed % tel.len()].clone()));
            fed += 1;
        }
        recv(&mut r.rx).await;
        got += 1;
        while got < fed && r.rx.try_recv().is_ok() {
            got += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn latency(r: &mut Rig, tel: &[Vec<u8>], n: usize) -> (Duration, Duration, Duration) {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        r.host
            .handle(Event::SerialBytes(tel[i % tel.len()].clone()));
        recv(&mut r.rx).await;
        samples.push(t.elapsed());
    }
    samples.sort();
    let q = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (q(0.5), q(0.99), *samples.last().unwrap())
}

fn main() {
    let n: usize = std::env::var("MQTT_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tel = telegrams();
        for (name, plain) in [("mTLS via the TLS front", false), ("plain MQTT", true)] {
            let mut r = rig(plain).await;
            throughput(&mut r, &tel, n / 10).await; // warm-up
            let rate = throughput(&mut r, &tel, n).await;
            let (p50, p99, max) = latency(&mut r, &tel, (n / 10).max(100)).await;
            let s = r.client.stats();
            println!(
                "mqtt {name:<22}: {rate:>8.0} msg/s ({n} telegrams, window {WINDOW}); latency telegram→subscriber p50 {:>6.0} µs  p99 {:>6.0} µs  max {:>6.0} µs; dropped {}",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                max.as_secs_f64() * 1e6,
                s.dropped
            );
            assert_eq!(s.dropped, 0, "the bench must not lose messages");
        }
    });
}
