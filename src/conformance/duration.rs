//! How long the suite takes against a device in **real time** (real firmware on a bench, or
//! a simulator that does not let the harness drive its clock), estimated from the scenarios'
//! steps before running them. On the virtual target time costs nothing; on a bench
//! `When 30 seconds pass` waits 30 s. Firmware teams get a figure per feature file
//! (the table in `docs/conformance.md`), the CLI can say what a selection will cost
//! ([`estimate_selected`]), and the `@smoke` profile is held to its budget ([`smoke_report`]).
//!
//! # What is counted
//!
//! Each scenario is replayed on a wall clock, step by step (its feature's `Background`
//! first; every row of a `Scenario Outline` is one run), with the meter on the line sending
//! at its own cadence — the way `steps/world.rs` drives a real-time target:
//!
//! - **Explicit waits**: "N seconds pass", "N seconds have passed", "N milliseconds pass",
//!   "the first client makes no request for 4 minutes 50 seconds" (the HTTP session timeout),
//!   "… asks for the status once a minute for 12 minutes", a button held for N seconds, a
//!   power cycle's off time.
//! - **Boots**: [`Timing::boot_ms`] after every power-on and restart ("Given a Smart Connect
//!   P1", "the device is restarted", a `MeterType` change, a new static address, a power
//!   cycle …), as `DeviceWorld::boot` waits the target's `boot_ms`.
//! - **Telegrams**: a meter starts sending when it is connected and keeps its interval
//!   (SMR 5 and e-MUCS 1 s, DSMR 4.2 10 s, TIC standard 0.9 s / 1.4 s three-phase, TIC
//!   historic 2 s). "The next telegram arrives" waits for the meter's next telegram time;
//!   every telegram put on the line is followed by [`Timing::settle_ms`], which a wait for a
//!   later time absorbs (as the remote target's `send_meter_bytes` then `wait_until` do).
//! - **LED observation**: sampling the LED takes its window (2 s, or the seconds the step
//!   names).
//! - **Waits for the device to react** that are part of passing: an MQTT message, a command's
//!   answer, the MQTT connection or its error in the status, a restart being noticed — each
//!   [`Timing::max_latency_ms`]; a step that polls once a second (own broker) at least 1 s.
//!   Concluding that nothing (more) arrives takes the broker's quiet time (200 ms).
//! - **Firmware updates**: polling until the update ends takes the update's own time
//!   (download 4 s, verify 1 s, install 3 s, reboot 1 s — `device::firmware` — plus a boot
//!   after a successful one; a missing image fails after the download, a corrupt one after
//!   verification), on the poll's grid (1 s, or 5 s for "within N minutes").
//! - **A device that must not answer**: every request that has to go unanswered (a device
//!   switched off or restarting, a second Modbus client it may leave hanging) waits for the
//!   Modbus client's timeout (5 s); a Modbus read retries once.
//!
//! Not counted: the duration of ordinary requests (Modbus, HTTP, MQTT round trips of a few
//! milliseconds), the bench's own actions (a `fresh` hook restoring factory settings before
//! each scenario, relay and hook commands), and an operator answering `--interactive`
//! prompts. A step the estimator does not know counts as instant ([`unclassified_steps`]
//! lists them; a test keeps the built-in features free of them).

use super::coverage::Requirement;
use super::features::FEATURES;
use super::steps::bench::SAMPLE_WINDOW_MS;
use super::steps::setup::METERS;
use crate::device::firmware::{DOWNLOAD_MS, INSTALL_MS, REBOOT_MS, VERIFY_MS};
use crate::device::registers::Template;
use crate::sim::clock::Millis;
use cucumber::codegen::Regex;
use cucumber::feature::Ext as _;
use cucumber::gherkin::{Feature, GherkinEnv, Scenario, Step};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

/// The real-time parameters of a bench: the target file's keys of the same names, with the
/// same defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Power-on or restart until the device runs (red, colour cycle, DHCP).
    pub boot_ms: u64,
    /// Time given the device to digest a telegram before a step looks.
    pub settle_ms: u64,
    /// How long the device takes to do what a step waits for (publish a message, answer a
    /// command, connect to the broker, notice a lost connection).
    pub max_latency_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            boot_ms: super::steps::world::BOOT_WAIT_MS as u64,
            settle_ms: 300,
            max_latency_ms: 1_000,
        }
    }
}

/// Real time the broker is given to deliver anything still in flight before a step concludes
/// that nothing (more) arrives (`steps::mqtt::QUIET`).
const QUIET_MS: Millis = 200;

/// A request to a device that must not answer waits this long (the Modbus client's timeout).
const NO_ANSWER_MS: Millis = crate::adapters::modbus_client::TIMEOUT.as_millis() as Millis;

