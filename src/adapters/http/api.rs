//! The `/api/v1` routes (API-01..11, FW-01), their authentication and the session gate.
//!
//! | route | method | answers |
//! |---|---|---|
//! | `/api/v1/config` | GET | 200 the whole configuration (`Config::to_json`, the manual's shape) |
//! | `/api/v1/config` | PATCH | 200 the new configuration; 400 malformed JSON; 408 body not complete 10 s after the head; 413 body > limit; 415 not `application/json` / `application/merge-patch+json`; 422 invalid values (control characters included) or unknown keys (problem+json: every refused field in `errors`, the first one's JSON pointer in `pointer`); 500 the configuration could not be saved (problem+json with `file` and the OS `error`; the old settings stay); nothing changes on error |
//! | `/api/v1/firmware` | GET | 200 `{"Version", "Update": {"state", …}, "Offered": [versions]}` |
//! | `/api/v1/firmware` | POST | `{"Version": "1.5.0"}` → 202 update started; 422 a version the update server does not offer (with `offered`); 409 an update is running; 400/413/415/422 as for PATCH |
//! | `/api/v1/status` | GET | 200 the status document (`Host::status_json`: `Device::status` plus `Config`) |
//! | `/api/v1/reset` | POST | 202, then the device reboots (503 until it serves again) |
//! | `/api/v1/logout` | POST | [sim] 204, the caller's session ends at once (`sim_api.rs`) |
//! | `/api/v1/meter` | GET | [sim] 200 the register snapshot's meter values, design §6 names (`sim_api.rs`) |
//! | `/api/v1/openapi.json` | GET | 200 the OpenAPI 3.1 document, no authentication |
//!
//! Every route but `openapi.json` needs Basic authentication as user `user` with the label
//! password: missing, malformed or wrong credentials get 401 with
//! `WWW-Authenticate: Basic realm="smart-connect"`; after 5 wrong ones from one source IP
//! address, 429 with `Retry-After` (1 s, doubling to 60 s; `device::login_throttle` through `throttle.rs`), while correct
//! credentials are always accepted; then the session rule applies (`device::session`
//! through `session.rs`: 409 for a second client). Every route answers 503 while the device does not
//! serve. Errors are `application/problem+json` (`problem.rs`). API responses carry
//! `Cache-Control: no-store` (the configuration holds secrets).

use super::problem::{self, Problem};
use super::session::{self, SESSION_IDLE_MS};
use super::throttle::{self, Verdict};
use super::{sim_api, web, HttpOptions};
use crate::adapters::host::Host;
use crate::device::{Effect, Event, Reply};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, MethodRouter};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// The OpenAPI 3.1 document of `/api/v1` (the file `schemas/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!("../../../schemas/openapi.json");

/// The Basic-auth user name (API-01).
pub const USER: &str = "user";
/// The Basic-auth realm.
pub const REALM: &str = "smart-connect";

const CONFIG: &str = "/api/v1/config";
const FIRMWARE: &str = "/api/v1/firmware";
const STATUS: &str = "/api/v1/status";
const RESET: &str = "/api/v1/reset";
const OPENAPI: &str = "/api/v1/openapi.json";

/// What every handler sees.
#[derive(Clone)]
pub(super) struct AppState {
    pub host: Arc<Host>,
    pub tls: bool,
    pub options: HttpOptions,
}

type Route = (&'static str, &'static str, MethodRouter<AppState>);

/// Routes behind authentication and the session.
fn protected() -> Vec<Route> {
    vec![
        (CONFIG, "GET", get(get_config)),
        (CONFIG, "PATCH", patch(patch_config)),
        (FIRMWARE, "GET", get(get_firmware)),
        (FIRMWARE, "POST", post(post_firmware)),
        (STATUS, "GET", get(get_status)),
        (RESET, "POST", post(post_reset)),
        (sim_api::LOGOUT, "POST", post(sim_api::post_logout)),
        (sim_api::METER, "GET", get(sim_api::get_meter)),
    ]
}

