//! How the device connects: certificates checked on the device clock (MQ-06), a device
//! certificate from another CA refused (MQ-05), username and password instead of mTLS (MQ-07).

use super::support::{
    boot, device, eventually, modbus_power, next, serial, status, telegram, until, T0,
};
use smart_connect_sim::adapters::broker::{BrokerOptions, EmbeddedBroker};
use smart_connect_sim::adapters::certs::{PkiOptions, TestPki, Validity, DEFAULT_SERVER_NAMES};
use smart_connect_sim::adapters::modbus::ModbusServer;
use smart_connect_sim::adapters::modbus_client::ModbusClient;
use smart_connect_sim::adapters::mqtt::{DeviceIdentity, MqttClient, MqttOptions};
use smart_connect_sim::device::config::Config;
use smart_connect_sim::device::Event;
use std::sync::Arc;

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
    eventually(
        "the front to log the refusal",
        broker.tls_log_changes(),
        || !broker.tls_refusals().is_empty(),
    )
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
async fn a_taken_broker_port_is_named_with_its_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let opts = BrokerOptions {
        plain_port: port,
        ..BrokerOptions::for_device("SN1")
    };
    let e = EmbeddedBroker::start(opts)
        .expect_err("the port is taken")
        .to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("--mqtt-plain-port"),
        "{e}"
    );
}
