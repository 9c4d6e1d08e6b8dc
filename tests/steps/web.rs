//! Web interface steps (WEB-01..06): a "browser" here fetches the page and every file it
//! loads (scripts, style sheets, images) and reads their text; it does not run the script.
//! Forms, fields and labels are found in the HTML the way a person reads them: a field is a
//! `<label>` with its text and the control it names (`for=` or wrapped), a panel is a heading.
//! Saving "the way the page does" sends the request the page's script sends (the same API);
//! the script itself runs in a real browser in `tests/web_browser.rs`.

use super::http::{
    assert_basic_challenge, first_client, label_login, request, try_request, Login, Reach, Reply,
};
use super::world::DeviceWorld;
use cucumber::{then, when};
use reqwest::{Method, Url};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A page as a browser loaded it.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the browser loaded it from (the host name it used).
    pub url: Url,
    pub reply: Reply,
    /// How it was reached (for the files it loads and the requests that follow).
    pub reach: Reach,
    /// Every file the page loads: (URL, answer or why there was none).
    pub files: Vec<(String, Result<Reply, String>)>,
}

impl Page {
    pub fn html(&self) -> &str {
        &self.reply.text
    }

    /// Inline scripts and the scripts the page loads.
    pub fn scripts(&self) -> Vec<String> {
        let mut out: Vec<String> = elements(self.html(), "script")
            .into_iter()
            .filter(|e| attr(&e.open, "src").is_none())
            .map(|e| e.inner)
            .collect();
        for (url, r) in &self.files {
            if let Ok(r) = r {
                if url.ends_with(".js") || r.content_type().contains("javascript") {
                    out.push(r.text.clone());
                }
            }
        }
        out
    }
}

// ---- a small HTML reader --------------------------------------------------------------------

/// One element: its opening tag, what is inside (empty for void elements), where it starts.
#[derive(Debug, Clone)]
pub struct Element {
    pub at: usize,
    pub open: String,
    pub inner: String,
}

const VOID: [&str; 6] = ["input", "meta", "link", "img", "br", "hr"];

/// Every `<tag …>` in `html` (not nested in one another: enough for labels, forms, buttons,
/// headings and scripts).
pub fn elements(html: &str, tag: &str) -> Vec<Element> {
    let lower = html.to_ascii_lowercase();
    let open_pat = format!("<{tag}");
    let close_pat = format!("</{tag}>");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&open_pat).map(|i| i + from) {
        let after = i + open_pat.len();
        let next = lower[after..].chars().next();
        if !matches!(next, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            from = after;
            continue;
        }
        let Some(end) = lower[i..].find('>').map(|e| e + i + 1) else {
            break;
        };
        let open = html[i..end].to_string();
        if VOID.contains(&tag) {
            out.push(Element {
                at: i,
                open,
                inner: String::new(),
            });
            from = end;
            continue;
        }
        let close = lower[end..]
            .find(&close_pat)
            .map_or(html.len(), |c| c + end);
        out.push(Element {
            at: i,
            open,
            inner: html[end..close].to_string(),
        });
        from = close.min(html.len());
        if from == end && close == html.len() {
            break;
        }
    }
    out
}

/// An attribute of an opening tag (`name="v"`, `name='v'`, `name=v` or bare `name`).
pub fn attr(open: &str, name: &str) -> Option<String> {
    let s = open.trim_start_matches('<');
    let mut rest = s.trim_start_matches(|c: char| !c.is_whitespace() && c != '>');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            return None;
        }
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            if let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &r[1..];
                let end = body.find(q).unwrap_or(body.len());
                value = body[..end].to_string();
                rest = body.get(end + 1..).unwrap_or("");
            } else {
                let end = r
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(r.len());
                value = r[..end].to_string();
                rest = &r[end..];
            }
        }
        if key == name {
            return Some(decode(&value));
        }
    }
}

