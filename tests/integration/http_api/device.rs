//! Firmware version and update states with their refusals (FW-01/02), the status document,
//! and reset (reboots the device and ends the session).

use super::support::{client, ctype, send, Dev};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smart_connect_sim::device::firmware::{FirmwareImage, DOWNLOAD_MS, VERIFY_MS};
use smart_connect_sim::time::at;

#[tokio::test]
async fn firmware_version_update_states_and_refusals() {
    let dev = Dev::new().await;
    let (s, v) = dev.get("/api/v1/firmware").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"Version": "1.4.2", "Update": {"state": "idle"}, "Offered": ["1.4.3", "1.5.0"]})
    );
    assert_eq!(
        dev.get("/api/v1/status").await.1["System"]["FirmwareError"],
        Value::Null
    );

    let post = |body: &str| {
        dev.req(Method::POST, "/api/v1/firmware")
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    // A version the update server does not offer: 422 at once, naming the offered ones.
    let r = post(r#"{"Version": "banana"}"#).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ctype(&r), "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["type"],
        "tag:smart-connect.local,2025:unknown-firmware-version"
    );
    assert_eq!(v["offered"], json!(["1.4.3", "1.5.0"]));
    assert_eq!(
        (&v["pointer"], &v["value"]),
        (&json!("/Version"), &json!("banana"))
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"banana\"") && detail.contains("offered: 1.4.3, 1.5.0"),
        "{v}"
    );
    assert_eq!(v["errors"][0]["pointer"], "/Version");
    assert_eq!(
        dev.get("/api/v1/firmware").await.1["Update"]["state"],
        "idle"
    );

    // A corrupt image: accepted, then it fails; the reason is in the status, 1.4.2 stays.
    dev.host.with_device_mut(|d| {
        d.offer_firmware(FirmwareImage {
            version: "1.6.0".into(),
            good: false,
        })
    });
    let r = post(r#"{"Version": "1.6.0"}"#).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["location"], "/api/v1/firmware");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Update"]["state"], "downloading");
    assert_eq!(v["Update"]["version"], "1.6.0");
    assert_eq!(v["Offered"], json!(["1.4.3", "1.5.0", "1.6.0"]));
    let (s, v) = send(post(r#"{"Version": "1.5.0"}"#)).await;
    assert_eq!(s, StatusCode::CONFLICT, "an update is running: {v}");
    assert_eq!(
        v["type"],
        "tag:smart-connect.local,2025:firmware-update-refused"
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("already downloading"),
        "{v}"
    );
    dev.run_for((DOWNLOAD_MS + VERIFY_MS).as_ms());
    let (_, v) = dev.get("/api/v1/firmware").await;
    assert_eq!(v["Version"], "1.4.2");
    assert_eq!(v["Update"]["state"], "failed");
    assert!(
        v["Update"]["reason"]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{v}"
    );
    let system = dev.get("/api/v1/status").await.1["System"].clone();
    assert_eq!(system["FirmwareUpdate"], "failed");
    let why = system["FirmwareError"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("update to 1.6.0 failed: image verification failed"),
        "{system}"
    );

    // A good image (offered by default): every state, a reboot, the new version.
    assert_eq!(
        post(r#"{"Version": "1.5.0"}"#)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let mut seen = Vec::new();
    for _ in 0..40 {
        dev.run_for(500);
        if let (StatusCode::OK, v) = dev.get("/api/v1/firmware").await {
            let state = v["Update"]["state"].as_str().unwrap().to_string();
            if seen.last() != Some(&state) {
                seen.push(state);
            }
            if v["Version"] == "1.5.0" {
                break;
            }
        }
    }
    assert_eq!(
        seen,
        [
            "downloading",
            "verifying",
            "installing",
            "rebooting",
            "idle"
        ]
    );
    assert_eq!(dev.get("/api/v1/firmware").await.1["Version"], "1.5.0");
    let system = dev.get("/api/v1/status").await.1["System"].clone();
    assert_eq!(system["Firmware"], "1.5.0");
    assert_eq!(system["FirmwareError"], Value::Null, "{system}");

    // Bodies that are not {"Version": "x"}.
    for (body, pointer) in [
        (r#"{"version": "1.6.0"}"#, "/version"),
        (r#"{"Version": 16}"#, "/Version"),
        (r#"{}"#, "/Version"),
        (r#""1.6.0""#, ""),
    ] {
        let (s, v) = send(post(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(v["pointer"], pointer, "{body}: {v}");
    }
    assert_eq!(send(post("{")).await.0, StatusCode::BAD_REQUEST);
    let r = dev
        .req(Method::POST, "/api/v1/firmware")
        .header("content-type", "text/plain")
        .body("1.6.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.headers()["accept-post"], "application/json");
}

#[tokio::test]
async fn status_reports_system_meter_and_network() {
    let dev = Dev::new().await;
    let (s, v) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::OK);
    let serial = dev.host.with_device(|d| d.identity().serial.clone());
    assert_eq!(v["System"]["Serial"], serial.as_str());
    assert_eq!(v["System"]["Firmware"], "1.4.2");
    assert_eq!(v["System"]["UptimeS"], 6);
    assert_eq!(v["Meter"]["State"], "no_data");
    assert_eq!(v["Network"]["ActiveInterface"], "Ethernet");
    for k in ["Link", "Network", "Internet", "MQTT"] {
        assert!(v["Network"][k].is_boolean(), "indicator {k}: {v}");
    }
    assert_eq!(v["Network"]["Link"], true);
    assert_eq!(v, dev.host.status_json());
    let mut device_only = v.clone();
    device_only.as_object_mut().unwrap().remove("Config");
    assert_eq!(
        device_only,
        serde_json::to_value(dev.host.with_device(|d| d.status(at(dev.host.now())))).unwrap(),
        "the device's status plus the host's Config member"
    );
}

#[tokio::test]
async fn reset_reboots_the_device_and_ends_the_session() {
    let dev = Dev::new().await;
    let r = dev.req(Method::POST, "/api/v1/reset").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Reset"], "accepted");
    let (s, v) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "rebooting: {v}");
    let r = client("127.0.0.1").get(dev.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "the page too");
    assert!(r.headers().contains_key("retry-after"));
    dev.run_for(6_000);
    let other = client("127.0.0.2")
        .get(dev.url("/api/v1/status"))
        .basic_auth("user", Some(&dev.password))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "the reboot ended the first session"
    );
    let v: Value = other.json().await.unwrap();
    assert_eq!(v["System"]["UptimeS"], 6, "uptime counts from the reboot");
}

/// Saved Wi-Fi settings for a network the LAN lacks: after the restart the simulator's 503
/// says why (`Network.Problem`, also in `detail`) and names the way out; booting says booting.
#[tokio::test]
async fn without_an_address_the_503_names_the_network_problem_and_the_way_out() {
    let dev = Dev::new().await;
    let patch = json!({"DefaultNetIf": "WiFi", "WiFi": {"SSID": "Home", "Password": "secret123"}});
    let (s, v) = dev.patch(&patch).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = dev.req(Method::POST, "/api/v1/reset").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let (s, v) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("booting"), "{v}");
    assert_eq!(v["Network"], Value::Null, "no network while booting: {v}");
    dev.run_for(60_000);
    let (s, v) = dev.get("/api/v1/status").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "no address: {v}");
    let problem = v["Network"]["Problem"].as_str().expect("Network.Problem");
    assert!(
        problem.starts_with("Wi-Fi network \"Home\" not found (the simulated LAN offers no Wi-Fi networks; add networks with --wifi"),
        "{problem}"
    );
    assert_eq!(v["Network"]["ActiveInterface"], "WiFi", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains(problem)
            && detail.contains("factory reset")
            && detail.contains("--factory-reset"),
        "{detail}"
    );
}
