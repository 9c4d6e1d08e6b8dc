//! Tests of `store`: the in-memory disk model.

use super::*;
use serde_json::json;

fn custom() -> Config {
    let p = json!({"MeterType": "Eastron-SDM630", "MQTT": {"Site": "s1", "Password": "pw"},
        "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "16"}}});
    super::super::config::apply_patch(&Config::default(), &p).unwrap()
}

#[test]
fn mem_store_power_loss_at_every_step_leaves_old_or_new() {
    let (old, new) = (Config::default(), custom());
    for k in 0..=MemStore::STEPS + 1 {
        let mut s = MemStore::new();
        s.save(&old).unwrap();
        let r = s.fail_after(k).save(&new);
        assert_eq!(r.is_err(), k <= MemStore::STEPS, "k={k}");
        let want = if k < MemStore::STEPS { &old } else { &new };
        assert_eq!(s.durable_config().unwrap().as_ref(), Some(want), "k={k}");
        assert_eq!(s.load().unwrap().as_ref(), Some(want), "k={k}");
        s.save(&new).unwrap();
        assert_eq!(
            s.load().unwrap(),
            Some(new.clone()),
            "fail_after is one-shot"
        );
        assert_eq!(s.files(), [NAME]);
    }
    let mut s = MemStore::new();
    assert!(matches!(
        s.fail_after(2).save(&new),
        Err(StoreError::PowerLoss { step: 2 })
    ));
    assert_eq!(
        s.load().unwrap(),
        None,
        "the first save lost: still factory"
    );
}

#[test]
fn the_disk_model_tears_unsynced_writes() {
    // Negative control: writing in place without fsync is broken after a power loss.
    let mut s = MemStore::new();
    s.save(&custom()).unwrap();
    s.disk.write(NAME, encode(&Config::default()));
    assert!(matches!(
        s.durable_config(),
        Err(StoreError::Corrupt { .. })
    ));
    // ... and renaming a temp file that was never fsynced is just as broken.
    let mut s = MemStore::new();
    s.save(&custom()).unwrap();
    s.disk.write(TEMP, encode(&Config::default()));
    s.disk.rename(TEMP, NAME);
    s.disk.fsync_dir();
    assert!(s.durable_config().is_err());
    s.power_loss();
    assert!(s.load().is_err());
}

#[test]
fn mem_store_loads_none_then_reports_corrupt_bytes() {
    let mut s = MemStore::new();
    assert!(s.load().unwrap().is_none());
    s.put_raw(b"not json");
    let msg = s.load().unwrap_err().to_string();
    assert!(
        msg.starts_with("config file config.json is corrupt: expected"),
        "{msg}"
    );
    s.power_loss();
    assert!(s.load().is_err(), "durable corrupt bytes stay corrupt");
}
