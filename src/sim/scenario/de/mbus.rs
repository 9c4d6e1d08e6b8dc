//! `mbus:` — the water and heat meters on the P1 meter's other M-Bus channels (gas is on 1):
//! `{water: {channel, persons}, heat: {channel, annual_gj}}`, each map checked against the
//! file's meter where it stands (no M-Bus on TIC meters, no heat meter on e-MUCS) and the
//! whole map for two devices on one channel.

use super::checked_map;
use super::context::context;
use super::error::SpecError;
use super::values::{AnnualGj, ChannelNum, Persons};
use crate::protocol::dsmr::{HEAT_CHANNEL, WATER_CHANNEL};
use crate::sim::generator::{HeatMeter, MbusMeters, WaterMeter};
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Persons behind a water meter without `persons`.
const DEFAULT_PERSONS: u8 = 2;
/// Yearly heat without `annual_gj`, GJ (a Dutch district-heated home).
const DEFAULT_ANNUAL_GJ: f64 = 25.0;

/// `kind`'s check of `meters` (the meter is known after the first pass; without it the
/// file's `meter:` error comes first).
fn fits(meters: MbusMeters) -> Result<(), SpecError> {
    match context().kind {
        Some(kind) => Ok(meters.check(kind)?),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterRaw {
    #[serde(default)]
    channel: Option<ChannelNum>,
    #[serde(default)]
    persons: Option<Persons>,
}

pub struct WaterSpec(WaterMeter);

impl TryFrom<WaterRaw> for WaterSpec {
    type Error = SpecError;
    fn try_from(r: WaterRaw) -> Result<Self, SpecError> {
        let water = WaterMeter {
            channel: r.channel.map_or(WATER_CHANNEL, |c| c.0),
            persons: r.persons.map_or(DEFAULT_PERSONS, |p| p.0),
        };
        fits(MbusMeters {
            water: Some(water),
            heat: None,
        })?;
        Ok(WaterSpec(water))
    }
}
checked_map!(WaterSpec from WaterRaw, "a water map {[channel, persons]}");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatRaw {
    #[serde(default)]
    channel: Option<ChannelNum>,
    #[serde(default)]
    annual_gj: Option<AnnualGj>,
}

pub struct HeatSpec(HeatMeter);

impl TryFrom<HeatRaw> for HeatSpec {
    type Error = SpecError;
    fn try_from(r: HeatRaw) -> Result<Self, SpecError> {
        let heat = HeatMeter {
            channel: r.channel.map_or(HEAT_CHANNEL, |c| c.0),
            annual_gj: r.annual_gj.map_or(DEFAULT_ANNUAL_GJ, |g| g.0),
        };
        fits(MbusMeters {
            water: None,
            heat: Some(heat),
        })?;
        Ok(HeatSpec(heat))
    }
}
checked_map!(HeatSpec from HeatRaw, "a heat map {[channel, annual_gj]}");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbusRaw {
    #[serde(default)]
    water: Option<WaterSpec>,
    #[serde(default)]
    heat: Option<HeatSpec>,
}

/// The whole `mbus:` map.
#[derive(Default)]
pub struct MbusSpec(pub MbusMeters);

impl TryFrom<MbusRaw> for MbusSpec {
    type Error = SpecError;
    fn try_from(r: MbusRaw) -> Result<Self, SpecError> {
        let meters = MbusMeters {
            water: r.water.map(|w| w.0),
            heat: r.heat.map(|h| h.0),
        };
        fits(meters)?;
        Ok(MbusSpec(meters))
    }
}
checked_map!(MbusSpec from MbusRaw, "an mbus map {[water, heat]}");
