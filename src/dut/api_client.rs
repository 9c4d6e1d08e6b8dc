//! The harness's HTTP client for a device's configuration API (`http_client`, over a `Net`):
//! Basic auth with the label password, JSON in and out, problem+json errors kept as
//! documents. Used by every target so a scenario talks to the virtual device exactly as to
//! real firmware.

use super::http_client::{HttpClient, Method, StatusCode};
use super::TargetError;
use crate::adapters::net::Net;
use serde_json::Value;

/// An HTTP answer: status and body (JSON, or the text wrapped in `{"text": …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    user: String,
    password: String,
    client: HttpClient,
}

impl ApiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) over TCP, logging in as
    /// `user`/`password`; `local` binds the source address (to act as a second client from
    /// another host).
    pub fn new(
        base: &str,
        user: &str,
        password: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, TargetError> {
        ApiClient::over(Net::Tcp, base, user, password, local)
    }

    /// Like `new`, over `net`.
    pub fn over(
        net: Net,
        base: &str,
        user: &str,
        password: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, TargetError> {
        let mut client = HttpClient::new(net);
        if let Some(ip) = local {
            client = client.from(ip);
        }
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            user: user.into(),
            password: password.into(),
            client,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any request; a connection failure is a `TargetError`, any HTTP status an `Answer`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, TargetError> {
        let mut req = self
            .client
            .request(method.clone(), &format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| TargetError(format!("HTTP {method} {path}: no answer ({e})")))?;
        let status = resp.status();
        let text = resp.text();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "text": text }));
        Ok(Answer { status, body })
    }

    /// A request that must succeed (2xx); anything else is a `TargetError` naming the status.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, TargetError> {
        let a = self.send(method.clone(), path, body).await?;
        if a.status.is_success() {
            Ok(a.body)
        } else {
            Err(TargetError(format!(
                "HTTP {method} {path}: {} {}",
                a.status, a.body
            )))
        }
    }

    /// `GET /api/v1/config`.
    pub async fn config(&self) -> Result<Value, TargetError> {
        self.ok(Method::GET, "/api/v1/config", None).await
    }

    /// `PATCH /api/v1/config` (merge-patch): the new config, or the device's error document.
    pub async fn patch_config(&self, patch: Value) -> Result<Result<Value, Value>, TargetError> {
        let a = self
            .send(Method::PATCH, "/api/v1/config", Some(&patch))
            .await?;
        match a.status.as_u16() {
            200 => Ok(Ok(a.body)),
            400 | 413 | 415 | 422 => Ok(Err(a.body)),
            s => Err(TargetError(format!("PATCH /api/v1/config: {s} {}", a.body))),
        }
    }

    /// `POST /api/v1/reset`: soft reset.
    pub async fn reset(&self) -> Result<(), TargetError> {
        self.ok(Method::POST, "/api/v1/reset", None)
            .await
            .map(|_| ())
    }

    /// `GET /api/v1/firmware`.
    pub async fn firmware(&self) -> Result<Value, TargetError> {
        self.ok(Method::GET, "/api/v1/firmware", None).await
    }

    /// `POST /api/v1/firmware`: start an update to `version`; `Err` with the refusal.
    pub async fn update_firmware(&self, version: &str) -> Result<Result<(), String>, TargetError> {
        let body = serde_json::json!({ "Version": version });
        let a = self
            .send(Method::POST, "/api/v1/firmware", Some(&body))
            .await?;
        match a.status.as_u16() {
            200..=299 => Ok(Ok(())),
            400..=499 => Ok(Err(a
                .body
                .get("detail")
                .and_then(Value::as_str)
                .map_or_else(|| a.body.to_string(), String::from))),
            s => Err(TargetError(format!(
                "POST /api/v1/firmware: {s} {}",
                a.body
            ))),
        }
    }

    /// `GET /api/v1/status`.
    pub async fn status(&self) -> Result<Value, TargetError> {
        self.ok(Method::GET, "/api/v1/status", None).await
    }
}
