//! Runs the Gherkin suite: parses `features/`, keeps the scenarios that apply to the target
//! (its variant and the bench capabilities it declares) and the tag expression asked for,
//! runs them with cucumber, and writes one `RunResult` line per scenario — run or not
//! applicable — to the results file that `coverage`, JUnit and the report read. A failing
//! scenario prints the seed that replays it.

use super::applicability::{applies, Applicability};
use super::coverage::RunResult;
use super::steps::world::{self, DeviceWorld};
use crate::target::TargetSpec;
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::gherkin::{Feature, Scenario};
use cucumber::tag::Ext as _;
use cucumber::writer::Stats as _;
use cucumber::World as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What to run, against what, and where results go.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub target: TargetSpec,
    /// Folder of `.feature` files.
    pub features: PathBuf,
    /// A cucumber tag expression (`@modbus and not @needs-led`); `None`: everything.
    pub tags: Option<String>,
    /// Results file (JSON lines), rewritten by the run.
    pub results: PathBuf,
    /// Scenarios run at once against the virtual device; a remote device takes one at a time.
    pub concurrency: usize,
}

/// How the run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
    /// Not applicable to the target, or needing a bench capability it lacks.
    pub skipped: usize,
    /// Steps without a definition, ambiguous steps or a parse error: the suite itself is broken.
    pub broken: bool,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed == 0 && !self.broken && self.passed > 0
    }
}

/// Parse a tag expression, or say what is wrong with it.
pub fn parse_tags(expr: &str) -> Result<TagOperation, String> {
    expr.parse::<TagOperation>()
        .map_err(|e| format!("tag expression {expr:?}: {e}"))
}

fn tags_with_at(feature: &Feature, scenario: &Scenario) -> Vec<String> {
    feature
        .tags
        .iter()
        .chain(scenario.tags.iter())
        .map(|t| format!("@{}", t.trim_start_matches('@')))
        .collect()
}

/// The feature's file name (`modbus.feature`): the features folder is flat.
fn relative(feature: &Feature) -> String {
    feature
        .path
        .as_deref()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn append(path: &Path, r: &RunResult) {
    let line = serde_json::to_string(r).unwrap_or_default();
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        eprintln!("cannot append to {}: {e}", path.display());
    }
}

/// The message of a failed step.
fn failure_reason(ev: &ScenarioFinished) -> Option<String> {
    use cucumber::event::StepError;
    match ev {
        ScenarioFinished::StepFailed(_, loc, err) => {
            let what = match err {
                StepError::Panic(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the step panicked".into()),
                other => other.to_string(),
            };
            Some(match loc {
                Some(l) => format!("{what} (step at {}:{})", l.path, l.line),
                None => what,
            })
        }
        ScenarioFinished::BeforeHookFailed(_) => Some("the before hook failed".into()),
        _ => None,
    }
}

/// Run the suite. Must be called inside a tokio runtime.
pub async fn run(opts: SuiteOptions) -> Result<Outcome, String> {
    let tags = opts.tags.as_deref().map(parse_tags).transpose()?;
    if !opts.features.is_dir() {
        return Err(format!("no features folder at {}", opts.features.display()));
    }
    if let Some(dir) = opts.results.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&opts.results, b"").map_err(|e| format!("{}: {e}", opts.results.display()))?;
    crate::target::set_spec(opts.target.clone())?;
    let statement = opts.target.statement().await?;
    let outcome = Arc::new(Mutex::new(Outcome::default()));

    let results = opts.results.clone();
    let skip_out = Arc::clone(&outcome);
    let filter =
        move |feature: &Feature, _rule: Option<&cucumber::gherkin::Rule>, scenario: &Scenario| {
            let all: Vec<String> = feature.tags.iter().chain(&scenario.tags).cloned().collect();
            if let Some(t) = &tags {
                if !t.eval(all.iter()) {
                    return false;
                }
            }
            match applies(&statement, feature, scenario) {
                Applicability::Runs => true,
                Applicability::Skip(reason) => {
                    skip_out.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
                    append(
                        &results,
                        &RunResult {
                            feature: feature.name.clone(),
                            file: relative(feature),
                            scenario: scenario.name.clone(),
                            line: scenario.position.line,
                            status: "skipped".into(),
                            tags: tags_with_at(feature, scenario),
                            reason: Some(reason),
                            ..RunResult::default()
                        },
                    );
                    false
                }
            }
        };

    let results = opts.results.clone();
    let done = Arc::clone(&outcome);
    let writer = DeviceWorld::cucumber()
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .fail_on_skipped()
        .max_concurrent_scenarios(match opts.target {
            TargetSpec::Virtual { .. } => opts.concurrency.max(1),
            TargetSpec::Remote(_) => 1,
        })
        .before(move |_feature, _rule, scenario, w| {
            Box::pin(async move {
                w.seed = world::scenario_seed(&scenario.name);
                w.started = Some(Instant::now());
            })
        })
        .after(move |feature, _rule, scenario, ev, w| {
            let results = results.clone();
            let done = Arc::clone(&done);
            let seed = w.as_ref().map(|w| w.seed);
            let duration_ms = w
                .as_ref()
                .and_then(|w| w.started)
                .map_or(0, |t| t.elapsed().as_millis() as u64);
            let status = match ev {
                ScenarioFinished::StepPassed => "passed",
                ScenarioFinished::StepSkipped => "skipped",
                _ => "failed",
            };
            let mut reason = failure_reason(ev)
                .or_else(|| (status == "skipped").then(|| "a step has no definition".into()));
            // A scenario must carry the `@needs-…` tag of every bench ability it uses, or a
            // bench without it would fail the scenario instead of skipping it.
            let mut status = status;
            let used = w.as_ref().and_then(|w| w.target.as_ref()).map(|t| t.capabilities_used());
            if let (Some(used), "passed") = (used, status) {
                let tags: Vec<&str> = feature.tags.iter().chain(&scenario.tags).map(|t| t.trim_start_matches('@')).collect();
                let missing: Vec<String> = used
                    .by_tag()
                    .iter()
                    .filter(|(tag, u)| *u && !tags.contains(&tag.as_str()))
                    .map(|(tag, _)| format!("@{tag}"))
                    .collect();
                if !missing.is_empty() {
                    status = "failed";
                    reason = Some(format!(
                        "the scenario uses interfaces or bench abilities it is not tagged for: {} (a bench without them would fail it instead of skipping it)",
                        missing.join(" ")
                    ));
                }
            }
            let record = RunResult {
                feature: feature.name.clone(),
                file: relative(feature),
                scenario: scenario.name.clone(),
                line: scenario.position.line,
                status: status.into(),
                tags: tags_with_at(feature, scenario),
                reason,
                seed,
                duration_ms,
            };
            Box::pin(async move {
                {
                    let mut o = done.lock().unwrap_or_else(|p| p.into_inner());
                    match status {
                        "passed" => o.passed += 1,
                        _ => o.failed += 1,
                    }
                }
                if status != "passed" {
                    eprintln!(
                        "  ✘ {:?} failed — replay with SC_SEED={} (scenario seed {}): {}",
                        record.scenario,
                        world::base_seed(),
                        seed.unwrap_or_default(),
                        record.reason.as_deref().unwrap_or("")
                    );
                }
                append(&results, &record);
            })
        })
        .filter_run(opts.features.clone(), filter)
        .await;
    let mut out = *outcome.lock().unwrap_or_else(|p| p.into_inner());
    out.broken = writer.parsing_errors() > 0 || writer.hook_errors() > 0;
    Ok(out)
}