fn decode(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `html` without scripts and style sheets.
fn without_code(html: &str) -> String {
    let mut out = html.to_string();
    for tag in ["script", "style"] {
        for e in elements(&out.clone(), tag).into_iter().rev() {
            let lower = out.to_ascii_lowercase();
            let close = format!("</{tag}>");
            let end = lower[e.at..]
                .find(&close)
                .map_or(out.len(), |c| c + e.at + close.len());
            out.replace_range(e.at..end, " ");
        }
    }
    out
}

/// The pieces of text between tags, as a reader sees them (scripts and styles left out).
pub fn fragments(html: &str) -> Vec<String> {
    let html = without_code(html);
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while !rest.is_empty() {
        let (text, after) = match rest.find('<') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let t = decode(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !t.is_empty() {
            out.push(t);
        }
        rest = match after.find('>') {
            Some(j) => &after[j + 1..],
            None => "",
        };
    }
    out
}

/// All the text, joined with spaces.
pub fn text_of(html: &str) -> String {
    fragments(html).join(" ")
}

fn headings(html: &str) -> Vec<Element> {
    let mut out: Vec<Element> = (1..=6)
        .flat_map(|n| elements(html, &format!("h{n}")))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

/// A field of a form: the label's text and the control it names.
#[derive(Debug, Clone)]
struct Field {
    label: String,
    control: Element,
}

fn controls(html: &str) -> Vec<Element> {
    let mut out: Vec<Element> = ["input", "select", "textarea"]
        .iter()
        .flat_map(|t| elements(html, t))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

fn fields(form: &str) -> Vec<Field> {
    let all = controls(form);
    elements(form, "label")
        .into_iter()
        .filter_map(|l| {
            let label = text_of(&l.inner);
            let wrapped = controls(&l.inner).into_iter().next().map(|mut c| {
                // Where the control is in the form, not in the label.
                c.at += l.at;
                c
            });
            let named = attr(&l.open, "for").and_then(|id| {
                all.iter()
                    .find(|c| attr(&c.open, "id").as_deref() == Some(id.as_str()))
                    .cloned()
            });
            wrapped.or(named).map(|control| Field { label, control })
        })
        .collect()
}

/// The field whose label is `name`, or else the first whose label contains it (ignoring case).
fn field(form: &str, name: &str) -> Field {
    let all = fields(form);
    let n = name.to_lowercase();
    all.iter()
        .find(|f| f.label.to_lowercase() == n)
        .or_else(|| all.iter().find(|f| f.label.to_lowercase().contains(&n)))
        .cloned()
        .unwrap_or_else(|| {
            let labels: Vec<&String> = all.iter().map(|f| &f.label).collect();
            panic!("the form has no field {name:?}; its fields: {labels:?}")
        })
}

/// `"A", "B" and "C"` → [A, B, C].
fn quoted_list(s: &str) -> Vec<String> {
    s.split('"').skip(1).step_by(2).map(String::from).collect()
}

// ---- opening pages --------------------------------------------------------------------------

fn device_addr(url: &str) -> (Url, SocketAddr) {
    let u = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let addr = u
        .socket_addrs(|| None)
        .ok()
        .and_then(|a| a.into_iter().next())
        .unwrap_or_else(|| panic!("{url}: no address"));
    (u, addr)
}

/// `src` / `href` of what a page loads, as absolute URLs.
fn loaded_files(page_url: &Url, html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for (tag, a) in [("script", "src"), ("img", "src"), ("link", "href")] {
        for e in elements(html, tag) {
            if tag == "link" {
                let rel = attr(&e.open, "rel").unwrap_or_default().to_lowercase();
                if !(rel.contains("stylesheet") || rel.contains("icon")) {
                    continue;
                }
            }
            if let Some(v) = attr(&e.open, a) {
                if !v.starts_with("data:") && !v.is_empty() {
                    refs.push(v);
                }
            }
        }
    }
    refs.into_iter()
        .map(|r| {
            page_url
                .join(&r)
                .unwrap_or_else(|e| panic!("{r}: {e}"))
                .to_string()
        })
        .collect()
}

/// A browser loads `url`: the page without credentials (a page that asks for them gets the
/// label password, as the user would type it), then every file it loads.
async fn open(w: &mut DeviceWorld, url: Url, reach: Reach) {
    let mut login = Login::Nobody;
    let mut reply = request(&reach, Method::GET, url.as_str(), &login, None).await;
    if reply.status == 401 {
        login = label_login(w);
        reply = request(&reach, Method::GET, url.as_str(), &login, None).await;
    }
    let mut files = Vec::new();
    for f in loaded_files(&url, &reply.text) {
        let r = try_request(&reach, Method::GET, &f, &login, None).await;
        files.push((f, r));
    }
    w.http.page = Some(Page {
        url,
        reply,
        reach,
        files,
    });
    w.http.form = None;
}

fn page(w: &DeviceWorld) -> &Page {
    w.http.page.as_ref().expect("no page was opened")
}

fn form(w: &DeviceWorld) -> &str {
    w.http
        .form
        .as_deref()
        .expect("no form was looked at: 'Then the page has a form \"…\"'")
}

#[when(regex = r"^a browser opens the web interface at the device's IP address$")]
async fn open_at_ip(w: &mut DeviceWorld) {
    let (base, _) = device_addr(&w.target().http_url());
    let url = base.join("/").expect("URL");
    open(w, url, Reach::default()).await;
}

/// The name resolves to the device's address as mDNS would (the test LAN has no responder).
#[when(regex = r"^a browser opens http://smart-connect\.local$")]
async fn open_mdns(w: &mut DeviceWorld) {
    let (base, addr) = device_addr(&w.target().http_url());
    let port = base.port_or_known_default().expect("port");
    let url = Url::parse(&format!("http://smart-connect.local:{port}/")).expect("URL");
    let reach = Reach {
        resolve: Some(("smart-connect.local".into(), addr)),
        ..Reach::default()
    };
    open(w, url, reach).await;
}

/// HTTPS with exactly the CA that signed the device certificate, when the target gives it.
/// A target that does not (a real device whose vendor CA the bench lacks) is reached
/// accepting any certificate: this scenario checks that HTTPS is served, not who signed the
/// certificate (the link scenario checks that, and needs the CA).
#[when(
    regex = r"^a browser opens the web interface over HTTPS, trusting the CA of the device certificate$"
)]
async fn open_https(w: &mut DeviceWorld) {
    let (base, _) = device_addr(&w.target().https_url());
    let reach = match w.target().https_ca_pem() {
        Some(pem) => Reach {
            ca_pem: Some(pem),
            ..Reach::default()
        },
        None => Reach {
            any_certificate: true,
            ..Reach::default()
        },
    };
    open(w, base.join("/").expect("URL"), reach).await;
}

fn assert_config_page(r: &Reply) {
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let ct = r.content_type();
    assert!(
        ct.starts_with("text/html"),
        "{}: content type {ct:?}",
        r.what
    );
    let title = elements(&r.text, "title")
        .first()
        .map(|t| text_of(&t.inner))
        .unwrap_or_default();
    assert!(
        title.contains("Smart Connect"),
        "{}: the page's title is {title:?}",
        r.what
    );
}

#[then(regex = r"^it gets the Smart Connect configuration page$")]
fn gets_page(w: &mut DeviceWorld) {
    assert_config_page(&page(w).reply);
}

/// The browser found the device under `name` (resolved to the device's address here).
#[then(regex = r"^the page also answers a browser that asks for http://(\S+)$")]
async fn answers_by_name(w: &mut DeviceWorld, name: String) {
    let serial = w.target().label().serial;
    let name = name.replace("<serial>", &serial);
    let (base, addr) = device_addr(&w.target().http_url());
    let port = base.port_or_known_default().expect("port");
    let reach = Reach {
        resolve: Some((name.clone(), addr)),
        ..Reach::default()
    };
    let url = format!("http://{name}:{port}/");
    let r = request(&reach, Method::GET, &url, &Login::Nobody, None).await;
    let r = if r.status == 401 {
        let login = label_login(w);
        request(&reach, Method::GET, &url, &login, None).await
    } else {
        r
    };
    assert_config_page(&r);
}

// ---- WEB-02: the status panel ---------------------------------------------------------------

#[then(regex = r"^every file the page loads is served$")]
fn files_served(w: &mut DeviceWorld) {
    let p = page(w);
    assert!(!p.files.is_empty(), "the page loads no files");
    assert!(
        p.files.iter().any(|(u, _)| u.ends_with(".js")),
        "the page loads no script: {:?}",
        p.files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (url, r) in &p.files {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{url}: the device does not answer ({e})"));
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        assert!(!r.text.trim().is_empty(), "{url} is empty");
    }
}

#[then(regex = r"^the page has the panels (.+)$")]
fn panels(w: &mut DeviceWorld, list: String) {
    let hs: Vec<String> = headings(page(w).html())
        .iter()
        .map(|h| text_of(&h.inner))
        .collect();
    for want in quoted_list(&list) {
        assert!(
            hs.iter().any(|h| h.eq_ignore_ascii_case(&want)),
            "no panel headed {want:?}; headings: {hs:?}"
        );
    }
}

#[then(regex = r"^the page has the labels (.+)$")]
fn labels(w: &mut DeviceWorld, list: String) {
    let fr = fragments(page(w).html());
    for want in quoted_list(&list) {
        assert!(
            fr.iter().any(|f| f.eq_ignore_ascii_case(&want)),
            "the page has no label {want:?}"
        );
    }
}

#[then(regex = r"^the page's script reads the status from (/\S+)$")]
fn script_reads(w: &mut DeviceWorld, path: String) {
    let scripts = page(w).scripts();
    assert!(
        scripts.iter().any(|s| s.contains(&path)),
        "no script of the page uses {path}"
    );
}

#[then(regex = r"^the page's script saves settings with (PATCH) (/\S+)$")]
fn script_saves(w: &mut DeviceWorld, method: String, path: String) {
    let scripts = page(w).scripts();
    assert!(
        scripts
            .iter()
            .any(|s| s.contains(&path) && s.contains(&method)),
        "no script of the page sends {method} {path}"
    );
}

#[then(
    regex = r"^that status names the active interface and has the indicators Link, Network, Internet and MQTT$"
)]
async fn status_indicators(w: &mut DeviceWorld) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let s = r.json_object();
    let n = &s["Network"];
    assert!(
        n["ActiveInterface"].as_str().is_some_and(|i| !i.is_empty()),
        "no active interface: {n}"
    );
    for k in ["Link", "Network", "Internet", "MQTT"] {
        assert!(n[k].is_boolean(), "no {k} indicator (on/off) in {n}");
    }
}

