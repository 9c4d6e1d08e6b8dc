//! `smart-connect-sim coverage`: the requirement-ID coverage table (markdown) from
//! `spec/requirements.md`, the tags in `features/` and the last suite run's results. Exits 1
//! while an ID of an implemented area (one with any tagged scenario, or those named with
//! `--areas`) lacks a passing scenario.

use crate::conformance::coverage::{
    coverage, implemented_areas, markdown, parse_feature, parse_requirements, parse_results,
    Verdict,
};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// The requirement list (default: `spec/requirements.md` when it exists here, else the
    /// list this binary carries).
    #[arg(long)]
    pub requirements: Option<PathBuf>,
    /// Folder of `.feature` files (default: `features/` when it exists here, else the suite
    /// this binary carries).
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// Results of a run (default: where `conformance` writes them without `--results`,
    /// `--junit` or `--report`: `~/.cache/smart-connect-sim/conformance/results.jsonl`).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Areas that must be fully covered (e.g. `P1,TIC`); default: every area with a tagged scenario.
    #[arg(long, value_delimiter = ',')]
    pub areas: Vec<String>,
}

pub fn run(args: &CoverageArgs) -> ExitCode {
    match report(args) {
        Ok((table, ok)) => {
            print!("{table}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("smart-connect-sim coverage: {e}");
            ExitCode::from(2)
        }
    }
}

/// Why there is no coverage table: a file that cannot be read, or inputs that do not fit.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no requirement rows in {source_name}")]
    NoRequirements { source_name: String },
    #[error(
        "--areas: no requirement ID has the area {}; areas: {}",
        .unknown.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", "),
        .known.join(",")
    )]
    UnknownAreas {
        unknown: Vec<String>,
        known: Vec<String>,
    },
    #[error(
        "no results at {}: run `smart-connect-sim conformance` first, or give --results FILE",
        .path.display()
    )]
    NoResults { path: PathBuf },
    /// A results line that is not a result (`parse_results` names the line).
    #[error("{0}")]
    Results(String),
}

fn read(p: &PathBuf) -> Result<String, CoverageError> {
    std::fs::read_to_string(p).map_err(|source| CoverageError::Read {
        path: p.clone(),
        source,
    })
}

/// The table and whether every ID of the required areas passes.
pub fn report(args: &CoverageArgs) -> Result<(String, bool), CoverageError> {
    let local_reqs = PathBuf::from("spec/requirements.md");
    let (reqs_text, reqs_name) = match &args.requirements {
        Some(p) => (read(p)?, p.display().to_string()),
        None if local_reqs.exists() => (read(&local_reqs)?, local_reqs.display().to_string()),
        None => (
            super::conformance::REQUIREMENTS.to_string(),
            "the built-in requirement list".to_string(),
        ),
    };
    let reqs = parse_requirements(&reqs_text);
    if reqs.is_empty() {
        return Err(CoverageError::NoRequirements {
            source_name: reqs_name,
        });
    }
    let mut known: Vec<&str> = reqs.iter().map(|r| r.area()).collect();
    known.sort_unstable();
    known.dedup();
    let unknown: Vec<String> = args
        .areas
        .iter()
        .filter(|a| !known.contains(&a.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(CoverageError::UnknownAreas {
            unknown,
            known: known.iter().map(ToString::to_string).collect(),
        });
    }
    let mut scenarios = Vec::new();
    let dir = args
        .features
        .clone()
        .or_else(|| Some(PathBuf::from("features")).filter(|d| d.is_dir()));
    match dir {
        Some(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|source| CoverageError::Read {
                    path: dir.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "feature"))
                .collect();
            files.sort();
            for f in &files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                scenarios.extend(parse_feature(&name, &read(f)?));
            }
        }
        None => {
            for (name, text) in crate::conformance::features::FEATURES {
                scenarios.extend(parse_feature(name, text));
            }
        }
    }
    let path = args
        .results
        .clone()
        .unwrap_or_else(crate::conformance::coverage::default_results);
    if !path.exists() {
        return Err(CoverageError::NoResults { path });
    }
    let results = parse_results(&read(&path)?).map_err(CoverageError::Results)?;
    let rows = coverage(&reqs, &scenarios, &results);
    let areas = if args.areas.is_empty() {
        implemented_areas(&rows)
    } else {
        args.areas.clone()
    };
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| areas.iter().any(|a| a == r.requirement.area()) && r.verdict != Verdict::Pass)
        .map(|r| r.requirement.id.as_str())
        .collect();
    let mut table = markdown(&rows);
    table.push_str(&format!("\nareas required: {}\n", areas.join(", ")));
    if !missing.is_empty() {
        table.push_str(&format!(
            "without a passing scenario: {}\n",
            missing.join(", ")
        ));
    }
    Ok((table, missing.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_area_is_refused_before_anything_is_read() {
        let args = CoverageArgs {
            requirements: None,
            features: None,
            results: Some(PathBuf::from("/nonexistent/results.jsonl")),
            areas: vec!["MB".into(), "XYZ".into()],
        };
        let e = report(&args).unwrap_err().to_string();
        assert!(e.contains("no requirement ID has the area \"XYZ\""), "{e}");
        assert!(e.contains("MB") && e.contains("P1"), "lists the areas: {e}");
    }
}
