//! The MQTT measurements payload (MQ-08..11, MQ-14, MQ-15): one JSON object per valid
//! telegram with the instantaneous values under the design §6 keys, `null` for what the
//! telegram lacks, no cumulative counters, plus `serial` and `site`. The timestamp is the
//! telegram's own time in UTC epoch seconds, or the device clock where the telegram has none
//! (TIC historic, placeholder dates). Also the topic names.

use crate::protocol::reading::ReadingRecord;
use crate::protocol::{Protocol, Reading};
use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// The JSON published on `…/data/measurements`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub serial: String,
    pub site: String,
    /// UTC epoch seconds: the telegram's time, or the device clock when it has none.
    pub timestamp: i64,
    /// Where the timestamp came from: `meter` or `device`.
    pub time_source: TimeSource,
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
    /// TIC STGE bit 9 (TIC-04); `null` for DSMR.
    pub exporting: Option<bool>,
}

/// Where a payload's timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSource {
    Meter,
    Device,
}

impl Measurement {
    /// The payload for one valid telegram, at device time `now`. TIC per-phase power is
    /// reported as the registers show it: never negative (TIC-02).
    pub fn from_reading(r: &Reading, serial: &str, site: &str, now: Instant) -> Self {
        let (timestamp, time_source) = match r.timestamp {
            Some(t) => (t, TimeSource::Meter),
            None => (now.epoch_secs(), TimeSource::Device),
        };
        let tic = r.protocol != Protocol::Dsmr;
        let phase = |p: Option<f32>| if tic { p.map(|v| v.max(0.0)) } else { p };
        let rec = ReadingRecord::from(r.clone());
        Measurement {
            serial: serial.to_string(),
            site: site.to_string(),
            timestamp,
            time_source,
            protocol: rec.protocol,
            version: rec.version,
            meter_id: rec.meter_id,
            voltage_l1_v: rec.voltage_l1_v,
            voltage_l2_v: rec.voltage_l2_v,
            voltage_l3_v: rec.voltage_l3_v,
            current_l1_a: rec.current_l1_a,
            current_l2_a: rec.current_l2_a,
            current_l3_a: rec.current_l3_a,
            active_power_w: rec.active_power_w,
            active_power_l1_w: phase(rec.active_power_l1_w),
            active_power_l2_w: phase(rec.active_power_l2_w),
            active_power_l3_w: phase(rec.active_power_l3_w),
            power_import_w: rec.power_import_w,
            power_export_w: rec.power_export_w,
            exporting: rec.exporting,
        }
    }
}

/// The JSON published for one valid telegram at device time `now`.
pub fn payload(r: &Reading, serial: &str, site: &str, now: Instant) -> Vec<u8> {
    let m = Measurement::from_reading(r, serial, site, now);
    serde_json::to_vec(&m).expect("a measurement serialises")
}

/// `devices/<site>/smart-connect/<serial>` (MQ-12, MQ-14).
pub fn topic_root(site: &str, serial: &str) -> String {
    format!("devices/{site}/smart-connect/{serial}")
}

/// Where measurements go.
pub fn measurements_topic(site: &str, serial: &str) -> String {
    format!("{}/data/measurements", topic_root(site, serial))
}

/// Where command results and device events go.
pub fn events_topic(site: &str, serial: &str) -> String {
    format!("{}/data/events", topic_root(site, serial))
}

/// The command topic filter the device subscribes to.
pub fn command_filter(site: &str, serial: &str) -> String {
    format!("{}/cmd/+", topic_root(site, serial))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::time::at;

    #[test]
    fn keys_nulls_and_no_counters() {
        let mut r = Reading::empty(Protocol::Dsmr);
        r.timestamp = Some(1_700_000_000);
        r.active_power_w = Some(-120.0);
        r.active_power_phase_w[1] = Some(-120.0);
        r.energy.import_t1_kwh = Some(1.0);
        let m = Measurement::from_reading(&r, "02584D000001", "home", at(5_000));
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["timestamp"], 1_700_000_000);
        assert_eq!(v["time_source"], "meter");
        assert!(
            v["voltage_l1_v"].is_null(),
            "missing values are null (MQ-10)"
        );
        assert!(v.get("energy").is_none(), "no cumulative counters (MQ-09)");
        assert_eq!(
            v["active_power_l2_w"], -120.0,
            "DSMR phase power keeps its sign"
        );
        assert_eq!(v["serial"], "02584D000001");
    }

    #[test]
    fn tic_without_time_uses_the_device_clock_and_clamps_phase_power() {
        let mut r = Reading::empty(Protocol::TicHistoric);
        r.active_power_phase_w[0] = Some(-5.0);
        let m = Measurement::from_reading(&r, "S", "unknown-site", at(1_700_000_123_456));
        assert_eq!(
            (m.timestamp, m.time_source),
            (1_700_000_123, TimeSource::Device)
        );
        assert_eq!(m.active_power_l1_w, Some(0.0));
    }

    #[test]
    fn topics() {
        assert_eq!(
            measurements_topic("unknown-site", "ABC"),
            "devices/unknown-site/smart-connect/ABC/data/measurements"
        );
        assert_eq!(
            command_filter("s", "ABC"),
            "devices/s/smart-connect/ABC/cmd/+"
        );
        assert_eq!(
            events_topic("s", "ABC"),
            "devices/s/smart-connect/ABC/data/events"
        );
    }
}
