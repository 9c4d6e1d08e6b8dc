//! The simulator's control surface for the live house (`run --control`): kept apart from the
//! device's own `/api/v1`, which stays as the manual says. Every way in — HTTP JSON
//! (`http.rs`, with the console page and its Server-Sent Events), a Modbus TCP holding
//! register for the EV set-point (`modbus.rs`, its own port: the device's Modbus stays
//! read-only, MB-09) and an MQTT topic (`mqtt.rs`) — goes through [`Control`], which checks a
//! change whole (nothing changes on any error), applies it to the house so it shows in the
//! next telegram, and logs it with device time. `feed.rs` puts the house's telegrams on the
//! device's input and publishes a [`Sample`] per telegram for the console.

mod fault;
pub mod feed;
pub mod http;
pub mod modbus;
pub mod mqtt;
#[cfg(test)]
mod tests;

use super::host::Host;
use super::speed_clock::SpeedClock;
use crate::device::power::PowerInputs;
use crate::device::registers::MeterValues;
use crate::device::Event;
use crate::sim::clock::{rfc3339, Millis};
use crate::sim::house::change::{self, FieldError, Limits};
use crate::sim::house::live::{LiveHouse, Summary};
use crate::sim::scenario::SetPointSource;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Samples kept for a console that connects late.
const RECENT: usize = 120;
/// Changes kept in the control log.
const LOG: usize = 100;

/// Why a control request changed nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// Fields with wrong values (422): every one of them.
    #[error("{}", change::join(.0))]
    Invalid(Vec<FieldError>),
    /// Not possible in this run (409).
    #[error("{0}")]
    Conflict(String),
}

impl ControlError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        ControlError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// What the meter sent at one telegram, and what the device serves after it.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Device time of the telegram (epoch ms) and as RFC 3339.
    pub at: Millis,
    pub time: String,
    /// Bytes went on the wire (false: dropout, slow cadence, no power).
    pub sent: bool,
    /// What the meter sent: V, A, W per phase, import/export W (null: not in the telegram, or
    /// nothing was sent).
    pub voltage_v: [Option<f32>; 3],
    pub current_a: [Option<f32>; 3],
    pub power_w: [Option<f32>; 3],
    pub import_w: Option<f32>,
    pub export_w: Option<f32>,
    /// The device's register snapshot after the telegram (what a Modbus read returns).
    pub registers: MeterValues,
    pub ev_a: [f64; 3],
    pub fuse_a: Option<f64>,
    /// Smallest margin to the fuse rating, A (negative: over).
    pub fuse_margin_a: Option<f64>,
    pub tripped: bool,
    /// The telegram as text (lossy UTF-8).
    pub telegram: String,
}

/// One logged change.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub at: Millis,
    pub time: String,
    pub source: String,
    pub change: String,
}

