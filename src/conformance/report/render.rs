//! One walk over the requirements and the results that writes the report in either format:
//! header and verdict, Failures, Blocked, the per-requirement table, Skipped.

use super::fmt::{Entry, Fmt, CSS, TITLE};
use super::{
    location, requirement_runs, sorted, summary, Outcome, ReportMeta, RequirementRuns, RunVerdict,
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
             <title>{TITLE}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{TITLE}</h1>\n"
        ),
    };
    o.push_str(&header(f, meta));
    o.push_str(&verdict(f, summary(results), &rows));
    o.push_str(&failures(f, meta, reqs, &failed));
    o.push_str(&blocked_runs(f, reqs, &blocked));
    o.push_str(&table(f, &rows, &entry));
    o.push_str(&skipped(f, results));
    match f {
        Fmt::Html => o.push_str("</body>\n</html>\n"),
        Fmt::Md => o.truncate(o.trim_end().len() + 1),
    }
    o
}

/// What ran: date, target, firmware (when reported), tag filter, seed.
fn header(f: Fmt, meta: &ReportMeta) -> String {
    let or = |s: &str, none: &str| f.text(if s.trim().is_empty() { none } else { s });
    let mut facts = vec![
        ("Run date", or(&meta.date, "not recorded")),
        ("Target", or(&meta.target, "not described")),
    ];
    let firmware = meta.firmware.as_deref().map(str::trim);
    if let Some(fw) = firmware.filter(|fw| !fw.is_empty()) {
        facts.push(("Firmware", f.text(fw)));
    }
    let tags = meta.tags.as_deref().unwrap_or("");
    facts.push(("Tag filter", or(tags, "none (all scenarios)")));
    let replay = f.code(&format!("SC_SEED={}", meta.seed));
    facts.push(("Seed", format!("{} (replay with {replay})", meta.seed)));
    let lines: Vec<String> = facts
        .into_iter()
        .map(|(name, value)| match f {
            Fmt::Md => format!("- **{name}:** {value}\n"),
            Fmt::Html => format!("<dt>{name}</dt><dd>{value}</dd>\n"),
        })
        .collect();
    match f {
        Fmt::Md => format!("{}\n", lines.concat()),
        Fmt::Html => format!("<dl>\n{}</dl>\n", lines.concat()),
    }
}

/// The one-line verdict (requirements per verdict), then the scenario counts.
fn verdict(f: Fmt, s: Summary, rows: &[RequirementRuns]) -> String {
    let (word, class) = match s {
        _ if s.failed > 0 => ("FAIL", "fail"),
        _ if s.blocked > 0 => ("BLOCKED", "blocked"),
        _ if s.passed > 0 => ("PASS", "pass"),
        _ => ("NOT JUDGED", "notjudged"),
    };
    let count = |v| rows.iter().filter(|r| r.verdict == v).count();
    let fails = count(RunVerdict::Fail);
    let mut reqs = format!(
        "{fails} {}, {} pass, {} blocked, {} not judged (skipped)",
        if fails == 1 {
            "requirement fails"
        } else {
            "requirements fail"
        },
        count(RunVerdict::Pass),
        count(RunVerdict::Blocked),
        count(RunVerdict::Skipped),
    );
    match count(RunVerdict::NotRun) {
        0 => {}
        n => reqs.push_str(&format!(", {n} not run")),
    }
    let scenarios = format!(
        "{} {} passed, {} failed, {} blocked, {} skipped (not applicable or missing capability); {} in all",
        f.strong("Scenarios:"),
        s.passed,
        s.failed,
        s.blocked,
        s.skipped,
        s.passed + s.failed + s.blocked + s.skipped
    );
    match f {
        Fmt::Md => format!("**Verdict: {word}** — {reqs}\n\n{scenarios}\n\n"),
        Fmt::Html => format!(
            "<p class=\"verdict\"><strong class=\"{class}\">Verdict: {word}</strong> — {reqs}</p>\n\
             <p>{scenarios}</p>\n"
        ),
    }
}

/// The requirement IDs among a run's tags, linked to their rows in HTML.
fn requirement_ids(f: Fmt, reqs: &[Requirement], r: &RunResult) -> String {
    let ids: Vec<String> = r
        .tags
        .iter()
        .map(|t| t.trim_start_matches('@'))
        .filter(|t| is_requirement_id(t))
        .map(|id| match f {
            Fmt::Html if reqs.iter().any(|q| q.id == id) => f.link(id, id),
            _ => f.text(id),
        })
        .collect();
    if ids.is_empty() {
        "— (no requirement tag)".into()
    } else {
        ids.join(", ")
    }
}

