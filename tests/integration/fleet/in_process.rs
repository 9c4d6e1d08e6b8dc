//! One fleet in the test's process: commands, reboots, the payload, a broker outage.

use super::broker;
use smart_connect_sim::device::measurement::Measurement;
use smart_connect_sim::fleet::launch::{self, Auth, FleetOptions};
use smart_connect_sim::fleet::plan::{DevicePlan, MeterMix, Shard};
use smart_connect_sim::fleet::stats::Snapshot;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const DEVICES: u64 = 12;

/// Wait (real time, bounded) until a snapshot satisfies `f`.
async fn until(rx: &mut watch::Receiver<Snapshot>, what: &str, f: impl Fn(&Snapshot) -> bool) {
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|s| f(s))).await,
        Ok(Ok(_))
    );
    assert!(ok, "{what}: never happened; last {:?}", rx.borrow().clone());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_answer_commands_reboot_and_survive_an_outage() {
    let (b, pki) = broker(9, DEVICES as usize);
    let mut measurements = b
        .subscribe("devices/+/smart-connect/+/data/measurements")
        .await
        .unwrap();
    let mut events = b
        .subscribe("devices/+/smart-connect/+/data/events")
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let opts = FleetOptions {
        devices: DEVICES,
        shard: Shard::WHOLE,
        mix: MeterMix::parse("smr5:1,dsmr42:1,emucs:1").unwrap(),
        seed: 9,
        ramp_per_s: 200,
        duration_ms: None,
        speed: 10,
        broker: b.tls_addr(),
        broker_host: "127.0.0.1".into(),
        tls: true,
        auth: Auth::Mtls,
        broker_ca_pem: None,
        pki,
        site: "fleet-test".into(),
        keep_alive_s: 60,
        tap: false,
        bad_clock_pct: 0.0,
        silent_pct: 0.0,
        progress_every: Duration::from_millis(50),
        stop: stop.clone(),
    };
    let (tx, mut rx) = watch::channel(Snapshot::origin());
    let fleet = tokio::spawn(launch::run(opts, move |s| {
        tx.send_replace(s.clone());
    }));
    until(&mut rx, "all connected", |s| s.connected == DEVICES).await;
    let serial = |i| {
        DevicePlan::derive(9, i, &MeterMix::parse("smr5:1,dsmr42:1,emucs:1").unwrap())
            .identity
            .serial
    };

    // The payload is the single device's measurement, for the device of the topic.
    let m = tokio::time::timeout(Duration::from_secs(30), measurements.recv())
        .await
        .unwrap()
        .unwrap();
    let parsed: Measurement = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(Some(parsed.serial.as_str()), m.topic.split('/').nth(3));
    assert_eq!(parsed.site, "fleet-test");
    assert!(
        parsed.active_power_w.is_some() && parsed.voltage_l1_v.is_some(),
        "{parsed:?}"
    );

    // Commands: reset (accepted, then a reboot), firmware 1.5.0 (offered: accepted), 9.9.9
    // (not offered: refused with the reason), an unknown command (refused).
    let cmd =
        |i: u64, name: &str| format!("devices/fleet-test/smart-connect/{}/cmd/{name}", serial(i));
    b.publish(&cmd(0, "reset"), Vec::new()).unwrap();
    b.publish(
        &cmd(1, "firmware-update"),
        br#"{"Version":"1.5.0"}"#.to_vec(),
    )
    .unwrap();
    b.publish(
        &cmd(2, "firmware-update"),
        br#"{"Version":"9.9.9"}"#.to_vec(),
    )
    .unwrap();
    b.publish(&cmd(3, "self-destruct"), Vec::new()).unwrap();
    let mut results = std::collections::BTreeMap::new();
    while results.len() < 4 {
        let e = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .unwrap()
            .unwrap();
        let j = e.json().unwrap();
        results.insert(j["serial"].as_str().unwrap().to_string(), j);
    }
    let r = |i| &results[&serial(i)];
    assert_eq!(
        (r(0)["command"].as_str(), r(0)["accepted"].as_bool()),
        (Some("reset"), Some(true))
    );
    assert_eq!(r(1)["accepted"], true, "{}", r(1));
    assert_eq!(r(1)["version"], "1.5.0");
    assert_eq!(r(2)["accepted"], false, "{}", r(2));
    assert!(
        r(2)["reason"].as_str().unwrap().contains("9.9.9"),
        "{}",
        r(2)
    );
    assert_eq!(r(3)["accepted"], false);
    assert!(
        r(3)["reason"].as_str().unwrap().contains("unknown command"),
        "{}",
        r(3)
    );
    // Device 0 reboots at once; device 1 after download, verify and install (8 s + 1 s of
    // device time); both come back.
    until(&mut rx, "two reboots and back", |s| {
        s.reboots == 2 && s.connected == DEVICES
    })
    .await;

    // Outage: every connection is cut and attempts fail; all come back when it ends.
    b.set_reachable(false);
    until(&mut rx, "all lost, retries failing", |s| {
        s.lost >= DEVICES && s.connected == 0 && s.failed >= DEVICES
    })
    .await;
    let down = rx.borrow().clone();
    b.set_reachable(true);
    until(&mut rx, "all back", |s| s.connected == DEVICES).await;
    let back = rx.borrow().clone();
    assert!(back.reconnects >= down.reconnects + DEVICES, "{back:?}");
    assert_eq!(
        back.dropped, 0,
        "a short outage loses nothing (queue of 100): {back:?}"
    );
    stop.cancel();
    let fin = fleet.await.unwrap().unwrap();
    assert_eq!(fin.connected, 0, "every device said DISCONNECT: {fin:?}");
    assert_eq!(fin.commands, 4);
}
