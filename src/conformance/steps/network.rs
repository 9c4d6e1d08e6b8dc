//! Network steps (NET-01..08): the rig changes the LAN around the device (cable, DHCP server,
//! Wi-Fi networks in range), the installer saves network settings over the API and restarts
//! the device, and the status tells which interface and address are in use.

use super::bench::{apply_lan, config, must_patch, send_patch, status};
use super::world::DeviceWorld;
use crate::device::network::WifiNetwork;
use crate::device::Variant;
use crate::dut::http_client::Method;
use cucumber::{given, then, when};
use serde_json::{json, Value};

/// A device on a LAN that differs from the default one from power-on, booted.
#[given(
    regex = r"^a Smart Connect (P1|TIC) (?:with USB-C power )?(without a network cable|on a network without a DHCP server)$"
)]
async fn on_lan(w: &mut DeviceWorld, variant: String, lan: String) {
    w.install(if variant == "P1" {
        Variant::P1
    } else {
        Variant::Tic
    })
    .await;
    if lan.contains("cable") {
        w.bench.lan.ethernet_link = false;
    } else {
        w.bench.lan.dhcp = false;
    }
    apply_lan(w).await;
    w.supply(true).await;
    w.boot().await;
}

#[given(regex = r"^the network has no DHCP server$")]
#[when(regex = r"^the DHCP server is switched off$")]
async fn no_dhcp(w: &mut DeviceWorld) {
    w.bench.lan.dhcp = false;
    apply_lan(w).await;
}

#[given(regex = r"^the Ethernet cable is (unplugged|plugged in)$")]
#[when(regex = r"^the Ethernet cable is (unplugged|plugged in)$")]
async fn cable(w: &mut DeviceWorld, how: String) {
    w.bench.lan.ethernet_link = how == "plugged in";
    apply_lan(w).await;
}

#[given(
    regex = r#"^(?:only )?a (2\.4|5) GHz Wi-Fi network "(.+)" with password "(.+)" is in range$"#
)]
#[when(regex = r#"^a (2\.4|5) GHz Wi-Fi network "(.+)" with password "(.+)" comes into range$"#)]
async fn wifi_in_range(w: &mut DeviceWorld, band: f32, ssid: String, password: String) {
    w.bench.lan.wifi.retain(|n| n.ssid != ssid);
    w.bench.lan.wifi.push(WifiNetwork {
        ssid,
        password,
        band_ghz: band,
        dhcp: true,
    });
    apply_lan(w).await;
}

#[when(regex = r#"^the Wi-Fi network "(.+)" goes out of range$"#)]
async fn wifi_gone(w: &mut DeviceWorld, ssid: String) {
    let before = w.bench.lan.wifi.len();
    w.bench.lan.wifi.retain(|n| n.ssid != ssid);
    assert!(w.bench.lan.wifi.len() < before, "no Wi-Fi network {ssid:?}");
    apply_lan(w).await;
}

#[when(regex = r#"^the Wi-Fi settings are saved with SSID "(.+)" and password "(.+)"$"#)]
async fn save_wifi(w: &mut DeviceWorld, ssid: String, password: String) {
    must_patch(w, json!({ "WiFi": { "SSID": ssid, "Password": password } })).await;
}

#[when(regex = r"^the connection type is set to (Wi-Fi|Ethernet)$")]
async fn connection_type(w: &mut DeviceWorld, which: String) {
    let v = if which == "Wi-Fi" { "WiFi" } else { "Ethernet" };
    must_patch(w, json!({ "DefaultNetIf": v })).await;
}

#[when(
    regex = r#"^the Ethernet settings are saved as static address "(.+)", netmask "(.+)", gateway "(.+)" and DNS "(.+)"$"#
)]
async fn save_static(w: &mut DeviceWorld, ip: String, mask: String, gw: String, dns: String) {
    let patch = json!({ "Ethernet": { "IpMode": "Static", "StaticIPv4": {
        "IpAddress": ip, "Netmask": mask, "Gateway": gw, "DNS": dns } } });
    send_patch(w, patch).await.expect("static settings refused");
}

