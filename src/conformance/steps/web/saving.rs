//! Saving and restarting the way the page does: the same API requests as its script.

use super::super::http::{first_client, label_login, request, Reach};
use super::super::world::DeviceWorld;
use crate::dut::http_client::Method;
use cucumber::{then, when};
use serde_json::{json, Value};

async fn patch_as_page(w: &mut DeviceWorld, patch: Value) {
    let url = super::super::http::api_url(w, "/api/v1/config");
    let login = label_login(w);
    let r = request(
        &Reach::of(w),
        Method::PATCH,
        &url,
        &login,
        Some(("application/merge-patch+json", &patch)),
    )
    .await;
    w.http.last = Some(r);
}

/// What the page's "Save network settings" sends for a static Ethernet address.
#[when(
    regex = r"^the network settings are saved the way the page does, with Ethernet, static address (\S+), netmask (\d+), gateway (\S+) and DNS (\S+)$"
)]
async fn save_network(w: &mut DeviceWorld, ip: String, mask: String, gw: String, dns: String) {
    let patch = json!({
        "DefaultNetIf": "Ethernet",
        "Ethernet": { "IpMode": "Static", "StaticIPv4": {
            "IpAddress": ip, "Netmask": mask, "Gateway": gw, "DNS": dns } }
    });
    patch_as_page(w, patch).await;
}

/// What the page's "Save MQTT settings" sends.
#[when(
    regex = r#"^the MQTT settings are saved the way the page does, (enabled|disabled), with broker (\S+), username "(.*)", password "(.*)" and site "(.*)"$"#
)]
async fn save_mqtt(
    w: &mut DeviceWorld,
    on: String,
    broker: String,
    user: String,
    password: String,
    site: String,
) {
    let patch = json!({ "MQTT": {
        "Enabled": on == "enabled", "Broker": broker, "Username": user,
        "Password": password, "Site": site } });
    patch_as_page(w, patch).await;
}

/// The page's "Restart device": `POST /api/v1/reset`, then the device boots.
#[when(regex = r"^the device is restarted the way the page does$")]
async fn restart_as_page(w: &mut DeviceWorld) {
    let r = first_client(w, Method::POST, "/api/v1/reset").await;
    assert!(
        (200..300).contains(&r.status),
        "{}: {} {}",
        r.what,
        r.status,
        r.text
    );
    w.boot().await;
}

#[then(regex = r"^the status (?:still )?shows MQTT (enabled|disabled)$")]
async fn mqtt_enabled(w: &mut DeviceWorld, how: String) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let s = r.json_object();
    assert_eq!(
        s["MQTT"]["Enabled"].as_bool(),
        Some(how == "enabled"),
        "MQTT: {}",
        s["MQTT"]
    );
}
