//! Runs the Gherkin suite: parses `features/`, keeps the scenarios that apply to the target
//! (its variant, interfaces and the bench capabilities it declares) and the tag expression
//! asked for, checks the bench before the first scenario (pre-flight), runs them with
//! cucumber, and writes one `RunResult` line per scenario — passed, failed, blocked (the
//! bench failed, not the device) or skipped (not applicable) — to the results file that
//! `coverage`, JUnit and the report read. A failure names the feature file's line and
//! prints the seed that replays it.

use super::applicability::{applies, Applicability};
use super::coverage::RunResult;
use super::device_identity::{self, Seen};
use super::step_tap::{file_of, FailedSteps, StepTap};
use super::steps::world::{self, DeviceWorld};
use crate::dut::{TargetSpec, BENCH_FAULT};
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::gherkin::{Feature, Scenario};
use cucumber::tag::Ext as _;
use cucumber::writer::Stats as _;
use cucumber::World as _;
use cucumber::WriterExt as _;
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
    /// Run only these scenarios (feature file name, line), e.g. the failed ones of an
    /// earlier run (`--rerun-failed`); `None`: all.
    pub only: Option<Vec<(String, usize)>>,
}

/// How the run went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
    /// Not applicable to the target, or needing a bench capability it lacks.
    pub skipped: usize,
    /// The bench failed (meter line, hook, rig, pre-flight): no verdict about the device.
    pub blocked: usize,
    /// Steps without a definition, ambiguous steps or a parse error: the suite itself is broken.
    pub broken: bool,
    /// A remote device's firmware and serial as it reported them during the run.
    pub device: Seen,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.blocked == 0 && !self.broken && self.passed > 0
    }

    /// The exit status: 0 all passed, 1 the device failed a scenario (or the suite is
    /// broken), 2 the bench blocked scenarios (and none failed) or nothing ran.
    pub fn exit_code(&self) -> u8 {
        if self.failed > 0 || self.broken {
            1
        } else if self.blocked > 0 || self.passed == 0 {
            2
        } else {
            0
        }
    }
}

/// Why the suite could not run (a verdict about the device is never one of these).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("tag expression {expr:?}: {message}")]
    Tags { expr: String, message: String },
    #[error("no features folder at {}", .0.display())]
    NoFeatures(std::path::PathBuf),
    #[error("{}: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("results: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Spec(#[from] crate::dut::SpecTaken),
    #[error(transparent)]
    Bench(#[from] crate::dut::remote::BenchError),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> SuiteError + '_ {
    move |source| SuiteError::Io {
        path: path.into(),
        source,
    }
}

/// Parse a tag expression, or say what is wrong with it.
pub fn parse_tags(expr: &str) -> Result<TagOperation, SuiteError> {
    expr.parse::<TagOperation>().map_err(|e| SuiteError::Tags {
        expr: expr.into(),
        message: e.to_string(),
    })
}

fn tags_with_at(feature: &Feature, scenario: &Scenario) -> Vec<String> {
    feature
        .tags
        .iter()
        .chain(scenario.tags.iter())
        .map(|t| format!("@{}", t.trim_start_matches('@')))
        .collect()
}

