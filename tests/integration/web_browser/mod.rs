//! The web interface in a real browser (WEB-01..05): headless Chromium signs in with the label
//! password, shows the status, saves a Cloud setting that survives a reload, and shows the
//! API's field error next to the netmask field. Screenshots: `target/web-screenshot.png`
//! (desktop) and `target/web-screenshot-mobile.png`.
//!
//! The live house console (`run --control`, `GET /`) in the same browser (`browser/console_page.rs`): samples stream in
//! over SSE while a feed puts a virtual-time house's telegrams on the device; the page's own
//! controls switch the EV on at 16 A on 3 phases, and the register table (0x8016 total W), the
//! power chart (its series and its pixels) and the device's register snapshot all show over
//! 11 kW; 99 A shows the API's `ev.amps` error and changes nothing; a dropout leaves a gap. It
//! prints the time from a telegram being fed to the page having (and having drawn) its sample.
//! Screenshot: `target/console-screenshot.png` (copied to `docs/console.png` for the README).
//!
//! The settings page's live parts (`browser/settings_page.rs`): the Meter values card follows
//! the telegrams, a saved setting is marked pending until a restart, the restart asks first,
//! waits with grey indicators and says "Restarted (up N s)" or why the device did not come
//! back, and "Log out" frees the device's session. Every field error of a 422 is marked
//! (`browser/settings_errors.rs`). Screenshots: `target/settings-page.png`,
//! `target/settings-errors.png` (copied to `docs/` for the README).
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test fails in CI
//! (`CI=true`) or with `SC_REQUIRE_BROWSER=1`, and elsewhere prints that it was skipped and why.

mod browser;
#[path = "browser/console_page.rs"]
mod console_page;
#[path = "browser/settings_errors.rs"]
mod settings_errors;
#[path = "browser/settings_page.rs"]
mod settings_page;

use browser::Browser;
use fantoccini::Locator;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::{HttpOptions, HttpServer};
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A telegram so the Meter panel has something to show.
fn telegram() -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    for p in 0..3 {
        r.voltage_v[p] = Some(230.0 + p as f32);
        r.current_a[p] = Some(4.0);
        r.active_power_phase_w[p] = Some(900.0);
    }
    r.power_import_w = Some(2700.0);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_interface_saves_settings_and_shows_field_errors_in_chromium() {
    let Some(browser) = Browser::start_or_skip(1280, 1800).await else {
        return;
    };

    // A running device on 2025-06-01 12:00 UTC with a few telegrams.
    let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 1_748_779_200_000);
    for _ in 0..3 {
        clock.advance(1_000);
        host.handle(Event::SerialBytes(telegram()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = HttpOptions {
        https_port: Some(8443),
        ..HttpOptions::default()
    };
    let http = HttpServer::start_with(Arc::clone(&host), listener, None, opts).unwrap();
    let (serial, password) = host.with_device(|d| {
        (
            d.identity().serial.clone(),
            d.identity().label_password.clone(),
        )
    });
    let c = &browser.client;

    // Sign in with the label password.
    c.goto(&format!("{}/", http.url())).await.unwrap();
    browser
        .wait_for("document.body.dataset.state === 'login'", "the login form")
        .await;
    assert_eq!(c.title().await.unwrap(), "Smart Connect Configuration");
    c.find(Locator::Id("login-password"))
        .await
        .unwrap()
        .send_keys("not-the-password")
        .await
        .unwrap();
    c.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.getElementById('login-error').textContent.includes('Wrong password')",
            "the wrong-password message",
        )
        .await;
    let field = c.find(Locator::Id("login-password")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&password).await.unwrap();
    c.find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.body.dataset.state === 'ready'",
            "the signed-in page",
        )
        .await;
    assert_eq!(
        c.find(Locator::Id("status-serial"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        serial
    );
    assert_eq!(
        c.find(Locator::Id("status-meter-state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Receiving"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('ind-link').className")
            .await,
        "dot on"
    );
    assert!(
        browser
            .eval("!document.getElementById('secure-banner').classList.contains('hidden')")
            .await
            .as_bool()
            .unwrap(),
        "plain HTTP links to HTTPS"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('secure-link').href")
            .await,
        "https://127.0.0.1:8443/"
    );

    // Cloud settings: change the Site, save, reload, still there.
    let site = c.find(Locator::Id("mqtt-site")).await.unwrap();
    assert_eq!(
        site.prop("value").await.unwrap().as_deref(),
        Some("unknown-site")
    );
    site.clear().await.unwrap();
    site.send_keys("garage-2").await.unwrap();
    c.find(Locator::Id("mqtt-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "document.getElementById('mqtt-message').textContent.includes('saved')",
            "the MQTT saved message",
        )
        .await;
    assert_eq!(
        host.with_device(|d| d.config().mqtt.site.clone()),
        "garage-2",
        "the device has it"
    );
    c.refresh().await.unwrap();
    browser
        .wait_for(
            "document.body.dataset.state === 'ready'",
            "the page after a reload",
        )
        .await;
    let site = c.find(Locator::Id("mqtt-site")).await.unwrap();
    assert_eq!(
        site.prop("value").await.unwrap().as_deref(),
        Some("garage-2"),
        "the reload shows the saved Site"
    );

    // Network settings: a static IP with netmask 33 shows the API's error next to the field.
    c.find(Locator::Id("ipmode-static"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "!document.getElementById('static-fields').classList.contains('hidden')",
            "the static IP fields",
        )
        .await;
    c.find(Locator::Id("static-ip"))
        .await
        .unwrap()
        .send_keys("192.168.10.101")
        .await
        .unwrap();
    c.find(Locator::Id("static-netmask"))
        .await
        .unwrap()
        .send_keys("33")
        .await
        .unwrap();
    c.find(Locator::Id("static-gateway"))
        .await
        .unwrap()
        .send_keys("192.168.10.1")
        .await
        .unwrap();
    c.find(Locator::Id("net-save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let err = "document.getElementById('static-netmask').closest('.field').querySelector('.field-error').textContent";
    browser
        .wait_for(
            &format!("{err}.includes('prefix length')"),
            "the netmask error next to the field",
        )
        .await;
    assert!(browser
        .eval("document.getElementById('static-netmask').classList.contains('invalid')")
        .await
        .as_bool()
        .unwrap());
    assert_eq!(browser.eval("document.getElementById('static-ip').closest('.field').querySelector('.field-error').textContent").await, "", "only the netmask is marked");
    assert!(browser
        .eval("document.getElementById('net-message').textContent")
        .await
        .as_str()
        .unwrap()
        .contains("Not saved"));
    assert_eq!(
        host.with_device(|d| d.config().ethernet.static_ipv4.netmask.clone()),
        "",
        "nothing changed on the device"
    );

    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(screenshot_path("web-screenshot.png"), &png).unwrap();

    // Responsive: the same page on a phone-sized window.
    c.set_window_size(400, 1000).await.unwrap();
    c.refresh().await.unwrap();
    browser
        .wait_for(
            "document.body.dataset.state === 'ready'",
            "the page on a small window",
        )
        .await;
    let overflow = browser
        .eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(overflow, true, "no horizontal scrolling on a phone");
    std::fs::write(
        screenshot_path("web-screenshot-mobile.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    browser.close().await;
    drop(http);
}
