//! Steps on what the device reports about itself (status API), its P1 ext output and its
//! configuration.

use super::world::DeviceWorld;
use cucumber::{given, then, when};

async fn meter_state(w: &mut DeviceWorld) -> (String, String) {
    let s = w.target().status().await.expect("status");
    let st = &s["Meter"];
    (
        st["State"].as_str().unwrap_or("").to_string(),
        st["Reason"].as_str().unwrap_or("").to_string(),
    )
}

#[then(regex = r"^the device reports no meter data(?: because the meter is (incompatible))?$")]
async fn no_data(w: &mut DeviceWorld, because: String) {
    let (state, reason) = meter_state(w).await;
    assert_eq!(state, "no_data", "meter state (reason {reason:?})");
    if !because.is_empty() {
        assert_eq!(reason, because);
    }
}

#[then(regex = r"^the device still receives meter data$")]
async fn receiving(w: &mut DeviceWorld) {
    let (state, reason) = meter_state(w).await;
    assert_eq!(state, "receiving", "meter state (reason {reason:?})");
}

#[then(regex = r"^the device counts (\d+) rejected telegrams?$")]
async fn rejected(w: &mut DeviceWorld, n: u64) {
    let s = w.target().status().await.expect("status");
    assert_eq!(
        s["Meter"]["TelegramsRejected"].as_u64(),
        Some(n),
        "status: {s}"
    );
}

#[then(regex = r"^the P1 ext output carries every byte the meter sent, in order$")]
async fn p1_ext(w: &mut DeviceWorld) {
    let out = w.target().take_p1_ext().await.expect("p1 ext");
    assert!(!w.sent.is_empty(), "nothing was sent");
    assert!(
        out == w.sent,
        "P1 ext differs: sent {} bytes, ext carried {}",
        w.sent.len(),
        out.len()
    );
}

#[given(regex = r#"^the Smart Connect is configured with MeterType "(.+)"$"#)]
#[when(regex = r#"^the Smart Connect is configured with MeterType "(.+)"$"#)]
async fn meter_type(w: &mut DeviceWorld, name: String) {
    let res = w
        .target()
        .patch_config(serde_json::json!({ "MeterType": name }))
        .await
        .expect("config");
    match res {
        // Settings apply at restart: the installer restarts the device.
        Ok(_) => {
            w.target().reset().await.expect("reset");
            w.boot().await;
        }
        Err(e) => w.refusal = Some(e.to_string()),
    }
}

#[then(regex = r#"^the configuration is refused naming "(.+)" and "(.+)"$"#)]
fn refused(w: &mut DeviceWorld, a: String, b: String) {
    let msg = w.refusal.clone().expect("the configuration was accepted");
    assert!(msg.contains(&a) && msg.contains(&b), "refusal {msg:?}");
}
