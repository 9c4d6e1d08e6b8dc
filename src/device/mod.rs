//! The virtual Smart Connect as a pure state machine: `Device::handle(event, now)` returns
//! effects. No sockets, no wall clock, no tokio: adapters put the effects on real I/O.

pub mod button;
pub mod firmware;
pub mod config;
pub mod identity;
pub mod led;
pub mod meter;
pub mod network;
pub mod power;
pub mod registers;
pub mod store;
pub mod status;

use crate::protocol::Reading;
use crate::sim::clock::Millis;
use meter::{MeterEffect, MeterInput, MeterState, MeterStatus};
use registers::{Exception, MeterValues, Template};
use serde::Serialize;

/// Product variant: which meter input the box has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// P1/A1 Smart Connect: DSMR 4.2+/SMR5 (NL) and e-MUCS (BE).
    P1,
    /// TIC Smart Connect: French Linky.
    Tic,
}

impl Variant {
    /// The name in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::P1 => "p1",
            Variant::Tic => "tic",
        }
    }

    /// The name in prose.
    pub fn label(self) -> &'static str {
        match self {
            Variant::P1 => "P1",
            Variant::Tic => "TIC",
        }
    }
}

/// How the device is built and configured.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    pub variant: Variant,
    pub template: Template,
}

impl DeviceConfig {
    pub fn new(variant: Variant) -> Self {
        DeviceConfig {
            variant,
            template: Template::PhoenixContactEmpro,
        }
    }
}

/// Something that happens to the device.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Bytes arrived on the meter input (P1 RJ12 or TIC terminals).
    SerialBytes(Vec<u8>),
    /// Time passed (the adapter ticks at `next_deadline`).
    Tick,
}

/// Something the device does, for the adapters to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The register map now shows these values (MB-07).
    RegistersChanged(MeterValues),
    /// One valid telegram was received and parsed (one MQTT message each, MQ-08).
    Measurement(Box<Reading>),
    /// Bytes for the P1 ext output: an exact copy of the input (P1-03).
    P1ExtOut(Vec<u8>),
    MeterStateChanged(MeterState),
    /// A telegram was rejected (counted in the status; logged by the adapters).
    TelegramRejected(crate::protocol::ParseError),
}

/// The device.
#[derive(Debug)]
pub struct Device {
    config: DeviceConfig,
    meter: MeterInput,
    scratch: Vec<MeterEffect>,
}

impl Device {
    pub fn new(config: DeviceConfig) -> Self {
        let meter = MeterInput::new(config.variant);
        Device {
            config,
            meter,
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Select the register map template (config key `MeterType`, TIC-03).
    pub fn set_template(&mut self, template: Template) {
        self.config.template = template;
    }

    /// Feed one event at device time `now`; returns what the device does.
    pub fn handle(&mut self, event: Event, now: Millis) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut m = std::mem::take(&mut self.scratch);
        match event {
            Event::SerialBytes(bytes) => {
                self.meter.on_bytes(&bytes, now, &mut m);
                if self.config.variant == Variant::P1 {
                    effects.push(Effect::P1ExtOut(bytes));
                }
            }
            Event::Tick => self.meter.on_tick(now, &mut m),
        }
        for e in m.drain(..) {
            match e {
                MeterEffect::Accepted(values, reading) => {
                    effects.push(Effect::RegistersChanged(values));
                    effects.push(Effect::Measurement(reading));
                }
                MeterEffect::Rejected(e) => effects.push(Effect::TelegramRejected(e)),
                MeterEffect::StateChanged(s) => effects.push(Effect::MeterStateChanged(s)),
            }
        }
        self.scratch = m;
        effects
    }

    /// The earliest time at which a `Tick` may change something.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.meter.deadline()
    }

    /// The current register values.
    pub fn values(&self) -> &MeterValues {
        self.meter.values()
    }

    /// Answer a Modbus read from the current snapshot.
    pub fn read_registers(&self, fc: u8, addr: u16, qty: u16) -> Result<Vec<u16>, Exception> {
        self.config
            .template
            .read(self.meter.values(), fc, addr, qty)
    }

    pub fn meter_status(&self) -> &MeterStatus {
        self.meter.status()
    }
}

#[cfg(test)]
mod tests;
