//! The device's MQTT client against the embedded broker, over real loopback sockets: a virtual
//! device (a `Host` on a `VirtualClock`), `EmbeddedBroker` (rumqttd behind the mTLS front) and
//! `MqttClient`.
//!
//! Time: device time is the virtual clock, so reconnect back-off, certificate validity and
//! command timestamps are driven by the test, never by sleeping. Real time passes only while
//! waiting for network events (TCP/TLS handshakes, MQTT round trips through rumqttd); every
//! such wait has a timeout and ends as soon as the event happens.

mod abuse;
mod broker_down;
mod commands;
mod connect;
mod measurements;
mod settings;
mod support;
