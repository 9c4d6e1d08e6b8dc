//! The JSON shape of a configuration: the key table (`SCHEMA`, in document order, kept
//! equal to the structs by a test) and `check_shape`, which checks a merge patch or a
//! whole document against it before serde sees it, naming the field by its JSON pointer
//! (RFC 6901).

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

/// Check `v` against `shape`. In a patch keys may be missing but not `null`; in a whole
/// document every key must be there. Unknown keys are reported before a level's fields.
pub(super) fn check_shape(
    v: &Value,
    shape: &Shape,
    ptr: &str,
    patch: bool,
) -> Result<(), ConfigError> {
    let expected = match shape {
        Shape::Str => "a string",
        Shape::Bool => "a boolean",
        Shape::OneOf(_) => "a string",
        Shape::Obj(_) => "an object",
    };
    match (shape, v) {
        (_, Value::Null) if patch => Err(ConfigError::new(
            ptr,
            "cannot be null: every setting must have a value (send the value wanted instead)",
            Value::Null,
        )),
        (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => Ok(()),
        (Shape::OneOf(names), Value::String(s)) if names.contains(&s.as_str()) => Ok(()),
        (Shape::OneOf(names), Value::String(_)) => Err(ConfigError::new(
            ptr,
            format!("must be one of {}", quoted(names.iter().copied())),
            v.clone(),
        )),
        (Shape::Obj(fields), Value::Object(map)) => {
            let mut unknown: Vec<&String> = map
                .keys()
                .filter(|k| !fields.iter().any(|(n, _)| n == k))
                .collect();
            unknown.sort();
            if let Some(k) = unknown.first() {
                let hint = match fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
                    Some((n, _)) => format!("; did you mean {n:?}?"),
                    None => format!("; valid keys here: {}", quoted(fields.iter().map(|f| f.0))),
                };
                return Err(ConfigError::new(
                    join(ptr, k),
                    format!("unknown key{hint}"),
                    map[k.as_str()].clone(),
                ));
            }
            for (name, sub) in fields.iter() {
                match map.get(*name) {
                    Some(x) => check_shape(x, sub, &join(ptr, name), patch)?,
                    None if patch => {}
                    None => return Err(ConfigError::new(join(ptr, name), "missing", Value::Null)),
                }
            }
            Ok(())
        }
        _ => Err(ConfigError::new(
            ptr,
            format!("expected {expected}, got {}", kind(v)),
            v.clone(),
        )),
    }
}

/// Append one reference token (escaped per RFC 6901) to a JSON pointer.
fn join(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", key.replace('~', "~0").replace('/', "~1"))
}
