//! Fleet mode against the embedded broker: shards in separate processes make the whole fleet
//! once (no client id twice, none missing); in one process, devices answer `cmd/reset` and
//! `cmd/firmware-update` on their events topic and reboot, publish the single device's
//! payload, and all come back after a broker outage. Conditions are awaited (snapshots every
//! 50 ms of real time, broker messages), never slept for.

mod in_process;

use crate::common::BIN;
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::fleet::pki::FleetPki;
use smart_connect_sim::fleet::plan::{DevicePlan, MeterMix};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The broker of a test fleet: the fleet CA of `seed` trusted, room for `devices`.
pub fn broker(seed: u64, devices: usize) -> (EmbeddedBroker, Arc<FleetPki>) {
    let pki = Arc::new(FleetPki::derive(seed, &["127.0.0.1".to_string()]).unwrap());
    let b = EmbeddedBroker::start(BrokerOptions {
        pki: Some(pki.test_pki()),
        max_connections: devices + 8,
        ..BrokerOptions::default()
    })
    .unwrap();
    (b, pki)
}

#[test]
fn three_shard_processes_make_the_whole_fleet_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (b, _pki) = broker(5, 30);
    let url = format!("mqtts://127.0.0.1:{}", b.tls_addr().port());
    let mut rx = rt
        .block_on(b.subscribe("devices/+/smart-connect/+/data/measurements"))
        .unwrap();
    let dir = crate::common::work("fleet-shards");
    let children: Vec<_> = (0..3)
        .map(|i| {
            let summary = dir.join(format!("shard-{i}.json"));
            let child = std::process::Command::new(BIN)
                .args(["fleet", "--devices", "30", "--seed", "5", "--mqtt", &url])
                .args([
                    "--shard",
                    &format!("{i}/3"),
                    "--duration",
                    "6s",
                    "--speed",
                    "2",
                ])
                .arg("--summary")
                .arg(&summary)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (child, summary)
        })
        .collect();
    let mut per_serial: BTreeMap<String, usize> = BTreeMap::new();
    for (child, summary) in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "shard failed: {err}");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["devices"], 10, "{s}");
        assert_eq!(s["connects"], 10, "each device connected once: {s}");
        assert_eq!(
            s["reconnects"], 0,
            "no device was pushed off by a twin: {s}"
        );
        assert_eq!(s["dropped"], 0, "{s}");
    }
    while let Ok(m) = rx.try_recv() {
        let serial = m.topic.split('/').nth(3).unwrap().to_string();
        let j = m.json().unwrap();
        assert_eq!(
            j["serial"],
            serial.as_str(),
            "payload names its device: {j}"
        );
        *per_serial.entry(serial).or_default() += 1;
    }
    let mix = MeterMix::default();
    let whole: BTreeSet<String> = (0..30)
        .map(|i| DevicePlan::derive(5, i, &mix).identity.serial)
        .collect();
    let got: BTreeSet<String> = per_serial.keys().cloned().collect();
    assert_eq!(got, whole, "the union of the shards is the fleet");
    // 6 s of device time at 1 telegram/s: every device sent about six.
    for (serial, n) in &per_serial {
        assert!((4..=7).contains(n), "{serial} sent {n} measurements");
    }
    let cns: BTreeSet<String> = b.client_cns().into_iter().collect();
    assert!(
        whole.is_subset(&cns),
        "the broker saw every certificate CN: {cns:?}"
    );
    drop(rt);
}
