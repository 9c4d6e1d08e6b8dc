//! What the power, LED, button, network, firmware and config steps remember between steps,
//! and the helpers they share: sampling the LED as a photodiode would, reading the status
//! document, and addressing configuration settings by their dotted name (`MQTT.Site`).

use super::world::DeviceWorld;
use crate::device::led::Color;
use crate::device::network::Lan;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The bench's memory.
#[derive(Debug, Default)]
pub struct Bench {
    /// The network the rig provides around the device. A target starts on the rig's default
    /// LAN (cable to a switch, a DHCP server handing out 192.168.1.50, internet, no Wi-Fi)
    /// until a step changes it.
    pub lan: Lan,
    /// The configuration as read by "the configuration has been read".
    pub config_before: Option<Value>,
    /// The answer to the last configuration change: the new configuration or the error.
    pub patch: Option<Result<Value, Value>>,
    /// The firmware version read just before an update was requested.
    pub firmware_before: Option<String>,
    /// The answer to the last update request.
    pub update: Option<Result<(), String>>,
    /// Addresses seen in the status: (active interface, address), oldest first.
    pub addresses: Vec<(String, String)>,
    /// How many meter bytes had been sent when USB-C power was plugged in.
    pub usb_from: Option<usize>,
}

/// How often the LED is sampled, and for how long by default: four samples per 1 Hz period,
/// over two periods.
pub const SAMPLE_MS: i64 = 250;
pub const SAMPLE_WINDOW_MS: i64 = 2_000;

/// A colour as a scenario names it.
pub fn colour(name: &str) -> Color {
    match name {
        "red" => Color::Red,
        "green" => Color::Green,
        "blue" => Color::Blue,
        "orange" => Color::Orange,
        "off" => Color::Off,
        other => panic!("unknown colour {other:?} (red, green, blue, orange or off)"),
    }
}

/// Look at the LED every 250 ms for `window` ms; time passes (and the meter keeps sending)
/// between samples. The first sample is taken now, the clock ends `window` ms later.
pub async fn sample_led(w: &mut DeviceWorld, window: i64) -> Vec<Color> {
    let mut out = Vec::new();
    let start = w.now();
    for k in 1..=window / SAMPLE_MS {
        out.push(w.target().led_colour().await.expect("LED"));
        w.pass_until(start + k * SAMPLE_MS).await;
    }
    out
}

/// Consecutive equal samples merged: (colour, number of samples).
pub fn runs(samples: &[Color]) -> Vec<(Color, usize)> {
    let mut out: Vec<(Color, usize)> = Vec::new();
    for &c in samples {
        match out.last_mut() {
            Some((last, n)) if *last == c => *n += 1,
            _ => out.push((c, 1)),
        }
    }
    out
}

/// Two colours in turn at 1 Hz: only `a` and `b`, both seen, and every whole run of one
/// colour lasts 500 ms (two samples); the first and last run may be cut by the window. In
/// real time (`tolerance_ms` > 0) a run may be that much longer or shorter.
pub fn assert_alternates(samples: &[Color], a: Color, b: Color, tolerance_ms: i64) {
    let r = runs(samples);
    assert!(
        samples.iter().all(|&c| c == a || c == b),
        "LED showed {samples:?}, expected only {a:?} and {b:?}"
    );
    assert!(
        samples.contains(&a) && samples.contains(&b),
        "LED showed {samples:?}, expected {a:?} and {b:?} in turn"
    );
    let per_half = 500 / SAMPLE_MS;
    let slack = (tolerance_ms + SAMPLE_MS - 1) / SAMPLE_MS;
    for (i, &(c, n)) in r.iter().enumerate() {
        let edge = i == 0 || i == r.len() - 1;
        let n = n as i64;
        assert!(
            (n - per_half).abs() <= slack || (edge && n < per_half),
            "LED showed {c:?} for {} ms in {samples:?}; at 1 Hz each colour lasts 500 ms (± {tolerance_ms} ms)",
            n * SAMPLE_MS
        );
    }
}

/// `GET /api/v1/status`, which must answer.
pub async fn status(w: &mut DeviceWorld) -> Value {
    w.target()
        .status()
        .await
        .expect("the status API does not answer")
}

/// `GET /api/v1/config`, which must answer.
pub async fn config(w: &mut DeviceWorld) -> Value {
    w.target()
        .get_config()
        .await
        .expect("the config API does not answer")
}

/// The value at a dotted setting name (`Ethernet.StaticIPv4.IpAddress`).
pub fn at<'a>(doc: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(doc, |v, k| v.get(k))
}

/// A merge patch that sets one dotted setting to `value`.
pub fn patch_of(dotted: &str, value: Value) -> Value {
    dotted.rsplit('.').fold(value, |inner, k| {
        let mut m = Map::new();
        m.insert(k.to_string(), inner);
        Value::Object(m)
    })
}

/// Every leaf of a JSON document by dotted name.
pub fn leaves(doc: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", doc, &mut out);
    out
}

/// A value as a scenario writes it: `"text"` is a string, `true`/`false`/numbers are JSON.
pub fn scenario_value(s: &str) -> Value {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        return Value::String(inner.to_string());
    }
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Send a configuration change (`PATCH /api/v1/config`) and remember the answer.
pub async fn send_patch(w: &mut DeviceWorld, patch: Value) -> Result<Value, Value> {
    let res = w
        .target()
        .patch_config(patch)
        .await
        .expect("the config API does not answer");
    w.bench.patch = Some(res.clone());
    res
}

/// Send a configuration change that must be accepted.
pub async fn must_patch(w: &mut DeviceWorld, patch: Value) {
    if let Err(e) = send_patch(w, patch.clone()).await {
        panic!("the change {patch} was refused: {e}");
    }
}

/// The rig changes the network around the device to `bench.lan`.
pub async fn apply_lan(w: &mut DeviceWorld) {
    let lan = w.bench.lan.clone();
    w.target().set_lan(lan).await.expect("network rig");
}
