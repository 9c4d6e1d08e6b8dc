//! The EV set-point from an MQTT topic: `run` subscribes (on the embedded broker's plain
//! listener, with the installer account) to `smart-connect-sim/<serial>/house/ev/set`. A
//! payload is a number (amps per phase; below the minimum, e.g. 0, pauses charging) or an `ev` object of the control vocabulary
//! (`{"amps": 10, "phases": 1}`); the outcome goes to `…/house/ev/result` as
//! `{"ok": true}` or `{"ok": false, "errors": [{"field", "message"}]}`.

use super::{Control, ControlError};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The set-point topic for a device serial.
pub fn topic(serial: &str) -> String {
    format!("smart-connect-sim/{serial}/house/ev/set")
}

/// Subscribe to the set-point topic on `broker` until the handle is aborted; reconnects
/// after 1 s when the connection drops.
pub fn serve(
    ctl: Arc<Control>,
    broker: SocketAddr,
    account: (String, String),
    serial: &str,
) -> tokio::task::JoinHandle<()> {
    let set = topic(serial);
    let result = format!("smart-connect-sim/{serial}/house/ev/result");
    let mut o = MqttOptions::new(
        format!("smart-connect-sim-house-{serial}"),
        broker.ip().to_string(),
        broker.port(),
    );
    o.set_credentials(account.0, account.1);
    o.set_keep_alive(Duration::from_secs(30));
    tokio::spawn(async move {
        let (client, mut events) = AsyncClient::new(o, 16);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Err(e) = client.subscribe(&set, QoS::AtLeastOnce).await {
                        tracing::warn!("house mqtt: cannot subscribe to {set}: {e}");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == set => {
                    let outcome = match set_point(&ctl, &p.payload) {
                        Ok(()) => json!({"ok": true}),
                        Err(ControlError::Invalid(errors)) => {
                            json!({"ok": false, "errors": errors})
                        }
                        Err(e) => {
                            json!({"ok": false, "errors": [{"field": "", "message": e.to_string()}]})
                        }
                    };
                    let _ =
                        client.try_publish(&result, QoS::AtLeastOnce, false, outcome.to_string());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("house mqtt: {e}; connecting again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

/// Apply one set-point payload.
pub fn set_point(ctl: &Control, payload: &[u8]) -> Result<(), ControlError> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| {
        ControlError::Invalid(vec![crate::sim::house::change::FieldError {
            field: "payload".into(),
            message: format!("not a number or JSON object: {e}"),
        }])
    })?;
    let ev = match v {
        Value::Number(ref n) => {
            let amps = n.as_f64().unwrap_or(f64::NAN);
            json!({ "amps": amps })
        }
        other => other,
    };
    ctl.change("mqtt", &json!({ "ev": ev }))
}
