//! The YAML shape of a scenario file and its validation. Every value is checked by its own
//! visitor while serde_yaml is positioned on it, so an error carries the line, column and
//! field path (`load[2].ev.amps`) of the offending value; checks across fields run inside the
//! visitor of the enclosing map (`load[1].pv`: sunrise before sunset) or against the
//! [`Context`] read in a first pass (variant, meter, phases), so they point at the right
//! place too.

use super::{DeviceSettings, Mqtt, Network, Variant};
use crate::protocol::dsmr::DsmrKind;
use crate::protocol::tic::TicKind;
use crate::protocol::MeterKind;
use crate::sim::clock::{parse_duration, Millis};
use crate::sim::faults::{Fault, FaultKind};
use crate::sim::generator::LoadComponent;
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

// ---------------------------------------------------------------------------------------
// Context from the first pass.

/// What the first pass learnt about the file: the checks of later values depend on it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Context {
    pub variant: Option<Variant>,
    /// The meter as named.
    pub meter: Option<MeterKind>,
    /// The meter after `phases` picked the one- or three-phase model.
    pub kind: Option<MeterKind>,
}

thread_local! {
    static CONTEXT: Cell<Context> = Cell::new(Context::default());
}

fn context() -> Context {
    CONTEXT.with(Cell::get)
}

/// Run `f` with `ctx` visible to the visitors (restored afterwards, even on panic).
pub(super) fn with_context<T>(ctx: Context, f: impl FnOnce() -> T) -> T {
    struct Restore(Context);
    impl Drop for Restore {
        fn drop(&mut self) {
            CONTEXT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CONTEXT.with(|c| c.replace(ctx)));
    f()
}

/// The fields the first pass reads (everything else is ignored then).
#[derive(Deserialize)]
#[serde(rename = "Scenario")]
pub(super) struct Head {
    #[serde(default)]
    pub variant: Option<Variant>,
    #[serde(default)]
    pub meter: Option<MeterName>,
    #[serde(default)]
    pub phases: Option<Phases>,
}

/// The same meter model with `phases` phases, if there is one.
pub(super) fn with_phases(k: MeterKind, phases: usize) -> Option<MeterKind> {
    use MeterKind::{Dsmr, Tic};
    if k.phases() == phases {
        return Some(k);
    }
    Some(match k {
        Dsmr(DsmrKind::Smr5ThreePhase) => Dsmr(DsmrKind::Smr5OnePhase),
        Dsmr(DsmrKind::Smr5OnePhase) => Dsmr(DsmrKind::Smr5ThreePhase),
        Tic(TicKind::HistoricMono) => Tic(TicKind::HistoricTri),
        Tic(TicKind::HistoricTri) => Tic(TicKind::HistoricMono),
        Tic(TicKind::StandardMono) => Tic(TicKind::StandardTri),
        Tic(TicKind::StandardTri) => Tic(TicKind::StandardMono),
        Tic(TicKind::StandardMonoProducer) => Tic(TicKind::StandardTriProducer),
        Tic(TicKind::StandardTriProducer) => Tic(TicKind::StandardMonoProducer),
        Dsmr(DsmrKind::Dsmr42 | DsmrKind::Emucs) => return None,
    })
}

pub(super) fn variant_of(k: MeterKind) -> Variant {
    match k {
        MeterKind::Dsmr(_) => Variant::P1,
        MeterKind::Tic(_) => Variant::Tic,
    }
}

fn names_of(v: Variant) -> String {
    MeterKind::all()
        .filter(|k| variant_of(*k) == v)
        .map(MeterKind::name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// Scalars.

/// A number checked as it is read.
struct Num<T>(&'static str, PhantomData<T>);

impl<'de, T: TryFrom<f64, Error = String>> Visitor<'de> for Num<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        T::try_from(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_f64(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_f64(v as f64)
    }
}

/// A string checked as it is read.
struct Text<T>(&'static str, PhantomData<T>);

impl<'de, T: for<'a> TryFrom<&'a str, Error = String>> Visitor<'de> for Text<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::try_from(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v.to_string().as_str()).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v.to_string().as_str()).map_err(E::custom)
    }
}

/// A whole number in `range`, or why not.
fn whole(v: f64, lo: f64, hi: f64, what: &str) -> Result<f64, String> {
    if v.fract() != 0.0 || !(lo..=hi).contains(&v) {
        Err(format!("{what}, got {v}"))
    } else {
        Ok(v)
    }
}

/// Newtypes read from a YAML number: `name(type), "expecting", |v| check`.
macro_rules! number {
    ($(#[$m:meta])* $name:ident($t:ty), $expecting:literal, |$v:ident| $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name(pub $t);
        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from($v: f64) -> Result<Self, String> {
                let v: Result<$t, String> = $check;
                v.map($name)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Num::<$name>($expecting, PhantomData))
            }
        }
    };
}

/// Newtypes read from a YAML string: `name(type), "expecting", |s| check`.
macro_rules! text {
    ($(#[$m:meta])* $name:ident($t:ty), $expecting:literal, |$s:ident| $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub $t);
        impl TryFrom<&str> for $name {
            type Error = String;
            fn try_from($s: &str) -> Result<Self, String> {
                let v: Result<$t, String> = $check;
                v.map($name)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Text::<$name>($expecting, PhantomData))
            }
        }
    };
}

number!(
    /// Power, W: 0 ≤ watts < 50 kW.
    Watts(f64), "a power in W", |v| if (0.0..50_000.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be at least 0 and below 50000 W, got {v}"))
    }
);
number!(
    /// Relative noise 0..=1.
    Noise(f64), "a noise fraction between 0 and 1", |v| if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between 0 and 1, got {v}"))
    }
);
number!(
    /// EV charging current 6..=32 A (IEC 61851 limits of a household charger).
    Amps(f64), "a current in A", |v| if (6.0..=32.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between 6 and 32 A, got {v}"))
    }
);
number!(
    /// Phase count of an EV charger: 1 or 3.
    EvPhases(u8), "1 or 3", |v| match v {
        1.0 | 3.0 => Ok(v as u8),
        _ => Err(format!("must be 1 or 3, got {v}")),
    }
);
number!(
    /// Charging time, whole minutes 1..=1440.
    Minutes(u32), "a number of minutes", |v| {
        whole(v, 1.0, 1440.0, "must be whole minutes from 1 to 1440").map(|v| v as u32)
    }
);
number!(
    /// Imbalance factor per phase, 0..=4.
    Factor(f64), "a factor between 0 and 4", |v| if (0.0..=4.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between 0 and 4, got {v}"))
    }
);
number!(
    /// Bytes of noise or garbage, 1..=4096.
    ByteCount(usize), "a number of bytes", |v| {
        whole(v, 1.0, 4096.0, "must be a whole number of bytes from 1 to 4096").map(|v| v as usize)
    }
);
number!(
    /// Clock skew in whole seconds, non-zero, at most a year either way.
    SkewSeconds(i64), "a number of seconds", |v| {
        whole(v, -31_536_000.0, 31_536_000.0, "must be whole seconds within a year")
            .and_then(|v| if v == 0.0 { Err("must not be 0".to_string()) } else { Ok(v as i64) })
    }
);
number!(
    /// The meter's phase count: 1 or 3, and a model of the named meter must have it.
    Phases(u8), "1 or 3", |v| {
        let n = match v {
            1.0 => 1,
            3.0 => 3,
            _ => return Err(format!("must be 1 or 3, got {v}")),
        };
        match context().meter {
            Some(k) if with_phases(k, usize::from(n)).is_none() => Err(format!(
                "meter {} has {} phases only; {n} is not available",
                k.name(),
                k.phases()
            )),
            _ => Ok(n),
        }
    }
);

