//! Before a remote run in real time: how many scenarios will run and about how long it
//! will take (`conformance::duration`, from the scenarios' waits and the target file's
//! `boot_ms`, `settle_ms` and `max_latency_ms`), so nobody starts an hour-long run by
//! mistake.

use crate::conformance::applicability::{applies, Applicability};
use crate::conformance::duration::{self, Source, Timing};
use crate::conformance::suite::{parse_tags, SuiteOptions};
use crate::dut::{Statement, TargetSpec};
use cucumber::tag::Ext as _;

/// Print the estimate on stderr (nothing when the harness drives the device's clock).
pub fn announce(opts: &SuiteOptions, statement: &Statement, tags: Option<&str>) {
    let TargetSpec::Remote(bench) = &opts.target else {
        return;
    };
    let cfg = bench.config();
    if cfg.rig.is_some() || cfg.hooks.time.is_some() {
        return;
    }
    let timing = Timing {
        boot_ms: cfg.boot_ms,
        settle_ms: cfg.settle_ms,
        max_latency_ms: cfg.max_latency_ms,
    };
    let expr = tags.and_then(|t| parse_tags(t).ok());
    let keep = |f: &cucumber::gherkin::Feature, s: &cucumber::gherkin::Scenario| {
        let all: Vec<String> = f.tags.iter().chain(&s.tags).cloned().collect();
        let tagged = expr.as_ref().is_none_or(|e| e.eval(all.iter()));
        let only = opts
            .only
            .as_ref()
            .is_none_or(|o| o.contains(&(duration::file_name(f), s.position.line)));
        tagged && only && applies(statement, f, s) == Applicability::Runs
    };
    match duration::estimate_selected(Source::Dir(&opts.features), &timing, keep) {
        Ok(sel) => eprintln!(
            "conformance: {} scenarios to run in real time, about {} (boot_ms {}, settle_ms {}, max_latency_ms {}; docs/conformance.md has the table per feature file)",
            sel.scenarios,
            duration::format_duration(sel.total),
            timing.boot_ms,
            timing.settle_ms,
            timing.max_latency_ms
        ),
        Err(e) => eprintln!("conformance: cannot estimate the run's duration: {e}"),
    }
}
