//! The live house console in headless Chromium (part of `tests/integration/web_browser/`): a change
//! made with the page's own controls shows in the chart, the register table and the device's
//! register snapshot; a bad value shows the API's field error and changes nothing.

use super::browser::Browser;
use super::screenshot_path;
use fantoccini::Locator;
use smart_connect_sim::adapters::control::{self, feed::feed_house, Control};
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::runner::Pace;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::{DeviceConfig, Variant};
use smart_connect_sim::protocol::MeterKind;
use smart_connect_sim::sim::clock::Clock;
use smart_connect_sim::sim::faults::FaultyMeter;
use smart_connect_sim::sim::generator::{Load, LoadComponent, SyntheticMeter};
use smart_connect_sim::sim::house::live::LiveHouse;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
