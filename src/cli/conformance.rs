//! `smart-connect-sim conformance`: run the Gherkin suite against the virtual device or a
//! remote one (`--target remote.yaml`), then write JUnit XML for CI and a report for product
//! owners (Markdown, or HTML when the file name ends in `.html`): the run date, target and the
//! device's firmware and serial (`conformance_device`), a summary linking every failure, then
//! per requirement ID, manual vs simulator convention, pass / FAIL / blocked / skipped with
//! the reason, the requirements not run last. Exits 0 when
//! every applicable scenario passed, 1 when the device failed one, 2 when the bench blocked
//! scenarios (and none failed), nothing ran, or the run could not start.

use super::conformance_device;
use crate::conformance::coverage::{parse_requirements, parse_results, RunResult};
use crate::conformance::report::{self, ReportMeta};
use crate::conformance::suite::{self, SuiteOptions};
use crate::conformance::{features, junit, steps::world};
use crate::dut::TargetSpec;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// `virtual` (the in-process device on loopback sockets), `memory` (the same device on
    /// in-memory pipes: no socket) or a target file describing a remote device.
    #[arg(long, default_value = "virtual", env = "SC_TARGET")]
    pub target: String,
    /// Only scenarios matching this tag expression, e.g. `@modbus and not @needs-led`.
    #[arg(long)]
    pub tags: Option<String>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the report here (`.html` for a page, Markdown otherwise).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Results as JSON lines (what `coverage` and `--rerun-failed` read). Default: next to
    /// `--junit` or `--report`, else `~/.cache/smart-connect-sim/conformance/results.jsonl`.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Run only the scenarios that failed or were blocked in this earlier results file.
    #[arg(long, value_name = "RESULTS.jsonl")]
    pub rerun_failed: Option<PathBuf>,
    /// Folder of `.feature` files (default: `./features` if present, else the built-in ones).
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// The requirement list for the report (default: the built-in `spec/requirements.md`).
    #[arg(long)]
    pub requirements: Option<PathBuf>,
    /// Base seed of the run (a failing scenario prints the seed that replays it).
    #[arg(long, env = "SC_SEED")]
    pub seed: Option<u64>,
    /// Ask the operator on the terminal for bench actions without a hook or rig.
    #[arg(long)]
    pub interactive: bool,
    /// Scenarios at once against the virtual device (a remote device always takes one).
    #[arg(long, default_value = "8")]
    pub jobs: usize,
    /// Plant defects in the virtual device (to see the suite catch them).
    /// Needs a binary built with the `defects` feature.
    #[arg(long = "defect", hide = true, value_parser = crate::cli::parse_defect)]
    pub defects: Vec<crate::cli::DefectName>,
}

/// The requirement list the binary carries.
pub(crate) const REQUIREMENTS: &str = include_str!("../../spec/requirements.md");

