//! The HTML report: a self-contained page with the same order and anchors as the Markdown,
//! escaped text, and the requirements not run collapsed at the end.

use super::tests::{assert_links_resolve, meta, piped, with_blocked, REQS};
use super::*;
use crate::conformance::coverage::parse_requirements;
use crate::conformance::junit::tests::assert_well_formed;

#[test]
fn html_report_escapes_orders_and_links() {
    let mut results = with_blocked();
    results.push(RunResult {
        scenario: "Status page <b>".into(),
        tags: vec!["@MB-01".into(), "@sim-convention".into()],
        reason: Some("page contained <script>alert('x')</script> & more".into()),
        seed: Some(9),
        ..results[0].clone()
    });
    let mut m = meta(None);
    m.firmware = Fact::Known("1.4.2 <beta>".into());
    m.serial = Fact::Unknown("not read from the device: no answer".into());
    let h = html(&m, &parse_requirements(REQS), &results);
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<style>") && h.ends_with("</html>\n"));
    assert!(!h.contains("<script") && !h.contains("<b>"));
    assert!(
        !h.contains("src=") && !h.contains("<link"),
        "self-contained"
    );
    for want in [
        "<dt>Run date</dt><dd>2025-06-01T12:00:00Z</dd>",
        "<dt>Target</dt><dd>virtual Smart Connect P1 (DSMR 5.0); base seed 42</dd>",
        "<dt>Firmware</dt><dd>1.4.2 &lt;beta&gt;</dd>",
        "<dt>Serial</dt><dd><span class=\"unknown\">unknown</span> — not read from the device: no answer</dd>",
        "<dt>Tag filter</dt><dd>none (all scenarios)</dd>",
        "<p class=\"verdict\"><strong class=\"fail\">Verdict: FAIL</strong> — the device failed 2 of \
         the 7 scenarios that ran; 2 requirements fail.</p>",
        "<tr><td><strong>Requirements</strong></td><td>2</td><td>2</td><td>1</td><td>1</td>\
         <td>1</td><td>7</td></tr>",
        "<li><a href=\"#fail-1\">MB-01 Status page &lt;b&gt;</a> — <code>modbus.feature:20</code></li>",
        "<li><a href=\"#fail-2\">MB-06 Voltage registers</a> — <code>modbus.feature:20</code></li>",
        "<pre>page contained &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</pre>",
        "<tr id=\"req-mb-01\"><td>MB-01</td><td>Modbus TCP listens on port 502.</td><td>manual</td>\
         <td><span class=\"fail\">FAIL</span>",
        "<h2 id=\"failures\">Failures (2)</h2>",
        "<h3 id=\"fail-1\">Failure #1 — MB-01: Status page &lt;b&gt; <span class=\"conv\">sim-convention</span></h3>",
        "<h3 id=\"fail-2\">Failure #2 — MB-06: Voltage registers</h3>",
        "<li><strong>Requirements:</strong> <a href=\"#req-mb-06\">MB-06</a></li>",
        "<li><strong>Replay:</strong> <code>SC_SEED=42</code> (scenario seed 9)</li>",
        "Status page &lt;b&gt; (<span class=\"fail\">FAILED</span>, see \
         <a href=\"#fail-1\">Failure #1</a>) <span class=\"conv\">sim-convention</span>",
        "<h3 id=\"blocked-1\">Blocked #1 — NET-01: Blocked at line 7</h3>",
        "(<span class=\"blocked\">BLOCKED</span>, see <a href=\"#blocked-1\">Blocked #1</a>)",
        "<td><span class=\"blocked\">blocked</span></td>",
        "<span class=\"skipped\">skipped</span> (missing capability: led)",
        // Not run: last, collapsed, with the count and the full statements.
        "<h2 id=\"not-run\">Not run (1)</h2>",
        "<details>\n<summary>1 requirement not run — show their statements</summary>\n\
         <table class=\"notrun\">\n<tr><th>ID</th><th>statement</th><th>kind</th></tr>\n\
         <tr id=\"req-net-09\"><td>NET-09</td><td>Nobody tested this yet.</td><td>manual</td></tr>\n\
         </table>\n</details>\n</body>",
        "and on well past the hundred and twenty characters a table cell should hold.</td>",
    ] {
        assert!(h.contains(want), "missing {want:?} in\n{h}");
    }
    let at = |s: &str| h.find(s).unwrap_or_else(|| panic!("{s} missing in\n{h}"));
    let order = [
        "<dl class=\"meta\">",
        "class=\"verdict\"",
        "href=\"#fail-1\"",
        "id=\"failures\"",
        "id=\"fail-1\"",
        "id=\"blocked\"",
        "id=\"requirements\"",
        "<tr id=\"req-mb-06\">",
        "<tr id=\"req-mb-01\">",
        "<tr id=\"req-net-01\">",
        "<tr id=\"req-p1-01\">",
        "<tr id=\"req-p1-06\">",
        "<tr id=\"req-led-06\">",
        "id=\"skipped\"",
        "id=\"not-run\"",
        "<tr id=\"req-net-09\">",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{h}");
    assert_links_resolve(&h);
    // Well-formed once the HTML-only doctype and void <meta>s are set aside.
    let body = h
        .replace("<!DOCTYPE html>\n", "")
        .replace("<meta charset=\"utf-8\">", "")
        .replace(
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "",
        );
    assert_well_formed(&body);
    // The Markdown escapes the same markup instead of letting it through as HTML.
    let m = markdown(&meta(None), &parse_requirements(REQS), &results);
    assert!(m.contains("Status page &lt;b&gt; (FAILED, see [Failure #1](#fail-1))"));
    assert!(!m.contains("<b>"), "{m}");
}

#[test]
fn html_keeps_pipes_and_line_breaks_as_text() {
    let (req, run) = piped();
    let h = html(&meta(None), std::slice::from_ref(&req), &[run]);
    assert!(
        h.contains("<td>The topic is `a|b`\nand the pipe | stays text.</td>"),
        "{h}"
    );
    assert!(
        h.contains("no scenario ran") || h.contains("Verdict: PASS"),
        "{h}"
    );
}