/// API routes open to anyone who reaches the device.
fn public() -> Vec<Route> {
    vec![(OPENAPI, "GET", get(openapi))]
}

/// Every `/api/v1` route as (path, method): the same table the router is built from, so a
/// test can check the OpenAPI document against it.
pub fn api_routes() -> Vec<(&'static str, &'static str)> {
    protected()
        .into_iter()
        .chain(public())
        .map(|(p, m, _)| (p, m))
        .collect()
}

fn add(router: Router<AppState>, routes: Vec<Route>) -> Router<AppState> {
    routes
        .into_iter()
        .fold(router, |r, (path, _, mr)| r.route(path, mr))
}

/// The whole application: API, web interface, 404 fallback, the serving gate.
pub(super) fn router(host: Arc<Host>, tls: bool, options: HttpOptions) -> Router {
    let state = AppState { host, tls, options };
    let api = add(Router::new(), protected())
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    add(Router::new(), public())
        .merge(api)
        .merge(web::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// 503 while the device does not serve (off, booting, no address). A real device would not
/// answer at all (nothing listens); the simulator answers so that the reason is visible.
async fn gate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    if !s.host.served().serving {
        // Why, and with no address the network problem and the way out (`Host::not_serving`).
        let why = s.host.not_serving();
        return Problem::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            problem::NOT_SERVING,
            "Device not serving",
            why.detail,
        )
        .with("Network", why.network.unwrap_or_default())
        .header(header::RETRY_AFTER, "5")
        .at(req.uri().path())
        .into_response();
    }
    let mut r = next.run(req).await;
    if api {
        r.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    r
}

/// Basic authentication (API-01), then the session (API-02/08).
async fn authenticate(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let password = s.host.with_device(|d| d.identity().label_password.clone());
    let auth = req.headers().get(header::AUTHORIZATION);
    let Some(user) = basic_user(auth, &password) else {
        let tried = req.headers().contains_key(header::AUTHORIZATION);
        if tried {
            let verdict = throttle::failed(&s.host, peer.ip());
            if let Verdict::Blocked { retry_after } = verdict {
                let secs = (retry_after.as_ms().saturating_add(999) / 1000).max(1);
                tracing::debug!("http: {peer}: wrong credentials, blocked for {secs} s");
                let detail = format!(
                    "too many wrong passwords from {}: try again in {secs} s",
                    peer.ip()
                );
                return Problem::typed(
                    StatusCode::TOO_MANY_REQUESTS,
                    problem::TOO_MANY_FAILURES,
                    "Too many failed logins",
                    detail,
                )
                .with("retry_after_s", json!(secs))
                .header(header::RETRY_AFTER, &secs.to_string())
                .at(&path)
                .into_response();
            }
        }
        let detail = match tried {
            true => "wrong user name or password (user \"user\", the password printed on the device label)",
            false => "authentication required: Basic, user \"user\", the password printed on the device label",
        };
        return Problem::status(StatusCode::UNAUTHORIZED, detail)
            .header(
                header::WWW_AUTHENTICATE,
                &format!("Basic realm=\"{REALM}\""),
            )
            .at(&path)
            .into_response();
    };
    throttle::succeeded(&s.host, peer.ip());
    let admitted = match s.options.single_session {
        true => session::admit(&s.host, &user, peer.ip()),
        false => Ok(()),
    };
    if let Err(busy) = admitted {
        let secs = (busy.retry_after.as_ms() + 999) / 1000;
        let detail = format!(
            "only one session at a time: another client holds it; it ends after {} minutes without requests from that client (try again in {secs} s)",
            SESSION_IDLE_MS / 60_000
        );
        return Problem::typed(
            StatusCode::CONFLICT,
            problem::SESSION_BUSY,
            "Another session is active",
            detail,
        )
        .with("retry_after_s", json!(secs))
        .header(header::RETRY_AFTER, &secs.to_string())
        .at(&path)
        .into_response();
    }
    next.run(req).await
}

/// `Basic base64(user:password)` → (user, password).
fn decode_basic(value: Option<&HeaderValue>) -> Option<(String, String)> {
    let v = value?.to_str().ok()?.trim();
    let (scheme, cred) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The user name when `value` is `Basic base64(user:password)` with the right pair.
fn basic_user(value: Option<&HeaderValue>, password: &str) -> Option<String> {
    let (u, p) = decode_basic(value)?;
    // Compare without an early exit on the first differing byte.
    let same = |a: &[u8], b: &[u8]| {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    };
    let ok = same(u.as_bytes(), USER.as_bytes()) & same(p.as_bytes(), password.as_bytes());
    ok.then_some(u)
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, serde_json::to_vec(v).unwrap_or_default()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn reply_of(fx: Vec<Effect>) -> Option<Reply> {
    fx.into_iter().find_map(|e| match e {
        Effect::Reply(r) => Some(r),
        _ => None,
    })
}

fn not_running(path: &str) -> Response {
    Problem::typed(
        StatusCode::SERVICE_UNAVAILABLE,
        problem::NOT_SERVING,
        "Device not serving",
        "the device is not running",
    )
    .header(header::RETRY_AFTER, "5")
    .at(path)
    .into_response()
}

fn no_reply(path: &str) -> Response {
    Problem::status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the device gave no reply",
    )
    .at(path)
    .into_response()
}

/// Check the content type and size of a JSON request body and parse it.
async fn read_json(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
    path: &str,
    accept: &[&str],
    accept_header: header::HeaderName,
) -> Result<Value, Problem> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !essence.as_deref().is_some_and(|e| accept.contains(&e)) {
        let detail = match &essence {
            Some(e) => format!(
                "content type {e:?} is not accepted; send {}",
                accept.join(" or ")
            ),
            None => format!("no Content-Type; send {}", accept.join(" or ")),
        };
        return Err(Problem::status(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
            .header(accept_header, &accept.join(", "))
            .at(path));
    }
    let limit = s.options.body_limit;
    let too_large = || {
        let detail = format!("the request body is larger than {limit} bytes");
        Problem::status(StatusCode::PAYLOAD_TOO_LARGE, detail)
            .with("limit", json!(limit))
            .at(path)
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // A body that does not arrive within the limit frees its connection (slow-body clients).
    let timeout = s.options.body_timeout;
    let bytes = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            let detail = format!(
                "the request body did not arrive within {} ms",
                timeout.as_millis()
            );
            Problem::status(StatusCode::REQUEST_TIMEOUT, detail)
                .header(header::CONNECTION, "close")
                .at(path)
        })?
        // An error here is the limit (or a client that went away and will not read the answer).
        .map_err(|_| too_large())?;
    serde_json::from_slice::<Value>(&bytes).map_err(|e| {
        let msg = format!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        );
        Problem::field(
            StatusCode::BAD_REQUEST,
            problem::MALFORMED_JSON,
            "Malformed JSON",
            "",
            &msg,
            Value::Null,
        )
        .at(path)
    })
}

