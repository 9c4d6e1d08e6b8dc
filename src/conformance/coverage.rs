//! Requirement coverage: reads `spec/requirements.md` (ID → kind → statement), the tags of
//! every scenario in `features/`, and the last run's results (`results.jsonl` written by the
//! suite), and tells per ID which scenarios check it and whether they passed. Pure: callers
//! pass file contents in.

use serde::Deserialize;

/// One requirement of `spec/requirements.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub id: String,
    /// `manual` or `sim`.
    pub kind: String,
    pub statement: String,
}

impl Requirement {
    /// The area of an ID: `MB-06` → `MB`.
    pub fn area(&self) -> &str {
        self.id.rsplit_once('-').map_or(&self.id, |(a, _)| a)
    }
}

/// Requirements from the markdown tables (`| ID | kind | statement |` rows).
pub fn parse_requirements(md: &str) -> Vec<Requirement> {
    md.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [id, kind, statement] = cells[..] else {
                return None;
            };
            let (area, num) = id.rsplit_once('-')?;
            let ok = !area.is_empty()
                && area
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && !num.is_empty()
                && num.chars().all(|c| c.is_ascii_digit());
            ok.then(|| Requirement {
                id: id.into(),
                kind: kind.into(),
                statement: statement.into(),
            })
        })
        .collect()
}

/// A scenario found in a feature file, with its feature's tags merged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioTags {
    pub file: String,
    pub name: String,
    pub tags: Vec<String>,
}

/// Scenarios and their tags (without `@`) from one `.feature` file's text.
pub fn parse_feature(file: &str, text: &str) -> Vec<ScenarioTags> {
    let mut pending: Vec<String> = Vec::new();
    let mut feature_tags: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('@') {
            pending.extend(
                line.split_whitespace()
                    .filter_map(|t| t.strip_prefix('@'))
                    .map(String::from),
            );
        } else if line.starts_with("Feature:") {
            feature_tags = std::mem::take(&mut pending);
        } else if let Some(name) = line
            .strip_prefix("Scenario Outline:")
            .or_else(|| line.strip_prefix("Scenario:"))
        {
            let mut tags = feature_tags.clone();
            tags.append(&mut pending);
            out.push(ScenarioTags {
                file: file.into(),
                name: name.trim().into(),
                tags,
            });
        } else if !line.is_empty() && !line.starts_with('#') {
            pending.clear();
        }
    }
    out
}

/// One line of the suite's results file (`results.jsonl`), one per scenario run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct RunResult {
    /// The feature's name (its `Feature:` line).
    #[serde(default)]
    pub feature: String,
    /// The feature file, relative to the features folder (`modbus.feature`).
    #[serde(default)]
    pub file: String,
    /// The scenario's name (an outline's runs carry the example's values).
    pub scenario: String,
    /// Line of the scenario in its file.
    #[serde(default)]
    pub line: usize,
    /// `passed`, `failed`, `blocked` (the bench failed: no verdict) or `skipped`.
    pub status: String,
    /// Feature and scenario tags, with `@` (`@MB-06`, `@needs-led`, `@sim-convention`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Why a scenario was skipped (not applicable, a missing bench capability) or how it
    /// failed (the first failing step and its message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scenario's seed (replays it with `SC_SEED`), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Wall-clock time the scenario took.
    #[serde(default)]
    pub duration_ms: u64,
}

/// Where `conformance` writes its results when neither `--results`, `--junit` nor
/// `--report` says where, and where `coverage` reads them by default: the user's cache
/// folder (`$XDG_CACHE_HOME`, else `~/.cache`), `smart-connect-sim/conformance/results.jsonl`
/// — never silently the working directory.
pub fn default_results() -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("smart-connect-sim/conformance/results.jsonl")
}

/// Parse `results.jsonl`; bad lines are reported, not ignored.
pub fn parse_results(text: &str) -> Result<Vec<RunResult>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("results line {}: {e}", i + 1)))
        .collect()
}

/// The verdict for one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every run of every tagged scenario passed.
    Pass,
    Fail,
    /// Tagged, but the last run has no result for its scenarios, only skips, or a scenario
    /// the bench blocked.
    NotRun,
    /// No scenario carries the ID.
    Uncovered,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::NotRun => "not run",
            Verdict::Uncovered => "uncovered",
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone)]
pub struct Row {
    pub requirement: Requirement,
    pub scenarios: Vec<String>,
    pub verdict: Verdict,
}

