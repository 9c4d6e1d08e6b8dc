//! The device host: owns the pure `Device`, its clock and its config store; turns events
//! into effects and carries the effects out for the adapters (the register snapshot the
//! Modbus server answers from, the P1 ext output, persisted settings). Adapters read the
//! snapshot without locking the device, so a read never waits for a telegram being parsed
//! and never mixes two telegrams (MB-08).
//!
//! The store is the device's flash: at every boot (power-on, restart, firmware update) the
//! device asks for its settings (`Effect::LoadConfig`) and the host answers at once with what
//! the store holds (`Event::ConfigLoaded`), so what survives a power cut is what the store
//! kept, not what the device remembered (API-10).
//!
//! Persistence failures are never silent:
//! - A save that fails (`Effect::PersistConfig`) is logged, kept in the status
//!   (`Config.SaveError`) and undone in memory: the device's stored settings go back to what
//!   the store holds, so a GET shows the old value and a restart brings nothing new.
//!   `Host::handle_saving` returns the failure; the HTTP API answers it with 500.
//! - A corrupt or invalid config file found at start or at a boot is moved aside by the store
//!   (`config.json.corrupt-<UTC time from the host clock>`), the device boots on factory
//!   settings, and the status says so (`Config.Recovered`, `Config.RecoveredReason`).
//!
//! A `DeviceLayer` may sit between the host and the device, rewriting events and effects
//! (only the `defects` feature's faulty firmware does; a correct device has none).

use crate::device::config::Config;
use crate::device::led::LedTimeline;
use crate::device::registers::{MeterValues, Template};
use crate::device::status::Status;
use crate::device::store::{file_stamp, ConfigStore, StoreError};
use crate::device::{Device, DeviceConfig, Effect, Event};
use crate::protocol::Reading;
use crate::sim::clock::{Clock, Millis};
use crate::time::Instant;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, watch};

/// The way out of settings that leave the device without an address (the end of the
/// simulator's 503 detail and of the log line of a network problem).
pub const FACTORY_RESET_HINT: &str = "to start over, hold the button for more than 10 s \
     (factory reset, BTN-03; with `run --rig`: `smart-connect-sim rig button down`, 11 s later \
     `rig button up`) or restart the simulator with `run --factory-reset`";

/// Why the device does not serve, for the simulator's 503 answer (a real device would not
/// answer at all): see `Host::not_serving`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotServing {
    /// In words: off, booting, or no address with the network problem and the way out.
    pub detail: String,
    /// The status document's `Network` member while the device runs (with `Problem`).
    pub network: Option<serde_json::Value>,
}

/// What the network-facing adapters serve, replaced as a whole on every change.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub values: MeterValues,
    pub template: Template,
    /// Running with an address: Modbus, HTTP and MQTT answer.
    pub serving: bool,
    /// Bumped at every (re)boot and power loss: adapters drop their connections.
    pub generation: u64,
}

/// Something between the host and its device that changes what goes in and what comes
/// out (the faulty firmware of the `defects` feature). What the layer shows (register values,
/// LED, status) is what the adapters serve.
pub trait DeviceLayer: Send {
    /// Feed `event` at `now` to `device` (or not, or another one); the effects to carry out.
    fn handle(&mut self, device: &mut Device, event: Event, now: Instant) -> Vec<Effect>;
    /// The register values served.
    fn values(&self, device: &Device) -> MeterValues;
    /// The LED as it shows.
    fn led<'a>(&'a self, device: &'a Device) -> &'a LedTimeline;
    /// The status document at `now`.
    fn status(&self, device: &Device, now: Instant) -> Status;
}

/// The device and the layer around it, if any.
struct Machine {
    device: Device,
    layer: Option<Box<dyn DeviceLayer>>,
}

impl Machine {
    fn new(hw: DeviceConfig, stored: Config) -> Self {
        #[cfg(feature = "defects")]
        let (hw, layer) = crate::defects::layer_for(hw);
        #[cfg(not(feature = "defects"))]
        let layer = None;
        let device = Device::new(hw, stored);
        Machine { device, layer }
    }

    fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        match self.layer.as_mut() {
            Some(l) => l.handle(&mut self.device, event, now),
            None => self.device.handle(event, now),
        }
    }

    fn values(&self) -> MeterValues {
        match self.layer.as_ref() {
            Some(l) => l.values(&self.device),
            None => *self.device.values(),
        }
    }

    fn led(&self) -> &LedTimeline {
        match self.layer.as_ref() {
            Some(l) => l.led(&self.device),
            None => self.device.led(),
        }
    }

    fn status(&self, now: Instant) -> Status {
        match self.layer.as_ref() {
            Some(l) => l.status(&self.device, now),
            None => self.device.status(now),
        }
    }
}

struct Inner {
    machine: Machine,
    store: Option<Box<dyn ConfigStore>>,
    p1_ext: Vec<u8>,
    store_error: Option<String>,
    /// What the store holds (what a restart would load).
    saved: Config,
    report: ConfigReport,
}

/// The `Config` member of the status document: what happened to the stored settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReport {
    /// The file a corrupt configuration was moved to at start (`config.json.corrupt-…`);
    /// the device then runs on factory settings.
    pub recovered: Option<String>,
    /// Why that file could not be used (the JSON error or the invalid field).
    pub recovered_reason: Option<String>,
    /// The last failed save (file and OS error); cleared by the next successful save.
    pub save_error: Option<String>,
}

/// A save that failed: nothing changed (the device keeps its old settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveFailure {
    /// The file that could not be written (e.g. `…/config.json.tmp`).
    pub file: String,
    /// The OS error.
    pub error: String,
}

impl std::fmt::Display for SaveFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot save the configuration to {}: {}",
            self.file, self.error
        )
    }
}

impl SaveFailure {
    fn of(e: &StoreError) -> Self {
        SaveFailure {
            file: e
                .path()
                .map_or_else(|| "config.json".into(), |p| p.display().to_string()),
            error: e.cause(),
        }
    }
}