async fn get_config(State(s): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &s.host.with_device(|d| d.config().to_json()),
    )
}

/// RFC 7396 merge patch (API-04, API-09): all-or-nothing in the device.
async fn patch_config(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let accept = ["application/merge-patch+json", "application/json"];
    let patch = match read_json(
        &s,
        &headers,
        body,
        CONFIG,
        &accept,
        header::HeaderName::from_static("accept-patch"),
    )
    .await
    {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let logged = redacted(&patch);
    let (fx, failed) = s.host.handle_saving(Event::PatchConfig(patch));
    if let Some(f) = failed {
        return Problem::typed(
            StatusCode::INTERNAL_SERVER_ERROR,
            problem::CONFIG_NOT_SAVED,
            "Configuration not saved",
            format!("{f}; nothing was changed"),
        )
        .with("file", json!(f.file))
        .with("error", json!(f.error))
        .at(CONFIG)
        .into_response();
    }
    match reply_of(fx) {
        Some(Reply::Config(Ok(c))) => {
            tracing::info!(
                "[{}] http API: configuration saved: {logged}",
                crate::sim::clock::rfc3339(s.host.now())
            );
            json_response(StatusCode::OK, &c.to_json())
        }
        Some(Reply::Config(Err(e))) => Problem::config(&e).at(CONFIG).into_response(),
        Some(Reply::NotRunning) => not_running(CONFIG),
        _ => no_reply(CONFIG),
    }
}

fn firmware_doc(s: &AppState) -> Value {
    s.host.with_device(|d| {
        let f = d.firmware();
        json!({"Version": f.version(), "Update": f.state(), "Offered": f.offered()})
    })
}

async fn get_firmware(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, &firmware_doc(&s))
}