/// What a step does to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Power-on or restart: the boot wait.
    Boot,
    /// A meter is wired (capture 1: its phrase), sending or not yet.
    Meter {
        sending: bool,
    },
    StopSending,
    /// Capture 1: seconds.
    PassSeconds,
    /// Capture 1: milliseconds.
    PassMillis,
    /// Capture 1: minutes, capture 2 (optional): seconds.
    PassMinutes,
    /// Capture 1: seconds off, then the boot.
    PowerCycle,
    /// LED sampling: capture 1 (optional) seconds, else the default window.
    LedWindow,
    NextTelegram,
    /// Bytes (not a telegram) put on the line.
    Send,
    /// MQTT: wait for a quiet broker, then the next telegram.
    MqttNextTelegram,
    /// MQTT: the next telegram and its message.
    MqttPublishing,
    Latency,
    LatencyThenQuiet,
    Quiet,
    /// A loop of one-second waits until the device reacts.
    LatencyWholeSeconds,
    /// Requests that must go unanswered (the number of attempts).
    NoAnswer(u32),
    /// Capture 1: a template name; a valid one is applied with a restart.
    MeterType,
    /// Capture 1: `firmware` or `a corrupt image`, capture 2: the version.
    OfferImage,
    /// Capture 1: the version.
    UpdateRequest,
    /// Capture 1: the command, capture 2: its JSON payload.
    Command,
    /// Poll until the running update ends, on a grid of this many ms.
    PollUpdate(Millis),
    Instant,
}

