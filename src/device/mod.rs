//! The virtual Smart Connect as a pure state machine: `Device::handle(event, now)` returns
//! effects. No sockets, no wall clock, no tokio: adapters put the effects on real I/O.
//! Sub-machines live in their own files; `lifecycle.rs` ties them together (power, boot,
//! reboot, the LED rule) and this file holds the types and the public surface.

// Values from the wire (telegram, TIC, Modbus, MQTT/HTTP fields) must never overflow into a
// panic (debug) or a silent wrap (release): every arithmetic is checked or saturating, with the
// outcome chosen where it happens. Test modules opt out with `#[allow]`.
#![deny(clippy::arithmetic_side_effects)]

pub mod button;
pub mod config;
pub mod firmware;
pub mod identity;
pub mod led;
mod lifecycle;
pub mod login_throttle;
pub use lifecycle::net_settings;
pub mod measurement;
pub mod meter;
pub mod modbus_slot;
pub mod mqtt_link;
pub mod network;
pub mod power;
pub mod registers;
pub mod session;
pub mod status;
pub mod store;

use crate::protocol::{ParseError, Reading};
use crate::time::{Duration, Instant};
use button::Button;
use config::{Config, ConfigErrors};
use firmware::{Firmware, FirmwareImage, UpdateRefused};
use identity::Identity;
use led::{LedPattern, LedTimeline};
use meter::{MeterInput, MeterParams, MeterState, MeterStatus};
use network::{Lan, Network};
use power::PowerInputs;
use registers::{Exception, MeterValues, Template};
use serde::Serialize;
use status::MqttLink;

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

/// Time from power-on to the end of the red "booting" light (LED-02).
pub const BOOT_MS: Duration = Duration::from_ms(3_000);
/// The factory firmware version of simulated devices.
pub const FACTORY_FIRMWARE: &str = "1.4.2";

/// The hardware and its surroundings: what does not change with the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    pub variant: Variant,
    pub identity: Identity,
    pub firmware_version: String,
    /// Images the update server offers (FW-01/02); by default `firmware::default_images()`.
    pub firmware_images: Vec<FirmwareImage>,
    /// The network around the device at power-on.
    pub lan: Lan,
    /// What the meter input accepts (oldest DSMR version, TIC historic mode, DSMR 4.x
    /// silence timeout); the manual's rules by default.
    pub meter: MeterParams,
    /// Fall back to a link-local address when DHCP gets no answer (NET-02); `true` by
    /// default, `false` for a firmware that retries DHCP forever.
    pub link_local_fallback: bool,
    /// Check firmware images against their signature before installing (FW-02); `true` by
    /// default, `false` for a development board that installs any image.
    pub firmware_signature_check: bool,
    /// A 5 s press starts the access point only in factory settings (BTN-02); `true` by
    /// default, `false` for a firmware that starts it whatever the settings.
    pub access_point_factory_only: bool,
    /// Planted firmware bugs (`run --defect`, the `defects` feature): the host puts the
    /// faulty-firmware layer of `crate::defects` around the device. Empty: a correct device.
    #[cfg(feature = "defects")]
    pub defects: crate::defects::Defects,
}

impl DeviceConfig {
    /// A device of `variant` with the identity of seed 0, factory firmware, an update server
    /// offering the factory firmware's successors, a DHCP LAN.
    pub fn new(variant: Variant) -> Self {
        DeviceConfig {
            variant,
            identity: Identity::from_seed(0),
            firmware_version: FACTORY_FIRMWARE.into(),
            firmware_images: firmware::default_images(),
            lan: Lan::default(),
            meter: MeterParams::default(),
            link_local_fallback: true,
            firmware_signature_check: true,
            access_point_factory_only: true,
            #[cfg(feature = "defects")]
            defects: crate::defects::Defects::new(),
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
    /// The power inputs changed (USB-C plugged, meter supplying P1 power).
    Power(PowerInputs),
    ButtonDown,
    ButtonUp,
    /// The network around the device changed.
    Lan(Lan),
    /// `PATCH /api/v1/config` (merge-patch); answered with `Reply::Config`.
    PatchConfig(serde_json::Value),
    /// `POST /api/v1/reset`, or a soft reset by MQTT command.
    SoftReset,
    /// `POST /api/v1/firmware` or the MQTT firmware command; answered with `Reply::Firmware`.
    FirmwareUpdate {
        version: String,
    },
    /// What the MQTT client reports about its connection.
    Mqtt(MqttLink),
    /// The store's answer to `Effect::LoadConfig`: the configuration it holds (factory
    /// settings when it holds none or an unreadable one). Taken while booting; ignored
    /// otherwise (the running device's settings come only from itself).
    ConfigLoaded(Box<Config>),
}

/// The answer to a request event.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The new configuration, or every refused field (nothing changed).
    Config(Result<Box<Config>, ConfigErrors>),
    Firmware(Result<(), UpdateRefused>),
    /// The device is not running (off or booting) and cannot take requests.
    NotRunning,
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
    TelegramRejected(ParseError),
    /// The LED shows a new pattern from now on.
    Led(LedPattern),
    /// The network's problem changed (`Network::problem`): a new one arose, or (`None`) the
    /// last one is gone. Not repeated while it stays the same; a boot starts afresh.
    NetworkProblem(Option<String>),
    /// Write this configuration to the store (atomically).
    PersistConfig(Box<Config>),
    /// Read the configuration from the store (at every boot: RAM is gone); answered with
    /// `Event::ConfigLoaded`. Without an answer the device boots on its last copy.
    LoadConfig,
    /// The device (re)started its software: connections drop, settings are re-read.
    Rebooted,
    /// Power went away: nothing is served any more.
    PoweredOff,
    Reply(Reply),
}

/// Where the device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Off,
    Booting { until: Instant },
    Initialising { until: Instant },
    Running,
}

