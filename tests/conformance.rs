//! The Gherkin conformance suite: runs `features/*.feature` against the target chosen by
//! `SC_TARGET` (default `virtual`). Fails on undefined, skipped or failed steps; every
//! scenario's outcome is appended to `target/conformance/results.jsonl` for `coverage`, and a
//! failing scenario prints the seed that replays it.

#![deny(unused_must_use)]

mod steps;

use cucumber::{event::ScenarioFinished, World as _};
use std::io::Write;
use steps::world::DeviceWorld;

fn results_path() -> std::path::PathBuf {
    std::env::var_os("SC_RESULTS")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/conformance/results.jsonl")
        })
}

#[tokio::main]
async fn main() {
    let results = results_path();
    if let Some(dir) = results.parent() {
        std::fs::create_dir_all(dir).expect("create the results folder");
    }
    std::fs::write(&results, b"").expect("reset the results file");
    let features = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
    DeviceWorld::cucumber()
        .fail_on_skipped()
        .max_concurrent_scenarios(8)
        .before(|_feature, _rule, scenario, world| {
            Box::pin(async move {
                world.seed = steps::world::scenario_seed(&scenario.name);
            })
        })
        .after(move |feature, _rule, scenario, ev, world| {
            let results = results_path();
            Box::pin(async move {
                let status = match ev {
                    ScenarioFinished::StepPassed => "passed",
                    ScenarioFinished::StepSkipped => "skipped",
                    _ => "failed",
                };
                let seed = world.as_ref().map(|w| w.seed);
                if status == "failed" {
                    eprintln!(
                        "  ✘ {:?} failed — replay with SC_SEED={} (scenario seed {})",
                        scenario.name,
                        steps::world::base_seed(),
                        seed.unwrap_or_default()
                    );
                }
                let tags: Vec<&String> = feature.tags.iter().chain(scenario.tags.iter()).collect();
                let line = serde_json::json!({
                    "feature": feature.name, "scenario": scenario.name, "line": scenario.position.line,
                    "tags": tags, "status": status, "seed": seed,
                });
                let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&results).expect("results file");
                writeln!(f, "{line}").expect("write results");
            })
        })
        .run_and_exit(features)
        .await;
}
