//! The defect catalogue: plausible firmware bugs the virtual device can be told to have
//! (`run --defect NAME`, hidden; `SC_DEFECT=NAME,…` for the conformance suite's virtual
//! target). It exists to prove that the conformance suite bites: each defect names the
//! feature area whose scenarios must catch it and the requirement IDs a failing scenario
//! must carry (at least one of them).

use std::collections::BTreeSet;

/// One planted firmware bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    // Modbus
    ModbusWordOrderAbcd,
    ModbusFc4Stale,
    ModbusUnitIdFilter,
    ModbusSecondClientAccepted,
    ModbusTornReads,
    ModbusNoIdleTimeout,
    // P1
    P1Dsmr42VoltageNominal,
    P1BadCrcAccepted,
    P1ExtDropsRejected,
    P1RegistersNotUpdated,
    P1Dsmr42ShortTimeout,
    P1OldDsmrAccepted,
    // TIC
    TicNegativePhasePower,
    TicHistoricRejected,
    // Power
    PowerSmr5NoP1Power,
    PowerExtWithoutUsb,
    // LED
    LedGreenWithoutMeterData,
    LedNoIpGreen,
    // Button
    ButtonApOutsideFactory,
    ButtonFactoryResetKeepsSettings,
    // Network
    NetworkNoLinkLocal,
    NetworkStaticIgnored,
    // Firmware
    FirmwareAcceptsBadImage,
    FirmwareSecondUpdateRestarts,
    // Configuration
    ConfigPatchPartial,
    ConfigNotPersisted,
    // HTTP API
    HttpNoSessionConflict,
    HttpAnyPassword,
    // Web interface
    WebWifiPasswordVisible,
    WebNoHttpsLink,
    // MQTT
    MqttWrongTopic,
    MqttCumulativeCounters,
    MqttNoTimestamp,
    MqttPublishesRejected,
    MqttDisableIgnored,
}

/// What the catalogue says about one defect.
struct Info {
    name: &'static str,
    area: &'static str,
    requirements: &'static [&'static str],
    describe: &'static str,
}

const fn info(
    name: &'static str,
    area: &'static str,
    requirements: &'static [&'static str],
    describe: &'static str,
) -> Info {
    Info {
        name,
        area,
        requirements,
        describe,
    }
}

