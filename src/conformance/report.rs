//! The conformance report for product owners: per requirement of `spec/requirements.md`
//! (manual statements first, then simulator conventions) the verdict of the last run and its
//! scenarios, then every failure (with its seed) and every skip (with its reason). Rendered
//! as Markdown ([`markdown`]) or as a self-contained HTML page ([`html`]) from one walk, so
//! both carry the same content. Pure: callers pass the parsed requirements and results in.

use super::coverage::{Requirement, RunResult};
use super::junit::{clean, escape, escape_text, order_key};

/// What the report was run against, shown in its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeta {
    /// The target, e.g. `virtual Smart Connect P1 (DSMR 5.0)`.
    pub target: String,
    /// The tag filter expression used, if any.
    pub tags: Option<String>,
    /// The run's base seed (`SC_SEED`).
    pub seed: u64,
}

/// Scenario runs per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Not applicable to the target, or a bench capability is missing.
    pub skipped: usize,
}

/// Count the runs per outcome (an unknown status counts as failed).
pub fn summary(results: &[RunResult]) -> Summary {
    tally(results)
}

pub(crate) fn tally<'a>(results: impl IntoIterator<Item = &'a RunResult>) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match Outcome::of(r) {
            Outcome::Passed => s.passed += 1,
            Outcome::Failed => s.failed += 1,
            Outcome::Skipped => s.skipped += 1,
        }
    }
    s
}

/// A run's outcome. Anything but `passed` or `skipped` is a failure, so a status this
/// crate does not know never reads as green.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    pub(crate) fn of(r: &RunResult) -> Outcome {
        match r.status.as_str() {
            "passed" => Outcome::Passed,
            "skipped" => Outcome::Skipped,
            _ => Outcome::Failed,
        }
    }

    fn css(self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::Failed => "fail",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The verdict for one requirement in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVerdict {
    /// At least one of its scenarios ran, and all that ran passed.
    Pass,
    /// One of its scenarios failed.
    Fail,
    /// All its scenarios were skipped.
    Skipped,
    /// No result carries its tag.
    NotRun,
}

impl RunVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            RunVerdict::Pass => "pass",
            RunVerdict::Fail => "FAIL",
            RunVerdict::Skipped => "skipped",
            RunVerdict::NotRun => "not run",
        }
    }

    /// The CSS class: `pass`, `fail`, `skipped`, `notrun`.
    fn css(self) -> String {
        self.as_str().to_lowercase().replace(' ', "")
    }
}

/// One requirement with the runs tagged with its ID.
#[derive(Debug, Clone)]
pub struct RequirementRuns<'a> {
    pub requirement: &'a Requirement,
    pub verdict: RunVerdict,
    /// Its runs, in file/line order.
    pub runs: Vec<&'a RunResult>,
    /// The distinct reasons of its skipped runs.
    pub skip_reasons: Vec<&'a str>,
}

/// Join requirements (in their order) and results: a result checks a requirement when its
/// tags contain `@<ID>` (a bare `<ID>` is accepted too).
pub fn requirement_runs<'a>(
    reqs: &'a [Requirement],
    results: &'a [RunResult],
) -> Vec<RequirementRuns<'a>> {
    let sorted = sorted(results, |_| true);
    reqs.iter()
        .map(|req| {
            let runs: Vec<&RunResult> = sorted
                .iter()
                .copied()
                .filter(|r| has_tag(r, &req.id))
                .collect();
            let s = tally(runs.iter().copied());
            let verdict = match s {
                _ if s.failed > 0 => RunVerdict::Fail,
                _ if s.passed > 0 => RunVerdict::Pass,
                _ if s.skipped > 0 => RunVerdict::Skipped,
                _ => RunVerdict::NotRun,
            };
            let mut skip_reasons: Vec<&str> = Vec::new();
            for r in runs.iter().filter(|r| Outcome::of(r) == Outcome::Skipped) {
                let reason = r.reason.as_deref().unwrap_or("no reason given");
                if !skip_reasons.contains(&reason) {
                    skip_reasons.push(reason);
                }
            }
            RequirementRuns {
                requirement: req,
                verdict,
                runs,
                skip_reasons,
            }
        })
        .collect()
}

