//! Field errors on the settings page in headless Chromium (part of `tests/integration/web_browser/`):
//! every field a 422 names (`errors: [{detail, pointer}]`) is marked with its message — the
//! server's own answer to a patch with several bad fields, and a faked answer with three
//! field errors and one for a key the form does not show — and the next successful save
//! clears every mark. The device's reasons (`System.FirmwareError`, `Network.Problem`) show
//! when the status has them and the page works without them. Screenshot:
//! `docs/settings-errors.png`.

use super::browser::Browser;
use super::screenshot_path;
use super::settings_page::Page;
use fantoccini::Locator;
use serde_json::{json, Value};

const STATIC: [(&str, &str); 4] = [
    ("static-ip", "IpAddress"),
    ("static-netmask", "Netmask"),
    ("static-gateway", "Gateway"),
    ("static-dns", "DNS"),
];

/// Put `values` (in `STATIC` order) into the static IP fields.
async fn fill(browser: &Browser, values: [&str; 4]) {
    for ((id, _), v) in STATIC.iter().zip(values) {
        let f = browser.client.find(Locator::Id(id)).await.unwrap();
        f.clear().await.unwrap();
        if !v.is_empty() {
            f.send_keys(v).await.unwrap();
        }
    }
}

/// The error text shown next to the input `id`.
async fn error_of(browser: &Browser, id: &str) -> String {
    let v = browser
        .eval(&format!(
            "document.getElementById('{id}').closest('.field').querySelector('.field-error').textContent"
        ))
        .await;
    v.as_str().unwrap_or_default().to_string()
}

async fn invalid(browser: &Browser, id: &str) -> bool {
    browser
        .eval(&format!(
            "document.getElementById('{id}').classList.contains('invalid')"
        ))
        .await
        .as_bool()
        .unwrap()
}

