//! The conformance suite: the Gherkin steps (`steps/`), the built-in feature files, which
//! scenarios apply to a target (`applicability`), the runner (`suite`), its own register
//! decoding (`decode`, never the product's), and the reports read
//! from its results: the requirement-coverage table, JUnit XML and the product owners' report.

pub mod applicability;
pub mod coverage;
pub mod decode;
pub mod device_identity;
pub mod duration;
pub mod features;
pub mod junit;
pub mod report;
pub mod schema;
pub mod step_tap;
pub mod steps;
pub mod suite;
pub mod tags;