/// Step phrases, first match wins: the steps of `steps/*.rs` that take time, then the ones
/// that do not.
static RULES: LazyLock<Vec<(Regex, Rule)>> = LazyLock::new(|| {
    use Rule::*;
    let waiting: &[(&str, Rule)] = &[
        // setup.rs, network.rs, power.rs
        (
            r"^a Smart Connect (?:P1|TIC)(?: with USB-C power)?(?: on a DHCP network)?$",
            Boot,
        ),
        (
            r"^a Smart Connect (?:P1|TIC) (?:with USB-C power )?(?:without a network cable|on a network without a DHCP server)$",
            Boot,
        ),
        (r"^a Smart Connect (?:P1|TIC) without USB-C power$", Instant),
        (
            r"^(an? .+?) that is not yet sending$",
            Meter { sending: false },
        ),
        (
            r"^(an? .+?) drawing [\d.]+ (?:W|kW) on L[123]$",
            Meter { sending: true },
        ),
        (r"^(an? .+?) injecting \d+ VA$", Meter { sending: true }),
        (r"^(an? .+?) reporting$", Meter { sending: true }),
        (
            r"^(an? (?:DSMR 2\.2|DSMR 4\.0) meter)$",
            Meter { sending: true },
        ),
        // meter.rs
        (r"^(\d+) seconds? ha(?:ve|s) passed$", PassSeconds),
        (r"^(\d+) seconds? pass(?:es)?$", PassSeconds),
        (r"^(\d+) milliseconds pass$", PassMillis),
        (r"^the next (?:telegram|frame) arrives$", NextTelegram),
        (
            r"^the meter sends (?:a telegram with a bad CRC|a frame with a wrong group checksum|a truncated telegram)$",
            NextTelegram,
        ),
        (r"^the meter sends \d+ bytes of line noise$", Send),
        // snapshot.rs: reads go on until the new telegram shows, which it does once settled
        (
            r"^the meter's next telegram changes every value while a charger reads ",
            NextTelegram,
        ),
        (r"^the meter stops sending$", StopSending),
        // power.rs, button.rs, led.rs
        (
            r"^the power is switched off for (\d+) seconds and on again$",
            PowerCycle,
        ),
        (
            r"^the button is (?:pressed|held) for (\d+) seconds?$",
            PassSeconds,
        ),
        (
            r"^the LED is steady (?:red|green|blue|orange)(?: for (\d+) seconds)?$",
            LedWindow,
        ),
        (r"^the LED is off$", LedWindow),
        (r"^the LED alternates \w+ and \w+ at 1 Hz$", LedWindow),
        (r"^the LED blinks blue$", LedWindow),
        (
            r"^the LED then cycles through colours for (\d+) seconds, ending in green$",
            LedWindow,
        ),
        (
            r"^the device does not answer over Modbus or HTTP$",
            NoAnswer(4),
        ),
        (
            r"^the device does not answer on the network(?: yet)?$",
            NoAnswer(3),
        ),
        // chargers.rs: a device may leave the second connection unanswered (MB-02)
        (r"^the second charger gets no register values$", NoAnswer(1)),
        // restarts: chargers.rs, network.rs, status.rs, own_broker.rs, web/saving.rs
        (
            r"^the Ethernet settings are changed to the static address \S+ and the device restarts$",
            Boot,
        ),
        (
            r"^the device is restarted(?: the way the page does)?$",
            Boot,
        ),
        (
            r"^the MQTT settings are changed to that broker with its (?:right|wrong) password and the device restarts$",
            Boot,
        ),
        (
            r#"^the Smart Connect is configured with MeterType "(.+)"$"#,
            MeterType,
        ),
        // firmware.rs, http.rs, mqtt_commands.rs
        (
            r"^the update server offers (firmware|a corrupt image) (\S+)$",
            OfferImage,
        ),
        (
            r"^an update to (\S+) is requested over HTTP$",
            UpdateRequest,
        ),
        (
            r"^a client sends POST /api/v1/firmware asking for version (\S+)$",
            UpdateRequest,
        ),
        (r"^the command (\S+) is published with (\{.*\})$", Command),
        (
            r"^polling the firmware API every second shows .+ and then (?:idle on version \S+|failed with a reason)$",
            PollUpdate(1_000),
        ),
        (
            r#"^within \d+ minutes the firmware resource shows version \S+ and the update state "\w+"$"#,
            PollUpdate(5_000),
        ),
        // http.rs: the session timeout
        (
            r"^the first client makes no request for (\d+) minutes?(?: (\d+) seconds?)?$",
            PassMinutes,
        ),
        (
            r"^the first client makes no request for (\d+) more seconds?$",
            PassSeconds,
        ),
        (
            r"^the first client asks for the status once a minute for (\d+) minutes$",
            PassMinutes,
        ),
        // mqtt.rs, mqtt_commands.rs, own_broker.rs, ha_discovery.rs
        (r"^the meter sends its next telegram$", MqttNextTelegram),
        (
            r"^the device is publishing its measurements$",
            MqttPublishing,
        ),
        (r"^one measurement is published for it$", LatencyThenQuiet),
        (r"^no measurement is published$", Quiet),
        (
            r"^the broker received one measurement for every telegram the device accepted$",
            LatencyThenQuiet,
        ),
        (r"^the status shows MQTT connected$", Latency),
        (
            r"^the status shows MQTT not connected, with an error naming the certificate and the device clock$",
            Latency,
        ),
        (
            r"^the broker has seen no new connection from the device$",
            Quiet,
        ),
        (
            r#"^the device answers on ".+" that \S+ was (?:accepted|refused)"#,
            Latency,
        ),
        (r"^the device restarts$", Latency),
        (r"^the broker becomes unreachable$", LatencyThenQuiet),
        (r"^the backlog sent after reconnecting ", LatencyThenQuiet),
        (
            r"^measurements from the device arrive on that broker$",
            LatencyWholeSeconds,
        ),
        (
            r"^the status shows MQTT not connected, with an error naming the refused login$",
            LatencyWholeSeconds,
        ),
        (
            r"^an installer's MQTT client subscribed to homeassistant/# receives ",
            Latency,
        ),
    ];
    // Steps that only set something up or look once: no time of their own.
    let instant: &[&str] = &[
        r"^USB-C power is (?:plugged in|unplugged)$",
        r"^the meter's load changes to ",
        r"^every telegram from now on has a bad CRC$",
        r"^the (?:total active power|voltage|current|active power) ",
        r"^one read of ",
        r"^every read showed ",
        r"^the reads ended ",
        r"^reading \d+ registers ",
        r"^register 0x",
        r"^the registers read$",
        r"^every register from ",
        r"^function codes ",
        r"^a read of \d+ registers ",
        r"^an? (?:second )?charger ",
        r"^the (?:first|second) charger ",
        r"^the second connection ",
        r"^the device has closed ",
        r"^the device (?:reports|counts|still receives|answers over Modbus and HTTP)",
        r"^the P1 ext output ",
        r"^the configuration ",
        r"^the settings? ",
        r"^the change is ",
        r"^only ",
        r"^the status (?:answer holds|counts|reports|still shows|shows)",
        r"^the access point is off$",
        r"^the address is not ",
        r"^the network has no DHCP server$",
        r"^the DHCP server is switched off$",
        r"^the Ethernet cable is ",
        r"^(?:only )?a (?:2\.4|5) GHz Wi-Fi network ",
        r"^the Wi-Fi ",
        r"^the connection type is set ",
        r"^the Ethernet (?:settings are saved|static address)",
        r"^the network settings are saved ",
        r"^the MQTT settings are saved ",
        r"^an? (?:first )?client ",
        r"^a second client, ",
        r"^the (?:first|second) client ",
        r"^the answer ",
        r"^every GET route ",
        r"^the firmware ",
        r"^the update is ",
        r"^an installer's MQTT client is subscribed ",
        r"^the installer's own MQTT broker",
        r"^the measurement",
        r"^in the measurement ",
        r"^the broker saw the device connect ",
        r"^the broker is reachable again$",
        r"^the device clock is set ",
        r"^the command \S+ is published with an empty payload$",
        r"^a browser opens ",
        r"^it gets ",
        r"^the page",
        r"^the form ",
        r"^the field ",
        r"^every file the page loads ",
        r"^that status ",
        r"^over HTTPS ",
        r"^following the link ",
    ];
    waiting
        .iter()
        .map(|(p, r)| (Regex::new(p).expect("a valid step pattern"), *r))
        .chain(
            instant
                .iter()
                .map(|p| (Regex::new(p).expect("a valid step pattern"), Instant)),
        )
        .collect()
});

fn rule_of(text: &str) -> Option<(Rule, Vec<String>)> {
    RULES.iter().find_map(|(re, rule)| {
        re.captures(text).map(|c| {
            let caps = c
                .iter()
                .skip(1)
                .map(|m| m.map_or_else(String::new, |m| m.as_str().to_string()))
                .collect();
            (*rule, caps)
        })
    })
}

