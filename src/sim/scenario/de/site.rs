//! `site:`: where the meter stands — its tariff region (`nl`, `be`, `fr`; by default the
//! meter's: e-MUCS `be`, other P1 meters `nl`, TIC `fr`) and its location in degrees (by
//! default the middle of the region's country), each value checked where it stands.

use super::values::{Latitude, Longitude, RegionName};
use crate::protocol::MeterKind;
use crate::sim::generator::{Site, TariffRegion};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    #[serde(default)]
    tariff_region: Option<RegionName>,
    #[serde(default)]
    latitude: Option<Latitude>,
    #[serde(default)]
    longitude: Option<Longitude>,
}

impl SiteSpec {
    /// The site of a meter of `kind`: what the file gives, defaults for the rest.
    pub fn site(&self, kind: MeterKind) -> Site {
        let region = self
            .tariff_region
            .as_ref()
            .map_or_else(|| TariffRegion::of(kind), |r| r.0);
        let mut site = Site::in_region(region);
        if let Some(lat) = self.latitude {
            site.latitude_deg = lat.0;
        }
        if let Some(lon) = self.longitude {
            site.longitude_deg = lon.0;
        }
        site
    }
}
