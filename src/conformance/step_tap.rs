//! A cucumber writer that only listens: it notes which Gherkin step failed in each scenario
//! (`features/registers.feature:15: Then register 0x8006 holds …`), so a failure names the
//! line of the feature file a firmware engineer reads, not the harness's source or a
//! temporary copy of the built-in features.

use cucumber::event::{Cucumber, Feature, Rule, Scenario, Step};
use cucumber::gherkin;
use cucumber::{cli, parser, Event, Writer};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Failed steps by (feature file name, scenario line).
pub type FailedSteps = Arc<Mutex<HashMap<(String, usize), String>>>;

/// The writer; clone the map out before the run with [`StepTap::failed`].
#[derive(Debug, Default, Clone)]
pub struct StepTap {
    failed: FailedSteps,
}

impl StepTap {
    pub fn failed(&self) -> FailedSteps {
        Arc::clone(&self.failed)
    }

    fn note(&self, feature: &gherkin::Feature, scenario: &gherkin::Scenario, step: &gherkin::Step) {
        let file = file_of(feature);
        let at = format!(
            "features/{file}:{}: {} {}",
            step.position.line,
            step.keyword.trim(),
            step.value
        );
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((file, scenario.position.line))
            .or_insert(at);
    }
}

/// The feature's file name (`modbus.feature`): the features folder is flat.
pub fn file_of(feature: &gherkin::Feature) -> String {
    feature
        .path
        .as_deref()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn failed_step<W>(ev: &Scenario<W>) -> Option<&gherkin::Step> {
    match ev {
        Scenario::Step(step, Step::Failed(..)) | Scenario::Background(step, Step::Failed(..)) => {
            Some(step)
        }
        _ => None,
    }
}

impl<W: cucumber::World> Writer<W> for StepTap {
    type Cli = cli::Empty;

    async fn handle_event(&mut self, ev: parser::Result<Event<Cucumber<W>>>, _: &Self::Cli) {
        let Ok(ev) = ev else { return };
        let Cucumber::Feature(feature, fev) = &ev.value else {
            return;
        };
        let (scenario, sev) = match fev {
            Feature::Scenario(s, r) => (s, &r.event),
            Feature::Rule(_, Rule::Scenario(s, r)) => (s, &r.event),
            _ => return,
        };
        if let Some(step) = failed_step(sev) {
            self.note(feature, scenario, step);
        }
    }
}

impl<W: cucumber::World> cucumber::writer::Arbitrary<W, String> for StepTap {
    async fn write(&mut self, _: String) {}
}

impl<W: cucumber::World> cucumber::writer::Stats<W> for StepTap {
    fn passed_steps(&self) -> usize {
        0
    }
    fn skipped_steps(&self) -> usize {
        0
    }
    fn failed_steps(&self) -> usize {
        0
    }
    fn retried_steps(&self) -> usize {
        0
    }
    fn parsing_errors(&self) -> usize {
        0
    }
    fn hook_errors(&self) -> usize {
        0
    }
}

impl cucumber::writer::Normalized for StepTap {}
