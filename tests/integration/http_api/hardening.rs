//! Hardening under abuse: a failed save answers 500 and changes nothing; a corrupt config
//! file is kept aside and reported in the status; wrong passwords are throttled per source
//! (429 with `Retry-After`, device time) while the right password always gets in; control
//! characters are refused in every config string.

use super::support::{client, send, Dev};
use reqwest::StatusCode;
use serde_json::{json, Value};
use smart_connect_sim::adapters::file_store::FileStore;
use std::path::PathBuf;

/// A fresh folder under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sc-http-hard-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_failed_save_answers_500_naming_the_file_and_changes_nothing() {
    let dir = TempDir::new("save");
    let path = dir.0.join("config.json");
    let dev = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (s, _) = dev.patch(&json!({"MQTT": {"Site": "before"}})).await;
    assert_eq!(s, StatusCode::OK);
    // Block the temp file's path: a folder cannot be created as a file.
    std::fs::create_dir(dir.0.join("config.json.tmp")).unwrap();
    let (s, v) = dev.patch(&json!({"MQTT": {"Site": "after"}})).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(v["type"], "tag:smart-connect.local,2025:config-not-saved");
    assert!(
        v["file"].as_str().unwrap().ends_with("config.json.tmp"),
        "{v}"
    );
    assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("config.json.tmp"),
        "{v}"
    );
    assert_eq!(
        dev.config().await["MQTT"]["Site"],
        "before",
        "memory unchanged"
    );
    let (_, status) = dev.get("/api/v1/status").await;
    let err = status["Config"]["SaveError"].as_str().unwrap();
    assert!(err.contains("config.json.tmp"), "{status}");
    // Unblocked: saves work again and the status forgets the error.
    std::fs::remove_dir(dir.0.join("config.json.tmp")).unwrap();
    assert_eq!(
        dev.patch(&json!({"MQTT": {"Site": "after"}})).await.0,
        StatusCode::OK
    );
    let (_, status) = dev.get("/api/v1/status").await;
    assert_eq!(status["Config"]["SaveError"], Value::Null);
    let again = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    assert_eq!(again.config().await["MQTT"]["Site"], "after");
}

#[tokio::test]
async fn a_corrupt_file_is_kept_aside_and_reported_and_the_device_runs_on_factory_settings() {
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("config.json");
    std::fs::write(&path, b"{\"MeterType\": \"Phoe").unwrap();
    let dev = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (s, status) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::OK);
    // The virtual clock of `Dev` starts at 1 750 000 000 000 ms = 2025-06-15T15:06:40Z.
    assert_eq!(
        status["Config"]["Recovered"], "config.json.corrupt-20250615T150640Z",
        "{status}"
    );
    assert!(status["Config"]["RecoveredReason"]
        .as_str()
        .unwrap()
        .contains("EOF"));
    let kept = dir.0.join("config.json.corrupt-20250615T150640Z");
    assert_eq!(std::fs::read(&kept).unwrap(), b"{\"MeterType\": \"Phoe");
    assert_eq!(
        dev.config().await,
        smart_connect_sim::device::config::Config::default().to_json()
    );
    // The next save does not touch the kept file.
    assert_eq!(
        dev.patch(&json!({"MQTT": {"Site": "s2"}})).await.0,
        StatusCode::OK
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"{\"MeterType\": \"Phoe");
    // A good file: nothing recovered.
    let fine = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (_, status) = fine.get("/api/v1/status").await;
    assert_eq!(
        status["Config"],
        json!({"Recovered": null, "RecoveredReason": null, "SaveError": null, "Pending": []})
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_source_but_the_right_one_always_gets_in() {
    let dev = Dev::new().await;
    let c = client("127.0.0.1");
    let wrong = || {
        c.get(dev.url("/api/v1/status"))
            .basic_auth("user", Some("guess"))
    };
    for i in 1..=5 {
        assert_eq!(
            send(wrong()).await.0,
            StatusCode::UNAUTHORIZED,
            "failure {i}"
        );
    }
    let r = wrong().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the 6th");
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["type"],
        "tag:smart-connect.local,2025:too-many-failed-logins"
    );
    assert_eq!(v["retry_after_s"], 1);
    // The installer on the same address is not slowed: 200 at once.
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
    // ... and that reset the count: five free failures again, then blocks that double.
    for _ in 1..=5 {
        assert_eq!(send(wrong()).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(send(wrong()).await.0, StatusCode::TOO_MANY_REQUESTS);
    let r = wrong().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "still blocked");
    assert_eq!(r.headers()["retry-after"], "1");
    dev.run_for(1_000);
    let r = wrong().send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "checked again: doubled"
    );
    assert_eq!(r.headers()["retry-after"], "2");
    // Another source is not affected by this one's failures.
    let other = client("127.0.0.3")
        .get(dev.url("/api/v1/status"))
        .basic_auth("user", Some("guess"));
    assert_eq!(send(other).await.0, StatusCode::UNAUTHORIZED);
    // Retry-After of device time passed: the source is heard again.
    dev.run_for(2_000);
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
    assert_eq!(send(wrong()).await.0, StatusCode::UNAUTHORIZED);
    // No credentials at all (a browser's first request) is not a failure.
    for _ in 0..10 {
        let r = c.get(dev.url("/api/v1/status")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn control_characters_are_refused_in_every_config_string_naming_the_field() {
    let dev = Dev::new().await;
    let before = dev.config().await;
    let cases = [
        (
            json!({"MQTT": {"Username": "dev\u{0}ice"}}),
            "/MQTT/Username",
            true,
        ),
        (
            json!({"MQTT": {"Password": "pw\u{1b}x"}}),
            "/MQTT/Password",
            false,
        ),
        (json!({"MQTT": {"Site": "a\nb"}}), "/MQTT/Site", true),
        (json!({"WiFi": {"SSID": "home\u{7f}"}}), "/WiFi/SSID", true),
        (
            json!({"WiFi": {"Password": "12345678\t"}}),
            "/WiFi/Password",
            false,
        ),
        (
            json!({"Ethernet": {"StaticIPv4": {"DNS": "1.1.1.1\r"}}}),
            "/Ethernet/StaticIPv4/DNS",
            true,
        ),
        (json!({"MeterType": "\u{0}"}), "/MeterType", true),
    ];
    for (patch, pointer, echoed) in cases {
        let (s, v) = dev.patch(&patch).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{patch}: {v}");
        assert_eq!(v["pointer"], pointer, "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("control character"),
            "{v}"
        );
        assert_eq!(v["value"].is_null(), !echoed, "secrets not echoed: {v}");
    }
    assert_eq!(dev.config().await, before, "nothing changed");
}