text!(
    /// A scenario name: non-empty.
    Name(String), "a name", |s| if s.trim().is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(s.to_string())
    }
);
text!(
    /// A meter name (`MeterKind::from_name`), of the file's variant.
    MeterName(MeterKind), "a meter name", |s| {
        let k = MeterKind::from_name(s).ok_or_else(|| {
            format!("unknown meter `{s}`; valid meters: {}", MeterKind::names())
        })?;
        match context().variant {
            Some(v) if v != variant_of(k) => Err(format!(
                "`{s}` is a {} meter but variant is {}; {} meters: {}",
                variant_of(k).label(),
                v.as_str(),
                v.label(),
                names_of(v)
            )),
            _ => Ok(k),
        }
    }
);
text!(
    /// A duration `90s`, `10m`, `1h30m` (`clock::parse_duration`), ≥ 0.
    Dur(i64), "a duration such as 90s, 10m or 2h", |s| parse_duration(s)
);
text!(
    /// A local time of day `HH:MM` → minutes after midnight.
    ClockTime(u32), "a time of day HH:MM", |s| {
        let bad = || format!("`{s}` is not a time of day HH:MM (00:00 to 23:59)");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        match (h.parse::<u32>(), m.parse::<u32>()) {
            (Ok(h), Ok(m)) if h < 24 && m < 60 => Ok(h * 60 + m),
            _ => Err(bad()),
        }
    }
);
text!(
    /// An RFC 3339 time with its UTC offset → UTC epoch ms.
    Start(Millis), "an RFC 3339 time with offset", |s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|e| {
                format!("`{s}` is not an RFC 3339 time with offset such as 2026-03-29T00:30:00+01:00 ({e})")
            })
    }
);
text!(
    /// `embedded`, `off` or a broker URL.
    MqttSetting(Mqtt), "embedded, off or a broker URL", |s| match s {
        "embedded" => Ok(Mqtt::Embedded),
        "off" => Ok(Mqtt::Off),
        url => {
            let ok = url.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "mqtt" | "mqtts" | "tcp" | "ssl" | "ws" | "wss")
                    && !rest.is_empty()
                    && !rest.starts_with(':')
                    && !rest.starts_with('/')
                    && !rest.contains(char::is_whitespace)
            });
            if ok {
                Ok(Mqtt::Url(url.to_string()))
            } else {
                Err(format!(
                    "`{url}` is not embedded, off or a broker URL (mqtt://host:1883, mqtts://host:8883)"
                ))
            }
        }
    }
);

