//! Configuration steps (API-03, API-04, API-09..11): `GET` and `PATCH /api/v1/config` with
//! settings named the way the manual writes them, dotted (`Ethernet.StaticIPv4.IpAddress`).

use super::bench::{at, config, leaves, must_patch, patch_of, scenario_value, send_patch};
use super::world::DeviceWorld;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::Value;

/// A table cell against a JSON value: `(any)` only asks that the setting exists; `true` /
/// `false` are booleans; an empty cell is the empty string.
fn cell_matches(cell: &str, v: &Value) -> bool {
    match (cell, v) {
        ("(any)", _) => true,
        (c, Value::Bool(b)) => c == b.to_string(),
        (c, Value::Number(n)) => c == n.to_string(),
        (c, Value::String(s)) => c == s,
        _ => false,
    }
}

#[then(regex = r"^the configuration contains$")]
async fn contains(w: &mut DeviceWorld, step: &Step) {
    let table = step.table.as_ref().expect("a table: setting | value");
    let c = config(w).await;
    for row in table.rows.iter().skip(1) {
        let (name, want) = (&row[0], row.get(1).map_or("", String::as_str));
        let got = at(&c, name).unwrap_or_else(|| panic!("no setting {name} in {c}"));
        assert!(
            !got.is_object(),
            "{name} is a group of settings, not a setting"
        );
        assert!(
            cell_matches(want, got),
            "{name} is {got}, expected {want:?}"
        );
    }
}

#[given(regex = r"^the configuration has been read$")]
async fn read_before(w: &mut DeviceWorld) {
    let c = config(w).await;
    w.bench.config_before = Some(c);
}

#[given(regex = r#"^the setting (\S+) has been set to (".*"|true|false|-?\d+)$"#)]
async fn has_been_set(w: &mut DeviceWorld, name: String, value: String) {
    must_patch(w, patch_of(&name, scenario_value(&value))).await;
}

/// The configuration before the scenario's first change is remembered (unless a step read it
/// already), so "the configuration is unchanged" can compare with it.
async fn remember_before(w: &mut DeviceWorld) {
    if w.bench.config_before.is_none() {
        let c = config(w).await;
        w.bench.config_before = Some(c);
    }
}

#[when(regex = r#"^the setting (\S+) is set to (".*"|true|false|-?\d+)$"#)]
async fn set_one(w: &mut DeviceWorld, name: String, value: String) {
    remember_before(w).await;
    let _ = send_patch(w, patch_of(&name, scenario_value(&value))).await;
}

#[when(regex = r"^the settings are changed with$")]
async fn set_many(w: &mut DeviceWorld, step: &Step) {
    let doc = step.docstring.as_ref().expect("a JSON document");
    let patch: Value = serde_json::from_str(doc).expect("the scenario's JSON");
    remember_before(w).await;
    let _ = send_patch(w, patch).await;
}

#[then(regex = r"^the change is accepted$")]
fn change_accepted(w: &mut DeviceWorld) {
    match w.bench.patch.clone().expect("no change was sent") {
        Ok(_) => {}
        Err(e) => panic!("the change was refused: {e}"),
    }
}

/// The error names the field as a JSON pointer (`/MQTT/Broker`) or dotted (`MQTT.Broker`).
#[then(regex = r"^the change is refused naming (\S+)$")]
fn change_refused(w: &mut DeviceWorld, name: String) {
    match w.bench.patch.clone().expect("no change was sent") {
        Ok(c) => panic!("the change was accepted: {c}"),
        Err(e) => {
            let text = e.to_string();
            let pointer = format!("/{}", name.replace('.', "/"));
            assert!(
                text.contains(&pointer) || text.contains(&name),
                "the refusal {text} does not name {name}"
            );
        }
    }
}

/// Every refused setting is listed in the error's `errors` (RFC 9457), in the order the
/// scenario names them — the order of the configuration document ([sim], API-09).
#[then(regex = r"^the change is refused naming each of (.+)$")]
fn change_refused_naming_each(w: &mut DeviceWorld, names: String) {
    let want: Vec<String> = names
        .split(", ")
        .flat_map(|n| n.split(" and "))
        .map(|n| format!("/{}", n.trim().replace('.', "/")))
        .collect();
    let e = match w.bench.patch.clone().expect("no change was sent") {
        Ok(c) => panic!("the change was accepted: {c}"),
        Err(e) => e,
    };
    let got: Vec<&str> = e["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("the refusal has no \"errors\" list: {e}"))
        .iter()
        .map(|x| x["pointer"].as_str().unwrap_or("(no pointer)"))
        .collect();
    assert_eq!(got, want, "the settings the refusal names: {e}");
}

#[then(regex = r"^the configuration is unchanged$")]
async fn unchanged(w: &mut DeviceWorld) {
    let before = w
        .bench
        .config_before
        .clone()
        .expect("the configuration was not read before");
    let now = config(w).await;
    assert_eq!(now, before, "the configuration changed");
}

#[then(regex = r#"^only (\S+) has changed, to (".*"|true|false|-?\d+)$"#)]
async fn only_changed(w: &mut DeviceWorld, name: String, value: String) {
    let before = leaves(
        w.bench
            .config_before
            .as_ref()
            .expect("the configuration was not read before"),
    );
    let now = leaves(&config(w).await);
    let mut changed: Vec<&String> = now
        .keys()
        .chain(before.keys())
        .filter(|k| now.get(*k) != before.get(*k))
        .collect();
    changed.sort();
    changed.dedup();
    assert_eq!(changed, vec![&name], "settings that changed");
    assert_eq!(now[&name], scenario_value(&value), "{name}");
}

#[then(regex = r#"^the setting (\S+) is (".*"|true|false|-?\d+)$"#)]
async fn setting_is(w: &mut DeviceWorld, name: String, value: String) {
    let c = config(w).await;
    let got = at(&c, &name).unwrap_or_else(|| panic!("no setting {name} in {c}"));
    assert_eq!(*got, scenario_value(&value), "{name}");
}