/// The host of one device.
pub struct Host {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    served: RwLock<Arc<Served>>,
    time: watch::Sender<Millis>,
    measurements: broadcast::Sender<Arc<Reading>>,
    effects: broadcast::Sender<Arc<Effect>>,
    /// The device's real-time clock minus simulation time (a wrong clock, MQ-06).
    rtc_offset: std::sync::atomic::AtomicI64,
    /// The HTTP API's one user session (`device::session`, API-02/08), shared by every HTTP
    /// server of this host (`adapters::http::session`).
    pub(crate) http_session: Mutex<crate::device::session::Session>,
    /// The HTTP API's wrong-password table (`device::login_throttle`), shared the same way
    /// (`adapters::http::throttle`).
    pub(crate) http_throttle: Mutex<crate::device::login_throttle::LoginThrottle>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("served", &self.served())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host for a device of `hw` whose stored settings come from `store` (factory
    /// settings when it is empty; an unreadable store is reported by `store_error`).
    pub fn new(
        hw: DeviceConfig,
        mut store: Option<Box<dyn ConfigStore>>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let mut store_error = None;
        let mut report = ConfigReport::default();
        let stored = match store.as_mut() {
            Some(s) => load_or_recover(s.as_mut(), &mut report, &mut store_error, clock.now()),
            None => Config::default(),
        };
        let machine = Machine::new(hw, stored.clone());
        let served = Served {
            values: machine.values(),
            template: Template::PhoenixContactEmpro,
            serving: false,
            generation: 0,
        };
        let now = clock.now();
        Arc::new(Host {
            inner: Mutex::new(Inner {
                machine,
                store,
                p1_ext: Vec::new(),
                store_error,
                saved: stored,
                report,
            }),
            served: RwLock::new(Arc::new(served)),
            time: watch::Sender::new(now),
            clock,
            measurements: broadcast::channel(256).0,
            effects: broadcast::channel(1024).0,
            rtc_offset: std::sync::atomic::AtomicI64::new(0),
            http_session: Mutex::default(),
            http_throttle: Mutex::default(),
        })
    }

    /// A device of `hw` on a virtual clock starting at `start`, powered by USB-C on the
    /// default DHCP LAN and booted until it serves (for tests, benches and examples).
    pub fn running_virtual(
        hw: DeviceConfig,
        start: Millis,
    ) -> (Arc<Self>, crate::sim::clock::VirtualClock) {
        let clock = crate::sim::clock::VirtualClock::new(start);
        let host = Host::new(hw, None, Arc::new(clock.clone()));
        host.handle(Event::Power(crate::device::power::PowerInputs {
            usb: true,
            p1_supply: false,
        }));
        while !host.served().serving {
            let t = host.next_deadline().unwrap_or(clock.now() + 100);
            clock.advance_to(t);
            host.handle(Event::Tick);
            assert!(
                clock.now() - start < 60_000,
                "the device did not come up within a minute"
            );
        }
        (host, clock)
    }

    /// The host's clock.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The device's own real-time clock: what it believes the date is (TLS validity checks,
    /// timestamps of telegrams without a time). Equal to `now()` unless set otherwise.
    pub fn device_time(&self) -> Millis {
        self.clock.now() + self.rtc_offset.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Set the device's real-time clock to `t` (a bench rig's "set the device clock"); time
    /// keeps running from there. Simulation time is not affected.
    pub fn set_device_time(&self, t: Millis) {
        self.rtc_offset
            .store(t - self.clock.now(), std::sync::atomic::Ordering::SeqCst);
    }

    /// What the adapters serve right now.
    pub fn served(&self) -> Arc<Served> {
        self.served
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Device time as it advances (adapters use it for their own timeouts, e.g. MB-10).
    pub fn time(&self) -> watch::Receiver<Millis> {
        self.time.subscribe()
    }

    /// One message per valid telegram (MQ-08).
    pub fn measurements(&self) -> broadcast::Receiver<Arc<Reading>> {
        self.measurements.subscribe()
    }

    /// Every effect, for logging and tests of the simulator.
    pub fn effects(&self) -> broadcast::Receiver<Arc<Effect>> {
        self.effects.subscribe()
    }

    /// Feed an event at the clock's current time; returns the effects after carrying them out.
    /// A failed save is logged, reported in the status and undone (see `handle_saving`).
    pub fn handle(&self, event: Event) -> Vec<Effect> {
        self.handle_saving(event).0
    }

    /// `handle`, also returning a failed save of the configuration: the device then keeps
    /// the settings the store holds (the effects still show what the device tried, e.g. a
    /// `Reply::Config(Ok(..))` that did not stick).
    pub fn handle_saving(&self, event: Event) -> (Vec<Effect>, Option<SaveFailure>) {
        // The clock is read under the lock: callers racing for it hand the device their
        // times in the order they get it, so device time never goes backwards.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        let fx = inner.machine.handle(event, Instant::from_epoch_ms(now));
        let failed = self.carry_out(&mut inner, &fx, now);
        // Published under the lock too, so the watch never steps back either.
        self.time.send_replace(now);
        drop(inner);
        (fx, failed)
    }

    /// The status document (`Device::status`) with the `Config` member (`ConfigReport` plus
    /// `Pending`: the settings saved but not in force until a restart, `Config::pending_against`):
    /// what `GET /api/v1/status` answers.
    pub fn status_json(&self) -> serde_json::Value {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::from_epoch_ms(self.clock.now());
        let mut v = serde_json::to_value(inner.machine.status(now)).unwrap_or_default();
        let mut report = serde_json::to_value(&inner.report).unwrap_or_default();
        if let Some(r) = report.as_object_mut() {
            let d = &inner.machine.device;
            let pending = d.config().pending_against(d.active_config());
            r.insert("Pending".into(), serde_json::json!(pending));
        }
        if let Some(m) = v.as_object_mut() {
            m.insert("Config".into(), report);
        }
        v
    }

    /// Why the device does not serve right now (meaningful while `served().serving` is false).
    pub fn not_serving(&self) -> NotServing {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::from_epoch_ms(self.clock.now());
        let d = &inner.machine.device;
        let problem = d
            .network()
            .and_then(crate::device::network::Network::problem);
        let detail = match problem {
            _ if !d.powered() => {
                "the device is off (no power); try again once it is powered".into()
            }
            _ if !d.running() => "the device is booting; try again shortly".into(),
            Some(p) if d.active_config().is_factory() => format!(
                "the device has no network address: {p}. In factory settings, holding the \
                 button for 5 s starts its access point (NET-07, BTN-02)"
            ),
            Some(p) => format!(
                "the device has no network address: {p}. It keeps trying with these settings; \
                 {FACTORY_RESET_HINT}"
            ),
            None => "the device has no network address yet (it is asking for one); try again \
                     shortly"
                .into(),
        };
        NotServing {
            detail,
            network: d
                .running()
                .then(|| serde_json::to_value(inner.machine.status(now).network).ok())
                .flatten(),
        }
    }

    /// What happened to the stored settings (recovery at start, last failed save).
    pub fn config_report(&self) -> ConfigReport {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .report
            .clone()
    }

    /// Run `f` with the device (read-only questions: status, config, firmware, LED).
    pub fn with_device<R>(&self, f: impl FnOnce(&Device) -> R) -> R {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&inner.machine.device)
    }

    /// The LED's colour at `t`, as it shows (through the device layer, if any).
    pub fn led_colour_at(&self, t: Millis) -> crate::device::led::Color {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.machine.led().colour_at(Instant::from_epoch_ms(t))
    }

    /// Change the device's surroundings that are not events (e.g. images on the update
    /// server); nothing is served differently until the next event.
    pub fn with_device_mut<R>(&self, f: impl FnOnce(&mut Device) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner.machine.device)
    }

