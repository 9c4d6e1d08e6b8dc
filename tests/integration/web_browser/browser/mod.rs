//! Headless Chromium through ChromeDriver (WebDriver, `fantoccini`) for browser tests.
//!
//! Binaries: `$SC_CHROMEDRIVER` or `/usr/bin/chromedriver`, `$SC_CHROMIUM` or
//! `/usr/bin/chromium` (Debian's `chromium` and `chromium-driver` packages). When they are
//! missing, `Browser::start` returns `Err` with the reason and the test decides: in CI
//! (`CI=true`) or with `SC_REQUIRE_BROWSER=1` it fails; elsewhere it prints that it was
//! skipped, why, and how to install the browser.

use fantoccini::wd::Capabilities;
use fantoccini::Locator;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A running ChromeDriver with one browser session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn binary(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Whether the test may be skipped because the browser is not installed: on a developer's
/// machine yes (so `cargo test` works with only Rust installed, and says so loudly), in CI
/// (`CI=true`, where `.ci/run` installs Chromium) or with `SC_REQUIRE_BROWSER=1` never.
pub fn skip_allowed() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| v == "1" || v == "true");
    !(set("CI") || set("SC_REQUIRE_BROWSER"))
}

impl Browser {
    /// Start ChromeDriver on a free port and open a headless Chromium session with a fresh
    /// profile and a `width`×`height` window.
    /// `start`, or None (printing why) where a missing browser may be skipped; panics in CI.
    pub async fn start_or_skip(width: u32, height: u32) -> Option<Browser> {
        match Browser::start(width, height).await {
            Ok(b) => Some(b),
            Err(why) if skip_allowed() => {
                eprintln!(
                    "web_browser: SKIPPED because {why} (apt-get install chromium chromium-driver to run it; CI requires it)"
                );
                None
            }
            Err(why) => {
                panic!("the browser test cannot run: {why} (CI / SC_REQUIRE_BROWSER=1 require it)")
            }
        }
    }

    /// Choose the option labelled `label` in the select at `css`.
    pub async fn choose(&self, css: &str, label: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.select_by_label(label).await.unwrap();
    }

    /// Click the element at `css`.
    pub async fn click(&self, css: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.click().await.unwrap();
    }

    pub async fn start(width: u32, height: u32) -> Result<Browser, String> {
        let driver_bin = binary("SC_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = binary("SC_CHROMIUM", "/usr/bin/chromium");
        for (what, p) in [("chromedriver", &driver_bin), ("chromium", &chromium)] {
            if !p.exists() {
                return Err(format!(
                    "{what} not found at {} (install Debian's `chromium` and `chromium-driver`: apt-get install -y chromium chromium-driver)",
                    p.display()
                ));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", driver_bin.display()))?;
        let profile =
            std::env::temp_dir().join(format!("sc-chromium-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).map_err(|e| e.to_string())?;
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ];
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("no WebDriver session on {url}: {e}"))
                }
                Err(_) => {
                    // Real time is genuinely needed: ChromeDriver is a separate process that
                    // announces nothing when it starts listening, so the only way to know is to
                    // try again. 200 ms of wall time between tries, bounded by `deadline`.
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
            }
        };
        Ok(Browser {
            client,
            driver,
            profile,
        })
    }

    /// Evaluate a JavaScript expression.
    pub async fn eval(&self, expr: &str) -> Value {
        self.client
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Wait (up to 30 s wall time) until `expr` is truthy.
    pub async fn wait_for(&self, expr: &str, what: &str) {
        self.wait_within(expr, what, Duration::from_secs(30)).await
    }

    /// Wait (up to `limit` wall time) until `expr` is truthy.
    pub async fn wait_within(&self, expr: &str, what: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self
                .client
                .execute(&format!("return !!({expr});"), vec![])
                .await
                .ok()
                .and_then(|v| v.as_bool())
                == Some(true)
            {
                return;
            }
            if Instant::now() > deadline {
                let body = self.eval("document.body.innerText").await;
                panic!(
                    "timed out after {limit:?} waiting for {what} ({expr}); the page shows:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            // Real time is genuinely needed: the page runs in a real browser on its own timers
            // (its script polls the device), and WebDriver has no event for "this expression
            // became true", so the expression is evaluated again after 100 ms of wall time,
            // bounded by `deadline`.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// End the session and ChromeDriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
