//! Step definitions of the conformance suite, grouped by what they touch.

pub mod meter;
pub mod registers;
pub mod setup;
pub mod status;
pub mod world;