/// Join requirements, scenario tags and results. Results are matched by their tags (an
/// outline's runs carry the example's values in their names, so names would not match).
pub fn coverage(
    reqs: &[Requirement],
    scenarios: &[ScenarioTags],
    results: &[RunResult],
) -> Vec<Row> {
    reqs.iter()
        .map(|req| {
            // Feature files' tags come without `@`, results' with it.
            let has = |tags: &[String]| tags.iter().any(|t| t.trim_start_matches('@') == req.id);
            let tagged: Vec<&ScenarioTags> = scenarios.iter().filter(|s| has(&s.tags)).collect();
            let statuses: Vec<&str> = results
                .iter()
                .filter(|r| has(&r.tags))
                .map(|r| r.status.as_str())
                .collect();
            let verdict = if tagged.is_empty() {
                Verdict::Uncovered
            } else if statuses.contains(&"failed") {
                Verdict::Fail
            } else if statuses.contains(&"blocked") {
                // Part of the evidence is missing: not judged, as the report says.
                Verdict::NotRun
            } else if statuses.contains(&"passed") {
                Verdict::Pass
            } else {
                Verdict::NotRun
            };
            Row {
                requirement: req.clone(),
                scenarios: tagged
                    .iter()
                    .map(|s| format!("{}: {}", s.file, s.name))
                    .collect(),
                verdict,
            }
        })
        .collect()
}

/// Areas (ID prefixes) that have at least one tagged scenario: the implemented ones.
pub fn implemented_areas(rows: &[Row]) -> Vec<String> {
    let mut areas: Vec<String> = rows
        .iter()
        .filter(|r| !r.scenarios.is_empty())
        .map(|r| r.requirement.area().to_string())
        .collect();
    areas.dedup();
    areas
}

/// The markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from("| ID | kind | scenarios | result |\n|---|---|---|---|\n");
    for r in rows {
        let n = r.scenarios.len();
        let names = if n == 0 {
            "—".to_string()
        } else {
            format!("{n}: {}", r.scenarios.join("<br>"))
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.requirement.id,
            r.requirement.kind,
            names.replace('|', "\\|"),
            r.verdict.as_str()
        ));
    }
    let count = |v| rows.iter().filter(|r| r.verdict == v).count();
    s.push_str(&format!(
        "\n{} requirements: {} pass, {} fail, {} not run, {} uncovered\n",
        rows.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::NotRun),
        count(Verdict::Uncovered)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQS: &str = "| ID | kind | statement |\n|---|---|---|\n| P1-01 | manual | reads DSMR |\n| P1-02 | sim | old refused |\n| MB-01 | manual | port 502 |\n";
    const FEATURE: &str = "@p1\nFeature: x\n\n  @P1-01 @P1-02\n  Scenario: one\n    Given a\n\n  @P1-01\n  Scenario Outline: two\n    Given b\n";

    #[test]
    fn requirements_and_tags_are_read() {
        let reqs = parse_requirements(REQS);
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[2].area(), "MB");
        let sc = parse_feature("p1.feature", FEATURE);
        assert_eq!(sc.len(), 2);
        assert_eq!(sc[0].tags, vec!["p1", "P1-01", "P1-02"]);
        assert_eq!(sc[1].tags, vec!["p1", "P1-01"]);
    }

    #[test]
    fn verdicts() {
        let reqs = parse_requirements(REQS);
        let sc = parse_feature("p1.feature", FEATURE);
        let res = parse_results(
            "{\"scenario\":\"one\",\"status\":\"passed\",\"tags\":[\"p1\",\"P1-01\",\"P1-02\"]}\n{\"scenario\":\"two <x>\",\"status\":\"passed\",\"tags\":[\"P1-01\"]}\n{\"scenario\":\"two\",\"status\":\"failed\",\"tags\":[\"P1-01\"]}\n",
        )
        .unwrap();
        let rows = coverage(&reqs, &sc, &res);
        assert_eq!(rows[0].verdict, Verdict::Fail, "one outline row failed");
        assert_eq!(rows[1].verdict, Verdict::Pass);
        assert_eq!(rows[2].verdict, Verdict::Uncovered);
        assert_eq!(implemented_areas(&rows), vec!["P1"]);
        let rows = coverage(&reqs, &sc, &[]);
        assert_eq!(rows[0].verdict, Verdict::NotRun);
        assert!(markdown(&rows).contains("| MB-01 | manual | — | uncovered |"));
        assert!(parse_results("not json").unwrap_err().contains("line 1"));
    }
}
