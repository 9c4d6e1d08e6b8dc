//! RFC 9457 problem details (`application/problem+json`) for every API error.
//!
//! Members: `type`, `title`, `status`, `detail`, `instance` (the request path). Generic HTTP
//! errors use `type` `about:blank` with the status phrase as `title`; errors that a client
//! may want to tell apart have a `tag:` URI (RFC 9457 3.1.1: an identifier, not a locator).
//! Field errors add `pointer` (RFC 6901 JSON pointer into the request body) and an `errors`
//! array of `{detail, pointer}` (the shape of RFC 9457's example), plus the device's own
//! error members (`ConfigError::to_json`: `error`, `field`, `message`, `value`). A refused
//! configuration lists every refused field in `errors` (document order); the other members
//! describe the first one.

use crate::device::config::ConfigErrors;
use crate::device::firmware::UpdateRefused;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

pub const INVALID_CONFIG: &str = "tag:smart-connect.local,2025:invalid-config";
pub const INVALID_REQUEST: &str = "tag:smart-connect.local,2025:invalid-request";
pub const MALFORMED_JSON: &str = "tag:smart-connect.local,2025:malformed-json";
pub const SESSION_BUSY: &str = "tag:smart-connect.local,2025:session-busy";
pub const FIRMWARE_REFUSED: &str = "tag:smart-connect.local,2025:firmware-update-refused";
pub const UNKNOWN_FIRMWARE_VERSION: &str = "tag:smart-connect.local,2025:unknown-firmware-version";
pub const NOT_SERVING: &str = "tag:smart-connect.local,2025:not-serving";
pub const CONFIG_NOT_SAVED: &str = "tag:smart-connect.local,2025:config-not-saved";
pub const TOO_MANY_FAILURES: &str = "tag:smart-connect.local,2025:too-many-failed-logins";

/// A problem details response.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    body: Map<String, Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Problem {
    /// `about:blank` with the status phrase as title.
    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Problem::typed(status, "about:blank", title, detail)
    }

    pub fn typed(status: StatusCode, ty: &str, title: &str, detail: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("type".into(), json!(ty));
        body.insert("title".into(), json!(title));
        body.insert("status".into(), json!(status.as_u16()));
        body.insert("detail".into(), json!(detail.into()));
        Problem {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A field error: `pointer` into the request body, `detail` about it.
    pub fn field(
        status: StatusCode,
        ty: &str,
        title: &str,
        pointer: &str,
        message: &str,
        value: Value,
    ) -> Self {
        let detail = if pointer.is_empty() {
            message.to_string()
        } else {
            format!("{pointer}: {message}")
        };
        let mut p = Problem::typed(status, ty, title, detail);
        p.body.insert("pointer".into(), json!(pointer));
        p.body.insert("value".into(), value);
        p.body.insert(
            "errors".into(),
            json!([{"detail": message, "pointer": pointer}]),
        );
        p
    }

    /// A refused configuration (422): every refused field in `errors`, the first one in
    /// `pointer`, `detail`, `value` and the device's own members.
    pub fn config(errors: &ConfigErrors) -> Self {
        let e = errors.first();
        let mut p = Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            INVALID_CONFIG,
            "Invalid configuration",
            &e.pointer,
            &e.message,
            e.value.clone(),
        );
        let all: Vec<Value> = errors
            .iter()
            .map(|e| json!({"detail": e.message, "pointer": e.pointer}))
            .collect();
        p.body.insert("errors".into(), Value::Array(all));
        if let Value::Object(extra) = e.to_json() {
            for (k, v) in extra {
                p.body.entry(k).or_insert(v);
            }
        }
        p
    }

    /// A refused firmware update: 422 for a version the update server does not offer (a field
    /// error at `/Version`, naming the offered versions, also in `offered`), 409 while an
    /// update runs.
    pub fn update_refused(refused: &UpdateRefused) -> Self {
        let detail = refused.to_string();
        match refused {
            UpdateRefused::NotOffered { version, offered } => Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                UNKNOWN_FIRMWARE_VERSION,
                "Unknown firmware version",
                "/Version",
                &detail,
                json!(version),
            )
            .with("offered", json!(offered)),
            UpdateRefused::Running { .. } => Problem::typed(
                StatusCode::CONFLICT,
                FIRMWARE_REFUSED,
                "Firmware update refused",
                detail,
            ),
        }
    }

    /// Add an extension member.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.body.insert(key.into(), value);
        self
    }

    /// Add a response header.
    pub fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// Set `instance` to the request path.
    pub fn at(self, path: &str) -> Self {
        self.with("instance", json!(path))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Value::Object(self.body)).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (k, v) in self.headers {
            h.append(k, v);
        }
        r
    }
}
