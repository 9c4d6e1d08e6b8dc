//! Then-steps that read the register map over Modbus, as a charger would.

use super::setup::phase_index;
use super::world::DeviceWorld;
use crate::device::registers::{f32_abcd, f32_cdab};
use cucumber::gherkin::Step;
use cucumber::then;

pub fn hex(s: &str) -> u16 {
    u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("{s:?} is not a hex address"))
}

async fn read(w: &mut DeviceWorld, fc: u8, addr: u16, qty: u16) -> Vec<u16> {
    match w
        .target()
        .modbus_read(fc, 1, addr, qty)
        .await
        .expect("modbus")
    {
        Ok(words) => words,
        Err(code) => panic!("read of {qty} at 0x{addr:04X} (fc {fc}) got exception 0x{code:02X}"),
    }
}

async fn float(w: &mut DeviceWorld, fc: u8, addr: u16, abcd: bool) -> f32 {
    let r = read(w, fc, addr, 2).await;
    if abcd {
        f32_abcd([r[0], r[1]])
    } else {
        f32_cdab([r[0], r[1]])
    }
}

fn close(got: f32, want: f64, what: &str) {
    assert!(
        (f64::from(got) - want).abs() < 0.05,
        "{what}: read {got}, expected {want}"
    );
}

/// EMPro address of a named quantity.
fn address(quantity: &str, phase: usize) -> u16 {
    match quantity {
        "voltage" => 0x8006 + 2 * phase as u16,
        "current" => 0x800E + 2 * phase as u16,
        "active power" => 0x801E + 2 * phase as u16,
        other => panic!("unknown quantity {other:?}"),
    }
}

#[then(regex = r"^the total active power reads ([\d.\-]+) W$")]
async fn total_power(w: &mut DeviceWorld, want: f64) {
    let got = float(w, 3, 0x8016, false).await;
    close(got, want, "total active power (0x8016)");
}

#[then(regex = r"^the (voltage|current|active power) on (L[123]) reads ([\d.\-]+) (?:V|A|W)$")]
async fn phase_value(w: &mut DeviceWorld, quantity: String, phase: String, want: f64) {
    let a = address(&quantity, phase_index(&phase));
    let got = float(w, 3, a, false).await;
    close(got, want, &format!("{quantity} {phase} (0x{a:04X})"));
}

#[then(regex = r"^the (voltage|current|active power) on L1, L2 and L3 reads ([\d.\-]+) (?:V|A|W)$")]
async fn all_phases(w: &mut DeviceWorld, quantity: String, want: f64) {
    for p in 0..3 {
        let a = address(&quantity, p);
        let got = float(w, 3, a, false).await;
        close(got, want, &format!("{quantity} L{} (0x{a:04X})", p + 1));
    }
}

#[then(regex = r#"^register (0x[0-9A-Fa-f]+) holds the bytes "([0-9A-Fa-f ]+)"$"#)]
async fn register_bytes(w: &mut DeviceWorld, addr: String, bytes: String) {
    let want: Vec<u8> = bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let got: Vec<u8> = read(w, 3, hex(&addr), (want.len() / 2) as u16)
        .await
        .iter()
        .flat_map(|r| r.to_be_bytes())
        .collect();
    assert_eq!(got, want, "bytes at {addr}");
}

#[then(
    regex = r"^reading 2 registers at (0x[0-9A-Fa-f]+)(?: with function code (0x0[34]))? as an? (CD-AB|AB-CD) float gives ([\d.\-]+)$"
)]
async fn float_at(w: &mut DeviceWorld, addr: String, fc: String, order: String, want: f64) {
    let fc = if fc.is_empty() { 3 } else { hex(&fc) as u8 };
    let got = float(w, fc, hex(&addr), order == "AB-CD").await;
    close(got, want, &format!("{order} float at {addr}"));
}

#[then(regex = r"^the registers read$")]
async fn registers_table(w: &mut DeviceWorld, step: &Step) {
    let table = step
        .table
        .as_ref()
        .expect("a table: address | quantity | value");
    for row in table.rows.iter().skip(1) {
        let got = float(w, 3, hex(&row[0]), false).await;
        close(
            got,
            row[2].parse().expect("a number"),
            &format!("{} at {}", row[1], row[0]),
        );
    }
}

#[then(regex = r"^every register from (0x[0-9A-Fa-f]+) to (0x[0-9A-Fa-f]+) reads 0$")]
async fn all_zero(w: &mut DeviceWorld, from: String, to: String) {
    let (a, b) = (hex(&from), hex(&to));
    let words = read(w, 3, a, b - a + 1).await;
    assert!(
        words.iter().all(|&x| x == 0),
        "registers {from}..{to}: {words:04X?}"
    );
}

#[then(
    regex = r"^function codes 0x03 and 0x04 return the same (\d+) registers at (0x[0-9A-Fa-f]+)$"
)]
async fn fc3_fc4(w: &mut DeviceWorld, qty: u16, addr: String) {
    let a = read(w, 3, hex(&addr), qty).await;
    let b = read(w, 4, hex(&addr), qty).await;
    assert_eq!(a, b, "FC 0x03 and 0x04 at {addr}");
    assert!(
        a.iter().any(|&x| x != 0) || hex(&addr) == 0x8100,
        "the read at {addr} should carry live values"
    );
}

#[then(
    regex = r"^one read of (\d+) registers at 0x8006 shows the last telegram's values on every phase$"
)]
async fn consistent(w: &mut DeviceWorld, qty: u16) {
    let r = read(w, 3, 0x8006, qty).await;
    let last = w.last_reading.clone().expect("no telegram sent yet");
    let at = |reg: u16| {
        f32_cdab([
            r[usize::from(reg - 0x8006)],
            r[usize::from(reg - 0x8006) + 1],
        ])
    };
    for p in 0..3 {
        let o = 2 * p as u16;
        close(
            at(0x8006 + o),
            f64::from(last.voltage_v[p].unwrap_or(0.0)),
            "voltage",
        );
        close(
            at(0x800E + o),
            f64::from(last.current_a[p].unwrap_or(0.0)),
            "current",
        );
        close(
            at(0x801E + o),
            f64::from(last.active_power_phase_w[p].unwrap_or(0.0)),
            "phase power",
        );
    }
    close(
        at(0x8016),
        f64::from(last.active_power_w.unwrap_or(0.0)),
        "total power",
    );
}

#[then(
    regex = r"^a read of (\d+) registers at (0x[0-9A-Fa-f]+) with function code (0x[0-9A-Fa-f]+) gets exception (0x0[1-4])$"
)]
async fn exception(w: &mut DeviceWorld, qty: u16, addr: String, fc: String, code: String) {
    let got = w
        .target()
        .modbus_read(hex(&fc) as u8, 1, hex(&addr), qty)
        .await
        .expect("modbus");
    assert_eq!(
        got,
        Err(hex(&code) as u8),
        "read of {qty} at {addr} with fc {fc}"
    );
}

#[then(
    regex = r"^a read of (\d+) registers at (0x[0-9A-Fa-f]+) with function code (0x[0-9A-Fa-f]+) is answered$"
)]
async fn answered(w: &mut DeviceWorld, qty: u16, addr: String, fc: String) {
    let got = w
        .target()
        .modbus_read(hex(&fc) as u8, 1, hex(&addr), qty)
        .await
        .expect("modbus");
    assert_eq!(
        got.map(|r| r.len()),
        Ok(usize::from(qty)),
        "read of {qty} at {addr}"
    );
}
