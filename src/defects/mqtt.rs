//! The MQTT defects: a layer on the MQTT client that changes the settings it acts on
//! (disable ignored) and the measurements it publishes (wrong topic, cumulative counters,
//! no timestamp).

use super::{planted, Defect, Defects};
use crate::adapters::host::Host;
use crate::adapters::mqtt::MqttLayer;
use crate::device::config::Mqtt;
use crate::protocol::Reading;
use std::sync::Arc;

/// The layer for the device's planted MQTT defects, if it has any.
pub fn layer(host: &Arc<Host>) -> Option<Arc<dyn MqttLayer>> {
    let layer = FaultyMqtt::new(&planted(host));
    let any = layer.disable_ignored || layer.wrong_topic || layer.cumulative || layer.no_timestamp;
    any.then(|| Arc::new(layer) as Arc<dyn MqttLayer>)
}

/// The MQTT client's planted bugs.
#[derive(Debug, Clone, Copy)]
struct FaultyMqtt {
    /// `mqtt-disable-ignored`: measurements are published with MQTT disabled.
    disable_ignored: bool,
    /// `mqtt-wrong-topic`: `…/<serial>/measurements`, without `data/`.
    wrong_topic: bool,
    /// `mqtt-cumulative-counters`: the meter's energy counters in the payload.
    cumulative: bool,
    /// `mqtt-no-timestamp`: no `timestamp` in the payload.
    no_timestamp: bool,
}

impl FaultyMqtt {
    fn new(d: &Defects) -> Self {
        FaultyMqtt {
            disable_ignored: d.contains(&Defect::MqttDisableIgnored),
            wrong_topic: d.contains(&Defect::MqttWrongTopic),
            cumulative: d.contains(&Defect::MqttCumulativeCounters),
            no_timestamp: d.contains(&Defect::MqttNoTimestamp),
        }
    }
}

impl MqttLayer for FaultyMqtt {
    fn settings(&self, mut cfg: Mqtt) -> Mqtt {
        if self.disable_ignored {
            cfg.enabled = true;
        }
        cfg
    }

    fn measurement(&self, topic: &mut String, payload: &mut Vec<u8>, reading: &Reading) {
        if self.wrong_topic {
            if let Some(root) = topic.strip_suffix("/data/measurements") {
                *topic = format!("{root}/measurements");
            }
        }
        if !(self.cumulative || self.no_timestamp) {
            return;
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return;
        };
        if let Some(o) = v.as_object_mut() {
            if self.no_timestamp {
                o.remove("timestamp");
            }
            if self.cumulative {
                let e = &reading.energy;
                let sum = |a: Option<f64>, b: Option<f64>, c: Option<f64>| {
                    a.or_else(|| Some(b? + c.unwrap_or(0.0)))
                };
                let import = sum(e.import_kwh, e.import_t1_kwh, e.import_t2_kwh);
                let export = sum(e.export_kwh, e.export_t1_kwh, e.export_t2_kwh);
                o.insert("energy_import_kwh".into(), serde_json::json!(import));
                o.insert("energy_export_kwh".into(), serde_json::json!(export));
            }
        }
        if let Ok(bytes) = serde_json::to_vec(&v) {
            *payload = bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::measurement::{measurements_topic, payload, Measurement};
    use crate::protocol::Protocol;
    use crate::time::at;

    #[test]
    fn planted_defects_change_payload_and_topic() {
        let mut r = Reading::empty(Protocol::Dsmr);
        r.timestamp = Some(1_700_000_000);
        r.energy.import_t1_kwh = Some(1.5);
        r.energy.import_t2_kwh = Some(2.0);
        let publish = |d: &[Defect]| -> (String, serde_json::Value) {
            let layer = FaultyMqtt::new(&d.iter().copied().collect());
            let (mut topic, mut body) =
                (measurements_topic("s", "A"), payload(&r, "S", "x", at(0)));
            layer.measurement(&mut topic, &mut body, &r);
            (topic, serde_json::from_slice(&body).unwrap())
        };
        let plain = Measurement::from_reading(&r, "S", "x", at(0));
        assert_eq!(publish(&[]).1, serde_json::to_value(&plain).unwrap());
        assert_eq!(publish(&[]).0, measurements_topic("s", "A"));
        assert!(publish(&[Defect::MqttNoTimestamp])
            .1
            .get("timestamp")
            .is_none());
        assert_eq!(
            publish(&[Defect::MqttCumulativeCounters]).1["energy_import_kwh"],
            3.5
        );
        assert_eq!(
            publish(&[Defect::MqttWrongTopic]).0,
            "devices/s/smart-connect/A/measurements"
        );
        let off = Mqtt {
            enabled: false,
            ..Mqtt::default()
        };
        let layer = FaultyMqtt::new(&Defects::from([Defect::MqttDisableIgnored]));
        assert!(layer.settings(off).enabled);
    }
}
