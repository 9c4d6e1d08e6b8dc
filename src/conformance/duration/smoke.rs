//! The `@smoke` profile: which [manual] requirements it covers, and its real time against
//! one device of each variant.

use super::*;

/// The tag of the short profile for firmware CI.
pub const SMOKE_TAG: &str = "smoke";

/// The most a `@smoke` run may take in real time at the default timing.
pub const SMOKE_BUDGET: Duration = Duration::from_secs(5 * 60);

/// `[manual]` requirements the `@smoke` profile leaves out although a scenario without bench
/// hooks checks them, and why: with them it would not fit in [`SMOKE_BUDGET`] (every other
/// `[manual]` requirement in reach already takes most of it).
pub const SMOKE_LEFT_OUT: &[(&str, &str)] = &[];

/// Tags asking for a bench ability beyond the device's own interfaces (hooks, a rig or an
/// operator). `@needs-http`, `@needs-mqtt` … name interfaces a real device has.
pub const BENCH_HOOK_TAGS: &[&str] = &[
    "needs-power",
    "needs-button",
    "needs-led",
    "needs-clock",
    "needs-network",
    "needs-broker",
    "needs-own-broker",
    "needs-update-server",
    "needs-p1-ext",
];

/// A scenario's tags without `@`: the feature's, the scenario's and its examples'.
pub fn tags_of(feature: &Feature, scenario: &Scenario) -> Vec<String> {
    feature
        .tags
        .iter()
        .chain(&scenario.tags)
        .chain(scenario.examples.iter().flat_map(|e| e.tags.iter()))
        .map(|t| t.trim_start_matches('@').to_string())
        .collect()
}

fn needs_bench_hook(tags: &[String]) -> bool {
    tags.iter().any(|t| BENCH_HOOK_TAGS.contains(&t.as_str()))
}

/// The `@smoke` profile against the `[manual]` requirements.
#[derive(Debug, Clone, Default)]
pub struct SmokeReport {
    /// `@smoke` scenarios: (`file: name`, runs, estimated real time).
    pub scenarios: Vec<(String, usize, Duration)>,
    /// Their real time together.
    pub total: Duration,
    /// The real time of the smoke run against one device of each variant (a P1 device
    /// skips the TIC scenarios and the other way round): what a firmware CI waits.
    pub per_variant: Vec<(crate::device::Variant, Duration)>,
    /// `[manual]` IDs some scenario without bench hooks checks, but no `@smoke` one does.
    pub missing: Vec<String>,
    /// `[manual]` IDs every scenario of which needs a bench hook (out of the profile's reach).
    pub out_of_reach: Vec<String>,
    /// `@smoke` scenarios that need a bench hook (a bench without it would skip them).
    pub needing_hooks: Vec<String>,
}

/// Check the `@smoke` profile: which `[manual]` requirements it leaves out, and its time.
pub fn smoke_report(features: &[Feature], reqs: &[Requirement], timing: &Timing) -> SmokeReport {
    let mut r = SmokeReport::default();
    let mut hook_free_ids: Vec<String> = Vec::new();
    let mut smoke_ids: Vec<String> = Vec::new();
    for f in features {
        // One scenario per outline row, with its Examples block's tags (`@smoke` on one block).
        let f = &f.clone().expand_examples().unwrap_or_else(|_| f.clone());
        for s in all_scenarios(f) {
            let tags = tags_of(f, s);
            let hooks = needs_bench_hook(&tags);
            if !hooks {
                hook_free_ids.extend(tags.iter().cloned());
            }
            if tags.iter().any(|t| t == SMOKE_TAG) {
                let name = format!("{}: {}", file_name(f), s.name);
                let d = estimate_scenario(f, s, timing);
                r.total += d;
                let on = crate::conformance::applicability::variant_of(f, s);
                for v in [crate::device::Variant::P1, crate::device::Variant::Tic] {
                    if on.is_none_or(|x| x == v) {
                        match r.per_variant.iter_mut().find(|(x, _)| *x == v) {
                            Some((_, t)) => *t += d,
                            None => r.per_variant.push((v, d)),
                        }
                    }
                }
                r.scenarios.push((name.clone(), run_count(f, s), d));
                if hooks {
                    r.needing_hooks.push(name);
                } else {
                    smoke_ids.extend(tags.iter().cloned());
                }
            }
        }
    }
    for req in reqs.iter().filter(|q| q.kind == "manual") {
        if !hook_free_ids.contains(&req.id) {
            r.out_of_reach.push(req.id.clone());
        } else if !smoke_ids.contains(&req.id) {
            r.missing.push(req.id.clone());
        }
    }
    r
}
