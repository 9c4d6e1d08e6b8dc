//! The device's MQTT client against the embedded broker, over real loopback sockets: a virtual
//! device (a `Host` on a `VirtualClock`), `EmbeddedBroker` (rumqttd behind the mTLS front) and
//! `MqttClient`.
//!
//! Time: device time is the virtual clock, so reconnect back-off, certificate validity and
//! command timestamps are driven by the test, never by sleeping. Real time passes only while
//! waiting for network events (TCP/TLS handshakes, MQTT round trips through rumqttd); every
//! such wait has a timeout and ends as soon as the event happens.

use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker, Message};
use smart_connect_sim::adapters::certs::{PkiOptions, TestPki, Validity, DEFAULT_SERVER_NAMES};
use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::modbus::ModbusServer;
use smart_connect_sim::adapters::modbus_client::ModbusClient;
use smart_connect_sim::adapters::mqtt::backoff::BackoffPolicy;
use smart_connect_sim::adapters::mqtt::{DeviceIdentity, MqttClient, MqttOptions, MqttStats};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::identity::Identity;
use smart_connect_sim::device::power::PowerInputs;
use smart_connect_sim::device::registers::f32_cdab;
use smart_connect_sim::device::store::{ConfigStore, MemStore};
use smart_connect_sim::device::{DeviceConfig, Effect, Event, Reply, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use smart_connect_sim::sim::clock::{Millis, VirtualClock};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// 2026-06-15T10:00:00Z: inside the default certificate windows.
const T0: Millis = 1_781_517_600_000;
const WAIT: Duration = Duration::from_secs(20);

/// A device of seed `seed` whose store holds `cfg` (factory settings when `None`), not powered.
fn device(seed: u64, cfg: Option<Config>, start: Millis) -> (Arc<Host>, VirtualClock) {
    let clock = VirtualClock::new(start);
    let store = cfg.map(|c| {
        let mut s = MemStore::new();
        s.save(&c).unwrap();
        Box::new(s) as Box<dyn ConfigStore>
    });
    let hw = DeviceConfig {
        identity: Identity::from_seed(seed),
        ..DeviceConfig::new(Variant::P1)
    };
    (Host::new(hw, store, Arc::new(clock.clone())), clock)
}

/// Power on and tick through boot and initialisation until the device serves.
fn boot(host: &Host, clock: &VirtualClock) {
    if !host.with_device(|d| d.powered()) {
        host.handle(Event::Power(PowerInputs {
            usb: true,
            p1_supply: false,
        }));
    }
    for _ in 0..100 {
        if host.served().serving {
            return;
        }
        clock.advance(500);
        host.handle(Event::Tick);
    }
    panic!("the device did not come up");
}

fn serial(host: &Host) -> String {
    host.with_device(|d| d.identity().serial.clone())
}

/// A single-phase SMR5 telegram whose power is `n` W at meter time T0/1000 + n: L2/L3 are
/// absent, so their payload fields must be null (MQ-10).
fn telegram(n: u32) -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(T0 / 1000 + i64::from(n));
    r.voltage_v[0] = Some(230.0);
    r.current_a[0] = Some(1.0);
    r.active_power_phase_w[0] = Some(n as f32);
    r.power_import_w = Some(n as f32);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5OnePhase)
}

/// Wait (real time, bounded) until the client's numbers satisfy `ok`.
async fn until(client: &MqttClient, what: &str, ok: impl Fn(&MqttStats) -> bool) -> MqttStats {
    let mut w = client.watch();
    let got = match tokio::time::timeout(WAIT, w.wait_for(|s| ok(s))).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    got.unwrap_or_else(|| panic!("timed out waiting for {what}; stats: {:#?}", client.stats()))
}