// ---- WEB-03..05: the forms ------------------------------------------------------------------

/// The form headed `title`: the form around the heading, or the first form after it.
#[then(regex = r#"^the page has a form "(.+)"$"#)]
fn has_form(w: &mut DeviceWorld, title: String) {
    let html = page(w).html().to_string();
    let h = headings(&html)
        .into_iter()
        .find(|h| text_of(&h.inner).eq_ignore_ascii_case(&title))
        .unwrap_or_else(|| panic!("the page has no heading {title:?}"));
    let forms = elements(&html, "form");
    let around = forms
        .iter()
        .find(|f| f.at < h.at && h.at < f.at + f.open.len() + f.inner.len());
    let f = around
        .or_else(|| forms.iter().find(|f| f.at > h.at))
        .unwrap_or_else(|| panic!("no form under the heading {title:?}"));
    w.http.form = Some(f.inner.clone());
}

#[then(regex = r#"^the form offers a choice between "(.+)" and "(.+)"$"#)]
fn choice(w: &mut DeviceWorld, a: String, b: String) {
    let f = form(w);
    let (fa, fb) = (field(f, &a), field(f, &b));
    for x in [&fa, &fb] {
        assert_eq!(
            attr(&x.control.open, "type").as_deref(),
            Some("radio"),
            "{:?} is not one of a set of choices: {}",
            x.label,
            x.control.open
        );
    }
    let (na, nb) = (
        attr(&fa.control.open, "name"),
        attr(&fb.control.open, "name"),
    );
    assert!(
        na.is_some() && na == nb,
        "{a:?} and {b:?} are not one choice: {} / {}",
        fa.control.open,
        fb.control.open
    );
}

