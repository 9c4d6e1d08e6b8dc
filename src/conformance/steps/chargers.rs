//! Steps for Modbus clients as chargers: connections of their own to the device's Modbus
//! port, to check the one-client rule, the idle timeout and unit ids (MB-01..03, MB-10).

use super::world::DeviceWorld;
use crate::adapters::modbus_client::{describe, exception_text, ModbusClient};
use crate::conformance::decode::{first_pair, float_cd_ab};
use cucumber::{given, then, when};
use std::io::ErrorKind;

/// Read the total active power (0x8016, CD-AB float) with `client`, once.
async fn total_power(client: &mut ModbusClient, unit: u8) -> std::io::Result<f32> {
    match client.read_once(3, unit, 0x8016, 2).await? {
        Ok(r) => Ok(float_cd_ab(first_pair(&r).unwrap_or_else(|e| {
            panic!("Modbus read ({}): {e}", describe(3, unit, 0x8016, 2))
        }))),
        Err(code) => panic!(
            "Modbus read ({}) was answered with {}",
            describe(3, unit, 0x8016, 2),
            exception_text(code)
        ),
    }
}

/// A new charger: the harness's own register reads step aside first (one client at a time).
async fn new_charger(w: &mut DeviceWorld) -> ModbusClient {
    w.target().modbus_disconnect().await.expect("disconnect");
    ModbusClient::over(w.target().net(), w.target().modbus_addr())
}

/// Until when a new client may retry while a real-time device lets go of the previous
/// client (its `max_latency_ms`; at once when the harness drives the clock).
fn handover_deadline(w: &mut DeviceWorld) -> std::time::Instant {
    let budget = w.target().max_latency_ms().max(0) as u64;
    std::time::Instant::now() + std::time::Duration::from_millis(budget)
}

#[given(regex = r"^a charger connected over Modbus$")]
async fn first_charger(w: &mut DeviceWorld) {
    let mut c = new_charger(w).await;
    let p = total_power(&mut c, 1)
        .await
        .unwrap_or_else(|e| panic!("the first charger cannot read: {e}"));
    assert!(p.is_finite());
    w.chargers.push(c);
}

#[when(regex = r"^a second charger connects over Modbus$")]
async fn second_charger(w: &mut DeviceWorld) {
    let c = ModbusClient::over(w.target().net(), w.target().modbus_addr());
    w.second = Some(c);
}

#[then(regex = r"^the second connection is closed without a reply$")]
async fn second_refused(w: &mut DeviceWorld) {
    let c = w.second.as_mut().expect("no second charger");
    match total_power(c, 1).await {
        Ok(p) => panic!("the second charger got an answer ({p} W)"),
        Err(e) => assert_ne!(
            e.kind(),
            ErrorKind::TimedOut,
            "the device kept the second connection open without answering: {e}"
        ),
    }
}

