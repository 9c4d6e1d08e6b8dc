//! The simulated world around the device: clocks, synthetic meters from a seed, fault
//! injection, and scenario files.

pub mod clock;
pub mod drive;
pub mod faults;
pub mod generator;
pub mod house;
pub mod parallel;
pub mod scenario;
