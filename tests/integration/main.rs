//! Every integration test in one binary (one link of the crate instead of one per file; the
//! Gherkin suite, `tests/conformance.rs`, is the other binary). Each module is what was once
//! its own test file; filter with its name, e.g. `cargo test --test integration http_api::`.
//! `defect_catalogue`'s kill check is `#[ignore]`d (minutes long): `.ci/run` runs it with
//! `cargo test --test integration defect_catalogue -- --ignored`.

mod common;
mod config_props;
mod conformance_report;
mod defect_catalogue;
mod device_props;
mod dsmr_props;
mod fixtures;
mod framer_props;
mod generator_props;
mod http_api;
mod interactive_bench;
mod layering;
mod led_timelines;
mod modbus_server;
mod mqtt_device;
mod mqtt_payload;
mod negative_fixtures;
mod remote_target;
mod run_settings;
mod sim_convention_audit;
mod suite_audit;
mod tic_props;
mod web_browser;