#[then(
    regex = r"^the (first|second) charger (?:still )?reads a total active power of ([\d.\-]+) W$"
)]
async fn charger_reads(w: &mut DeviceWorld, which: String, want: f32) {
    let end = handover_deadline(w);
    let got = loop {
        let c = if which == "first" {
            w.chargers.first_mut().expect("no first charger")
        } else {
            w.second.as_mut().expect("no second charger")
        };
        match total_power(c, 1).await {
            Ok(got) => break got,
            // A real device may still be closing the previous client's connection.
            Err(_) if which == "second" && std::time::Instant::now() < end => {
                *c = c.fresh();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the {which} charger cannot read: {e}"),
        }
    };
    assert!((got - want).abs() < 0.5, "read {got} W, expected {want} W");
}

#[when(regex = r"^the first charger disconnects$")]
async fn first_leaves(w: &mut DeviceWorld) {
    let mut c = w.chargers.remove(0);
    c.disconnect().await;
    // The device notices the close on its side; give its server task a turn.
    tokio::task::yield_now().await;
}

#[then(regex = r"^the device has closed the first charger's connection$")]
async fn first_closed(w: &mut DeviceWorld) {
    let c = w.chargers.first_mut().expect("no first charger");
    match total_power(c, 1).await {
        Ok(p) => panic!("the connection is still open (read {p} W)"),
        Err(e) => assert_ne!(
            e.kind(),
            ErrorKind::TimedOut,
            "no answer but not closed: {e}"
        ),
    }
}

#[then(
    regex = r"^a read of 2 registers at 0x8016 for unit id (\d+) gives a total active power of ([\d.\-]+) W$"
)]
async fn unit_id(w: &mut DeviceWorld, unit: u8, want: f32) {
    let request = describe(3, unit, 0x8016, 2);
    let r = match w.target().modbus_read(3, unit, 0x8016, 2).await {
        Ok(Ok(r)) => r,
        Ok(Err(code)) => panic!(
            "Modbus read ({request}) was answered with {}; MB-03: the unit id is ignored, every unit id gets the data",
            exception_text(code)
        ),
        Err(e) => panic!("{e}; MB-03: the unit id is ignored, every unit id gets an answer"),
    };
    let got =
        float_cd_ab(first_pair(&r).unwrap_or_else(|e| panic!("Modbus read ({request}): {e}")));
    assert!(
        (got - want).abs() < 0.5,
        "Modbus read ({request}): total active power {got} W (bytes {}), expected {want} W",
        super::registers::hex_bytes(&r)
    );
}

#[then(
    regex = r"^a charger connecting to Modbus port 502 of the device reads a total active power of ([\d.\-]+) W$"
)]
async fn port_502(w: &mut DeviceWorld, want: f32) {
    let mut c = new_charger(w).await;
    let end = handover_deadline(w);
    let got = loop {
        match total_power(&mut c, 1).await {
            Ok(got) => break got,
            // A real device may still be closing the harness's own connection.
            Err(_) if std::time::Instant::now() < end => {
                c = c.fresh();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no Modbus answer on the device's address: {e}"),
        }
    };
    assert!(
        (got - want).abs() < 0.5,
        "read {got} W at 0x8016, expected {want} W"
    );
}

#[then(regex = r"^the device reports the DHCP address it was given$")]
async fn dhcp_address(w: &mut DeviceWorld) {
    let s = w.target().status().await.expect("status");
    assert_eq!(s["Network"]["IpMode"], "DHCP", "{s}");
    assert!(
        s["Network"]["Address"]
            .as_str()
            .is_some_and(|a| !a.starts_with("169.254.")),
        "{s}"
    );
}

#[then(regex = r"^the device reports the address ([\d.]+)$")]
async fn address(w: &mut DeviceWorld, want: String) {
    let s = w.target().status().await.expect("status");
    assert_eq!(s["Network"]["Address"], want.as_str(), "{s}");
}

#[when(
    regex = r"^the Ethernet settings are changed to the static address ([\d.]+)/(\d+) and the device restarts$"
)]
async fn go_static(w: &mut DeviceWorld, ip: String, prefix: String) {
    let patch = serde_json::json!({"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": ip, "Netmask": prefix}}});
    w.target()
        .patch_config(patch)
        .await
        .expect("config")
        .expect("accepted");
    w.target().reset().await.expect("reset");
    w.boot().await;
}

#[then(regex = r"^the second charger gets no register values$")]
async fn second_not_served(w: &mut DeviceWorld) {
    let c = w.second.as_mut().expect("no second charger");
    // Refused, closed, left unanswered or answered with an exception: any of these keeps to
    // one client at a time.
    if let Ok(Ok(r)) = c.read_once(3, 1, 0x8016, 2).await {
        panic!(
            "the device served a second Modbus client while the first was connected (it read \
             {} W at 0x8016); MB-02 allows one client connection at a time",
            first_pair(&r).map(float_cd_ab).unwrap_or(f32::NAN)
        );
    }
}
