//! How the device's sub-machines work together: events and time in, effects out. Power-on
//! boots (red) then initialises (colour cycle) then runs; a soft reset, factory reset or
//! firmware update reboots with the stored settings; the LED follows the state at every
//! instant it changes.

use super::button::ButtonAction;
use super::config::{apply_patch, Config, IpMode as CfgIpMode, NetIf, StaticIpv4};
use super::led::{LedPattern, INIT_CYCLE_MS};
use super::meter::{MeterEffect, MeterInput, MeterState};
use super::network::{Interface, NetSettings, Network, StaticIp};
use super::power::PowerInputs;
use super::registers::Template;
use super::status::{LedReport, MeterReport, MqttReport, NetworkReport, Status, SystemStatus};
use super::{Device, Effect, Event, Phase, Reply, BOOT_MS};
use crate::protocol::Telegram;
use crate::time::Instant;
use std::net::Ipv4Addr;

impl Device {
    /// Feed one event at device time `now`; returns what the device does.
    /// Device time never goes backwards: an earlier `now` than the last one is a caller's
    /// bug (asserted in debug builds) and is taken as the last one.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.handle_into(event, now, &mut fx);
        fx
    }

    /// [`Device::handle`] appending its effects to `fx` (a caller's reused buffer).
    pub fn handle_into(&mut self, event: Event, now: Instant, fx: &mut Vec<Effect>) {
        let now = self.begin(now, fx);
        match event {
            Event::Tick => {}
            Event::SerialBytes(bytes) => self.serial(bytes, now, fx),
            Event::Power(p) => {
                let was = self.powered();
                self.power = p;
                match (was, self.powered_by(p)) {
                    (false, true) => self.boot(now, fx),
                    (true, false) => self.power_off(fx),
                    _ => {}
                }
            }
            Event::ButtonDown => {
                if self.powered() {
                    self.button.down(now);
                }
            }
            Event::ButtonUp => {
                let factory = self.stored.is_factory() || !self.hw.access_point_factory_only;
                match self.button.up(now, factory).filter(|_| self.running()) {
                    Some(ButtonAction::SoftReset) => self.reboot(now, fx),
                    Some(ButtonAction::AccessPoint) => {
                        let ssid = self.hw.identity.ap_ssid();
                        if let Some(n) = self.network.as_mut() {
                            n.start_access_point(ssid);
                        }
                    }
                    Some(ButtonAction::FactoryReset) => {
                        self.stored = Config::default();
                        self.persist(fx);
                        self.reboot(now, fx);
                    }
                    Some(ButtonAction::Nothing) | None => {}
                }
            }
            Event::ConfigLoaded(c) => self.config_loaded(*c),
            Event::Lan(lan) => {
                self.lan = lan.clone();
                if let Some(n) = self.network.as_mut() {
                    n.set_lan(lan, now);
                }
            }
            Event::PatchConfig(patch) => {
                let reply = if !self.running() {
                    Reply::NotRunning
                } else {
                    let res = apply_patch(&self.stored, &patch);
                    if let Ok(c) = &res {
                        self.stored = c.clone();
                        self.persist(fx);
                    }
                    Reply::Config(res.map(Box::new))
                };
                fx.push(Effect::Reply(reply));
            }
            Event::SoftReset => {
                if self.running() {
                    self.reboot(now, fx);
                }
            }
            Event::FirmwareUpdate { version } => {
                let reply = if self.running() {
                    Reply::Firmware(self.firmware.start(&version, now))
                } else {
                    Reply::NotRunning
                };
                fx.push(Effect::Reply(reply));
            }
            Event::Mqtt(link) => self.mqtt = link,
        }
        self.finish(now, fx);
    }

    /// The device path after the parser: one telegram the framer and parser already produced
    /// from bytes received at `now`, through the acceptance rules, the register snapshot, the
    /// meter state, LED and timers, its effects appended to `fx` — exactly what
    /// `Event::SerialBytes` does with each parsed frame (both go through
    /// `MeterInput::on_parsed`), without the framer, the parser and the P1 ext copy of the
    /// bytes. For the instruction-count bench (`benches/instructions.rs`) and the simulator
    /// pipeline that already holds a parsed telegram.
    #[doc(hidden)]
    pub fn handle_telegram_into(&mut self, t: Telegram, now: Instant, fx: &mut Vec<Effect>) {
        let now = self.begin(now, fx);
        if self.meter_listening() {
            let mut m = std::mem::take(&mut self.scratch);
            self.meter.on_telegram(t, now, &mut m);
            self.meter_effects(&mut m, fx);
            self.scratch = m;
        }
        self.finish(now, fx);
    }

    /// Every event's start: device time moves forward to `now` (returned), running the
    /// internal transitions due on the way.
    fn begin(&mut self, now: Instant, fx: &mut Vec<Effect>) -> Instant {
        debug_assert!(
            now >= self.last_now_ms,
            "device time went backwards: {now} ms after {} ms",
            self.last_now_ms
        );
        let now = now.max(self.last_now_ms);
        self.last_now_ms = now;
        self.advance(now, fx);
        now
    }

    /// Every event's end: the LED and the network problem follow the new state.
    fn finish(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        self.update_led(now, fx);
        self.update_problem(fx);
        debug_assert!(
            self.internal_deadline().is_none_or(|d| d >= now),
            "the device left a transition due in the past: {:?} < {now}",
            self.internal_deadline()
        );
    }

    /// The earliest instant at which something changes by itself.
    pub(super) fn internal_deadline(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Booting { until } | Phase::Initialising { until } => Some(until),
            _ => None,
        };
        let running = self.phase == Phase::Running;
        // Deadlines saturate at `Instant::MAX`: one that would fall after the end of device
        // time never comes (else `advance` would step at `Instant::MAX` forever).
        [
            phase,
            self.network.as_ref().and_then(Network::deadline),
            self.meter_listening()
                .then(|| self.meter.deadline())
                .flatten(),
            running.then(|| self.firmware.deadline()).flatten(),
        ]
        .into_iter()
        .flatten()
        .filter(|&t| t < Instant::MAX)
        .min()
    }

    /// Run every internal transition due up to `now`, each at its own instant.
    fn advance(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        while let Some(t) = self.internal_deadline().filter(|&t| t <= now) {
            self.step(t, fx);
            self.update_led(t, fx);
            self.update_problem(fx);
            // Each step moves its own deadline on, or the loop would spin at `t` for ever.
            debug_assert!(
                self.internal_deadline().is_none_or(|d| d > t),
                "a step at {t} left its deadline at {:?}",
                self.internal_deadline()
            );
        }
    }

    fn step(&mut self, t: Instant, fx: &mut Vec<Effect>) {
        match self.phase {
            Phase::Booting { until } if t >= until => {
                self.phase = Phase::Initialising {
                    until: until.saturating_add(INIT_CYCLE_MS),
                };
                let settings = net_settings(&self.active);
                let mut network =
                    Network::start(settings, self.lan.clone(), self.hw.identity.mac, t);
                network.set_link_local_fallback(self.hw.link_local_fallback);
                self.network = Some(network);
            }
            Phase::Initialising { until } if t >= until => self.phase = Phase::Running,
            _ => {}
        }
        if let Some(n) = self.network.as_mut() {
            n.tick(t);
        }
        if self.meter_listening() {
            let mut m = std::mem::take(&mut self.scratch);
            self.meter.on_tick(t, &mut m);
            self.meter_effects(&mut m, fx);
            self.scratch = m;
        }
        if self.phase == Phase::Running && self.firmware.tick(t) {
            self.reboot(t, fx);
        }
    }

    /// The meter input listens from the end of the red boot phase: telegrams that arrive
    /// while the colours cycle count, so the LED can end the cycle in green (LED-09).
    fn meter_listening(&self) -> bool {
        matches!(self.phase, Phase::Initialising { .. } | Phase::Running)
    }

    fn serial(&mut self, bytes: Vec<u8>, now: Instant, fx: &mut Vec<Effect>) {
        if self.meter_listening() {
            let mut m = std::mem::take(&mut self.scratch);
            self.meter.on_bytes(&bytes, now, &mut m);
            self.meter_effects(&mut m, fx);
            self.scratch = m;
        }
        if self.power.p1_ext_powered(self.hw.variant) {
            fx.push(Effect::P1ExtOut(bytes));
        }
    }

    /// Whether these power inputs run the device.
    fn powered_by(&self, p: PowerInputs) -> bool {
        p.powers(self.hw.variant)
    }

    /// Write the stored settings to flash.
    fn persist(&mut self, fx: &mut Vec<Effect>) {
        fx.push(Effect::PersistConfig(Box::new(self.stored.clone())));
    }

    fn meter_effects(&mut self, m: &mut Vec<MeterEffect>, fx: &mut Vec<Effect>) {
        for e in m.drain(..) {
            match e {
                MeterEffect::Accepted(values, reading) => {
                    fx.push(Effect::RegistersChanged(values));
                    fx.push(Effect::Measurement(reading));
                }
                MeterEffect::Rejected(e) => fx.push(Effect::TelegramRejected(e)),
                MeterEffect::StateChanged(s) => fx.push(Effect::MeterStateChanged(s)),
            }
        }
    }

    /// Power-on or reboot: RAM is cleared, the stored settings are applied.
    fn boot(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        self.phase = Phase::Booting {
            // Device time saturates at `Instant::MAX` (the end of time), never wraps.
            until: now.saturating_add(BOOT_MS),
        };
        self.booted_at = now;
        // A new boot reports its network problem afresh (the old one went with the network).
        self.net_problem = None;
        self.meter = MeterInput::with_params(self.hw.variant, self.hw.meter);
        self.network = None;
        self.active = self.stored.clone();
        self.template = self
            .active
            .template()
            .unwrap_or(Template::PhoenixContactEmpro);
        self.firmware.rebooted();
        fx.push(Effect::Rebooted);
        fx.push(Effect::LoadConfig);
        fx.push(Effect::RegistersChanged(*self.meter.values()));
    }

    /// The store's configuration arrived (`Effect::LoadConfig`): while booting it becomes
    /// the stored and the active settings; at any other time it is stale and ignored.
    fn config_loaded(&mut self, c: Config) {
        if !matches!(self.phase, Phase::Booting { .. }) {
            return;
        }
        self.template = c.template().unwrap_or(Template::PhoenixContactEmpro);
        self.active = c.clone();
        self.stored = c;
    }

    fn reboot(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        self.button.reset();
        self.boot(now, fx);
    }

    fn power_off(&mut self, fx: &mut Vec<Effect>) {
        self.phase = Phase::Off;
        self.meter = MeterInput::with_params(self.hw.variant, self.hw.meter);
        self.network = None;
        self.net_problem = None;
        self.button.reset();
        self.firmware.power_lost();
        self.mqtt = Default::default();
        fx.push(Effect::PoweredOff);
    }

    /// The pattern the LED must show now.
    pub(super) fn led_pattern(&self) -> LedPattern {
        match self.phase {
            Phase::Off => LedPattern::Off,
            Phase::Booting { .. } => LedPattern::Booting,
            Phase::Initialising { .. } => LedPattern::Initialising,
            Phase::Running => {
                let net = self.network.as_ref();
                LedPattern::for_state(
                    net.is_some_and(|n| n.access_point().is_some()),
                    self.meter.status().state == MeterState::Receiving,
                    net.is_some_and(Network::has_ip),
                )
            }
        }
    }

    fn update_led(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let p = self.led_pattern();
        if self.led.pattern_at(now) != p || self.led.changes().is_empty() {
            self.led.set(now, p);
            fx.push(Effect::Led(p));
        }
    }

    /// Report the network's problem when it changes (once when it arises, once when gone).
    fn update_problem(&mut self, fx: &mut Vec<Effect>) {
        let Some(n) = self.network.as_ref() else {
            return;
        };
        let p = n.problem();
        if p != self.net_problem {
            self.net_problem.clone_from(&p);
            fx.push(Effect::NetworkProblem(p));
        }
    }

    pub(super) fn build_status(&self, now: Instant) -> Status {
        let id = &self.hw.identity;
        let net = self.network.as_ref().map(Network::status);
        Status {
            system: SystemStatus {
                serial: id.serial.clone(),
                variant: self.hw.variant,
                firmware: self.firmware.version().to_string(),
                firmware_update: self.firmware.state().name().to_string(),
                firmware_error: self.firmware.last_error(),
                uptime_s: if self.powered() {
                    // Never negative, even for a `now` before the boot.
                    now.elapsed_since(self.booted_at).as_secs()
                } else {
                    0
                },
                hostname: id.hostname(),
            },
            meter: MeterReport::from(self.meter.status()),
            network: match &net {
                Some(n) => NetworkReport::from(n, self.mqtt.connected),
                None => NetworkReport::down(self.active.default_net_if == NetIf::WiFi),
            },
            mqtt: MqttReport {
                enabled: self.active.mqtt.enabled,
                connected: self.mqtt.connected,
                last_publish: self.mqtt.last_publish.map(Instant::epoch_secs),
                dropped: self.mqtt.dropped,
                error: self.mqtt.error.clone(),
            },
            led: LedReport {
                pattern: self.led_pattern(),
                colour: self.led.colour_at(now),
            },
        }
    }
}

/// The network settings a configuration asks for (validated configs only reach here).
pub fn net_settings(c: &Config) -> NetSettings {
    let (interface, mode, st) = match c.default_net_if {
        NetIf::Ethernet => (
            Interface::Ethernet,
            c.ethernet.ip_mode,
            &c.ethernet.static_ipv4,
        ),
        NetIf::WiFi => (Interface::WiFi, c.wifi.ip_mode, &c.wifi.static_ipv4),
    };
    NetSettings {
        interface,
        static_ip: (mode == CfgIpMode::Static).then(|| static_ip(st)).flatten(),
        wifi_ssid: c.wifi.ssid.clone(),
        wifi_password: c.wifi.password.clone(),
    }
}

fn static_ip(s: &StaticIpv4) -> Option<StaticIp> {
    let ip = |v: &str| v.parse::<Ipv4Addr>().ok();
    Some(StaticIp {
        address: ip(&s.ip_address)?,
        prefix: s.netmask.parse().unwrap_or(24),
        gateway: ip(&s.gateway),
        dns: ip(&s.dns),
    })
}
