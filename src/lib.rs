//! Virtual Smart Connect: a deterministic simulator and conformance harness for the Xemex
//! P1/A1/TIC Smart Connect. See `README.md` and `spec/` for the shape of the crate.

pub mod adapters;
pub mod cli;
pub mod conformance;
#[cfg(feature = "defects")]
pub mod defects;
pub mod device;
pub mod dut;
pub mod fleet;
pub mod protocol;
pub mod sim;
pub mod time;