/// Poll a condition that no channel announces (bounded, real time).
async fn eventually(what: &str, ok: impl Fn() -> bool) {
    let end = tokio::time::Instant::now() + WAIT;
    while !ok() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next(rx: &mut UnboundedReceiver<Message>) -> Message {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a message in time")
        .expect("the subscription is open")
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/measurements.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn status(host: &Host) -> serde_json::Value {
    let now = host.now();
    serde_json::to_value(host.with_device(|d| d.status(now))).unwrap()
}

/// Total import power as the Modbus register map shows it (one connection kept open: the
/// device serves one client at a time, MB-02).
async fn modbus_power(c: &mut ModbusClient) -> f32 {
    let r = c.read(3, 1, 0x8016, 2).await.unwrap().unwrap();
    f32_cdab([r[0], r[1]])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schema_valid_message_per_valid_telegram_with_serial_as_client_id_and_cn() {
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "connected", |s| s.connected).await;

    // MQ-08: a valid telegram, a rejected one (CRC broken), another valid one.
    host.handle(Event::SerialBytes(telegram(101)));
    let mut bad = telegram(555);
    let pos = bad.len() - 10;
    bad[pos] ^= 0x01;
    clock.advance(1_000);
    host.handle(Event::SerialBytes(bad));
    clock.advance(1_000);
    host.handle(Event::SerialBytes(telegram(102)));
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!(
        status(&host)["Meter"]["TelegramsRejected"],
        1,
        "the middle telegram was rejected"
    );
    host.handle(Event::SerialBytes(telegram(103)));
    let c = next(&mut rx).await;
    let powers: Vec<f64> = [&a, &b, &c]
        .iter()
        .map(|m| m.json().unwrap()["power_import_w"].as_f64().unwrap())
        .collect();
    assert_eq!(
        powers,
        [101.0, 102.0, 103.0],
        "one message per valid telegram, none for the rejected one"
    );

    // MQ-04/12/14: the topic, with the default site.
    let topic = format!("devices/unknown-site/smart-connect/{sn}/data/measurements");
    let validator = schema();
    for m in [&a, &b, &c] {
        assert_eq!(m.topic, topic);
        assert!(!m.retain);
        let v = m.json().unwrap();
        if let Err(e) = validator.validate(&v) {
            panic!("payload does not match the schema (MQ-14): {e}\n{v}");
        }
    }
    let v = a.json().unwrap();
    assert_eq!(v["serial"], sn.as_str());
    assert_eq!(v["site"], "unknown-site");
    assert_eq!(
        v["timestamp"],
        T0 / 1000 + 101,
        "the telegram's own time, UTC epoch seconds (MQ-11, MQ-15)"
    );
    assert_eq!(v["time_source"], "meter");
    assert!(
        v["voltage_l2_v"].is_null() && v["current_l3_a"].is_null(),
        "absent values are null (MQ-10): {v}"
    );
    assert_eq!(v["voltage_l1_v"], 230.0);
    assert!(
        v.get("energy").is_none() && !v.to_string().contains("kwh"),
        "no cumulative counters (MQ-09)"
    );

    // MQ-03/05: the TLS front saw the device certificate's CN and the CONNECT's client id.
    let clients = broker.tls_clients();
    let last = clients
        .last()
        .expect("the device came through the TLS front");
    assert_eq!(
        last.cn.as_deref(),
        Some(sn.as_str()),
        "certificate CN = serial"
    );
    assert_eq!(
        last.client_id.as_deref(),
        Some(sn.as_str()),
        "client id = serial"
    );
    assert_eq!(last.username, None, "mTLS: no username");
    assert_eq!(broker.client_cns(), vec![sn.clone()]);

    // The device knows: status MQTT block and the network indicator.
    let s = until(&client, "three publishes", |s| s.published == 3).await;
    assert_eq!((s.dropped, s.queued, s.attempts, s.connects), (0, 0, 1, 1));
    let st = status(&host);
    assert_eq!(st["MQTT"]["Connected"], true);
    assert_eq!(
        st["MQTT"]["LastPublish"],
        host.now() / 1000,
        "last publish time on the device clock"
    );
    assert_eq!(st["Network"]["MQTT"], true);
    assert!(st["MQTT"]["Error"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_clock_before_the_broker_certificate_fails_clearly_while_modbus_answers() {
    // MQ-06: the broker certificate is valid from T0 + 10 days; the device clock reads T0.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let opts = BrokerOptions {
        pki_options: PkiOptions {
            client_cn: sn.clone(),
            server_validity: Validity::days_around(T0, -10, 30),
            ..PkiOptions::default()
        },
        ..BrokerOptions::default()
    };
    let broker = EmbeddedBroker::start(opts).unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus = ModbusServer::start(Arc::clone(&host), listener).unwrap();
    let mut charger = ModbusClient::new(modbus.local_addr());

    let s = until(&client, "a failed attempt", |s| {
        s.error.is_some() && s.next_attempt_at.is_some()
    })
    .await;
    let e = s.error.unwrap();
    assert!(
        e.contains("not valid yet") && e.contains("2026-06-25") && e.contains("clock"),
        "clear reason: {e}"
    );
    assert!(!s.connected);
    let st = status(&host);
    assert_eq!(st["MQTT"]["Connected"], false);
    assert_eq!(
        st["MQTT"]["Error"],
        e.as_str(),
        "the reason is in the status"
    );

    // Modbus is unaffected.
    host.handle(Event::SerialBytes(telegram(42)));
    assert_eq!(modbus_power(&mut charger).await, 42.0);
    let queued = until(&client, "the measurement queued", |s| s.queued == 1).await;
    assert_eq!(queued.published, 0);

    // Set the clock right (11 days on): the next attempt connects and the queue goes out.
    clock.advance(11 * 86_400_000);
    host.handle(Event::Tick);
    until(&client, "connected once the clock is right", |s| {
        s.connected
    })
    .await;
    let m = next(&mut rx).await;
    assert_eq!(m.json().unwrap()["power_import_w"], 42.0);
    drop(modbus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_certificate_from_another_ca_is_refused() {
    // MQ-05: the broker validates the device certificate against its trusted CA.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let foreign = TestPki::new(&sn).unwrap();
    let opts = MqttOptions {
        identity: Some(DeviceIdentity {
            cert_pem: foreign.client().cert_pem().into(),
            key_pem: foreign.client().key_pem().into(),
        }),
        ..MqttOptions::embedded(&broker)
    };
    let client = MqttClient::start(Arc::clone(&host), opts);
    boot(&host, &clock);
    let s = until(&client, "a refused attempt", |s| {
        s.error.is_some() && s.next_attempt_at.is_some()
    })
    .await;
    let e = s.error.unwrap();
    assert!(
        e.contains("refused the device certificate") || e.contains("closed the connection"),
        "{e}"
    );
    assert!(!s.connected);
    assert!(broker.client_cns().is_empty(), "no certificate got through");
    eventually("the front to log the refusal", || {
        !broker.tls_refusals().is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_password_instead_of_mtls() {
    // MQ-07: one's own broker with username/password, plain and over TLS without a client
    // certificate; a wrong password is refused with a clear reason.
    let creds = vec![("meter".to_string(), "s3cret".to_string())];
    let mut names: Vec<String> = DEFAULT_SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    names.push("own-tls.example".into());
    let pki_options = PkiOptions {
        server_names: names,
        ..PkiOptions::default()
    };
    let broker = EmbeddedBroker::start(BrokerOptions {
        credentials: creds,
        pki_options,
        ..BrokerOptions::default()
    })
    .unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let with = |broker_url: &str, password: &str, site: &str| {
        let mut c = Config::default();
        c.mqtt.broker = broker_url.into();
        c.mqtt.username = "meter".into();
        c.mqtt.password = password.into();
        c.mqtt.site = site.into();
        c
    };
    let opts = MqttOptions::embedded(&broker)
        .with_resolve("own-broker.example", broker.plain_addr())
        .with_resolve("own-tls.example", broker.tls_addr());

    let (plain, clock1) = device(
        1,
        Some(with("mqtt://own-broker.example:1883", "s3cret", "garage")),
        T0,
    );
    let c1 = MqttClient::start(Arc::clone(&plain), opts.clone());
    boot(&plain, &clock1);
    until(&c1, "plain connected", |s| s.connected).await;
    plain.handle(Event::SerialBytes(telegram(7)));
    let m = next(&mut rx).await;
    assert_eq!(
        m.topic,
        format!(
            "devices/garage/smart-connect/{}/data/measurements",
            serial(&plain)
        )
    );

    let (tls, clock2) = device(
        2,
        Some(with("mqtts://own-tls.example:8883", "s3cret", "garage")),
        T0,
    );
    let c2 = MqttClient::start(
        Arc::clone(&tls),
        MqttOptions {
            identity: None,
            ..opts.clone()
        },
    );
    boot(&tls, &clock2);
    until(&c2, "TLS + password connected", |s| s.connected).await;
    let front = broker.tls_clients();
    let seen = front
        .iter()
        .find(|c| c.client_id.as_deref() == Some(serial(&tls).as_str()))
        .expect("came through the TLS front");
    assert_eq!(
        (seen.cn.as_deref(), seen.username.as_deref()),
        (None, Some("meter")),
        "no client certificate, a username"
    );
    tls.handle(Event::SerialBytes(telegram(8)));
    assert_eq!(
        next(&mut rx).await.json().unwrap()["serial"],
        serial(&tls).as_str()
    );

    let (wrong, clock3) = device(
        3,
        Some(with("mqtt://own-broker.example:1883", "guess", "garage")),
        T0,
    );
    let c3 = MqttClient::start(Arc::clone(&wrong), opts);
    boot(&wrong, &clock3);
    let s = until(&c3, "a refused login", |s| {
        s.error.is_some() && s.next_attempt_at.is_some()
    })
    .await;
    let e = s.error.unwrap();
    assert!(
        e.contains("closed the connection before accepting it")
            && e.contains("username or password"),
        "{e}"
    );
    assert!(!s.connected);
    assert_eq!(s.connects, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_mqtt_sends_nothing_and_enabling_takes_effect_after_a_restart() {
    // MQ-01.
    let mut cfg = Config::default();
    cfg.mqtt.enabled = false;
    let (host, clock) = device(0, Some(cfg), T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("#").await.unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    host.handle(Event::SerialBytes(telegram(1)));
    let t = clock.advance(1_000);
    host.handle(Event::Tick);
    let s = until(&client, "the client to see the boot", |s| {
        s.device_time >= t
    })
    .await;
    assert!(!s.enabled && s.attempts == 0, "{s:?}");
    assert_eq!(status(&host)["MQTT"]["Enabled"], false);

    // Enable through the config API: stored, but not in force until a restart.
    let fx = host.handle(Event::PatchConfig(
        serde_json::json!({"MQTT": {"Enabled": true}}),
    ));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Reply(Reply::Config(Ok(_))))),
        "{fx:?}"
    );
    host.handle(Event::SerialBytes(telegram(2)));
    let t = clock.advance(1_000);
    host.handle(Event::Tick);
    let s = until(&client, "the client to see the patch", |s| {
        s.device_time >= t
    })
    .await;
    assert!(!s.enabled && s.attempts == 0, "not before a restart: {s:?}");
    assert!(broker.tls_clients().is_empty(), "never connected");
    assert!(rx.try_recv().is_err(), "nothing published");

    host.handle(Event::SoftReset);
    boot(&host, &clock);
    until(&client, "connected after the restart", |s| {
        s.enabled && s.connected
    })
    .await;
    host.handle(Event::SerialBytes(telegram(3)));
    let m = next(&mut rx).await;
    assert_eq!(
        m.json().unwrap()["power_import_w"],
        3.0,
        "the first message is from after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmware_update_and_reset_commands_answer_on_events() {
    // MQ-13, FW-01.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let root = format!("devices/unknown-site/smart-connect/{sn}");
    let mut events = broker
        .subscribe(&format!("{root}/data/events"))
        .await
        .unwrap();
    let client = MqttClient::start(Arc::clone(&host), MqttOptions::embedded(&broker));
    boot(&host, &clock);
    until(&client, "subscribed to commands", |s| s.subscribed).await;

    let command = |name: &str, body: &str| {
        broker.publish(&format!("{root}/cmd/{name}"), body).unwrap();
    };
    command("firmware-update", r#"{"Version":"1.5.0"}"#);
    let ok = next(&mut events).await.json().unwrap();
    assert_eq!(
        (
            ok["command"].as_str(),
            ok["accepted"].as_bool(),
            ok["version"].as_str()
        ),
        (Some("firmware-update"), Some(true), Some("1.5.0")),
        "{ok}"
    );
    assert!(ok["reason"].is_null());
    assert_eq!(ok["timestamp"], host.now() / 1000);
    assert_eq!(status(&host)["System"]["FirmwareUpdate"], "downloading");

    command("firmware-update", r#"{"Version":"1.5.0"}"#);
    let busy = next(&mut events).await.json().unwrap();
    assert_eq!(busy["accepted"], false);
    assert!(
        busy["reason"].as_str().unwrap().contains("already"),
        "{busy}"
    );

    command("firmware-update", r#"{"version":"1.5.0"}"#);
    let bad = next(&mut events).await.json().unwrap();
    assert_eq!(bad["accepted"], false);
    assert!(bad["reason"].as_str().unwrap().contains("Version"), "{bad}");

    command("self-destruct", "");
    let unknown = next(&mut events).await.json().unwrap();
    assert_eq!(
        (unknown["command"].as_str(), unknown["accepted"].as_bool()),
        (Some("self-destruct"), Some(false))
    );

    let before = client.stats().generation;
    command("reset", "");
    let reset = next(&mut events).await.json().unwrap();
    assert_eq!(
        (reset["command"].as_str(), reset["accepted"].as_bool()),
        (Some("reset"), Some(true)),
        "{reset}"
    );
    until(&client, "the reboot", |s| s.generation > before).await;
    assert!(!host.served().serving, "the device restarted");
    assert_eq!(status(&host)["System"]["UptimeS"], 0);
    boot(&host, &clock);
    let s = until(&client, "reconnected after the reset", |s| s.connected).await;
    assert_eq!((s.connects, s.commands), (1, 0), "numbers of the new boot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_bounded_backoff_bounded_queue_and_modbus_keeps_answering() {
    // MQ-16. The reconnect spacing is in device time (the virtual clock), so the test moves
    // the clock instead of sleeping; each refused attempt is a real (instant) TCP connect.
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut rx = broker.subscribe("devices/#").await.unwrap();
    let policy = BackoffPolicy {
        initial_ms: 1_000,
        max_ms: 8_000,
        jitter_pct: 20,
    };
    let opts = MqttOptions {
        queue_capacity: 5,
        backoff: policy,
        seed: 7,
        ..MqttOptions::embedded(&broker)
    };
    let client = MqttClient::start(Arc::clone(&host), opts);
    boot(&host, &clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus = ModbusServer::start(Arc::clone(&host), listener).unwrap();
    let mut charger = ModbusClient::new(modbus.local_addr());
    until(&client, "connected", |s| s.connected).await;

    // The broker becomes unreachable (its port stays bound, so no other test can take it).
    broker.set_reachable(false);
    let mut s = until(&client, "the lost connection", |s| {
        !s.connected && s.next_attempt_at.is_some()
    })
    .await;
    assert!(
        s.error.as_deref().unwrap().contains("lost the connection"),
        "{s:?}"
    );
    assert_eq!(status(&host)["MQTT"]["Connected"], false);

    // Attempts are spaced by the back-off: 1 s, 2 s, 4 s, 8 s, 8 s (each minus ≤ 20 % jitter).
    let mut delays = Vec::new();
    for n in 0..5u32 {
        let due = s.next_attempt_at.unwrap();
        let failed_at = *s.attempt_times.last().unwrap();
        // The first wait starts when the connection was lost (the clock stood still since).
        let delay = due - if n == 0 { host.now() } else { failed_at };
        let (lo, hi) = policy.bounds(n);
        assert!(
            (lo..=hi).contains(&delay),
            "delay {n} = {delay} ms, expected {lo}..={hi}"
        );
        delays.push(delay);
        // Just before the deadline: no attempt. Telegrams keep coming and Modbus answers.
        let k = 100 + n * 3;
        for i in 0..3 {
            clock.advance_to(due - 300 + i64::from(i) * 100);
            host.handle(Event::SerialBytes(telegram(k + i)));
        }
        let t = clock.advance_to(due - 1);
        host.handle(Event::Tick);
        let quiet = until(&client, "the client to see the time", |x| {
            x.device_time >= t
        })
        .await;
        assert_eq!(
            quiet.attempts, s.attempts,
            "no attempt before the back-off is over"
        );
        assert_eq!(
            modbus_power(&mut charger).await,
            (k + 2) as f32,
            "Modbus is unaffected"
        );
        // At the deadline: one more attempt, refused.
        clock.advance_to(due);
        host.handle(Event::Tick);
        let attempts = s.attempts;
        s = until(&client, "the next attempt", |x| {
            x.attempts == attempts + 1 && x.next_attempt_at.is_some()
        })
        .await;
        assert!(
            s.error
                .as_deref()
                .unwrap()
                .contains("closed the connection before accepting it"),
            "{s:?}"
        );
    }
    assert!(
        delays.iter().all(|&d| d <= policy.max_ms),
        "bounded: {delays:?}"
    );

    // The queue is bounded: 15 telegrams while down, the 5 newest kept, 10 counted as dropped.
    let s = until(&client, "5 queued, 10 dropped", |x| {
        (x.queued, x.dropped) == (5, 10)
    })
    .await;
    let st = status(&host);
    assert_eq!(st["MQTT"]["Dropped"], 10);
    assert_eq!(st["Meter"]["TelegramsOk"], 15);

    // The broker is back: the next attempt connects and sends the 5.
    broker.set_reachable(true);
    clock.advance_to(s.next_attempt_at.unwrap());
    host.handle(Event::Tick);
    until(&client, "reconnected", |x| x.connected).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(
            next(&mut rx).await.json().unwrap()["power_import_w"]
                .as_f64()
                .unwrap(),
        );
    }
    assert_eq!(
        got,
        [110.0, 111.0, 112.0, 113.0, 114.0],
        "the newest five, in order"
    );
    let s = until(&client, "the queue drained", |x| {
        x.queued == 0 && x.published == 5
    })
    .await;
    assert_eq!(s.dropped, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_discovery_is_retained_and_off_by_default() {
    assert!(!MqttOptions::default().ha_discovery);
    let (host, clock) = device(0, None, T0);
    let sn = serial(&host);
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut data = broker.subscribe("devices/#").await.unwrap();
    let _client = MqttClient::start(
        Arc::clone(&host),
        MqttOptions {
            ha_discovery: true,
            ..MqttOptions::embedded(&broker)
        },
    );
    boot(&host, &clock);
    host.handle(Event::SerialBytes(telegram(5)));
    // The configs went out before this measurement on the same connection, so the broker
    // holds them once the measurement arrives; a subscriber that comes later gets them
    // because they are retained.
    next(&mut data).await;
    let mut rx = broker.subscribe("homeassistant/#").await.unwrap();
    let mut topics = Vec::new();
    for _ in 0..12 {
        let m = next(&mut rx).await;
        assert!(m.retain, "{}", m.topic);
        assert_eq!(
            m.json().unwrap()["state_topic"],
            format!("devices/unknown-site/smart-connect/{sn}/data/measurements")
        );
        topics.push(m.topic);
    }
    topics.sort();
    topics.dedup();
    assert_eq!(topics.len(), 12);
    assert!(topics.contains(&format!(
        "homeassistant/sensor/smart_connect_{sn}/active_power_w/config"
    )));
}
