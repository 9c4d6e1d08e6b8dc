//! HTTP API steps (API-01/02/05..08, FW-01, the OpenAPI document): the scenario's own HTTP
//! clients talk to `target.http_url()` / `target.https_url()` as any client on the LAN would.
//!
//! - "A client" / "the first client" connects from the harness's own address, the address
//!   the target's own API calls come from too: they are one client to the device.
//! - "A second client, from another address" binds its source address to
//!   `SC_SECOND_CLIENT_ADDR` (default 127.0.0.2: Linux routes all of 127/8 to loopback, so it
//!   reaches a device on 127.0.0.1 from another address). On a bench with a real device, set
//!   it to a second address of the harness host on the device's LAN.
//! - `ApiClient` keeps no response headers, and the 401 challenge is a header: these steps
//!   use `dut::http_client` directly, over the target's network (`Target::net`), one new
//!   connection per request. The session is held by the credentials and the source address,
//!   not by a connection.
//! - Time passes only through `w.pass(ms)`.

use super::world::DeviceWorld;
use crate::adapters::net::Net;
use crate::dut::http_client::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use crate::dut::http_client::{HeaderMap, HttpClient, Method};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};

/// What the HTTP and web steps remember between steps.
#[derive(Debug, Default)]
pub struct HttpBench {
    /// The last answer a step got.
    pub last: Option<Reply>,
    /// The page a browser opened, with the files it loads (web steps).
    pub page: Option<super::web::Page>,
    /// The part of the page a "form" step looks at (web steps).
    pub form: Option<String>,
    /// The secure page the plain page links to (web steps).
    pub secure_link: Option<url::Url>,
}

/// An HTTP answer with its headers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    /// The body as a JSON object, with a content type that says JSON.
    pub fn json_object(&self) -> Value {
        let ct = self.content_type();
        assert!(
            ct.contains("json"),
            "{}: content type {ct:?} is not JSON",
            self.what
        );
        match self.json() {
            Some(v @ Value::Object(_)) => v,
            _ => panic!(
                "{}: the body is not a JSON object: {}",
                self.what, self.text
            ),
        }
    }
}

/// Who a request logs in as.
#[derive(Debug, Clone)]
pub enum Login {
    Nobody,
    As(String, String),
}

/// How a client reaches the device.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The target's network (`Target::net`).
    pub net: Net,
    /// Bind the source address.
    pub from: Option<IpAddr>,
    /// Trust exactly this CA (PEM) for HTTPS.
    pub ca_pem: Option<String>,
    /// Accept any server certificate (only where a step checks that HTTPS is served, not
    /// who signed the certificate).
    pub any_certificate: bool,
    /// Resolve this host name to this address, as mDNS or the router's DNS would.
    pub resolve: Option<(String, SocketAddr)>,
}

impl Reach {
    /// The harness's own way to the target's device: its network, the harness's own
    /// address, no HTTPS trust, no extra names.
    pub fn of(w: &mut DeviceWorld) -> Reach {
        Reach {
            net: w.target().net(),
            from: None,
            ca_pem: None,
            any_certificate: false,
            resolve: None,
        }
    }
}

/// A client that reaches the device as `reach` says (no redirects followed, 10 s timeout).
pub fn http_client(reach: &Reach) -> Result<HttpClient, String> {
    let mut c = HttpClient::new(reach.net.clone());
    if let Some(ip) = reach.from {
        c = c.from(ip);
    }
    if let Some(pem) = &reach.ca_pem {
        c = c.trust_ca_pem(pem).map_err(|e| e.to_string())?;
    }
    if reach.any_certificate {
        c = c.accept_any_certificate().map_err(|e| e.to_string())?;
    }
    if let Some((name, addr)) = &reach.resolve {
        c = c.resolve(name, addr.ip());
    }
    Ok(c)
}