// ---------------------------------------------------------------------------------------
// Maps checked as a whole.

/// A struct deserialized from its `Raw` form and checked inside the map's visitor, so the
/// error points at the map.
macro_rules! checked_map {
    ($name:ident from $raw:ident, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$name, A::Error> {
                        let raw = $raw::deserialize(MapAccessDeserializer::new(map))?;
                        $name::try_from(raw).map_err(de::Error::custom)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseSpec {
    watts: Watts,
    #[serde(default = "no_noise")]
    noise: Noise,
}

fn no_noise() -> Noise {
    Noise(0.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PvRaw {
    peak_watts: Watts,
    sunrise: ClockTime,
    sunset: ClockTime,
}

pub struct PvSpec(LoadComponent);

impl TryFrom<PvRaw> for PvSpec {
    type Error = String;
    fn try_from(r: PvRaw) -> Result<Self, String> {
        if r.sunrise.0 >= r.sunset.0 {
            return Err(format!(
                "sunrise {} must be before sunset {}",
                hhmm(r.sunrise.0),
                hhmm(r.sunset.0)
            ));
        }
        Ok(PvSpec(LoadComponent::Pv {
            peak_watts: r.peak_watts.0,
            sunrise_min: r.sunrise.0,
            sunset_min: r.sunset.0,
        }))
    }
}
checked_map!(PvSpec from PvRaw, "a pv map {peak_watts, sunrise, sunset}");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvRaw {
    start: ClockTime,
    amps: Amps,
    #[serde(default = "one_phase")]
    phases: EvPhases,
    minutes: Minutes,
}

fn one_phase() -> EvPhases {
    EvPhases(1)
}

pub struct EvSpec(LoadComponent);

impl TryFrom<EvRaw> for EvSpec {
    type Error = String;
    fn try_from(r: EvRaw) -> Result<Self, String> {
        let end = r.start.0 + r.minutes.0;
        if end > 1440 {
            return Err(format!(
                "the charging window {} + {} min ends after midnight; it must lie within a day",
                hhmm(r.start.0),
                r.minutes.0
            ));
        }
        if let Some(k) = context().kind {
            if usize::from(r.phases.0) > k.phases() {
                return Err(format!(
                    "phases {} but meter {} has {} phase",
                    r.phases.0,
                    k.name(),
                    k.phases()
                ));
            }
        }
        Ok(EvSpec(LoadComponent::Ev {
            start_min: r.start.0,
            amps: r.amps.0,
            phases: r.phases.0,
            minutes: r.minutes.0,
        }))
    }
}
checked_map!(EvSpec from EvRaw, "an ev map {start, amps, phases, minutes}");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImbalanceSpec {
    l1: Factor,
    l2: Factor,
    l3: Factor,
}

fn hhmm(min: u32) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

/// One `load:` item: a map with exactly one key, `base`, `pv`, `ev` or `imbalance`.
pub struct LoadItem(pub LoadComponent);

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum LoadKey {
    Base,
    Pv,
    Ev,
    Imbalance,
}

impl<'de> Deserialize<'de> for LoadItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LoadItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map with one key: base, pv, ev or imbalance")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LoadItem, A::Error> {
                let Some(key) = map.next_key::<LoadKey>()? else {
                    return Err(de::Error::custom(
                        "empty load item: expected base, pv, ev or imbalance",
                    ));
                };
                let c = match key {
                    LoadKey::Base => {
                        let b: BaseSpec = map.next_value()?;
                        LoadComponent::Base {
                            watts: b.watts.0,
                            noise: b.noise.0,
                        }
                    }
                    LoadKey::Pv => map.next_value::<PvSpec>()?.0,
                    LoadKey::Ev => map.next_value::<EvSpec>()?.0,
                    LoadKey::Imbalance => {
                        let i: ImbalanceSpec = map.next_value()?;
                        LoadComponent::Imbalance {
                            l1: i.l1.0,
                            l2: i.l2.0,
                            l3: i.l3.0,
                        }
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one component per load item: `{extra}` needs its own `- {extra}: …` item"
                    )));
                }
                Ok(LoadItem(c))
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------
// Faults.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultName {
    BadCrc,
    Truncate,
    Noise,
    Garbage,
    Dropout,
    Incompatible,
    ClockSkew,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRaw {
    at: Dur,
    kind: FaultName,
    #[serde(default)]
    duration: Option<Dur>,
    #[serde(default)]
    bytes: Option<ByteCount>,
    #[serde(default)]
    seconds: Option<SkewSeconds>,
}

pub struct FaultSpec(pub Fault);

impl TryFrom<FaultRaw> for FaultSpec {
    type Error = String;
    fn try_from(r: FaultRaw) -> Result<Self, String> {
        let (name, needs) = match r.kind {
            FaultName::Dropout => ("dropout", Some("duration")),
            FaultName::Noise => ("noise", Some("bytes")),
            FaultName::Garbage => ("garbage", Some("bytes")),
            FaultName::ClockSkew => ("clock_skew", Some("seconds")),
            FaultName::BadCrc => ("bad_crc", None),
            FaultName::Truncate => ("truncate", None),
            FaultName::Incompatible => ("incompatible", None),
        };
        let given = [
            ("duration", r.duration.is_some()),
            ("bytes", r.bytes.is_some()),
            ("seconds", r.seconds.is_some()),
        ];
        for (field, present) in given {
            if present && needs != Some(field) {
                return Err(format!("`{field}` does not apply to kind {name}"));
            }
            if !present && needs == Some(field) {
                return Err(format!("kind {name} needs `{field}`"));
            }
        }
        let kind = match r.kind {
            FaultName::BadCrc => FaultKind::BadCrc,
            FaultName::Truncate => FaultKind::Truncate,
            FaultName::Noise => FaultKind::Noise {
                bytes: r.bytes.map_or(0, |b| b.0),
            },
            FaultName::Garbage => FaultKind::Garbage {
                bytes: r.bytes.map_or(0, |b| b.0),
            },
            FaultName::Dropout => {
                let d = r.duration.map_or(0, |d| d.0);
                if d == 0 {
                    return Err("a dropout needs a duration above 0".to_string());
                }
                FaultKind::Dropout { duration_ms: d }
            }
            FaultName::Incompatible => {
                if let Some(k @ MeterKind::Tic(_)) = context().kind {
                    return Err(format!(
                        "kind incompatible (a DSMR 2.2 telegram) needs a P1 meter; {} is a TIC meter",
                        k.name()
                    ));
                }
                FaultKind::Incompatible
            }
            FaultName::ClockSkew => FaultKind::ClockSkew {
                seconds: r.seconds.map_or(0, |s| s.0),
            },
        };
        Ok(FaultSpec(Fault {
            at_ms: r.at.0,
            kind,
        }))
    }
}
checked_map!(FaultSpec from FaultRaw, "a fault map {at, kind, …}");

// ---------------------------------------------------------------------------------------
// Device and the whole file.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    #[serde(default = "yes")]
    usb_power: bool,
    #[serde(default)]
    network: Network,
    #[serde(default = "embedded")]
    mqtt: MqttSetting,
}

fn yes() -> bool {
    true
}

fn embedded() -> MqttSetting {
    MqttSetting(Mqtt::Embedded)
}

impl Default for DeviceSpec {
    fn default() -> Self {
        DeviceSpec {
            usb_power: true,
            network: Network::default(),
            mqtt: embedded(),
        }
    }
}

impl From<DeviceSpec> for DeviceSettings {
    fn from(d: DeviceSpec) -> Self {
        DeviceSettings {
            usb_power: d.usb_power,
            network: d.network,
            mqtt: d.mqtt.0,
        }
    }
}

text!(
    /// A duration above zero.
    PositiveDur(i64), "a duration such as 90s, 10m or 2h", |s| match parse_duration(s)? {
        0 => Err("must be longer than 0".to_string()),
        ms => Ok(ms),
    }
);

/// The whole file.
#[derive(Deserialize)]
#[serde(rename = "Scenario", deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Name,
    pub seed: u64,
    #[serde(default)]
    pub variant: Option<Variant>,
    pub meter: MeterName,
    #[serde(default)]
    pub phases: Option<Phases>,
    pub duration: PositiveDur,
    pub start: Start,
    pub load: Vec<LoadItem>,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub device: DeviceSpec,
}
