//! The scenario's world: the target under test, the meter on its input line (driven by the
//! harness, as a bench rig would), and the seed that makes the run replayable.

use crate::device::Variant;
use crate::dut::Target;
use crate::protocol::fault::{apply, FrameFault};
use crate::protocol::Reading;
use crate::sim::clock::Millis;
use crate::sim::generator::SyntheticMeter;
use cucumber::World;

/// Power-on to running, with DHCP answered: 3 s red + 2 s colour cycle + margin (the
/// default; a target file's `boot_ms` sets a bench's own).
pub const BOOT_WAIT_MS: Millis = 6_000;

/// The run's base seed: `--seed`, else `SC_SEED`, else 42.
pub fn base_seed() -> u64 {
    *BASE_SEED.get_or_init(|| {
        std::env::var("SC_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(42)
    })
}

static BASE_SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Choose the run's base seed (`conformance --seed`) before the suite starts; `false` when
/// it was already fixed.
pub fn set_base_seed(seed: u64) -> bool {
    BASE_SEED.set(seed).is_ok()
}

/// A scenario's own seed, derived from the base seed and its name (FNV-1a).
pub fn scenario_seed(name: &str) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325 ^ base_seed(), |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// What a meter of an older generation puts on the wire instead of our encoder's output.
pub type Rewrite = fn(&Reading, &[u8]) -> Vec<u8>;

/// What the meter line does with the next telegrams.
#[derive(Debug)]
pub struct MeterLine {
    pub meter: SyntheticMeter,
    /// Telegrams are put on the line (false: the meter is silent).
    pub sending: bool,
    /// Applied to every telegram from now on.
    pub every: Option<FrameFault>,
    /// What the meter really puts on the wire instead (e.g. a DSMR 4.0 or 2.2 meter).
    pub rewrite: Option<Rewrite>,
}

#[derive(Debug, World)]
#[world(init = Self::new)]
pub struct DeviceWorld {
    pub target: Option<Box<dyn Target>>,
    pub seed: u64,
    /// When the scenario started (wall clock, for the report's durations).
    pub started: Option<std::time::Instant>,
    pub line: Option<MeterLine>,
    /// Every byte put on the meter line, for the P1 ext check.
    pub sent: Vec<u8>,
    /// When bytes were last put on the meter line (wall clock; real-time latency budget).
    pub last_sent: Option<std::time::Instant>,
    /// The telegram `next_telegram` produced last is damaged (a fault applied to it).
    pub next_is_damaged: bool,
    /// The last bytes sent were a damaged telegram: the registers must not change, so a
    /// real-time check waits out the latency budget before it looks.
    pub last_sent_damaged: bool,
    /// The values of the last valid telegram sent.
    pub last_reading: Option<Reading>,
    /// The last configuration refusal.
    pub refusal: Option<String>,
    /// USB-C power is plugged in.
    pub usb: bool,
    /// What the power, LED, button, network, firmware and config steps remember.
    pub bench: super::bench::Bench,
    /// Chargers with their own Modbus connection (the first is "the first charger").
    pub chargers: Vec<crate::adapters::modbus_client::ModbusClient>,
    /// A charger that tries to connect while another holds the slot.
    pub second: Option<crate::adapters::modbus_client::ModbusClient>,
    /// What the HTTP API and web interface steps remember.
    pub http: super::http::HttpBench,
    /// What the MQTT steps remember.
    pub mqtt: super::mqtt::MqttBench,
    /// The installer's own broker, when a scenario uses one (MQ-07).
    pub own_broker: Option<crate::dut::OwnBroker>,
    /// The reads made while a telegram was applied (MB-08).
    pub hammer: Option<super::snapshot::Hammer>,
}

impl DeviceWorld {
    fn new() -> Self {
        DeviceWorld {
            target: None,
            seed: base_seed(),
            started: None,
            line: None,
            sent: Vec::new(),
            last_sent: None,
            next_is_damaged: false,
            last_sent_damaged: false,
            last_reading: None,
            refusal: None,
            usb: false,
            bench: Default::default(),
            chargers: Vec::new(),
            second: None,
            http: Default::default(),
            mqtt: Default::default(),
            own_broker: None,
            hammer: None,
        }
    }

    /// Create the target for this variant (the suite's target: virtual or remote), unpowered.
    pub async fn install(&mut self, variant: Variant) {
        let target = crate::dut::spec()
            .install(variant, self.seed)
            .await
            .unwrap_or_else(|e| panic!("cannot set up the Smart Connect {}: {e}", variant.label()));
        self.target = Some(target);
    }

    pub fn target(&mut self) -> &mut dyn Target {
        self.target
            .as_deref_mut()
            .expect("no Smart Connect yet: start with 'Given a Smart Connect P1'")
    }

    pub fn now(&mut self) -> Millis {
        self.target().now()
    }

    /// Wait until the device's adapters have settled (`Target::settle`: a barrier on the
    /// virtual device, nothing on a real one); a hang is a bench fault.
    pub async fn settle(&mut self) {
        if let Err(e) = self.target().settle().await {
            panic!("{e}");
        }
    }

    /// Switch the supplies: USB-C, and the meter's P1 power (SMR 5 meters supply it).
    pub async fn supply(&mut self, usb: bool) {
        self.usb = usb;
        let meter = self
            .line
            .as_ref()
            .is_some_and(|l| l.meter.kind().supplies_p1_power());
        self.target().set_power(usb, meter).await.expect("power");
    }

    /// Let the device boot: red, colour cycle, network (time passes with the meter running);
    /// the target says how long that takes (`boot_ms`).
    pub async fn boot(&mut self) {
        let ms = self.target().boot_ms();
        self.pass(ms).await;
    }

    /// Put bytes on the meter line and remember them.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
        self.last_sent_damaged = std::mem::take(&mut self.next_is_damaged);
        // The latency budget runs from the last byte on the wire, before any settle time.
        let at = std::time::Instant::now();
        self.target()
            .send_meter_bytes(bytes)
            .await
            .expect("putting bytes on the meter line");
        self.last_sent = Some(at);
    }

    /// Until when (real time) a step expecting register values may poll for them: the last
    /// bytes sent plus the target's `max_latency_ms`; `None` when the values must already be
    /// there (the harness drives the clock, or no latency is allowed).
    pub fn values_deadline(&mut self) -> Option<(std::time::Instant, Millis)> {
        let budget = self.target().max_latency_ms();
        let sent = self.last_sent?;
        (budget > 0).then(|| {
            (
                sent + std::time::Duration::from_millis(budget as u64),
                budget,
            )
        })
    }

    /// Wait for the meter's next telegram time and produce it (with the standing fault).
    pub async fn next_telegram(&mut self, extra: Option<FrameFault>) -> Option<Vec<u8>> {
        let line = self.line.as_mut()?;
        let at = line.meter.next_at();
        let tel = line.meter.next();
        let mut bytes = tel.bytes;
        if let Some(rw) = line.rewrite {
            bytes = rw(&tel.reading, &bytes);
        }
        let fault = extra.or_else(|| line.every.clone());
        let clean = fault.is_none();
        if let Some(f) = fault {
            bytes = apply(&bytes, &f);
        }
        let sending = line.sending;
        self.next_is_damaged = !clean;
        self.target().wait_until(at).await.expect("wait");
        if clean && sending {
            self.last_reading = Some(tel.reading);
        }
        sending.then_some(bytes)
    }

    /// Let `ms` pass, putting every telegram the meter sends in that time on the line.
    pub async fn pass(&mut self, ms: i64) {
        let end = self.now() + ms;
        self.pass_until(end).await;
    }

    /// Let time pass until `end`, putting every telegram the meter sends until then on the
    /// line (steps that sample keep to a fixed grid this way, even in real time).
    pub async fn pass_until(&mut self, end: Millis) {
        while self.line.as_ref().is_some_and(|l| l.meter.next_at() <= end) {
            if let Some(bytes) = self.next_telegram(None).await {
                self.send(&bytes).await;
            }
        }
        self.target().wait_until(end).await.expect("wait");
    }
}
