//! The conformance report end to end: a filtered run against the simulator in another
//! process with a planted defect (P1 telegrams with a bad CRC accepted), judged through its
//! rig like a real bench. The report names the firmware and serial the device reported
//! during the run, and puts the summary (with links to the failures) before the failures,
//! and the failures before the requirements that passed and the ones that did not run.

use crate::common;

#[test]
fn a_filtered_run_with_a_failure_reports_summary_failures_then_not_run() {
    let dir = common::work("conformance-report");
    let device = common::start(&dir, "smr5", &["--defect", "p1-bad-crc-accepted"]);
    let serial = device.info()["serial"]
        .as_str()
        .expect("the rig reports the serial")
        .to_string();
    let target = device.rig_target(&dir, "bench 2");
    let (results, report) = (dir.join("results.jsonl"), dir.join("report.md"));
    let out = common::conformance(&target, "@P1-07 or @P1-01", &results)
        .args(["--seed", "7", "--report"])
        .arg(&report)
        .output()
        .expect("run the suite");
    drop(device);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the planted defect fails a scenario: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = std::fs::read_to_string(&report).expect("the report is written");
    for want in [
        "- **Target:** bench 2 — rig http://127.0.0.1:",
        "- **Firmware:** 1.4.2 (read from the device after p1.feature:",
        &format!("- **Serial:** {serial} (read from the device after p1.feature:"),
        "- **Tag filter:** `@P1-07 or @P1-01`\n",
        "- **Seed:** 7 (replay with `SC_SEED=7`)\n",
        "**Verdict: FAIL** — the device failed ",
        "](#fail-1) — `p1.feature:",
        "### <a id=\"fail-1\"></a>Failure #1 — P1-07",
        "- **Replay:** `SC_SEED=7` (scenario seed ",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    assert!(
        m.lines()
            .any(|l| l.starts_with("- **Run date:** ") && l.ends_with('Z')),
        "{m}"
    );
    let at = |s: &str| m.find(s).unwrap_or_else(|| panic!("{s} missing in\n{m}"));
    let order = [
        "## <a id=\"summary\"></a>Summary",
        "](#fail-1)",
        "## <a id=\"failures\"></a>Failures",
        "## <a id=\"requirements\"></a>Requirements",
        "| **FAIL** |",
        "| **pass** |",
        "## <a id=\"not-run\"></a>Not run",
        "<a id=\"req-mb-01\"></a>MB-01 |",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{m}");
    // No requirement row before the failures: the ~80 outside the filter come last.
    let first_failure = at("## <a id=\"failures\"></a>Failures");
    assert!(!m[..first_failure].contains("<a id=\"req-"), "{m}");
}
