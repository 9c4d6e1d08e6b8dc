//! Thin adapters that put the pure device on real I/O: the host that owns the device and
//! its clocks, the Modbus TCP server and client, the HTTP API and web UI, the test PKI, the
//! embedded MQTT broker and the device's MQTT client, mDNS, the configuration file
//! (`file_store`), the P1 ext copy on TCP
//! (`p1_stream`), and the real-time runner that ticks the device and feeds it meter bytes.

pub mod accept;
pub mod broker;
pub mod certs;
pub mod control;
pub mod file_store;
pub mod host;
pub mod http;
pub mod mdns;
pub mod modbus;
pub mod modbus_client;
pub mod mqtt;
pub mod net;
pub mod p1_stream;
pub mod rate_log;
pub mod rig;
pub mod runner;
pub mod speed_clock;

#[cfg(test)]
mod glossary_tests;
