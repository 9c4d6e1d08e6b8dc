//! The device under test (`dut`): what the conformance suite talks to. A `Target` is observed only through what a real
//! Smart Connect offers (Modbus, the HTTP API, the P1 ext output, the LED) and set up only
//! through what a bench rig can do (meter line, power, button, network, clock), so the same
//! scenario can judge the virtual device or real firmware.

pub mod api_client;
pub mod http_client;
mod mqtt_tap;
pub mod remote;
pub mod rig_client;
mod virtual_target;

pub use virtual_target::VirtualTarget;

use crate::device::identity::Identity;
use crate::device::led::Color;
use crate::device::network::Lan;
use crate::device::Variant;
use crate::sim::clock::Millis;
use async_trait::async_trait;
use serde_json::Value;

/// An installer's own MQTT broker the device can reach, with an account for the device
/// (MQ-07: username and password instead of mTLS).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnBroker {
    /// The broker URL to put in the device's `MQTT.Broker` setting.
    pub url: String,
    pub username: String,
    pub password: String,
}

/// A failure to talk to the target (not a verdict about its behaviour). A bench fault (the
/// meter line, a hook, the rig, the MQTT watch) carries [`BENCH_FAULT`] in front of its
/// message, so the suite reports the scenario as blocked, not as a device failure; `Debug`
/// prints the message alone, since step failures show it to a firmware engineer.
#[derive(thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// What a bench fault's message starts with.
pub const BENCH_FAULT: &str = "bench fault: ";

impl TargetError {
    /// The bench, not the device, failed: `what` says how.
    pub fn bench(what: impl Into<String>) -> TargetError {
        let what = what.into();
        if what.starts_with(BENCH_FAULT) {
            TargetError(what)
        } else {
            TargetError(format!("{BENCH_FAULT}{what}"))
        }
    }

    /// Whether the bench, not the device, failed.
    pub fn is_bench(&self) -> bool {
        self.0.starts_with(BENCH_FAULT)
    }
}

impl std::fmt::Debug for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Outcome of a Modbus read: the registers, or the exception code the device answered.
pub type ModbusReply = Result<Vec<u16>, u8>;

/// What a target offers and what its bench can do: the device's interfaces (a firmware may
/// lack some, e.g. no HTTP API) and the bench-rig abilities. A scenario needing one the
/// target lacks is skipped with the reason; each has a `@needs-…` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    /// Interface: the Modbus TCP server (`@needs-modbus`).
    pub modbus: bool,
    /// Interface: the HTTP API under `/api/v1` (config, firmware, reset) (`@needs-http`).
    pub http: bool,
    /// Interface: the web interface pages (`@needs-web`).
    pub web: bool,
    /// Interface: the status document `GET /api/v1/status` (`@needs-status`).
    pub status: bool,
    /// Switch USB-C power and the meter's P1 supply (`@needs-power`).
    pub power: bool,
    /// Press the button for a given time (`@needs-button`).
    pub button: bool,
    /// Read the LED colour (`@needs-led`).
    pub led: bool,
    /// Set the device clock (`@needs-clock`).
    pub clock: bool,
    /// Change the LAN: cable, DHCP server, Wi-Fi networks (`@needs-network`).
    pub network: bool,
    /// Make the MQTT broker unreachable and see which clients connected (`@needs-broker`).
    pub broker: bool,
    /// An installer's own broker with an account for the device (`@needs-own-broker`).
    pub own_broker: bool,
    /// Stage firmware images on an update server (`@needs-update-server`).
    pub update_server: bool,
    /// Read what comes out of the P1 ext output (`@needs-p1-ext`).
    pub p1_ext: bool,
    /// Watch the broker the device publishes to, and publish commands there (`@needs-mqtt`).
    pub mqtt: bool,
}

impl Capabilities {
    /// Everything a bench can do (the virtual target).
    pub const ALL: Capabilities = Capabilities {
        modbus: true,
        http: true,
        web: true,
        status: true,
        power: true,
        button: true,
        led: true,
        clock: true,
        network: true,
        broker: true,
        own_broker: true,
        update_server: true,
        p1_ext: true,
        mqtt: true,
    };

