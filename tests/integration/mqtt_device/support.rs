//! Shared by the MQTT device tests: a virtual device and its boot, telegrams, bounded waits on
//! the client's numbers and the broker's messages, the measurement schema, the status and the
//! Modbus power reading.

use smart_connect_sim::adapters::broker::Message;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::modbus_client::ModbusClient;
use smart_connect_sim::adapters::mqtt::{MqttClient, MqttStats};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::identity::Identity;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::registers::f32_cdab;
use smart_connect_sim::device::store::{ConfigStore, MemStore};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::DsmrKind;
use smart_connect_sim::protocol::{dsmr, Protocol, Reading};
use smart_connect_sim::sim::clock::{Millis, VirtualClock};
use smart_connect_sim::time::at;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// 2026-06-15T10:00:00Z: inside the default certificate windows.
pub const T0: Millis = 1_781_517_600_000;
pub const WAIT: Duration = Duration::from_secs(20);

/// A device of seed `seed` whose store holds `cfg` (factory settings when `None`), not powered.
pub fn device(seed: u64, cfg: Option<Config>, start: Millis) -> (Arc<Host>, VirtualClock) {
    let clock = VirtualClock::new(start);
    let store = cfg.map(|c| {
        let mut s = MemStore::new();
        s.save(&c).unwrap();
        Box::new(s) as Box<dyn ConfigStore>
    });
    let hw = DeviceConfig {
        identity: Identity::from_seed(seed),
        ..DeviceConfig::new(Variant::P1)
    };
    (Host::new(hw, store, Arc::new(clock.clone())), clock)
}

/// Power on and tick through boot and initialisation until the device serves.
pub fn boot(host: &Host, clock: &VirtualClock) {
    if !host.with_device(|d| d.powered()) {
        host.handle(Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }));
    }
    for _ in 0..100 {
        if host.served().serving {
            return;
        }
        clock.advance(500);
        host.handle(Event::Tick);
    }
    panic!("the device did not come up");
}

pub fn serial(host: &Host) -> String {
    host.with_device(|d| d.identity().serial.clone())
}

/// A single-phase SMR5 telegram whose power is `n` W at meter time T0/1000 + n: L2/L3 are
/// absent, so their payload fields must be null (MQ-10).
pub fn telegram(n: u32) -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(T0 / 1000 + i64::from(n));
    r.voltage_v[0] = Some(230.0);
    r.current_a[0] = Some(1.0);
    r.active_power_phase_w[0] = Some(n as f32);
    r.power_import_w = Some(n as f32);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5OnePhase)
}

/// Wait (real time, bounded) until the client's numbers satisfy `ok`.
pub async fn until(client: &MqttClient, what: &str, ok: impl Fn(&MqttStats) -> bool) -> MqttStats {
    let mut w = client.watch();
    let got = match tokio::time::timeout(WAIT, w.wait_for(|s| ok(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    got.unwrap_or_else(|| panic!("timed out waiting for {what}; stats: {:#?}", client.stats()))
}

/// Wait until `ok` holds, re-checking each time the broker's TLS front logs something.
pub async fn eventually(
    what: &str,
    mut changes: tokio::sync::watch::Receiver<u64>,
    ok: impl Fn() -> bool,
) {
    let wait = async {
        while !ok() {
            if changes.changed().await.is_err() {
                panic!("the broker stopped while waiting for {what}");
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

pub async fn next(rx: &mut UnboundedReceiver<Message>) -> Message {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a message in time")
        .expect("the subscription is open")
}

pub fn schema() -> smart_connect_sim::conformance::schema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/measurements.schema.json"
    ))
    .unwrap();
    smart_connect_sim::conformance::schema::Validator::new(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

pub fn status(host: &Host) -> serde_json::Value {
    let now = host.now();
    serde_json::to_value(host.with_device(|d| d.status(at(now)))).unwrap()
}

/// Total import power as the Modbus register map shows it (one connection kept open: the
/// device serves one client at a time, MB-02).
pub async fn modbus_power(c: &mut ModbusClient) -> f32 {
    let r = c.read(3, 1, 0x8016, 2).await.unwrap().unwrap();
    f32_cdab([r[0], r[1]])
}