#[then(regex = r"^the form has the fields (.+)$")]
fn has_fields(w: &mut DeviceWorld, list: String) {
    let f = form(w);
    for name in quoted_list(&list) {
        let x = field(f, &name);
        let ty = attr(&x.control.open, "type").unwrap_or_else(|| "text".into());
        assert!(
            !matches!(
                ty.as_str(),
                "radio" | "checkbox" | "hidden" | "submit" | "button"
            ),
            "{name:?} is not a field to fill in: {}",
            x.control.open
        );
    }
}

#[then(regex = r#"^the form has the button "(.+)"$"#)]
fn has_button(w: &mut DeviceWorld, name: String) {
    let f = form(w);
    let buttons = elements(f, "button");
    let b = buttons
        .iter()
        .find(|b| text_of(&b.inner).eq_ignore_ascii_case(&name))
        .unwrap_or_else(|| {
            let names: Vec<String> = buttons.iter().map(|b| text_of(&b.inner)).collect();
            panic!("the form has no button {name:?}; its buttons: {names:?}")
        });
    let ty = attr(&b.open, "type").unwrap_or_else(|| "submit".into());
    assert_eq!(
        ty, "submit",
        "{name:?} does not submit the form: {}",
        b.open
    );
}

#[then(regex = r#"^the field "(.+)" hides what is typed(, with a "(.+)" button next to it)?$"#)]
fn hides(w: &mut DeviceWorld, name: String, with: String, button: String) {
    let f = form(w);
    let x = field(f, &name);
    assert_eq!(
        attr(&x.control.open, "type").as_deref(),
        Some("password"),
        "{name:?} shows what is typed: {}",
        x.control.open
    );
    if with.is_empty() {
        return;
    }
    // The next control after the field must be that button, before any other field.
    let after = x.control.at + x.control.open.len();
    let next_button = elements(f, "button").into_iter().find(|b| b.at >= after);
    let next_field = controls(f)
        .into_iter()
        .chain(elements(f, "label"))
        .filter(|c| c.at >= after)
        .map(|c| c.at)
        .min();
    let b = next_button
        .filter(|b| next_field.is_none_or(|n| b.at < n))
        .unwrap_or_else(|| panic!("no button right after the field {name:?}"));
    assert!(
        text_of(&b.inner).eq_ignore_ascii_case(&button),
        "the button next to {name:?} says {:?}",
        text_of(&b.inner)
    );
    assert_eq!(
        attr(&b.open, "type").as_deref(),
        Some("button"),
        "the {button:?} button would submit the form: {}",
        b.open
    );
}

