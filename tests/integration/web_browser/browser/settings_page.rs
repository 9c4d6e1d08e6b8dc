//! The settings page's live parts in headless Chromium (part of `tests/integration/web_browser/`):
//! the Meter values card follows the telegrams; a saved setting is marked "pending restart"
//! until a restart; the restart asks first (Cancel restarts nothing), greys the indicators
//! while waiting and then says "Restarted (up N s)", or, when the device does not come back
//! in time, says so with the device's 503 reason and what to do; "Log out" ends the device's
//! session so a second client gets in at once. Screenshot: `docs/settings-page.png`.

use super::browser::Browser;
use super::screenshot_path;
use fantoccini::Locator;
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::HttpServer;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::sim::clock::{Clock, Millis, VirtualClock};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running device on virtual time with a plain HTTP server.
pub(crate) struct Page {
    pub host: Arc<Host>,
    pub clock: VirtualClock,
    pub http: HttpServer,
    pub password: String,
}

impl Page {
    pub async fn start() -> Page {
        let (host, clock) =
            Host::running_virtual(DeviceConfig::new(Variant::P1), 1_748_779_200_000);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = HttpServer::start(Arc::clone(&host), listener).unwrap();
        let password = host.with_device(|d| d.identity().label_password.clone());
        Page {
            host,
            clock,
            http,
            password,
        }
    }

    /// Let `ms` of device time pass, ticking at every deadline on the way.
    pub fn run_for(&self, ms: Millis) {
        let end = self.clock.now() + ms;
        while let Some(t) = self.host.next_deadline().filter(|&t| t <= end) {
            self.clock.advance_to(t.max(self.clock.now()));
            self.host.handle(Event::Tick);
        }
        self.clock.advance_to(end);
        self.host.handle(Event::Tick);
    }

    /// One second of device time, then a telegram with `volts` on L1 and `watts` per phase.
    pub fn telegram(&self, volts: f32, watts: f32) {
        let mut r = Reading::empty(Protocol::Dsmr);
        for p in 0..3 {
            r.voltage_v[p] = Some(volts + p as f32);
            r.current_a[p] = Some(watts / 230.0);
            r.active_power_phase_w[p] = Some(watts);
        }
        r.power_import_w = Some(3.0 * watts);
        r.power_export_w = Some(0.0);
        self.run_for(1_000);
        self.host.handle(Event::SerialBytes(dsmr::encode(
            &r,
            DsmrKind::Smr5ThreePhase,
        )));
    }

