//! The suite runner's own checks, on a small feature folder written here: a scenario that
//! uses a bench ability or an interface without its `@needs-…` tag fails with the reason (it
//! would fail on a target without it instead of being skipped), a tagged one passes, a tag filter
//! narrows the run, and every outcome lands in the results file with its seed.

use smart_connect_sim::conformance::coverage::parse_results;
use smart_connect_sim::conformance::suite::{self, SuiteOptions};
use smart_connect_sim::dut::TargetSpec;
use std::path::Path;

const FEATURE: &str = "@led
Feature: Audit
  Scenario: Looks at the LED without saying so
    Given a Smart Connect P1
    Then the LED alternates red and green at 1 Hz

  @needs-led
  Scenario: Looks at the LED and says so
    Given a Smart Connect P1
    Then the LED alternates red and green at 1 Hz

  Scenario: Reads the status document without saying so
    Given a Smart Connect P1
    Then the device reports no meter data

  @needs-status
  Scenario: Reads the status document and says so
    Given a Smart Connect P1
    Then the device reports no meter data

  @needs-led @other
  Scenario: Filtered out by the tag expression
    Given a Smart Connect P1
    Then the LED alternates red and green at 1 Hz
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagged_bench_abilities_fail_the_scenario_with_the_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/suite-audit-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("features")).unwrap();
    std::fs::write(dir.join("features/audit.feature"), FEATURE).unwrap();
    let results = dir.join("results.jsonl");
    let outcome = suite::run(SuiteOptions {
        target: TargetSpec::parse("virtual").unwrap(),
        features: dir.join("features"),
        tags: Some("not @other".into()),
        results: results.clone(),
        concurrency: 2,
        only: None,
    })
    .await
    .unwrap();
    assert_eq!(
        (outcome.passed, outcome.failed, outcome.skipped),
        (2, 2, 0),
        "{outcome:?}"
    );
    assert!(!outcome.ok());
    assert_eq!(outcome.exit_code(), 1);
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(runs.len(), 4, "{runs:?}");
    let reason = |name: &str| {
        let r = runs.iter().find(|r| r.scenario == name).unwrap();
        assert_eq!(r.status, "failed", "{r:?}");
        r.reason.clone().unwrap()
    };
    // A bench ability and an interface are held to their tags alike.
    let why = reason("Looks at the LED without saying so");
    assert!(why.contains("not tagged for: @needs-led"), "{why}");
    let why = reason("Reads the status document without saying so");
    assert!(why.contains("not tagged for: @needs-status"), "{why}");
    assert!(
        runs.iter()
            .all(|r| r.seed.is_some() && r.file == "audit.feature"),
        "{runs:?}"
    );
    assert!(suite::parse_tags("@a and (").is_err());
}

const ONLY: &str = "@modbus @needs-modbus
Feature: Only
  Background:
    Given a Smart Connect P1

  Scenario: Reads a wrong value
    Given an SMR 5.0 meter drawing 1000 W on L1
    When 2 seconds pass
    Then the total active power reads 999 W

  Scenario: Reads the right value
    Given an SMR 5.0 meter drawing 1000 W on L1
    When 2 seconds pass
    Then the total active power reads 1000 W
";

/// `--rerun-failed` runs only the scenarios asked for; a failure names the feature file's
/// line of the failed step and shows the registers in hex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_scenarios_asked_for_run_and_failures_name_the_feature_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/suite-only-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("features")).unwrap();
    std::fs::write(dir.join("features/only.feature"), ONLY).unwrap();
    let results = dir.join("results.jsonl");
    let outcome = suite::run(SuiteOptions {
        target: TargetSpec::parse("virtual").unwrap(),
        features: dir.join("features"),
        tags: None,
        results: results.clone(),
        concurrency: 2,
        only: Some(vec![("only.feature".into(), 6)]),
    })
    .await
    .unwrap();
    assert_eq!((outcome.passed, outcome.failed), (0, 1), "{outcome:?}");
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let why = runs[0].reason.as_deref().unwrap();
    assert!(
        why.starts_with("features/only.feature:9: Then the total active power reads 999 W — "),
        "{why}"
    );
    assert!(
        why.contains("total active power (0x8016): read 1000 (bytes 00 00 44 7A)"),
        "{why}"
    );
}
