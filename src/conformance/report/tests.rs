use super::*;
use crate::conformance::coverage::{parse_requirements, Requirement};
use crate::conformance::junit::tests::sample;

pub(super) const REQS: &str = "| ID | kind | statement |\n|---|---|---|\n\
    | P1-06 | sim | A telegram is used only if its framing and CRC16 are valid. |\n\
    | MB-06 | manual | Voltage registers read the telegram's voltages. |\n\
    | LED-06 | manual | The LED shows no meter data. |\n\
    | MB-01 | manual | Modbus TCP listens on port 502. |\n\
    | NET-09 | manual | Nobody tested this yet. |\n\
    | P1-01 | manual | The P1 variant reads DSMR 4.2 and newer, and this statement goes on \
    and on well past the hundred and twenty characters a table cell should hold. |\n\
    | NET-01 | manual | The device takes its address from DHCP. |\n";

/// A run on 2025-06-01 against the virtual device, firmware 1.4.2, serial 0A1B2C3D4E5F, of
/// a suite of 20 scenarios.
pub(super) fn meta(tags: Option<&str>) -> ReportMeta {
    ReportMeta {
        date: "2025-06-01T12:00:00Z".into(),
        target: "virtual Smart Connect P1 (DSMR 5.0); base seed 42".into(),
        firmware: Fact::Known("1.4.2".into()),
        serial: Fact::Known("0A1B2C3D4E5F".into()),
        tags: tags.map(Into::into),
        seed: 42,
        suite_scenarios: Some(20),
    }
}

/// A run the bench blocked: its meter line was unreachable.
fn blocked(tag: &str, line: usize) -> RunResult {
    RunResult {
        feature: "Feature network".into(),
        file: "network.feature".into(),
        scenario: format!("Blocked at line {line}"),
        line,
        status: "blocked".into(),
        tags: vec![tag.into()],
        reason: Some("meter line tcp:192.168.1.20:3001 unreachable: connection refused".into()),
        seed: Some(1),
        duration_ms: 5,
    }
}

/// The sample plus a blocked run of NET-01.
pub(super) fn with_blocked() -> Vec<RunResult> {
    [sample(), vec![blocked("@NET-01", 7)]].concat()
}

fn verdicts(reqs: &[Requirement], results: &[RunResult]) -> Vec<(String, RunVerdict)> {
    requirement_runs(reqs, results)
        .iter()
        .map(|r| (r.requirement.id.clone(), r.verdict))
        .collect()
}

#[test]
fn summary_and_verdicts() {
    let (results, reqs) = (with_blocked(), parse_requirements(REQS));
    let want = Summary {
        passed: 4,
        failed: 1,
        blocked: 1,
        skipped: 1,
    };
    assert_eq!(summary(&results), want);
    use RunVerdict::*;
    let got = verdicts(&reqs, &results);
    let got: Vec<(&str, RunVerdict)> = got.iter().map(|(id, v)| (id.as_str(), *v)).collect();
    let want = [
        ("P1-06", Pass),
        ("MB-06", Fail),
        ("LED-06", Skipped),
        ("MB-01", Pass),
        ("NET-09", NotRun),
        ("P1-01", Pass),
        ("NET-01", Blocked),
    ];
    assert_eq!(got, want);
    let rows = requirement_runs(&reqs, &results);
    let names: Vec<&str> = rows[5].runs.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(
        names,
        ["Reads DSMR 4.2", "Reads DSMR 5.0"],
        "both outline runs, in line order"
    );
    assert_eq!(rows[2].skip_reasons, ["missing capability: led"]);
    // A pass plus a skip still passes; a bare tag (no `@`) matches; unknown = failed.
    let odd = |status: &str, tag: &str| RunResult {
        status: status.into(),
        tags: vec![tag.into()],
        ..Default::default()
    };
    let extra = [results.clone(), vec![odd("skipped", "MB-01")]].concat();
    let mb01 = &requirement_runs(&reqs, &extra)[3];
    assert_eq!((mb01.verdict, mb01.runs.len()), (Pass, 2));
    assert_eq!(summary(&[odd("weird", "@MB-01")]).failed, 1);
    // Blocked: not a pass, not a fail. A failure anywhere still fails the requirement; a
    // blocked run leaves a requirement with passes (or skips) not judged: blocked.
    let v = |extra: Vec<RunResult>| verdicts(&reqs, &[results.clone(), extra].concat());
    assert_eq!(v(vec![blocked("@MB-06", 3)])[1].1, Fail);
    assert_eq!(v(vec![blocked("@MB-01", 3)])[3].1, Blocked);
    assert_eq!(v(vec![blocked("LED-06", 3)])[2].1, Blocked);
    assert_eq!(summary(&[odd("blocked", "@MB-01")]).blocked, 1);
}

