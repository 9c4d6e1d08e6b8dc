//! Tests of `file_store` on the real file system.

use super::*;
use crate::device::config::Config;
use crate::device::store::{file_stamp, ConfigStore, MemStore};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("scs-store-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn custom() -> Config {
    let p = json!({"MeterType": "Eastron-SDM630", "MQTT": {"Site": "s1", "Password": "pw"},
        "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "16"}}});
    crate::device::config::apply_patch(&Config::default(), &p).unwrap()
}

#[test]
fn file_store_round_trips_and_leaves_no_temp_file() {
    let dir = TempDir::new("roundtrip");
    let mut s = FileStore::new(dir.0.join("config.json"));
    assert!(
        s.load().unwrap().is_none(),
        "a missing file is not an error"
    );
    s.save(&Config::default()).unwrap();
    assert_eq!(s.load().unwrap(), Some(Config::default()));
    s.save(&custom()).unwrap();
    assert_eq!(s.load().unwrap(), Some(custom()));
    assert_eq!(
        FileStore::new(s.path()).load().unwrap(),
        Some(custom()),
        "a fresh store reads it"
    );
    assert!(!s.temp_path().exists());
    let names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.json"]);
}

#[test]
fn file_store_names_the_file_and_json_error_of_a_corrupt_file() {
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("config.json");
    let mut s = FileStore::new(&path);
    for bad in [&b""[..], b"{\"MeterType\": \"Phoe", b"\xff\xfe", b"[1, 2]"] {
        fs::write(&path, bad).unwrap();
        let e = s.load().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            matches!(e, StoreError::Corrupt { .. } | StoreError::Invalid { .. }),
            "{msg}"
        );
    }
    fs::write(&path, b"{\"MeterType\": ").unwrap();
    let msg = s.load().unwrap_err().to_string();
    assert!(
        msg.ends_with("is corrupt: EOF while parsing a value at line 1 column 14"),
        "{msg}"
    );
    // Valid JSON, invalid configuration: the field is named.
    let mut j = Config::default().to_json();
    j["Ethernet"]["StaticIPv4"]["Netmask"] = json!("33");
    fs::write(&path, j.to_string()).unwrap();
    let msg = s.load().unwrap_err().to_string();
    assert!(msg.contains("/Ethernet/StaticIPv4/Netmask"), "{msg}");
    // A save repairs it.
    s.save(&custom()).unwrap();
    assert_eq!(s.load().unwrap(), Some(custom()));
}

#[test]
fn file_store_ignores_and_replaces_a_stale_temp_file() {
    let dir = TempDir::new("stale");
    let mut s = FileStore::new(dir.0.join("config.json"));
    s.save(&custom()).unwrap();
    fs::write(s.temp_path(), b"{\"half").unwrap();
    assert_eq!(s.load().unwrap(), Some(custom()));
    s.save(&Config::default()).unwrap();
    assert_eq!(s.load().unwrap(), Some(Config::default()));
    assert!(!s.temp_path().exists());
}

#[test]
fn file_store_reports_a_missing_folder_as_io_error() {
    let dir = TempDir::new("nofolder");
    let mut s = FileStore::new(dir.0.join("absent").join("config.json"));
    let e = s.save(&Config::default()).unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert!(e.to_string().contains("absent"));
}

#[test]
fn a_blocked_temp_path_is_an_io_error_naming_it_and_keeps_the_old_file() {
    let dir = TempDir::new("blocked");
    let mut s = FileStore::new(dir.0.join("config.json"));
    s.save(&custom()).unwrap();
    fs::create_dir(s.temp_path()).unwrap();
    let e = s.save(&Config::default()).unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert_eq!(e.path(), Some(s.temp_path().as_path()));
    assert!(!e.cause().is_empty() && !e.is_corrupt());
    assert_eq!(s.load().unwrap(), Some(custom()), "the old file stays");
    assert!(
        s.remove_stale_temp_files().unwrap().is_empty(),
        "a folder is not removed"
    );
}

#[test]
fn stale_temp_files_are_removed_and_nothing_else() {
    let dir = TempDir::new("tmpclean");
    let mut s = FileStore::new(dir.0.join("config.json"));
    s.save(&custom()).unwrap();
    for f in ["config.json.tmp", "config.json.tmp.4711", "other.tmp"] {
        fs::write(dir.0.join(f), b"{").unwrap();
    }
    let mut removed = s.remove_stale_temp_files().unwrap();
    removed.sort();
    assert_eq!(
        removed,
        [
            dir.0.join("config.json.tmp"),
            dir.0.join("config.json.tmp.4711")
        ]
    );
    assert!(dir.0.join("other.tmp").exists());
    assert_eq!(s.load().unwrap(), Some(custom()));
}

#[cfg(unix)]
#[test]
fn the_saved_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let mut s = FileStore::new(dir.0.join("config.json"));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    s.save(&custom()).unwrap();
    assert_eq!(mode(s.path()), 0o600);
    fs::set_permissions(s.path(), fs::Permissions::from_mode(0o644)).unwrap();
    assert!(s.restrict_permissions().unwrap());
    assert_eq!(mode(s.path()), 0o600);
    // A stale temp file with a wide mode is narrowed when reused.
    fs::write(s.temp_path(), b"x").unwrap();
    fs::set_permissions(s.temp_path(), fs::Permissions::from_mode(0o666)).unwrap();
    s.save(&Config::default()).unwrap();
    assert_eq!(mode(s.path()), 0o600);
}

#[test]
fn quarantine_moves_a_corrupt_file_aside_under_a_time_stamp() {
    assert_eq!(file_stamp(1_750_000_000_000), "20250615T150640Z");
    let dir = TempDir::new("quarantine");
    let path = dir.0.join("config.json");
    let mut s = FileStore::new(&path);
    assert_eq!(s.quarantine("x").unwrap(), None, "nothing to move");
    fs::write(&path, b"garbage").unwrap();
    assert!(s.load().unwrap_err().is_corrupt());
    let name = s.quarantine("20250615T150640Z").unwrap().unwrap();
    assert_eq!(name, "config.json.corrupt-20250615T150640Z");
    assert_eq!(fs::read(dir.0.join(&name)).unwrap(), b"garbage");
    assert!(s.load().unwrap().is_none());
    fs::write(&path, b"again").unwrap();
    let second = s.quarantine("20250615T150640Z").unwrap().unwrap();
    assert_eq!(
        second, "config.json.corrupt-20250615T150640Z-2",
        "both kept"
    );
    let mut m = MemStore::new();
    m.put_raw(b"bad");
    assert_eq!(
        m.quarantine("t").unwrap().as_deref(),
        Some("config.json.corrupt-t")
    );
    assert!(m.load().unwrap().is_none());
    assert_eq!(m.files(), ["config.json.corrupt-t"]);
}
