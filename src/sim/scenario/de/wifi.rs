//! `device.wifi:`: the Wi-Fi networks in range of the device (2.4 GHz, the simulated LAN's),
//! each `{ssid, psk, dhcp}` with its values checked where they stand; two networks of one
//! name are refused at the list.

use super::values::{Psk, Ssid};
use crate::sim::scenario::WifiSetting;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WifiItem {
    ssid: Ssid,
    #[serde(default = "open")]
    psk: Psk,
    #[serde(default = "yes")]
    dhcp: bool,
}

fn open() -> Psk {
    Psk(String::new())
}

fn yes() -> bool {
    true
}

/// The list, in order.
#[derive(Default)]
pub struct WifiList(pub Vec<WifiSetting>);

impl<'de> Deserialize<'de> for WifiList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WifiList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of Wi-Fi networks {ssid, psk, dhcp}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WifiList, A::Error> {
                let mut out: Vec<WifiSetting> = Vec::new();
                while let Some(w) = seq.next_element::<WifiItem>()? {
                    if out.iter().any(|o| o.ssid == w.ssid.0) {
                        return Err(de::Error::custom(format!(
                            "Wi-Fi network {:?} is listed twice",
                            w.ssid.0
                        )));
                    }
                    out.push(WifiSetting {
                        ssid: w.ssid.0,
                        psk: w.psk.0,
                        dhcp: w.dhcp,
                    });
                }
                Ok(WifiList(out))
            }
        }
        d.deserialize_seq(V)
    }
}