/// Click "Save network settings" and wait for the form's answer.
async fn save(browser: &Browser) {
    browser
        .eval("(document.getElementById('net-message').textContent = '', true)")
        .await;
    browser.click("#net-save").await;
    browser
        .wait_for(
            "document.getElementById('net-message').textContent !== ''",
            "the network form's answer",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_error_is_marked_and_a_good_save_clears_them() {
    let Some(browser) = Browser::start_or_skip(1280, 1000).await else {
        return;
    };
    let page = Page::start().await;
    page.sign_in(&browser).await;
    browser.click("#ipmode-static").await;
    browser
        .wait_for(
            "!document.getElementById('static-fields').classList.contains('hidden')",
            "the static IP fields",
        )
        .await;

    // The server's own answer to three bad fields: it names all three at once.
    let bad = ["300.1.1.1", "33", "192.168.10.x", ""];
    fill(&browser, bad).await;
    save(&browser).await;
    let patch = json!({"DefaultNetIf": "Ethernet", "Ethernet": {"IpMode": "Static", "StaticIPv4":
        {"IpAddress": bad[0], "Netmask": bad[1], "Gateway": bad[2], "DNS": bad[3]}}});
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let answer: Value = reqwest::Client::new()
        .patch(format!("{}/api/v1/config", page.http.url()))
        .basic_auth("user", Some(&page.password))
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 422, "{answer}");
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "every bad field named at once: {answer}");
    for e in errors {
        let pointer = e["pointer"].as_str().unwrap();
        let (id, _) = STATIC
            .iter()
            .find(|(_, k)| pointer == format!("/Ethernet/StaticIPv4/{k}"))
            .unwrap_or_else(|| panic!("an error for a field not sent: {e}"));
        assert!(invalid(&browser, id).await, "{id} marked for {e}");
        let shown = error_of(&browser, id).await;
        assert!(
            shown.contains(e["detail"].as_str().unwrap()),
            "{id} shows {shown:?} for {e}"
        );
    }
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#net-form .invalid').length")
            .await,
        errors.len(),
        "exactly the fields the server named"
    );
    assert!(!invalid(&browser, "static-dns").await, "DNS was fine");
    browser
        .eval("document.getElementById('net-form').scrollIntoView({block: 'start'}), true")
        .await;
    std::fs::write(
        screenshot_path("settings-errors.png"),
        browser.client.screenshot().await.unwrap(),
    )
    .unwrap();

    assert_eq!(
        page.host
            .with_device(|d| d.config().ethernet.static_ipv4.netmask.clone()),
        "",
        "nothing saved"
    );

    // A faked answer with three field errors and one the form has no field for.
    let fake = json!({"type": "tag:smart-connect.local,2025:invalid-config", "title": "Invalid configuration",
        "status": 422, "detail": "/Ethernet/StaticIPv4/IpAddress: not an IPv4 address",
        "pointer": "/Ethernet/StaticIPv4/IpAddress", "errors": [
            {"pointer": "/Ethernet/StaticIPv4/IpAddress", "detail": "must be an IPv4 address like \"192.168.10.101\""},
            {"pointer": "/Ethernet/StaticIPv4/Netmask", "detail": "must be a prefix length \"0\"..\"32\" as a string (e.g. \"24\")"},
            {"pointer": "/Ethernet/StaticIPv4/Gateway", "detail": "must be an IPv4 address like \"192.168.10.1\""},
            {"pointer": "/MeterType", "detail": "unknown register map"}]});
    browser
        .eval(&format!(
            "(window.realFetch = window.fetch, window.fetch = (url, init) => \
               (init && init.method === 'PATCH') \
                 ? Promise.resolve(new Response(JSON.stringify({fake}), {{status: 422, headers: {{'Content-Type': 'application/problem+json'}}}})) \
                 : window.realFetch(url, init), true)"
        ))
        .await;
    save(&browser).await;
    for (i, (id, _)) in STATIC.iter().take(3).enumerate() {
        assert!(invalid(&browser, id).await, "{id}");
        assert_eq!(
            error_of(&browser, id).await,
            fake["errors"][i]["detail"].as_str().unwrap()
        );
    }
    assert!(!invalid(&browser, "static-dns").await);
    let msg = browser
        .eval("document.getElementById('net-message').textContent")
        .await;
    let msg = msg.as_str().unwrap();
    assert!(msg.contains("correct the 3 fields marked in red"), "{msg}");
    assert!(msg.contains("/MeterType: unknown register map"), "{msg}");

    // Back to the real device: a good save clears every mark and the fields are pending.
    browser
        .eval("(window.fetch = window.realFetch, true)")
        .await;
    fill(
        &browser,
        ["192.168.10.101", "24", "192.168.10.1", "192.168.10.1"],
    )
    .await;
    save(&browser).await;
    let msg = browser
        .eval("document.getElementById('net-message').textContent")
        .await;
    assert!(msg.as_str().unwrap().contains("saved"), "{msg}");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#net-form .invalid').length")
            .await,
        0
    );
    assert_eq!(
        browser
            .eval("[...document.querySelectorAll('#net-form .field-error')].map((e) => e.textContent).join('')")
            .await,
        ""
    );
    browser
        .wait_for(
            "document.getElementById('static-gateway').closest('.field').classList.contains('pending')",
            "the saved static fields marked pending",
        )
        .await;
    assert_eq!(
        page.host
            .with_device(|d| d.config().ethernet.static_ipv4.gateway.clone()),
        "192.168.10.1"
    );

    // The device's reasons, when a (newer) server's status has them: beside the firmware and
    // in the Network card; hidden again when the keys are absent.
    let rows = "['status-firmware-error', 'status-net-problem'].map((id) => { \
        const dd = document.getElementById(id); \
        return dd.classList.contains('hidden') || dd.previousElementSibling.classList.contains('hidden') ? '' : dd.textContent; })";
    assert_eq!(
        browser.eval(rows).await,
        json!(["", ""]),
        "no keys, no rows"
    );
    browser
        .eval(
            "(window.fetch = async (url, init) => { \
               const r = await window.realFetch(url, init); \
               if (!String(url).endsWith('/api/v1/status') || r.status !== 200) return r; \
               const d = await r.json(); \
               d.System.FirmwareError = 'image 9.9.9 not found on the update server'; \
               d.Network.Problem = 'Wi-Fi network \"home\" not found'; \
               return new Response(JSON.stringify(d), {status: 200, headers: {'Content-Type': 'application/json'}}); }, \
             window.SC.refreshStatus(), true)",
        )
        .await;
    browser
        .wait_for(&format!("{rows}[1] !== ''"), "the reasons on the page")
        .await;
    assert_eq!(
        browser.eval(rows).await,
        json!([
            "image 9.9.9 not found on the update server",
            "Wi-Fi network \"home\" not found"
        ])
    );
    browser
        .eval("(window.fetch = window.realFetch, window.SC.refreshStatus(), true)")
        .await;
    browser
        .wait_for(&format!("{rows}[1] === ''"), "the reasons gone")
        .await;
    assert_eq!(browser.eval(rows).await, json!(["", ""]));
    browser.close().await;
}
