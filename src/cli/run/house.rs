//! The live house of `run` (a synthetic meter, no `--feed`): the house around the scenario's
//! meter with the scenario's `house:` starting point and `events:`, and the control surfaces
//! — HTTP and the console (`--control`), the EV set-point register (`--control-modbus`) and
//! the MQTT set-point topic on the embedded broker. `--summary FILE` gets the KPIs at the end.

use super::{Plan, RunArgs, RunError};
use crate::adapters::control::{self, feed::feed_house, Control};
use crate::adapters::host::Host;
use crate::adapters::runner::Pace;
use crate::adapters::speed_clock::SpeedClock;
use crate::device::power::PowerInputs;
use crate::sim::clock::Millis;
use crate::sim::faults::FaultyMeter;
use crate::sim::generator::{Load, SyntheticMeter};
use crate::sim::house::live::LiveHouse;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The running house: its control, banner lines, and the tasks serving it.
pub(super) struct HouseRun {
    pub(super) ctl: Arc<Control>,
    pub(super) lines: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for HouseRun {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `--control` / `--control-modbus`: an address, or `off` (None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

pub(super) fn parse_control(s: &str) -> Result<Listen, RunError> {
    if s == "off" {
        return Ok(Listen(None));
    }
    super::listen::parse_listen(s)
        .map(|a| Listen(Some(a)))
        .map_err(|source| RunError::ControlArg { source })
}

/// Build the house and start its control surfaces.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start(
    args: &RunArgs,
    plan: &Plan,
    host: &Arc<Host>,
    clock: Option<Arc<SpeedClock>>,
    start: Millis,
    mqtt: Option<(SocketAddr, (String, String))>,
    serial: &str,
) -> Result<HouseRun, RunError> {
    let meter = match &plan.scenario {
        Some(s) => s.try_meter()?,
        None => {
            let load = Load::Household(crate::sim::generator::default_load());
            FaultyMeter::new(
                SyntheticMeter::new(plan.kind, load, plan.seed, start),
                Vec::new(),
            )?
        }
    };
    let power = PowerInputs {
        usb: plan.usb,
        p1_supply: plan.kind.supplies_p1_power(),
    };
    let ctl = Control::new(Arc::clone(host), LiveHouse::new(meter), clock, power);
    if let Some(s) = &plan.scenario {
        if let Some(h) = &s.house {
            ctl.change("scenario", h)
                .map_err(|source| RunError::House {
                    scenario: s.name.clone(),
                    source,
                })?;
        }
        ctl.restrict_ev_source(s.setpoint);
    }
    let mut lines = Vec::new();
    let mut tasks = Vec::new();
    if let Some(addr) = args.control.0 {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind {
                flag: Some("--control"),
                addr,
                source,
            })?;
        let at = l.local_addr().map_err(RunError::LocalAddr)?;
        if !at.ip().is_loopback() {
            tracing::warn!("--control {at}: the house control has no password; anyone who reaches this address can drive the meter");
        }
        lines.push(format!(
            "house        http://{at}/  (console; API /api/house, OpenAPI /api/openapi.json)"
        ));
        tasks.push(control::http::serve(Arc::clone(&ctl), l));
    }
    if let Some(addr) = args.control_modbus.0 {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind {
                flag: Some("--control-modbus"),
                addr,
                source,
            })?;
        let at = l.local_addr().map_err(RunError::LocalAddr)?;
        lines.push(format!(
            "EV setpoint  modbus://{at}  holding register 0 = amps × 10, 1 = phases (not the device's Modbus)"
        ));
        tasks.push(control::modbus::serve(Arc::clone(&ctl), l));
    }
    if let Some((broker, account)) = mqtt {
        lines.push(format!(
            "EV setpoint  mqtt topic {} (amps, or {{\"amps\":10,\"phases\":1}})",
            control::mqtt::topic(serial)
        ));
        tasks.push(control::mqtt::serve(
            Arc::clone(&ctl),
            broker,
            account,
            serial,
        ));
    }
    Ok(HouseRun { ctl, lines, tasks })
}

/// The feed: the house's telegrams, with the scenario's events applied when due.
pub(super) fn feed(
    run: &HouseRun,
    plan: &Plan,
    pace: Pace,
    until: Option<Millis>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let ctl = Arc::clone(&run.ctl);
    let events: Vec<(Millis, serde_json::Value)> = plan
        .scenario
        .as_ref()
        .map(|s| {
            s.events
                .iter()
                .map(|(at, v)| (s.start + at, v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Box::pin(async move {
        if events.is_empty() {
            return feed_house(ctl, pace, until).await;
        }
        // Feed up to each event, apply it, go on.
        for (at, change) in events {
            if until.is_some_and(|u| at > u) {
                break;
            }
            feed_house(Arc::clone(&ctl), pace.clone(), Some(at - 1)).await;
            if let Err(e) = ctl.change("scenario", &change) {
                tracing::warn!("scenario event at {}: {e}", crate::sim::clock::rfc3339(at));
            }
        }
        feed_house(ctl, pace, until).await;
    })
}

/// Write the KPIs to `--summary FILE` (JSON).
pub(super) fn write_summary(run: &HouseRun, path: &std::path::Path) -> Result<(), RunError> {
    let json = serde_json::to_string_pretty(&run.ctl.summary()).map_err(RunError::SummaryJson)?;
    std::fs::write(path, json + "\n").map_err(|source| RunError::Summary {
        path: path.to_path_buf(),
        source,
    })?;
    tracing::info!("KPIs written to {}", path.display());
    Ok(())
}
