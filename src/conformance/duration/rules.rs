//! The step rules of the estimate: what each step phrase does to the wall clock, and the
//! clock that replays a run (meter cadence, settle time, boots, waits).

use super::*;

/// Real time the broker is given to deliver anything still in flight before a step concludes
/// that nothing (more) arrives on a real-time target (`steps::mqtt_wait::QUIET`).
const QUIET_MS: Millis = 200;

/// A request to a device that must not answer waits this long (the Modbus client's timeout).
const NO_ANSWER_MS: Millis = crate::adapters::modbus_client::TIMEOUT.as_millis() as Millis;

/// What a step does to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
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
        // persistence.rs: the change and the cut are instant; the power's return is a boot
        (
            r"^the power fails while the setting \S+ is being set to ",
            Latency,
        ),
        (r"^the power comes back$", Boot),
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
        r"^the reported network problem ",
        r"^no network problem is reported$",
        r"^the simulator's answer names ",
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

pub(super) fn rule_of(text: &str) -> Option<(Rule, Vec<String>)> {
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

pub(super) fn number(s: &str) -> Millis {
    s.parse().unwrap_or(0)
}

/// The meter on the line: when it sends next, how often, whether it sends.
pub(super) struct Line {
    next_at: Millis,
    interval: Millis,
    sending: bool,
}

/// One run replayed on a wall clock (ms from its start).
pub(super) struct Clock<'a> {
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
            None => DOWNLOAD_MS.as_ms(),
            Some((_, false)) => (DOWNLOAD_MS + VERIFY_MS).as_ms(),
            Some((_, true)) => {
                (DOWNLOAD_MS + VERIFY_MS + INSTALL_MS + REBOOT_MS).as_ms()
                    + self.timing.boot_ms as Millis
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

/// The real time of one run's steps.
pub(super) fn estimate_run(steps: &[(usize, String)], timing: &Timing) -> Duration {
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
