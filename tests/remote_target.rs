//! The `Remote` target end to end, in `cargo test`: the simulator started as a separate
//! process (`run --rig --speed rig --feed tcp:`), judged through a target file exactly as a
//! real device would be; and a bench without a rig or hooks, whose scenarios needing the
//! LED are reported as skipped with the reason instead of run. (CI runs the whole suite this
//! way: `tests/external/remote_conformance.sh`.)

mod common;

use smart_connect_sim::conformance::coverage::parse_results;

#[test]
fn the_modbus_scenarios_pass_against_a_separate_simulator_process() {
    let dir = common::work("remote-modbus");
    let device = common::start(&dir, "smr5", &[]);
    let target = device.rig_target(&dir, "simulator through its rig");
    let results = dir.join("results.jsonl");
    let out = common::conformance(&target, "@modbus", &results)
        .output()
        .expect("run the suite");
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = runs.iter().filter(|r| r.status == "passed").count();
    assert!(
        passed >= 20,
        "only {passed} Modbus scenarios passed: {runs:?}"
    );
    assert!(runs.iter().all(|r| r.status == "passed"), "{runs:?}");
}

#[test]
fn a_bench_without_a_led_hook_reports_the_led_scenarios_as_skipped_with_the_reason() {
    let dir = common::work("remote-no-led");
    let device = common::start(&dir, "smr5", &[]);
    // Described as a lab would a real device: addresses and label, no rig, no hooks.
    let target = device.bench_target(&dir, "description: a bench with nothing but a meter line\n");
    let results = dir.join("results.jsonl");
    let out = common::conformance(&target, "@led", &results)
        .output()
        .expect("run the suite");
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(!runs.is_empty());
    for r in &runs {
        assert_eq!(r.status, "skipped", "{r:?}");
        let why = r.reason.as_deref().unwrap_or_default();
        assert!(
            why.starts_with("@needs-")
                && (why.contains(": the target declares no ")
                    || why.contains(": the bench cannot do ")),
            "{why}"
        );
    }
    assert!(runs.iter().any(|r| r
        .reason
        .as_deref()
        .is_some_and(|w| w.starts_with("@needs-led: the bench cannot do LED reading"))));
    // Nothing ran: no scenario passed, so the run is not a success.
    assert!(!out.status.success());
}
