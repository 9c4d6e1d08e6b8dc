//! The report's sections after the summary: each failure and each blocked run (numbered,
//! anchored), the per-requirement table of the requirements that ran (failures first), the
//! skipped scenarios grouped by reason, and last the requirements no scenario of the run
//! checked (collapsed in HTML).

use super::fmt::{Entry, Fmt};
use super::render::plain_ids;
use super::{
    location, requirement_anchor, sorted, Outcome, ReportMeta, RequirementRuns, RunVerdict,
};
use crate::conformance::coverage::{Requirement, RunResult};
use crate::conformance::junit::is_requirement_id;

/// The requirement IDs among a run's tags, linked to their rows.
fn requirement_ids(f: Fmt, reqs: &[Requirement], r: &RunResult) -> String {
    let ids: Vec<String> = r
        .tags
        .iter()
        .map(|t| t.trim_start_matches('@'))
        .filter(|t| is_requirement_id(t))
        .map(|id| match reqs.iter().any(|q| q.id == id) {
            true => f.link(&requirement_anchor(id), id),
            false => f.text(id),
        })
        .collect();
    if ids.is_empty() {
        "— (no requirement tag)".into()
    } else {
        ids.join(", ")
    }
}

/// What an entry's heading names: `MB-06: Voltage registers` (formatted).
fn what(f: Fmt, r: &RunResult) -> String {
    match plain_ids(r) {
        ids if ids.is_empty() => f.name(r),
        ids => format!("{}: {}", f.text(&ids), f.name(r)),
    }
}

pub(super) fn failures(
    f: Fmt,
    meta: &ReportMeta,
    reqs: &[Requirement],
    failed: &[&RunResult],
) -> String {
    let mut o = f.section("Failures", "failures", failed.len());
    for (i, r) in failed.iter().enumerate() {
        let mut replay = f.code(&format!("SC_SEED={}", meta.seed));
        if let Some(seed) = r.seed {
            replay.push_str(&format!(" (scenario seed {seed})"));
        }
        let mut facts = vec![
            ("Requirements", requirement_ids(f, reqs, r)),
            ("Where", f.code(&location(r))),
        ];
        if r.status != "failed" {
            let unknown = format!("status {:?}, unknown: counted as a failure", r.status);
            facts.push(("Outcome", f.text(&unknown)));
        }
        facts.push(("Replay", replay));
        let reason = r.reason.as_deref().unwrap_or("(no reason recorded)");
        let e = Entry::Failure(i + 1);
        o.push_str(&f.entry(e, &what(f, r), &facts, "Message", reason));
    }
    o
}

pub(super) fn blocked_runs(f: Fmt, reqs: &[Requirement], blocked: &[&RunResult]) -> String {
    let mut o = f.section("Blocked by the bench", "blocked", blocked.len());
    if !blocked.is_empty() {
        o.push_str(&f.para(
            "The bench, not the device, failed (meter line unreachable, a bench hook failed, \
             no answer at the pre-flight check): these scenarios judge nothing. \
             Fix the cause and run them again.",
        ));
    }
    for (i, r) in blocked.iter().enumerate() {
        let facts = [
            ("Requirements", requirement_ids(f, reqs, r)),
            ("Where", f.code(&location(r))),
        ];
        let cause = r.reason.as_deref().unwrap_or("(no cause recorded)");
        let e = Entry::Blocked(i + 1);
        o.push_str(&f.entry(e, &what(f, r), &facts, "Cause", cause));
    }
    o
}

/// `manual` first, then `sim`, then any other kind.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "manual" => 0,
        "sim" => 1,
        _ => 2,
    }
}

fn kind(f: Fmt, req: &Requirement) -> String {
    f.text(match req.kind.as_str() {
        "sim" => "sim convention",
        k => k,
    })
}

