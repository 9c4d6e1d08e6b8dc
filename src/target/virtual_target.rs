//! The `Virtual` target: a device host in this process on a virtual clock, with its Modbus
//! server on an ephemeral loopback port. Time advances only when a step says so; the device
//! runs every transition due on the way at its own instant, so timeouts and LED changes
//! happen at the exact virtual time. Modbus is read over the real socket.

use super::{Capabilities, ModbusReply, Target, TargetError};
use crate::adapters::host::Host;
use crate::adapters::modbus::ModbusServer;
use crate::adapters::modbus_client::ModbusClient;
use crate::device::firmware::FirmwareImage;
use crate::device::identity::Identity;
use crate::device::led::Color;
use crate::device::network::Lan;
use crate::device::power::PowerInputs;
use crate::device::store::MemStore;
use crate::device::{DeviceConfig, Effect, Event, Reply, Variant};
use crate::sim::clock::{Millis, VirtualClock};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// An in-process virtual Smart Connect.
#[derive(Debug)]
pub struct VirtualTarget {
    host: Arc<Host>,
    clock: VirtualClock,
    variant: Variant,
    identity: Identity,
    modbus: ModbusServer,
    client: ModbusClient,
}

impl VirtualTarget {
    /// An unpowered device of `hw` whose clock starts at `start`, with an empty store and its
    /// Modbus server on 127.0.0.1, port chosen by the OS. Call inside a tokio runtime.
    pub fn new(hw: DeviceConfig, start: Millis) -> Result<Self, TargetError> {
        let clock = VirtualClock::new(start);
        let variant = hw.variant;
        let identity = hw.identity.clone();
        let host = Host::new(hw, Some(Box::new(MemStore::new())), Arc::new(clock.clone()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
        let modbus = ModbusServer::start(Arc::clone(&host), listener).map_err(io)?;
        let client = ModbusClient::new(modbus.local_addr());
        Ok(VirtualTarget {
            host,
            clock,
            variant,
            identity,
            modbus,
            client,
        })
    }

    /// The host (for tests of the simulator itself, never for conformance steps).
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    fn event(&mut self, ev: Event) -> Vec<Effect> {
        self.host.handle(ev)
    }

    /// Send a request event and take its reply.
    fn request(&mut self, ev: Event) -> Result<Reply, TargetError> {
        self.event(ev)
            .into_iter()
            .rev()
            .find_map(|e| match e {
                Effect::Reply(r) => Some(r),
                _ => None,
            })
            .ok_or_else(|| TargetError("the device gave no answer".into()))
    }

    /// What a real device would answer when it is not serving (off, booting, no address).
    fn serving(&self, what: &str) -> Result<(), TargetError> {
        if self.host.served().serving {
            Ok(())
        } else {
            Err(TargetError(format!(
                "{what}: no answer (the device is off, booting or has no address)"
            )))
        }
    }
}

fn io(e: std::io::Error) -> TargetError {
    TargetError(e.to_string())
}

#[async_trait]
impl Target for VirtualTarget {
    fn describe(&self) -> String {
        format!(
            "virtual Smart Connect {} (in-process, virtual clock, Modbus on {})",
            self.variant.label(),
            self.modbus.local_addr()
        )
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            power: true,
            button: true,
            led: true,
            clock: true,
            network: true,
        }
    }

    fn variant(&self) -> Variant {
        self.variant
    }

    fn label(&self) -> Identity {
        self.identity.clone()
    }

    fn now(&self) -> Millis {
        use crate::sim::clock::Clock;
        self.clock.now()
    }

    fn modbus_addr(&self) -> SocketAddr {
        self.modbus.local_addr()
    }

    async fn send_meter_bytes(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.event(Event::SerialBytes(bytes.to_vec()));
        Ok(())
    }

    async fn wait_until(&mut self, t: Millis) -> Result<(), TargetError> {
        // The device runs every transition due before `t` at its own instant.
        self.clock.advance_to(t);
        self.event(Event::Tick);
        // Let the adapters (e.g. the Modbus idle watchdog) see the new time.
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn set_power(&mut self, usb: bool, meter_supply: bool) -> Result<(), TargetError> {
        self.event(Event::Power(PowerInputs {
            usb,
            p1_supply: meter_supply,
        }));
        Ok(())
    }

    async fn button_down(&mut self) -> Result<(), TargetError> {
        self.event(Event::ButtonDown);
        Ok(())
    }

    async fn button_up(&mut self) -> Result<(), TargetError> {
        self.event(Event::ButtonUp);
        Ok(())
    }

    async fn led_colour(&mut self) -> Result<Color, TargetError> {
        let now = self.host.now();
        Ok(self.host.with_device(|d| d.led().colour_at(now)))
    }

    async fn set_lan(&mut self, lan: Lan) -> Result<(), TargetError> {
        self.event(Event::Lan(lan));
        Ok(())
    }

    async fn offer_firmware(&mut self, version: &str, good: bool) -> Result<(), TargetError> {
        self.host.with_device_mut(|d| {
            d.offer_firmware(FirmwareImage {
                version: version.into(),
                good,
            })
        });
        Ok(())
    }

    async fn modbus_read(
        &mut self,
        fc: u8,
        unit: u8,
        addr: u16,
        qty: u16,
    ) -> Result<ModbusReply, TargetError> {
        self.client
            .read(fc, unit, addr, qty)
            .await
            .map_err(|e| TargetError(format!("Modbus: {e}")))
    }

    async fn modbus_disconnect(&mut self) -> Result<(), TargetError> {
        self.client.disconnect().await;
        Ok(())
    }

    async fn take_p1_ext(&mut self) -> Result<Vec<u8>, TargetError> {
        Ok(self.host.take_p1_ext())
    }

    async fn get_config(&mut self) -> Result<Value, TargetError> {
        self.serving("HTTP")?;
        Ok(self.host.with_device(|d| d.config().to_json()))
    }

    async fn patch_config(&mut self, patch: Value) -> Result<Result<Value, Value>, TargetError> {
        self.serving("HTTP")?;
        match self.request(Event::PatchConfig(patch))? {
            Reply::Config(Ok(c)) => Ok(Ok(c.to_json())),
            Reply::Config(Err(e)) => Ok(Err(json!({ "pointer": e.pointer, "detail": e.message }))),
            other => Err(TargetError(format!("unexpected answer {other:?}"))),
        }
    }

    async fn reset(&mut self) -> Result<(), TargetError> {
        self.serving("HTTP")?;
        self.event(Event::SoftReset);
        Ok(())
    }

    async fn firmware(&mut self) -> Result<Value, TargetError> {
        self.serving("HTTP")?;
        Ok(self.host.with_device(
            |d| json!({ "Version": d.firmware().version(), "Update": d.firmware().state() }),
        ))
    }

    async fn update_firmware(&mut self, version: &str) -> Result<Result<(), String>, TargetError> {
        self.serving("HTTP")?;
        match self.request(Event::FirmwareUpdate {
            version: version.into(),
        })? {
            Reply::Firmware(r) => Ok(r),
            other => Err(TargetError(format!("unexpected answer {other:?}"))),
        }
    }

    async fn status(&mut self) -> Result<Value, TargetError> {
        self.serving("HTTP")?;
        let now = self.host.now();
        self.host
            .with_device(|d| serde_json::to_value(d.status(now)))
            .map_err(|e| TargetError(e.to_string()))
    }
}