/// The device.
#[derive(Debug)]
pub struct Device {
    hw: DeviceConfig,
    /// The configuration in the store.
    stored: Config,
    /// The configuration applied at the last boot (network, MQTT and template settings).
    active: Config,
    template: Template,
    power: PowerInputs,
    phase: Phase,
    booted_at: Instant,
    meter: MeterInput,
    network: Option<Network>,
    lan: Lan,
    button: Button,
    firmware: Firmware,
    led: LedTimeline,
    /// The network problem last reported (`Effect::NetworkProblem`).
    net_problem: Option<String>,
    mqtt: MqttLink,
    scratch: Vec<meter::MeterEffect>,
    /// The latest `now` handed to `handle` (device time only moves forward).
    last_now_ms: Instant,
}

impl Device {
    /// An unpowered device with `stored` as the configuration in its store.
    pub fn new(hw: DeviceConfig, stored: Config) -> Self {
        let template = stored.template().unwrap_or(Template::PhoenixContactEmpro);
        Device {
            meter: MeterInput::with_params(hw.variant, hw.meter),
            firmware: Firmware::new(hw.firmware_version.clone(), hw.firmware_images.clone())
                .with_signature_check(hw.firmware_signature_check),
            lan: hw.lan.clone(),
            hw,
            active: stored.clone(),
            stored,
            template,
            power: PowerInputs::default(),
            phase: Phase::Off,
            booted_at: Instant::EPOCH,
            network: None,
            button: Button::default(),
            led: LedTimeline::default(),
            net_problem: None,
            mqtt: MqttLink::default(),
            scratch: Vec::new(),
            last_now_ms: Instant::MIN,
        }
    }

    pub fn hardware(&self) -> &DeviceConfig {
        &self.hw
    }

    pub fn variant(&self) -> Variant {
        self.hw.variant
    }

    pub fn identity(&self) -> &Identity {
        &self.hw.identity
    }

    /// The configuration as stored (what `GET /api/v1/config` returns).
    pub fn config(&self) -> &Config {
        &self.stored
    }

    /// Set the stored settings to `c` without saving them: after a failed save, what the
    /// store holds (so what a restart loads). The settings in force (`active_config`) are
    /// not touched.
    pub fn restore_stored(&mut self, c: Config) {
        self.stored = c;
    }

    /// The configuration in force since the last boot.
    pub fn active_config(&self) -> &Config {
        &self.active
    }

    /// The earliest time at which a `Tick` may change something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.internal_deadline()
    }

    /// The current register values.
    pub fn values(&self) -> &MeterValues {
        self.meter.values()
    }

    /// Running, with an address: Modbus, HTTP and MQTT are served. The access point's own
    /// address counts: in AP mode a phone on `SC-<serial>` reaches the web interface even when
    /// the device has no client address (NET-07).
    pub fn serving(&self) -> bool {
        self.phase == Phase::Running
            && self
                .network
                .as_ref()
                .is_some_and(|n| !n.addresses().is_empty())
    }

    /// Running (booted), with or without an address.
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    pub fn powered(&self) -> bool {
        self.phase != Phase::Off
    }

    /// Answer a Modbus read from the current snapshot.
    pub fn read_registers(&self, fc: u8, addr: u16, qty: u16) -> Result<Vec<u16>, Exception> {
        self.template.read(self.meter.values(), fc, addr, qty)
    }

    pub fn meter_status(&self) -> &MeterStatus {
        self.meter.status()
    }

    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    pub fn firmware(&self) -> &Firmware {
        &self.firmware
    }

    /// The update server offers `image` from now on (the surroundings, like the LAN; FW-01/02).
    pub fn offer_firmware(&mut self, image: FirmwareImage) {
        firmware::offer(&mut self.hw.firmware_images, image.clone());
        self.firmware.offer_image(image);
    }

    /// Every LED pattern change since the device was built.
    pub fn led(&self) -> &LedTimeline {
        &self.led
    }

    /// The status document at `now` (API-06).
    pub fn status(&self, now: Instant) -> status::Status {
        self.build_status(now)
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod wire_limits_tests;

impl Device {
    /// Tick through boot and initialisation; returns the instant the device runs (≥ `now`).
    pub fn run_until_running(&mut self, mut now: Instant) -> Instant {
        while self.powered() && !self.running() {
            match self.next_deadline() {
                Some(t) => {
                    now = now.max(t);
                    self.handle(Event::Tick, now);
                }
                None => break,
            }
        }
        now
    }
}
