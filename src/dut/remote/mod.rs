//! The `Remote` target: a Smart Connect in another place — real firmware on a bench, or the
//! simulator started as its own process (`run --rig … --feed tcp:…`). Observed only through
//! what the device offers (Modbus TCP, the HTTP API, the MQTT broker it publishes to); set up
//! through the meter line (`feed`) and whatever the bench can do (hook commands, a rig, or
//! an operator). Time is the device's own: real time with the step's tolerances, or — when a
//! rig or a `time` hook drives a simulator's clock — moved exactly like the virtual target's.

pub mod config;
mod error;
mod feed;
pub mod hooks;
pub mod p1_ext;
mod preflight;
mod target;
pub mod watch;

pub use config::RemoteConfig;
pub use error::{BenchError, TargetFileError};
pub use target::RemoteTarget;

use super::rig_client::{RigClient, RigInfo};
use super::{Capabilities, Statement, TargetError};
use crate::device::Variant;
use feed::MeterLine;

/// The bench around one remote device, shared by the scenarios that run on it one by one.
#[derive(Debug)]
pub struct RemoteBench {
    cfg: RemoteConfig,
    rig: Option<RigClient>,
    line: tokio::sync::Mutex<Option<MeterLine>>,
    /// The P1 ext output as the bench reads it (opened on first use, kept across scenarios).
    p1_ext: tokio::sync::Mutex<Option<p1_ext::P1ExtTap>>,
}

impl RemoteBench {
    pub fn new(cfg: RemoteConfig) -> Self {
        let token = cfg
            .rig_token
            .clone()
            .or_else(|| std::env::var(super::rig_client::TOKEN_ENV).ok());
        let rig = cfg
            .rig
            .as_deref()
            .and_then(|u| RigClient::new(u, token).ok());
        RemoteBench {
            cfg,
            rig,
            line: tokio::sync::Mutex::new(None),
            p1_ext: tokio::sync::Mutex::new(None),
        }
    }

    /// Ask the operator for what no hook or rig does (`--interactive`).
    pub fn set_interactive(&mut self, on: bool) {
        self.cfg.interactive |= on;
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.cfg
    }

    /// What came out of P1 ext since the last call, from the bench's own reader.
    async fn take_p1_ext(&self) -> Result<Option<Vec<u8>>, TargetError> {
        let Some(src) = &self.cfg.p1_ext else {
            return Ok(None);
        };
        let mut tap = self.p1_ext.lock().await;
        if tap.is_none() {
            *tap = Some(p1_ext::P1ExtTap::open(src).await?);
        }
        tap.as_ref().expect("opened above").take().map(Some)
    }

    /// The rig's report; the first time, wait up to 30 s for the rig to come up (a
    /// simulator started just before the suite).
    async fn rig_info(&self) -> Result<Option<RigInfo>, TargetError> {
        let Some(r) = &self.rig else { return Ok(None) };
        let end = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match r.info().await {
                Ok(i) => return Ok(Some(i)),
                Err(e) if tokio::time::Instant::now() >= end => return Err(e),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    /// The device's variant: declared, or asked from the rig.
    async fn variant(&self) -> Result<Variant, TargetError> {
        if let Some(v) = self.cfg.variant().map_err(|e| TargetError(e.to_string()))? {
            return Ok(v);
        }
        let info = self
            .rig_info()
            .await?
            .ok_or_else(|| TargetError::bench("the target file names no variant and no rig"))?;
        match info.variant.as_str() {
            "P1" => Ok(Variant::P1),
            "TIC" => Ok(Variant::Tic),
            other => Err(TargetError::bench(format!(
                "the rig reports variant {other:?}"
            ))),
        }
    }

    /// What the bench can do.
    pub fn capabilities(&self) -> Capabilities {
        let h = &self.cfg.hooks;
        let rig = self.rig.is_some();
        let person = self.cfg.interactive;
        config::apply_overrides(
            &self.cfg.capabilities,
            Capabilities {
                modbus: self.cfg.modbus.is_some() || rig,
                http: self.cfg.http.is_some() || rig,
                web: self.cfg.http.is_some() || rig,
                status: self.cfg.http.is_some() || rig,
                power: h.power.is_some() || rig || person,
                button: h.button.is_some() || rig || person,
                led: h.led.is_some() || rig || person,
                clock: h.device_clock.is_some() || rig || person,
                network: rig || person,
                broker: rig,
                own_broker: self.cfg.own_broker.is_some() || rig,
                update_server: h.firmware.is_some() || rig,
                p1_ext: self.cfg.p1_ext.is_some() || rig,
                mqtt: self.cfg.mqtt.is_some() || rig,
            },
        )
    }

    /// The conformance statement: variant, meters, bench capabilities.
    pub async fn statement(&self) -> Result<Statement, BenchError> {
        let variant = self.variant().await?;
        let mut caps = self.capabilities();
        if caps.own_broker
            && self.cfg.own_broker.is_none()
            && !self.cfg.capabilities.contains_key("own_broker")
        {
            let info = self.rig_info().await?;
            caps.own_broker = info.is_some_and(|i| i.own_broker.is_some());
        }
        let description = self.cfg.description.clone().unwrap_or_else(|| {
            format!(
                "remote Smart Connect {} ({})",
                variant.label(),
                self.cfg
                    .http
                    .clone()
                    .or_else(|| self.cfg.rig.as_ref().map(|r| format!("rig {r}")))
                    .unwrap_or_default()
            )
        });
        Ok(Statement {
            description,
            variants: vec![variant],
            meters: self.cfg.meter_kinds()?,
            capabilities: caps,
            firmware: self.cfg.firmware.clone(),
        })
    }
}