fn number(s: &str) -> Millis {
    s.parse().unwrap_or(0)
}

/// The meter on the line: when it sends next, how often, whether it sends.
struct Line {
    next_at: Millis,
    interval: Millis,
    sending: bool,
}

/// One run replayed on a wall clock (ms from its start).
struct Clock<'a> {
    timing: &'a Timing,
    now: Millis,
    line: Option<Line>,
    /// Images the update server offers: (version, good).
    images: Vec<(String, bool)>,
    /// When the running update ends (as a client polling the API sees it).
    update_ends: Option<Millis>,
}

impl Clock<'_> {
    fn settle(&self) -> Millis {
        self.timing.settle_ms as Millis
    }

    fn latency(&self) -> Millis {
        self.timing.max_latency_ms as Millis
    }

    /// Bytes on the line, then the settle time.
    fn send(&mut self) {
        self.now += self.settle();
    }

    /// Wait for the meter's next telegram and put it on the line (`next_telegram` + `send`).
    fn next_telegram(&mut self) {
        let Some(line) = self.line.as_mut() else {
            return;
        };
        let (at, sending) = (line.next_at, line.sending);
        line.next_at += line.interval;
        self.now = self.now.max(at);
        if sending {
            self.send();
        }
    }

    /// `DeviceWorld::pass`: every telegram due until then is put on the line.
    fn pass(&mut self, ms: Millis) {
        let end = self.now + ms;
        while self.line.as_ref().is_some_and(|l| l.next_at <= end) {
            self.next_telegram();
        }
        self.now = self.now.max(end);
    }

    fn boot(&mut self) {
        self.pass(self.timing.boot_ms as Millis);
    }

    fn start_update(&mut self, version: &str) {
        if self.update_ends.is_some_and(|e| e > self.now) {
            return; // refused: one is running
        }
        let took = match self.images.iter().rev().find(|(v, _)| v == version) {
            None => DOWNLOAD_MS,
            Some((_, false)) => DOWNLOAD_MS + VERIFY_MS,
            Some((_, true)) => {
                DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS + self.timing.boot_ms as Millis
            }
        };
        self.update_ends = Some(self.now + took);
    }

    fn step(&mut self, text: &str) {
        let Some((rule, caps)) = rule_of(text) else {
            return;
        };
        let cap = |i: usize| caps.get(i).map_or("", String::as_str);
        match rule {
            Rule::Boot => self.boot(),
            Rule::Meter { sending } => {
                let phrase = cap(0);
                let kind = METERS
                    .iter()
                    .find(|(p, _)| *p == phrase)
                    .or_else(|| {
                        METERS
                            .iter()
                            .filter(|(p, _)| phrase.contains(p))
                            .max_by_key(|(p, _)| p.len())
                    })
                    .map(|(_, k)| *k);
                self.line = Some(Line {
                    next_at: self.now,
                    interval: kind.map_or(1_000, |k| k.interval_ms()),
                    sending,
                });
            }
            Rule::StopSending => {
                if let Some(l) = self.line.as_mut() {
                    l.sending = false;
                }
            }
            Rule::PassSeconds => self.pass(number(cap(0)) * 1_000),
            Rule::PassMillis => self.pass(number(cap(0))),
            Rule::PassMinutes => self.pass((number(cap(0)) * 60 + number(cap(1))) * 1_000),
            Rule::PowerCycle => {
                self.pass(number(cap(0)) * 1_000);
                self.boot();
            }
            Rule::LedWindow => {
                let s = number(cap(0));
                self.pass(if s > 0 { s * 1_000 } else { SAMPLE_WINDOW_MS });
            }
            Rule::NextTelegram => self.next_telegram(),
            Rule::Send => self.send(),
            Rule::MqttNextTelegram => {
                self.now += QUIET_MS;
                self.next_telegram();
            }
            Rule::MqttPublishing => {
                self.now += QUIET_MS;
                self.next_telegram();
                self.now += self.latency() + QUIET_MS;
            }
            Rule::Latency => self.now += self.latency(),
            Rule::LatencyThenQuiet => self.now += self.latency() + QUIET_MS,
            Rule::Quiet => self.now += QUIET_MS,
            Rule::LatencyWholeSeconds => {
                let secs = (self.latency() + 999) / 1_000;
                self.pass(secs.max(1) * 1_000);
            }
            Rule::NoAnswer(attempts) => self.now += NO_ANSWER_MS * Millis::from(attempts),
            Rule::MeterType => {
                if Template::from_name(cap(0)).is_ok() {
                    self.boot();
                }
            }
            Rule::OfferImage => {
                let good = cap(0) == "firmware";
                self.images.push((cap(1).to_string(), good));
            }
            Rule::UpdateRequest => {
                let v = cap(0).to_string();
                self.start_update(&v);
            }
            Rule::Command => {
                let body: serde_json::Value = serde_json::from_str(cap(1)).unwrap_or_default();
                if cap(0) == "firmware-update" {
                    if let Some(v) = body["Version"].as_str() {
                        self.start_update(v);
                    }
                }
            }
            Rule::PollUpdate(grid) => {
                if let Some(end) = self.update_ends.take() {
                    let polls = ((end - self.now).max(0) + grid - 1) / grid;
                    self.pass(polls * grid);
                }
            }
            Rule::Instant => {}
        }
    }
}

