//! JUnit XML for CI dashboards: turns the results of a conformance run (`results.jsonl`,
//! see [`RunResult`]) into one `<testsuite>` per feature and one `<testcase>` per scenario
//! run, with the requirement tags as `<property name="requirement">`. A failed scenario is a
//! `<failure>`, one the bench blocked (not the device's fault) an `<error type="blocked">`,
//! a skipped one `<skipped>` with its reason. Test-case names are unique within a suite (the
//! rows of a Scenario Outline get their example's line). Pure (no I/O) and deterministic:
//! results are ordered by feature file, line and name, since the suite runs scenarios
//! concurrently and appends them in finishing order.

use super::coverage::RunResult;
use super::report::{summary, tally, Outcome};

/// The results as a JUnit XML document (`<testsuites>` root, totals on every level).
pub fn junit_xml(suite_name: &str, results: &[RunResult]) -> String {
    let all = summary(results);
    let total_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        escape(suite_name),
        results.len(),
        all.failed,
        all.blocked,
        all.skipped,
        seconds(total_ms)
    ));
    for (feature, runs) in by_feature(results) {
        let s = tally(runs.iter().copied());
        let file = runs[0].file.as_str();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\"",
            escape(feature),
            runs.len(),
            s.failed,
            s.blocked,
            s.skipped,
            seconds(runs.iter().map(|r| r.duration_ms).sum())
        ));
        if !file.is_empty() {
            x.push_str(&format!(" file=\"{}\"", escape(file)));
        }
        x.push_str(">\n");
        for (r, name) in runs.iter().zip(case_names(&runs)) {
            testcase(&mut x, r, &name);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Test-case names for one suite's runs (in order), unique within it: a name several runs
/// share (the rows of a Scenario Outline whose name has no `<placeholder>`) gets its
/// example's line, `Name (example, line 27)`, or when the lines coincide too a row counter,
/// `Name #2`; a name that is still taken gets a further counter.
fn case_names(runs: &[&RunResult]) -> Vec<String> {
    let shared = |name: &str| runs.iter().filter(move |r| r.scenario == name).count();
    let same_line = |r: &RunResult| {
        let same = |o: &&&RunResult| o.scenario == r.scenario && o.line == r.line;
        runs.iter().filter(same).count()
    };
    let mut taken: std::collections::HashSet<String> = Default::default();
    let mut rows: std::collections::HashMap<&str, usize> = Default::default();
    let mut names = Vec::with_capacity(runs.len());
    for r in runs {
        let name = r.scenario.as_str();
        let row = rows.entry(name).or_default();
        *row += 1;
        let base = match shared(name) {
            1 => name.to_string(),
            _ if r.line > 0 && same_line(r) == 1 => format!("{name} (example, line {})", r.line),
            _ => format!("{name} #{row}"),
        };
        let (mut candidate, mut n) = (base.clone(), 1);
        while taken.contains(&candidate) {
            n += 1;
            candidate = format!("{base} #{n}");
        }
        taken.insert(candidate.clone());
        names.push(candidate);
    }
    names
}

fn testcase(x: &mut String, r: &RunResult, name: &str) {
    let classname = match r.file.strip_suffix(".feature") {
        Some(stem) => stem,
        None if !r.file.is_empty() => r.file.as_str(),
        None => r.feature.as_str(),
    };
    x.push_str(&format!(
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        escape(name),
        escape(classname),
        seconds(r.duration_ms)
    ));
    if !r.file.is_empty() {
        x.push_str(&format!(" file=\"{}\"", escape(&r.file)));
    }
    if r.line > 0 {
        x.push_str(&format!(" line=\"{}\"", r.line));
    }
    x.push_str(">\n");
    let mut props: Vec<(&str, String)> = Vec::new();
    for t in &r.tags {
        let bare = t.strip_prefix('@').unwrap_or(t);
        if is_requirement_id(bare) {
            props.push(("requirement", bare.to_string()));
        } else {
            props.push(("tag", format!("@{bare}")));
        }
    }
    if let Some(seed) = r.seed {
        props.push(("seed", seed.to_string()));
    }
    if !props.is_empty() {
        x.push_str("      <properties>\n");
        for (name, value) in props {
            x.push_str(&format!(
                "        <property name=\"{name}\" value=\"{}\"/>\n",
                escape(&value)
            ));
        }
        x.push_str("      </properties>\n");
    }
    let reason = r.reason.as_deref().unwrap_or("");
    match Outcome::of(r) {
        Outcome::Passed => {}
        Outcome::Skipped if reason.is_empty() => x.push_str("      <skipped/>\n"),
        Outcome::Skipped => x.push_str(&format!(
            "      <skipped message=\"{}\"/>\n",
            escape(reason)
        )),
        Outcome::Failed => {
            let mut body = reason.to_string();
            if let Some(seed) = r.seed {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(&format!("scenario seed: {seed}"));
            }
            let fallback = match r.status.as_str() {
                "failed" => "failed".to_string(),
                other => format!("status {other:?}"),
            };
            problem(x, "failure", reason, &fallback, &r.status, &body);
        }
        Outcome::Blocked => {
            let fallback = "blocked by the bench (no cause recorded)";
            problem(x, "error", reason, fallback, "blocked", reason);
        }
    }
    x.push_str("    </testcase>\n");
}

/// A `<failure>` or `<error>`: the reason's first non-blank line (or `fallback`) as the
/// message, `body` as the text.
fn problem(x: &mut String, element: &str, reason: &str, fallback: &str, kind: &str, body: &str) {
    let message = match reason.lines().find(|l| !l.trim().is_empty()) {
        Some(first) => first.trim(),
        None => fallback,
    };
    x.push_str(&format!(
        "      <{element} message=\"{}\" type=\"{}\">{}</{element}>\n",
        escape(message),
        escape(kind),
        escape_text(body)
    ));
}

/// Results grouped by feature (file, then name), each group ordered by line and name.
fn by_feature(results: &[RunResult]) -> Vec<(&str, Vec<&RunResult>)> {
    let mut sorted: Vec<&RunResult> = results.iter().collect();
    sorted.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    let mut groups: Vec<(&str, Vec<&RunResult>)> = Vec::new();
    for r in sorted {
        match groups.last_mut() {
            Some((_, runs)) if (&runs[0].file, &runs[0].feature) == (&r.file, &r.feature) => {
                runs.push(r)
            }
            _ => {
                let name = if r.feature.is_empty() {
                    &r.file
                } else {
                    &r.feature
                };
                groups.push((name.as_str(), vec![r]));
            }
        }
    }
    groups
}

/// The order results are shown in everywhere: file, feature, line, scenario name.
pub(crate) fn order_key(r: &RunResult) -> (&str, &str, usize, &str) {
    (&r.file, &r.feature, r.line, &r.scenario)
}

/// `MB-06`, `P1-01`, `TIC-04`: an upper-case/digit area, a dash, a number.
pub(crate) fn is_requirement_id(tag: &str) -> bool {
    tag.rsplit_once('-').is_some_and(|(area, num)| {
        !area.is_empty()
            && area
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && !num.is_empty()
            && num.chars().all(|c| c.is_ascii_digit())
    })
}

/// Milliseconds as seconds with three decimals, without going through floats.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Text without ANSI escape sequences (coloured step output) and without the control
/// characters XML 1.0 forbids or consumers choke on; tab, newline and carriage return stay.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~ ; other escapes: ESC + one char.
            if chars.next_if_eq(&'[').is_some() {
                for p in chars.by_ref() {
                    if ('@'..='~').contains(&p) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if !c.is_control() || matches!(c, '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Escaped for an XML/HTML attribute value (double or single quoted): also keeps line
/// breaks and tabs, which attribute normalisation would otherwise turn into spaces.
pub(crate) fn escape(s: &str) -> String {
    escape_with(s, true)
}

/// Escaped for XML/HTML element content: line breaks stay literal.
pub(crate) fn escape_text(s: &str) -> String {
    escape_with(s, false)
}

fn escape_with(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn run(file: &str, scenario: &str, line: usize, status: &str, tags: &[&str]) -> RunResult {
        RunResult {
            feature: format!("Feature {file}"),
            file: format!("{file}.feature"),
            scenario: scenario.into(),
            line,
            status: status.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            reason: None,
            seed: Some(line as u64 * 7),
            duration_ms: 1234,
        }
    }

    /// A passed, a failed (reason with markup characters), a skipped, a `@sim-convention`
    /// and two outline runs; deliberately not in file/line order.
    pub(crate) fn sample() -> Vec<RunResult> {
        let mut failed = run(
            "modbus",
            "Voltage registers",
            20,
            "failed",
            &["@modbus", "@MB-06"],
        );
        failed.reason = Some(
            "Then the register reads 230 V\n  expected <230> & got \"0\" ('V')\u{1b}[31m!\u{7}"
                .into(),
        );
        let mut skipped = run(
            "led",
            "LED shows no data",
            5,
            "skipped",
            &["@led", "@LED-06", "@needs-led"],
        );
        skipped.reason = Some("missing capability: led".into());
        skipped.seed = None;
        vec![
            failed,
            run("modbus", "Port 502", 10, "passed", &["@modbus", "@MB-01"]),
            skipped,
            run(
                "p1",
                "Old meters refused",
                30,
                "passed",
                &["@P1-06", "@sim-convention"],
            ),
            run("p1", "Reads DSMR 5.0", 12, "passed", &["@P1-01"]),
            run("p1", "Reads DSMR 4.2", 11, "passed", &["@P1-01"]),
        ]
    }

    /// A tiny well-formedness check: every tag is closed in order, attribute values are
    /// quoted, and no raw `<`/`&` or forbidden control character is left in text.
    pub(crate) fn assert_well_formed(x: &str) {
        let body = x
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .unwrap_or(x);
        let mut stack: Vec<String> = Vec::new();
        let mut rest = body;
        while let Some(i) = rest.find(['<', '&']) {
            check_text(&rest[..i]);
            let after = &rest[i..];
            if after.starts_with('&') {
                let end = after.find(';').expect("unterminated entity");
                let ent = &after[1..end];
                assert!(
                    matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                        || ent
                            .strip_prefix('#')
                            .is_some_and(|n| n.parse::<u32>().is_ok()),
                    "bad entity &{ent};"
                );
                rest = &after[end + 1..];
                continue;
            }
            let end = after.find('>').expect("unterminated tag");
            let tag = &after[1..end];
            assert!(!tag.contains('<'), "raw < inside tag {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else {
                let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
                let name = name.trim_end_matches('/');
                assert!(
                    name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "bad name {name}"
                );
                assert_eq!(
                    attrs.matches('"').count() % 2,
                    0,
                    "unbalanced quotes in {tag}"
                );
                check_text(attrs);
                if !tag.ends_with('/') {
                    stack.push(name.to_string());
                }
            }
            rest = &after[end + 1..];
        }
        check_text(rest);
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    fn check_text(t: &str) {
        assert!(
            !t.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
            "control character in {t:?}"
        );
    }

    #[test]
    fn totals_suites_and_cases() {
        let x = junit_xml("Smart Connect conformance", &sample());
        assert_well_formed(&x);
        assert!(x.contains(
            "<testsuites name=\"Smart Connect conformance\" tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"7.404\">"
        ));
        assert_eq!(x.matches("<testsuite ").count(), 3);
        assert_eq!(x.matches("<testcase ").count(), 6);
        assert!(x.contains(
            "<testsuite name=\"Feature modbus\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"2.468\" file=\"modbus.feature\">"
        ));
        assert!(x.contains(
            "<testcase name=\"Port 502\" classname=\"modbus\" time=\"1.234\" file=\"modbus.feature\" line=\"10\">"
        ));
        assert!(x.contains("<property name=\"requirement\" value=\"MB-06\"/>"));
        assert!(x.contains("<property name=\"tag\" value=\"@sim-convention\"/>"));
        assert!(x.contains("<property name=\"seed\" value=\"140\"/>"));
        // Sorted by file then line, whatever the finishing order was.
        let order: Vec<usize> = [
            "LED shows",
            "Port 502",
            "Voltage",
            "DSMR 4.2",
            "DSMR 5.0",
            "Old meters",
        ]
        .iter()
        .map(|n| x.find(n).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        let mut reversed = sample();
        reversed.reverse();
        assert_eq!(
            junit_xml("Smart Connect conformance", &reversed),
            x,
            "deterministic"
        );
    }

    #[test]
    fn failure_and_skipped_elements_are_escaped() {
        let x = junit_xml("s", &sample());
        assert!(x.contains("<failure message=\"Then the register reads 230 V\" type=\"failed\">Then the register reads 230 V\n  expected &lt;230&gt; &amp; got &quot;0&quot; (&#39;V&#39;)!\nscenario seed: 140</failure>"), "{x}");
        assert!(x.contains("<skipped message=\"missing capability: led\"/>"));
        assert_eq!(x.matches("<failure").count(), 1);
        assert_eq!(x.matches("<skipped").count(), 1);
    }

    /// A run the bench blocked (the meter line was unreachable).
    fn blocked(file: &str, scenario: &str, line: usize, reason: Option<&str>) -> RunResult {
        RunResult {
            reason: reason.map(Into::into),
            ..run(file, scenario, line, "blocked", &["@MB-02"])
        }
    }

    #[test]
    fn blocked_runs_are_errors() {
        let cause =
            "meter line tcp:192.168.1.20:3001 unreachable\nconnection refused <os error 111>";
        let mut results = sample();
        results.push(blocked("modbus", "Second client", 40, Some(cause)));
        results.push(blocked("net", "DHCP", 3, None));
        let x = junit_xml("s", &results);
        assert_well_formed(&x);
        assert!(
            x.contains(
                "<testsuites name=\"s\" tests=\"8\" failures=\"1\" errors=\"2\" skipped=\"1\""
            ),
            "{x}"
        );
        assert!(x.contains("<testsuite name=\"Feature modbus\" tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"0\""));
        assert!(x.contains(
            "<testsuite name=\"Feature net\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\""
        ));
        assert!(x.contains(
            "<testsuite name=\"Feature p1\" tests=\"3\" failures=\"0\" errors=\"0\" skipped=\"0\""
        ));
        assert!(x.contains(
            "<error message=\"meter line tcp:192.168.1.20:3001 unreachable\" type=\"blocked\">\
             meter line tcp:192.168.1.20:3001 unreachable\nconnection refused &lt;os error 111&gt;</error>"
        ), "{x}");
        assert!(x.contains(
            "<error message=\"blocked by the bench (no cause recorded)\" type=\"blocked\"></error>"
        ));
        // Not a failure: the one <failure> is still the device's.
        assert_eq!(
            (x.matches("<failure").count(), x.matches("<error").count()),
            (1, 2)
        );
    }

    #[test]
    fn outline_rows_get_unique_names() {
        // Four rows of one outline (each row's line, as cucumber gives it), two runs that
        // share a name and a line, a scenario whose name collides with a generated one.
        let mut results: Vec<RunResult> = (28..32)
            .map(|line| {
                run(
                    "modbus",
                    "Any unit id gets an answer",
                    line,
                    "passed",
                    &["@MB-03"],
                )
            })
            .collect();
        results.push(run("modbus", "Port 502", 10, "passed", &[]));
        results.push(run("modbus", "Same line", 50, "passed", &[]));
        results.push(run("modbus", "Same line", 50, "failed", &[]));
        results.push(run("modbus", "Same line #2", 60, "passed", &[]));
        results.push(run("led", "Any unit id gets an answer", 5, "passed", &[]));
        let x = junit_xml("s", &results);
        assert_well_formed(&x);
        let names: Vec<&str> = x
            .split("<testcase name=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(
            names,
            [
                "Any unit id gets an answer",
                "Port 502",
                "Any unit id gets an answer (example, line 28)",
                "Any unit id gets an answer (example, line 29)",
                "Any unit id gets an answer (example, line 30)",
                "Any unit id gets an answer (example, line 31)",
                "Same line #1",
                "Same line #2",
                "Same line #2 #2",
            ]
        );
        // The sample's outline rows carry their values in their names: left as they are.
        let x = junit_xml("s", &sample());
        assert!(
            x.contains("<testcase name=\"Reads DSMR 4.2\" ")
                && x.contains("<testcase name=\"Reads DSMR 5.0\" ")
        );
    }

    #[test]
    fn escaping_and_odd_results() {
        assert_eq!(
            escape("a<b>&\"c'\nd\u{0}\u{1b}[1;31me"),
            "a&lt;b&gt;&amp;&quot;c&#39;&#10;de"
        );
        assert_eq!(escape_text("x\ny\u{8}"), "x\ny");
        let odd = RunResult {
            scenario: "no file <x>".into(),
            status: "crashed".into(),
            ..Default::default()
        };
        let x = junit_xml("s", &[odd]);
        assert_well_formed(&x);
        assert!(x.contains("<testcase name=\"no file &lt;x&gt;\" classname=\"\" time=\"0.000\">"));
        assert!(x.contains(
            "<failure message=\"status &quot;crashed&quot;\" type=\"crashed\"></failure>"
        ));
        assert!(x.contains("failures=\"1\""));
        assert!(!is_requirement_id("sim-convention") && is_requirement_id("TIC-04"));
    }
}