#[when(regex = r#"^the Ethernet static address is set to "(.+)"$"#)]
async fn static_address(w: &mut DeviceWorld, ip: String) {
    let patch = json!({ "Ethernet": { "IpMode": "Static", "StaticIPv4": {
        "IpAddress": ip, "Netmask": "24" } } });
    let _ = send_patch(w, patch).await;
}

/// `POST /api/v1/reset`, then the boot: settings are applied at a restart (WEB-03).
#[when(regex = r"^the device is restarted$")]
async fn restarted(w: &mut DeviceWorld) {
    w.target().reset().await.expect("POST /api/v1/reset");
    w.boot().await;
}

/// The status' network section; the address seen is remembered per interface.
async fn network(w: &mut DeviceWorld) -> Value {
    let n = status(w).await["Network"].clone();
    if let (Some(i), Some(a)) = (n["ActiveInterface"].as_str(), n["Address"].as_str()) {
        w.bench.addresses.push((i.to_string(), a.to_string()));
    }
    n
}

#[then(regex = r"^the status (?:still )?shows the address handed out by the DHCP server$")]
async fn dhcp_address(w: &mut DeviceWorld) {
    let n = network(w).await;
    let pool = w.bench.lan.dhcp_pool.to_string();
    assert_eq!(n["IpMode"], "DHCP", "Network: {n}");
    assert_eq!(n["Address"].as_str(), Some(pool.as_str()), "Network: {n}");
}

#[given(
    regex = r"^the status shows (WiFi|Ethernet) as the active interface( with an address from DHCP)?$"
)]
#[then(
    regex = r"^the status shows (WiFi|Ethernet) as the active interface( with an address from DHCP)?$"
)]
async fn active_interface(w: &mut DeviceWorld, which: String, dhcp: String) {
    let n = network(w).await;
    assert_eq!(
        n["ActiveInterface"].as_str(),
        Some(which.as_str()),
        "Network: {n}"
    );
    if !dhcp.is_empty() {
        assert_eq!(n["IpMode"], "DHCP", "Network: {n}");
        let a = n["Address"].as_str().unwrap_or("");
        assert!(
            a.parse::<std::net::Ipv4Addr>().is_ok() && !a.starts_with("169.254."),
            "address {a:?} is not from a DHCP server"
        );
    }
}

#[then(regex = r"^the address is not the one it had on Ethernet$")]
async fn address_moved(w: &mut DeviceWorld) {
    let (iface, now) = w
        .bench
        .addresses
        .last()
        .cloned()
        .expect("no address seen yet");
    let eth: Vec<&String> = w
        .bench
        .addresses
        .iter()
        .filter(|(i, _)| i == "Ethernet")
        .map(|(_, a)| a)
        .collect();
    assert!(!eth.is_empty(), "no Ethernet address was seen before");
    assert_ne!(iface, "Ethernet");
    assert!(
        !eth.contains(&&now),
        "the device still uses its Ethernet address {now}"
    );
}

#[then(regex = r"^the device does not answer on the network(?: yet)?$")]
async fn not_reachable(w: &mut DeviceWorld) {
    let t = w.target();
    let s = t.status().await;
    if let Ok(v) = &s {
        panic!("the status API answered: {v}");
    }
    let m = t.modbus_read(3, 1, 0x8016, 2).await;
    if let Ok(reply) = &m {
        panic!("Modbus answered: {}", super::power::reply_text(reply));
    }
}

#[then(regex = r"^the status shows a link-local address in 169\.254\.x\.x$")]
async fn link_local(w: &mut DeviceWorld) {
    let n = network(w).await;
    let a: std::net::Ipv4Addr = n["Address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no IPv4 address in {n}"));
    assert!(a.is_link_local(), "{a} is not in 169.254.x.x");
    assert_eq!(n["IpMode"], "LinkLocal", "Network: {n}");
    assert_eq!(n["Netmask"], "255.255.0.0", "Network: {n}");
}

