//! The web interface in a real browser (WEB-01..05): headless Chromium signs in with the label
//! password, shows the status, saves a Cloud setting that survives a reload, and shows the
//! API's field error next to the netmask field. Screenshots: `target/web-screenshot.png`
//! (desktop) and `target/web-screenshot-mobile.png`.
//!
//! The live house console (`run --control`, `GET /`) in the same browser: samples stream in
//! over SSE while a feed puts a virtual-time house's telegrams on the device; the page's own
//! controls switch the EV on at 16 A on 3 phases, and the register table (0x8016 total W), the
//! power chart (its series and its pixels) and the device's register snapshot all show over
//! 11 kW; 99 A shows the API's `ev.amps` error and changes nothing; a dropout leaves a gap. It
//! prints the time from a telegram being fed to the page having (and having drawn) its sample.
//! Screenshot: `target/console-screenshot.png` (copied to `docs/console.png` for the README).
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test fails in CI
//! (`CI=true`) or with `SC_REQUIRE_BROWSER=1`, and elsewhere prints that it was skipped and why.

mod browser;

use browser::Browser;
use fantoccini::Locator;
use smart_connect_sim::adapters::control::{self, feed::feed_house, Control};
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::http::{HttpOptions, HttpServer};
use smart_connect_sim::adapters::runner::Pace;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{MeterKind, Protocol, Reading};
use smart_connect_sim::sim::clock::Clock;
use smart_connect_sim::sim::faults::FaultyMeter;
use smart_connect_sim::sim::generator::{Load, LoadComponent, SyntheticMeter};
use smart_connect_sim::sim::house::live::LiveHouse;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn screenshot_path(name: &str) -> PathBuf {
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

/// Wall-clock time in epoch ms (the page's `Date.now()` reads the same clock).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Percentile `q` (0..=1) of sorted `v`.
fn percentile(v: &[i64], q: f64) -> i64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_a_control_change_in_the_chart_and_the_registers() {
    let Some(browser) = Browser::start_or_skip(1280, 900).await else {
        return;
    };

    // A live house (460 W base load, an EV charger that is off) on a device on virtual time,
    // 2026-03-29 16:00 UTC.
    let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 1_774_800_000_000);
    let load = Load::Household(vec![LoadComponent::Base {
        watts: 460.0,
        noise: 0.05,
    }]);
    let meter = SyntheticMeter::new(MeterKind::from_name("smr5").unwrap(), load, 3, clock.now());
    let house = LiveHouse::new(FaultyMeter::new(meter, vec![]).unwrap());
    let power = PowerInputs {
        usb: true,
        p1_supply: false,
    };
    let ctl = Control::new(host, house, None, power);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = control::http::serve(Arc::clone(&ctl), listener);

    // The feed: one telegram (one virtual second) at a time, then 50 ms of real time so the
    // page renders each one; bounded at 600 telegrams (≈ 30 s). `fed` keeps each telegram's
    // device time and the wall time just before it was fed.
    let fed: Arc<Mutex<Vec<(i64, i64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (ctl, fed, stop) = (Arc::clone(&ctl), Arc::clone(&fed), Arc::clone(&stop));
        let pace = Pace::Max(clock);
        tokio::spawn(async move {
            for _ in 0..600 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let at = ctl.with_house(|h| h.next_at());
                fed.lock().unwrap().push((at, wall_ms()));
                feed_house(Arc::clone(&ctl), pace.clone(), Some(at)).await;
                // Real time is genuinely needed: the page is a real browser drawing on its own
                // frames; 50 ms of wall time between telegrams, bounded by the loop.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let c = &browser.client;
    c.goto(&url).await.unwrap();
    // A 1280×900 viewport for the screenshot (the window is larger by the browser's frame).
    let frame = browser
        .eval("window.outerHeight - window.innerHeight")
        .await
        .as_u64()
        .unwrap_or(0);
    c.set_window_size(1280, 900 + frame as u32).await.unwrap();
    // Any script error from here on is collected and fails the test at the end.
    browser
        .eval(
            "(window.consoleErrors = [], \
             addEventListener('error', (e) => consoleErrors.push(String(e.message))), \
             addEventListener('unhandledrejection', (e) => consoleErrors.push(String(e.reason))), true)",
        )
        .await;
    assert!(c.title().await.unwrap().contains("Virtual house"));
    browser
        .wait_within(
            "window.consoleSamples > 3 && document.querySelector('[data-register=\"0x8016\"]')",
            "samples drawn on the console",
            Duration::from_secs(10),
        )
        .await;
    let reg =
        |r: &str| format!("Number(document.querySelector('[data-register=\"{r}\"]').textContent)");
    browser
        .wait_within(
            "document.getElementById('meter').textContent.startsWith('smr5 ')",
            "the meter in the header (the page's state poll)",
            Duration::from_secs(10),
        )
        .await;
    let before_w = browser.eval(&reg("0x8016")).await.as_f64().unwrap();
    assert!(
        before_w > 300.0 && before_w < 700.0,
        "the base load: {before_w} W"
    );
    let canvas_before = browser
        .eval("document.getElementById('power').toDataURL()")
        .await;

    // The page's own controls: EV on, 16 A, 3 phases, Apply.
    let form = c.find(Locator::Id("controls")).await.unwrap();
    let amps = form
        .find(Locator::Css("input[name=ev_amps]"))
        .await
        .unwrap();
    amps.send_keys("16").await.unwrap();
    browser.choose("#controls select[name=ev_on]", "on").await;
    browser
        .choose("#controls select[name=ev_phases]", "3")
        .await;
    let clicked = wall_ms();
    browser.click("#controls [data-testid=apply]").await;
    browser
        .wait_within(
            "document.getElementById('message').textContent.includes('applied')",
            "the applied message",
            Duration::from_secs(10),
        )
        .await;
    // (a) the register table, (b) the chart's data and its pixels.
    browser
        .wait_within(
            &format!("{} > 11000", reg("0x8016")),
            "0x8016 (total W) over 11 kW on the console",
            Duration::from_secs(10),
        )
        .await;
    let shown_after = wall_ms() - clicked;
    browser
        .wait_within(
            "consolePowerSeries[3].at(-1) > 11000 && consoleData.at(-1).renderedMs !== undefined",
            "the net power series over 11 kW",
            Duration::from_secs(10),
        )
        .await;
    let phases = browser
        .eval("[0, 1, 2].map((i) => consolePowerSeries[i].at(-1))")
        .await;
    assert!(
        phases
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_f64().unwrap() > 3600.0),
        "16 A on every phase in the chart's series: {phases}"
    );
    assert_ne!(
        browser
            .eval("document.getElementById('power').toDataURL()")
            .await,
        canvas_before,
        "the power chart was redrawn"
    );
    // (c) the device itself, independently of the page.
    let served = ctl.host().served().values;
    assert!(served.active_power_w > 11_000.0, "{served:?}");
    assert!(served.current_a.iter().all(|a| *a >= 16.0), "{served:?}");
    println!("console: the change showed in the register table {shown_after} ms after Apply");

    // Let the chart show the step, then the screenshot for the README.
    let n = browser.eval("consoleSamples").await.as_i64().unwrap();
    browser
        .wait_within(
            &format!("consoleSamples >= {}", n + 20),
            "20 more samples",
            Duration::from_secs(10),
        )
        .await;
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::write(screenshot_path("console-screenshot.png"), &png).unwrap();

    // A bad value: the API's field error on the page, nothing changes.
    let log_len = ctl.log().len();
    let ev_before = ctl.state()["house"]["ev"].clone();
    amps.clear().await.unwrap();
    amps.send_keys("99").await.unwrap();
    browser.click("#controls [data-testid=apply]").await;
    browser
        .wait_within(
            "document.getElementById('message').textContent === 'ev.amps: must be 0..=80 A, got 99'",
            "the ev.amps field error",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('message').className")
            .await,
        "bad"
    );
    let n = browser.eval("consoleSamples").await.as_i64().unwrap();
    browser
        .wait_within(
            &format!("consoleSamples >= {}", n + 3),
            "3 more samples",
            Duration::from_secs(10),
        )
        .await;
    let shown = browser.eval(&reg("0x8016")).await.as_f64().unwrap();
    assert!(
        shown > 11_000.0 && shown < 13_000.0,
        "still 16 A: {shown} W"
    );
    let served = ctl.host().served().values;
    assert!(
        served.active_power_w > 11_000.0 && served.active_power_w < 13_000.0,
        "{served:?}"
    );
    assert_eq!(ctl.state()["house"]["ev"], ev_before, "the EV is as it was");
    assert_eq!(ctl.log().len(), log_len, "nothing logged");

    // A dropout (20 telegrams, ≥ 1 s real): telegrams with nothing on the wire show no meter
    // values and leave a gap in the chart (not the values the meter would have sent), then
    // the values come back.
    ctl.fault(
        "test",
        &serde_json::json!({"kind": "dropout", "duration_s": 20}),
    )
    .unwrap();
    browser
        .wait_within(
            "document.getElementById('telegram').textContent === '(nothing sent)' \
             && document.getElementById('p0').textContent === '–' \
             && consolePowerSeries.every((s) => s.at(-1) === null)",
            "a dropout on the console",
            Duration::from_secs(10),
        )
        .await;
    browser
        .wait_within(
            "Number(document.getElementById('p0').textContent) > 3600 \
             && consolePowerSeries[3].at(-1) > 11000",
            "the values back after the dropout",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        browser
            .eval("consoleData.filter((s) => s.sent === (s.power_w[0] === null)).length")
            .await,
        0,
        "the chart's data has a gap exactly where nothing was sent"
    );

    // Latency: 20 telegrams from just before the feed to the page having the sample (the
    // SSE event handled) and to the page having drawn it.
    let first = fed.lock().unwrap().len();
    let n = browser.eval("consoleSamples").await.as_i64().unwrap();
    browser
        .wait_within(
            &format!("consoleSamples >= {}", n + 22),
            "22 more samples",
            Duration::from_secs(10),
        )
        .await;
    let last_at = fed.lock().unwrap()[first + 19].0;
    browser
        .wait_within(
            &format!("consoleData.some((s) => s.at >= {last_at} && s.renderedMs !== undefined)"),
            "the 20 telegrams drawn",
            Duration::from_secs(10),
        )
        .await;
    stop.store(true, Ordering::Relaxed);
    // A frame draws every sample that came before it: a sample's drawn time is the
    // `renderedMs` of the first sample from it on that has one.
    let page = browser
        .eval(
            "consoleData.map((s, i) => [s.at, s.receivedMs, \
             consoleData.slice(i).find((t) => t.renderedMs !== undefined)?.renderedMs ?? null])",
        )
        .await;
    let fed = fed.lock().unwrap().clone();
    let (mut received, mut rendered) = (Vec::new(), Vec::new());
    for (at, fed_ms) in &fed[first..first + 20] {
        let s = page
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[0].as_i64() == Some(*at))
            .unwrap_or_else(|| panic!("telegram at {at} not on the page"));
        received.push(s[1].as_i64().unwrap() - fed_ms);
        rendered.push(
            s[2].as_i64()
                .unwrap_or_else(|| panic!("telegram at {at} not drawn"))
                - fed_ms,
        );
    }
    received.sort_unstable();
    rendered.sort_unstable();
    println!(
        "console latency over {} telegrams, telegram fed → sample on the page: p50 {} ms, max {} ms; → drawn: p50 {} ms, max {} ms",
        received.len(),
        percentile(&received, 0.5),
        received.last().unwrap(),
        percentile(&rendered, 0.5),
        rendered.last().unwrap(),
    );
    assert!(
        *received.last().unwrap() < 1000,
        "a sample took over 1 s to reach the page: {received:?}"
    );

    let errors = browser.eval("window.consoleErrors").await;
    assert_eq!(
        errors,
        serde_json::json!([]),
        "script errors on the console"
    );
    browser.close().await;
    feeder.abort();
    server.abort();
}
