//! Then-steps that read the register map over Modbus, as a charger would. Every message
//! shows register contents in hex with a decoding hint, and names the request (unit id,
//! function code, address, quantity) and any exception by name. Against a real-time target
//! a step expecting values polls until the target's `max_latency_ms` after the last
//! telegram has passed, then says whether the device was late or wrong.

use super::setup::phase_index;
use super::world::DeviceWorld;
use crate::adapters::modbus_client::{describe, exception_text};
use crate::conformance::decode::{first_pair, float_ab_cd, float_cd_ab};
use cucumber::gherkin::Step;
use cucumber::then;

pub fn hex(s: &str) -> u16 {
    u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("{s:?} is not a hex address"))
}

/// Registers as the bytes on the wire: `00 00 43 66`.
pub fn hex_bytes(words: &[u16]) -> String {
    words
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One read; an exception answer or no answer fails the step with the request named.
pub async fn read(w: &mut DeviceWorld, fc: u8, addr: u16, qty: u16) -> Vec<u16> {
    match w
        .target()
        .modbus_read(fc, 1, addr, qty)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        Ok(words) => words,
        Err(code) => panic!(
            "Modbus read ({}) was answered with {}",
            describe(fc, 1, addr, qty),
            exception_text(code)
        ),
    }
}

/// Read until `check` accepts the registers. When the target allows a latency, keep reading
/// until it has passed since the last telegram, then fail with `check`'s last complaint and
/// the question a firmware engineer asks: late, or wrong?
pub async fn expect_words(
    w: &mut DeviceWorld,
    fc: u8,
    addr: u16,
    qty: u16,
    check: impl Fn(&[u16]) -> Result<(), String>,
) {
    let deadline = w.values_deadline();
    if let (Some((end, _)), true) = (deadline, w.last_sent_damaged) {
        // What must stay unchanged is judged once the device had all the time it may take.
        tokio::time::sleep_until(end.into()).await;
    }
    let mut polls = 0u32;
    loop {
        let words = read(w, fc, addr, qty).await;
        polls += 1;
        let complaint = match check(&words) {
            Ok(()) => return,
            Err(c) => c,
        };
        match deadline {
            Some((end, _)) if std::time::Instant::now() < end => {
                // Real time on a real-time device: look again shortly.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Some((_, budget)) => panic!(
                "{complaint} — still so {budget} ms after the last telegram ({polls} reads): \
                 late, or wrong? (the target file allows max_latency_ms: {budget})"
            ),
            None => panic!("{complaint}"),
        }
    }
}

/// What a float register pair says, read both ways, for a message.
fn float_hint(words: [u16; 2], want: f64) -> String {
    let cdab = float_cd_ab(words);
    let abcd = float_ab_cd(words);
    if cdab.is_nan() {
        return " — NaN: a value the telegram lacks must read 0 (MB-13)".into();
    }
    if (f64::from(abcd) - want).abs() < 0.05 && (f64::from(cdab) - want).abs() >= 0.05 {
        return format!(
            " — these bytes are {want} in AB CD order (no word swap); the manual wants CD AB \
             (big-endian word swap: 230.0 = 00 00 43 66)"
        );
    }
    String::new()
}

/// Check a CD-AB float register pair against `want`.
fn float_is(words: &[u16], want: f64, what: &str) -> Result<(), String> {
    let pair = first_pair(words).map_err(|e| format!("{what}: {e}"))?;
    let got = float_cd_ab(pair);
    if (f64::from(got) - want).abs() < 0.05 {
        return Ok(());
    }
    Err(format!(
        "{what}: read {got} (bytes {}), expected {want}{}",
        hex_bytes(&pair),
        float_hint(pair, want)
    ))
}

/// EMPro address of a named quantity.
pub fn address(quantity: &str, phase: usize) -> u16 {
    match quantity {
        "voltage" => 0x8006 + 2 * phase as u16,
        "current" => 0x800E + 2 * phase as u16,
        "active power" => 0x801E + 2 * phase as u16,
        other => panic!("unknown quantity {other:?}"),
    }
}

/// Expect the CD-AB float at `addr` (function code `fc`) to read `want`.
async fn expect_float(w: &mut DeviceWorld, fc: u8, addr: u16, want: f64, what: &str) {
    let what = format!("{what} (0x{addr:04X})");
    expect_words(w, fc, addr, 2, |r| float_is(r, want, &what)).await;
}

#[then(regex = r"^the total active power reads ([\d.\-]+) W$")]
async fn total_power(w: &mut DeviceWorld, want: f64) {
    expect_float(w, 3, 0x8016, want, "total active power").await;
}

#[then(regex = r"^the (voltage|current|active power) on (L[123]) reads ([\d.\-]+) (?:V|A|W)$")]
async fn phase_value(w: &mut DeviceWorld, quantity: String, phase: String, want: f64) {
    let a = address(&quantity, phase_index(&phase));
    expect_float(w, 3, a, want, &format!("{quantity} {phase}")).await;
}

#[then(regex = r"^the (voltage|current|active power) on L1, L2 and L3 reads ([\d.\-]+) (?:V|A|W)$")]
async fn all_phases(w: &mut DeviceWorld, quantity: String, want: f64) {
    for p in 0..3 {
        let a = address(&quantity, p);
        expect_float(w, 3, a, want, &format!("{quantity} L{}", p + 1)).await;
    }
}

