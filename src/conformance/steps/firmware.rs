//! Firmware steps (FW-01/02): the update server the rig provides, the update request over
//! HTTP, and the update state as a client polling `GET /api/v1/firmware` every second sees it.

use super::bench::status;
use super::world::DeviceWorld;
use cucumber::{given, then, when};
use serde_json::Value;

/// The update state in a `GET /api/v1/firmware` answer: `Update` is the state's name, or an
/// object carrying it in `state` (with `reason` when it failed).
fn update_state(fw: &Value) -> (String, Option<String>) {
    let u = &fw["Update"];
    let name = u
        .as_str()
        .or_else(|| u["state"].as_str())
        .unwrap_or_else(|| panic!("no update state in {fw}"));
    let reason = u["reason"].as_str().or_else(|| fw["Reason"].as_str());
    (name.to_string(), reason.map(String::from))
}

fn version(fw: &Value) -> String {
    fw["Version"]
        .as_str()
        .unwrap_or_else(|| panic!("no Version in {fw}"))
        .to_string()
}

async fn get_firmware(w: &mut DeviceWorld) -> Value {
    w.target()
        .firmware()
        .await
        .expect("GET /api/v1/firmware does not answer")
}

#[given(regex = r"^the update server offers (firmware|a corrupt image) (\S+)$")]
async fn offers(w: &mut DeviceWorld, what: String, v: String) {
    let good = what == "firmware";
    w.target()
        .offer_firmware(&v, good)
        .await
        .expect("update server");
}

#[when(regex = r"^an update to (\S+) is requested over HTTP$")]
async fn request(w: &mut DeviceWorld, v: String) {
    let fw = get_firmware(w).await;
    w.bench.firmware_before = Some(version(&fw));
    let r = w
        .target()
        .update_firmware(&v)
        .await
        .expect("POST /api/v1/firmware does not answer");
    w.bench.update = Some(r);
}

#[then(regex = r"^the update is accepted$")]
fn accepted(w: &mut DeviceWorld) {
    let r = w.bench.update.clone().expect("no update was requested");
    assert_eq!(r, Ok(()), "the update request was refused");
}

#[then(regex = r"^the update is refused$")]
fn refused(w: &mut DeviceWorld) {
    let r = w.bench.update.clone().expect("no update was requested");
    assert!(r.is_err(), "the update request was accepted");
}

/// The refusal names the version asked for and every version the firmware API lists under
/// `Offered` ([sim], FW-02).
#[then(regex = r"^the update is refused naming (\S+) and the versions on offer$")]
async fn refused_naming_offer(w: &mut DeviceWorld, version: String) {
    let r = w.bench.update.clone().expect("no update was requested");
    let Err(why) = r else {
        panic!("the update request was accepted")
    };
    assert!(
        why.contains(&version),
        "the refusal does not name {version}: {why}"
    );
    let fw = get_firmware(w).await;
    let offered = fw["Offered"]
        .as_array()
        .unwrap_or_else(|| panic!("the firmware API lists no \"Offered\" versions: {fw}"));
    assert!(!offered.is_empty(), "nothing on offer: {fw}");
    for v in offered {
        let v = v.as_str().unwrap_or_else(|| panic!("not a version: {v}"));
        assert!(
            why.contains(v),
            "the refusal does not name {v}, on offer: {why}"
        );
    }
}

/// `System.FirmwareError` in the status says why the update to `version` failed ([sim],
/// FW-02).
#[then(regex = r"^the status shows why the update to (\S+) failed$")]
async fn status_says_why(w: &mut DeviceWorld, version: String) {
    let s = status(w).await;
    let why = s["System"]["FirmwareError"].as_str().unwrap_or_default();
    assert!(
        why.contains(&version) && why.len() > version.len(),
        "System.FirmwareError does not say why the update to {version} failed: {s}"
    );
}

#[then(regex = r#"^the firmware API reports a version number and the update state "(\w+)"$"#)]
async fn reports(w: &mut DeviceWorld, state: String) {
    let fw = get_firmware(w).await;
    let v = version(&fw);
    let parts: Vec<&str> = v.split('.').collect();
    assert!(
        parts.len() >= 2 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "version {v:?} is not a version number"
    );
    assert_eq!(update_state(&fw).0, state, "firmware: {fw}");
}

#[then(regex = r"^the status reports the same firmware version$")]
async fn status_same(w: &mut DeviceWorld) {
    let v = version(&get_firmware(w).await);
    let s = status(w).await;
    assert_eq!(s["System"]["Firmware"].as_str(), Some(v.as_str()), "{s}");
}

#[then(regex = r"^the status reports firmware version (\S+)$")]
async fn status_version(w: &mut DeviceWorld, v: String) {
    let s = status(w).await;
    assert_eq!(s["System"]["Firmware"].as_str(), Some(v.as_str()), "{s}");
}

#[then(regex = r"^the firmware version is still the one from before the update$")]
async fn still_old(w: &mut DeviceWorld) {
    let before = w
        .bench
        .firmware_before
        .clone()
        .expect("no update requested");
    let fw = get_firmware(w).await;
    assert_eq!(version(&fw), before, "firmware: {fw}");
    let s = status(w).await;
    assert_eq!(s["System"]["Firmware"].as_str(), Some(before.as_str()));
}

/// Poll every second (the first poll at once) until the update ends, for at most 2 minutes.
/// States are listed once each in the order seen; while the device restarts it does not
/// answer, which is not a state.
#[then(
    regex = r"^polling the firmware API every second shows (.+) and then (idle on version (\S+)|failed with a reason)$"
)]
async fn polling(w: &mut DeviceWorld, list: String, end: String, new_version: String) {
    let want: Vec<String> = list.split(", ").map(|s| s.trim().to_string()).collect();
    let failed = end.starts_with("failed");
    let mut seen: Vec<String> = Vec::new();
    let mut last: Option<Value> = None;
    for _ in 0..120 {
        if let Ok(fw) = w.target().firmware().await {
            let (state, _) = update_state(&fw);
            let done = if failed {
                state == "failed"
            } else {
                state == "idle" && !seen.is_empty()
            };
            if done {
                last = Some(fw);
                break;
            }
            if seen.last() != Some(&state) {
                seen.push(state);
            }
        }
        w.pass(1_000).await;
    }
    let fw = last.unwrap_or_else(|| panic!("the update did not end; states seen: {seen:?}"));
    assert_eq!(seen, want, "states seen before the end ({fw})");
    if failed {
        let (_, reason) = update_state(&fw);
        assert!(
            reason.is_some_and(|r| !r.trim().is_empty()),
            "failed without a reason: {fw}"
        );
    } else {
        assert_eq!(version(&fw), new_version, "firmware: {fw}");
    }
}
