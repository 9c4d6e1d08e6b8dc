//! Simulator additions to `/api/v1` that the vendor manual does not have (marked [sim] in
//! `schemas/openapi.json`); both sit behind the same authentication and session as the rest.
//!
//! - `POST /api/v1/logout` → 204: ends the caller's session at once, so another client can
//!   sign in without waiting 5 minutes (the web page's "Log out").
//! - `GET /api/v1/meter` → 200: the meter values the device holds right now — the register
//!   snapshot Modbus answers from — with the data names of design §6 (units last, as in the
//!   MQTT measurements payload: `voltage_l1_v`, `active_power_w`, …), plus `telegram_seq`
//!   (valid telegrams since boot; 0 = none yet, every value is then 0 as in the registers),
//!   `timestamp` (UTC epoch seconds of the last valid telegram, `null` before one) and
//!   `register_map` (the template in force).

use super::api::{AppState, USER};
use crate::device::registers::MeterValues;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// `POST /api/v1/logout`.
pub const LOGOUT: &str = "/api/v1/logout";
/// `GET /api/v1/meter`.
pub const METER: &str = "/api/v1/meter";

/// End the caller's session (it holds it: the authentication layer has just admitted it).
pub(super) async fn post_logout(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let ended = super::session::release(&s.host, USER, peer.ip());
    tracing::info!(
        "[{}] http API: {} logged out{}",
        crate::sim::clock::rfc3339(s.host.now()),
        peer.ip(),
        if ended { "" } else { " (no session held)" }
    );
    StatusCode::NO_CONTENT.into_response()
}

/// The meter values document of `GET /api/v1/meter`.
pub(super) async fn get_meter(State(s): State<AppState>) -> Response {
    let served = s.host.served();
    let last = s.host.with_device(|d| {
        d.meter_status()
            .last_telegram_at
            .map(crate::time::Instant::epoch_secs)
    });
    let mut doc = meter_values(&served.values);
    doc.insert("timestamp".into(), json!(last));
    doc.insert("register_map".into(), json!(served.template));
    let mut r = (StatusCode::OK, Value::Object(doc).to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The register snapshot under the design §6 names. `power_import_w` / `power_export_w` are
/// the positive and negative parts of the signed total the registers hold.
pub(super) fn meter_values(v: &MeterValues) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("telegram_seq".into(), json!(v.telegram_seq));
    for (i, l) in ["l1", "l2", "l3"].iter().enumerate() {
        m.insert(format!("voltage_{l}_v"), num(v.voltage_v[i]));
        m.insert(format!("current_{l}_a"), num(v.current_a[i]));
        m.insert(
            format!("active_power_{l}_w"),
            num(v.active_power_phase_w[i]),
        );
    }
    m.insert("active_power_w".into(), num(v.active_power_w));
    m.insert("power_import_w".into(), num(v.active_power_w.max(0.0)));
    m.insert("power_export_w".into(), num((-v.active_power_w).max(0.0)));
    m
}

/// An `f32` register value as the shortest decimal that reads back as it (230.1, not
/// 230.10000610351562); a non-finite value (never in a snapshot) becomes `null`.
fn num(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map_or(Value::Null, |f| json!(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_under_the_design_names_with_import_and_export_split() {
        let v = MeterValues {
            voltage_v: [230.1, 231.0, 229.0],
            current_a: [4.0, 0.5, 1.25],
            active_power_w: -1500.0,
            active_power_phase_w: [-900.0, -300.0, -300.0],
            telegram_seq: 7,
        };
        let m = meter_values(&v);
        assert_eq!(m["telegram_seq"], 7);
        assert_eq!(m["voltage_l1_v"], 230.1);
        assert_eq!(m["voltage_l3_v"], 229.0);
        assert_eq!(m["current_l3_a"], 1.25);
        assert_eq!(m["active_power_l1_w"], -900.0);
        assert_eq!(m["active_power_w"], -1500.0);
        assert_eq!(m["power_import_w"], 0.0);
        assert_eq!(m["power_export_w"], 1500.0);
        for k in m.keys() {
            assert!(
                crate::adapters::mqtt::payload::HA_SENSORS
                    .iter()
                    .any(|(name, ..)| name == k)
                    || k == "telegram_seq",
                "{k} is a design §6 name"
            );
        }
    }
}
