//! The live house in a scenario: `house:` (its starting point: fuse, battery, charger
//! response, base load … in the control API's vocabulary, `sim::house::change`), `setpoint:`
//! (who may move the EV set-point while it runs) and `events:` (changes at times from the
//! start). Each is checked against the meter read in the first pass, and every error names
//! the field: `events[1].ev.amps: must be 0..=80 A, got 99`.

use super::context::context;
use super::error::SpecError;
use crate::sim::clock::parse_duration;
use crate::sim::house::change::{self, Limits};
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// Check a change against the scenario's meter.
fn check(v: &Value) -> Result<(), SpecError> {
    let ctx = context();
    let Some(meter) = ctx.kind.or(ctx.meter) else {
        // The meter itself is wrong; that error is reported where it stands.
        return Ok(());
    };
    change::parse(
        v,
        Limits {
            phases: meter.phases(),
            meter,
        },
    )
    .map(|_| ())
    .map_err(SpecError::Change)
}

/// Read a map as JSON inside the map's visitor, so an error raised by `then` points at the map.
fn map_value<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    then: fn(Value) -> Result<T, SpecError>,
) -> Result<T, D::Error> {
    struct V<T> {
        expecting: &'static str,
        then: fn(Value) -> Result<T, SpecError>,
    }
    impl<'de, T> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let v = Value::deserialize(MapAccessDeserializer::new(map))?;
            (self.then)(v).map_err(de::Error::custom)
        }
    }
    d.deserialize_map(V { expecting, then })
}

/// `house:`: the house's starting point, applied before the first telegram.
pub struct HouseSpec(pub Value);

impl<'de> Deserialize<'de> for HouseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        map_value(
            d,
            "a map of house settings {fuse, base, pv, ev, battery}",
            |v| {
                check(&v)?;
                Ok(HouseSpec(v))
            },
        )
    }
}

/// One `events:` item: `{at: 30m, ev: {amps: 10}}`.
pub struct EventSpec(pub i64, pub Value);

impl<'de> Deserialize<'de> for EventSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        map_value(d, "an event map {at: 30m, <change>…}", |mut v| {
            let m = v.as_object_mut().ok_or(SpecError::EventNotMap)?;
            let at = match m.remove("at") {
                Some(Value::String(s)) => parse_duration(&s).map_err(SpecError::EventAt)?,
                Some(got) => return Err(SpecError::EventAtNotText { got }),
                None => return Err(SpecError::EventAtMissing),
            };
            check(&v)?;
            Ok(EventSpec(at, v))
        })
    }
}

/// `setpoint:`: which control surface may move the EV set-point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetPointSource {
    /// Any of them (the default).
    #[default]
    Any,
    Http,
    Modbus,
    Mqtt,
    /// Only the scenario's own events.
    Events,
}

impl SetPointSource {
    pub fn name(self) -> &'static str {
        match self {
            SetPointSource::Any => "any",
            SetPointSource::Http => "http",
            SetPointSource::Modbus => "modbus",
            SetPointSource::Mqtt => "mqtt",
            SetPointSource::Events => "events",
        }
    }
}
