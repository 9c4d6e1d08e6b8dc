//! The HTTP configuration API through real HTTP(S) on loopback (API-01..11, FW-01/02,
//! WEB-01/06): authentication, the single session on the device clock, the config document
//! and merge patches with their errors, persistence, firmware, status, reset, the OpenAPI
//! document, HTTPS with the test CA, and every `curl` example of `docs/http-api.md`.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use smart_connect_sim::adapters::certs::TestPki;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::{
    api_routes, HttpOptions, HttpServer, OPENAPI_JSON, SESSION_IDLE_MS,
};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::firmware::{FirmwareImage, DOWNLOAD_MS};
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::store::{ConfigStore, FileStore};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::sim::clock::{Clock, Millis, VirtualClock};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const USB: PowerInputs = PowerInputs {
    usb: true,
    p1_supply: false,
};
const OFF: PowerInputs = PowerInputs {
    usb: false,
    p1_supply: false,
};

/// A booted virtual device (virtual clock, DHCP) with a plain HTTP server on port 0.
struct Dev {
    host: Arc<Host>,
    clock: VirtualClock,
    http: HttpServer,
    password: String,
}

impl Dev {
    async fn new() -> Dev {
        Dev::with_store(None).await
    }

    async fn with_store(store: Option<Box<dyn ConfigStore>>) -> Dev {
        let clock = VirtualClock::new(1_750_000_000_000);
        let host = Host::new(
            DeviceConfig::new(Variant::P1),
            store,
            Arc::new(clock.clone()),
        );
        host.handle(Event::Power(USB));
        clock.advance(6_000);
        host.handle(Event::Tick);
        assert!(host.served().serving, "the device serves after 6 s");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = HttpServer::start(Arc::clone(&host), listener).unwrap();
        let password = host.with_device(|d| d.identity().label_password.clone());
        Dev {
            host,
            clock,
            http,
            password,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http.url())
    }

    /// Let `ms` of device time pass, ticking at every deadline on the way.
    fn run_for(&self, ms: Millis) {
        let end = self.clock.now() + ms;
        for _ in 0..10_000 {
            match self.host.next_deadline().filter(|&t| t <= end) {
                Some(t) => {
                    self.clock.advance_to(t);
                    self.host.handle(Event::Tick);
                }
                None => break,
            }
        }
        self.clock.advance_to(end);
        self.host.handle(Event::Tick);
    }