pub fn run(args: &ConformanceArgs) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smart-connect-sim conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(conformance(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("smart-connect-sim conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// The feature folder a run reads; a folder written from the built-in features is removed
/// when this is dropped (a run leaves nothing in the temp dir).
struct FeaturesDir {
    path: PathBuf,
    written: bool,
}

impl Drop for FeaturesDir {
    fn drop(&mut self) {
        if self.written {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn features_dir(args: &ConformanceArgs) -> Result<FeaturesDir, String> {
    if let Some(f) = &args.features {
        return Ok(FeaturesDir {
            path: f.clone(),
            written: false,
        });
    }
    let local = Path::new("features");
    if local.is_dir() {
        return Ok(FeaturesDir {
            path: local.to_path_buf(),
            written: false,
        });
    }
    let dir =
        std::env::temp_dir().join(format!("smart-connect-sim-features-{}", std::process::id()));
    let path = features::write_to(&dir)
        .map_err(|e| format!("writing the built-in features to {}: {e}", dir.display()))?;
    Ok(FeaturesDir {
        path,
        written: true,
    })
}

/// Every `@tag` of `--tags` must be on some scenario of the features that will run (the
/// built-in ones, or `--features DIR`); else nothing would run, silently.
fn check_tags(args: &ConformanceArgs, expr: &str) -> Result<(), String> {
    let known = match &args.features {
        None => crate::conformance::tags::known(features::FEATURES),
        Some(dir) => {
            let mut texts = Vec::new();
            let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "feature") {
                    let text = std::fs::read_to_string(e.path())
                        .map_err(|err| format!("{}: {err}", e.path().display()))?;
                    texts.push((e.path().display().to_string(), text));
                }
            }
            let pairs: Vec<(&str, &str)> = texts
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            crate::conformance::tags::known(&pairs)
        }
    };
    crate::conformance::tags::check(expr, &known)
}

/// Where the results go: `--results`, else next to the JUnit file or the report, else the
/// cache folder.
fn results_path(args: &ConformanceArgs) -> PathBuf {
    if let Some(r) = &args.results {
        return r.clone();
    }
    let beside = |p: &Path| p.parent().map(|d| d.join("results.jsonl"));
    args.junit
        .as_deref()
        .and_then(beside)
        .or_else(|| args.report.as_deref().and_then(beside))
        .unwrap_or_else(crate::conformance::coverage::default_results)
}

/// An earlier run's records, and the scenarios (file, line) that failed or were blocked.
type Earlier = (Vec<RunResult>, Vec<(String, usize)>);

/// The earlier run in `path` and its failed and blocked scenarios.
fn failed_in(path: &Path) -> Result<Earlier, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--rerun-failed {}: {e}", path.display()))?;
    let earlier = parse_results(&text)?;
    let failed: Vec<(String, usize)> = earlier
        .iter()
        .filter(|r| r.status == "failed" || r.status == "blocked")
        .map(|r| (r.file.clone(), r.line))
        .collect();
    if failed.is_empty() {
        return Err(format!(
            "--rerun-failed {}: no scenario failed or was blocked in that run",
            path.display()
        ));
    }
    Ok((earlier, failed))
}

/// The earlier run with the re-run scenarios' new results in their places, so the results,
/// JUnit and the report show the whole run again.
fn merge(earlier: Vec<RunResult>, rerun: Vec<RunResult>) -> Vec<RunResult> {
    let mut merged: Vec<RunResult> = earlier
        .into_iter()
        .map(|old| {
            rerun
                .iter()
                .find(|r| r.file == old.file && r.line == old.line)
                .cloned()
                .unwrap_or(old)
        })
        .collect();
    for r in rerun {
        if !merged.iter().any(|m| m.file == r.file && m.line == r.line) {
            merged.push(r);
        }
    }
    merged
}

async fn conformance(args: &ConformanceArgs) -> Result<u8, String> {
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let results_file = results_path(args);
    let (earlier, only) = match args.rerun_failed.as_deref().map(failed_in).transpose()? {
        Some((earlier, only)) => (Some(earlier), Some(only)),
        None => (None, None),
    };
    if let Some(seed) = args.seed {
        world::set_base_seed(seed);
    }
    if let Some(expr) = &args.tags {
        check_tags(args, expr)?;
    }
    let mut target = TargetSpec::parse(&args.target).map_err(|e| e.to_string())?;
    match &mut target {
        #[cfg(feature = "defects")]
        TargetSpec::Virtual { defects, .. } => defects.extend(args.defects.iter().copied()),
        #[cfg(not(feature = "defects"))]
        TargetSpec::Virtual { .. } => {}
        TargetSpec::Remote(bench) if args.interactive => {
            let b = std::sync::Arc::get_mut(bench).expect("not shared yet");
            b.set_interactive(true);
        }
        TargetSpec::Remote(_) if !args.defects.is_empty() => return Err(
            "--defect plants defects in the virtual target; start `run --defect` for a remote one"
                .into(),
        ),
        TargetSpec::Remote(_) => {}
    }
    let statement = target.statement().await.map_err(|e| e.to_string())?;
    let description = statement.description.clone();
    eprintln!("conformance: {description}");
    let features_dir = features_dir(args)?;
    let opts = SuiteOptions {
        target,
        features: features_dir.path.clone(),
        tags: args.tags.clone(),
        results: results_file.clone(),
        concurrency: args.jobs,
        only,
    };
    if matches!(opts.target, TargetSpec::Remote(_)) {
        super::conformance_estimate::announce(&opts, &statement, args.tags.as_deref());
    }
    let target = opts.target.clone();
    let outcome = suite::run(opts).await.map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&results_file)
        .map_err(|e| format!("{}: {e}", results_file.display()))?;
    let mut results = parse_results(&text)?;
    if let Some(earlier) = earlier {
        results = merge(earlier, results);
        let lines: Vec<String> = results
            .iter()
            .map(|r| serde_json::to_string(r).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        write(&results_file, &(lines.join("\n") + "\n"))?;
    }
    let reqs_text = match &args.requirements {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => REQUIREMENTS.to_string(),
    };
    let reqs = parse_requirements(&reqs_text);
    if let Some(path) = &args.junit {
        write(
            path,
            &junit::junit_xml("smart-connect conformance", &results),
        )?;
        eprintln!("conformance: JUnit XML in {}", path.display());
    }
    if let Some(path) = &args.report {
        let seed = world::base_seed();
        let (firmware, serial) = conformance_device::facts(&target, &statement, &outcome.device);
        let meta = ReportMeta {
            date: date.clone(),
            target: conformance_device::target_line(&target, &statement, seed),
            firmware,
            serial,
            tags: args.tags.clone(),
            seed,
            suite_scenarios: conformance_device::suite_scenarios(&features_dir.path),
        };
        let body = if path.extension().is_some_and(|e| e == "html") {
            report::html(&meta, &reqs, &results)
        } else {
            report::markdown(&meta, &reqs, &results)
        };
        write(path, &body)?;
        eprintln!("conformance: report in {}", path.display());
    }
    let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in results.iter().filter(|r| r.status == "skipped") {
        *reasons
            .entry(r.reason.as_deref().unwrap_or("no reason"))
            .or_default() += 1;
    }
    for (why, n) in &reasons {
        eprintln!("conformance: skipped {n} × {why}");
    }
    eprintln!(
        "conformance: {} passed, {} FAILED, {} blocked by the bench, {} skipped (not applicable or missing a bench capability){}",
        outcome.passed,
        outcome.failed,
        outcome.blocked,
        outcome.skipped,
        if outcome.broken { "; the suite itself is broken (parse or hook errors)" } else { "" }
    );
    if outcome.passed + outcome.failed + outcome.blocked == 0 {
        eprintln!(
            "conformance: no scenario ran{} — check the tag expression and the target's declarations",
            args.tags.as_deref().map(|t| format!(" for --tags {t:?}")).unwrap_or_default()
        );
    }
    if outcome.failed + outcome.blocked > 0 {
        eprintln!(
            "conformance: results in {}; run only the failed and blocked ones again with --rerun-failed {}",
            results_file.display(),
            results_file.display()
        );
    } else {
        eprintln!("conformance: results in {}", results_file.display());
    }
    Ok(outcome.exit_code())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(file: &str, line: usize, status: &str) -> RunResult {
        RunResult {
            file: file.into(),
            line,
            status: status.into(),
            ..RunResult::default()
        }
    }

    #[test]
    fn a_rerun_replaces_only_its_scenarios() {
        let earlier = vec![
            run("a", 1, "passed"),
            run("a", 5, "failed"),
            run("b", 2, "blocked"),
        ];
        let rerun = vec![run("a", 5, "passed"), run("b", 2, "failed")];
        let m = merge(earlier, rerun);
        let got: Vec<(&str, usize, &str)> = m
            .iter()
            .map(|r| (r.file.as_str(), r.line, r.status.as_str()))
            .collect();
        assert_eq!(
            got,
            [("a", 1, "passed"), ("a", 5, "passed"), ("b", 2, "failed")]
        );
    }
}
