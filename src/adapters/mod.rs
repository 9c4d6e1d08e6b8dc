//! Thin adapters that put the pure device on real I/O: the host that owns the device and
//! its clock, the Modbus TCP server, and (later) HTTP, MQTT and the serial/TCP meter feed.

pub mod broker;
pub mod certs;
pub mod host;
pub mod http;
pub mod modbus;
pub mod modbus_client;
pub mod mqtt;
pub mod runner;