/// One request; no answer at all (no connection, a refused certificate) is the error.
pub async fn try_request(
    reach: &Reach,
    method: Method,
    url: &str,
    login: &Login,
    body: Option<(&str, &Value)>,
) -> Result<Reply, String> {
    let client = http_client(reach)?;
    let mut req = client.request(method.clone(), url);
    if let Login::As(user, password) = login {
        req = req.basic_auth(user, Some(password));
    }
    if let Some((content_type, b)) = body {
        req = req.header(CONTENT_TYPE, content_type).body(b.to_string());
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text();
    Ok(Reply {
        what: format!("{method} {url}"),
        status,
        headers,
        text,
    })
}

/// One request that must get an answer (any status).
pub async fn request(
    reach: &Reach,
    method: Method,
    url: &str,
    login: &Login,
    body: Option<(&str, &Value)>,
) -> Reply {
    try_request(reach, method.clone(), url, login, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: the device does not answer ({e})"))
}

/// User `user` with the password printed on the label (API-01).
pub fn label_login(w: &mut DeviceWorld) -> Login {
    Login::As("user".into(), w.target().label().label_password)
}

/// The source address of "a second client, from another address": the target's (a bench's
/// second address, from its target file), else `SC_SECOND_CLIENT_ADDR`, else 127.0.0.2.
fn second_address(w: &mut DeviceWorld) -> IpAddr {
    if let Some(a) = w.target().second_client_addr() {
        return a;
    }
    std::env::var("SC_SECOND_CLIENT_ADDR")
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("SC_SECOND_CLIENT_ADDR={s:?} is not an IP address"))
        })
        .unwrap_or(IpAddr::from([127, 0, 0, 2]))
}

/// `path` on the device's plain-HTTP server.
pub fn api_url(w: &mut DeviceWorld, path: &str) -> String {
    format!("{}{path}", w.target().http_url())
}

/// A request from the first client, logged in with the label password.
pub async fn first_client(w: &mut DeviceWorld, method: Method, path: &str) -> Reply {
    let url = api_url(w, path);
    let login = label_login(w);
    request(&Reach::of(w), method, &url, &login, None).await
}

async fn second_client(w: &mut DeviceWorld, path: &str) -> Reply {
    let url = api_url(w, path);
    let login = label_login(w);
    let reach = Reach {
        from: Some(second_address(w)),
        ..Reach::of(w)
    };
    request(&reach, Method::GET, &url, &login, None).await
}

pub fn last(w: &DeviceWorld) -> &Reply {
    w.http.last.as_ref().expect("no request was made yet")
}

/// 401 with a `WWW-Authenticate: Basic …` challenge (API-08), as a JSON error.
pub fn assert_basic_challenge(r: &Reply) {
    assert_eq!(r.status, 401, "{}: {}", r.what, r.text);
    let challenges: Vec<&str> = r
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.trim_start().to_ascii_lowercase().starts_with("basic")),
        "{}: no WWW-Authenticate: Basic challenge (got {challenges:?})",
        r.what
    );
}

fn assert_busy(r: &Reply) {
    assert_eq!(r.status, 409, "{}: expected 409, got {}", r.what, r.text);
    r.json_object();
}

fn assert_status_ok(r: &Reply) {
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let s = r.json_object();
    assert!(s.get("System").is_some(), "{}: not a status: {s}", r.what);
}

// ---- API-01, API-08: Basic authentication --------------------------------------------------

fn resource_path(what: &str) -> String {
    match what {
        "the status" => "/api/v1/status".into(),
        "the configuration" => "/api/v1/config".into(),
        "the firmware" => "/api/v1/firmware".into(),
        path if path.starts_with("/api/") => path.into(),
        other => panic!("unknown resource {other:?}"),
    }
}

#[when(
    regex = r#"^a client asks for (the status|the configuration|the firmware|/api/\S+) (without credentials|as user "(.*)" with (?:the label password|a wrong password|an empty password))$"#
)]
async fn client_asks(w: &mut DeviceWorld, what: String, how: String, user: String) {
    let label = w.target().label().label_password;
    let login = if how == "without credentials" {
        Login::Nobody
    } else if how.ends_with("the label password") {
        Login::As(user, label)
    } else if how.ends_with("a wrong password") {
        Login::As(user, format!("{label}x"))
    } else {
        Login::As(user, String::new())
    };
    let url = api_url(w, &resource_path(&what));
    let r = request(&Reach::of(w), Method::GET, &url, &login, None).await;
    w.http.last = Some(r);
}

#[then(regex = r"^the answer is (\d{3}) with a JSON document$")]
fn answer_json(w: &mut DeviceWorld, code: u16) {
    let r = last(w);
    assert_eq!(r.status, code, "{}: {}", r.what, r.text);
    r.json_object();
}

#[then(regex = r"^the answer is a success$")]
fn answer_success(w: &mut DeviceWorld) {
    let r = last(w);
    assert!(
        (200..300).contains(&r.status),
        "{}: {} {}",
        r.what,
        r.status,
        r.text
    );
}

