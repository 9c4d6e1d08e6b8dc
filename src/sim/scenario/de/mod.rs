//! The YAML shape of a scenario file and its validation. Every value is checked by its own
//! visitor while yaml_serde is positioned on it, so an error carries the line, column and
//! field path (`load[2].ev.amps`) of the offending value; checks across fields run inside the
//! visitor of the enclosing map (`load[1].pv`: sunrise before sunset) or against the
//! [`Context`] read in a first pass (variant, meter, phases), so they point at the right
//! place too.
//!
//! Layout: this file holds the document structure (the first-pass `Head`, the device
//! settings, the whole `ScenarioFile`) and the `checked_map!` helper; `context.rs` the
//! first-pass context; `values.rs` the checked scalar newtypes; `load.rs` the `load:`
//! items; `faults.rs` the `faults:` items; `wifi.rs` the `device.wifi:` list; `site.rs` the `site:` map; `error.rs`
//! the `SpecError` every check raises.

mod context;
mod error;
mod faults;
mod house;
mod load;
mod mbus;
mod site;
mod values;
mod wifi;

use super::{DeviceSettings, Mqtt, Network, Variant};
use faults::FaultSpec;
pub use house::SetPointSource;
use house::{EventSpec, HouseSpec};
use load::LoadItem;
use mbus::MbusSpec;
use serde::Deserialize;
use site::SiteSpec;
use values::{MeterName, MqttSetting, Name, Phases, PositiveDur, Start};
use wifi::WifiList;

pub(super) use context::{variant_of, with_context, with_phases, Context};

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
use checked_map;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    #[serde(default = "yes")]
    usb_power: bool,
    #[serde(default)]
    network: Network,
    #[serde(default = "embedded")]
    mqtt: MqttSetting,
    #[serde(default)]
    wifi: WifiList,
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
            wifi: WifiList::default(),
        }
    }
}

impl From<DeviceSpec> for DeviceSettings {
    fn from(d: DeviceSpec) -> Self {
        DeviceSettings {
            usb_power: d.usb_power,
            network: d.network,
            mqtt: d.mqtt.0,
            wifi: d.wifi.0,
        }
    }
}

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
    #[serde(default)]
    pub site: SiteSpec,
    pub load: Vec<LoadItem>,
    #[serde(default)]
    pub mbus: MbusSpec,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub device: DeviceSpec,
    #[serde(default)]
    pub house: Option<HouseSpec>,
    #[serde(default)]
    pub setpoint: SetPointSource,
    #[serde(default)]
    pub events: Vec<EventSpec>,
}
