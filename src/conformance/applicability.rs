//! Which scenarios apply to a target, decided before the run from the scenario's text and
//! tags against the target's conformance statement: the product variant it sets up
//! ("Given a Smart Connect TIC"), the meters it wires ("a Linky in historic mode"), and the
//! bench capabilities its `@needs-…` tags ask for. A scenario that does not apply is
//! reported as skipped with the reason, never silently dropped.

use super::steps::setup::METERS;
use crate::device::Variant;
use crate::dut::{Capabilities, Statement};
use cucumber::gherkin::{Feature, Scenario, Step};

/// Whether a scenario runs against a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability {
    Runs,
    /// Not applicable, with the reason for the report.
    Skip(String),
}

fn steps<'a>(feature: &'a Feature, scenario: &'a Scenario) -> impl Iterator<Item = &'a Step> {
    feature
        .background
        .iter()
        .flat_map(|b| b.steps.iter())
        .chain(scenario.steps.iter())
}

/// The variant a scenario sets up, from its "a Smart Connect P1/TIC" step.
pub fn variant_of(feature: &Feature, scenario: &Scenario) -> Option<Variant> {
    steps(feature, scenario).find_map(|s| {
        if s.value.contains("a Smart Connect P1") {
            Some(Variant::P1)
        } else if s.value.contains("a Smart Connect TIC") {
            Some(Variant::Tic)
        } else {
            None
        }
    })
}

/// The meters a scenario wires, by the longest phrase each step names.
pub fn meters_of(
    feature: &Feature,
    scenario: &Scenario,
) -> Vec<(&'static str, crate::protocol::MeterKind)> {
    let mut out = Vec::new();
    for step in steps(feature, scenario) {
        let found = METERS
            .iter()
            .filter(|(phrase, _)| step.value.contains(phrase))
            .max_by_key(|(phrase, _)| phrase.len());
        if let Some(&(phrase, kind)) = found {
            if !out.iter().any(|(p, _)| *p == phrase) {
                out.push((phrase, kind));
            }
        }
    }
    out
}

/// What a capability is called in a skip reason.
fn label(name: &str) -> &'static str {
    match name {
        "modbus" => "Modbus TCP server",
        "http" => "HTTP API",
        "web" => "web interface",
        "status" => "status document (GET /api/v1/status)",
        "mqtt" => "MQTT broker to watch",
        "p1_ext" => "P1 ext output reader",
        "power" => "power switching (USB-C, meter supply)",
        "button" => "button presses",
        "led" => "LED reading",
        "clock" => "setting of the device clock",
        "network" => "changes to the network (cable, DHCP, Wi-Fi)",
        "broker" => "control of the broker (take it down, read its connection log)",
        "own_broker" => "installer's own broker with an account for the device",
        "update_server" => "staging of firmware images on an update server",
        _ => "such ability",
    }
}

/// Decide for one scenario.
pub fn applies(statement: &Statement, feature: &Feature, scenario: &Scenario) -> Applicability {
    let tags: Vec<&str> = feature
        .tags
        .iter()
        .chain(&scenario.tags)
        .map(|t| t.trim_start_matches('@'))
        .collect();
    if let Some(v) = variant_of(feature, scenario) {
        if !statement.variants.contains(&v) {
            return Applicability::Skip(format!(
                "not applicable: the target is a Smart Connect {}, the scenario needs a {}",
                statement
                    .variants
                    .iter()
                    .map(|v| v.label())
                    .collect::<Vec<_>>()
                    .join("/"),
                v.label()
            ));
        }
    }
    if let Some(wired) = &statement.meters {
        for (phrase, kind) in meters_of(feature, scenario) {
            if !wired.contains(&kind) {
                return Applicability::Skip(format!(
                    "not applicable: the bench cannot present {phrase} ({}) on the meter input",
                    kind.name()
                ));
            }
        }
    }
    for (name, has) in statement.capabilities.fields() {
        let tag = format!("needs-{}", name.replace('_', "-"));
        if tags.contains(&tag.as_str()) && !has {
            let what = if Capabilities::is_interface(name) {
                "the target declares no"
            } else {
                "the bench cannot do"
            };
            return Applicability::Skip(format!(
                "@{tag}: {what} {} ({})",
                label(name),
                Capabilities::hint(name)
            ));
        }
    }
    Applicability::Runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(text: &str) -> Feature {
        Feature::parse(text, cucumber::gherkin::GherkinEnv::default()).expect("a feature")
    }

    const TEXT: &str = "@led\nFeature: LED\n  Background:\n    Given a Smart Connect TIC\n\n  @needs-led @LED-01\n  Scenario: boot\n    Given a three-phase Linky in historic mode drawing 2 kW on L1\n    Then the LED is red\n\n  Scenario: plain\n    Then the LED is red\n";

    fn statement(variants: Vec<Variant>, caps: Capabilities) -> Statement {
        Statement {
            description: "test".into(),
            variants,
            meters: None,
            capabilities: caps,
            firmware: None,
        }
    }

    #[test]
    fn variant_meters_and_capabilities_decide() {
        let f = feature(TEXT);
        let s = &f.scenarios[0];
        assert_eq!(variant_of(&f, s), Some(Variant::Tic));
        let m = meters_of(&f, s);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, "a three-phase Linky in historic mode");
        let all = statement(vec![Variant::P1, Variant::Tic], Capabilities::ALL);
        assert_eq!(applies(&all, &f, s), Applicability::Runs);
        let p1 = statement(vec![Variant::P1], Capabilities::ALL);
        assert!(matches!(applies(&p1, &f, s), Applicability::Skip(r) if r.contains("needs a TIC")));
        let no_led = statement(vec![Variant::Tic], Capabilities::default());
        assert!(
            matches!(applies(&no_led, &f, s), Applicability::Skip(r) if r.starts_with("@needs-led"))
        );
        assert_eq!(applies(&no_led, &f, &f.scenarios[1]), Applicability::Runs);
        let mut standard_only = statement(vec![Variant::Tic], Capabilities::ALL);
        standard_only.meters = Some(vec![
            crate::protocol::MeterKind::from_name("tic-standard").unwrap()
        ]);
        assert!(
            matches!(applies(&standard_only, &f, s), Applicability::Skip(r) if r.contains("historic"))
        );
    }
}
