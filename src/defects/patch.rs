//! `config-patch-partial`: a firmware without all-or-nothing PATCH (API-09 says a PATCH with
//! one bad value changes nothing).

use crate::device::config::{apply_patch, Config, ConfigErrors};
use serde_json::{json, Value};

/// What a firmware without all-or-nothing PATCH does (`config-patch-partial`):
/// every leaf of the patch is applied on its own, in document order; the valid ones stay
/// applied. Returns the configuration it ends with and the errors (or that config).
pub fn apply_patch_partially(
    current: &Config,
    patch: &Value,
) -> (Config, Result<Config, ConfigErrors>) {
    fn leaves(path: &mut Vec<String>, v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, x) in map {
                    path.push(k.clone());
                    leaves(path, x, out);
                    path.pop();
                }
            }
            leaf => out.push(
                path.iter()
                    .rev()
                    .fold(leaf.clone(), |acc, k| json!({ k.as_str(): acc })),
            ),
        }
    }
    if !patch.is_object() {
        return (current.clone(), apply_patch(current, patch));
    }
    let mut parts = Vec::new();
    leaves(&mut Vec::new(), patch, &mut parts);
    let mut acc = current.clone();
    let mut errs = Vec::new();
    for part in &parts {
        match apply_patch(&acc, part) {
            Ok(c) => acc = c,
            Err(e) => errs.extend(e.into_vec()),
        }
    }
    let res = ConfigErrors::check(errs).map(|()| acc.clone());
    (acc, res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_good_leaf_is_applied_and_every_bad_one_named() {
        let cur = apply_patch(&Config::default(), &json!({"MQTT": {"Site": "before"}})).unwrap();
        let p = json!({"MQTT": {"Site": "after", "Broker": "x", "Username": "y".repeat(129)},
            "WiFi": {"Password": "1"}});
        let (partial, res) = apply_patch_partially(&cur, &p);
        assert_eq!(partial.mqtt.site, "after");
        let e = res.unwrap_err();
        assert_eq!(
            e.pointers(),
            ["/WiFi/Password", "/MQTT/Broker", "/MQTT/Username"]
        );
    }
}
