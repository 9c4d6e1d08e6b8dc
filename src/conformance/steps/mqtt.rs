//! MQTT steps (MQ-01..MQ-16): an installer's MQTT client subscribed on the broker the device
//! publishes to, commands published there, the broker made unreachable, and the device clock
//! set wrong — all through the `Target`. Commands and broker reachability are in
//! `mqtt_commands.rs`.
//!
//! How the steps wait for the broker (device time and the adapters' own events on the
//! virtual device, real time on a real one) is in `mqtt_wait.rs`.

use super::bench::status;
pub(super) use super::mqtt_wait::{drain, exact, mqtt_status_until, next_where, Feed};
use super::world::DeviceWorld;
use crate::adapters::broker::Message;
use crate::conformance::schema::Validator;
use crate::sim::clock::Millis;
use cucumber::{given, then, when};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// What the MQTT steps remember.
#[derive(Debug, Default)]
pub struct MqttBench {
    /// `devices/#`: measurements (other topics are skipped).
    pub(super) data: Option<UnboundedReceiver<Message>>,
    /// `devices/#`: command results (other topics are skipped).
    pub(super) events: Option<UnboundedReceiver<Message>>,
    /// The last measurement message taken.
    pub(super) last: Option<Message>,
    /// When the meter sent the last telegram (simulation time = the meter's clock).
    pub(super) sent_at: Option<Millis>,
    /// Device clock minus simulation time, as set by the clock steps.
    pub(super) clock_offset: Millis,
    /// How many clients the broker had seen when the clock was set (MQ-06).
    pub(super) clients_seen: usize,
    /// `Meter.TelegramsOk` when the subscription started (MQ-08).
    pub(super) ok_at_watch: u64,
    /// `Meter.TelegramsOk` when the broker became unreachable (MQ-16).
    pub(super) ok_at_loss: Option<u64>,
    /// `System.UptimeS` when the last command was published.
    pub(super) uptime_before: Option<u64>,
}

pub(super) fn is_measurement(m: &Message) -> bool {
    m.topic.ends_with("/data/measurements")
}

pub(super) fn is_event(m: &Message) -> bool {
    m.topic.ends_with("/data/events")
}

pub(super) async fn telegrams_ok(w: &mut DeviceWorld) -> u64 {
    let s = status(w).await;
    s["Meter"]["TelegramsOk"]
        .as_u64()
        .unwrap_or_else(|| panic!("no Meter.TelegramsOk in the status: {s}"))
}

/// Subscribe (once) to `devices/#`, as an installer's tool on the broker would.
pub(super) async fn watch(w: &mut DeviceWorld) {
    if w.mqtt.data.is_some() {
        return;
    }
    let data = w
        .target()
        .mqtt_subscribe("devices/#")
        .await
        .expect("subscribe on the broker");
    let events = w
        .target()
        .mqtt_subscribe("devices/#")
        .await
        .expect("subscribe on the broker");
    w.mqtt.data = Some(data);
    w.mqtt.events = Some(events);
    w.mqtt.ok_at_watch = telegrams_ok(w).await;
}

pub(super) fn last(w: &DeviceWorld) -> Value {
    w.mqtt
        .last
        .as_ref()
        .expect("no measurement was taken yet")
        .json()
        .expect("the measurement is not JSON")
}

pub(super) fn serial(w: &DeviceWorld) -> String {
    w.target
        .as_ref()
        .expect("no Smart Connect yet")
        .label()
        .serial
}

pub(super) async fn site(w: &mut DeviceWorld) -> String {
    let c = w.target().get_config().await.expect("GET /api/v1/config");
    c["MQTT"]["Site"]
        .as_str()
        .unwrap_or_else(|| panic!("no MQTT.Site in {c}"))
        .to_string()
}

pub(super) fn utc_ms(date: &str) -> Millis {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("{date:?} is not a date: {e}"))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis()
}

/// The clients the broker's TLS listener has seen so far.
pub(super) async fn clients(w: &mut DeviceWorld) -> Vec<crate::adapters::broker::TlsClient> {
    w.target()
        .mqtt_clients()
        .await
        .expect("the broker's connection log")
}

pub(super) async fn set_clock(w: &mut DeviceWorld, utc: Millis) {
    w.mqtt.clock_offset = utc - w.now();
    w.target()
        .set_device_clock(utc)
        .await
        .expect("set the device clock");
}

// ---- watching the broker --------------------------------------------------------------------

#[given(regex = r"^an installer's MQTT client is subscribed to devices/#$")]
async fn subscribed(w: &mut DeviceWorld) {
    watch(w).await;
}

