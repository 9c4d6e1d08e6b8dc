//! The HTTP defects: the server options (no session conflict) and axum layers around the
//! correct router (any password accepted; the web page edited on its way out).

use super::{planted, Defect};
use crate::adapters::host::Host;
use crate::adapters::http::{HttpOptions, USER};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use std::sync::Arc;

/// `options` as the device's planted defects change them.
pub fn options(host: &Arc<Host>, mut options: HttpOptions) -> HttpOptions {
    if planted(host).contains(&Defect::HttpNoSessionConflict) {
        options.single_session = false;
    }
    options
}

/// What wraps the device's router: the layers of the planted HTTP and web defects.
pub fn wrapper(host: &Arc<Host>) -> impl FnOnce(Router) -> Router {
    let d = planted(host);
    let host = Arc::clone(host);
    let page = PageEdits {
        wifi_password_visible: d.contains(&Defect::WebWifiPasswordVisible),
        no_https_link: d.contains(&Defect::WebNoHttpsLink),
    };
    let any_password = d.contains(&Defect::HttpAnyPassword);
    move |mut router| {
        if any_password {
            router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
                let host = Arc::clone(&host);
                async move { next.run(with_right_password(&host, req)).await }
            }));
        }
        if page.wifi_password_visible || page.no_https_link {
            router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
                edit_page(page, req, next)
            }));
        }
        router
    }
}

/// `http-any-password`: Basic credentials naming the right user get the right password, so
/// only the user name is checked.
fn with_right_password(host: &Host, mut req: Request) -> Request {
    let b64 = base64::engine::general_purpose::STANDARD;
    let user = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, cred)| b64.decode(cred.trim()).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|d| d.split_once(':').map(|(u, _)| u.to_string()));
    if user.as_deref() == Some(USER) {
        let password = host.with_device(|d| d.identity().label_password.clone());
        let value = format!("Basic {}", b64.encode(format!("{USER}:{password}")));
        if let Ok(v) = HeaderValue::from_str(&value) {
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
    }
    req
}

/// The web defects: edits of the served page.
#[derive(Debug, Clone, Copy)]
struct PageEdits {
    /// `web-wifi-password-visible`: the Wi-Fi password field shows what is typed.
    wifi_password_visible: bool,
    /// `web-no-https-link`: the page carries no HTTPS port, so it links nowhere.
    no_https_link: bool,
}

/// The largest page edited (the real one is a few KiB).
const PAGE_LIMIT: usize = 1 << 20;

async fn edit_page(edits: PageEdits, req: Request, next: Next) -> Response {
    let page = matches!(req.uri().path(), "/" | "/index.html");
    let r = next.run(req).await;
    let html = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !page || !html {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, PAGE_LIMIT).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if edits.wifi_password_visible {
        text = text.replace(
            r#"id="wifi-password" type="password""#,
            r#"id="wifi-password" type="text""#,
        );
    }
    if edits.no_https_link {
        text = without_https_port(&text);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// The page with an empty `sc-https-port` meta tag.
fn without_https_port(html: &str) -> String {
    const TAG: &str = r#"<meta name="sc-https-port" content=""#;
    let Some(start) = html.find(TAG).map(|i| i.saturating_add(TAG.len())) else {
        return html.to_string();
    };
    match html.get(start..).and_then(|rest| rest.find('"')) {
        Some(len) => format!("{}{}", &html[..start], &html[start.saturating_add(len)..]),
        None => html.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_https_port_is_emptied() {
        let page = r#"<head><meta name="sc-https-port" content="8443"><title>x</title>"#;
        assert_eq!(
            without_https_port(page),
            r#"<head><meta name="sc-https-port" content=""><title>x</title>"#
        );
        assert_eq!(without_https_port("<p>no tag</p>"), "<p>no tag</p>");
    }
}