    /// Every ability by the name a target file's `capabilities:` gives it (`p1_ext`).
    pub fn fields_mut(&mut self) -> [(&'static str, &mut bool); 14] {
        [
            ("modbus", &mut self.modbus),
            ("http", &mut self.http),
            ("web", &mut self.web),
            ("status", &mut self.status),
            ("power", &mut self.power),
            ("button", &mut self.button),
            ("led", &mut self.led),
            ("clock", &mut self.clock),
            ("network", &mut self.network),
            ("broker", &mut self.broker),
            ("own_broker", &mut self.own_broker),
            ("update_server", &mut self.update_server),
            ("p1_ext", &mut self.p1_ext),
            ("mqtt", &mut self.mqtt),
        ]
    }

    /// Every ability by name, and whether this bench has it.
    pub fn fields(&self) -> [(&'static str, bool); 14] {
        let mut copy = *self;
        copy.fields_mut().map(|(name, has)| (name, *has))
    }

    /// Whether `name` (a field name, `p1_ext`) is one of the device's interfaces rather than
    /// a bench ability.
    pub fn is_interface(name: &str) -> bool {
        matches!(
            name,
            "modbus" | "http" | "web" | "status" | "mqtt" | "p1_ext"
        )
    }

    /// How a target file gives the target `name` (a field name), for skip reasons.
    pub fn hint(name: &str) -> &'static str {
        match name {
            "modbus" => "declare `modbus: HOST:PORT` in the target file",
            "http" | "web" | "status" => {
                "declare `http: http://HOST` in the target file (or a rig); a device without an HTTP API has none to judge"
            }
            "mqtt" => "give the target file an `mqtt:` broker to watch (url, ca, cert/key or username/password)",
            "p1_ext" => "give the target file `p1_ext: {serial: …}` or `{tcp: HOST:PORT}`",
            "own_broker" => "give the target file `own_broker: {url, username, password}`",
            "update_server" => "give the target file a `hooks.firmware` command or a rig",
            "network" => "give the target file a rig, or run with --interactive",
            "broker" => "give the target file a rig that controls the broker",
            _ => "give the target file a hook or a rig for it, or run with --interactive",
        }
    }

    /// The `@needs-…` tag (without `@`) of every ability, and whether this bench has it:
    /// `p1_ext` → `needs-p1-ext`.
    pub fn by_tag(&self) -> Vec<(String, bool)> {
        self.fields()
            .iter()
            .map(|(name, has)| (format!("needs-{}", name.replace('_', "-")), *has))
            .collect()
    }
}

/// What a target declares it implements, like a conformance statement in protocol
/// certification: the suite runs only the scenarios that apply and lists the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// One line saying what is under test.
    pub description: String,
    /// Product variants it can be (a real device is one; the virtual target either).
    pub variants: Vec<Variant>,
    /// Meter kinds the bench can put on the meter input; `None`: every kind of the variant.
    pub meters: Option<Vec<crate::protocol::MeterKind>>,
    pub capabilities: Capabilities,
    /// The firmware version under test, when the target says (for the report).
    pub firmware: Option<String>,
}

/// Which device the suite judges: the in-process virtual device (with the `defects`
/// feature, optionally with planted defects) or a remote one described by a target file.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    Virtual {
        /// Where the device's interfaces and the suite's clients meet: loopback sockets
        /// (`virtual`) or in-memory pipes with no socket at all (`memory`).
        wire: Wire,
        #[cfg(feature = "defects")]
        defects: crate::defects::Defects,
    },
    Remote(std::sync::Arc<remote::RemoteBench>),
}

impl TargetSpec {
    /// `virtual`, `memory` or the path of a target file (YAML).
    pub fn parse(s: &str) -> Result<TargetSpec, remote::TargetFileError> {
        match s {
            "virtual" => return Ok(TargetSpec::correct_virtual()),
            "memory" => return Ok(TargetSpec::in_memory()),
            _ => {}
        }
        let cfg = remote::RemoteConfig::load(std::path::Path::new(s))?;
        Ok(TargetSpec::Remote(std::sync::Arc::new(
            remote::RemoteBench::new(cfg),
        )))
    }

    /// The virtual device as the manual describes it, on loopback sockets.
    pub fn correct_virtual() -> TargetSpec {
        TargetSpec::Virtual {
            wire: Wire::Loopback,
            #[cfg(feature = "defects")]
            defects: Default::default(),
        }
    }

    /// The virtual device as the manual describes it, on in-memory pipes (no socket).
    pub fn in_memory() -> TargetSpec {
        TargetSpec::Virtual {
            wire: Wire::Memory,
            #[cfg(feature = "defects")]
            defects: Default::default(),
        }
    }

