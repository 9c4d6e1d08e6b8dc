//! Steps for a power loss in the middle of a save (API-10): the setting's value before, the
//! change sent with the power cut while the device writes it, and the verdict that the device
//! comes back with the old or the new value, never a broken configuration.

use super::bench::{at, config, patch_of, scenario_value};
use super::world::DeviceWorld;
use cucumber::{then, when};
use serde_json::Value;

#[when(
    regex = r#"^the power fails while the setting (\S+) is being set to (".*"|true|false|-?\d+)$"#
)]
async fn power_fails_while_saving(w: &mut DeviceWorld, name: String, value: String) {
    let before = config(w).await;
    w.bench.config_before = Some(before);
    w.usb = false;
    w.target()
        .lose_power_while_saving(patch_of(&name, scenario_value(&value)))
        .await
        .expect("the bench could not send the change and cut the power");
}

#[when(regex = r"^the power comes back$")]
async fn power_back(w: &mut DeviceWorld) {
    w.supply(true).await;
    w.boot().await;
}

#[then(
    regex = r#"^the setting (\S+) is either ("[^"]*"|true|false|-?\d+) or ("[^"]*"|true|false|-?\d+)$"#
)]
async fn setting_is_either(w: &mut DeviceWorld, name: String, old: String, new: String) {
    let c = config(w).await;
    let got = at(&c, &name).cloned().unwrap_or(Value::Null);
    let (old, new) = (scenario_value(&old), scenario_value(&new));
    assert!(
        got == old || got == new,
        "after a power loss during the save {name} is {got}, neither the old value {old} nor \
         the new value {new}: the write was not atomic (a torn or lost configuration)"
    );
    let before = w.bench.config_before.clone().unwrap_or(Value::Null);
    for key in ["MeterType", "Ethernet", "WiFi", "MQTT"] {
        if name.split('.').next() == Some(key) {
            continue;
        }
        assert_eq!(
            c.get(key),
            before.get(key),
            "{key} changed across the power loss although only {name} was being saved"
        );
    }
}