#[when(regex = r"^the meter sends its next telegram$")]
async fn sends_next(w: &mut DeviceWorld) {
    watch(w).await;
    // Start from a quiet broker: when MQTT is on, let the device's (re)connection complete and
    // whatever it still had queued arrive first, so the next message is this telegram's.
    let s = status(w).await;
    if s["MQTT"]["Enabled"].as_bool() == Some(true) {
        mqtt_status_until(w, "the device to connect to the broker", |m| {
            m["Connected"].as_bool() == Some(true)
        })
        .await;
    }
    drain(w, Feed::Data, is_measurement).await;
    let bytes = w
        .next_telegram(None)
        .await
        .expect("the meter is not sending");
    w.send(&bytes).await;
    w.mqtt.sent_at = Some(w.now());
}

#[given(regex = r"^the device is publishing its measurements$")]
async fn publishing(w: &mut DeviceWorld) {
    // A measurement on the broker shows the device is connected, and its command subscription
    // (sent right after the connection is accepted, on the same connection) is in place.
    sends_next(w).await;
    one_published(w).await;
}

#[then(regex = r"^one measurement is published for it$")]
async fn one_published(w: &mut DeviceWorld) {
    let m = next_where(w, Feed::Data, is_measurement)
        .await
        .expect("no measurement was published for the telegram");
    let more = drain(w, Feed::Data, is_measurement).await;
    assert!(
        more.is_empty(),
        "one telegram gave {} measurements: {:?}",
        1 + more.len(),
        more.iter().map(|m| m.topic.clone()).collect::<Vec<_>>()
    );
    w.mqtt.last = Some(m);
}

#[then(regex = r"^no measurement is published$")]
async fn none_published(w: &mut DeviceWorld) {
    watch(w).await;
    let got = drain(w, Feed::Data, is_measurement).await;
    assert!(
        got.is_empty(),
        "{} measurements were published, e.g. {:?}",
        got.len(),
        String::from_utf8_lossy(&got[0].payload)
    );
}

#[then(regex = r"^the broker received one measurement for every telegram the device accepted$")]
async fn one_per_accepted(w: &mut DeviceWorld) {
    let accepted = telegrams_ok(w).await - w.mqtt.ok_at_watch;
    assert!(accepted > 0, "the device accepted no telegram");
    let mut got = 0u64;
    while got < accepted {
        match next_where(w, Feed::Data, is_measurement).await {
            Some(_) => got += 1,
            None => panic!("{got} measurements for {accepted} accepted telegrams"),
        }
    }
    let more = drain(w, Feed::Data, is_measurement).await.len() as u64;
    assert_eq!(
        got + more,
        accepted,
        "measurements published vs telegrams accepted"
    );
}

// ---- connection, identity ------------------------------------------------------------------

#[given(regex = r"^the status shows MQTT connected$")]
#[then(regex = r"^the status shows MQTT connected$")]
async fn connected(w: &mut DeviceWorld) {
    let m = mqtt_status_until(w, "MQTT connected", |m| {
        m["Connected"].as_bool() == Some(true)
    })
    .await;
    assert_eq!(m["Enabled"].as_bool(), Some(true), "MQTT: {m}");
    assert!(m["Error"].is_null(), "connected with an error: {m}");
}

