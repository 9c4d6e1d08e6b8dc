//! The normalised meter reading that every protocol parser produces and every output
//! (Modbus registers, MQTT payload, `parse`/`replay` JSON) consumes. JSON key names follow
//! design §6: units in the name, `null` for what the telegram lacks.

use serde::{Deserialize, Serialize};

/// Which wire protocol a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// DSMR 4.x / SMR 5.x (NL) and e-MUCS (BE) P1 telegrams.
    Dsmr,
    /// Linky TIC historic mode (1200 Bd).
    TicHistoric,
    /// Linky TIC standard mode (9600 Bd).
    TicStandard,
}

impl Protocol {
    /// The name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Dsmr => "dsmr",
            Protocol::TicHistoric => "tic-historic",
            Protocol::TicStandard => "tic-standard",
        }
    }
}

/// Cumulative registers (only in `parse`/`replay` output; never in the MQTT payload, MQ-09).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Energy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_t1_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_t2_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_t1_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_t2_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_m3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub water_m3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heat_gj: Option<f64>,
}

impl Energy {
    /// True when no cumulative register was present.
    pub fn is_empty(&self) -> bool {
        *self == Energy::default()
    }
}

/// One telegram's worth of instantaneous values. Phases are indexed 0..3 for L1..L3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ReadingRecord", from = "ReadingRecord")]
pub struct Reading {
    /// Telegram time as UTC Unix epoch seconds; `None` when the telegram has no usable time.
    pub timestamp: Option<i64>,
    pub protocol: Protocol,
    /// e.g. `5.0`, `4.2`, `e-MUCS 50217`, `TIC V2`, `TIC historic`.
    pub version: Option<String>,
    /// Equipment identifier (DSMR 0-0:96.1.1 decoded from hex, TIC ADCO/ADSC).
    pub meter_id: Option<String>,
    pub voltage_v: [Option<f32>; 3],
    pub current_a: [Option<f32>; 3],
    /// Total active power, W: import positive, export negative.
    pub active_power_w: Option<f32>,
    /// Per-phase active power, W: signed for DSMR; TIC apparent power (never negative).
    pub active_power_phase_w: [Option<f32>; 3],
    /// Delivered (import) total, W, ≥ 0.
    pub power_import_w: Option<f32>,
    /// Received (export) total, W, ≥ 0.
    pub power_export_w: Option<f32>,
    /// TIC STGE bit 9: the meter counts negative active energy (consumer meter exporting).
    pub exporting: Option<bool>,
    pub energy: Energy,
}

impl Reading {
    /// An empty reading of the given protocol: every value `None`.
    pub fn empty(protocol: Protocol) -> Self {
        Reading {
            timestamp: None,
            protocol,
            version: None,
            meter_id: None,
            voltage_v: [None; 3],
            current_a: [None; 3],
            active_power_w: None,
            active_power_phase_w: [None; 3],
            power_import_w: None,
            power_export_w: None,
            exporting: None,
            energy: Energy::default(),
        }
    }
}

/// The flat JSON shape of a [`Reading`] (design §6 key names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingRecord {
    pub timestamp: Option<i64>,
    pub protocol: Protocol,
    pub version: Option<String>,
    pub meter_id: Option<String>,
    pub voltage_l1_v: Option<f32>,
    pub voltage_l2_v: Option<f32>,
    pub voltage_l3_v: Option<f32>,
    pub current_l1_a: Option<f32>,
    pub current_l2_a: Option<f32>,
    pub current_l3_a: Option<f32>,
    pub active_power_w: Option<f32>,
    pub active_power_l1_w: Option<f32>,
    pub active_power_l2_w: Option<f32>,
    pub active_power_l3_w: Option<f32>,
    pub power_import_w: Option<f32>,
    pub power_export_w: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporting: Option<bool>,
    #[serde(default, skip_serializing_if = "Energy::is_empty")]
    pub energy: Energy,
}

impl From<Reading> for ReadingRecord {
    fn from(r: Reading) -> Self {
        let [voltage_l1_v, voltage_l2_v, voltage_l3_v] = r.voltage_v;
        let [current_l1_a, current_l2_a, current_l3_a] = r.current_a;
        let [active_power_l1_w, active_power_l2_w, active_power_l3_w] = r.active_power_phase_w;
        ReadingRecord {
            timestamp: r.timestamp,
            protocol: r.protocol,
            version: r.version,
            meter_id: r.meter_id,
            voltage_l1_v,
            voltage_l2_v,
            voltage_l3_v,
            current_l1_a,
            current_l2_a,
            current_l3_a,
            active_power_w: r.active_power_w,
            active_power_l1_w,
            active_power_l2_w,
            active_power_l3_w,
            power_import_w: r.power_import_w,
            power_export_w: r.power_export_w,
            exporting: r.exporting,
            energy: r.energy,
        }
    }
}

impl From<ReadingRecord> for Reading {
    fn from(r: ReadingRecord) -> Self {
        Reading {
            timestamp: r.timestamp,
            protocol: r.protocol,
            version: r.version,
            meter_id: r.meter_id,
            voltage_v: [r.voltage_l1_v, r.voltage_l2_v, r.voltage_l3_v],
            current_a: [r.current_l1_a, r.current_l2_a, r.current_l3_a],
            active_power_w: r.active_power_w,
            active_power_phase_w: [
                r.active_power_l1_w,
                r.active_power_l2_w,
                r.active_power_l3_w,
            ],
            power_import_w: r.power_import_w,
            power_export_w: r.power_export_w,
            exporting: r.exporting,
            energy: r.energy,
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_design_keys_and_nulls() {
        let mut r = Reading::empty(Protocol::Dsmr);
        r.voltage_v[0] = Some(230.0);
        r.active_power_w = Some(-1500.0);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["protocol"], "dsmr");
        assert_eq!(v["voltage_l1_v"], 230.0);
        assert!(v["voltage_l2_v"].is_null());
        assert_eq!(v["active_power_w"], -1500.0);
        assert!(v.get("energy").is_none(), "empty energy is left out");
        let back: Reading = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