    /// When the device next needs a tick.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.with_device(Device::next_deadline)
            .map(Instant::epoch_ms)
    }

    /// Bytes written to the P1 ext output since the last call.
    pub fn take_p1_ext(&self) -> Vec<u8> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut inner.p1_ext)
    }

    /// Replace the device by a factory-new, unpowered one of `hw` (a bench rig's "fresh
    /// device" between conformance scenarios): factory settings saved to the store, the P1
    /// ext output and the device clock offset cleared, every connection dropped.
    pub fn factory_fresh(&self, hw: DeviceConfig) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.machine = Machine::new(hw, Config::default());
        inner.p1_ext.clear();
        inner.store_error = match inner.store.as_mut() {
            Some(store) => store.save(&Config::default()).err().map(|e| e.to_string()),
            None => None,
        };
        if inner.store_error.is_none() {
            inner.saved = Config::default();
        }
        inner.report = ConfigReport {
            save_error: inner.store_error.clone(),
            ..ConfigReport::default()
        };
        self.rtc_offset
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let now = self.clock.now();
        self.carry_out(&mut inner, &[Effect::PoweredOff], now);
        drop(inner);
        self.time.send_replace(now);
    }

    /// The last failure to read or write the config store, if any.
    pub fn store_error(&self) -> Option<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .store_error
            .clone()
    }

    /// Carry out `fx`, made by the device at `now_ms` (the time of any answer it gets).
    fn carry_out(&self, inner: &mut Inner, fx: &[Effect], now_ms: Millis) -> Option<SaveFailure> {
        let mut failed = None;
        let mut changed = false;
        let mut reboot = false;
        for e in fx {
            match e {
                Effect::P1ExtOut(bytes) => {
                    // A real P1 ext port is a wire: bytes nobody reads are gone. Keep a bounded tail.
                    inner.p1_ext.extend_from_slice(bytes);
                    let excess = inner.p1_ext.len().saturating_sub(1 << 20);
                    inner.p1_ext.drain(..excess);
                }
                Effect::PersistConfig(c) => {
                    if let Some(store) = inner.store.as_mut() {
                        match store.save(c) {
                            Ok(()) => {
                                inner.saved = (**c).clone();
                                inner.store_error = None;
                                inner.report.save_error = None;
                            }
                            Err(e) => {
                                let f = SaveFailure::of(&e);
                                tracing::error!("config: {f}; the settings stay as they were");
                                inner.store_error = Some(e.to_string());
                                inner.report.save_error = Some(f.to_string());
                                let saved = inner.saved.clone();
                                inner.machine.device.restore_stored(saved);
                                failed = Some(f);
                            }
                        }
                    }
                }
                Effect::LoadConfig => {
                    // RAM is gone at a boot: the device reads what the store holds now.
                    let Some(store) = inner.store.as_mut() else {
                        continue;
                    };
                    let (report, error) = (&mut inner.report, &mut inner.store_error);
                    let c = load_or_recover(store.as_mut(), report, error, now_ms);
                    inner.saved = c.clone();
                    let now = Instant::from_epoch_ms(now_ms);
                    let more = inner.machine.handle(Event::ConfigLoaded(Box::new(c)), now);
                    debug_assert!(
                        !more.iter().any(|e| matches!(e, Effect::LoadConfig)),
                        "loading the configuration asks for it again"
                    );
                    failed = failed.or(self.carry_out(inner, &more, now_ms));
                }
                Effect::Measurement(r) => {
                    let _ = self.measurements.send(Arc::new((**r).clone()));
                }
                Effect::RegistersChanged(_) | Effect::Led(_) | Effect::MeterStateChanged(_) => {
                    changed = true
                }
                Effect::PoweredOff => {
                    if let Some(store) = inner.store.as_mut() {
                        store.power_lost();
                    }
                    reboot = true;
                }
                Effect::Rebooted => reboot = true,
                _ => {}
            }
        }
        let d = &inner.machine.device;
        let old = self.served();
        let serving = d.serving();
        if changed || reboot || serving != old.serving {
            let next = Served {
                values: inner.machine.values(),
                template: d
                    .active_config()
                    .template()
                    .unwrap_or(Template::PhoenixContactEmpro),
                serving,
                generation: old.generation + u64::from(reboot),
            };
            if next != *old {
                *self.served.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
            }
        }
        // After the snapshot: whoever sees an effect (a P1 ext reader, the console) finds the
        // registers already showing it.
        if self.effects.receiver_count() > 0 {
            for e in fx {
                let _ = self.effects.send(Arc::new(e.clone()));
            }
        }
        failed
    }
}

/// What the store holds, for a boot: factory settings when it holds nothing; an unreadable
/// store is reported (`store_error`, and `report` for a corrupt file, which is moved aside
/// so the next save cannot destroy it) and gives factory settings too.
fn load_or_recover(
    store: &mut dyn ConfigStore,
    report: &mut ConfigReport,
    store_error: &mut Option<String>,
    now_ms: Millis,
) -> Config {
    match store.load() {
        Ok(Some(c)) => c,
        Ok(None) => Config::default(),
        Err(e) => {
            *store_error = Some(e.to_string());
            if e.is_corrupt() {
                report.recovered_reason = Some(e.cause());
                match store.quarantine(&file_stamp(now_ms)) {
                    Ok(name) => {
                        tracing::warn!(
                            "config: {e}; kept as {}, running on factory settings",
                            name.as_deref().unwrap_or("?")
                        );
                        report.recovered = name;
                    }
                    Err(q) => tracing::error!(
                        "config: {e}; could not move it aside ({q}), running on factory settings"
                    ),
                }
            } else {
                tracing::error!("config: {e}; running on factory settings");
            }
            Config::default()
        }
    }
}
