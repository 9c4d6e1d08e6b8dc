//! The web interface (WEB-01..06): one page of plain HTML, CSS and vanilla JavaScript,
//! embedded from `assets/` (no build step), that calls the same `/api/v1` with `fetch`.
//!
//! Login: the page itself is public (it holds no data); a login form asks for the label
//! password and the script sends it as a Basic `Authorization` header on every API call
//! (`credentials: "omit"`, so the browser never pops up its own prompt, which would also
//! fight with the explicit header). The password is kept in the tab's `sessionStorage` so a
//! reload stays logged in; closing the tab forgets it. The page polls the status every 5 s,
//! which keeps the session alive while it is open (see `device::session`); a second browser gets
//! the API's 409 text on the login form. "Log out" ends the session on the device
//! (`POST /api/v1/logout`), so another client can sign in at once.
//!
//! Scripts: `app.js` (helpers, login, status, pollers; `window.SC`), `settings.js` (the
//! forms, every field error of a 422, settings pending a restart), `live.js` (the meter
//! values card, polled every second, and the restart: confirmation dialog, grey indicators
//! while waiting, "Restarted (up N s)" or, after 60 s, what happened and what to do).
//!
//! Pages served over plain HTTP show a banner linking to the HTTPS page on the same host
//! name (port from `HttpOptions::https_port`, injected into a `<meta>` tag): the manual's
//! "secure configuration environment" (WEB-01, WEB-06).

use super::api::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const SETTINGS_JS: &str = include_str!("assets/settings.js");
const LIVE_JS: &str = include_str!("assets/live.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const LOGO_SVG: &str = include_str!("assets/logo.svg");

/// Content Security Policy: everything from this device, nothing inline.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route(
            "/assets/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/settings.js",
            get(|| asset(SETTINGS_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/live.js",
            get(|| asset(LIVE_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/style.css",
            get(|| asset(STYLE_CSS, "text/css; charset=utf-8")),
        )
        .route("/assets/logo.svg", get(|| asset(LOGO_SVG, "image/svg+xml")))
        .route("/favicon.ico", get(|| asset(LOGO_SVG, "image/svg+xml")))
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn index(State(s): State<AppState>) -> Response {
    let port = s
        .options
        .https_port
        .map(|p| p.to_string())
        .unwrap_or_default();
    let html = INDEX_HTML
        .replace("{{HTTPS_PORT}}", &port)
        .replace("{{SCHEME}}", if s.tls { "https" } else { "http" });
    let mut r = html.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}