    /// The virtual target in words.
    fn virtual_description(&self) -> String {
        let wire = match self {
            TargetSpec::Virtual {
                wire: Wire::Memory, ..
            } => "in-process, virtual clock, in-memory pipes: no sockets",
            _ => "in-process, virtual clock, loopback sockets",
        };
        #[cfg(feature = "defects")]
        if let TargetSpec::Virtual { defects, .. } = self {
            if !defects.is_empty() {
                let names: Vec<&str> = defects.iter().map(|d| d.name()).collect();
                return format!(
                    "virtual Smart Connect ({wire}) with planted defects: {}",
                    names.join(", ")
                );
            }
        }
        format!("virtual Smart Connect ({wire})")
    }

    /// Whether both are the same virtual target.
    fn same_virtual(&self, other: &TargetSpec) -> bool {
        match (self, other) {
            #[cfg(feature = "defects")]
            (
                TargetSpec::Virtual {
                    wire: w,
                    defects: a,
                },
                TargetSpec::Virtual {
                    wire: v,
                    defects: b,
                },
            ) => a == b && w == v,
            #[cfg(not(feature = "defects"))]
            (TargetSpec::Virtual { wire: w }, TargetSpec::Virtual { wire: v }) => w == v,
            _ => false,
        }
    }

    /// The conformance statement of the target.
    pub async fn statement(&self) -> Result<Statement, remote::BenchError> {
        match self {
            TargetSpec::Virtual { .. } => Ok(Statement {
                description: self.virtual_description(),
                variants: vec![Variant::P1, Variant::Tic],
                meters: None,
                capabilities: Capabilities::ALL,
                firmware: Some(format!("{} (simulated)", crate::device::FACTORY_FIRMWARE)),
            }),
            TargetSpec::Remote(bench) => bench.statement().await,
        }
    }

    /// Check the bench before the first scenario (`Err`: the cause that blocks the run).
    pub async fn preflight(&self, statement: &Statement) -> Result<(), remote::BenchError> {
        match self {
            TargetSpec::Virtual { .. } => Ok(()),
            TargetSpec::Remote(bench) => bench.preflight(statement).await,
        }
    }

    /// A fresh, unpowered device of `variant` for one scenario, with the identity `seed`
    /// gives (the virtual target; a remote device has its own label).
    pub async fn install(
        &self,
        variant: Variant,
        seed: u64,
    ) -> Result<Box<dyn Target>, TargetError> {
        match self {
            TargetSpec::Virtual { wire, .. } => {
                let mut hw = crate::device::DeviceConfig::new(variant);
                hw.identity = Identity::from_seed(seed);
                #[cfg(feature = "defects")]
                if let TargetSpec::Virtual { defects, .. } = self {
                    hw.defects = defects.clone();
                }
                Ok(Box::new(
                    VirtualTarget::new_on(hw, VIRTUAL_START, wire.net()).await?,
                ))
            }
            TargetSpec::Remote(bench) => Ok(Box::new(
                remote::RemoteTarget::open(std::sync::Arc::clone(bench), variant).await?,
            )),
        }
    }
}

/// How the virtual target's interfaces are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Real sockets on 127.0.0.1, ports chosen by the OS.
    Loopback,
    /// In-memory pipes (`adapters::net::MemNet`), one network per scenario: no socket.
    Memory,
}

impl Wire {
    /// A network of this kind for one scenario.
    pub fn net(self) -> crate::adapters::net::Net {
        match self {
            Wire::Loopback => crate::adapters::net::Net::Tcp,
            Wire::Memory => crate::adapters::net::Net::memory(),
        }
    }
}

/// 2026-06-15 10:00:00 UTC: the virtual target's power-on time.
pub const VIRTUAL_START: Millis = 1_781_517_600_000;

static SPEC: std::sync::OnceLock<TargetSpec> = std::sync::OnceLock::new();

/// Choose the target of this process's suite run (once).
pub fn set_spec(spec: TargetSpec) -> Result<(), SpecTaken> {
    // Two runs starting at once (tests in one binary) may race to set it: the same virtual
    // target is fine either way.
    let _ = SPEC.set(spec.clone());
    match (SPEC.get(), &spec) {
        (Some(a @ TargetSpec::Virtual { .. }), b) if a.same_virtual(b) => Ok(()),
        (Some(TargetSpec::Remote(a)), TargetSpec::Remote(b)) if std::sync::Arc::ptr_eq(a, b) => {
            Ok(())
        }
        _ => Err(SpecTaken),
    }
}