/// A scenario's result line, without seed and duration.
fn record_of(
    feature: &Feature,
    scenario: &Scenario,
    status: &str,
    reason: Option<String>,
) -> RunResult {
    RunResult {
        feature: feature.name.clone(),
        file: file_of(feature),
        scenario: scenario.name.clone(),
        line: scenario.position.line,
        status: status.into(),
        tags: tags_with_at(feature, scenario),
        reason,
        ..RunResult::default()
    }
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

/// The message of a failed step (the feature file's line is added after the run), and
/// whether the bench rather than the device failed.
fn failure_reason(ev: &ScenarioFinished) -> Option<(String, bool)> {
    use cucumber::event::StepError;
    match ev {
        ScenarioFinished::StepFailed(_, _, err) => {
            let what = match err {
                StepError::Panic(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the step panicked".into()),
                other => other.to_string(),
            };
            let bench = what.contains(BENCH_FAULT);
            Some((what, bench))
        }
        ScenarioFinished::BeforeHookFailed(_) => Some(("the before hook failed".into(), false)),
        _ => None,
    }
}

/// Put the failed step's feature-file line in front of each failure's reason.
fn locate(results: &mut [RunResult], failed: &FailedSteps) {
    let failed = failed.lock().unwrap_or_else(|p| p.into_inner());
    for r in results
        .iter_mut()
        .filter(|r| r.status == "failed" || r.status == "blocked")
    {
        if let Some(at) = failed.get(&(r.file.clone(), r.line)) {
            let why = r.reason.take().unwrap_or_default();
            r.reason = Some(format!("{at} — {why}"));
        }
    }
}

/// Ask the device under test for its identity after the scenario at `place`, unless it
/// answered already or was asked often enough; the answer (or the cause) goes in `outcome`.
async fn ask_device(
    outcome: &Mutex<Outcome>,
    attempts: &Mutex<usize>,
    world: Option<&mut DeviceWorld>,
    place: &str,
) {
    let Some(target) = world.and_then(|w| w.target.as_mut()) else {
        return;
    };
    {
        let mut n = attempts.lock().unwrap_or_else(|p| p.into_inner());
        let o = outcome.lock().unwrap_or_else(|p| p.into_inner());
        if !o.device.wants(*n) {
            return;
        }
        *n += 1;
    }
    let seen = match device_identity::read(target.as_mut(), place).await {
        Ok(id) => Seen::Read(id),
        Err(why) => Seen::Failed(why),
    };
    outcome.lock().unwrap_or_else(|p| p.into_inner()).device = seen;
}

/// Rewrite the results file from the run's records, in feature-file order (file, line,
/// scenario), not in the order the concurrent scenarios happened to finish: two runs with
/// the same seed give the same file apart from `duration_ms`.
fn rewrite(path: &Path, results: &mut [RunResult]) -> Result<(), SuiteError> {
    results.sort_by(|a, b| {
        (&a.file, a.line, &a.scenario, &a.feature).cmp(&(&b.file, b.line, &b.scenario, &b.feature))
    });
    let mut text = String::new();
    for r in results.iter() {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(io_at(path))
}

/// Run the suite. Must be called inside a tokio runtime.
pub async fn run(opts: SuiteOptions) -> Result<Outcome, SuiteError> {
    let tags = opts.tags.as_deref().map(parse_tags).transpose()?;
    if !opts.features.is_dir() {
        return Err(SuiteError::NoFeatures(opts.features.clone()));
    }
    if let Some(dir) = opts.results.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    }
    std::fs::write(&opts.results, b"").map_err(io_at(&opts.results))?;
    crate::dut::set_spec(opts.target.clone())?;
    let statement = opts.target.statement().await?;
    // Pre-flight: a bench that cannot work blocks the whole run before a long wait.
    let preflight = opts.target.preflight(&statement).await.err();
    if let Some(cause) = &preflight {
        eprintln!("conformance: BLOCKED before the first scenario — {cause}");
    }
    // A remote device with an HTTP API is asked who it is during the run (for the report).
    let ask_identity = matches!(opts.target, TargetSpec::Remote(_)) && statement.capabilities.http;
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let records: Arc<Mutex<Vec<RunResult>>> = Arc::default();

    let results = opts.results.clone();
    let skip_out = Arc::clone(&outcome);
    let skip_records = Arc::clone(&records);
    let only = opts.only.clone();
    let filter =
        move |feature: &Feature, _rule: Option<&cucumber::gherkin::Rule>, scenario: &Scenario| {
            let all: Vec<String> = feature.tags.iter().chain(&scenario.tags).cloned().collect();
            if let Some(t) = &tags {
                if !t.eval(all.iter()) {
                    return false;
                }
            }
            if let Some(only) = &only {
                let key = (file_of(feature), scenario.position.line);
                if !only.contains(&key) {
                    return false;
                }
            }
            let (status, reason) = match applies(&statement, feature, scenario) {
                Applicability::Runs => match &preflight {
                    None => return true,
                    Some(cause) => ("blocked", format!("pre-flight check failed: {cause}")),
                },
                Applicability::Skip(reason) => ("skipped", reason),
            };
            {
                let mut o = skip_out.lock().unwrap_or_else(|p| p.into_inner());
                if status == "blocked" {
                    o.blocked += 1;
                } else {
                    o.skipped += 1;
                }
            }
            let record = record_of(feature, scenario, status, Some(reason));
            append(&results, &record);
            skip_records
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(record);
            false
        };

    let results = opts.results.clone();
    let done = Arc::clone(&outcome);
    let run_records = Arc::clone(&records);
    let identity_attempts = Arc::new(Mutex::new(0usize));
    let tap = StepTap::default();
    let failed_steps = tap.failed();
    let writer = DeviceWorld::cucumber()
        .with_writer(cucumber::writer::Basic::stdout().summarized().tee::<DeviceWorld, _>(tap))
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
            let run_records = Arc::clone(&run_records);
            let seed = w.as_ref().map(|w| w.seed);
            let duration_ms = w
                .as_ref()
                .and_then(|w| w.started)
                .map_or(0, |t| t.elapsed().as_millis() as u64);
            let failure = failure_reason(ev);
            let mut status = match (ev, &failure) {
                (ScenarioFinished::StepPassed, _) => "passed",
                (ScenarioFinished::StepSkipped, _) => "failed",
                (_, Some((_, true))) => "blocked",
                _ => "failed",
            };
            let mut reason = failure.map(|(why, _)| why).or_else(|| {
                matches!(ev, ScenarioFinished::StepSkipped)
                    .then(|| "a step has no definition".into())
            });
            // A scenario must carry the `@needs-…` tag of every interface and bench ability
            // it uses, or a target without it would fail the scenario instead of skipping it.
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
                seed,
                duration_ms,
                ..record_of(feature, scenario, status, reason)
            };
            let attempts = Arc::clone(&identity_attempts);
            Box::pin(async move {
                if ask_identity && status != "blocked" && !device_identity::may_change_firmware(&record.tags) {
                    let place = format!("{}:{}", record.file, record.line);
                    ask_device(&done, &attempts, w, &place).await;
                }
                {
                    let mut o = done.lock().unwrap_or_else(|p| p.into_inner());
                    match status {
                        "passed" => o.passed += 1,
                        "blocked" => o.blocked += 1,
                        _ => o.failed += 1,
                    }
                }
                match status {
                    "passed" => {}
                    "blocked" => eprintln!(
                        "  ⊘ {:?} (features/{}:{}) BLOCKED by the bench: {}",
                        record.scenario,
                        record.file,
                        record.line,
                        record.reason.as_deref().unwrap_or("")
                    ),
                    _ => eprintln!(
                        "  ✘ {:?} (features/{}:{}) FAILED — replay with SC_SEED={} (scenario seed {}): {}",
                        record.scenario,
                        record.file,
                        record.line,
                        world::base_seed(),
                        seed.unwrap_or_default(),
                        record.reason.as_deref().unwrap_or("")
                    ),
                }
                append(&results, &record);
                run_records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(record);
            })
        })
        .filter_run(opts.features.clone(), filter)
        .await;
    let mut out = outcome.lock().unwrap_or_else(|p| p.into_inner()).clone();
    out.broken = writer.parsing_errors() > 0 || writer.hook_errors() > 0;
    let mut all = std::mem::take(&mut *records.lock().unwrap_or_else(|p| p.into_inner()));
    locate(&mut all, &failed_steps);
    rewrite(&opts.results, &mut all)?;
    Ok(out)
}
