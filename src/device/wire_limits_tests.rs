//! Regression tests: values from the wire at the limits of their types reach the device
//! without a panic (debug) or a silent wrap (release), each with the outcome its code
//! documents (issue "Hardening under abuse", item 8).
#![allow(clippy::arithmetic_side_effects)]

use super::meter::numeric_version;
use super::*;
use crate::device::config::Config;
use crate::device::meter::MeterState;
use crate::device::power::PowerInputs;
use crate::protocol::dsmr::{self, DsmrKind};
use crate::time::{at, ms, Instant};

/// A P1 device powered by USB-C at 0 and ticked until it runs; returns it and that time.
fn running_p1() -> (Device, Instant) {
    let mut d = Device::new(DeviceConfig::new(Variant::P1), Config::default());
    let usb = PowerInputs {
        usb: true,
        p1_supply: false,
    };
    d.handle(Event::Power(usb), at(0));
    let t0 = d.run_until_running(at(0));
    (d, t0)
}

/// An SMR 5 telegram with its version line set to `version` and a correct CRC.
fn smr5_with_version(version: &str) -> Vec<u8> {
    let r = super::tests::reading(DsmrKind::Smr5ThreePhase, 1380.0);
    dsmr::with_version(&dsmr::encode(&r, DsmrKind::Smr5ThreePhase), version)
}

#[test]
fn numeric_version_edges() {
    assert_eq!(numeric_version("4.2"), Some(42));
    assert_eq!(numeric_version("5.0"), Some(50));
    assert_eq!(numeric_version("0.0"), Some(0));
    assert_eq!(
        numeric_version("429496729.5"),
        Some(u32::MAX),
        "the largest that fits"
    );
    assert_eq!(
        numeric_version("429496729.6"),
        None,
        "u32::MAX + 1: unknown"
    );
    assert_eq!(
        numeric_version("999999999.9"),
        None,
        "× 10 overflows: unknown"
    );
    assert_eq!(
        numeric_version("4294967296.0"),
        None,
        "major does not fit a u32"
    );
    assert_eq!(numeric_version("4.10"), None, "two-digit minor is not 5.0");
    assert_eq!(numeric_version("3.10"), None, "two-digit minor is not 4.0");
    assert_eq!(numeric_version("-1.0"), None);
    assert_eq!(numeric_version("."), None);
    assert_eq!(numeric_version(""), None);
    assert_eq!(numeric_version("e-MUCS 50217"), None);
}

/// `1-3:0.2.8(999999999.9)` with a correct CRC panicked with "attempt to multiply with
/// overflow" in debug builds. Now the version is unknown: the telegram is accepted like an
/// e-MUCS one (only versions known to be older than DSMR 4.2 are refused, P1-02), with the
/// SMR 5 silence timeout of 3 s, and the status reports the version as printed.
#[test]
fn a_huge_dsmr_version_is_unknown_and_accepted() {
    let bytes = smr5_with_version("999999999.9");
    assert!(String::from_utf8_lossy(&bytes).contains("\r\n1-3:0.2.8(999999999.9)\r\n"));
    let parsed = dsmr::parse(&bytes).expect("the CRC is correct");
    assert_eq!(parsed.reading.version.as_deref(), Some("999999999.9"));

    let (mut d, t) = running_p1();
    let fx = d.handle(Event::SerialBytes(bytes), t + ms(1000));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::TelegramRejected(_))),
        "{fx:?}"
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Measurement(_))));
    assert!(fx.contains(&Effect::MeterStateChanged(MeterState::Receiving)));
    assert_eq!(d.values().active_power_phase_w[0], 1380.0);
    assert_eq!(d.meter_status().version.as_deref(), Some("999999999.9"));
    assert_eq!(
        d.next_deadline(),
        Some(t + ms(1000) + ms(3_000)),
        "SMR 5 timing"
    );
}

/// A version that wrapped in release builds to a value below 42 was refused as "older than
/// DSMR 4.2"; now it is unknown and accepted too.
#[test]
fn a_version_that_used_to_wrap_below_4_2_is_accepted() {
    // 429496730 × 10 = 2^32 + 4, which wrapped to 4: "DSMR 0.4".
    let (mut d, t) = running_p1();
    let fx = d.handle(Event::SerialBytes(smr5_with_version("429496730.0")), t);
    assert!(
        fx.contains(&Effect::MeterStateChanged(MeterState::Receiving)),
        "{fx:?}"
    );
}

#[test]
fn versions_older_than_4_2_are_still_refused() {
    let (mut d, t) = running_p1();
    let fx = d.handle(Event::SerialBytes(smr5_with_version("4.0")), t);
    assert!(
        fx.iter().any(|e| matches!(e, Effect::TelegramRejected(e) if e.kind == crate::protocol::ErrorKind::Incompatible)),
        "{fx:?}"
    );
}
