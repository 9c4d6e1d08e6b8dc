//! Step definitions of the conformance suite, grouped by what they touch.

pub mod bench;
pub mod button;
pub mod chargers;
pub mod config;
pub mod firmware;
pub mod ha_discovery;
pub mod http;
pub mod led;
pub mod meter;
pub mod mqtt;
pub mod mqtt_commands;
pub mod mqtt_wait;
pub mod network;
pub mod own_broker;
pub mod persistence;
pub mod power;
pub mod registers;
pub mod setup;
pub mod snapshot;
pub mod status;
pub mod web;
pub mod world;
