//! What the conformance report's header says about the target and the device under test:
//! the target line (what it is and where: the virtual device and its seed, or the remote
//! device's addresses), its firmware version and serial — as the device reported them during
//! the run, else as the target file declares them (marked as such), else `unknown` with the
//! reason — and how many scenarios the feature files hold (so the report can count the ones
//! the tag filter left out).

use crate::conformance::device_identity::Seen;
use crate::conformance::duration::{self, run_count, Source};
use crate::conformance::report::Fact;
use crate::dut::{Statement, TargetSpec};
use std::path::Path;

/// The target: what it is and where, e.g. `virtual Smart Connect (…); base seed 42` or
/// `bench 2 — HTTP http://10.0.0.5, Modbus 10.0.0.5:502`.
pub fn target_line(spec: &TargetSpec, statement: &Statement, seed: u64) -> String {
    let description = statement.description.trim();
    match spec {
        TargetSpec::Virtual { .. } => format!("{description}; base seed {seed}"),
        TargetSpec::Remote(bench) => {
            let cfg = bench.config();
            let places: Vec<String> = [
                ("HTTP", &cfg.http),
                ("Modbus", &cfg.modbus),
                ("rig", &cfg.rig),
            ]
            .into_iter()
            .filter_map(|(what, at)| Some((what, at.as_deref()?)))
            .filter(|(_, at)| !description.contains(at))
            .map(|(what, at)| format!("{what} {at}"))
            .collect();
            match places.is_empty() {
                true => description.to_string(),
                false => format!("{description} — {}", places.join(", ")),
            }
        }
    }
}

/// Firmware version and serial of the device under test, for the report.
pub fn facts(spec: &TargetSpec, statement: &Statement, seen: &Seen) -> (Fact, Fact) {
    match spec {
        TargetSpec::Virtual { .. } => (
            match &statement.firmware {
                Some(fw) => Fact::Known(fw.clone()),
                None => Fact::Unknown("the virtual target names no firmware".into()),
            },
            Fact::Known(
                "one per scenario: each scenario's virtual device takes its label (serial, MAC, \
                 password) from the scenario seed"
                    .into(),
            ),
        ),
        TargetSpec::Remote(bench) => {
            let label = bench.config().label.as_ref().map(|l| l.serial.clone());
            remote_facts(statement, label, seen)
        }
    }
}

/// A remote device's facts: what it reported, else what the target file declares (`firmware:`,
/// `label.serial`), else unknown — each with where it came from.
fn remote_facts(statement: &Statement, label_serial: Option<String>, seen: &Seen) -> (Fact, Fact) {
    let not_asked = if statement.capabilities.http {
        "no scenario ran on the device, so it was not asked (GET /api/v1/status)".to_string()
    } else {
        "the target declares no HTTP API to ask (GET /api/v1/status)".to_string()
    };
    let fact = |read: Option<&String>, field: &str, declared: Option<String>, from: &str| {
        let declared = declared.filter(|d| !d.trim().is_empty());
        let why = match seen {
            Seen::Read(id) => match (read, &declared) {
                (Some(v), Some(d)) if v != d => {
                    return Fact::Known(format!(
                        "{v} (read from the device after {}; the target file's {from} says {d})",
                        id.after
                    ))
                }
                (Some(v), _) => {
                    return Fact::Known(format!("{v} (read from the device after {})", id.after))
                }
                (None, _) => format!("the device's status has no System.{field}"),
            },
            Seen::Failed(why) => format!("not read from the device: {why}"),
            Seen::NotAsked => not_asked.clone(),
        };
        match declared {
            Some(d) => Fact::Known(format!("{d} (the target file's {from}; {why})")),
            None => Fact::Unknown(why),
        }
    };
    let id = match seen {
        Seen::Read(id) => Some(id),
        _ => None,
    };
    (
        fact(
            id.and_then(|i| i.firmware.as_ref()),
            "Firmware",
            statement.firmware.clone(),
            "`firmware:`",
        ),
        fact(
            id.and_then(|i| i.serial.as_ref()),
            "Serial",
            label_serial,
            "`label.serial`",
        ),
    )
}

