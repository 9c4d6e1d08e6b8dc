//! A virtual Smart Connect publishing over MQTT to the embedded broker, for trying the broker
//! with other clients (`tests/external/mosquitto_sub.sh` uses it with `mosquitto_sub`).
//!
//! ```text
//! cargo run --example mqtt_demo -- [--seconds 60] [--site demo] [--cert-dir DIR]
//! ```
//!
//! Prints `KEY=value` lines (`CERT_DIR`, `TLS_PORT`, `PLAIN_PORT`, `SERIAL`, `TOPIC`,
//! `FOREIGN_DIR`), then `READY` once the device is connected, then publishes one telegram a
//! second (the device clock starts at the wall time and moves one second per second) until
//! `--seconds` have passed. `CERT_DIR` holds `ca.pem`, `device.pem` and `device.key` (CN =
//! the serial) for mTLS; `FOREIGN_DIR` holds a device certificate and key from another CA,
//! which the broker must refuse.

use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::certs::TestPki;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttOptions};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::measurement::measurements_topic;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::store::{ConfigStore, MemStore};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::sim::clock::VirtualClock;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn telegram(n: u32, now_ms: i64) -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(now_ms / 1000);
    for p in 0..3 {
        r.voltage_v[p] = Some(229.0 + p as f32);
        r.current_a[p] = Some(1.0 + (n % 10) as f32);
        r.active_power_phase_w[p] = Some(230.0 * (1.0 + (n % 10) as f32));
    }
    r.power_import_w = Some(690.0 * (1.0 + (n % 10) as f32));
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter =
        std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,rumqttd=off,rustls=error".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let seconds: u64 = arg("--seconds").map_or(Ok(60), |s| s.parse())?;
    let site = arg("--site").unwrap_or_else(|| "unknown-site".into());

    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let clock = VirtualClock::new(wall);
    let mut cfg = Config::default();
    cfg.mqtt.site = site.clone();
    let mut store = MemStore::new();
    store.save(&cfg)?;
    let host = Host::new(
        DeviceConfig::new(Variant::P1),
        Some(Box::new(store)),
        Arc::new(clock.clone()),
    );
    let serial = host.with_device(|d| d.identity().serial.clone());

    let broker = EmbeddedBroker::start(BrokerOptions {
        cert_dir: arg("--cert-dir").map(Into::into),
        ..BrokerOptions::for_device(&serial)
    })?;
    let foreign_dir = broker.cert_dir().join("foreign");
    TestPki::new(&serial)?.write_to(&foreign_dir)?;
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));

    host.handle(Event::Power(PowerInputs {
        usb: true,
        p1_supply: false,
    }));
    while !host.served().serving {
        clock.advance(500);
        host.handle(Event::Tick);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "CERT_DIR={}", broker.cert_dir().display())?;
    writeln!(out, "TLS_PORT={}", broker.tls_addr().port())?;
    writeln!(out, "PLAIN_PORT={}", broker.plain_addr().port())?;
    writeln!(out, "SERIAL={serial}")?;
    writeln!(out, "TOPIC={}", measurements_topic(&site, &serial))?;
    writeln!(out, "FOREIGN_DIR={}", foreign_dir.display())?;
    out.flush()?;
    let mut w = client.watch();
    tokio::time::timeout(Duration::from_secs(30), w.wait_for(|s| s.connected)).await??;
    writeln!(out, "READY")?;
    out.flush()?;
    drop(out);

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for n in 0..seconds as u32 {
        tick.tick().await;
        let now = clock.advance(1_000);
        host.handle(Event::SerialBytes(telegram(n, now)));
    }
    let s = client.stats();
    eprintln!(
        "published {} measurements, {} dropped, error {:?}",
        s.published, s.dropped, s.error
    );
    eprintln!("TLS clients: {:?}", broker.tls_clients());
    Ok(())
}
