//! Why a value or a map of a scenario file is refused: `SpecError`, raised by the checked
//! newtypes and maps of this module while yaml_serde stands on the value, so the reader's
//! error (`ScenarioError`) adds the file, line, column and field path in front of this text.

use crate::device::config::ValueError;
use crate::device::network::SsidError;
use crate::protocol::MeterKind;
use crate::sim::clock::DurationError;
use crate::sim::scenario::Variant;

/// One refused value or map; the text names the rule and, where there is one, the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// A number outside its rule (`rule` such as "must be between 6 and 32 A").
    #[error("{rule}, got {got}")]
    OutOfRange { rule: &'static str, got: f64 },
    #[error("must not be 0")]
    ZeroSkew,
    #[error("must be longer than 0")]
    ZeroDuration,
    #[error("must not be empty")]
    EmptyName,
    #[error("meter {} has {} phases only; {asked} is not available", .meter.name(), .meter.phases())]
    PhasesUnavailable { meter: MeterKind, asked: u8 },
    #[error("unknown meter `{name}`; valid meters: {}", MeterKind::names())]
    UnknownMeter { name: String },
    #[error(
        "`{name}` is a {} meter but variant is {}; {} meters: {names}",
        .meter_variant.label(), .variant.as_str(), .variant.label()
    )]
    WrongVariant {
        name: String,
        meter_variant: Variant,
        variant: Variant,
        /// The meters of `variant`, comma-separated.
        names: String,
    },
    #[error("unknown tariff region `{name}`; valid regions: nl, be, fr, fr-hc")]
    UnknownRegion { name: String },
    #[error(
        "tariff region {} does not fit meter {}: nl and be need a P1 meter (two tariffs), fr a TIC meter",
        .region.name(), .meter.name()
    )]
    RegionMeter {
        region: crate::sim::generator::TariffRegion,
        meter: MeterKind,
    },
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error(transparent)]
    Mbus(#[from] crate::sim::generator::MbusError),
    #[error("`{text}` is not a time of day HH:MM (00:00 to 23:59)")]
    ClockTime { text: String },
    #[error(
        "`{text}` is not an RFC 3339 time with offset such as 2026-03-29T00:30:00+01:00 ({source})"
    )]
    Start {
        text: String,
        #[source]
        source: chrono::ParseError,
    },
    #[error("`{text}` is not embedded, off or a broker URL (mqtt://host:1883, mqtts://host:8883)")]
    MqttSetting { text: String },
    #[error(transparent)]
    Ssid(#[from] SsidError),
    #[error(transparent)]
    Psk(#[from] ValueError),
    /// `house:` or an event's change, refused by `sim::house::change` (its fields joined).
    #[error("{}", crate::sim::house::change::join(.0))]
    Change(Vec<crate::sim::house::change::FieldError>),
    #[error("an event is a map {{at: 30m, <change>…}}")]
    EventNotMap,
    #[error("at: {0}")]
    EventAt(#[source] DurationError),
    #[error("at: a duration such as 90s, 10m or 2h, got {got}")]
    EventAtNotText { got: serde_json::Value },
    #[error("at: missing (when, from the start)")]
    EventAtMissing,
    #[error("sunrise {} must be before sunset {}", hhmm(*.sunrise_min), hhmm(*.sunset_min))]
    SunriseAfterSunset { sunrise_min: u32, sunset_min: u32 },
    #[error("give sunrise and sunset together (a fixed sun window), or neither (PV follows the sun at the site)")]
    SunTimesAlone,
    #[error(
        "the charging window {} + {minutes} min ends after midnight; it must lie within a day",
        hhmm(*.start_min)
    )]
    ChargeAfterMidnight { start_min: u32, minutes: u32 },
    #[error("phases {phases} but meter {} has {} phase", .meter.name(), .meter.phases())]
    EvPhases { phases: u8, meter: MeterKind },
    #[error("`{field}` does not apply to kind {kind}")]
    FaultFieldExtra {
        field: &'static str,
        kind: &'static str,
    },
    #[error("kind {kind} needs `{field}`")]
    FaultFieldMissing {
        field: &'static str,
        kind: &'static str,
    },
    #[error("a dropout needs a duration above 0")]
    ZeroDropout,
    #[error(
        "kind incompatible (a DSMR 2.2 telegram) needs a P1 meter; {} is a TIC meter",
        .meter.name()
    )]
    IncompatibleOnTic { meter: MeterKind },
}

/// Minutes after midnight as `HH:MM`.
pub(super) fn hhmm(min: u32) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}
