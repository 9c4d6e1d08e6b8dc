//! The JSON shape of a configuration: the key table (`SCHEMA`, in document order, kept
//! equal to the structs by a test), `check_shape`, which checks a merge patch or a whole
//! document against it before serde sees it, naming every wrong field by its JSON pointer
//! (RFC 6901), and `document_order`, the sort key that lists errors in that order.

use super::ConfigError;
use serde_json::Value;

/// The expected JSON shape, in document order; kept equal to the structs by a test.
pub(super) enum Shape {
    Str,
    Bool,
    OneOf(&'static [&'static str]),
    Obj(&'static [(&'static str, Shape)]),
}

const IP_MODE: Shape = Shape::OneOf(&["DHCP", "Static"]);
const STATIC: Shape = Shape::Obj(&[
    ("IpAddress", Shape::Str),
    ("Netmask", Shape::Str),
    ("Gateway", Shape::Str),
    ("DNS", Shape::Str),
]);
pub(super) const SCHEMA: Shape = Shape::Obj(&[
    ("MeterType", Shape::Str),
    ("DefaultNetIf", Shape::OneOf(&["Ethernet", "WiFi"])),
    (
        "Ethernet",
        Shape::Obj(&[("IpMode", IP_MODE), ("StaticIPv4", STATIC)]),
    ),
    (
        "WiFi",
        Shape::Obj(&[
            ("IpMode", IP_MODE),
            ("SSID", Shape::Str),
            ("Password", Shape::Str),
            ("StaticIPv4", STATIC),
        ]),
    ),
    (
        "MQTT",
        Shape::Obj(&[
            ("Enabled", Shape::Bool),
            ("Broker", Shape::Str),
            ("Site", Shape::Str),
            ("Username", Shape::Str),
            ("Password", Shape::Str),
        ]),
    ),
]);

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn quoted(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check `v` against `shape`, pushing every error onto `errs` in document order. In a patch
/// keys may be missing but not `null`; in a whole document every key must be there. Unknown
/// keys (sorted) are reported before a level's fields; a value of the wrong type is reported
/// at its own pointer and not looked into. Returns `v` without the refused parts (`None` when
/// `v` itself is refused), so the rest can still be checked.
pub(super) fn check_shape(
    v: &Value,
    shape: &Shape,
    ptr: &str,
    patch: bool,
    errs: &mut Vec<ConfigError>,
) -> Option<Value> {
    let expected = match shape {
        Shape::Str => "a string",
        Shape::Bool => "a boolean",
        Shape::OneOf(_) => "a string",
        Shape::Obj(_) => "an object",
    };
    let refuse = |errs: &mut Vec<ConfigError>, msg: String, value: Value| {
        errs.push(ConfigError::new(ptr, msg, value));
        None
    };
    match (shape, v) {
        (_, Value::Null) if patch => refuse(
            errs,
            "cannot be null: every setting must have a value (send the value wanted instead)"
                .into(),
            Value::Null,
        ),
        (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => Some(v.clone()),
        (Shape::OneOf(names), Value::String(s)) if names.contains(&s.as_str()) => Some(v.clone()),
        (Shape::OneOf(names), Value::String(_)) => refuse(
            errs,
            format!("must be one of {}", quoted(names.iter().copied())),
            v.clone(),
        ),
        (Shape::Obj(fields), Value::Object(map)) => {
            let mut unknown: Vec<&String> = map
                .keys()
                .filter(|k| !fields.iter().any(|(n, _)| n == k))
                .collect();
            unknown.sort();
            for k in unknown {
                let hint = match fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
                    Some((n, _)) => format!("; did you mean {n:?}?"),
                    None => format!("; valid keys here: {}", quoted(fields.iter().map(|f| f.0))),
                };
                errs.push(ConfigError::new(
                    join(ptr, k),
                    format!("unknown key{hint}"),
                    map[k.as_str()].clone(),
                ));
            }
            let mut kept = serde_json::Map::new();
            for (name, sub) in fields.iter() {
                match map.get(*name) {
                    Some(x) => {
                        if let Some(x) = check_shape(x, sub, &join(ptr, name), patch, errs) {
                            kept.insert((*name).to_string(), x);
                        }
                    }
                    None if patch => {}
                    None => errs.push(ConfigError::new(join(ptr, name), "missing", Value::Null)),
                }
            }
            Some(Value::Object(kept))
        }
        _ => refuse(
            errs,
            format!("expected {expected}, got {}", kind(v)),
            v.clone(),
        ),
    }
}

/// Where `pointer` comes in document order, as a sort key: per level, 0 for a key the
/// schema does not know (they come first, as `check_shape` reports them), else 1 + the
/// field's index. The document root (`""`) comes before everything.
pub(super) fn document_order(pointer: &str) -> Vec<usize> {
    let mut key = Vec::new();
    let mut shape = Some(&SCHEMA);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let found = match shape {
            Some(Shape::Obj(fields)) => fields.iter().enumerate().find(|(_, (n, _))| *n == token),
            _ => None,
        };
        match found {
            Some((i, (_, sub))) => {
                key.push(i.saturating_add(1));
                shape = Some(sub);
            }
            None => {
                key.push(0);
                shape = None;
            }
        }
    }
    key
}

/// Append one reference token (escaped per RFC 6901) to a JSON pointer.
pub(super) fn join(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"))
}
