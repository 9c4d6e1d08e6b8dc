//! Conformance reporting: the project's requirement list, the requirement tags of the
//! Gherkin scenarios, and the results of the last suite run, joined into a coverage table.

pub mod coverage;
