use super::*;
use crate::conformance::coverage::parse_requirements;
use crate::conformance::junit::tests::{assert_well_formed, sample};

const REQS: &str = "| ID | kind | statement |\n|---|---|---|\n\
    | P1-06 | sim | A telegram is used only if its framing and CRC16 are valid. |\n\
    | MB-06 | manual | Voltage registers read the telegram's voltages. |\n\
    | LED-06 | manual | The LED shows no meter data. |\n\
    | MB-01 | manual | Modbus TCP listens on port 502. |\n\
    | NET-09 | manual | Nobody tested this yet. |\n\
    | P1-01 | manual | The P1 variant reads DSMR 4.2 and newer, and this statement goes on \
    and on well past the hundred and twenty characters a table cell should hold. |\n\
    | NET-01 | manual | The device takes its address from DHCP. |\n";

fn meta(tags: Option<&str>, firmware: Option<&str>) -> ReportMeta {
    ReportMeta {
        date: "2025-06-01T12:00:00Z".into(),
        target: "virtual Smart Connect P1 (DSMR 5.0)".into(),
        firmware: firmware.map(Into::into),
        tags: tags.map(Into::into),
        seed: 42,
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
fn with_blocked() -> Vec<RunResult> {
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

#[test]
fn markdown_report() {
    let results = with_blocked();
    let m = markdown(
        &meta(Some("@p1 and not @slow"), Some("1.4.2")),
        &parse_requirements(REQS),
        &results,
    );
    for want in [
        "# Smart Connect conformance report\n\n- **Run date:** 2025-06-01T12:00:00Z\n",
        "- **Target:** virtual Smart Connect P1 (DSMR 5.0)\n",
        "- **Firmware:** 1.4.2\n",
        "- **Tag filter:** @p1 and not @slow\n",
        "- **Seed:** 42 (replay with `SC_SEED=42`)\n",
        "\n**Verdict: FAIL** — 1 requirement fails, 3 pass, 1 blocked, 1 not judged (skipped), \
         1 not run\n",
        "**Scenarios:** 4 passed, 1 failed, 1 blocked, 1 skipped (not applicable or missing \
         capability); 7 in all\n",
        "| MB-06 | Voltage registers read the telegram's voltages. | manual | **FAIL** | \
         modbus.feature:20 — Voltage registers (FAILED, see [Failure #1](#failure-1)) |\n",
        "| MB-01 | Modbus TCP listens on port 502. | manual | **pass** |",
        "| LED-06 | The LED shows no meter data. | manual | skipped (missing capability: led) |",
        "| NET-09 | Nobody tested this yet. | manual | not run | — |\n",
        "| NET-01 | The device takes its address from DHCP. | manual | **blocked** | \
         network.feature:7 — Blocked at line 7 (BLOCKED, see [Blocked #1](#blocked-1)) |\n",
        "| P1-06 | A telegram is used only if its framing and CRC16 are valid. | sim convention |",
        "p1.feature:30 — Old meters refused (passed) _(sim-convention)_ |\n",
        "p1.feature:11 — Reads DSMR 4.2 (passed)<br>p1.feature:12 — Reads DSMR 5.0 (passed) |",
        // The full statement, not cut.
        "and on well past the hundred and twenty characters a table cell should hold. |",
        // Skipped, grouped by reason.
        "## Skipped (1)\n\n**missing capability: led** (1)\n\n- led.feature:5 — LED shows no data\n",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    // Summary, then failures, then blocked, then the table (manual first, then sim
    // conventions, each in the order given), then the skips.
    let at = |s: &str| m.find(s).unwrap_or_else(|| panic!("{s} missing in\n{m}"));
    let order = [
        "- **Run date:**",
        "**Verdict: FAIL**",
        "## Failures (1)",
        "### Failure #1",
        "## Blocked by the bench (1)",
        "### Blocked #1",
        "## Requirements (7)",
        "| MB-06 |",
        "| NET-09 |",
        "| P1-01 |",
        "| NET-01 |",
        "| P1-06 |",
        "## Skipped (1)",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{m}");
    // A failure: requirements, scenario, place, the replay seed, the reason (control
    // characters removed).
    let failure = &m[at("### Failure #1")..at("## Blocked")];
    assert_eq!(
        failure,
        "### Failure #1\n\n- **Requirements:** MB-06\n- **Scenario:** Voltage registers\n\
         - **Where:** `modbus.feature:20`\n- **Replay:** `SC_SEED=42` (scenario seed 140)\n\n\
         **Message:**\n\n\
         ```text\nThen the register reads 230 V\n  expected <230> & got \"0\" ('V')!\n```\n\n"
    );
    let block = &m[at("### Blocked #1")..at("## Requirements")];
    assert!(block.contains("- **Requirements:** NET-01\n"), "{block}");
    assert!(block.contains("**Cause:**\n\n```text\nmeter line tcp:192.168.1.20:3001 unreachable: connection refused\n```"));
    assert!(m.ends_with(" — LED shows no data\n") && !m.ends_with("\n\n"));
    // No firmware reported: no firmware line. Nothing failed, blocked or skipped: the
    // sections say so.
    let m = markdown(
        &meta(None, None),
        &parse_requirements(REQS),
        &sample()[1..2],
    );
    assert!(!m.contains("Firmware"), "{m}");
    for want in [
        "## Failures (0)\n\nNone.\n",
        "## Blocked by the bench (0)\n\nNone.\n",
        "## Skipped (0)\n\nNone.\n",
        "- **Tag filter:** none (all scenarios)",
        "**Verdict: PASS** — 0 requirements fail, 1 pass, 0 blocked, 0 not judged (skipped), 6 not run",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    // Only blocked and skipped: blocked; nothing at all: not judged.
    let m = markdown(&meta(None, None), &[], &results[2..]);
    assert!(
        m.contains("**Verdict: BLOCKED** — 0 requirements fail"),
        "{m}"
    );
    assert!(markdown(&meta(None, None), &[], &[]).contains("**Verdict: NOT JUDGED**"));
}

#[test]
fn html_report_escapes_and_links() {
    let mut results = with_blocked();
    results.push(RunResult {
        scenario: "Status page <b>".into(),
        tags: vec!["@MB-01".into(), "@sim-convention".into()],
        reason: Some("page contained <script>alert('x')</script> & more".into()),
        seed: Some(9),
        ..results[0].clone()
    });
    let h = html(
        &meta(None, Some("1.4.2 <beta>")),
        &parse_requirements(REQS),
        &results,
    );
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<style>") && h.ends_with("</html>\n"));
    assert!(!h.contains("<script") && !h.contains("<b>"));
    for want in [
        "<dt>Run date</dt><dd>2025-06-01T12:00:00Z</dd>",
        "<dt>Firmware</dt><dd>1.4.2 &lt;beta&gt;</dd>",
        "<dt>Tag filter</dt><dd>none (all scenarios)</dd>",
        "<p class=\"verdict\"><strong class=\"fail\">Verdict: FAIL</strong> — 2 requirements fail,",
        "<pre>page contained &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</pre>",
        "<tr id=\"MB-01\"><td>MB-01</td><td>Modbus TCP listens on port 502.</td><td>manual</td>\
         <td><span class=\"fail\">FAIL</span>",
        "<h2 id=\"failures\">Failures (2)</h2>",
        "<h3 id=\"fail-1\">Failure #1</h3>",
        "<h3 id=\"fail-2\">Failure #2</h3>",
        "<li><strong>Requirements:</strong> <a href=\"#MB-06\">MB-06</a></li>",
        "<li><strong>Replay:</strong> <code>SC_SEED=42</code> (scenario seed 9)</li>",
        "Status page &lt;b&gt; (<span class=\"fail\">FAILED</span>, see \
         <a href=\"#fail-1\">Failure #1</a>) <span class=\"conv\">sim-convention</span>",
        "<h3 id=\"blocked-1\">Blocked #1</h3>",
        "(<span class=\"blocked\">BLOCKED</span>, see <a href=\"#blocked-1\">Blocked #1</a>)",
        "<td><span class=\"blocked\">blocked</span></td>",
        "<span class=\"skipped\">skipped</span> (missing capability: led)",
    ] {
        assert!(h.contains(want), "missing {want:?} in\n{h}");
    }
    let at = |s: &str| h.find(s).unwrap_or_else(|| panic!("{s} missing"));
    let order = [
        "<dl>",
        "class=\"verdict\"",
        "id=\"failures\"",
        "id=\"blocked\"",
        "id=\"requirements\"",
        "id=\"skipped\"",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{h}");
    assert!(
        at("<tr id=\"NET-01\">") < at("<tr id=\"P1-06\">"),
        "manual first"
    );
    // Well-formed once the HTML-only doctype and void <meta> are set aside.
    assert_well_formed(
        &h.replace("<!DOCTYPE html>\n", "")
            .replace("<meta charset=\"utf-8\">", ""),
    );
    // No firmware reported (or an empty one): no firmware line.
    let h = html(&meta(None, Some(" ")), &parse_requirements(REQS), &results);
    assert!(!h.contains("Firmware"));
    // The Markdown escapes the same markup instead of letting it through as HTML.
    let m = markdown(&meta(None, None), &parse_requirements(REQS), &results);
    assert!(m.contains("Status page &lt;b&gt; (FAILED, see [Failure #1](#failure-1))"));
    assert!(!m.contains("<b>"), "{m}");
}
