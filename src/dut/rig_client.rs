//! The bench-rig protocol (HTTP + JSON) and its client. The simulator serves it
//! (`run --rig`, `adapters::rig`); a lab can implement the same few calls on the computer
//! that drives its relays, button actuator and LED photodiode. The `Remote` target uses the
//! client for every bench ability the target file does not give a hook command for.

use super::{OwnBroker, TargetError};
use crate::adapters::broker::TlsClient;
use crate::device::led::Color;
use crate::device::network::Lan;
use crate::sim::clock::Millis;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The environment variable `run --rig`, the `Remote` target and `smart-connect-sim rig`
/// read the rig's token from when none is given otherwise.
pub const TOKEN_ENV: &str = "SMART_CONNECT_RIG_TOKEN";

/// `GET /rig`, `POST /rig/fresh`: what is on the bench.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigInfo {
    /// `P1` or `TIC`.
    pub variant: String,
    /// The label: serial, MAC (`AA:BB:…`), password.
    pub serial: String,
    pub mac: String,
    pub password: String,
    /// The device's time now (Unix ms).
    pub now: Millis,
    /// Bytes the meter feed delivered on its current connection.
    pub fed_bytes: u64,
    /// Time moves only on `POST /rig/time` (`run --speed rig`).
    pub drives_time: bool,
    /// Where the device serves Modbus TCP, HTTP and HTTPS.
    pub modbus: String,
    pub http: String,
    pub https: String,
    /// The CA that signed the device's HTTPS certificate.
    pub https_ca_pem: String,
    /// A broker account to watch the device's MQTT messages with.
    pub watch: Option<OwnBroker>,
    /// An installer's own broker with an account for the device (MQ-07).
    pub own_broker: Option<OwnBroker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Power {
    pub usb: bool,
    /// The meter supplies power on the P1 port (SMR 5).
    pub meter: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub down: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedReading {
    pub colour: Color,
}

/// `POST /rig/time`: once `fed_bytes` meter bytes have arrived, move the clock to `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeAsk {
    pub until: Option<Millis>,
    pub fed_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeNow {
    pub now: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClock {
    pub utc: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachable {
    pub reachable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareOffer {
    pub version: String,
    pub good: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct P1Ext {
    pub base64: String,
}

/// A client for a rig at `base` (`http://127.0.0.1:7100`).
#[derive(Debug, Clone)]
pub struct RigClient {
    base: String,
    client: reqwest::Client,
    /// Sent as `Authorization: Bearer …` (the rig refuses requests without it).
    token: Option<String>,
}

impl RigClient {
    /// A client of the rig at `base`; `token` is the one `run --rig` printed.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, TargetError> {
        crate::adapters::certs::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(|e| TargetError::bench(format!("rig client: {e}")))?;
        Ok(RigClient {
            base: base.trim_end_matches('/').to_string(),
            client,
            token,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, TargetError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.client.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .map_err(|e| {
                let hint = if e.is_connect() {
                    "; nothing answers there: is `smart-connect-sim run --rig ADDR` running, and is the address (`--at`, `$RIG`, the target file's `rig:`) the one it printed?"
                } else if e.is_timeout() {
                    "; the rig did not answer in time"
                } else {
                    ""
                };
                TargetError::bench(format!("bench rig {method} {url}: {e}{hint}"))
            })?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(TargetError::bench(format!(
                "bench rig {method} {url}: 401: the rig wants the token `run --rig` printed (target file `rig_token:`, or {TOKEN_ENV})"
            )));
        }
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            return Err(TargetError::bench(format!(
                "bench rig {method} {url}: {status}: {text}"
            )));
        }
        res.json().await.map_err(|e| {
            TargetError::bench(format!("bench rig {method} {url}: unexpected answer: {e}"))
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: impl Serialize,
    ) -> Result<T, TargetError> {
        let body = serde_json::to_value(body).map_err(|e| TargetError::bench(e.to_string()))?;
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn info(&self) -> Result<RigInfo, TargetError> {
        self.call(reqwest::Method::GET, "/rig", None).await
    }

    pub async fn fresh(&self) -> Result<RigInfo, TargetError> {
        self.post("/rig/fresh", serde_json::json!({})).await
    }

    pub async fn power(&self, usb: bool, meter: bool) -> Result<TimeNow, TargetError> {
        self.post("/rig/power", Power { usb, meter }).await
    }

    pub async fn button(&self, down: bool) -> Result<TimeNow, TargetError> {
        self.post("/rig/button", Button { down }).await
    }

    pub async fn led(&self) -> Result<Color, TargetError> {
        let r: LedReading = self.call(reqwest::Method::GET, "/rig/led", None).await?;
        Ok(r.colour)
    }

    pub async fn time(&self, until: Option<Millis>, fed_bytes: u64) -> Result<Millis, TargetError> {
        let r: TimeNow = self.post("/rig/time", TimeAsk { until, fed_bytes }).await?;
        Ok(r.now)
    }

    pub async fn device_clock(&self, utc: Millis) -> Result<TimeNow, TargetError> {
        self.post("/rig/device-clock", DeviceClock { utc }).await
    }

    pub async fn lan(&self, lan: &Lan) -> Result<TimeNow, TargetError> {
        self.post("/rig/lan", lan).await
    }

    pub async fn broker(&self, reachable: bool) -> Result<TimeNow, TargetError> {
        self.post("/rig/broker", Reachable { reachable }).await
    }

    pub async fn broker_clients(&self) -> Result<Vec<TlsClient>, TargetError> {
        self.call(reqwest::Method::GET, "/rig/broker/clients", None)
            .await
    }

    pub async fn firmware(&self, version: &str, good: bool) -> Result<TimeNow, TargetError> {
        self.post(
            "/rig/firmware",
            FirmwareOffer {
                version: version.into(),
                good,
            },
        )
        .await
    }

    pub async fn p1_ext(&self) -> Result<Vec<u8>, TargetError> {
        use base64::Engine as _;
        let r: P1Ext = self.call(reqwest::Method::GET, "/rig/p1-ext", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(r.base64)
            .map_err(|e| TargetError::bench(format!("bench rig /rig/p1-ext: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_listening_says_what_to_check() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let rig = RigClient::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
        let e = rig.info().await.unwrap_err().0;
        assert!(
            e.contains("nothing answers there") && e.contains("--rig ADDR"),
            "{e}"
        );
    }
}