fn has_tag(r: &RunResult, tag: &str) -> bool {
    r.tags
        .iter()
        .any(|t| t.strip_prefix('@').unwrap_or(t) == tag)
}

/// Results in file/line order, the ones `keep` accepts.
fn sorted(results: &[RunResult], keep: impl Fn(&RunResult) -> bool) -> Vec<&RunResult> {
    let mut v: Vec<&RunResult> = results.iter().filter(|r| keep(r)).collect();
    v.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    v
}

/// `modbus.feature:42` (or the feature's name when the result has no file).
fn location(r: &RunResult) -> String {
    let file = if r.file.is_empty() {
        &r.feature
    } else {
        &r.file
    };
    match r.line {
        0 => file.clone(),
        n => format!("{file}:{n}"),
    }
}

/// A statement cut to about 120 characters, at a word boundary when there is one.
fn shorten(s: &str) -> String {
    const MAX: usize = 120;
    let s = clean(s);
    if s.chars().count() <= MAX {
        return s;
    }
    let head: String = s.chars().take(MAX).collect();
    let cut = head.rfind(' ').filter(|&i| i > MAX / 2);
    format!("{}…", head[..cut.unwrap_or(head.len())].trim_end())
}

/// The report as Markdown.
pub fn markdown(meta: &ReportMeta, reqs: &[Requirement], results: &[RunResult]) -> String {
    render(Fmt::Md, meta, reqs, results)
}

/// The report as a self-contained HTML page (inline CSS, no scripts, no external assets).
pub fn html(meta: &ReportMeta, reqs: &[Requirement], results: &[RunResult]) -> String {
    render(Fmt::Html, meta, reqs, results)
}

#[derive(Clone, Copy, PartialEq)]
enum Fmt {
    Md,
    Html,
}