#[then(regex = r#"^the form says "(.+)" and "(.+)"$"#)]
fn form_says(w: &mut DeviceWorld, a: String, b: String) {
    let t = text_of(form(w));
    for want in [a, b] {
        assert!(t.contains(&want), "the form does not say {want:?}: {t}");
    }
}

#[then(regex = r#"^the form says "(.+)" next to the field "(.+)"$"#)]
fn says_next_to(w: &mut DeviceWorld, note: String, name: String) {
    let x = field(form(w), &name);
    assert!(
        x.label.contains(&note),
        "the label of {name:?} is {:?}",
        x.label
    );
}

#[then(regex = r"^the form offers no other Wi-Fi security than WPA2-PSK$")]
fn only_wpa2(w: &mut DeviceWorld) {
    let f = form(w);
    assert!(
        elements(f, "select").is_empty(),
        "the form has a drop-down list"
    );
    let t = text_of(f);
    for other in ["WEP", "WPA3", "Enterprise", "802.1X", "TKIP"] {
        assert!(!t.contains(other), "the form offers {other}: {t}");
    }
    let wpa: Vec<&str> = t.match_indices("WPA").map(|(i, _)| &t[i..]).collect();
    assert!(!wpa.is_empty(), "the form does not name WPA2-PSK");
    assert!(
        wpa.iter().all(|s| s.starts_with("WPA2-PSK")),
        "the form names another WPA mode: {t}"
    );
}

// ---- saving as the page does ----------------------------------------------------------------

async fn patch_as_page(w: &mut DeviceWorld, patch: Value) {
    let url = super::http::api_url(w, "/api/v1/config");
    let login = label_login(w);
    let r = request(
        &Reach::default(),
        Method::PATCH,
        &url,
        &login,
        Some(("application/merge-patch+json", &patch)),
    )
    .await;
    w.http.last = Some(r);
}

/// What the page's "Save network settings" sends for a static Ethernet address.
#[when(
    regex = r"^the network settings are saved the way the page does, with Ethernet, static address (\S+), netmask (\d+), gateway (\S+) and DNS (\S+)$"
)]
async fn save_network(w: &mut DeviceWorld, ip: String, mask: String, gw: String, dns: String) {
    let patch = json!({
        "DefaultNetIf": "Ethernet",
        "Ethernet": { "IpMode": "Static", "StaticIPv4": {
            "IpAddress": ip, "Netmask": mask, "Gateway": gw, "DNS": dns } }
    });
    patch_as_page(w, patch).await;
}

/// What the page's "Save MQTT settings" sends.
#[when(
    regex = r#"^the MQTT settings are saved the way the page does, (enabled|disabled), with broker (\S+), username "(.*)", password "(.*)" and site "(.*)"$"#
)]
async fn save_mqtt(
    w: &mut DeviceWorld,
    on: String,
    broker: String,
    user: String,
    password: String,
    site: String,
) {
    let patch = json!({ "MQTT": {
        "Enabled": on == "enabled", "Broker": broker, "Username": user,
        "Password": password, "Site": site } });
    patch_as_page(w, patch).await;
}

