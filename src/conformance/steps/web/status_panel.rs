//! WEB-02: the status panel: every file the page loads is served, its panels and labels, the
//! API its script reads and saves with, and the status indicators.

use super::super::http::first_client;
use super::super::world::DeviceWorld;
use super::html::{headings, quoted_list};
use super::open::page;
use super::{fragments, text_of};
use crate::dut::http_client::Method;
use cucumber::then;

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
