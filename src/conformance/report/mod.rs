//! The conformance report for firmware engineers and product owners. It opens with what ran
//! (date, target, firmware and serial of the device under test, tag filter, seed), then a
//! summary (the verdict, requirement and scenario counts, links to every failure and every
//! run the bench blocked), then each failure (requirements, place, message, replay seed) and
//! each blocked run (with the cause), then per requirement that ran (failures first) its full
//! statement, verdict and scenarios, then the skipped scenarios grouped by reason, and last
//! the requirements no scenario of the run checked. Rendered as Markdown ([`markdown`]) or as
//! a self-contained HTML page ([`html`]) from one walk (`render`), so both carry the same
//! content and the same anchors. Pure: callers pass the date, target facts, requirements and
//! results in.

mod fmt;
mod render;
mod sections;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_html;

use super::coverage::{Requirement, RunResult};
use super::junit::order_key;

/// A fact about the device under test: known (with where it came from, when that matters),
/// or unknown with the reason — the report never guesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Known(String),
    /// Why it is not known, e.g. `GET /api/v1/status: no answer (connection refused)`.
    Unknown(String),
}

/// What the report was run against, shown in its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeta {
    /// When the run happened, RFC 3339 UTC (e.g. `2025-06-01T12:00:00Z`), as the caller
    /// formats it (from the wall clock at the CLI; tests pass a fixed one).
    pub date: String,
    /// The target: what it is and where (`virtual Smart Connect …`, `remote … (http://…)`).
    pub target: String,
    /// The firmware version of the device under test.
    pub firmware: Fact,
    /// The serial number of the device under test.
    pub serial: Fact,
    /// The tag filter expression used, if any.
    pub tags: Option<String>,
    /// The run's base seed (`SC_SEED`).
    pub seed: u64,
    /// How many scenarios the feature files hold (each Scenario Outline row counted), when
    /// known: those without a result were not run (outside the tag filter).
    pub suite_scenarios: Option<usize>,
}

/// Scenario runs per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    /// Failed on the device, or a status this crate does not know.
    pub failed: usize,
    /// The bench, not the device, failed: meter line unreachable, a hook exited non-zero,
    /// no answer at the pre-flight check. Neither a pass nor a device failure.
    pub blocked: usize,
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
            Outcome::Blocked => s.blocked += 1,
            Outcome::Skipped => s.skipped += 1,
        }
    }
    s
}

/// A run's outcome. Anything but `passed`, `blocked` or `skipped` is a failure, so a
/// status this crate does not know never reads as green.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Blocked,
    Skipped,
}

impl Outcome {
    pub(crate) fn of(r: &RunResult) -> Outcome {
        match r.status.as_str() {
            "passed" => Outcome::Passed,
            "blocked" => Outcome::Blocked,
            "skipped" => Outcome::Skipped,
            _ => Outcome::Failed,
        }
    }

    /// The CSS class of the outcome's colour.
    fn css(self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::Failed => "fail",
            Outcome::Blocked => "blocked",
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
    /// None failed, but the bench blocked at least one of its scenarios, so it is not (fully)
    /// judged: a pass of its other scenarios does not make up for the blocked one.
    Blocked,
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
            RunVerdict::Blocked => "blocked",
            RunVerdict::Skipped => "skipped",
            RunVerdict::NotRun => "not run",
        }
    }

    /// The CSS class: `pass`, `fail`, `blocked`, `skipped`, `notrun`.
    fn css(self) -> String {
        self.as_str().to_lowercase().replace(' ', "")
    }

    /// Where its row goes in the table: failures first, then blocked, passed, skipped.
    fn rank(self) -> u8 {
        match self {
            RunVerdict::Fail => 0,
            RunVerdict::Blocked => 1,
            RunVerdict::Pass => 2,
            RunVerdict::Skipped => 3,
            RunVerdict::NotRun => 4,
        }
    }

    /// The verdict of a requirement whose runs tally `s`: a failure anywhere fails it; else
    /// a blocked run leaves it blocked; else a pass passes it.
    fn of(s: Summary) -> RunVerdict {
        match s {
            _ if s.failed > 0 => RunVerdict::Fail,
            _ if s.blocked > 0 => RunVerdict::Blocked,
            _ if s.passed > 0 => RunVerdict::Pass,
            _ if s.skipped > 0 => RunVerdict::Skipped,
            _ => RunVerdict::NotRun,
        }
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
            let verdict = RunVerdict::of(tally(runs.iter().copied()));
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

/// The anchor of a requirement's row (`req-mb-06`), the same in both formats.
fn requirement_anchor(id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    format!("req-{id}")
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

/// The report as Markdown.
pub fn markdown(meta: &ReportMeta, reqs: &[Requirement], results: &[RunResult]) -> String {
    render::render(fmt::Fmt::Md, meta, reqs, results)
}

/// The report as a self-contained HTML page (inline CSS, no scripts, no external assets).
pub fn html(meta: &ReportMeta, reqs: &[Requirement], results: &[RunResult]) -> String {
    render::render(fmt::Fmt::Html, meta, reqs, results)
}
