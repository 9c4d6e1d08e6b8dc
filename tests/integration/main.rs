//! Every integration test in one binary (one link of the crate instead of one per file; the
//! Gherkin suite, `tests/conformance.rs`, is the other binary). Each module is what was once
//! its own test file; filter with its name, e.g. `cargo test --test integration http_api::`.
//! The modules that plant defects (`defect_catalogue`, `conformance_report`) need the
//! `defects` feature. `defect_catalogue`'s kill check is `#[ignore]`d (minutes long):
//! `.ci/run` runs it with
//! `cargo test --features defects --test integration defect_catalogue -- --ignored`.

mod common;
mod config_props;
#[cfg(feature = "defects")]
mod conformance_report;
#[cfg(feature = "defects")]
mod defect_catalogue;
mod device_props;
mod dsmr_layout;
mod dsmr_props;
mod fixtures;
mod fleet;
mod framer_props;
mod generator_props;
mod http_api;
mod interactive_bench;
mod layering;
mod led_timelines;
mod mbus_generate;
#[cfg(feature = "defects")]
mod memory_target;
mod modbus_server;
mod mqtt_device;
mod mqtt_payload;
mod negative_fixtures;
mod no_defects_in_product;
mod remote_target;
mod run_settings;
mod sim_convention_audit;
mod suite_audit;
mod tic_props;
mod web_browser;