#[then(regex = r"^the answer is 401 with a Basic authentication challenge$")]
fn answer_challenge(w: &mut DeviceWorld) {
    let r = last(w);
    assert_basic_challenge(r);
    r.json_object();
}

// ---- API-02, API-08: one session -----------------------------------------------------------

#[given(regex = r"^a first client is using the API$")]
async fn first_in(w: &mut DeviceWorld) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_status_ok(&r);
}

#[when(regex = r"^a second client, from another address, asks for the status$")]
async fn second_asks(w: &mut DeviceWorld) {
    let r = second_client(w, "/api/v1/status").await;
    w.http.last = Some(r);
}

#[then(regex = r"^the second client is refused with 409 and a JSON error$")]
fn second_refused(w: &mut DeviceWorld) {
    assert_busy(last(w));
}

#[then(regex = r"^a second client, from another address, is still refused with 409$")]
async fn second_still_refused(w: &mut DeviceWorld) {
    let r = second_client(w, "/api/v1/status").await;
    assert_busy(&r);
}

#[then(regex = r"^a second client, from another address, gets the status$")]
async fn second_gets_in(w: &mut DeviceWorld) {
    let r = second_client(w, "/api/v1/status").await;
    assert_status_ok(&r);
}

#[then(regex = r"^the first client still gets the status$")]
async fn first_still_in(w: &mut DeviceWorld) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_status_ok(&r);
}

#[then(regex = r"^the first client is now refused with 409$")]
async fn first_refused(w: &mut DeviceWorld) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_busy(&r);
}

#[when(regex = r"^the first client makes no request for (\d+) minutes?(?: (\d+) seconds?)?$")]
async fn silence(w: &mut DeviceWorld, min: i64, sec: String) {
    let sec: i64 = if sec.is_empty() {
        0
    } else {
        sec.parse().expect("seconds")
    };
    w.pass((min * 60 + sec) * 1_000).await;
}

#[when(regex = r"^the first client makes no request for (\d+) more seconds?$")]
async fn more_silence(w: &mut DeviceWorld, sec: i64) {
    w.pass(sec * 1_000).await;
}

#[when(regex = r"^the first client asks for the status once a minute for (\d+) minutes$")]
async fn keep_alive(w: &mut DeviceWorld, minutes: i64) {
    for _ in 0..minutes {
        w.pass(60_000).await;
        let r = first_client(w, Method::GET, "/api/v1/status").await;
        assert_status_ok(&r);
    }
}

// ---- API-05, FW-01: firmware ----------------------------------------------------------------

/// The update state: `Update` is the state's name, or an object with it in `state`.
fn update_state(fw: &Value) -> String {
    let u = &fw["Update"];
    u.as_str()
        .or_else(|| u["state"].as_str())
        .unwrap_or_else(|| panic!("no update state in {fw}"))
        .to_string()
}

fn firmware_version(fw: &Value) -> String {
    let v = fw["Version"]
        .as_str()
        .unwrap_or_else(|| panic!("no Version in {fw}"));
    let parts: Vec<&str> = v.split('.').collect();
    assert!(
        parts.len() >= 2 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "version {v:?} is not a version number"
    );
    v.to_string()
}

#[then(regex = r#"^the answer names a firmware version number and the update state "(\w+)"$"#)]
fn answer_firmware(w: &mut DeviceWorld, state: String) {
    let fw = last(w).json_object();
    firmware_version(&fw);
    assert_eq!(update_state(&fw), state, "firmware: {fw}");
}

/// The manual does not give the body of the POST; the simulator's is `{"Version": "x.y.z"}`.
#[when(regex = r"^a client sends POST /api/v1/firmware asking for version (\S+)$")]
async fn post_firmware(w: &mut DeviceWorld, version: String) {
    let url = api_url(w, "/api/v1/firmware");
    let login = label_login(w);
    let body = json!({ "Version": version });
    let r = request(
        &Reach::of(w),
        Method::POST,
        &url,
        &login,
        Some(("application/json", &body)),
    )
    .await;
    w.http.last = Some(r);
}

#[then(regex = r#"^the firmware resource shows the update state "(\w+)"$"#)]
async fn firmware_state(w: &mut DeviceWorld, state: String) {
    let r = first_client(w, Method::GET, "/api/v1/firmware").await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let fw = r.json_object();
    assert_eq!(update_state(&fw), state, "firmware: {fw}");
}

