//! The `load:` list: one component per item (`base`, `pv`, `ev`, `imbalance`), each map
//! checked as a whole (sunrise and sunset together and in order, a charging window within a day and within
//! the meter's phases) into a `LoadComponent`.

use super::checked_map;
use super::context::context;
use super::error::SpecError;
use super::values::{Amps, ClockTime, EvPhases, Factor, Minutes, Noise, Watts};
use crate::sim::generator::LoadComponent;
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

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
    #[serde(default)]
    sunrise: Option<ClockTime>,
    #[serde(default)]
    sunset: Option<ClockTime>,
}

pub struct PvSpec(LoadComponent);

impl TryFrom<PvRaw> for PvSpec {
    type Error = SpecError;
    fn try_from(r: PvRaw) -> Result<Self, SpecError> {
        let peak_watts = r.peak_watts.0;
        match (r.sunrise, r.sunset) {
            (None, None) => Ok(PvSpec(LoadComponent::Pv { peak_watts })),
            (Some(rise), Some(set)) if rise.0 >= set.0 => Err(SpecError::SunriseAfterSunset {
                sunrise_min: rise.0,
                sunset_min: set.0,
            }),
            (Some(rise), Some(set)) => Ok(PvSpec(LoadComponent::PvWindow {
                peak_watts,
                sunrise_min: rise.0,
                sunset_min: set.0,
            })),
            _ => Err(SpecError::SunTimesAlone),
        }
    }
}
checked_map!(PvSpec from PvRaw, "a pv map {peak_watts[, sunrise, sunset]}");

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
    type Error = SpecError;
    fn try_from(r: EvRaw) -> Result<Self, SpecError> {
        let end = r.start.0 + r.minutes.0;
        if end > 1440 {
            return Err(SpecError::ChargeAfterMidnight {
                start_min: r.start.0,
                minutes: r.minutes.0,
            });
        }
        if let Some(meter) = context().kind {
            if usize::from(r.phases.0) > meter.phases() {
                return Err(SpecError::EvPhases {
                    phases: r.phases.0,
                    meter,
                });
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