const TITLE: &str = "Smart Connect conformance report";

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.pass{color:#17692b;font-weight:bold}.fail{color:#b00020;font-weight:bold}\
.skipped{color:#8a6d00}.notrun{color:#777}\
.conv{font-size:.8em;background:#e8eefc;padding:0 .3em;border-radius:3px}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}dt{font-weight:bold}\
ul.runs{margin:0;padding-left:1.1em}";

impl Fmt {
    /// Inline text: HTML-escaped, or for Markdown kept on one line with no pipes (table
    /// cells) and no inline HTML.
    fn text(self, s: &str) -> String {
        match self {
            Fmt::Html => escape_text(s),
            Fmt::Md => clean(s)
                .replace('\\', "\\\\")
                .replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace("\r\n", " ")
                .replace(['\n', '\r'], " "),
        }
    }

    /// A word in a status colour (`class`), bold in Markdown when `strong`.
    fn status(self, class: &str, word: &str, strong: bool) -> String {
        match self {
            Fmt::Html => format!("<span class=\"{class}\">{}</span>", escape_text(word)),
            Fmt::Md if strong => format!("**{}**", self.text(word)),
            Fmt::Md => self.text(word),
        }
    }

    /// One scenario run: where, name, status, and whether it checks a sim convention.
    fn run(self, r: &RunResult) -> String {
        let o = Outcome::of(r);
        let word = match o {
            Outcome::Failed if r.status == "failed" => "FAILED",
            _ => r.status.as_str(),
        };
        let mut s = format!(
            "{} — {} ({})",
            self.text(&location(r)),
            self.text(&r.scenario),
            self.status(o.css(), word, false)
        );
        if has_tag(r, "sim-convention") {
            s.push_str(match self {
                Fmt::Html => " <span class=\"conv\">sim-convention</span>",
                Fmt::Md => " _(sim-convention)_",
            });
        }
        s
    }

    /// A section heading with its count, and `None.` under it when empty.
    fn section(self, title: &str, n: usize) -> String {
        let none = if n == 0 { "None." } else { "" };
        match self {
            Fmt::Html if n == 0 => format!("<h2>{title} (0)</h2>\n<p>{none}</p>\n"),
            Fmt::Html => format!("<h2>{title} ({n})</h2>\n"),
            Fmt::Md => format!(
                "\n## {title} ({n})\n\n{none}{}",
                if n == 0 { "\n" } else { "" }
            ),
        }
    }

    /// A reason kept verbatim: `<pre>`, or a fence no backtick run in it can close.
    fn block(self, s: &str) -> String {
        let s = clean(s.trim_end());
        match self {
            Fmt::Html => format!("<pre>{}</pre>\n", escape_text(&s)),
            Fmt::Md => {
                let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat((longest + 1).max(3));
                format!("{fence}text\n{s}\n{fence}\n")
            }
        }
    }
}

/// The totals line: scenario runs per outcome, then requirements per verdict.
fn totals(results: &[RunResult], rows: &[RequirementRuns]) -> String {
    let s = summary(results);
    let count = |v| rows.iter().filter(|r| r.verdict == v).count();
    format!(
        "{} run — {} passed, {} failed, {} skipped (not applicable or missing capability); \
         requirements: {} pass, {} FAIL, {} skipped, {} not run",
        results.len(),
        s.passed,
        s.failed,
        s.skipped,
        count(RunVerdict::Pass),
        count(RunVerdict::Fail),
        count(RunVerdict::Skipped),
        count(RunVerdict::NotRun)
    )
}

fn render(f: Fmt, meta: &ReportMeta, reqs: &[Requirement], results: &[RunResult]) -> String {
    let rows = requirement_runs(reqs, results);
    let header = [
        ("Target", meta.target.clone()),
        (
            "Tag filter",
            meta.tags
                .clone()
                .unwrap_or_else(|| "none (all scenarios)".into()),
        ),
        ("Seed", format!("{0} (replay with SC_SEED={0})", meta.seed)),
        ("Scenarios", totals(results, &rows)),
    ];
    let mut o = match f {
        Fmt::Md => format!("# {TITLE}\n\n"),
        Fmt::Html => format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{TITLE}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{TITLE}</h1>\n<dl>\n"
        ),
    };
    for (name, value) in header {
        o.push_str(&match f {
            Fmt::Md => format!("- **{name}:** {}\n", f.text(&value)),
            Fmt::Html => format!("<dt>{name}</dt><dd>{}</dd>\n", f.text(&value)),
        });
    }
    if f == Fmt::Html {
        o.push_str("</dl>\n");
    }
    // Manual statements, simulator conventions, then any other kind (`""`) so none is lost.
    let kinds = [
        ("Manual requirements — what real firmware must do", "manual"),
        ("Simulator conventions", "sim"),
        ("Other requirements", ""),
    ];
    for (title, kind) in kinds {
        let group: Vec<&RequirementRuns> = rows
            .iter()
            .filter(|r| match (kind, r.requirement.kind.as_str()) {
                ("", k) => k != "manual" && k != "sim",
                (want, k) => want == k,
            })
            .collect();
        if group.is_empty() {
            continue;
        }
        o.push_str(&match f {
            Fmt::Md => format!("\n## {title}\n\n| ID | verdict | statement | scenarios |\n|---|---|---|---|\n"),
            Fmt::Html => format!("<h2>{title}</h2>\n<table>\n<tr><th>ID</th><th>verdict</th><th>statement</th><th>scenarios</th></tr>\n"),
        });
        for row in group {
            let v = row.verdict;
            let mut verdict = f.status(
                &v.css(),
                v.as_str(),
                matches!(v, RunVerdict::Pass | RunVerdict::Fail),
            );
            if v == RunVerdict::Skipped && !row.skip_reasons.is_empty() {
                verdict.push_str(&format!(" ({})", f.text(&row.skip_reasons.join("; "))));
            }
            let runs: Vec<String> = row.runs.iter().map(|r| f.run(r)).collect();
            let (id, statement) = (
                f.text(&row.requirement.id),
                f.text(&shorten(&row.requirement.statement)),
            );
            o.push_str(&match f {
                _ if runs.is_empty() && f == Fmt::Md => format!("| {id} | {verdict} | {statement} | — |\n"),
                Fmt::Md => format!("| {id} | {verdict} | {statement} | {} |\n", runs.join("<br>")),
                Fmt::Html => format!(
                    "<tr id=\"{}\"><td>{id}</td><td>{verdict}</td><td title=\"{}\">{statement}</td><td>{}</td></tr>\n",
                    escape(&row.requirement.id),
                    escape(&row.requirement.statement),
                    if runs.is_empty() { "—".to_string() } else {
                        format!("<ul class=\"runs\"><li>{}</li></ul>", runs.join("</li><li>"))
                    }
                ),
            });
        }
        if f == Fmt::Html {
            o.push_str("</table>\n");
        }
    }
    let failed = sorted(results, |r| Outcome::of(r) == Outcome::Failed);
    o.push_str(&f.section("Failures", failed.len()));
    for r in failed {
        let seed = r.seed.map_or("—".to_string(), |s| format!("`{s}`"));
        let replay = format!("replay the run with `SC_SEED={}`", meta.seed);
        let reason = f.block(r.reason.as_deref().unwrap_or("(no reason recorded)"));
        o.push_str(&match f {
            Fmt::Md => format!(
                "### {}\n\n- scenario seed: {seed} ({replay})\n\n{reason}",
                f.run(r)
            ),
            Fmt::Html => format!(
                "<h3>{}</h3>\n<p>scenario seed: <code>{}</code> ({})</p>\n{reason}",
                f.run(r),
                seed.trim_matches('`'),
                replay
                    .replace("`SC_SEED=", "<code>SC_SEED=")
                    .replace('`', "</code>")
            ),
        });
    }
    let skipped = sorted(results, |r| Outcome::of(r) == Outcome::Skipped);
    o.push_str(&f.section("Skipped", skipped.len()));
    if f == Fmt::Html && !skipped.is_empty() {
        o.push_str("<ul>\n");
    }
    for r in &skipped {
        let reason = f.text(r.reason.as_deref().unwrap_or("no reason given"));
        o.push_str(&match f {
            Fmt::Md => format!("- {}: {reason}\n", f.run(r)),
            Fmt::Html => format!("<li>{}: {reason}</li>\n", f.run(r)),
        });
    }
    if f == Fmt::Html {
        o.push_str(if skipped.is_empty() {
            "</body>\n</html>\n"
        } else {
            "</ul>\n</body>\n</html>\n"
        });
    }
    o
}

#[cfg(test)]
mod tests {
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
        and on well past the hundred and twenty characters a table cell should hold. |\n";

    fn meta(tags: Option<&str>) -> ReportMeta {
        let target = "virtual Smart Connect P1 (DSMR 5.0)".into();
        let tags = tags.map(Into::into);
        ReportMeta {
            target,
            tags,
            seed: 42,
        }
    }

    #[test]
    fn summary_and_verdicts() {
        let (results, reqs) = (sample(), parse_requirements(REQS));
        let want = Summary {
            passed: 4,
            failed: 1,
            skipped: 1,
        };
        assert_eq!(summary(&results), want);
        let rows = requirement_runs(&reqs, &results);
        let verdicts: Vec<(&str, RunVerdict)> = rows
            .iter()
            .map(|r| (r.requirement.id.as_str(), r.verdict))
            .collect();
        use RunVerdict::*;
        let want = [
            ("P1-06", Pass),
            ("MB-06", Fail),
            ("LED-06", Skipped),
            ("MB-01", Pass),
            ("NET-09", NotRun),
            ("P1-01", Pass),
        ];
        assert_eq!(verdicts, want);
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
    }

    #[test]
    fn markdown_report() {
        let m = markdown(
            &meta(Some("@p1 and not @slow")),
            &parse_requirements(REQS),
            &sample(),
        );
        for want in [
            "- **Target:** virtual Smart Connect P1 (DSMR 5.0)\n",
            "- **Tag filter:** @p1 and not @slow\n",
            "- **Seed:** 42 (replay with SC_SEED=42)\n",
            "6 run — 4 passed, 1 failed, 1 skipped (not applicable or missing capability); \
             requirements: 3 pass, 1 FAIL, 1 skipped, 1 not run\n",
            "| MB-06 | **FAIL** | Voltage registers read the telegram's voltages. | modbus.feature:20 — Voltage registers (FAILED) |\n",
            "| MB-01 | **pass** |",
            "| LED-06 | skipped (missing capability: led) |",
            "| NET-09 | not run | Nobody tested this yet. | — |\n",
            "p1.feature:30 — Old meters refused (passed) _(sim-convention)_ |\n",
            "p1.feature:11 — Reads DSMR 4.2 (passed)<br>p1.feature:12 — Reads DSMR 5.0 (passed) |",
            "- led.feature:5 — LED shows no data (skipped): missing capability: led\n",
        ] {
            assert!(m.contains(want), "missing {want:?} in\n{m}");
        }
        // Manual statements first, then simulator conventions, each in the order given.
        let at = |s: &str| m.find(s).unwrap_or_else(|| panic!("{s} missing"));
        let order = [
            "## Manual",
            "| MB-06 |",
            "| NET-09 |",
            "| P1-01 |",
            "## Simulator",
            "| P1-06 |",
            "## Failures (1)",
            "## Skipped (1)",
        ];
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{m}");
        // The long statement is cut at a word, with an ellipsis.
        assert!(m.contains("the hundred and twenty characters… |") && !m.contains("should hold"));
        // Failures: location, name, seed and the reason (control characters removed).
        let failures = &m[at("## Failures")..at("## Skipped")];
        assert!(failures.contains("### modbus.feature:20 — Voltage registers (FAILED)\n"));
        assert!(failures.contains("- scenario seed: `140` (replay the run with `SC_SEED=42`)"));
        assert!(failures.contains(
            "```text\nThen the register reads 230 V\n  expected <230> & got \"0\" ('V')!\n```"
        ));
        // Nothing failed or skipped: the sections say so.
        let m = markdown(&meta(None), &parse_requirements(REQS), &sample()[1..2]);
        assert!(
            m.contains("## Failures (0)\n\nNone.\n") && m.contains("## Skipped (0)\n\nNone.\n")
        );
        assert!(m.contains("- **Tag filter:** none (all scenarios)"));
    }

    #[test]
    fn html_report_escapes() {
        let mut results = sample();
        results.push(RunResult {
            scenario: "Status page <b>".into(),
            tags: vec!["@MB-01".into(), "@sim-convention".into()],
            reason: Some("page contained <script>alert('x')</script> & more".into()),
            seed: Some(9),
            ..results[0].clone()
        });
        let h = html(&meta(None), &parse_requirements(REQS), &results);
        assert!(
            h.starts_with("<!DOCTYPE html>") && h.contains("<style>") && h.ends_with("</html>\n")
        );
        assert!(!h.contains("<script") && !h.contains("<b>"));
        assert!(h.contains(
            "<pre>page contained &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</pre>"
        ));
        assert!(h.contains("<dt>Tag filter</dt><dd>none (all scenarios)</dd>"));
        assert!(h.contains("<tr id=\"MB-01\"><td>MB-01</td><td><span class=\"fail\">FAIL</span>"));
        assert!(h.contains("<h2>Failures (2)</h2>"));
        assert!(h.contains(
            "scenario seed: <code>9</code> (replay the run with <code>SC_SEED=42</code>)"
        ));
        assert!(h.contains("Status page &lt;b&gt; (<span class=\"fail\">FAILED</span>) <span class=\"conv\">sim-convention</span>"));
        assert!(h.contains("<span class=\"skipped\">skipped</span> (missing capability: led)"));
        assert!(h.find("Manual requirements").unwrap() < h.find("Simulator conventions").unwrap());
        // Well-formed once the HTML-only doctype and void <meta> are set aside.
        assert_well_formed(
            &h.replace("<!DOCTYPE html>\n", "")
                .replace("<meta charset=\"utf-8\">", ""),
        );
        // The Markdown escapes the same markup instead of letting it through as HTML.
        let m = markdown(&meta(None), &parse_requirements(REQS), &results);
        assert!(m.contains("Status page &lt;b&gt; (FAILED)") && !m.contains("<b>"));
    }
}