#[then(regex = r#"^register (0x[0-9A-Fa-f]+) holds the bytes "([0-9A-Fa-f ]+)"$"#)]
async fn register_bytes(w: &mut DeviceWorld, addr: String, bytes: String) {
    let want: Vec<u8> = bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("{b:?} is not a hex byte")))
        .collect();
    let qty = (want.len() / 2) as u16;
    expect_words(w, 3, hex(&addr), qty, |r| {
        let got: Vec<u8> = r.iter().flat_map(|x| x.to_be_bytes()).collect();
        if got == want {
            return Ok(());
        }
        let mut hint = String::new();
        if got.len() == 4 && got[..2] == want[2..] && got[2..] == want[..2] {
            hint = " — the two registers are in the other order: this is AB CD, the manual wants \
                    CD AB (big-endian word swap)"
                .into();
        }
        Err(format!(
            "register {addr}: read the bytes {}, expected {}{hint}",
            hex_bytes(r),
            bytes.to_uppercase()
        ))
    })
    .await;
}

#[then(
    regex = r"^reading 2 registers at (0x[0-9A-Fa-f]+)(?: with function code (0x0[34]))? as an? (CD-AB|AB-CD) float gives ([\d.\-]+)$"
)]
async fn float_at(w: &mut DeviceWorld, addr: String, fc: String, order: String, want: f64) {
    let fc = if fc.is_empty() { 3 } else { hex(&fc) as u8 };
    let abcd = order == "AB-CD";
    expect_words(w, fc, hex(&addr), 2, |r| {
        let pair = first_pair(r).map_err(|e| format!("{order} float at {addr}: {e}"))?;
        let got = if abcd { float_ab_cd(pair) } else { float_cd_ab(pair) };
        if (f64::from(got) - want).abs() < 0.05 {
            Ok(())
        } else {
            Err(format!(
                "{order} float at {addr} (function 0x{fc:02X}): read {got} (bytes {}), expected {want}{}",
                hex_bytes(&pair),
                if abcd { String::new() } else { float_hint(pair, want) }
            ))
        }
    })
    .await;
}

#[then(regex = r"^the registers read$")]
async fn registers_table(w: &mut DeviceWorld, step: &Step) {
    let table = step
        .table
        .as_ref()
        .expect("a table: address | quantity | value");
    for row in table.rows.iter().skip(1) {
        let want: f64 = row[2]
            .parse()
            .unwrap_or_else(|_| panic!("{:?} is not a number", row[2]));
        expect_float(w, 3, hex(&row[0]), want, &row[1]).await;
    }
}

#[then(regex = r"^every register from (0x[0-9A-Fa-f]+) to (0x[0-9A-Fa-f]+) reads 0$")]
async fn all_zero(w: &mut DeviceWorld, from: String, to: String) {
    let (a, b) = (hex(&from), hex(&to));
    let words = read(w, 3, a, b - a + 1).await;
    let nonzero: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(_, &x)| x != 0)
        .map(|(i, x)| format!("0x{:04X} = {x:04X}", a + i as u16))
        .collect();
    assert!(
        nonzero.is_empty(),
        "registers {from}..{to} should all read 0; these do not: {}",
        nonzero.join(", ")
    );
}

#[then(
    regex = r"^function codes 0x03 and 0x04 return the same (\d+) registers at (0x[0-9A-Fa-f]+)$"
)]
async fn fc3_fc4(w: &mut DeviceWorld, qty: u16, addr: String) {
    let at = hex(&addr);
    let a = read(w, 3, at, qty).await;
    let b = read(w, 4, at, qty).await;
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!(
            "function 0x03 and 0x04 differ at 0x{:04X}: holding register {:04X}, input register {:04X} ({} of {qty} registers differ)",
            at + i as u16,
            a[i],
            b[i],
            (0..a.len()).filter(|&i| a[i] != b[i]).count()
        );
    }
    assert!(
        a.iter().any(|&x| x != 0) || at >= 0x8100,
        "the {qty} registers at {addr} all read 0 with both function codes: they should carry live values"
    );
}

#[then(
    regex = r"^a read of (\d+) registers at (0x[0-9A-Fa-f]+) with function code (0x[0-9A-Fa-f]+) gets exception (0x0[1-4])$"
)]
async fn exception(w: &mut DeviceWorld, qty: u16, addr: String, fc: String, code: String) {
    let (fc, at, want) = (hex(&fc) as u8, hex(&addr), hex(&code) as u8);
    let got = w
        .target()
        .modbus_read(fc, 1, at, qty)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = describe(fc, 1, at, qty);
    match got {
        Err(c) if c == want => {}
        Err(c) => panic!(
            "Modbus read ({request}) got {}, expected {}",
            exception_text(c),
            exception_text(want)
        ),
        Ok(words) => panic!(
            "Modbus read ({request}) was answered with {} registers ({}), expected {}",
            words.len(),
            hex_bytes(&words[..words.len().min(8)]),
            exception_text(want)
        ),
    }
}

#[then(
    regex = r"^a read of (\d+) registers at (0x[0-9A-Fa-f]+) with function code (0x[0-9A-Fa-f]+) is answered$"
)]
async fn answered(w: &mut DeviceWorld, qty: u16, addr: String, fc: String) {
    let words = read(w, hex(&fc) as u8, hex(&addr), qty).await;
    assert_eq!(
        words.len(),
        usize::from(qty),
        "read of {qty} at {addr}: {} registers in the answer",
        words.len()
    );
}
