//! The live house in a scenario: `house:` (its starting point: fuse, battery, charger
//! response, base load … in the control API's vocabulary, `sim::house::change`), `setpoint:`
//! (who may move the EV set-point while it runs) and `events:` (changes at times from the
//! start). Each is checked against the meter read in the first pass, and every error names
//! the field: `events[1].ev.amps: must be 0..=80 A, got 99`.

use super::context::context;
use crate::sim::clock::parse_duration;
use crate::sim::house::change::{self, Limits};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// Check a change against the scenario's meter.
fn check(v: &Value) -> Result<(), String> {
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
    .map_err(|e| change::join(&e))
}

/// `house:`: the house's starting point, applied before the first telegram.
pub struct HouseSpec(pub Value);

impl<'de> Deserialize<'de> for HouseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        check(&v).map_err(de::Error::custom)?;
        Ok(HouseSpec(v))
    }
}

/// One `events:` item: `{at: 30m, ev: {amps: 10}}`.
pub struct EventSpec(pub i64, pub Value);

impl<'de> Deserialize<'de> for EventSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Value::deserialize(d)?;
        let Some(m) = v.as_object_mut() else {
            return Err(de::Error::custom("an event is a map {at: 30m, <change>…}"));
        };
        let at = match m.remove("at") {
            Some(Value::String(s)) => parse_duration(&s).map_err(de::Error::custom)?,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "at: a duration such as 90s, 10m or 2h, got {other}"
                )))
            }
            None => return Err(de::Error::custom("at: missing (when, from the start)")),
        };
        check(&v).map_err(de::Error::custom)?;
        Ok(EventSpec(at, v))
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