/// `{"Version": "x.y.z"}` → the version, or a 422 naming the field.
fn firmware_version(v: &Value) -> Result<String, Problem> {
    let bad = |ptr: &str, msg: &str, value: Value| {
        Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            problem::INVALID_REQUEST,
            "Invalid request",
            ptr,
            msg,
            value,
        )
        .at(FIRMWARE)
    };
    let Value::Object(map) = v else {
        return Err(bad(
            "",
            "must be a JSON object like {\"Version\": \"1.5.0\"}",
            v.clone(),
        ));
    };
    if let Some(k) = map.keys().find(|k| *k != "Version") {
        let ptr = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
        return Err(bad(
            &ptr,
            "unknown key; valid keys here: \"Version\"",
            map[k].clone(),
        ));
    }
    match map.get("Version") {
        None => Err(bad("/Version", "missing", Value::Null)),
        Some(Value::String(s)) if crate::device::firmware::is_version_text(s) => Ok(s.clone()),
        Some(other) => Err(bad(
            "/Version",
            "must be a version string of 1..32 characters A-Z a-z 0-9 . - + _ (e.g. \"1.5.0\")",
            other.clone(),
        )),
    }
}

/// Start a firmware update (FW-01/02): 202, or 409 while one is running.
async fn post_firmware(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let v = match read_json(
        &s,
        &headers,
        body,
        FIRMWARE,
        &["application/json"],
        header::HeaderName::from_static("accept-post"),
    )
    .await
    {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let version = match firmware_version(&v) {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let asked = version.clone();
    match reply_of(s.host.handle(Event::FirmwareUpdate { version })) {
        Some(Reply::Firmware(Ok(()))) => {
            tracing::info!(
                "[{}] http API: firmware update to {asked:?} started",
                crate::sim::clock::rfc3339(s.host.now())
            );
            let mut r = json_response(StatusCode::ACCEPTED, &firmware_doc(&s));
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(FIRMWARE));
            r
        }
        Some(Reply::Firmware(Err(refused))) => Problem::update_refused(&refused)
            .at(FIRMWARE)
            .into_response(),
        Some(Reply::NotRunning) => not_running(FIRMWARE),
        _ => no_reply(FIRMWARE),
    }
}

async fn get_status(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, &s.host.status_json())
}

/// Soft reset (API-07): the device reboots with the stored settings and reconnects.
async fn post_reset(State(s): State<AppState>) -> Response {
    tracing::info!(
        "[{}] http API: soft reset",
        crate::sim::clock::rfc3339(s.host.now())
    );
    s.host.handle(Event::SoftReset);
    let msg =
        "the device restarts and reconnects to the network; the API answers 503 until it is back";
    json_response(
        StatusCode::ACCEPTED,
        &json!({"Reset": "accepted", "Message": msg}),
    )
}

/// A config patch for the log: every `Password` value replaced (secrets never reach a log).
fn redacted(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if k.to_ascii_lowercase().contains("password") && !x.is_null() {
                        json!("***")
                    } else {
                        redacted(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn openapi() -> Response {
    let mut r = OPENAPI_JSON.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path().to_string();
    Problem::status(StatusCode::NOT_FOUND, format!("no such resource: {path}"))
        .at(&path)
        .into_response()
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