    /// An authenticated request from 127.0.0.1.
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        client("127.0.0.1")
            .request(method, self.url(path))
            .basic_auth("user", Some(&self.password))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.req(Method::GET, path)).await
    }

    async fn patch(&self, body: &Value) -> (StatusCode, Value) {
        send(
            self.req(Method::PATCH, "/api/v1/config")
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
        )
        .await
    }

    async fn config(&self) -> Value {
        let (s, v) = self.get("/api/v1/config").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

/// A client whose connections come from `ip` (any 127/8 address reaches lo on Linux).
fn client(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = rb.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn ctype(r: &reqwest::Response) -> String {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_the_basic_challenge() {
    let dev = Dev::new().await;
    let intruder = client("127.0.0.2");
    let cases: Vec<reqwest::RequestBuilder> = vec![
        intruder.get(dev.url("/api/v1/config")),
        intruder
            .get(dev.url("/api/v1/config"))
            .basic_auth("user", Some("wrong")),
        intruder
            .get(dev.url("/api/v1/status"))
            .basic_auth("admin", Some(&dev.password)),
        intruder
            .get(dev.url("/api/v1/status"))
            .header("authorization", "Basic %%%not-base64"),
        intruder
            .get(dev.url("/api/v1/status"))
            .header("authorization", "Bearer abc"),
        intruder
            .patch(dev.url("/api/v1/config"))
            .header("content-type", "application/json")
            .body("{}"),
        intruder.post(dev.url("/api/v1/reset")),
        intruder
            .post(dev.url("/api/v1/firmware"))
            .basic_auth("user", Some("x")),
    ];
    for rb in cases {
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{}", r.url());
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"smart-connect\""
        );
        assert_eq!(ctype(&r), "application/problem+json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], 401);
    }
    // None of that took the session: the owner gets in, and a reset did not happen.
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_second_client_gets_409_until_five_minutes_of_host_time_without_requests() {
    let dev = Dev::new().await;
    let (a, b) = (client("127.0.0.1"), client("127.0.0.2"));
    let get = |c: &Client| {
        c.get(dev.url("/api/v1/status"))
            .basic_auth("user", Some(&dev.password))
            .send()
    };
    assert_eq!(
        get(&a).await.unwrap().status(),
        StatusCode::OK,
        "a takes the session"
    );
    let r = get(&b).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "b is refused while a holds the session"
    );
    assert_eq!(ctype(&r), "application/problem+json");
    assert_eq!(r.headers()["retry-after"], "300");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 409);
    assert!(v["detail"].as_str().unwrap().contains("5 minutes"), "{v}");

    // a keeps the session alive with a request after 4 minutes.
    dev.clock.advance(4 * 60_000);
    assert_eq!(get(&a).await.unwrap().status(), StatusCode::OK);
    dev.clock.advance(SESSION_IDLE_MS - 1_000);
    let r = get(&b).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "4:59 after a's last request"
    );
    assert_eq!(r.headers()["retry-after"], "1");
    // No wall time passes in this test: only the host clock expires the session.
    dev.clock.advance(1_000);
    assert_eq!(
        get(&b).await.unwrap().status(),
        StatusCode::OK,
        "5:00 without requests: b gets in"
    );
    assert_eq!(
        get(&a).await.unwrap().status(),
        StatusCode::CONFLICT,
        "now a is the second client"
    );
}

#[tokio::test]
async fn plain_and_https_servers_of_one_device_share_the_session() {
    let dev = Dev::new().await;
    let serial = dev.host.with_device(|d| d.identity().serial.clone());
    let pki = TestPki::new(&serial).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = HttpServer::start_tls(
        Arc::clone(&dev.host),
        listener,
        pki.server_config().unwrap(),
    )
    .unwrap();
    assert!(https.is_tls());
    assert_eq!(dev.get("/api/v1/status").await.0, StatusCode::OK);
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    let tls_client = Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = tls_client
        .get(format!("{}/api/v1/status", https.url()))
        .basic_auth("user", Some(&dev.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

fn keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            keys(x, &p, out);
        }
    }
}

#[tokio::test]
async fn get_config_returns_the_manuals_document_with_every_key() {
    let dev = Dev::new().await;
    let r = dev.req(Method::GET, "/api/v1/config").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ctype(&r), "application/json");
    assert_eq!(
        r.headers()["cache-control"],
        "no-store",
        "the document holds secrets"
    );
    let v: Value = r.json().await.unwrap();
    let mut got = Vec::new();
    keys(&v, "", &mut got);
    got.sort();
    let static_keys =
        |b: &str| ["IpAddress", "Netmask", "Gateway", "DNS"].map(|k| format!("{b}/StaticIPv4/{k}"));
    let mut want: Vec<String> = [
        "/MeterType",
        "/DefaultNetIf",
        "/Ethernet",
        "/Ethernet/IpMode",
        "/Ethernet/StaticIPv4",
        "/WiFi",
        "/WiFi/IpMode",
        "/WiFi/SSID",
        "/WiFi/Password",
        "/WiFi/StaticIPv4",
        "/MQTT",
        "/MQTT/Enabled",
        "/MQTT/Broker",
        "/MQTT/Site",
        "/MQTT/Username",
        "/MQTT/Password",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(static_keys("/Ethernet"))
    .chain(static_keys("/WiFi"))
    .collect();
    want.sort();
    assert_eq!(got, want, "API-03 + API-11 keys");
    assert_eq!(v, Config::default().to_json(), "factory settings");
    assert_eq!(v["MQTT"]["Broker"], "mqtts://broker.xemex-cloud.eu:8883");
    assert_eq!(v["MQTT"]["Site"], "unknown-site");
    assert_eq!(v["MQTT"]["Enabled"], true);
    assert_eq!(v["MeterType"], "PhoenixContact-EMPro");
}

#[tokio::test]
async fn patch_changes_only_the_fields_given() {
    let dev = Dev::new().await;
    let mut want = dev.config().await;
    let (s, v) = dev.patch(&json!({"MQTT": {"Site": "garage-2"}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    want["MQTT"]["Site"] = json!("garage-2");
    assert_eq!(v, want, "the reply is the whole new configuration");
    assert_eq!(dev.config().await, want);

    let stat = json!({"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.10.101", "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}});
    // Plain application/json with a charset parameter is accepted as well.
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({"Ethernet": stat}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    want["Ethernet"] = stat;
    assert_eq!(dev.config().await, want, "Site stayed, Ethernet changed");

    let (s, _) = dev
        .patch(&json!({"Ethernet": {"StaticIPv4": {"DNS": "9.9.9.9"}}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    want["Ethernet"]["StaticIPv4"]["DNS"] = json!("9.9.9.9");
    assert_eq!(dev.config().await, want, "a nested key alone");
    assert_eq!(
        dev.patch(&json!({})).await.1,
        want,
        "an empty patch changes nothing"
    );
}

#[tokio::test]
async fn patch_errors_name_the_field_and_change_nothing() {
    let dev = Dev::new().await;
    dev.patch(&json!({"MQTT": {"Site": "before"}})).await;
    let before = dev.config().await;
    let stat = |ip: &str, mask: &str| json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": ip, "Netmask": mask}}});
    let cases: Vec<(Value, &str)> = vec![
        (stat("300.1.1.1", "24"), "/Ethernet/StaticIPv4/IpAddress"),
        (stat("192.168.1.10", "33"), "/Ethernet/StaticIPv4/Netmask"),
        (
            json!({"MQTT": {"Broker": "broker.example.com:8883"}}),
            "/MQTT/Broker",
        ),
        (json!({"MQTT": {"Sitee": "x"}}), "/MQTT/Sitee"),
        (json!({"Foo": 1}), "/Foo"),
        (
            json!({"MQTT": {"Site": "after"}, "WiFi": {"StaticIPv4": {"Netmask": "33"}}}),
            "/WiFi/StaticIPv4/Netmask",
        ),
        (json!({"MQTT": {"Enabled": "yes"}}), "/MQTT/Enabled"),
        (json!({"MQTT": null}), "/MQTT"),
        (json!([1, 2]), ""),
    ];
    for (body, pointer) in cases {
        let r = dev
            .req(Method::PATCH, "/api/v1/config")
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(ctype(&r), "application/problem+json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["pointer"], pointer, "{body} → {v}");
        assert_eq!(v["errors"][0]["pointer"], pointer);
        assert_eq!(v["field"], pointer, "the device's own error member");
        assert_eq!(v["status"], 422);
        assert_eq!(v["title"], "Invalid configuration");
        assert_eq!(v["instance"], "/api/v1/config");
        assert!(v["detail"].as_str().unwrap().starts_with(pointer), "{v}");
        assert_eq!(dev.config().await, before, "{body} changed something");
    }

    // Malformed JSON: 400.
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json")
        .body(r#"{"MQTT": {"Site": "after""#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(ctype(&r), "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("malformed JSON at line 1"),
        "{v}"
    );

    // Wrong or missing content type: 415 with Accept-Patch.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut rb = dev
            .req(Method::PATCH, "/api/v1/config")
            .body(r#"{"MQTT": {"Site": "after"}}"#);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(
            r.headers()["accept-patch"],
            "application/merge-patch+json, application/json"
        );
        assert_eq!(ctype(&r), "application/problem+json");
    }

    // Too large: 413.
    let big = json!({"MQTT": {"Site": "x".repeat(17 * 1024)}}).to_string();
    let r = dev
        .req(Method::PATCH, "/api/v1/config")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(ctype(&r), "application/problem+json");
    assert_eq!(
        dev.config().await,
        before,
        "nothing changed after all those errors"
    );
}

#[tokio::test]
async fn configuration_survives_power_cycles_resets_and_a_new_host() {
    let dir = std::env::temp_dir().join(format!("sc-http-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    let _ = std::fs::remove_file(&path);
    let dev = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    let (s, want) = dev.patch(&json!({"MQTT": {"Site": "kept", "Username": "u1"}, "WiFi": {"SSID": "home", "Password": "12345678"}})).await;
    assert_eq!(s, StatusCode::OK);

    dev.host.handle(Event::Power(OFF));
    assert!(!dev.host.served().serving);
    let (s, v) = dev.get("/api/v1/config").await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "no answers without power: {v}"
    );
    assert_eq!(v["status"], 503);
    dev.run_for(10_000);
    dev.host.handle(Event::Power(USB));
    dev.run_for(6_000);
    assert_eq!(dev.config().await, want, "after a power cycle");

    assert_eq!(
        dev.req(Method::POST, "/api/v1/reset")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    dev.run_for(6_000);
    assert_eq!(dev.config().await, want, "after a soft reset");

    // A device that starts from the same flash (a new host on the same store) reads it back.
    let again = Dev::with_store(Some(Box::new(FileStore::new(&path)))).await;
    assert_eq!(again.config().await, want, "read back from the store");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn firmware_version_update_states_and_refusals() {
    let dev = Dev::new().await;
    let (s, v) = dev.get("/api/v1/firmware").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"Version": "1.4.2", "Update": {"state": "idle"}}));

    let post = |body: &str| {
        dev.req(Method::POST, "/api/v1/firmware")
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    // No image on the update server: accepted, then it fails and 1.4.2 stays.
    let r = post(r#"{"Version": "1.5.0"}"#).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["location"], "/api/v1/firmware");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Update"]["state"], "downloading");
    assert_eq!(v["Update"]["version"], "1.5.0");
    let (s, v) = send(post(r#"{"Version": "1.5.0"}"#)).await;
    assert_eq!(s, StatusCode::CONFLICT, "an update is running: {v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("already downloading"),
        "{v}"
    );
    dev.run_for(DOWNLOAD_MS);
    let (_, v) = dev.get("/api/v1/firmware").await;
    assert_eq!(v["Version"], "1.4.2");
    assert_eq!(v["Update"]["state"], "failed");
    assert!(
        v["Update"]["reason"].as_str().unwrap().contains("no image"),
        "{v}"
    );

    // A good image: every state, a reboot, the new version.
    dev.host.with_device_mut(|d| {
        d.offer_firmware(FirmwareImage {
            version: "1.5.0".into(),
            good: true,
        })
    });
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
    assert_eq!(
        dev.get("/api/v1/status").await.1["System"]["Firmware"],
        "1.5.0"
    );

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
    assert_eq!(
        v,
        serde_json::to_value(dev.host.with_device(|d| d.status(dev.host.now()))).unwrap()
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

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_is_the_file_in_the_repo() {
    let dev = Dev::new().await;
    let r = client("127.0.0.2")
        .get(dev.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no authentication needed");
    assert_eq!(ctype(&r), "application/json");
    let served = r.text().await.unwrap();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.json"))
            .unwrap();
    assert_eq!(served, file);
    assert_eq!(served, OPENAPI_JSON);
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = api_routes();
    assert!(routes.len() >= 7);
    for (path, method) in &routes {
        assert!(
            doc["paths"][path][method.to_ascii_lowercase()]["responses"].is_object(),
            "{method} {path} is missing from openapi.json"
        );
    }
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            documented.push((path.clone(), m.to_ascii_uppercase()));
        }
    }
    for (path, method) in &documented {
        assert!(
            routes.iter().any(|(p, m)| p == path && m == method),
            "openapi.json documents {method} {path}, which is not a route"
        );
    }
    // Every $ref resolves.
    let text = served.as_str();
    for piece in text.split("\"$ref\": \"#/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let mut node = &doc;
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref #/{target}");
    }
}

#[tokio::test]
async fn https_answers_with_the_test_ca_as_the_only_root() {
    let dev = Dev::new().await;
    let serial = dev.host.with_device(|d| d.identity().serial.clone());
    let pki = TestPki::new(&serial).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = HttpServer::start_tls(
        Arc::clone(&dev.host),
        listener,
        pki.server_config().unwrap(),
    )
    .unwrap();
    let port = https.local_addr().port();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    let c = Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .resolve("smart-connect.local", https.local_addr())
        .build()
        .unwrap();
    for url in [
        format!("https://127.0.0.1:{port}/api/v1/status"),
        format!("https://localhost:{port}/api/v1/status"),
        format!("https://smart-connect.local:{port}/api/v1/status"),
    ] {
        let r = c
            .get(&url)
            .basic_auth("user", Some(&dev.password))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
    }
    let page = c
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<meta name="sc-scheme" content="https">"#));

    // A client that trusts another CA refuses the device.
    let other = TestPki::new("000000000000").unwrap();
    let wrong = Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(other.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    assert!(wrong
        .get(format!("https://127.0.0.1:{port}/api/v1/status"))
        .send()
        .await
        .is_err());
    // Plain HTTP to the TLS port gets no HTTP answer.
    assert!(client("127.0.0.1")
        .get(format!("http://127.0.0.1:{port}/api/v1/status"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn the_web_page_and_its_assets_are_served_and_link_to_https() {
    let clock = VirtualClock::new(0);
    let host = Host::new(
        DeviceConfig::new(Variant::P1),
        None,
        Arc::new(clock.clone()),
    );
    host.handle(Event::Power(USB));
    clock.advance(6_000);
    host.handle(Event::Tick);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = HttpOptions {
        https_port: Some(8443),
        ..HttpOptions::default()
    };
    let http = HttpServer::start_with(host, listener, None, opts).unwrap();
    let c = client("127.0.0.1");
    let r = c.get(format!("{}/", http.url())).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the page needs no credentials (it holds no data)"
    );
    assert_eq!(ctype(&r), "text/html; charset=utf-8");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let html = r.text().await.unwrap();
    for text in [
        "Save network settings",
        "Save MQTT settings",
        "2.4 GHz networks only",
        "leave empty for mTLS",
        "Enable MQTT",
        "Disable MQTT",
        "Static IP",
        "DHCP",
        "Wi-Fi",
        "Ethernet",
        "Restart device",
        ">Link<",
        ">Network<",
        ">Internet<",
        ">MQTT<",
        r#"<meta name="sc-https-port" content="8443">"#,
        "secure-link",
    ] {
        assert!(html.contains(text), "the page lacks {text:?}");
    }
    for (path, ct) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/logo.svg", "image/svg+xml"),
    ] {
        let r = c.get(format!("{}{path}", http.url())).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(ctype(&r), ct);
    }
    let r = c.get(format!("{}/nope", http.url())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(ctype(&r), "application/problem+json");

    // Dropping the server stops it.
    let addr = http.local_addr();
    drop(http);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after drop"
    );
}

// ---------- the curl examples of docs/http-api.md ----------

/// One `curl` line of the doc with the status of its `# expect` line.
#[derive(Debug)]
struct Example {
    line: usize,
    expect: u16,
    args: Vec<String>,
}

/// Split a shell line into words: '…' literal, "…" and bare words with `$VAR` expansion,
/// backslash escapes outside single quotes.
fn shell_words(line: &str, vars: &BTreeMap<&str, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, cur: &mut String| {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        cur.push_str(
            vars.get(name.as_str())
                .unwrap_or_else(|| panic!("unknown variable ${name} in {line}")),
        );
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.push(chars.next().unwrap()),
                        '$' => expand(&mut chars, &mut cur),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap());
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut cur);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Every `curl` command in the doc's ```sh blocks, with continuation lines joined.
fn examples(doc: &str, vars: &BTreeMap<&str, String>) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut expect = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in doc.lines().enumerate() {
        let line = raw.trim_end();
        if line.starts_with("```") {
            in_sh = line == "```sh" || line == "```bash";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (start, mut text) = match pending.take() {
            Some((start, acc)) => (start, acc + " " + line.trim_start()),
            None => (i + 1, line.trim_start().to_string()),
        };
        if text.ends_with('\\') {
            text.pop();
            pending = Some((start, text));
            continue;
        }
        if let Some(code) = text.strip_prefix("# expect ") {
            expect = Some(code.trim().parse::<u16>().unwrap());
        } else if text.starts_with("curl ") {
            let expect = expect.take().unwrap_or_else(|| {
                panic!("docs/http-api.md:{start}: a curl example without a `# expect` line")
            });
            out.push(Example {
                line: start,
                expect,
                args: shell_words(&text, vars)[1..].to_vec(),
            });
        }
    }
    out
}

#[tokio::test]
async fn every_curl_example_in_the_doc_works() {
    let dev = Dev::new().await;
    let serial = dev.host.with_device(|d| d.identity().serial.clone());
    let pki = TestPki::new(&serial).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = HttpServer::start_tls(
        Arc::clone(&dev.host),
        listener,
        pki.server_config().unwrap(),
    )
    .unwrap();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/http-api.md")).unwrap();
    let vars = BTreeMap::from([("LABEL_PASSWORD", dev.password.clone())]);
    let list = examples(&doc, &vars);
    let mut seen = std::collections::BTreeSet::new();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    let tls_client = Client::builder()
        .local_address("127.0.0.1".parse::<IpAddr>().unwrap())
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    for ex in &list {
        if !dev.host.served().serving {
            dev.run_for(10_000);
        }
        let at = format!("docs/http-api.md:{}", ex.line);
        let (mut method, mut url, mut body, mut user, mut cacert) = (None, None, None, None, None);
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut args = ex.args.iter();
        while let Some(a) = args.next() {
            let mut next = || {
                args.next()
                    .unwrap_or_else(|| panic!("{at}: {a} needs a value"))
                    .clone()
            };
            match a.as_str() {
                "-u" | "--user" => user = Some(next()),
                "-X" | "--request" => method = Some(next()),
                "-H" | "--header" => {
                    let h = next();
                    let (k, v) = h
                        .split_once(':')
                        .unwrap_or_else(|| panic!("{at}: bad header {h}"));
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
                "-d" | "--data" | "--data-raw" | "--data-binary" => body = Some(next()),
                "--cacert" => cacert = Some(next()),
                "-i" | "-s" | "-S" | "-sS" | "--silent" | "--show-error" | "--include" => {}
                u if u.starts_with("http://") || u.starts_with("https://") => {
                    url = Some(u.to_string())
                }
                other => panic!(
                    "{at}: the test does not know curl's {other}; teach it or change the doc"
                ),
            }
        }
        let url = url.unwrap_or_else(|| panic!("{at}: no URL"));
        // curl's defaults: -d makes a POST with a form content type.
        let method = method.unwrap_or(if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        });
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let (c, real) = if let Some(rest) = url.strip_prefix("http://127.0.0.1:8080") {
            (client("127.0.0.1"), format!("{}{rest}", dev.http.url()))
        } else if let Some(rest) = url.strip_prefix("https://127.0.0.1:8443") {
            assert_eq!(
                cacert.as_deref(),
                Some("ca.pem"),
                "{at}: HTTPS examples name the CA file"
            );
            (tls_client.clone(), format!("{}{rest}", https.url()))
        } else {
            panic!("{at}: examples use http://127.0.0.1:8080 or https://127.0.0.1:8443, not {url}");
        };
        let mut rb = c.request(Method::from_bytes(method.as_bytes()).unwrap(), &real);
        if let Some(u) = &user {
            let (name, pw) = u.split_once(':').unwrap();
            rb = rb.basic_auth(name, Some(pw));
        }
        for (k, v) in &headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{at}: {e}"));
        let status = r.status().as_u16();
        if status == 401 {
            assert_eq!(
                r.headers()["www-authenticate"],
                "Basic realm=\"smart-connect\""
            );
        }
        let text = r.text().await.unwrap();
        assert_eq!(
            status, ex.expect,
            "{at}: {method} {url} answered {status}: {text}"
        );
        let path = url
            .split("://")
            .nth(1)
            .and_then(|s| s.find('/').map(|i| s[i..].to_string()))
            .unwrap();
        seen.insert((path, method));
    }
    for (path, method) in api_routes() {
        assert!(
            seen.contains(&(path.to_string(), method.to_string())),
            "docs/http-api.md has no curl example for {method} {path}"
        );
    }
    assert!(
        list.iter().any(|e| e.expect == 401) && list.iter().any(|e| e.expect == 422),
        "error examples too"
    );
    // The examples changed the device as the doc says.
    let c = dev.host.with_device(|d| d.config().to_json());
    assert_eq!(c["MQTT"]["Site"], "site-new");
    assert_eq!(
        c["Ethernet"]["StaticIPv4"]["Netmask"], "24",
        "the 33 example changed nothing"
    );
}

#[test]
fn the_curl_parser_reads_quotes_continuations_and_variables() {
    let vars = BTreeMap::from([("PW", "s3cr:t".to_string())]);
    let doc = "```sh\n# expect 200\ncurl -u \"user:$PW\" -X PATCH \\\n  -H 'Content-Type: a/b' \\\n  -d '{\"A\": \"$x y\"}' http://h/p\n```\n```\ncurl ignored\n```\n";
    let ex = examples(doc, &vars);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].expect, 200);
    assert_eq!(ex[0].line, 3);
    assert_eq!(
        ex[0].args,
        [
            "-u",
            "user:s3cr:t",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: a/b",
            "-d",
            "{\"A\": \"$x y\"}",
            "http://h/p"
        ]
    );
}
