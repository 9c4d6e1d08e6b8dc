//! `docs/fields.md` names every field the device reports: the status document (with the
//! host's `Config` member), the measurement payload, the command results and the
//! `parse`/`replay` record. A key added to any of them without a line in the glossary fails.

use super::host::Host;
use super::mqtt::payload::CommandResult;
use crate::device::measurement::Measurement;
use crate::device::{DeviceConfig, Variant};
use crate::protocol::reading::{Energy, ReadingRecord};
use crate::protocol::{Protocol, Reading};
use crate::time::at;
use serde_json::Value;

const DOC: &str = include_str!("../../docs/fields.md");

/// Every key path below `prefix`, objects joined with `.`.
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = v {
        for (k, x) in map {
            let p = match prefix.is_empty() {
                true => k.clone(),
                false => format!("{prefix}.{k}"),
            };
            match x {
                Value::Object(_) => paths(x, &p, out),
                _ => out.push(p),
            }
        }
    }
}

/// The key paths of `v` that the glossary does not name in backticks.
fn missing(v: &Value) -> Vec<String> {
    let mut all = Vec::new();
    paths(v, "", &mut all);
    all.into_iter()
        .filter(|p| !DOC.contains(&format!("`{p}`")))
        .collect()
}

#[test]
fn docs_fields_md_names_every_field() {
    // What `GET /api/v1/status` answers, `Config` member included.
    let (host, _clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
    let status = host.status_json();
    let top = status.as_object().map(|m| m.len()).unwrap_or(0);
    assert!(top >= 6, "the status has its sections: {status}");
    let mut gaps = missing(&status);

    let m = Measurement::from_reading(&Reading::empty(Protocol::Dsmr), "S", "site", at(0));
    gaps.extend(missing(&serde_json::to_value(m).expect("payload")));

    let r = CommandResult::new("reset", Ok(()), None, "S", "site", 0);
    gaps.extend(missing(&serde_json::to_value(r).expect("result")));

    let some = Some(1.0);
    let energy = Energy {
        import_kwh: some,
        import_t1_kwh: some,
        import_t2_kwh: some,
        export_kwh: some,
        export_t1_kwh: some,
        export_t2_kwh: some,
        gas_m3: some,
        water_m3: some,
        heat_gj: some,
    };
    let mut reading = Reading::empty(Protocol::Dsmr);
    reading.energy = energy;
    let record = serde_json::to_value(ReadingRecord::from(reading)).expect("record");
    assert!(record["energy"]["heat_gj"].is_number(), "{record}");
    gaps.extend(missing(&record));

    assert!(
        gaps.is_empty(),
        "docs/fields.md lacks {gaps:?} (len {})",
        DOC.len()
    );
}