#[then(regex = r"^the status shows the Internet indicator (on|off)$")]
async fn internet(w: &mut DeviceWorld, how: String) {
    let n = network(w).await;
    assert_eq!(n["Internet"].as_bool(), Some(how == "on"), "Network: {n}");
}

#[then(regex = r"^the status shows the static address (\S+) with netmask (\S+)$")]
async fn static_shown(w: &mut DeviceWorld, ip: String, mask: String) {
    let n = network(w).await;
    assert_eq!(n["IpMode"], "Static", "Network: {n}");
    assert_eq!(n["Address"].as_str(), Some(ip.as_str()), "Network: {n}");
    assert_eq!(n["Netmask"].as_str(), Some(mask.as_str()), "Network: {n}");
}

#[then(regex = r#"^the configuration holds gateway "(.+)" and DNS "(.+)"$"#)]
async fn gateway_dns(w: &mut DeviceWorld, gw: String, dns: String) {
    let c = config(w).await;
    let st = &c["Ethernet"]["StaticIPv4"];
    assert_eq!(st["Gateway"].as_str(), Some(gw.as_str()), "{st}");
    assert_eq!(st["DNS"].as_str(), Some(dns.as_str()), "{st}");
}

#[then(regex = r"^the change is refused with a message that names IPv6$")]
fn refused_ipv6(w: &mut DeviceWorld) {
    match w.bench.patch.clone().expect("no change was sent") {
        Ok(c) => panic!("the change was accepted: {c}"),
        Err(e) => assert!(e.to_string().contains("IPv6"), "refusal {e}"),
    }
}

#[then(
    regex = r"^the status shows the hostname smart-connect- followed by the serial on the label$"
)]
async fn hostname(w: &mut DeviceWorld) {
    let serial = w.target().label().serial;
    let s = status(w).await;
    assert_eq!(
        s["System"]["Hostname"].as_str(),
        Some(format!("smart-connect-{serial}").as_str()),
        "System: {}",
        s["System"]
    );
}

#[then(regex = r#"^the status shows the mDNS name "(.+)"$"#)]
async fn mdns(w: &mut DeviceWorld, name: String) {
    let n = network(w).await;
    assert_eq!(n["Mdns"].as_str(), Some(name.as_str()), "Network: {n}");
}

/// `Network.Problem` (a simulator addition): from the status document, or, while the device
/// has no address, from the simulator's 503 answer, which carries the same `Network` member
/// (a real device would not answer at all: these scenarios are `@sim-convention`).
async fn network_problem(w: &mut DeviceWorld) -> (Value, String) {
    let a = w
        .target()
        .api()
        .send(Method::GET, "/api/v1/status", None)
        .await
        .expect("the simulator answers, with or without an address");
    assert!(
        a.status == 200 || a.status == 503,
        "GET /api/v1/status: {} {}",
        a.status,
        a.body
    );
    let detail = a.body["detail"].as_str().unwrap_or("").to_string();
    (a.body["Network"]["Problem"].clone(), detail)
}

#[then(regex = r"^the reported network problem mentions (.+)$")]
async fn problem_mentions(w: &mut DeviceWorld, text: String) {
    let (p, _) = network_problem(w).await;
    assert!(
        p.as_str().is_some_and(|p| p.contains(&text)),
        "Network.Problem {p} does not mention {text}"
    );
}

#[then(regex = r"^no network problem is reported$")]
async fn no_problem(w: &mut DeviceWorld) {
    let (p, _) = network_problem(w).await;
    assert!(p.is_null(), "Network.Problem: {p}");
}

#[then(regex = r"^the simulator's answer names the problem and a factory reset as the way out$")]
async fn way_out(w: &mut DeviceWorld) {
    let (p, detail) = network_problem(w).await;
    let p = p
        .as_str()
        .unwrap_or_else(|| panic!("no Network.Problem; detail {detail:?}"));
    assert!(
        detail.contains(p) && detail.contains("factory reset"),
        "the 503 detail {detail:?} lacks the problem {p:?} or the factory reset"
    );
}
