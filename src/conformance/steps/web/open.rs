//! Opening pages (WEB-01): a browser loads a page by IP address, by the mDNS name or over
//! HTTPS, then every file it loads; the configuration page it gets.

use super::super::http::{label_login, request, try_request, Login, Reach, Reply};
use super::super::world::DeviceWorld;
use super::Page;
use super::{attr, elements, text_of};
use crate::dut::http_client::Method;
use cucumber::{then, when};
use std::net::SocketAddr;
use url::Url;

pub(super) fn device_addr(url: &str) -> (Url, SocketAddr) {
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

pub(super) fn page(w: &DeviceWorld) -> &Page {
    w.http.page.as_ref().expect("no page was opened")
}

pub(super) fn form(w: &DeviceWorld) -> &str {
    w.http
        .form
        .as_deref()
        .expect("no form was looked at: 'Then the page has a form \"…\"'")
}

#[when(regex = r"^a browser opens the web interface at the device's IP address$")]
async fn open_at_ip(w: &mut DeviceWorld) {
    let (base, _) = device_addr(&w.target().web_url(false));
    let url = base.join("/").expect("URL");
    let reach = Reach::of(w);
    open(w, url, reach).await;
}

/// The name resolves to the device's address as mDNS would (the test LAN has no responder).
#[when(regex = r"^a browser opens http://smart-connect\.local$")]
async fn open_mdns(w: &mut DeviceWorld) {
    let (base, addr) = device_addr(&w.target().web_url(false));
    let port = base.port_or_known_default().expect("port");
    let url = Url::parse(&format!("http://smart-connect.local:{port}/")).expect("URL");
    let reach = Reach {
        resolve: Some(("smart-connect.local".into(), addr)),
        ..Reach::of(w)
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
    let (base, _) = device_addr(&w.target().web_url(true));
    let reach = match w.target().https_ca_pem() {
        Some(pem) => Reach {
            ca_pem: Some(pem),
            ..Reach::of(w)
        },
        None => Reach {
            any_certificate: true,
            ..Reach::of(w)
        },
    };
    open(w, base.join("/").expect("URL"), reach).await;
}

pub(super) fn assert_config_page(r: &Reply) {
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
    let (base, addr) = device_addr(&w.target().web_url(false));
    let port = base.port_or_known_default().expect("port");
    let reach = Reach {
        resolve: Some((name.clone(), addr)),
        ..Reach::of(w)
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