/// The live house and the run's time, shared by every control surface and the feed.
pub struct Control {
    host: Arc<Host>,
    house: Mutex<LiveHouse>,
    /// The run's clock when its speed can change (a numeric `--speed`).
    clock: Option<Arc<SpeedClock>>,
    /// The speed before a pause.
    paused: Mutex<Option<f64>>,
    /// How the device is powered when the house has power.
    power: PowerInputs,
    samples: broadcast::Sender<Arc<Sample>>,
    recent: Mutex<VecDeque<Arc<Sample>>>,
    log: Mutex<VecDeque<LogEntry>>,
    /// Who may move the EV set-point (a scenario's `setpoint:`).
    ev_source: Mutex<SetPointSource>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Control {
    pub fn new(
        host: Arc<Host>,
        house: LiveHouse,
        clock: Option<Arc<SpeedClock>>,
        power: PowerInputs,
    ) -> Arc<Self> {
        Arc::new(Control {
            host,
            house: Mutex::new(house),
            clock,
            paused: Mutex::new(None),
            power,
            samples: broadcast::channel(256).0,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            log: Mutex::new(VecDeque::with_capacity(LOG)),
            ev_source: Mutex::new(SetPointSource::Any),
        })
    }

    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// Run `f` on the house (the feed takes telegrams through it).
    pub fn with_house<R>(&self, f: impl FnOnce(&mut LiveHouse) -> R) -> R {
        f(&mut lock(&self.house))
    }

    fn note(&self, source: &str, change: String) {
        let at = self.host.now();
        tracing::info!("house [{}] {source}: {change}", rfc3339(at));
        let mut log = lock(&self.log);
        if log.len() == LOG {
            log.pop_front();
        }
        log.push_back(LogEntry {
            at,
            time: rfc3339(at),
            source: source.into(),
            change,
        });
    }

    /// Only `source` (and the scenario) may move the EV set-point from now on.
    pub fn restrict_ev_source(&self, source: SetPointSource) {
        *lock(&self.ev_source) = source;
    }

    /// Check and apply a change (the `PATCH /api/house` body); it shows in the next telegram.
    /// `source` is `http`, `modbus`, `mqtt` or `scenario`.
    pub fn change(&self, source: &str, body: &Value) -> Result<(), ControlError> {
        let allowed = *lock(&self.ev_source);
        let moves_ev = body
            .get("ev")
            .and_then(Value::as_object)
            .is_some_and(|ev| ["on", "amps", "phases"].iter().any(|k| ev.contains_key(*k)));
        let may = match allowed {
            SetPointSource::Any => true,
            SetPointSource::Events => source == "scenario",
            s => source == "scenario" || source == s.name(),
        };
        if moves_ev && !may {
            return Err(ControlError::Conflict(format!(
                "the scenario says the EV set-point comes from {} (setpoint: {}); {source} may change everything else",
                allowed.name(),
                allowed.name()
            )));
        }
        let now = self.host.now();
        let mut house = lock(&self.house);
        let limits = Limits {
            phases: house.kind().phases(),
            meter: house.kind(),
        };
        let c = change::parse(body, limits).map_err(ControlError::Invalid)?;
        let (before, kind) = (house.house.clone(), house.kind());
        house.apply(&c, now);
        let same = house.house == before && house.kind() == kind;
        drop(house);
        if same {
            // A charger repeating its set-point every poll: nothing to log.
            tracing::debug!("house {source}: {body} (no change)");
        } else {
            self.note(source, body.to_string());
        }
        Ok(())
    }

    /// Add a fault now (the `POST /api/house/faults` body): `{"kind": "bad_crc"}`,
    /// `{"kind": "dropout", "duration_s": 45}`, `{"kind": "noise", "bytes": 12}`, …
    pub fn fault(&self, source: &str, body: &Value) -> Result<(), ControlError> {
        let f = fault::parse(body)?;
        let now = self.host.now();
        lock(&self.house)
            .inject(f, now)
            .map_err(|e| ControlError::field("kind", e.to_string()))?;
        self.note(source, format!("fault {body}"));
        Ok(())
    }

    /// Put the main fuse back in: the house and the device have power again.
    pub fn reset_fuse(&self, source: &str) -> Result<(), ControlError> {
        let now = self.host.now();
        let was_dark = {
            let mut h = lock(&self.house);
            let dark = h.dark();
            h.reset_fuse(now);
            dark
        };
        if was_dark {
            self.host.handle(Event::Power(self.power));
        }
        self.note(source, format!("fuse reset (was tripped: {was_dark})"));
        Ok(())
    }

    fn speed_clock(&self) -> Result<&Arc<SpeedClock>, ControlError> {
        self.clock.as_ref().ok_or_else(|| {
            ControlError::Conflict(
                "pause and speed need a numeric --speed (this run moves time as fast as it can or by the rig)"
                    .into(),
            )
        })
    }

    /// Stop device time (the meter and the device's timers stand still).
    pub fn pause(&self, source: &str) -> Result<(), ControlError> {
        let clock = self.speed_clock()?;
        let mut paused = lock(&self.paused);
        if paused.is_none() {
            *paused = Some(clock.speed());
            clock.set_speed(0.0);
        }
        drop(paused);
        self.note(source, "pause".into());
        Ok(())
    }

    /// Let device time run again at the speed before the pause.
    pub fn resume(&self, source: &str) -> Result<(), ControlError> {
        let clock = self.speed_clock()?;
        if let Some(s) = lock(&self.paused).take() {
            clock.set_speed(s);
        }
        self.note(source, "resume".into());
        Ok(())
    }

    /// Run device time at `speed` (a positive number, ≤ 1000) from now; ends a pause.
    pub fn set_speed(&self, source: &str, body: &Value) -> Result<(), ControlError> {
        let clock = self.speed_clock()?;
        let speed = match body.get("speed").and_then(Value::as_f64) {
            Some(s) if s > 0.0 && s <= 1000.0 => s,
            _ => {
                return Err(ControlError::field(
                    "speed",
                    format!(
                        "must be a number in (0, 1000], got {}",
                        body.get("speed").unwrap_or(&Value::Null)
                    ),
                ))
            }
        };
        *lock(&self.paused) = None;
        clock.set_speed(speed);
        self.note(source, format!("speed {speed}"));
        Ok(())
    }

    /// The house, the run's time and the KPIs so far.
    pub fn state(&self) -> Value {
        let now = self.host.now();
        let h = lock(&self.house);
        let (ev_a, ev_phases) = h.house.ev.current_at(now.max(h.house.ev.set_at));
        json!({
            "device_time": rfc3339(now),
            "device_time_ms": now,
            "speed": self.clock.as_ref().map(|c| c.speed()),
            "paused": lock(&self.paused).is_some(),
            "meter": h.kind().name(),
            "meter_id": h.meter_id(),
            "next_telegram_ms": h.next_at(),
            "dark": h.dark(),
            "house": &h.house,
            "pv_peak_w": h.house.pv_peak_w(),
            "ev_now": {"amps": ev_a, "phases": ev_phases},
            "summary": h.summary(),
        })
    }

    pub fn summary(&self) -> Summary {
        lock(&self.house).summary()
    }

    /// Samples as they come (the console's event stream).
    pub fn samples(&self) -> broadcast::Receiver<Arc<Sample>> {
        self.samples.subscribe()
    }

    /// The last samples, oldest first.
    pub fn recent(&self) -> Vec<Arc<Sample>> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// The control log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.log).iter().cloned().collect()
    }

    fn publish(&self, s: Sample) {
        let s = Arc::new(s);
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(Arc::clone(&s));
        drop(recent);
        let _ = self.samples.send(s);
    }
}
