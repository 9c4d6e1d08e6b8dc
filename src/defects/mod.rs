//! Planted firmware bugs (the `defects` cargo feature; a default build has none): the
//! catalogue (`catalogue.rs`) and the layers that make a correct device faulty, like
//! h2spec's known-bad servers. The device and the adapters stay correct; each defect is a
//! wrapper around them:
//! - `device.rs`: a `DeviceLayer` between the host and the device that rewrites events and
//!   effects (power, button, patch replies, persistence, P1 ext, measurements, LED);
//!   `meter.rs` holds its register-value and CRC rewrites, `patch.rs` the partial PATCH.
//! - `modbus.rs`: a wrapper around the Modbus service and the server options.
//! - `http.rs`: axum layers around the router and the server options.
//! - `mqtt.rs`: a layer on the MQTT client's settings and publishes.
//! - Where a defect is a device variant (oldest DSMR version, TIC historic mode, DSMR 4.x
//!   silence timeout, link-local fallback, signature check, access point outside factory
//!   settings), `layer_for` sets the plain `DeviceConfig` parameter.
//!
//! The defects travel in `DeviceConfig::defects` (this feature only): the host asks
//! `layer_for` for the layer when it builds a device, and each adapter asks its module here
//! when it starts.

mod catalogue;
mod device;
pub mod http;
mod meter;
pub mod modbus;
pub mod mqtt;
mod patch;

pub use catalogue::{parse_defect, parse_list, warn_if_any, Defect, Defects};
pub use device::FaultyDevice;

use crate::adapters::host::{DeviceLayer, Host};
use crate::device::DeviceConfig;

/// The device `hw` describes as its planted defects make it: the variant parameters set,
/// and the faulty-firmware layer (none for a correct device).
pub fn layer_for(mut hw: DeviceConfig) -> (DeviceConfig, Option<Box<dyn DeviceLayer>>) {
    if hw.defects.is_empty() {
        return (hw, None);
    }
    let d = &hw.defects;
    if d.contains(&Defect::P1OldDsmrAccepted) {
        hw.meter.min_dsmr_version = 40;
    }
    if d.contains(&Defect::TicHistoricRejected) {
        hw.meter.tic_historic = false;
    }
    if d.contains(&Defect::P1Dsmr42ShortTimeout) {
        hw.meter.dsmr4_silence_timeout_ms = crate::time::Duration::from_secs(3);
    }
    if d.contains(&Defect::NetworkNoLinkLocal) {
        hw.link_local_fallback = false;
    }
    if d.contains(&Defect::FirmwareAcceptsBadImage) {
        hw.firmware_signature_check = false;
    }
    if d.contains(&Defect::ButtonApOutsideFactory) {
        hw.access_point_factory_only = false;
    }
    let layer = FaultyDevice::new(hw.variant, hw.defects.clone());
    (hw, Some(Box::new(layer)))
}

/// The defects planted in `host`'s device.
fn planted(host: &Host) -> Defects {
    host.with_device(|d| d.hardware().defects.clone())
}

#[cfg(test)]
mod device_tests;