fn failures(f: Fmt, meta: &ReportMeta, reqs: &[Requirement], failed: &[&RunResult]) -> String {
    let mut o = f.section("Failures", "failures", failed.len());
    for (i, r) in failed.iter().enumerate() {
        let mut replay = f.code(&format!("SC_SEED={}", meta.seed));
        if let Some(seed) = r.seed {
            replay.push_str(&format!(" (scenario seed {seed})"));
        }
        let mut facts = vec![
            ("Requirements", requirement_ids(f, reqs, r)),
            ("Scenario", f.name(r)),
            ("Where", f.code(&location(r))),
        ];
        if r.status != "failed" {
            let unknown = format!("status {:?}, unknown: counted as a failure", r.status);
            facts.push(("Outcome", f.text(&unknown)));
        }
        facts.push(("Replay", replay));
        let reason = r.reason.as_deref().unwrap_or("(no reason recorded)");
        o.push_str(&f.entry(Entry::Failure(i + 1), &facts, "Message", reason));
    }
    o
}

fn blocked_runs(f: Fmt, reqs: &[Requirement], blocked: &[&RunResult]) -> String {
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
            ("Scenario", f.name(r)),
            ("Where", f.code(&location(r))),
        ];
        let cause = r.reason.as_deref().unwrap_or("(no cause recorded)");
        o.push_str(&f.entry(Entry::Blocked(i + 1), &facts, "Cause", cause));
    }
    o
}

/// Per requirement: full statement, kind, verdict and the scenarios behind it; manual
/// statements first, then simulator conventions, then any other kind, each in spec order.
fn table(f: Fmt, rows: &[RequirementRuns], entry: &dyn Fn(&RunResult) -> Option<Entry>) -> String {
    let mut o = f.h2(&format!("Requirements ({})", rows.len()), "requirements");
    o.push_str(&f.para(&format!(
        "{} — stated by the vendor manual: real firmware must pass it. {} — the manual is \
         silent or vague: the simulator's documented choice, from the underlying standard.",
        f.strong("manual"),
        f.strong("sim convention")
    )));
    if rows.is_empty() {
        return o;
    }
    let rank = |k: &str| match k {
        "manual" => 0,
        "sim" => 1,
        _ => 2,
    };
    let mut rows: Vec<&RequirementRuns> = rows.iter().collect();
    rows.sort_by_key(|r| rank(r.requirement.kind.as_str()));
    o.push_str(match f {
        Fmt::Md => "| ID | statement | kind | verdict | scenarios |\n|---|---|---|---|---|\n",
        Fmt::Html => {
            "<table>\n<tr><th>ID</th><th>statement</th><th>kind</th><th>verdict</th>\
                      <th>scenarios</th></tr>\n"
        }
    });
    for row in rows {
        let v = row.verdict;
        let strong = matches!(v, RunVerdict::Pass | RunVerdict::Fail | RunVerdict::Blocked);
        let mut verdict = f.status(&v.css(), v.as_str(), strong);
        if v == RunVerdict::Skipped && !row.skip_reasons.is_empty() {
            verdict.push_str(&format!(" ({})", f.text(&row.skip_reasons.join("; "))));
        }
        let req = row.requirement;
        let kind = f.text(match req.kind.as_str() {
            "sim" => "sim convention",
            k => k,
        });
        let (id, statement) = (f.text(&req.id), f.text(&req.statement));
        let runs: Vec<String> = row.runs.iter().map(|r| f.run(r, entry(r))).collect();
        o.push_str(&match f {
            Fmt::Md if runs.is_empty() => {
                format!("| {id} | {statement} | {kind} | {verdict} | — |\n")
            }
            Fmt::Md => format!(
                "| {id} | {statement} | {kind} | {verdict} | {} |\n",
                runs.join("<br>")
            ),
            Fmt::Html => format!(
                "<tr id=\"{id}\"><td>{id}</td><td>{statement}</td><td>{kind}</td><td>{verdict}</td><td>{}</td></tr>\n",
                if runs.is_empty() {
                    "—".to_string()
                } else {
                    format!("<ul class=\"runs\"><li>{}</li></ul>", runs.join("</li><li>"))
                }
            ),
        });
    }
    o.push_str(match f {
        Fmt::Md => "\n",
        Fmt::Html => "</table>\n",
    });
    o
}

/// Skipped runs grouped by reason, the most frequent reason first.
fn skipped(f: Fmt, results: &[RunResult]) -> String {
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
