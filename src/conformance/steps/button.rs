//! Button steps (BTN-01..04): a press of a given length, and what the status shows after it
//! (uptime, access point). What the press did is judged from outside: LED, registers, status.

use super::bench::status;
use super::world::DeviceWorld;
use cucumber::{given, then, when};

/// Press, hold for the time given (the meter keeps sending), release.
#[when(regex = r"^the button is (?:pressed|held) for (\d+) seconds?$")]
async fn press(w: &mut DeviceWorld, secs: i64) {
    w.target().button_down().await.expect("button");
    w.pass(secs * 1000).await;
    w.target().button_up().await.expect("button");
}

#[given(regex = r"^the status shows an uptime of (at least|less than) (\d+) seconds$")]
#[then(regex = r"^the status shows an uptime of (at least|less than) (\d+) seconds$")]
async fn uptime(w: &mut DeviceWorld, how: String, secs: i64) {
    let s = status(w).await;
    let up = s["System"]["UptimeS"]
        .as_i64()
        .unwrap_or_else(|| panic!("no System.UptimeS in {s}"));
    if how == "at least" {
        assert!(up >= secs, "uptime {up} s, expected at least {secs} s");
    } else {
        assert!(up < secs, "uptime {up} s, expected less than {secs} s");
    }
}

#[then(
    regex = r#"^the status shows an access point named "SC-" followed by the serial on the label$"#
)]
async fn access_point(w: &mut DeviceWorld) {
    let serial = w.target().label().serial;
    let s = status(w).await;
    assert_eq!(
        s["Network"]["AccessPoint"].as_str(),
        Some(format!("SC-{serial}").as_str()),
        "Network in the status: {}",
        s["Network"]
    );
}

#[then(regex = r"^the access point is off$")]
async fn access_point_off(w: &mut DeviceWorld) {
    let s = status(w).await;
    let ap = &s["Network"]["AccessPoint"];
    assert!(
        ap.is_null() || ap.as_str() == Some(""),
        "the access point {ap} is on"
    );
}