/// Per requirement that ran: full statement, kind, verdict and the scenarios behind it;
/// failed first, then blocked, passed and skipped; within each, manual statements before
/// simulator conventions, each in spec order.
pub(super) fn requirements(
    f: Fmt,
    rows: &[&RequirementRuns],
    entry: &dyn Fn(&RunResult) -> Option<Entry>,
) -> String {
    let mut o = f.h2(&format!("Requirements ({})", rows.len()), "requirements");
    o.push_str(&f.note(&format!(
        "The requirements at least one scenario of this run checks, failures first. {} — \
         stated by the vendor manual: real firmware must pass it. {} — the manual is silent \
         or vague: the simulator's documented choice, from the underlying standard.",
        f.strong("manual"),
        f.strong("sim convention")
    )));
    if rows.is_empty() {
        o.push_str(&f.para("None."));
        return o;
    }
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| (r.verdict.rank(), kind_rank(&r.requirement.kind)));
    let cells: Vec<(Option<String>, Vec<String>)> = rows
        .iter()
        .map(|row| {
            let v = row.verdict;
            let strong = matches!(v, RunVerdict::Pass | RunVerdict::Fail | RunVerdict::Blocked);
            let mut verdict = f.status(&v.css(), v.as_str(), strong);
            if v == RunVerdict::Skipped && !row.skip_reasons.is_empty() {
                verdict.push_str(&format!(" ({})", f.text(&row.skip_reasons.join("; "))));
            }
            let req = row.requirement;
            let runs: Vec<String> = row.runs.iter().map(|r| f.run(r, entry(r))).collect();
            let runs = match f {
                Fmt::Md => runs.join("<br>"),
                Fmt::Html => format!(
                    "<ul class=\"runs\"><li>{}</li></ul>",
                    runs.join("</li><li>")
                ),
            };
            let cells = vec![
                f.text(&req.id),
                f.text(&req.statement),
                kind(f, req),
                verdict,
                runs,
            ];
            (Some(requirement_anchor(&req.id)), cells)
        })
        .collect();
    let head = ["ID", "statement", "kind", "verdict", "scenarios"];
    o.push_str(&f.table("requirements", &head, &cells));
    o
}

/// Skipped runs grouped by reason, the most frequent reason first.
pub(super) fn skipped(f: Fmt, results: &[RunResult]) -> String {
    let skipped = sorted(results, |r| Outcome::of(r) == Outcome::Skipped);
    let mut o = f.section("Skipped", "skipped", skipped.len());
    let mut groups: Vec<(&str, Vec<&RunResult>)> = Vec::new();
    for r in skipped {
        let reason = r.reason.as_deref().unwrap_or("no reason given");
        match groups.iter_mut().find(|(g, _)| *g == reason) {
            Some((_, runs)) => runs.push(r),
            None => groups.push((reason, vec![r])),
        }
    }
    groups.sort_by_key(|(_, runs)| std::cmp::Reverse(runs.len()));
    for (reason, runs) in groups {
        o.push_str(&f.para(&format!("{} ({})", f.strong(reason), runs.len())));
        let items: Vec<String> = runs.iter().map(|r| f.place(r)).collect();
        o.push_str(&f.list(&items));
    }
    o
}

/// The requirements no result carries the ID of, with their full statements: last, and
/// collapsed in HTML.
pub(super) fn not_run(f: Fmt, meta: &ReportMeta, rows: &[&RequirementRuns]) -> String {
    let mut o = f.section("Not run", "not-run", rows.len());
    if rows.is_empty() {
        return o;
    }
    let why = match &meta.tags {
        Some(t) if !t.trim().is_empty() => format!(
            "No scenario of this run checks these: the tag filter {} left their scenarios out, \
             or no scenario covers them (see {}).",
            f.code(t),
            f.code("smart-connect-sim coverage")
        ),
        _ => format!(
            "No scenario of this run checks these: no scenario covers them (see {}).",
            f.code("smart-connect-sim coverage")
        ),
    };
    o.push_str(&f.para(&why));
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| kind_rank(&r.requirement.kind));
    let cells: Vec<(Option<String>, Vec<String>)> = rows
        .iter()
        .map(|row| {
            let req = row.requirement;
            let cells = vec![f.text(&req.id), f.text(&req.statement), kind(f, req)];
            (Some(requirement_anchor(&req.id)), cells)
        })
        .collect();
    let table = f.table("notrun", &["ID", "statement", "kind"], &cells);
    match f {
        Fmt::Md => o.push_str(&table),
        Fmt::Html => o.push_str(&format!(
            "<details>\n<summary>{} not run — show their statements</summary>\n{table}</details>\n",
            if rows.len() == 1 {
                "1 requirement".to_string()
            } else {
                format!("{} requirements", rows.len())
            }
        )),
    }
    o
}
