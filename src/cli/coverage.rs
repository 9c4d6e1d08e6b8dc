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
    /// The requirement list.
    #[arg(long, default_value = "spec/requirements.md")]
    pub requirements: PathBuf,
    /// Folder of `.feature` files.
    #[arg(long, default_value = "features")]
    pub features: PathBuf,
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

fn read(p: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// The table and whether every ID of the required areas passes.
pub fn report(args: &CoverageArgs) -> Result<(String, bool), String> {
    let reqs = parse_requirements(&read(&args.requirements)?);
    if reqs.is_empty() {
        return Err(format!(
            "no requirement rows in {}",
            args.requirements.display()
        ));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.features)
        .map_err(|e| format!("cannot read {}: {e}", args.features.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "feature"))
        .collect();
    files.sort();
    let mut scenarios = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        scenarios.extend(parse_feature(&name, &read(f)?));
    }
    let path = args
        .results
        .clone()
        .unwrap_or_else(crate::conformance::coverage::default_results);
    if !path.exists() {
        return Err(format!(
            "no results at {}: run `smart-connect-sim conformance` first, or give --results FILE",
            path.display()
        ));
    }
    let results = parse_results(&read(&path)?)?;
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
