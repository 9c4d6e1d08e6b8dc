//! A fault to add now, as `POST /api/house/faults` gives it: `{"kind": "bad_crc"}`,
//! `{"kind": "dropout", "duration_s": 45}`, `{"kind": "noise", "bytes": 12}`, … — every wrong
//! field at once.

use super::ControlError;
use crate::sim::clock::Millis;
use crate::sim::faults::FaultKind;
use crate::sim::house::change::FieldError;
use crate::sim::house::live::LiveFault;
use serde_json::Value;

/// A fault body: `kind` and its parameters, every wrong field at once.
pub(super) fn parse(body: &Value) -> Result<LiveFault, ControlError> {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let Some(m) = body.as_object() else {
        return Err(ControlError::field("", "must be an object {\"kind\": …}"));
    };
    const KINDS: &str =
        "bad_crc, truncate, noise (bytes), garbage (bytes), dropout (duration_s), slow_cadence (duration_s), incompatible";
    for k in m.keys() {
        if !["kind", "bytes", "duration_s"].contains(&k.as_str()) {
            err(k, "unknown field; known: kind, bytes, duration_s".into());
        }
    }
    let bytes = match m.get("bytes").map(Value::as_u64) {
        None => None,
        Some(Some(b)) if (1..=4096).contains(&b) => Some(b as usize),
        Some(_) => {
            err("bytes", format!("must be 1..=4096, got {}", m["bytes"]));
            None
        }
    };
    let duration_ms = match m.get("duration_s").map(Value::as_f64) {
        None => None,
        Some(Some(s)) if s > 0.0 && s <= 86_400.0 => Some((s * 1000.0).round() as Millis),
        Some(_) => {
            err(
                "duration_s",
                format!("must be in (0, 86400] s, got {}", m["duration_s"]),
            );
            None
        }
    };
    let kind = m.get("kind").and_then(Value::as_str);
    let need = |what: Option<()>, field: &str, err: &mut dyn FnMut(&str, String)| {
        if what.is_none() {
            err(field, format!("missing for this kind ({KINDS})"));
        }
    };
    let f = match kind {
        Some("bad_crc") => Some(LiveFault::Meter(FaultKind::BadCrc)),
        Some("truncate") => Some(LiveFault::Meter(FaultKind::Truncate)),
        Some("incompatible") => Some(LiveFault::Meter(FaultKind::Incompatible)),
        Some("noise") => {
            need(bytes.map(|_| ()), "bytes", &mut err);
            bytes.map(|bytes| LiveFault::Meter(FaultKind::Noise { bytes }))
        }
        Some("garbage") => {
            need(bytes.map(|_| ()), "bytes", &mut err);
            bytes.map(|bytes| LiveFault::Meter(FaultKind::Garbage { bytes }))
        }
        Some("dropout") => {
            need(duration_ms.map(|_| ()), "duration_s", &mut err);
            duration_ms.map(|duration_ms| LiveFault::Meter(FaultKind::Dropout { duration_ms }))
        }
        Some("slow_cadence") => {
            need(duration_ms.map(|_| ()), "duration_s", &mut err);
            duration_ms.map(|duration_ms| LiveFault::SlowCadence { duration_ms })
        }
        other => {
            err(
                "kind",
                format!(
                    "{}; valid: {KINDS}",
                    other.map_or("missing".to_string(), |k| format!("unknown fault `{k}`"))
                ),
            );
            None
        }
    };
    match (f, errors.is_empty()) {
        (Some(f), true) => Ok(f),
        _ => Err(ControlError::Invalid(errors)),
    }
}