impl Defect {
    /// Every defect in the catalogue.
    pub const ALL: &'static [Defect] = &[
        Defect::ModbusWordOrderAbcd,
        Defect::ModbusFc4Stale,
        Defect::ModbusUnitIdFilter,
        Defect::ModbusSecondClientAccepted,
        Defect::ModbusTornReads,
        Defect::ModbusNoIdleTimeout,
        Defect::P1Dsmr42VoltageNominal,
        Defect::P1BadCrcAccepted,
        Defect::P1ExtDropsRejected,
        Defect::P1RegistersNotUpdated,
        Defect::P1Dsmr42ShortTimeout,
        Defect::P1OldDsmrAccepted,
        Defect::TicNegativePhasePower,
        Defect::TicHistoricRejected,
        Defect::PowerSmr5NoP1Power,
        Defect::PowerExtWithoutUsb,
        Defect::LedGreenWithoutMeterData,
        Defect::LedNoIpGreen,
        Defect::ButtonApOutsideFactory,
        Defect::ButtonFactoryResetKeepsSettings,
        Defect::NetworkNoLinkLocal,
        Defect::NetworkStaticIgnored,
        Defect::FirmwareAcceptsBadImage,
        Defect::FirmwareSecondUpdateRestarts,
        Defect::ConfigPatchPartial,
        Defect::ConfigNotPersisted,
        Defect::HttpNoSessionConflict,
        Defect::HttpAnyPassword,
        Defect::WebWifiPasswordVisible,
        Defect::WebNoHttpsLink,
        Defect::MqttWrongTopic,
        Defect::MqttCumulativeCounters,
        Defect::MqttNoTimestamp,
        Defect::MqttPublishesRejected,
        Defect::MqttDisableIgnored,
    ];

    #[rustfmt::skip]
    fn info(self) -> Info {
        use Defect::*;
        match self {
            ModbusWordOrderAbcd => info("modbus-word-order-abcd", "@modbus", &["MB-06"],
                "32-bit floats are served ABCD (high word first) instead of CD-AB"),
            ModbusFc4Stale => info("modbus-fc4-stale", "@modbus", &["MB-04"],
                "FC 0x04 reads an input-register bank that is never refreshed (all zeros)"),
            ModbusUnitIdFilter => info("modbus-unit-id-filter", "@modbus", &["MB-03"],
                "only unit id 1 is answered; other unit ids get exception 0x0B"),
            ModbusSecondClientAccepted => info("modbus-second-client-accepted", "@modbus",
                &["MB-02", "MB-10"], "a second Modbus client is accepted and served alongside the first"),
            ModbusTornReads => info("modbus-torn-reads", "@modbus", &["MB-08"],
                "the per-phase power registers lag one telegram, so one read mixes two telegrams"),
            ModbusNoIdleTimeout => info("modbus-no-idle-timeout", "@modbus", &["MB-10"],
                "a silent Modbus client is never disconnected and holds the slot forever"),
            P1Dsmr42VoltageNominal => info("p1-dsmr42-voltage-nominal", "@p1", &["P1-05"],
                "a telegram without voltage (DSMR 4.2) shows a nominal 230 V instead of 0"),
            P1BadCrcAccepted => info("p1-bad-crc-accepted", "@p1", &["P1-06"],
                "a DSMR telegram whose CRC16 does not match is used anyway"),
            P1ExtDropsRejected => info("p1-ext-drops-rejected", "@p1", &["P1-03"],
                "the P1 ext output leaves out the bytes of telegrams the device rejects"),
            P1RegistersNotUpdated => info("p1-registers-not-updated", "@p1", &["MB-07"],
                "the register map is refreshed only on every 10th valid telegram"),
            P1Dsmr42ShortTimeout => info("p1-dsmr42-short-timeout", "@p1", &["P1-07"],
                "a DSMR 4.2 meter gets the SMR 5 silence timeout of 3 s instead of 30 s"),
            P1OldDsmrAccepted => info("p1-old-dsmr-accepted", "@p1", &["P1-02"],
                "telegrams older than DSMR 4.2 (4.0 with a CRC) are accepted"),
            TicNegativePhasePower => info("tic-negative-phase-power", "@tic", &["TIC-02"],
                "TIC per-phase active power goes negative on export"),
            TicHistoricRejected => info("tic-historic-rejected", "@tic", &["TIC-01"],
                "Linky frames in historic mode are refused as incompatible"),
            PowerSmr5NoP1Power => info("power-smr5-no-p1-power", "@power", &["PWR-01"],
                "the device does not start on the SMR 5 meter's P1 power; it needs USB-C"),
            PowerExtWithoutUsb => info("power-ext-without-usb", "@power", &["PWR-03"],
                "the P1 ext output is driven from the meter's P1 power, without USB-C"),
            LedGreenWithoutMeterData => info("led-green-without-meter-data", "@led", &["LED-06"],
                "the LED shows steady green when no meter data arrives"),
            LedNoIpGreen => info("led-no-ip-green", "@led", &["LED-05"],
                "the LED shows steady green when the device has no IP address"),
            ButtonApOutsideFactory => info("button-ap-outside-factory", "@button", &["BTN-02"],
                "a 5 s press starts the access point even outside factory settings"),
            ButtonFactoryResetKeepsSettings => info("button-factory-reset-keeps-settings",
                "@button", &["BTN-03"], "a > 10 s press restarts the device but keeps the settings"),
            NetworkNoLinkLocal => info("network-no-link-local", "@network", &["NET-02"],
                "without a DHCP server the device retries DHCP forever, never link-local"),
            NetworkStaticIgnored => info("network-static-ignored", "@network", &["NET-08"],
                "a static IP configuration is ignored: the device keeps asking DHCP"),
            FirmwareAcceptsBadImage => info("firmware-accepts-bad-image", "@firmware", &["FW-02"],
                "an image that fails signature verification is installed anyway"),
            FirmwareSecondUpdateRestarts => info("firmware-second-update-restarts", "@firmware",
                &["FW-02"], "a second update request while one runs restarts it instead of being refused"),
            ConfigPatchPartial => info("config-patch-partial", "@config", &["API-09"],
                "a PATCH with one bad value is refused but its valid fields are applied"),
            ConfigNotPersisted => info("config-not-persisted", "@config", &["API-10"],
                "changed settings are kept in RAM only and lost at a power cut"),
            HttpNoSessionConflict => info("http-no-session-conflict", "@http", &["API-02", "API-08"],
                "a second API client is served instead of getting 409"),
            HttpAnyPassword => info("http-any-password", "@http", &["API-01"],
                "Basic authentication checks the user name but not the password"),
            WebWifiPasswordVisible => info("web-wifi-password-visible", "@web", &["WEB-04"],
                "the Wi-Fi password field of the web page shows what is typed"),
            WebNoHttpsLink => info("web-no-https-link", "@web", &["WEB-06"],
                "the plain-HTTP page does not link to the secure (HTTPS) page"),
            MqttWrongTopic => info("mqtt-wrong-topic", "@mqtt", &["MQ-12", "MQ-14"],
                "measurements go to …/<serial>/measurements, without the data/ level"),
            MqttCumulativeCounters => info("mqtt-cumulative-counters", "@mqtt", &["MQ-09"],
                "the MQTT payload carries the meter's cumulative energy counters"),
            MqttNoTimestamp => info("mqtt-no-timestamp", "@mqtt", &["MQ-11"],
                "the MQTT payload has no timestamp"),
            MqttPublishesRejected => info("mqtt-publishes-rejected", "@mqtt", &["MQ-08"],
                "a rejected telegram republishes the last measurement"),
            MqttDisableIgnored => info("mqtt-disable-ignored", "@mqtt", &["MQ-01"],
                "MQTT.Enabled = false is ignored: measurements are still published"),
        }
    }

    /// The name `--defect` and `SC_DEFECT` take.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// What the buggy firmware does, in one line.
    pub fn describe(self) -> &'static str {
        self.info().describe
    }

    /// The feature tag whose scenarios must catch it (`@modbus`).
    pub fn area(self) -> &'static str {
        self.info().area
    }

    /// Requirement IDs a failing scenario must carry (at least one of them).
    pub fn requirements(self) -> &'static [&'static str] {
        self.info().requirements
    }

    /// The defect called `name`.
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// All names, comma-separated (for error messages).
    pub fn names() -> String {
        Defect::ALL
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The defects a device has (empty: a correct device).
pub type Defects = BTreeSet<Defect>;

/// `--defect NAME`: the defect, or an error listing the valid names.
pub fn parse_defect(s: &str) -> Result<Defect, String> {
    Defect::from_name(s).ok_or_else(|| format!("unknown defect `{s}`; valid: {}", Defect::names()))
}

/// A comma-separated list (`SC_DEFECT`); empty items are skipped.
pub fn parse_list(s: &str) -> Result<Defects, String> {
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(parse_defect)
        .collect()
}

/// Print a loud warning to stderr when `defects` is not empty (a run with planted bugs must
/// never be mistaken for a correct device).
pub fn warn_if_any(defects: &Defects) {
    if !defects.is_empty() {
        let names: Vec<_> = defects.iter().map(|d| d.name()).collect();
        eprintln!(
            "WARNING: planted defects active: {} — this device is deliberately broken",
            names.join(", ")
        );
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let names: BTreeSet<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names.len(), Defect::ALL.len());
        assert!(
            Defect::ALL.len() >= 28,
            "the catalogue has at least 28 defects"
        );
        let all: BTreeSet<Defect> = Defect::ALL.iter().copied().collect();
        assert_eq!(
            all.len(),
            Defect::ALL.len(),
            "no defect listed twice in ALL"
        );
        let areas = [
            "@p1",
            "@tic",
            "@modbus",
            "@power",
            "@led",
            "@button",
            "@network",
            "@firmware",
            "@config",
            "@http",
            "@web",
            "@mqtt",
        ];
        for area in areas {
            assert!(
                Defect::ALL.iter().any(|d| d.area() == area),
                "no defect for {area}"
            );
        }
        let spec = include_str!("../../spec/requirements.md");
        for d in Defect::ALL {
            assert_eq!(Defect::from_name(d.name()), Some(*d));
            assert_eq!(parse_defect(d.name()), Ok(*d));
            assert!(!d.requirements().is_empty());
            assert!(areas.contains(&d.area()), "{}: area {}", d.name(), d.area());
            assert!(!d.describe().is_empty());
            assert!(
                d.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                d.name()
            );
            for r in d.requirements() {
                assert!(
                    spec.contains(&format!("| {r} |")),
                    "{}: {r} is not in spec/requirements.md",
                    d.name()
                );
            }
        }
        assert_eq!(Defect::from_name("no-such-defect"), None);
        let e = parse_defect("no-such-defect").unwrap_err();
        assert!(e.contains("modbus-word-order-abcd"), "{e}");
    }

    #[test]
    fn lists() {
        let d = parse_list(" modbus-torn-reads,,mqtt-no-timestamp ").unwrap();
        assert_eq!(
            d.into_iter().collect::<Vec<_>>(),
            [Defect::ModbusTornReads, Defect::MqttNoTimestamp]
        );
        assert!(parse_list("").unwrap().is_empty());
        assert!(parse_list("modbus-torn-reads,nope").is_err());
    }
}