/// Every `#anchor` a report links to (`](#x)` in Markdown, `href="#x"` in HTML) is an `id`
/// in it, and each `id` is there once.
pub(super) fn assert_links_resolve(doc: &str) {
    let targets = |open: &str, close: char| -> Vec<String> {
        doc.split(open)
            .skip(1)
            .filter_map(|rest| rest.split(close).next())
            .map(str::to_string)
            .collect()
    };
    let ids = targets("id=\"", '"');
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an id twice: {ids:?}");
    let links = [targets("](#", ')'), targets("href=\"#", '"')].concat();
    assert!(!links.is_empty(), "no links in\n{doc}");
    for l in links {
        assert!(ids.contains(&l), "link to #{l} but no such id in\n{doc}");
    }
}

/// A requirement whose statement has a pipe and a line break, and a passed run of it.
pub(super) fn piped() -> (Requirement, RunResult) {
    let req = Requirement {
        id: "MQ-09".into(),
        kind: "sim".into(),
        statement: "The topic is `a|b`\nand the pipe | stays text.".into(),
    };
    let run = RunResult {
        tags: vec!["@MQ-09".into()],
        scenario: "Pipes | in names".into(),
        line: 40,
        ..sample()[1].clone()
    };
    (req, run)
}

#[test]
fn markdown_report() {
    let results = with_blocked();
    let reqs = parse_requirements(REQS);
    let m = markdown(&meta(Some("@p1 and not @slow")), &reqs, &results);
    for want in [
        "# Smart Connect conformance report\n\n- **Run date:** 2025-06-01T12:00:00Z\n",
        "- **Target:** virtual Smart Connect P1 (DSMR 5.0); base seed 42\n",
        "- **Firmware:** 1.4.2\n",
        "- **Serial:** 0A1B2C3D4E5F\n",
        "- **Tag filter:** `@p1 and not @slow`\n",
        "- **Seed:** 42 (replay with `SC_SEED=42`)\n",
        "## <a id=\"summary\"></a>Summary\n\n**Verdict: FAIL** — the device failed 1 of the 6 \
         scenarios that ran; 1 requirement fails.\n",
        "|  | passed | failed | blocked | skipped | not run | in all |\n|---|---|---|---|---|---|---|\n\
         | **Requirements** | 3 | 1 | 1 | 1 | 1 | 7 |\n\
         | **Scenarios** | 4 | 1 | 1 | 1 | 13 | 20 |\n",
        "(the tag filter `@p1 and not @slow` left them out, or no scenario covers them)",
        "**Failures (1):**\n\n- [MB-06 Voltage registers](#fail-1) — `modbus.feature:20`\n",
        "**Blocked by the bench (1):**\n\n- [NET-01 Blocked at line 7](#blocked-1) — \
         `network.feature:7`\n",
        "[Failures (1)](#failures) · [Blocked (1)](#blocked) · [Requirements (6)](#requirements) \
         · [Skipped (1)](#skipped) · [Not run (1)](#not-run)",
        "| <a id=\"req-mb-06\"></a>MB-06 | Voltage registers read the telegram's voltages. | manual \
         | **FAIL** | modbus.feature:20 — Voltage registers (FAILED, see [Failure #1](#fail-1)) |\n",
        "| <a id=\"req-mb-01\"></a>MB-01 | Modbus TCP listens on port 502. | manual | **pass** |",
        "| <a id=\"req-led-06\"></a>LED-06 | The LED shows no meter data. | manual | skipped \
         (missing capability: led) |",
        "| <a id=\"req-net-01\"></a>NET-01 | The device takes its address from DHCP. | manual | \
         **blocked** | network.feature:7 — Blocked at line 7 (BLOCKED, see [Blocked #1](#blocked-1)) |\n",
        "| <a id=\"req-p1-06\"></a>P1-06 | A telegram is used only if its framing and CRC16 are \
         valid. | sim convention |",
        "p1.feature:30 — Old meters refused (passed) _(sim-convention)_ |\n",
        "p1.feature:11 — Reads DSMR 4.2 (passed)<br>p1.feature:12 — Reads DSMR 5.0 (passed) |",
        // The full statement, not cut.
        "| The P1 variant reads DSMR 4.2 and newer, and this statement goes on and on well past \
         the hundred and twenty characters a table cell should hold. |",
        "## <a id=\"skipped\"></a>Skipped (1)\n\n**missing capability: led** (1)\n\n\
         - led.feature:5 — LED shows no data\n",
        "## <a id=\"not-run\"></a>Not run (1)\n\nNo scenario of this run checks these: the tag \
         filter `@p1 and not @slow` left their scenarios out, or no scenario covers them",
        "| ID | statement | kind |\n|---|---|---|\n\
         | <a id=\"req-net-09\"></a>NET-09 | Nobody tested this yet. | manual |\n",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    // Summary, then the failures, then blocked, then the table (failed, blocked, passed —
    // manual before sim conventions — skipped), then the skips, and the not run last.
    let at = |s: &str| m.find(s).unwrap_or_else(|| panic!("{s} missing in\n{m}"));
    let order = [
        "- **Run date:**",
        "**Verdict: FAIL**",
        "](#fail-1)",
        "## <a id=\"failures\"></a>Failures (1)",
        "### <a id=\"fail-1\"></a>Failure #1",
        "## <a id=\"blocked\"></a>Blocked by the bench (1)",
        "### <a id=\"blocked-1\"></a>Blocked #1",
        "## <a id=\"requirements\"></a>Requirements (6)",
        "req-mb-06\"></a>MB-06 |",
        "req-net-01\"></a>NET-01 |",
        "req-mb-01\"></a>MB-01 |",
        "req-p1-01\"></a>P1-01 |",
        "req-p1-06\"></a>P1-06 |",
        "req-led-06\"></a>LED-06 |",
        "## <a id=\"skipped\"></a>Skipped (1)",
        "## <a id=\"not-run\"></a>Not run (1)",
        "req-net-09\"></a>NET-09 |",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{m}");
    assert_eq!(
        m.matches("NET-09").count(),
        1,
        "a not-run row once, at the end"
    );
    // A failure: heading with requirements and scenario, links to the rows, place, the
    // replay seed, the reason (control characters removed).
    let failure = &m[at("### <a id=\"fail-1\">")..at("## <a id=\"blocked\">")];
    assert_eq!(
        failure,
        "### <a id=\"fail-1\"></a>Failure #1 — MB-06: Voltage registers\n\n\
         - **Requirements:** [MB-06](#req-mb-06)\n- **Where:** `modbus.feature:20`\n\
         - **Replay:** `SC_SEED=42` (scenario seed 140)\n\n**Message:**\n\n\
         ```text\nThen the register reads 230 V\n  expected <230> & got \"0\" ('V')!\n```\n\n"
    );
    let block = &m[at("### <a id=\"blocked-1\">")..at("## <a id=\"requirements\">")];
    assert!(
        block.contains("- **Requirements:** [NET-01](#req-net-01)\n"),
        "{block}"
    );
    assert!(block.contains("**Cause:**\n\n```text\nmeter line tcp:192.168.1.20:3001 unreachable: connection refused\n```"));
    assert!(m.ends_with("| Nobody tested this yet. | manual |\n") && !m.ends_with("\n\n"));
    assert_links_resolve(&m);
}

#[test]
fn markdown_report_when_all_passed_or_nothing_ran() {
    // Nothing failed, blocked or skipped: the sections say so; no tag filter.
    let mut unknown = meta(None);
    unknown.firmware = Fact::Unknown("GET /api/v1/status: no answer (connection refused)".into());
    unknown.serial = Fact::Known(" ".into());
    unknown.suite_scenarios = None;
    let m = markdown(&unknown, &parse_requirements(REQS), &sample()[1..2]);
    for want in [
        "- **Firmware:** **unknown** — GET /api/v1/status: no answer (connection refused)\n",
        "- **Serial:** unknown (the target reported an empty value)\n",
        "## <a id=\"failures\"></a>Failures (0)\n\nNone.\n",
        "## <a id=\"blocked\"></a>Blocked by the bench (0)\n\nNone.\n",
        "## <a id=\"skipped\"></a>Skipped (0)\n\nNone.\n",
        "- **Tag filter:** none (all scenarios)",
        "**Verdict: PASS** — all 1 scenario that ran passed; 1 requirement passes.",
        // The suite's size unknown: the scenarios not run are not counted.
        "| **Scenarios** | 1 | 0 | 0 | 0 | ? | 1+ |",
        "not run** when no scenario of this run carries its ID (no scenario covers them).",
        "## <a id=\"not-run\"></a>Not run (6)",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    assert!(!m.contains("**Failures ("), "no failure links: {m}");
    // Only blocked and skipped: blocked; nothing at all: not judged.
    let m = markdown(&meta(None), &parse_requirements(REQS), &with_blocked()[2..]);
    assert!(
        m.contains(
            "**Verdict: BLOCKED** — the bench blocked 1 of the 4 scenarios that ran and none \
             failed; 1 requirement is not judged."
        ),
        "{m}"
    );
    let m = markdown(&meta(None), &[], &[]);
    assert!(
        m.contains("**Verdict: NOT JUDGED** — no scenario ran."),
        "{m}"
    );
    assert!(
        m.contains("## <a id=\"requirements\"></a>Requirements (0)"),
        "{m}"
    );
}

#[test]
fn markdown_tables_escape_pipes_and_line_breaks() {
    let (req, run) = piped();
    let m = markdown(&meta(None), std::slice::from_ref(&req), &[run]);
    let row = m
        .lines()
        .find(|l| l.contains("req-mq-09"))
        .unwrap_or_else(|| panic!("no MQ-09 row in\n{m}"));
    assert_eq!(
        row,
        "| <a id=\"req-mq-09\"></a>MQ-09 | The topic is `a\\|b` and the pipe \\| stays text. | \
         sim convention | **pass** | modbus.feature:40 — Pipes \\| in names (passed) |"
    );
    // Five cells: six pipes that are not escaped.
    let bare = row.replace("\\|", "").matches('|').count();
    assert_eq!(bare, 6, "{row}");
}