/// Polled every 5 s; while the device restarts into the new firmware it does not answer.
#[then(
    regex = r#"^within (\d+) minutes the firmware resource shows version (\S+) and the update state "(\w+)"$"#
)]
async fn firmware_eventually(w: &mut DeviceWorld, minutes: i64, version: String, state: String) {
    let url = api_url(w, "/api/v1/firmware");
    let login = label_login(w);
    let mut seen = Vec::new();
    for _ in 0..=minutes * 12 {
        let r = try_request(&Reach::of(w), Method::GET, &url, &login, None).await;
        if let Some(fw) = r.ok().filter(|r| r.status == 200).and_then(|r| r.json()) {
            if fw["Version"].as_str() == Some(version.as_str()) && update_state(&fw) == state {
                return;
            }
            seen.push(fw);
        }
        w.pass(5_000).await;
    }
    panic!("after {minutes} minutes the firmware resource still does not show {version} {state:?}; seen: {seen:?}");
}

// ---- API-06: status -------------------------------------------------------------------------

/// A cell of "the status answer holds": `(any)`, `(a number)`, `(a version number)`,
/// `(an IPv4 address)`, `(true or false)`, `(the serial on the label)`, text with `(serial)`
/// standing for the label's serial, or a literal (true/false/numbers compare as JSON).
fn status_cell_matches(cell: &str, v: &Value, serial: &str) -> bool {
    match cell {
        "(any)" => !v.is_null(),
        "(a number)" => v.is_number(),
        "(true or false)" => v.is_boolean(),
        "(a version number)" => v.as_str().is_some_and(|s| {
            let p: Vec<&str> = s.split('.').collect();
            p.len() >= 2 && p.iter().all(|x| x.parse::<u32>().is_ok())
        }),
        "(an IPv4 address)" => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok()),
        "(the serial on the label)" => v.as_str() == Some(serial),
        c => match v {
            Value::String(s) => *s == c.replace("(serial)", serial),
            Value::Bool(b) => c == b.to_string(),
            Value::Number(n) => c.parse::<f64>().ok() == n.as_f64(),
            _ => false,
        },
    }
}

#[then(regex = r"^the status answer holds$")]
fn status_holds(w: &mut DeviceWorld, step: &Step) {
    let serial = w.target().label().serial;
    let s = last(w).json_object();
    let table = step
        .table
        .as_ref()
        .expect("a table: section | field | value");
    let mut wrong = Vec::new();
    for row in table.rows.iter().skip(1) {
        let (section, field, want) = (&row[0], &row[1], &row[2]);
        let got = s.get(section).and_then(|x| x.get(field));
        match got {
            Some(v) if status_cell_matches(want, v, &serial) => {}
            Some(v) => wrong.push(format!("{section}.{field} is {v}, expected {want}")),
            None => wrong.push(format!("{section}.{field} is missing")),
        }
    }
    assert!(wrong.is_empty(), "{}\nstatus: {s}", wrong.join("\n"));
}

// ---- API-07: soft reset ---------------------------------------------------------------------

#[when(regex = r"^a client sends POST /api/v1/reset$")]
async fn post_reset(w: &mut DeviceWorld) {
    let r = first_client(w, Method::POST, "/api/v1/reset").await;
    w.http.last = Some(r);
}

// ---- the OpenAPI document -------------------------------------------------------------------

#[then(regex = r"^the answer is an OpenAPI 3 document with Basic authentication that lists$")]
fn openapi_lists(w: &mut DeviceWorld, step: &Step) {
    let doc = last(w).json_object();
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3."), "openapi: {version:?}");
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        schemes.values().any(|s| s["type"] == "http"
            && s["scheme"].as_str().map(str::to_ascii_lowercase) == Some("basic".into())),
        "no HTTP Basic security scheme: {schemes:?}"
    );
    let table = step.table.as_ref().expect("a table: method | path");
    let mut missing = Vec::new();
    for row in table.rows.iter().skip(1) {
        let (method, path) = (&row[0], &row[1]);
        if !doc["paths"][path.as_str()][method.to_ascii_lowercase()].is_object() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
}

#[then(
    regex = r#"^every GET route the document lists answers 200 as user "user" with the label password$"#
)]
async fn openapi_routes_answer(w: &mut DeviceWorld) {
    let doc = last(w).json_object();
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(_, ops)| ops.get("get").is_some())
        .map(|(p, _)| p.clone())
        .collect();
    assert!(!paths.is_empty(), "the document lists no GET route");
    for p in paths {
        assert!(!p.contains('{'), "templated path {p}: give it a value here");
        let r = first_client(w, Method::GET, &p).await;
        assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    }
}
