//! The control surface over HTTP JSON (`run --control`, default 127.0.0.1:8090): the house
//! state and KPIs, changes, faults now, the fuse, pause/resume/speed, the console page and
//! its Server-Sent Events. The OpenAPI document is `/api/openapi.json`
//! (`schemas/control-openapi.json`).
//!
//! Errors: 400 when the body is not JSON (with line and column), 422 naming every wrong field
//! (`{"title": …, "errors": [{"field": "ev.amps", "message": …}]}`), 409 when the run cannot
//! do it (pause at `--speed max`). A refused request changes nothing.

use super::{Control, ControlError};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// The control API's OpenAPI 3.1 document.
pub const OPENAPI_JSON: &str = include_str!("../../../schemas/control-openapi.json");
const CONSOLE_HTML: &str = include_str!("console.html");
/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;

type Shared = Arc<Control>;

/// The router (tests drive it without a socket).
pub fn router(ctl: Shared) -> Router {
    Router::new()
        .route("/", get(console))
        .route("/api/openapi.json", get(openapi))
        .route("/api/house", get(state).patch(change))
        .route("/api/house/summary", get(summary))
        .route("/api/house/faults", post(fault))
        .route("/api/house/fuse/reset", post(fuse_reset))
        .route("/api/house/pause", post(pause))
        .route("/api/house/resume", post(resume))
        .route("/api/house/speed", put(speed))
        .route("/api/house/log", get(log))
        .route("/api/house/samples", get(samples))
        .route("/api/house/events", get(events))
        .layer(axum::middleware::from_fn(crate::adapters::http::whole_body))
        .with_state(ctl)
}

/// Serve the control surface on `listener` until the handle is aborted.
pub fn serve(
    ctl: Shared,
    listener: impl Into<crate::adapters::net::Listener>,
) -> tokio::task::JoinHandle<()> {
    crate::adapters::http::serve_plain(listener, router(ctl), MAX_CONNECTIONS)
}

async fn console() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        CONSOLE_HTML,
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn state(State(ctl): State<Shared>) -> Json<Value> {
    Json(ctl.state())
}

async fn summary(State(ctl): State<Shared>) -> Response {
    Json(ctl.summary()).into_response()
}

async fn log(State(ctl): State<Shared>) -> Response {
    Json(ctl.log()).into_response()
}

async fn samples(State(ctl): State<Shared>) -> Response {
    let samples: Vec<super::Sample> = ctl.recent().iter().map(|s| (**s).clone()).collect();
    Json(samples).into_response()
}

/// The body as JSON, or 400 naming where it broke.
fn body_json(body: &Bytes) -> Result<Value, Box<Response>> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            "the body is not JSON",
            json!({"detail": format!("line {} column {}: {e}", e.line(), e.column())}),
        ))
    })
}

fn problem(status: StatusCode, title: &str, extra: Value) -> Response {
    let mut body = json!({"title": title, "status": status.as_u16()});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn refused(e: ControlError) -> Response {
    match e {
        ControlError::Invalid(errors) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing changed: fix these fields",
            json!({"errors": errors}),
        ),
        ControlError::Conflict(why) => problem(
            StatusCode::CONFLICT,
            "not possible in this run",
            json!({"detail": why}),
        ),
    }
}

/// Run a control operation on a JSON body; 200 with the new state.
fn answer(
    ctl: &Control,
    body: &Bytes,
    op: impl FnOnce(&Value) -> Result<(), ControlError>,
) -> Response {
    let v = match body_json(body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match op(&v) {
        Ok(()) => Json(ctl.state()).into_response(),
        Err(e) => refused(e),
    }
}

async fn change(State(ctl): State<Shared>, body: Bytes) -> Response {
    answer(&ctl, &body, |v| ctl.change("http", v))
}

async fn fault(State(ctl): State<Shared>, body: Bytes) -> Response {
    answer(&ctl, &body, |v| ctl.fault("http", v))
}

async fn fuse_reset(State(ctl): State<Shared>) -> Response {
    answer(&ctl, &Bytes::new(), |_| ctl.reset_fuse("http"))
}

async fn pause(State(ctl): State<Shared>) -> Response {
    answer(&ctl, &Bytes::new(), |_| ctl.pause("http"))
}

async fn resume(State(ctl): State<Shared>) -> Response {
    answer(&ctl, &Bytes::new(), |_| ctl.resume("http"))
}

async fn speed(State(ctl): State<Shared>, body: Bytes) -> Response {
    answer(&ctl, &body, |v| ctl.set_speed("http", v))
}

/// Server-Sent Events: one `sample` event per telegram (JSON of `Sample`), starting with the
/// recent ones so a new console draws a chart at once.
async fn events(State(ctl): State<Shared>) -> Response {
    let rx = ctl.samples();
    let backlog: Vec<_> = ctl.recent();
    let head = futures_util::stream::iter(backlog.into_iter().map(|s| Ok(sse(&s))));
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(s) => return Some((Ok::<_, std::convert::Infallible>(sse(&s)), rx)),
                // A slow console skips samples; the chart has a gap, the stream goes on.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    let stream = futures_util::StreamExt::chain(head, live);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn sse(s: &super::Sample) -> Bytes {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: sample\ndata: {json}\n\n"))
}
