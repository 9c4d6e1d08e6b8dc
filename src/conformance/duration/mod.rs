//! How long the suite takes against a device in **real time** (real firmware on a bench, or
//! a simulator that does not let the harness drive its clock), estimated from the scenarios'
//! steps before running them. On the virtual target time costs nothing; on a bench
//! `When 30 seconds pass` waits 30 s. Firmware teams get a figure per feature file
//! (the table in `docs/conformance.md`), the CLI can say what a selection will cost
//! ([`estimate_selected`]), and the `@smoke` profile is held to its budget ([`smoke_report`]).
//!
//! # What is counted
//!
//! Each scenario is replayed on a wall clock, step by step (its feature's `Background`
//! first; every row of a `Scenario Outline` is one run), with the meter on the line sending
//! at its own cadence — the way `steps/world.rs` drives a real-time target:
//!
//! - **Explicit waits**: "N seconds pass", "N seconds have passed", "N milliseconds pass",
//!   "the first client makes no request for 4 minutes 50 seconds" (the HTTP session timeout),
//!   "… asks for the status once a minute for 12 minutes", a button held for N seconds, a
//!   power cycle's off time.
//! - **Boots**: [`Timing::boot_ms`] after every power-on and restart ("Given a Smart Connect
//!   P1", "the device is restarted", a `MeterType` change, a new static address, a power
//!   cycle …), as `DeviceWorld::boot` waits the target's `boot_ms`.
//! - **Telegrams**: a meter starts sending when it is connected and keeps its interval
//!   (SMR 5 and e-MUCS 1 s, DSMR 4.2 10 s, TIC standard 0.9 s / 1.4 s three-phase, TIC
//!   historic 2 s). "The next telegram arrives" waits for the meter's next telegram time;
//!   every telegram put on the line is followed by [`Timing::settle_ms`], which a wait for a
//!   later time absorbs (as the remote target's `send_meter_bytes` then `wait_until` do).
//! - **LED observation**: sampling the LED takes its window (2 s, or the seconds the step
//!   names).
//! - **Waits for the device to react** that are part of passing: an MQTT message, a command's
//!   answer, the MQTT connection or its error in the status, a restart being noticed — each
//!   [`Timing::max_latency_ms`]; a step that polls once a second (own broker) at least 1 s.
//!   Concluding that nothing (more) arrives takes the broker's quiet time (200 ms).
//! - **Firmware updates**: polling until the update ends takes the update's own time
//!   (download 4 s, verify 1 s, install 3 s, reboot 1 s — `device::firmware` — plus a boot
//!   after a successful one; a missing image fails after the download, a corrupt one after
//!   verification), on the poll's grid (1 s, or 5 s for "within N minutes").
//! - **A device that must not answer**: every request that has to go unanswered (a device
//!   switched off or restarting, a second Modbus client it may leave hanging) waits for the
//!   Modbus client's timeout (5 s); a Modbus read retries once.
//!
//! Not counted: the duration of ordinary requests (Modbus, HTTP, MQTT round trips of a few
//! milliseconds), the bench's own actions (a `fresh` hook restoring factory settings before
//! each scenario, relay and hook commands), and an operator answering `--interactive`
//! prompts. A step the estimator does not know counts as instant ([`unclassified_steps`]
//! lists them; a test keeps the built-in features free of them).

use super::coverage::Requirement;
use super::features::FEATURES;
use super::steps::bench::SAMPLE_WINDOW_MS;
use super::steps::setup::METERS;
use crate::device::firmware::{DOWNLOAD_MS, INSTALL_MS, REBOOT_MS, VERIFY_MS};
use crate::device::registers::Template;
use crate::sim::clock::Millis;
use cucumber::codegen::Regex;
use cucumber::feature::Ext as _;
use cucumber::gherkin::{Feature, GherkinEnv, Scenario, Step};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

mod rules;
mod smoke;
#[cfg(test)]
mod tests;

use rules::{estimate_run, rule_of};
pub use smoke::{
    smoke_report, tags_of, SmokeReport, BENCH_HOOK_TAGS, SMOKE_BUDGET, SMOKE_LEFT_OUT, SMOKE_TAG,
};

/// The real-time parameters of a bench: the target file's keys of the same names, with the
/// same defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Power-on or restart until the device runs (red, colour cycle, DHCP).
    pub boot_ms: u64,
    /// Time given the device to digest a telegram before a step looks.
    pub settle_ms: u64,
    /// How long the device takes to do what a step waits for (publish a message, answer a
    /// command, connect to the broker, notice a lost connection).
    pub max_latency_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            boot_ms: super::steps::world::BOOT_WAIT_MS as u64,
            settle_ms: 300,
            max_latency_ms: 1_000,
        }
    }
}

/// The steps of each run of a scenario as (line, text): the background's and the scenario's,
/// with an outline's placeholders filled in from each row of its examples.
fn runs(feature: &Feature, scenario: &Scenario) -> Vec<Vec<(usize, String)>> {
    let steps: Vec<&Step> = feature
        .background
        .iter()
        .flat_map(|b| b.steps.iter())
        .chain(
            feature
                .rules
                .iter()
                .filter(|r| r.scenarios.iter().any(|s| std::ptr::eq(s, scenario)))
                .flat_map(|r| r.background.iter().flat_map(|b| b.steps.iter())),
        )
        .chain(scenario.steps.iter())
        .collect();
    let rows: Vec<Vec<(String, String)>> = scenario
        .examples
        .iter()
        .filter_map(|ex| ex.table.as_ref())
        .filter_map(|t| t.rows.split_first())
        .flat_map(|(header, rows)| {
            rows.iter()
                .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        })
        .collect();
    let fill = |row: &[(String, String)]| -> Vec<(usize, String)> {
        steps
            .iter()
            .map(|s| {
                let text = row.iter().fold(s.value.clone(), |text, (k, v)| {
                    text.replace(&format!("<{k}>"), v)
                });
                (s.position.line, text)
            })
            .collect()
    };
    if rows.is_empty() {
        return vec![fill(&[])];
    }
    rows.iter().map(|row| fill(row)).collect()
}

