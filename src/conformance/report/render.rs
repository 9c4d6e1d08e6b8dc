//! One walk over the requirements and the results that writes the report in either format:
//! the header (what ran), the summary (verdict, counts, links to each failure and blocked
//! run), then the sections of `sections.rs` — Failures, Blocked, Requirements, Skipped, and
//! last the requirements that did not run.

use super::fmt::{Entry, Fmt, CSS, TITLE};
use super::sections::{blocked_runs, failures, not_run, requirements, skipped};
use super::{
    requirement_runs, sorted, summary, Fact, Outcome, ReportMeta, RequirementRuns, RunVerdict,
    Summary,
};
use crate::conformance::coverage::{Requirement, RunResult};
use crate::conformance::junit::is_requirement_id;

pub(super) fn render(
    f: Fmt,
    meta: &ReportMeta,
    reqs: &[Requirement],
    results: &[RunResult],
) -> String {
    let rows = requirement_runs(reqs, results);
    let failed = sorted(results, |r| Outcome::of(r) == Outcome::Failed);
    let blocked = sorted(results, |r| Outcome::of(r) == Outcome::Blocked);
    // The numbered entry a run has in Failures or Blocked (numbers start at 1).
    let entry = |r: &RunResult| {
        let at = |list: &[&RunResult]| list.iter().position(|x| std::ptr::eq(*x, r));
        at(&failed[..])
            .map(|i| Entry::Failure(i + 1))
            .or_else(|| at(&blocked[..]).map(|i| Entry::Blocked(i + 1)))
    };
    let mut o = match f {
        Fmt::Md => format!("# {TITLE}\n\n"),
        Fmt::Html => format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{TITLE}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{TITLE}</h1>\n"
        ),
    };
    let (ran, idle): (Vec<&RequirementRuns>, Vec<&RequirementRuns>) =
        rows.iter().partition(|r| r.verdict != RunVerdict::NotRun);
    o.push_str(&header(f, meta));
    o.push_str(&summary_block(f, meta, results, &rows, &failed, &blocked));
    o.push_str(&failures(f, meta, reqs, &failed));
    o.push_str(&blocked_runs(f, reqs, &blocked));
    o.push_str(&requirements(f, &ran, &entry));
    o.push_str(&skipped(f, results));
    o.push_str(&not_run(f, meta, &idle));
    match f {
        Fmt::Html => o.push_str("</body>\n</html>\n"),
        Fmt::Md => o.truncate(o.trim_end().len() + 1),
    }
    o
}

/// A fact about the device: its value, or `unknown` with the reason.
fn fact(f: Fmt, fact: &Fact) -> String {
    match fact {
        Fact::Known(v) if !v.trim().is_empty() => f.text(v.trim()),
        Fact::Known(_) => f.status(
            "unknown",
            "unknown (the target reported an empty value)",
            false,
        ),
        Fact::Unknown(why) => {
            let why = if why.trim().is_empty() {
                "no reason recorded"
            } else {
                why.trim()
            };
            format!("{} — {}", f.status("unknown", "unknown", true), f.text(why))
        }
    }
}

/// What ran: date, target, firmware and serial, tag filter, seed.
fn header(f: Fmt, meta: &ReportMeta) -> String {
    let or = |s: &str, none: &str| f.text(if s.trim().is_empty() { none } else { s });
    let tags = meta.tags.as_deref().unwrap_or("");
    let tags = if tags.trim().is_empty() {
        f.text("none (all scenarios)")
    } else {
        f.code(tags)
    };
    let replay = f.code(&format!("SC_SEED={}", meta.seed));
    let facts = [
        ("Run date", or(&meta.date, "not recorded")),
        ("Target", or(&meta.target, "not described")),
        ("Firmware", fact(f, &meta.firmware)),
        ("Serial", fact(f, &meta.serial)),
        ("Tag filter", tags),
        ("Seed", format!("{} (replay with {replay})", meta.seed)),
    ];
    let lines: Vec<String> = facts
        .into_iter()
        .map(|(name, value)| match f {
            Fmt::Md => format!("- **{name}:** {value}\n"),
            Fmt::Html => format!("<dt>{name}</dt><dd>{value}</dd>\n"),
        })
        .collect();
    match f {
        Fmt::Md => format!("{}\n", lines.concat()),
        Fmt::Html => format!("<dl class=\"meta\">\n{}</dl>\n", lines.concat()),
    }
}