/// How many scenarios the feature files in `dir` hold (an outline once per row); `None`
/// when they cannot be read (the report then does not count the scenarios not run).
pub fn suite_scenarios(dir: &Path) -> Option<usize> {
    let features = duration::load(Source::Dir(dir)).ok()?;
    Some(
        features
            .iter()
            .map(|f| {
                f.scenarios
                    .iter()
                    .chain(f.rules.iter().flat_map(|r| r.scenarios.iter()))
                    .map(|s| run_count(f, s))
                    .sum::<usize>()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::device_identity::DeviceIdentity;
    use crate::dut::Capabilities;

    fn statement(firmware: Option<&str>, http: bool) -> Statement {
        Statement {
            description: "bench 2".into(),
            variants: vec![crate::device::Variant::P1],
            meters: None,
            capabilities: Capabilities {
                http,
                ..Capabilities::default()
            },
            firmware: firmware.map(Into::into),
        }
    }

    fn read(firmware: Option<&str>, serial: Option<&str>) -> Seen {
        Seen::Read(DeviceIdentity {
            firmware: firmware.map(Into::into),
            serial: serial.map(Into::into),
            after: "modbus.feature:12".into(),
        })
    }

    #[test]
    fn what_the_device_said_wins_and_says_where_it_came_from() {
        let (fw, serial) = remote_facts(
            &statement(Some("1.4.2"), true),
            Some("0A1B2C3D4E5F".into()),
            &read(Some("1.4.3"), Some("0A1B2C3D4E5F")),
        );
        assert_eq!(
            fw,
            Fact::Known(
                "1.4.3 (read from the device after modbus.feature:12; the target file's \
                 `firmware:` says 1.4.2)"
                    .into()
            )
        );
        assert_eq!(
            serial,
            Fact::Known("0A1B2C3D4E5F (read from the device after modbus.feature:12)".into())
        );
    }

    #[test]
    fn a_device_that_did_not_answer_falls_back_to_the_declared_or_unknown() {
        let off = Seen::Failed("GET /api/v1/status after a.feature:3: no answer".into());
        let (fw, serial) = remote_facts(&statement(Some("1.4.2"), true), None, &off);
        assert_eq!(
            fw,
            Fact::Known(
                "1.4.2 (the target file's `firmware:`; not read from the device: GET \
                 /api/v1/status after a.feature:3: no answer)"
                    .into()
            )
        );
        assert_eq!(
            serial,
            Fact::Unknown(
                "not read from the device: GET /api/v1/status after a.feature:3: no answer".into()
            )
        );
        let (fw, _) = remote_facts(&statement(None, false), None, &Seen::NotAsked);
        assert_eq!(
            fw,
            Fact::Unknown("the target declares no HTTP API to ask (GET /api/v1/status)".into())
        );
        let (fw, _) = remote_facts(&statement(None, true), None, &read(None, None));
        assert_eq!(
            fw,
            Fact::Unknown("the device's status has no System.Firmware".into())
        );
    }

    #[test]
    fn the_virtual_target_names_its_seed_and_per_scenario_serials() {
        let spec = TargetSpec::parse("virtual").expect("virtual");
        let st = Statement {
            description: "virtual Smart Connect".into(),
            firmware: Some("1.4.2 (simulated)".into()),
            ..statement(None, true)
        };
        assert_eq!(
            target_line(&spec, &st, 42),
            "virtual Smart Connect; base seed 42"
        );
        let (fw, serial) = facts(&spec, &st, &Seen::NotAsked);
        assert_eq!(fw, Fact::Known("1.4.2 (simulated)".into()));
        assert!(matches!(serial, Fact::Known(s) if s.starts_with("one per scenario")));
    }

    #[test]
    fn the_built_in_features_are_counted_row_by_row() {
        let dir = std::env::temp_dir().join(format!("sc-count-{}", std::process::id()));
        let path = crate::conformance::features::write_to(&dir).expect("features written");
        let n = suite_scenarios(&path).expect("features parse");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(n > 100, "{n}");
        assert_eq!(suite_scenarios(Path::new("/nonexistent/features")), None);
    }
}
