//! The `Remote` target end to end, in `cargo test`: the simulator started as a separate
//! process (`run --rig --speed rig --feed tcp:`), judged through a target file exactly as a
//! real device would be; and a bench without a rig or hooks, whose scenarios needing the
//! LED are reported as skipped with the reason instead of run. (CI runs the whole suite this
//! way: `tests/external/remote_conformance.sh`.)

use crate::common;

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

#[test]
fn the_rig_refuses_requests_without_its_token() {
    let dir = common::work("remote-rig-token");
    let device = common::start(&dir, "smr5", &[]);
    let info = device.info(); // with the token: served
    assert!(info["serial"].is_string(), "{info}");
    for token in [None, Some("wrong")] {
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.args(["rig", "--at", &device.rig]);
        cmd.env_remove("SMART_CONNECT_RIG_TOKEN");
        if let Some(t) = token {
            cmd.args(["--token", t]);
        }
        let out = cmd.arg("info").output().expect("rig info");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "token {token:?} was let in");
        assert!(
            err.contains("401") && err.contains("token"),
            "token {token:?}: {err}"
        );
        assert!(
            !err.contains(&device.token),
            "the error gave the token away"
        );
    }
    let written = std::fs::read_to_string(dir.join("state/rig-token")).unwrap();
    assert_eq!(written, device.token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("state/rig-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "rig-token mode {mode:o}");
    }
}