/// `set_spec` was called with another target than the one this process already runs.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the suite's target is already chosen for this process")]
pub struct SpecTaken;

/// The target chosen with `set_spec` (default: the virtual device).
pub fn spec() -> &'static TargetSpec {
    SPEC.get_or_init(TargetSpec::correct_virtual)
}

#[async_trait]
pub trait Target: Send + std::fmt::Debug {
    /// Which product variant the target is (P1 or TIC).
    fn variant(&self) -> Variant;
    /// What the device's label says: serial, MAC, password.
    fn label(&self) -> Identity;
    /// The time at the target: the virtual clock, or the wall clock for a real device.
    fn now(&self) -> Millis;
    /// Where the device's Modbus TCP server listens (for extra client connections).
    fn modbus_addr(&self) -> std::net::SocketAddr;
    /// The network the suite's own clients (HTTP, Modbus) reach the device over: real
    /// sockets, or the in-memory network of an in-memory target.
    fn net(&self) -> crate::adapters::net::Net {
        crate::adapters::net::Net::Tcp
    }

    // ---- bench rig -------------------------------------------------------------------
    /// Put bytes on the device's meter input (P1 RJ12 or TIC terminals).
    async fn send_meter_bytes(&mut self, bytes: &[u8]) -> Result<(), TargetError>;
    /// Let time pass until `t` (virtual: advance the clock; real device: sleep).
    async fn wait_until(&mut self, t: Millis) -> Result<(), TargetError>;
    /// Whether `settle` is a barrier on the device's own adapters (the harness runs them, on
    /// a clock it drives: the virtual target). Then steps wait on device time and on
    /// `settle`, never on real time; otherwise (a real device) they can only wait real time.
    fn settles_exactly(&self) -> bool {
        false
    }
    /// Wait until the device has carried out what it was given and what it sent has arrived
    /// (virtual: its MQTT client is idle and caught up, the broker has delivered everything
    /// the client wrote to the suite's subscriptions). Real time bounds it only as a hang
    /// guard, reported as a bench fault. A real device offers no such barrier: nothing.
    async fn settle(&mut self) -> Result<(), TargetError> {
        Ok(())
    }
    /// USB-C supply on/off, and whether the meter's P1 port supplies power.
    async fn set_power(&mut self, usb: bool, meter_supply: bool) -> Result<(), TargetError>;
    async fn button_down(&mut self) -> Result<(), TargetError>;
    async fn button_up(&mut self) -> Result<(), TargetError>;
    /// The LED colour now.
    async fn led_colour(&mut self) -> Result<Color, TargetError>;
    /// Change the network around the device.
    async fn set_lan(&mut self, lan: Lan) -> Result<(), TargetError>;
    /// Make the update server offer firmware `version`; `good: false` stages an image that
    /// fails verification (FW-01/02). A target without a staged update server refuses.
    async fn offer_firmware(&mut self, version: &str, good: bool) -> Result<(), TargetError> {
        let _ = good;
        Err(TargetError(format!(
            "this target cannot stage firmware {version} on an update server"
        )))
    }