#[then(
    regex = r"^the status shows MQTT not connected, with an error naming the certificate and the device clock$"
)]
async fn clock_error(w: &mut DeviceWorld) {
    // Other errors may show on the way (e.g. waiting for the network after the restart): wait
    // for the connection attempt's verdict.
    let m = mqtt_status_until(w, "an MQTT error naming the certificate", |m| {
        m["Error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("certificate"))
    })
    .await;
    assert_eq!(m["Connected"].as_bool(), Some(false), "MQTT: {m}");
    let e = m["Error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        e.contains("certificate") && e.contains("clock"),
        "the error should name the certificate and the clock: {e:?}"
    );
}

#[then(
    regex = r"^the broker saw the device connect over mutual TLS, with the serial number from the label as certificate name and as client id$"
)]
async fn mtls_identity(w: &mut DeviceWorld) {
    let sn = serial(w);
    if exact(w) {
        // The client's connection attempts have ended: the broker's log is complete.
        w.settle().await;
    }
    let end = tokio::time::Instant::now() + super::mqtt_wait::WAIT;
    let clients = loop {
        let c = clients(w).await;
        if c.iter().any(|c| c.client_id.is_some()) || exact(w) || tokio::time::Instant::now() >= end
        {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        !clients.is_empty(),
        "no client came through the broker's TLS listener"
    );
    for c in &clients {
        assert_eq!(c.cn.as_deref(), Some(sn.as_str()), "certificate CN: {c:?}");
        assert_eq!(
            c.client_id.as_deref(),
            Some(sn.as_str()),
            "client id: {c:?}"
        );
        assert_eq!(c.username, None, "mutual TLS, no username: {c:?}");
    }
}

#[then(regex = r"^the broker has seen no new connection from the device$")]
async fn no_new_connection(w: &mut DeviceWorld) {
    // Give a connection that might be on its way the same chance as a message: on the
    // virtual device, until its client has no attempt under way.
    if exact(w) {
        w.settle().await;
    } else {
        tokio::time::sleep(super::mqtt_wait::QUIET).await;
    }
    let now = clients(w).await;
    assert_eq!(
        now.len(),
        w.mqtt.clients_seen,
        "new connections: {:?}",
        &now[w.mqtt.clients_seen.min(now.len())..]
    );
}

// ---- the payload ---------------------------------------------------------------------------

#[then(regex = r#"^the measurement is published on "(.+)"$"#)]
fn topic(w: &mut DeviceWorld, want: String) {
    let want = want.replace("{serial}", &serial(w));
    let m = w.mqtt.last.as_ref().expect("no measurement was taken yet");
    assert_eq!(m.topic, want);
}

#[then(regex = r#"^the measurement names the serial number from the label and the site "(.+)"$"#)]
fn names(w: &mut DeviceWorld, site: String) {
    let v = last(w);
    assert_eq!(v["serial"].as_str(), Some(serial(w).as_str()), "{v}");
    assert_eq!(v["site"].as_str(), Some(site.as_str()), "{v}");
}

fn schema() -> (Value, Validator) {
    let text = include_str!("../../../schemas/measurements.schema.json");
    let s: Value = serde_json::from_str(text).expect("the schema is JSON");
    let v = Validator::new(&s).expect("a valid JSON Schema");
    (s, v)
}

#[then(regex = r"^the measurement is a JSON object valid against the published JSON schema$")]
fn valid(w: &mut DeviceWorld) {
    let v = last(w);
    assert!(v.is_object(), "{v}");
    let (_, validator) = schema();
    if let Err(e) = validator.validate(&v) {
        panic!("the payload does not match schemas/measurements.schema.json: {e}\n{v}");
    }
}

#[then(regex = r"^the measurement carries instantaneous values only, no cumulative counters$")]
fn no_counters(w: &mut DeviceWorld) {
    let v = last(w);
    let (s, _) = schema();
    let known = s["properties"].as_object().expect("schema properties");
    for (k, x) in v.as_object().expect("a JSON object") {
        let key = k.to_lowercase();
        assert!(
            !(key.contains("energy")
                || key.contains("kwh")
                || key.ends_with("_wh")
                || key.contains("counter")
                || key.contains("index")
                || key.contains("tariff")),
            "a cumulative field {k:?} in {v}"
        );
        assert!(
            known.contains_key(k),
            "{k:?} is not in the published schema"
        );
        assert!(
            !x.is_object() && !x.is_array(),
            "{k:?} is not a plain value: {x}"
        );
    }
}

fn field_list(list: &str) -> Vec<String> {
    list.replace(" and ", ", ")
        .split(", ")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[then(regex = r"^in the measurement (.+?) (?:is|are) null$")]
fn nulls(w: &mut DeviceWorld, list: String) {
    let v = last(w);
    for f in field_list(&list) {
        assert!(
            v.get(&f).is_some_and(Value::is_null),
            "{f} should be present and null: {v}"
        );
    }
}

#[then(regex = r"^in the measurement (\S+) is (-?[\d.]+)$")]
fn number(w: &mut DeviceWorld, field: String, want: f64) {
    let v = last(w);
    let got = v[&field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number: {v}"));
    assert!(
        (got - want).abs() < 0.01,
        "{field} = {got}, expected {want}: {v}"
    );
}

#[then(
    regex = r"^the measurement's timestamp is (the meter's time|the device clock's time) when the telegram was sent, in UTC epoch seconds$"
)]
fn timestamp(w: &mut DeviceWorld, source: String) {
    let v = last(w);
    let sent = w.mqtt.sent_at.expect("no telegram was sent");
    // The synthetic meter's clock is simulation time; the device clock is simulation time
    // plus what the clock steps set.
    let (want, source) = if source.contains("meter") {
        (sent.div_euclid(1000), "meter")
    } else {
        ((sent + w.mqtt.clock_offset).div_euclid(1000), "device")
    };
    assert_eq!(v["timestamp"].as_i64(), Some(want), "timestamp: {v}");
    assert_eq!(v["time_source"].as_str(), Some(source), "{v}");
}

// ---- the device clock (MQ-06, MQ-15) ----------------------------------------------------

#[given(regex = r"^the device clock is set (\d+) hours? (ahead|behind)$")]
#[when(regex = r"^the device clock is set (\d+) hours? (ahead|behind)$")]
async fn clock_off(w: &mut DeviceWorld, h: i64, dir: String) {
    let sign = if dir == "ahead" { 1 } else { -1 };
    let t = w.now() + sign * h * 3_600_000;
    set_clock(w, t).await;
}

#[when(regex = r"^the device clock is set to (\d{4}-\d\d-\d\d)$")]
async fn clock_to(w: &mut DeviceWorld, date: String) {
    // The connections so far: with a wrong clock there must be no new one (MQ-06).
    w.mqtt.clients_seen = clients(w).await.len();
    set_clock(w, utc_ms(&date)).await;
}

#[when(regex = r"^the device clock is set right$")]
async fn clock_right(w: &mut DeviceWorld) {
    let t = w.now();
    set_clock(w, t).await;
}