/// The number of runs of a scenario: the rows of an outline's examples, else 1.
pub fn run_count(feature: &Feature, scenario: &Scenario) -> usize {
    runs(feature, scenario).len()
}

/// The real time of one scenario against a real-time target, background included; for a
/// `Scenario Outline`, of all its rows together.
pub fn estimate_scenario(feature: &Feature, scenario: &Scenario, timing: &Timing) -> Duration {
    runs(feature, scenario)
        .iter()
        .map(|steps| estimate_run(steps, timing))
        .sum()
}

/// Where the feature files come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The copies built into the binary (`conformance::features::FEATURES`).
    BuiltIn,
    /// A folder of `.feature` files.
    Dir(&'a Path),
}

/// Parse the feature files, ordered by file name; each feature's `path` is set (the file
/// name for the built-in ones).
pub fn load(source: Source<'_>) -> Result<Vec<Feature>, String> {
    let env = GherkinEnv::default;
    match source {
        Source::BuiltIn => FEATURES
            .iter()
            .map(|(name, text)| {
                let mut f = Feature::parse(text, env()).map_err(|e| format!("{name}: {e}"))?;
                f.path = Some(PathBuf::from(name));
                Ok(f)
            })
            .collect(),
        Source::Dir(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "feature"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|p| Feature::parse_path(p, env()).map_err(|e| format!("{}: {e}", p.display())))
                .collect()
        }
    }
}

/// A feature's file name (`modbus.feature`).
pub fn file_name(feature: &Feature) -> String {
    let file = super::step_tap::file_of(feature);
    if file.is_empty() {
        feature.name.clone()
    } else {
        file
    }
}

fn all_scenarios(feature: &Feature) -> impl Iterator<Item = &Scenario> {
    feature
        .scenarios
        .iter()
        .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()))
}

/// The estimate for one feature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEstimate {
    pub file: String,
    /// Runs: an outline counts once per row.
    pub scenarios: usize,
    pub total: Duration,
}

/// The estimate of every feature file, in file-name order.
pub fn per_file(source: Source<'_>, timing: &Timing) -> Result<Vec<FileEstimate>, String> {
    Ok(per_file_of(&load(source)?, timing))
}

/// [`per_file`] for features already parsed.
pub fn per_file_of(features: &[Feature], timing: &Timing) -> Vec<FileEstimate> {
    features
        .iter()
        .map(|f| FileEstimate {
            file: file_name(f),
            scenarios: all_scenarios(f).map(|s| run_count(f, s)).sum(),
            total: all_scenarios(f)
                .map(|s| estimate_scenario(f, s, timing))
                .sum(),
        })
        .collect()
}

/// What a selection of scenarios costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Runs selected (an outline's rows each count).
    pub scenarios: usize,
    pub total: Duration,
}

/// The real time of the runs `keep` selects. `keep` sees each run as the suite's filter does:
/// an outline expanded into one scenario per row, with its examples' tags added; the feature
/// with its own tags. For the CLI: `keep` = the tag expression and the applicability check.
pub fn estimate_selected(
    source: Source<'_>,
    timing: &Timing,
    keep: impl FnMut(&Feature, &Scenario) -> bool,
) -> Result<Selection, String> {
    Ok(estimate_selected_of(&load(source)?, timing, keep))
}

/// [`estimate_selected`] for features already parsed (not yet expanded).
pub fn estimate_selected_of(
    features: &[Feature],
    timing: &Timing,
    mut keep: impl FnMut(&Feature, &Scenario) -> bool,
) -> Selection {
    let mut sel = Selection::default();
    for f in features {
        let expanded = f.clone().expand_examples().unwrap_or_else(|_| f.clone());
        for s in all_scenarios(&expanded).filter(|s| keep(&expanded, s)) {
            sel.scenarios += run_count(&expanded, s);
            sel.total += estimate_scenario(&expanded, s, timing);
        }
    }
    sel
}

/// Steps the estimator does not know (counted as instant): `file:line: text`, an outline's
/// steps with each row's values.
pub fn unclassified_steps(features: &[Feature]) -> Vec<String> {
    let mut out: Vec<String> = features
        .iter()
        .flat_map(|f| all_scenarios(f).map(move |s| (f, s)))
        .flat_map(|(f, s)| {
            runs(f, s)
                .into_iter()
                .flatten()
                .filter(|(_, text)| rule_of(text).is_none())
                .map(move |(line, text)| format!("{}:{line}: {text}", file_name(f)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `45 s`, `4 min 05 s`, `1 h 07 min` (rounded to the second, or to the minute past an hour).
pub fn format_duration(d: Duration) -> String {
    let s = (d.as_millis() + 500) / 1_000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3_600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = (s + 30) / 60;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// The Markdown table of `docs/conformance.md`: one row per feature file and the total.
pub fn markdown_table(estimates: &[FileEstimate]) -> String {
    let mut out =
        String::from("| feature file | scenarios | estimated real time |\n|---|--:|--:|\n");
    for e in estimates {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            e.file,
            e.scenarios,
            format_duration(e.total)
        ));
    }
    let n: usize = estimates.iter().map(|e| e.scenarios).sum();
    let total: Duration = estimates.iter().map(|e| e.total).sum();
    out.push_str(&format!(
        "| **all** | **{n}** | **{}** |\n",
        format_duration(total)
    ));
    out
}

// ---- the @smoke profile -----------------------------------------------------------------