/// The steps of each run of a scenario as (line, text): the background's and the scenario's,
/// with an outline's placeholders filled in from each row of its examples.
fn runs(feature: &Feature, scenario: &Scenario) -> Vec<Vec<(usize, String)>> {
    let steps: Vec<&Step> = feature
        .background
        .iter()
        .flat_map(|b| b.steps.iter())
        .chain(
            feature
                .rules
                .iter()
                .filter(|r| r.scenarios.iter().any(|s| std::ptr::eq(s, scenario)))
                .flat_map(|r| r.background.iter().flat_map(|b| b.steps.iter())),
        )
        .chain(scenario.steps.iter())
        .collect();
    let rows: Vec<Vec<(String, String)>> = scenario
        .examples
        .iter()
        .filter_map(|ex| ex.table.as_ref())
        .filter_map(|t| t.rows.split_first())
        .flat_map(|(header, rows)| {
            rows.iter()
                .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        })
        .collect();
    let fill = |row: &[(String, String)]| -> Vec<(usize, String)> {
        steps
            .iter()
            .map(|s| {
                let text = row.iter().fold(s.value.clone(), |text, (k, v)| {
                    text.replace(&format!("<{k}>"), v)
                });
                (s.position.line, text)
            })
            .collect()
    };
    if rows.is_empty() {
        return vec![fill(&[])];
    }
    rows.iter().map(|row| fill(row)).collect()
}

fn estimate_run(steps: &[(usize, String)], timing: &Timing) -> Duration {
    let mut clock = Clock {
        timing,
        now: 0,
        line: None,
        images: Vec::new(),
        update_ends: None,
    };
    for (_, s) in steps {
        clock.step(s);
    }
    Duration::from_millis(clock.now.max(0) as u64)
}

/// The number of runs of a scenario: the rows of an outline's examples, else 1.
pub fn run_count(feature: &Feature, scenario: &Scenario) -> usize {
    runs(feature, scenario).len()
}

/// The real time of one scenario against a real-time target, background included; for a
/// `Scenario Outline`, of all its rows together.
pub fn estimate_scenario(feature: &Feature, scenario: &Scenario, timing: &Timing) -> Duration {
    runs(feature, scenario)
        .iter()
        .map(|steps| estimate_run(steps, timing))
        .sum()
}

/// Where the feature files come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The copies built into the binary (`conformance::features::FEATURES`).
    BuiltIn,
    /// A folder of `.feature` files.
    Dir(&'a Path),
}

/// Parse the feature files, ordered by file name; each feature's `path` is set (the file
/// name for the built-in ones).
pub fn load(source: Source<'_>) -> Result<Vec<Feature>, String> {
    let env = GherkinEnv::default;
    match source {
        Source::BuiltIn => FEATURES
            .iter()
            .map(|(name, text)| {
                let mut f = Feature::parse(text, env()).map_err(|e| format!("{name}: {e}"))?;
                f.path = Some(PathBuf::from(name));
                Ok(f)
            })
            .collect(),
        Source::Dir(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "feature"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|p| Feature::parse_path(p, env()).map_err(|e| format!("{}: {e}", p.display())))
                .collect()
        }
    }
}

/// A feature's file name (`modbus.feature`).
pub fn file_name(feature: &Feature) -> String {
    feature
        .path
        .as_deref()
        .and_then(Path::file_name)
        .map_or_else(
            || feature.name.clone(),
            |n| n.to_string_lossy().into_owned(),
        )
}

fn all_scenarios(feature: &Feature) -> impl Iterator<Item = &Scenario> {
    feature
        .scenarios
        .iter()
        .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()))
}

/// The estimate for one feature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEstimate {
    pub file: String,
    /// Runs: an outline counts once per row.
    pub scenarios: usize,
    pub total: Duration,
}

/// The estimate of every feature file, in file-name order.
pub fn per_file(source: Source<'_>, timing: &Timing) -> Result<Vec<FileEstimate>, String> {
    Ok(per_file_of(&load(source)?, timing))
}

/// [`per_file`] for features already parsed.
pub fn per_file_of(features: &[Feature], timing: &Timing) -> Vec<FileEstimate> {
    features
        .iter()
        .map(|f| FileEstimate {
            file: file_name(f),
            scenarios: all_scenarios(f).map(|s| run_count(f, s)).sum(),
            total: all_scenarios(f)
                .map(|s| estimate_scenario(f, s, timing))
                .sum(),
        })
        .collect()
}

/// What a selection of scenarios costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Runs selected (an outline's rows each count).
    pub scenarios: usize,
    pub total: Duration,
}

