//! Scalar values of a scenario file: the `Num` and `Text` visitors and the `number!` /
//! `text!` newtypes built on them (watts, amps, times of day, durations, meter names, …),
//! each checked as it is read so the error points at the value.

use super::context::{context, names_of, variant_of, with_phases};
use super::error::SpecError;
use crate::protocol::dsmr::{MbusChannel, WATER_CHANNEL};
use crate::protocol::MeterKind;
use crate::sim::clock::{parse_duration, Millis};
use crate::sim::generator::TariffRegion;
use crate::sim::scenario::Mqtt;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

/// A number checked as it is read.
struct Num<T>(&'static str, PhantomData<T>);

impl<'de, T: TryFrom<f64, Error = SpecError>> Visitor<'de> for Num<T> {
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

impl<'de, T: for<'a> TryFrom<&'a str, Error = SpecError>> Visitor<'de> for Text<T> {
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
fn whole(v: f64, lo: f64, hi: f64, rule: &'static str) -> Result<f64, SpecError> {
    if v.fract() != 0.0 || !(lo..=hi).contains(&v) {
        Err(SpecError::OutOfRange { rule, got: v })
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
            type Error = SpecError;
            fn try_from($v: f64) -> Result<Self, SpecError> {
                let v: Result<$t, SpecError> = $check;
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
            type Error = SpecError;
            fn try_from($s: &str) -> Result<Self, SpecError> {
                let v: Result<$t, SpecError> = $check;
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
        Err(SpecError::OutOfRange { rule: "must be at least 0 and below 50000 W", got: v })
    }
);
number!(
    /// Relative noise 0..=1.
    Noise(f64), "a noise fraction between 0 and 1", |v| if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::OutOfRange { rule: "must be between 0 and 1", got: v })
    }
);
number!(
    /// EV charging current 6..=32 A (IEC 61851 limits of a household charger).
    Amps(f64), "a current in A", |v| if (6.0..=32.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::OutOfRange { rule: "must be between 6 and 32 A", got: v })
    }
);
number!(
    /// Phase count of an EV charger: 1 or 3.
    EvPhases(u8), "1 or 3", |v| match v {
        1.0 | 3.0 => Ok(v as u8),
        _ => Err(SpecError::OutOfRange { rule: "must be 1 or 3", got: v }),
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
        Err(SpecError::OutOfRange { rule: "must be between 0 and 4", got: v })
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
            .and_then(|v| if v == 0.0 { Err(SpecError::ZeroSkew) } else { Ok(v as i64) })
    }
);
number!(
    /// The meter's phase count: 1 or 3, and a model of the named meter must have it.
    Phases(u8), "1 or 3", |v| {
        let n = match v {
            1.0 => 1,
            3.0 => 3,
            _ => return Err(SpecError::OutOfRange { rule: "must be 1 or 3", got: v }),
        };
        match context().meter {
            Some(meter) if with_phases(meter, usize::from(n)).is_none() => {
                Err(SpecError::PhasesUnavailable { meter, asked: n })
            }
            _ => Ok(n),
        }
    }
);

number!(
    /// Site latitude, degrees north, −90..=90.
    Latitude(f64), "a latitude in degrees", |v| if (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::OutOfRange { rule: "must be between -90 and 90 degrees", got: v })
    }
);
number!(
    /// Site longitude, degrees east, −180..=180.
    Longitude(f64), "a longitude in degrees", |v| if (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::OutOfRange { rule: "must be between -180 and 180 degrees", got: v })
    }
);

number!(
    /// A water or heat meter's M-Bus channel: 2, 3 or 4 (1 is gas's).
    ChannelNum(MbusChannel), "an M-Bus channel 2, 3 or 4", |v| {
        whole(v, 2.0, 4.0, "must be channel 2, 3 or 4 (1 is the gas meter's)")
            .map(|v| MbusChannel::new(v as u8).unwrap_or(WATER_CHANNEL))
    }
);
number!(
    /// People in the household behind a water meter, 1..=8.
    Persons(u8), "a number of persons", |v| {
        whole(v, 1.0, 8.0, "must be a whole number of persons from 1 to 8").map(|v| v as u8)
    }
);
number!(
    /// Yearly heat use of a district-heated home, 1..=200 GJ.
    AnnualGj(f64), "a heat use in GJ a year", |v| if (1.0..=200.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::OutOfRange { rule: "must be between 1 and 200 GJ a year", got: v })
    }
);

text!(
    /// A tariff region `nl`, `be` or `fr` that the file's meter can run.
    RegionName(TariffRegion), "a tariff region", |s| {
        let r = TariffRegion::from_name(s)
            .ok_or_else(|| SpecError::UnknownRegion { name: s.to_string() })?;
        match context().kind {
            Some(meter) if !r.fits(meter) => Err(SpecError::RegionMeter { region: r, meter }),
            _ => Ok(r),
        }
    }
);
text!(
    /// A scenario name: non-empty.
    Name(String), "a name", |s| if s.trim().is_empty() {
        Err(SpecError::EmptyName)
    } else {
        Ok(s.to_string())
    }
);
text!(
    /// A meter name (`MeterKind::from_name`), of the file's variant.
    MeterName(MeterKind), "a meter name", |s| {
        let k = MeterKind::from_name(s).ok_or_else(|| SpecError::UnknownMeter {
            name: s.to_string(),
        })?;
        match context().variant {
            Some(v) if v != variant_of(k) => Err(SpecError::WrongVariant {
                name: s.to_string(),
                meter_variant: variant_of(k),
                variant: v,
                names: names_of(v),
            }),
            _ => Ok(k),
        }
    }
);
text!(
    /// A duration `90s`, `10m`, `1h30m` (`clock::parse_duration`), ≥ 0.
    Dur(i64), "a duration such as 90s, 10m or 2h", |s| Ok(parse_duration(s)?)
);
text!(
    /// A local time of day `HH:MM` → minutes after midnight.
    ClockTime(u32), "a time of day HH:MM", |s| {
        let bad = || SpecError::ClockTime { text: s.to_string() };
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
            .map_err(|source| SpecError::Start { text: s.to_string(), source })
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
                Err(SpecError::MqttSetting { text: url.to_string() })
            }
        }
    }
);

text!(
    /// A duration above zero.
    PositiveDur(i64), "a duration such as 90s, 10m or 2h", |s| match parse_duration(s)? {
        0 => Err(SpecError::ZeroDuration),
        ms => Ok(ms),
    }
);

text!(
    /// A Wi-Fi network name, 1..=32 bytes (`network::check_ssid`).
    Ssid(String), "a Wi-Fi network name (SSID)", |s| {
        crate::device::network::check_ssid(s)?;
        Ok(s.to_string())
    }
);
text!(
    /// A WPA2 password: empty (an open network) or 8..=63 printable ASCII characters.
    Psk(String), "a WPA2 password", |s| {
        crate::device::config::check_wpa_psk(s)?;
        Ok(s.to_string())
    }
);