/// The page's "Restart device": `POST /api/v1/reset`, then the device boots.
#[when(regex = r"^the device is restarted the way the page does$")]
async fn restart_as_page(w: &mut DeviceWorld) {
    let r = first_client(w, Method::POST, "/api/v1/reset").await;
    assert!(
        (200..300).contains(&r.status),
        "{}: {} {}",
        r.what,
        r.status,
        r.text
    );
    w.boot().await;
}

#[then(regex = r"^the status (?:still )?shows MQTT (enabled|disabled)$")]
async fn mqtt_enabled(w: &mut DeviceWorld, how: String) {
    let r = first_client(w, Method::GET, "/api/v1/status").await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    let s = r.json_object();
    assert_eq!(
        s["MQTT"]["Enabled"].as_bool(),
        Some(how == "enabled"),
        "MQTT: {}",
        s["MQTT"]
    );
}

// ---- WEB-06: HTTPS --------------------------------------------------------------------------

#[then(regex = r#"^over HTTPS the status answers for user "user" with the label password$"#)]
async fn https_status(w: &mut DeviceWorld) {
    let reach = page(w).reach.clone();
    let url = format!("{}/api/v1/status", w.target().https_url());
    let login = label_login(w);
    let r = request(&reach, Method::GET, &url, &login, None).await;
    assert_eq!(r.status, 200, "{}: {}", r.what, r.text);
    assert!(r.json_object().get("System").is_some(), "not a status");
}

#[then(
    regex = r"^over HTTPS a request without credentials gets 401 with a Basic authentication challenge$"
)]
async fn https_challenge(w: &mut DeviceWorld) {
    let reach = page(w).reach.clone();
    let url = format!("{}/api/v1/status", w.target().https_url());
    let r = request(&reach, Method::GET, &url, &Login::Nobody, None).await;
    assert_basic_challenge(&r);
}

/// A link to `https://…` in the page; or, for a page whose script builds the link (the
/// simulator's: the host name the browser used, and the HTTPS port the page names in
/// `<meta name="sc-https-port">`), a link that says "secure" and that URL.
#[then(regex = r"^the page links to the secure configuration page$")]
fn links_to_secure(w: &mut DeviceWorld) {
    let p = page(w);
    let html = p.html();
    let anchors = elements(html, "a");
    let link = anchors
        .iter()
        .filter_map(|a| attr(&a.open, "href"))
        .find(|h| h.starts_with("https://"))
        .map(|h| Url::parse(&h).unwrap_or_else(|e| panic!("{h}: {e}")))
        .or_else(|| {
            let says_secure = anchors
                .iter()
                .any(|a| text_of(&a.inner).to_lowercase().contains("secure"));
            let port = elements(html, "meta")
                .into_iter()
                .find(|m| attr(&m.open, "name").as_deref() == Some("sc-https-port"))
                .and_then(|m| attr(&m.open, "content"))
                .and_then(|c| c.parse::<u16>().ok());
            match (says_secure, port) {
                (true, Some(port)) => {
                    let mut u = p.url.join("/").expect("URL");
                    u.set_scheme("https").expect("https");
                    u.set_port(Some(port).filter(|p| *p != 443)).expect("port");
                    Some(u)
                }
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("the page at {} has no link to a secure page", p.url));
    assert_eq!(link.scheme(), "https", "{link}");
    w.http.secure_link = Some(link);
}

#[then(
    regex = r"^following the link gets the Smart Connect configuration page over HTTPS, with a certificate valid for (\S+)$"
)]
async fn follow_secure(w: &mut DeviceWorld, name: String) {
    let link = w.http.secure_link.clone().expect("no secure link found");
    assert_eq!(
        link.host_str(),
        Some(name.as_str()),
        "the link goes to {link}"
    );
    let pem = w.target().https_ca_pem().expect(
        "the target does not give the CA of its HTTPS certificate: the certificate cannot be checked",
    );
    let (_, https_addr) = device_addr(&w.target().https_url());
    let reach = Reach {
        ca_pem: Some(pem),
        resolve: Some((name, https_addr)),
        ..Reach::default()
    };
    let r = try_request(&reach, Method::GET, link.as_str(), &Login::Nobody, None)
        .await
        .unwrap_or_else(|e| {
            panic!("{link}: no answer, or the certificate is not valid for it: {e}")
        });
    let r = if r.status == 401 {
        let login = label_login(w);
        request(&reach, Method::GET, link.as_str(), &login, None).await
    } else {
        r
    };
    assert_config_page(&r);
}