/// The real time of the runs `keep` selects. `keep` sees each run as the suite's filter does:
/// an outline expanded into one scenario per row, with its examples' tags added; the feature
/// with its own tags. For the CLI: `keep` = the tag expression and the applicability check.
pub fn estimate_selected(
    source: Source<'_>,
    timing: &Timing,
    keep: impl FnMut(&Feature, &Scenario) -> bool,
) -> Result<Selection, String> {
    Ok(estimate_selected_of(&load(source)?, timing, keep))
}

/// [`estimate_selected`] for features already parsed (not yet expanded).
pub fn estimate_selected_of(
    features: &[Feature],
    timing: &Timing,
    mut keep: impl FnMut(&Feature, &Scenario) -> bool,
) -> Selection {
    let mut sel = Selection::default();
    for f in features {
        let expanded = f.clone().expand_examples().unwrap_or_else(|_| f.clone());
        for s in all_scenarios(&expanded).filter(|s| keep(&expanded, s)) {
            sel.scenarios += run_count(&expanded, s);
            sel.total += estimate_scenario(&expanded, s, timing);
        }
    }
    sel
}

/// Steps the estimator does not know (counted as instant): `file:line: text`, an outline's
/// steps with each row's values.
pub fn unclassified_steps(features: &[Feature]) -> Vec<String> {
    let mut out: Vec<String> = features
        .iter()
        .flat_map(|f| all_scenarios(f).map(move |s| (f, s)))
        .flat_map(|(f, s)| {
            runs(f, s)
                .into_iter()
                .flatten()
                .filter(|(_, text)| rule_of(text).is_none())
                .map(move |(line, text)| format!("{}:{line}: {text}", file_name(f)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `45 s`, `4 min 05 s`, `1 h 07 min` (rounded to the second, or to the minute past an hour).
pub fn format_duration(d: Duration) -> String {
    let s = (d.as_millis() + 500) / 1_000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3_600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = (s + 30) / 60;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// The Markdown table of `docs/conformance.md`: one row per feature file and the total.
pub fn markdown_table(estimates: &[FileEstimate]) -> String {
    let mut out =
        String::from("| feature file | scenarios | estimated real time |\n|---|--:|--:|\n");
    for e in estimates {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            e.file,
            e.scenarios,
            format_duration(e.total)
        ));
    }
    let n: usize = estimates.iter().map(|e| e.scenarios).sum();
    let total: Duration = estimates.iter().map(|e| e.total).sum();
    out.push_str(&format!(
        "| **all** | **{n}** | **{}** |\n",
        format_duration(total)
    ));
    out
}

// ---- the @smoke profile -----------------------------------------------------------------

/// The tag of the short profile for firmware CI.
pub const SMOKE_TAG: &str = "smoke";

/// The most a `@smoke` run may take in real time at the default timing.
pub const SMOKE_BUDGET: Duration = Duration::from_secs(5 * 60);

/// `[manual]` requirements the `@smoke` profile leaves out although a scenario without bench
/// hooks checks them, and why: with them it would not fit in [`SMOKE_BUDGET`] (every other
/// `[manual]` requirement in reach already takes most of it).
pub const SMOKE_LEFT_OUT: &[(&str, &str)] = &[
    (
        "API-07",
        "its only scenario lets 60 s of uptime pass before the reset, then waits out the restart (91 s)",
    ),
    (
        "P1-02",
        "its scenarios wait 30 s with each of two old meters (two outlines of 2 runs, 73 s each)",
    ),
    (
        "MQ-13",
        "its only scenario lets 20 s pass, then waits out the restart the command causes (42 s)",
    ),
    (
        "API-04",
        "its only scenario is an outline of 6 settings, each run a boot for one change (36 s)",
    ),
    (
        "MB-03",
        "its only scenario is an outline of 4 unit ids, each run a boot for one read (33 s)",
    ),
];

/// Tags asking for a bench ability beyond the device's own interfaces (hooks, a rig or an
/// operator). `@needs-http`, `@needs-mqtt` … name interfaces a real device has.
pub const BENCH_HOOK_TAGS: &[&str] = &[
    "needs-power",
    "needs-button",
    "needs-led",
    "needs-clock",
    "needs-network",
    "needs-broker",
    "needs-own-broker",
    "needs-update-server",
    "needs-p1-ext",
];

/// A scenario's tags without `@`: the feature's, the scenario's and its examples'.
pub fn tags_of(feature: &Feature, scenario: &Scenario) -> Vec<String> {
    feature
        .tags
        .iter()
        .chain(&scenario.tags)
        .chain(scenario.examples.iter().flat_map(|e| e.tags.iter()))
        .map(|t| t.trim_start_matches('@').to_string())
        .collect()
}

fn needs_bench_hook(tags: &[String]) -> bool {
    tags.iter().any(|t| BENCH_HOOK_TAGS.contains(&t.as_str()))
}

/// The `@smoke` profile against the `[manual]` requirements.
#[derive(Debug, Clone, Default)]
pub struct SmokeReport {
    /// `@smoke` scenarios: (`file: name`, runs, estimated real time).
    pub scenarios: Vec<(String, usize, Duration)>,
    /// Their real time together.
    pub total: Duration,
    /// `[manual]` IDs some scenario without bench hooks checks, but no `@smoke` one does.
    pub missing: Vec<String>,
    /// `[manual]` IDs every scenario of which needs a bench hook (out of the profile's reach).
    pub out_of_reach: Vec<String>,
    /// `@smoke` scenarios that need a bench hook (a bench without it would skip them).
    pub needing_hooks: Vec<String>,
}

/// Check the `@smoke` profile: which `[manual]` requirements it leaves out, and its time.
pub fn smoke_report(features: &[Feature], reqs: &[Requirement], timing: &Timing) -> SmokeReport {
    let mut r = SmokeReport::default();
    let mut hook_free_ids: Vec<String> = Vec::new();
    let mut smoke_ids: Vec<String> = Vec::new();
    for f in features {
        for s in all_scenarios(f) {
            let tags = tags_of(f, s);
            let hooks = needs_bench_hook(&tags);
            if !hooks {
                hook_free_ids.extend(tags.iter().cloned());
            }
            if tags.iter().any(|t| t == SMOKE_TAG) {
                let name = format!("{}: {}", file_name(f), s.name);
                let d = estimate_scenario(f, s, timing);
                r.total += d;
                r.scenarios.push((name.clone(), run_count(f, s), d));
                if hooks {
                    r.needing_hooks.push(name);
                } else {
                    smoke_ids.extend(tags.iter().cloned());
                }
            }
        }
    }
    for req in reqs.iter().filter(|q| q.kind == "manual") {
        if !hook_free_ids.contains(&req.id) {
            r.out_of_reach.push(req.id.clone());
        } else if !smoke_ids.contains(&req.id) {
            r.missing.push(req.id.clone());
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn on_disk() -> Vec<Feature> {
        load(Source::Dir(&repo().join("features"))).expect("the features parse")
    }

    fn feature(text: &str) -> Feature {
        Feature::parse(text, GherkinEnv::default()).expect("a feature")
    }

    fn ms(f: &Feature, i: usize, t: &Timing) -> u128 {
        estimate_scenario(f, &f.scenarios[i], t).as_millis()
    }

    #[test]
    fn waits_boots_telegrams_and_settle_add_up() {
        let t = Timing::default();
        let f = feature(
            "Feature: x\n  Background:\n    Given a Smart Connect P1\n\n  Scenario: a\n    Given an SMR 5.0 meter drawing 1000 W on L1\n    When 2 seconds pass\n    And the next telegram arrives\n\n  Scenario: b\n    Given a DSMR 4.2 meter drawing 1000 W on L1\n    When the next telegram arrives\n    And the next telegram arrives\n\n  Scenario: c\n    Given an SMR 5.0 meter that is not yet sending\n    When 5 seconds pass\n\n  Scenario Outline: d\n    When <n> seconds pass\n\n    Examples:\n      | n |\n      | 1 |\n      | 3 |\n",
        );
        // Boot 6 s; telegrams at 0, 1, 2 s (the last one's settle runs past the wait), the
        // next one at 3 s plus its settle.
        assert_eq!(ms(&f, 0, &t), 6_000 + 3_000 + 300);
        // The first DSMR 4.2 telegram goes at once, the second 10 s later.
        assert_eq!(ms(&f, 1, &t), 6_000 + 10_000 + 300);
        // A silent meter: no settle.
        assert_eq!(ms(&f, 2, &t), 6_000 + 5_000);
        // Each row of an outline is a run with the background.
        assert_eq!(run_count(&f, &f.scenarios[3]), 2);
        assert_eq!(ms(&f, 3, &t), 6_000 + 1_000 + 6_000 + 3_000);
        let slow = Timing {
            boot_ms: 20_000,
            settle_ms: 0,
            max_latency_ms: 0,
        };
        assert_eq!(ms(&f, 2, &slow), 20_000 + 5_000);
    }

    #[test]
    fn session_timeouts_updates_latency_and_silence_are_counted() {
        let t = Timing::default();
        let f = feature(
            "Feature: x\n  Scenario: session\n    When the first client makes no request for 4 minutes 50 seconds\n    And the first client makes no request for 15 more seconds\n\n  Scenario: update\n    Given the update server offers firmware 1.5.0\n    When an update to 1.5.0 is requested over HTTP\n    Then polling the firmware API every second shows downloading, verifying, installing, rebooting and then idle on version 1.5.0\n\n  Scenario: missing\n    When an update to 9.9.9 is requested over HTTP\n    Then polling the firmware API every second shows downloading and then failed with a reason\n\n  Scenario: mqtt\n    When the command reset is published with an empty payload\n    Then the device answers on \"t\" that reset was accepted\n    And no measurement is published\n\n  Scenario: off\n    Then the device does not answer over Modbus or HTTP\n",
        );
        assert_eq!(ms(&f, 0, &t), 305_000);
        assert_eq!(ms(&f, 1, &t), 4_000 + 1_000 + 3_000 + 1_000 + 6_000);
        assert_eq!(ms(&f, 2, &t), 4_000);
        assert_eq!(ms(&f, 3, &t), 1_000 + 200);
        assert_eq!(ms(&f, 4, &t), 4 * 5_000);
    }

    #[test]
    fn a_selection_sees_outline_rows_as_the_suite_does() {
        let f = feature(
            "Feature: x\n  @a\n  Scenario Outline: o <n>\n    When <n> seconds pass\n\n    Examples:\n      | n  |\n      | 10 |\n      | 20 |\n\n  Scenario: p\n    When 7 seconds pass\n",
        );
        let t = Timing::default();
        let all = estimate_selected_of(std::slice::from_ref(&f), &t, |_, _| true);
        assert_eq!(all.scenarios, 3);
        assert_eq!(all.total, Duration::from_secs(37));
        let one = estimate_selected_of(&[f], &t, |_, s| s.name == "o 20");
        assert_eq!(one.scenarios, 1);
        assert_eq!(one.total, Duration::from_secs(20));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(44_600)), "45 s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(format_duration(Duration::from_secs(4_020)), "1 h 07 min");
    }

    #[test]
    fn every_step_of_the_features_is_classified() {
        let unknown = unclassified_steps(&on_disk());
        assert!(
            unknown.is_empty(),
            "steps the real-time estimate does not know (add them to RULES in src/conformance/duration.rs, as waiting or instant):\n{}",
            unknown.join("\n")
        );
    }

    #[test]
    fn the_built_in_features_load() {
        let built_in = per_file(Source::BuiltIn, &Timing::default()).expect("built-in features");
        assert_eq!(built_in.len(), FEATURES.len());
        assert!(built_in.iter().all(|e| e.scenarios > 0));
    }

    const BEGIN: &str = "<!-- duration-table:begin -->";
    const END: &str = "<!-- duration-table:end -->";

    /// The table in `docs/conformance.md` is the estimate of `features/` at the default
    /// timing; `UPDATE_DOCS=1` rewrites it in place.
    #[test]
    fn the_duration_table_in_the_docs_is_fresh() {
        let path = repo().join("docs/conformance.md");
        let doc = std::fs::read_to_string(&path).expect("docs/conformance.md");
        let fresh = markdown_table(&per_file_of(&on_disk(), &Timing::default()));
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            panic!("docs/conformance.md lacks the markers {BEGIN} … {END}");
        };
        let inner = &doc[b + BEGIN.len()..e];
        if inner.trim() == fresh.trim() {
            return;
        }
        if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
            let updated = format!("{}{BEGIN}\n{fresh}{}", &doc[..b], &doc[e..]);
            std::fs::write(&path, updated).expect("rewrite docs/conformance.md");
            eprintln!("docs/conformance.md: duration table updated");
            return;
        }
        panic!(
            "the duration table in docs/conformance.md is stale; rerun with UPDATE_DOCS=1 or paste:\n\n{fresh}"
        );
    }

    /// `@smoke` covers every `[manual]` requirement a bench without hooks can check (but the
    /// ones in `SMOKE_LEFT_OUT`), needs no bench hook itself, and fits in 5 minutes of real
    /// time.
    #[test]
    fn the_smoke_profile_covers_the_manual_requirements_in_five_minutes() {
        let md = std::fs::read_to_string(repo().join("spec/requirements.md")).expect("spec");
        let reqs = super::super::coverage::parse_requirements(&md);
        let features = on_disk();
        let r = smoke_report(&features, &reqs, &Timing::default());
        let listing: Vec<String> = r
            .scenarios
            .iter()
            .map(|(n, runs, d)| format!("  {:>10}  {runs} run(s)  {n}", format_duration(*d)))
            .collect();
        let listing = listing.join("\n");
        eprintln!(
            "@smoke: {} scenario(s), {} of real time (budget {})\n{listing}\nleft out: {:?}\nout of reach without bench hooks: {:?}",
            r.scenarios.len(),
            format_duration(r.total),
            format_duration(SMOKE_BUDGET),
            SMOKE_LEFT_OUT.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            r.out_of_reach
        );
        let left_out: Vec<&str> = SMOKE_LEFT_OUT.iter().map(|(id, _)| *id).collect();
        let missing: Vec<&String> = r
            .missing
            .iter()
            .filter(|id| !left_out.contains(&id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "[manual] requirements a scenario without bench hooks checks, but no @smoke one: {missing:?} (tag a short scenario @smoke, or list the ID in SMOKE_LEFT_OUT with the reason)"
        );
        let stale: Vec<&&str> = left_out
            .iter()
            .filter(|id| !r.missing.iter().any(|m| m == *id))
            .collect();
        assert!(
            stale.is_empty(),
            "SMOKE_LEFT_OUT lists {stale:?}, which @smoke covers now or nothing without bench hooks can: remove them"
        );
        assert!(
            r.needing_hooks.is_empty(),
            "@smoke scenarios that need a bench hook (a bench without it skips them): {:?}",
            r.needing_hooks
        );
        assert!(
            r.total <= SMOKE_BUDGET,
            "@smoke takes {} of real time, more than {}:\n{listing}",
            format_duration(r.total),
            format_duration(SMOKE_BUDGET)
        );
    }
}