    /// GET `path` as `user` from `ip` (any 127/8 address): the status code.
    pub async fn get_from(&self, ip: &str, path: &str) -> u16 {
        smart_connect_sim::adapters::certs::install_crypto_provider();
        reqwest::Client::builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{}{path}", self.http.url()))
            .basic_auth("user", Some(&self.password))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Open the page in `browser` and sign in with the label password.
    pub async fn sign_in(&self, browser: &Browser) {
        let c = &browser.client;
        c.goto(&format!("{}/", self.http.url())).await.unwrap();
        browser
            .wait_for("document.body.dataset.state === 'login'", "the login form")
            .await;
        c.find(Locator::Id("login-password"))
            .await
            .unwrap()
            .send_keys(&self.password)
            .await
            .unwrap();
        browser.click("#login-submit").await;
        browser
            .wait_for(
                "document.body.dataset.state === 'ready'",
                "the signed-in page",
            )
            .await;
    }
}

/// `document.getElementById(id)` + `rest`.
fn el(id: &str, rest: &str) -> String {
    format!("document.getElementById('{id}'){rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meter_values_pending_settings_and_a_confirmed_restart() {
    let Some(browser) = Browser::start_or_skip(1280, 1000).await else {
        return;
    };
    let page = Page::start().await;
    page.telegram(230.0, 900.0);
    page.sign_in(&browser).await;

    // The Meter values card shows the register snapshot and follows the next telegram.
    let l1 = "document.querySelector('[data-key=voltage_l1_v]').textContent";
    browser
        .wait_for(&format!("{l1} === '230.0'"), "L1 voltage on the meter card")
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('[data-key=active_power_w]').textContent")
            .await,
        "2,700"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('[data-key=voltage_l3_v]').textContent")
            .await,
        "232.0"
    );
    page.telegram(228.4, 1500.0);
    browser
        .wait_within(
            &format!("{l1} === '228.4' && document.querySelector('[data-key=active_power_w]').textContent === '4,500'"),
            "the next telegram's values (polled every second)",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(browser.eval(&el("meter-card", ".dataset.seq")).await, "2");

    // Save a Cloud setting: it is pending until a restart.
    assert_eq!(
        browser.eval(&el("pending-summary", ".textContent")).await,
        ""
    );
    let site = browser.client.find(Locator::Id("mqtt-site")).await.unwrap();
    site.clear().await.unwrap();
    site.send_keys("garage-2").await.unwrap();
    browser.click("#mqtt-save").await;
    let site_pending = el(
        "mqtt-site",
        ".closest('.field').classList.contains('pending')",
    );
    browser
        .wait_for(&site_pending, "the Site field marked pending")
        .await;
    assert!(browser
        .eval(&el("pending-summary", ".textContent.includes('MQTT site')"))
        .await
        .as_bool()
        .unwrap());
    assert_eq!(
        browser
            .eval("document.querySelectorAll('.field.pending').length")
            .await,
        1,
        "only the changed field"
    );
    assert!(browser
        .eval(&el("restart-card", ".classList.contains('has-pending')"))
        .await
        .as_bool()
        .unwrap());
    // The screenshot for the README: live values and a pending setting.
    // A 1280×1640 viewport: status, meter values, both forms and the restart card.
    let frame = browser
        .eval("window.outerHeight - window.innerHeight")
        .await
        .as_u64()
        .unwrap_or(0);
    let c = &browser.client;
    c.set_window_size(1280, 1640 + frame as u32).await.unwrap();
    browser.eval("(window.scrollTo(0, 0), true)").await;
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(screenshot_path("settings-page.png"), &png).unwrap();
    c.set_window_size(1280, 1000 + frame as u32).await.unwrap();

    // Restart asks first; Cancel restarts nothing.
    let generation = page.host.served().generation;
    browser.click("#restart").await;
    browser
        .wait_for(&el("restart-dialog", ".open"), "the confirmation dialog")
        .await;
    browser.click("#restart-cancel").await;
    browser
        .wait_for(
            &format!("!{}", el("restart-dialog", ".open")),
            "the dialog closed",
        )
        .await;
    assert_eq!(
        page.host.served().generation,
        generation,
        "no restart after Cancel"
    );
    assert!(page.host.served().serving);

    // Confirm: the device restarts; the page waits with grey indicators.
    browser.click("#restart").await;
    browser
        .wait_for(&el("restart-dialog", ".open"), "the confirmation dialog")
        .await;
    assert!(browser
        .eval(&el(
            "restart-dialog-pending",
            ".textContent.includes('MQTT site')"
        ))
        .await
        .as_bool()
        .unwrap());
    browser.click("#restart-confirm").await;
    browser
        .wait_for(
            "document.body.dataset.restart === 'waiting'",
            "the page waiting for the device",
        )
        .await;
    assert_eq!(page.host.served().generation, generation + 1, "restarted");
    assert_eq!(
        browser.eval(&el("ind-link", ".className")).await,
        "dot unknown"
    );
    assert!(browser
        .eval(&el(
            "restart-message",
            ".textContent.startsWith('Restarting')"
        ))
        .await
        .as_bool()
        .unwrap());
    // Real time passes for the page's polls; device time stands still, so the device stays
    // down until the test lets it boot.
    browser
        .wait_within(
            &el(
                "restart-message",
                ".textContent.includes('waiting for the Smart Connect')",
            ),
            "the waiting message",
            Duration::from_secs(5),
        )
        .await;
    page.run_for(10_000);
    browser
        .wait_for(
            "document.body.dataset.restart === 'done'",
            "the restarted page",
        )
        .await;
    let msg = browser.eval(&el("restart-message", ".textContent")).await;
    assert_eq!(
        msg.as_str().unwrap(),
        "Restarted (up 10 s): the saved settings are in use."
    );
    assert_eq!(browser.eval(&el("ind-link", ".className")).await, "dot on");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('.field.pending').length")
            .await,
        0,
        "nothing pending after the restart"
    );
    assert_eq!(
        browser.eval(&el("pending-summary", ".textContent")).await,
        ""
    );
    assert_eq!(
        page.host
            .with_device(|d| d.active_config().mqtt.site.clone()),
        "garage-2"
    );
    // The meter card is back and follows the telegrams again (the registers restart at 0).
    page.telegram(231.5, 100.0);
    browser
        .wait_within(
            &format!("{l1} === '231.5'"),
            "meter values after the restart",
            Duration::from_secs(5),
        )
        .await;
    browser.close().await;
}

/// Restart from the page (confirmed) with the page's timeout cut to 3 s; returns once the
/// page waits for the device.
async fn restart_with_a_3_s_timeout(browser: &Browser) {
    browser
        .eval("(window.SC.restartTimeoutMs = 3000, true)")
        .await;
    browser.click("#restart").await;
    browser
        .wait_for(&el("restart-dialog", ".open"), "the confirmation dialog")
        .await;
    browser.click("#restart-confirm").await;
    browser
        .wait_for(
            "document.body.dataset.restart === 'waiting'",
            "the page waiting for the device",
        )
        .await;
}

/// The page's message once its restart timeout has passed.
async fn the_late_message(browser: &Browser) -> String {
    browser
        .wait_within(
            "document.body.dataset.restart === 'late'",
            "the timeout message",
            Duration::from_secs(15),
        )
        .await;
    let msg = browser.eval(&el("restart-message", ".textContent")).await;
    msg.as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_does_not_come_back_says_why_and_logout_frees_the_session() {
    let Some(browser) = Browser::start_or_skip(1280, 1000).await else {
        return;
    };
    let page = Page::start().await;
    page.sign_in(&browser).await;
    assert_eq!(
        page.get_from("127.0.0.2", "/api/v1/status").await,
        409,
        "the page holds the session"
    );

    // The device loses power during the restart and stays off past the (shortened) timeout.
    restart_with_a_3_s_timeout(&browser).await;
    page.host.handle(Event::Power(PowerInputs {
        usb: false,
        p1_supply: false,
    }));
    let msg = the_late_message(&browser).await;
    let msg = msg.as_str();
    assert!(msg.contains("did not come back within 3 s"), "{msg}");
    assert!(
        msg.contains("the device is off (no power)"),
        "the device's 503 reason: {msg}"
    );
    assert!(msg.contains("factory settings"), "what to do: {msg}");
    assert_eq!(
        browser.eval(&el("ind-network", ".className")).await,
        "dot unknown"
    );

    // Power comes back: the page notices (it keeps looking, every 5 s).
    page.host.handle(Event::Power(PowerInputs {
        usb: true,
        p1_supply: false,
    }));
    page.run_for(10_000);
    browser
        .wait_within(
            "document.body.dataset.restart === 'done'",
            "the late comeback",
            Duration::from_secs(15),
        )
        .await;
    assert!(browser
        .eval(&el(
            "restart-message",
            ".textContent.includes('later than expected')"
        ))
        .await
        .as_bool()
        .unwrap());

    // Log out ends the device's session: a second client gets in at once (no device time).
    assert_eq!(page.get_from("127.0.0.2", "/api/v1/status").await, 409);
    browser.click("#logout").await;
    browser
        .wait_for("document.body.dataset.state === 'login'", "the login form")
        .await;
    assert_eq!(
        browser.eval(&el("login-error", ".textContent")).await,
        "Signed out."
    );
    assert_eq!(
        page.get_from("127.0.0.2", "/api/v1/status").await,
        200,
        "the session ended with the logout"
    );
    assert_eq!(
        browser.eval("sessionStorage.getItem('sc-auth')").await,
        serde_json::Value::Null,
        "the page forgot the credentials"
    );
    browser.close().await;
}

/// The Wi-Fi trap, closed: Wi-Fi settings for a network the simulated LAN does not have are
/// saved, the device restarts and gets no address; the page does not say "Restarting…" for
/// ever but, after its timeout, quotes the device's reason (the network not found, what the
/// LAN offers) and the way out. Screenshot: `target/settings-wifi-trap.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wifi_settings_for_a_missing_network_end_in_the_reason_not_in_restarting_for_ever() {
    let Some(browser) = Browser::start_or_skip(1280, 1000).await else {
        return;
    };
    let page = Page::start().await;
    page.sign_in(&browser).await;
    browser.click("#netif-wifi").await;
    browser
        .wait_for(
            "!document.getElementById('wifi-fields').classList.contains('hidden')",
            "the Wi-Fi fields",
        )
        .await;
    browser
        .eval(
            "(document.getElementById('wifi-ssid').value = 'Home', \
              document.getElementById('wifi-password').value = 'correct horse', true)",
        )
        .await;
    browser.click("#net-save").await;
    browser
        .wait_for(
            "document.getElementById('wifi-ssid').closest('.field').classList.contains('pending')",
            "the Wi-Fi settings saved and pending",
        )
        .await;

    restart_with_a_3_s_timeout(&browser).await;
    // The device boots on its new settings and looks for "Home" in vain.
    page.run_for(30_000);
    assert!(!page.host.served().serving, "no address, nothing served");
    let msg = the_late_message(&browser).await;
    let msg = msg.as_str();
    assert!(msg.contains("did not come back within 3 s"), "{msg}");
    assert!(
        msg.contains("Wi-Fi network \"Home\" not found"),
        "the device's reason: {msg}"
    );
    assert!(msg.contains("factory settings"), "the way out: {msg}");
    browser
        .eval("document.getElementById('restart-message').scrollIntoView({block: 'center'}), true")
        .await;
    std::fs::write(
        screenshot_path("settings-wifi-trap.png"),
        browser.client.screenshot().await.unwrap(),
    )
    .unwrap();
    browser.close().await;
}
