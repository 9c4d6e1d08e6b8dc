//! Power steps (PWR-01..04): a device without USB-C, plugging and unplugging USB-C, power
//! cycles, and whether the device answers at all.

use super::world::DeviceWorld;
use crate::device::Variant;
use cucumber::{given, then, when};

#[given(regex = r"^a Smart Connect (P1|TIC) without USB-C power$")]
async fn unpowered(w: &mut DeviceWorld, variant: String) {
    w.install(if variant == "P1" {
        Variant::P1
    } else {
        Variant::Tic
    })
    .await;
    w.supply(false).await;
}

#[given(regex = r"^USB-C power is plugged in$")]
#[when(regex = r"^USB-C power is plugged in$")]
async fn plug_usb(w: &mut DeviceWorld) {
    w.bench.usb_from = Some(w.sent.len());
    w.supply(true).await;
}

#[when(regex = r"^USB-C power is unplugged$")]
async fn unplug_usb(w: &mut DeviceWorld) {
    w.supply(false).await;
}

/// Every supply off (USB-C and the meter's P1 supply), then USB-C back on, and the boot.
#[when(regex = r"^the power is switched off for (\d+) seconds and on again$")]
async fn power_cycle(w: &mut DeviceWorld, s: i64) {
    w.usb = false;
    w.target().set_power(false, false).await.expect("power");
    w.pass(s * 1000).await;
    w.supply(true).await;
    w.boot().await;
}

#[then(regex = r"^the device does not answer over Modbus or HTTP$")]
async fn silent(w: &mut DeviceWorld) {
    let t = w.target();
    let modbus = t.modbus_read(3, 1, 0x8016, 2).await;
    if let Ok(reply) = &modbus {
        panic!("Modbus answered: {}", reply_text(reply));
    }
    let status = t.status().await;
    if let Ok(v) = &status {
        panic!("GET /api/v1/status answered: {v}");
    }
    let config = t.get_config().await;
    if let Ok(v) = &config {
        panic!("GET /api/v1/config answered: {v}");
    }
}

#[then(regex = r"^the device answers over Modbus and HTTP$")]
async fn answers(w: &mut DeviceWorld) {
    let t = w.target();
    let modbus = t.modbus_read(3, 1, 0x8016, 2).await;
    assert!(
        matches!(modbus, Ok(Ok(ref r)) if r.len() == 2),
        "Modbus: {modbus:?}"
    );
    t.status().await.expect("GET /api/v1/status");
    t.get_config().await.expect("GET /api/v1/config");
}

#[then(regex = r"^the P1 ext output carries nothing$")]
async fn ext_nothing(w: &mut DeviceWorld) {
    assert!(!w.sent.is_empty(), "the meter has sent nothing yet");
    let out = w.target().take_p1_ext().await.expect("p1 ext");
    assert!(
        out.is_empty(),
        "the P1 ext output carried {} bytes without USB-C power",
        out.len()
    );
}

#[then(
    regex = r"^the P1 ext output carries every byte the meter sent since USB-C power was plugged in$"
)]
async fn ext_since_usb(w: &mut DeviceWorld) {
    let from = w.bench.usb_from.expect("USB-C power was never plugged in");
    let want = w.sent[from..].to_vec();
    assert!(
        !want.is_empty(),
        "the meter sent nothing since USB-C was plugged in"
    );
    let out = w.target().take_p1_ext().await.expect("p1 ext");
    assert!(
        out == want,
        "P1 ext differs: the meter sent {} bytes since USB-C was plugged in, the ext output carried {}",
        want.len(),
        out.len()
    );
}

/// A Modbus answer in words: the registers in hex, or the exception by name.
pub fn reply_text(reply: &crate::dut::ModbusReply) -> String {
    match reply {
        Ok(words) => format!("registers {}", super::registers::hex_bytes(words)),
        Err(code) => crate::adapters::modbus_client::exception_text(*code),
    }
}