/// `1 requirement` / `2 requirements`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one-line overall verdict: its word, CSS class and why.
fn verdict(s: Summary, rows: &[RequirementRuns]) -> (&'static str, &'static str, String) {
    // `1 requirement fails` / `2 requirements fail`.
    let reqs = |v, one: &str, many: &str| {
        let n = rows.iter().filter(|r| r.verdict == v).count();
        format!(
            "{} {}",
            count(n, "requirement", "requirements"),
            if n == 1 { one } else { many }
        )
    };
    let ran = s.passed + s.failed + s.blocked;
    match s {
        _ if s.failed > 0 => (
            "FAIL",
            "fail",
            format!(
                "the device failed {} of the {ran} scenarios that ran; {}",
                s.failed,
                reqs(RunVerdict::Fail, "fails", "fail")
            ),
        ),
        _ if s.blocked > 0 => (
            "BLOCKED",
            "blocked",
            format!(
                "the bench blocked {} of the {ran} scenarios that ran and none failed; {}",
                s.blocked,
                reqs(RunVerdict::Blocked, "is not judged", "are not judged")
            ),
        ),
        _ if s.passed > 0 => (
            "PASS",
            "pass",
            format!(
                "all {} that ran passed; {}",
                count(ran, "scenario", "scenarios"),
                reqs(RunVerdict::Pass, "passes", "pass")
            ),
        ),
        _ => ("NOT JUDGED", "notjudged", "no scenario ran".into()),
    }
}

/// The verdict, the counts of requirements and scenarios, links to every failure and blocked
/// run, and to each section.
fn summary_block(
    f: Fmt,
    meta: &ReportMeta,
    results: &[RunResult],
    rows: &[RequirementRuns],
    failed: &[&RunResult],
    blocked: &[&RunResult],
) -> String {
    let s = summary(results);
    let mut o = f.h2("Summary", "summary");
    let (word, class, why) = verdict(s, rows);
    o.push_str(&match f {
        Fmt::Md => format!("**Verdict: {word}** — {why}.\n\n"),
        Fmt::Html => format!(
            "<p class=\"verdict\"><strong class=\"{class}\">Verdict: {word}</strong> — {why}.</p>\n"
        ),
    });
    let n = |v| rows.iter().filter(|r| r.verdict == v).count().to_string();
    let requirements = vec![
        f.strong("Requirements"),
        n(RunVerdict::Pass),
        n(RunVerdict::Fail),
        n(RunVerdict::Blocked),
        n(RunVerdict::Skipped),
        n(RunVerdict::NotRun),
        rows.len().to_string(),
    ];
    let in_results = results.len();
    let (idle, all) = match meta.suite_scenarios {
        Some(total) => {
            let idle = total.saturating_sub(in_results);
            (idle.to_string(), (in_results + idle).to_string())
        }
        None => ("?".to_string(), format!("{in_results}+")),
    };
    let scenarios = vec![
        f.strong("Scenarios"),
        s.passed.to_string(),
        s.failed.to_string(),
        s.blocked.to_string(),
        s.skipped.to_string(),
        idle,
        all,
    ];
    let head = [
        "", "passed", "failed", "blocked", "skipped", "not run", "in all",
    ];
    o.push_str(&f.table("counts", &head, &[(None, requirements), (None, scenarios)]));
    o.push_str(&f.note(&format!(
        "A requirement is {} when one of its scenarios failed, {} when the bench (not the \
         device) kept one from running, {} when all its scenarios were skipped (not \
         applicable or missing a bench capability), {} when no scenario of this run carries \
         its ID{}.",
        f.strong("failed"),
        f.strong("blocked"),
        f.strong("skipped"),
        f.strong("not run"),
        match &meta.tags {
            Some(t) if !t.trim().is_empty() => format!(
                " (the tag filter {} left them out, or no scenario covers them)",
                f.code(t)
            ),
            _ => " (no scenario covers them)".to_string(),
        }
    )));
    o.push_str(&links(f, "Failures", failed, Entry::Failure));
    o.push_str(&links(f, "Blocked by the bench", blocked, Entry::Blocked));
    let ran = rows
        .iter()
        .filter(|r| r.verdict != RunVerdict::NotRun)
        .count();
    let sections = [
        f.link("failures", &format!("Failures ({})", failed.len())),
        f.link("blocked", &format!("Blocked ({})", blocked.len())),
        f.link("requirements", &format!("Requirements ({ran})")),
        f.link("skipped", &format!("Skipped ({})", s.skipped)),
        f.link("not-run", &format!("Not run ({})", rows.len() - ran)),
    ];
    o.push_str(&f.para(&format!(
        "{} {}",
        f.strong("Sections:"),
        sections.join(" · ")
    )));
    o
}

/// `Failures (2):` and a list of links to them, `[MB-06 Voltage registers](#fail-1)` with
/// the place after each; nothing when there are none.
fn links(f: Fmt, title: &str, runs: &[&RunResult], entry: fn(usize) -> Entry) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let items: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = format!("{} {}", plain_ids(r), r.scenario);
            format!(
                "{} — {}",
                f.link(&entry(i + 1).anchor(), text.trim_start()),
                f.code(&super::location(r))
            )
        })
        .collect();
    let mut o = f.para(&f.strong(&format!("{title} ({}):", runs.len())));
    o.push_str(&f.list(&items));
    o
}

/// The requirement IDs among a run's tags, comma-separated (empty when it has none).
pub(super) fn plain_ids(r: &RunResult) -> String {
    r.tags
        .iter()
        .map(|t| t.trim_start_matches('@'))
        .filter(|t| is_requirement_id(t))
        .collect::<Vec<_>>()
        .join(", ")
}