    // ---- what the device offers ------------------------------------------------------
    /// The harness's Modbus TCP client connection to the device.
    fn modbus(&mut self) -> &mut crate::adapters::modbus_client::ModbusClient;
    /// A Modbus read with function code `fc`, unit id `unit`, start address and quantity.
    async fn modbus_read(
        &mut self,
        fc: u8,
        unit: u8,
        addr: u16,
        qty: u16,
    ) -> Result<ModbusReply, TargetError> {
        self.modbus()
            .read(fc, unit, addr, qty)
            .await
            .map_err(|e| TargetError(e.to_string()))
    }
    /// Close the connection `modbus_read` uses (it reconnects on the next read).
    async fn modbus_disconnect(&mut self) -> Result<(), TargetError> {
        self.modbus().disconnect().await;
        Ok(())
    }
    /// The bytes that came out of the P1 ext output since the last call.
    async fn take_p1_ext(&mut self) -> Result<Vec<u8>, TargetError>;
    /// The HTTP API client, logged in with the label password.
    fn api(&self) -> &api_client::ApiClient;
    /// `GET /api/v1/config`.
    async fn get_config(&mut self) -> Result<Value, TargetError> {
        self.api().config().await
    }
    /// `PATCH /api/v1/config` (merge-patch): the new config, or the device's error document.
    async fn patch_config(&mut self, patch: Value) -> Result<Result<Value, Value>, TargetError> {
        self.api().patch_config(patch).await
    }
    /// `PATCH /api/v1/config` with `patch`, and every supply cut while the device saves it
    /// (API-10: a power loss during a write). Whatever the device answers is not judged. A
    /// bench can only cut once the answer is in, just after the save; the virtual target
    /// cuts inside the save, at the step of the store's atomic replace its seed picks.
    async fn lose_power_while_saving(&mut self, patch: Value) -> Result<(), TargetError> {
        // A device that loses power mid-save may answer anything or nothing.
        let _ = self.patch_config(patch).await;
        self.set_power(false, false).await
    }
    /// `POST /api/v1/reset`: soft reset.
    async fn reset(&mut self) -> Result<(), TargetError> {
        self.api().reset().await
    }
    /// `GET /api/v1/firmware`.
    async fn firmware(&mut self) -> Result<Value, TargetError> {
        self.api().firmware().await
    }
    /// `POST /api/v1/firmware`: start an update to `version`; `Err` with the refusal.
    async fn update_firmware(&mut self, version: &str) -> Result<Result<(), String>, TargetError> {
        self.api().update_firmware(version).await
    }
    /// `GET /api/v1/status`.
    async fn status(&mut self) -> Result<Value, TargetError> {
        self.api().status().await
    }
    // ---- MQTT (the broker the device publishes to) -------------------------------------
    /// Subscribe to `filter` on the broker the device uses, as an installer's tool would;
    /// active when this returns.
    async fn mqtt_subscribe(
        &mut self,
        filter: &str,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<crate::adapters::broker::Message>, TargetError>;
    /// Publish on that broker (e.g. a command for the device).
    async fn mqtt_publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), TargetError>;
    /// Make the broker unreachable for the device, or reachable again (`@needs-broker`).
    async fn set_broker_reachable(&mut self, reachable: bool) -> Result<(), TargetError>;
    /// The clients the broker's TLS listener saw: certificate CN and MQTT client id (MQ-03/05).
    async fn mqtt_clients(
        &mut self,
    ) -> Result<Vec<crate::adapters::broker::TlsClient>, TargetError>;
    /// An own broker with an account for the device, if the bench has one (`@needs-own-broker`).
    fn own_broker(&self) -> Option<OwnBroker> {
        None
    }
    /// Set the device's own clock (a bench hook, `@needs-clock`); simulation time is unaffected.
    async fn set_device_clock(&mut self, utc: Millis) -> Result<(), TargetError>;

    /// The device's web interface and API over plain HTTP (`http://…`, no trailing slash).
    fn http_url(&self) -> String;
    /// The same over HTTPS (WEB-06).
    fn https_url(&self) -> String;
    /// Where the web interface's pages are (`http_url` or, with `https`, `https_url`).
    fn web_url(&self, https: bool) -> String {
        if https {
            self.https_url()
        } else {
            self.http_url()
        }
    }
    /// How far apart in time a step may see what it expects when time is real (a device on
    /// a bench, sampled over hooks): 0 when the harness drives the device's clock.
    fn timing_tolerance_ms(&self) -> Millis {
        0
    }

    /// In real time, the longest a telegram's values may take to show in the registers
    /// (`max_latency_ms`): steps expecting new values poll until then. 0 when the harness
    /// drives the device's clock (the values are there when the step looks).
    fn max_latency_ms(&self) -> Millis {
        0
    }

    /// How long the device takes from power-on to serving Modbus and reading the meter.
    fn boot_ms(&self) -> Millis {
        crate::conformance::steps::world::BOOT_WAIT_MS
    }

    /// A second local address to reach the device from, as "another client" (API-02); `None`:
    /// the harness picks one.
    fn second_client_addr(&self) -> Option<std::net::IpAddr> {
        None
    }

    /// The bench abilities this scenario has used so far (the virtual target keeps count, so
    /// the suite can check that every scenario carries the `@needs-…` tags of what it uses;
    /// a remote target reports none).
    fn capabilities_used(&self) -> Capabilities {
        Capabilities::default()
    }

    /// The PEM certificate of the CA that signed the device's HTTPS certificate, when the
    /// target knows it (a real device: the vendor's CA, if supplied to the harness). A client
    /// that trusts exactly this CA checks that HTTPS is served with the device certificate.
    fn https_ca_pem(&self) -> Option<String> {
        None
    }
}
