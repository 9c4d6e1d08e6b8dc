//! Tests of the in-memory network's MQTT client (`mem_client.rs`) against the embedded broker
//! (over TCP, or over a `MemNet` pipe bridged to the broker's TCP port) and against a scripted
//! broker on a pipe; and the whole device client (`MqttClient`) on `Net::Mem`.

use super::connection::describe;
use super::mem_client::{start, Dial, Events, MemClient, Settings};
use super::{BrokerUrl, MqttClient, MqttOptions, Plan};
use crate::adapters::broker::{BrokerOptions, EmbeddedBroker, Message};
use crate::adapters::host::Host;
use crate::adapters::net::{MemNet, Net};
use crate::device::identity::Identity;
use crate::device::{DeviceConfig, Event as DeviceEvent, Variant};
use crate::protocol::dsmr::{self, DsmrKind};
use crate::protocol::{Protocol, Reading};
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet, SubscribeReasonCode};
use rumqttc::mqttbytes::QoS;
use rumqttc::{ConnectionError, Event, Outgoing, StateError};
use rustls::pki_types::ServerName;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::bytes::BytesMut;

const WAIT: Duration = Duration::from_secs(20);
const SN: &str = "SC-TEST-0001";
/// 2026-06-15T10:00:00Z: inside the test PKI's default certificate windows.
const T0: i64 = 1_781_517_600_000;

fn settings(id: &str, login: Option<(&str, &str)>, broker: Option<&EmbeddedBroker>) -> Settings {
    Settings {
        client_id: id.into(),
        login: login.map(|(u, p)| (u.into(), p.into())),
        keep_alive_s: 30,
        connect_timeout_s: 5,
        tls: broker.map(|b| {
            let config = b.pki().client_config(true).expect("client TLS config");
            let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
            (Arc::new(config), ServerName::IpAddress(ip.into()))
        }),
    }
}

/// Dial `addr` on `net`, as the manager does.
fn dial(net: &Net, addr: SocketAddr) -> Dial {
    let net = net.clone();
    Box::pin(async move { net.connect(addr).await })
}

async fn next(events: &mut Events) -> Result<Event, ConnectionError> {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event in time")
        .expect("the connection task reports before it ends")
}

/// Skip events until `want` picks one; an error first fails the test.
async fn until<T>(events: &mut Events, what: &str, want: impl Fn(&Event) -> Option<T>) -> T {
    loop {
        match next(events).await {
            Ok(e) => {
                if let Some(t) = want(&e) {
                    return t;
                }
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

async fn connected(events: &mut Events) -> ConnAck {
    match next(events).await {
        Ok(Event::Incoming(Packet::ConnAck(a))) => a,
        other => panic!("expected a CONNACK first, got {other:?}"),
    }
}

async fn message(rx: &mut UnboundedReceiver<Message>) -> Message {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a message in time")
        .expect("the subscription is open")
}

/// An in-memory network where `addr` leads to the same address over TCP; each bridged
/// connection's task is sent on the returned channel (abort it to cut that connection).
fn bridge(
    addr: SocketAddr,
) -> (
    Net,
    tokio::sync::mpsc::UnboundedReceiver<tokio::task::JoinHandle<()>>,
) {
    let mem = MemNet::default();
    let listener = mem.listen(addr).expect("listen on the memory network");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut pipe, _)) = listener.accept().await {
            let link = tokio::spawn(async move {
                if let Ok(mut tcp) = Net::Tcp.connect(addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut pipe, &mut tcp).await;
                }
            });
            if tx.send(link).is_err() {
                return;
            }
        }
    });
    (Net::Mem(mem), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_client_subscribes_receives_and_publishes_at_least_once() {
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(SN)).unwrap();
    let mut seen = broker.subscribe("devices/#").await.unwrap();
    let (client, mut events, _task) = start(
        dial(&Net::Tcp, broker.tls_addr()),
        settings(SN, None, Some(&broker)),
    );
    assert_eq!(
        connected(&mut events).await.code,
        ConnectReturnCode::Success
    );
    assert!(
        broker.client_cns().contains(&SN.to_string()),
        "mTLS with the device certificate"
    );

    let cmd = format!("devices/site/smart-connect/{SN}/cmd/#");
    client.try_subscribe(cmd.clone(), QoS::AtLeastOnce).unwrap();
    let sub = until(&mut events, "SUBSCRIBE written", |e| match e {
        Event::Outgoing(Outgoing::Subscribe(id)) => Some(*id),
        _ => None,
    })
    .await;
    let ack = until(&mut events, "SUBACK", |e| match e {
        Event::Incoming(Packet::SubAck(a)) => Some(a.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ack.pkid, sub);
    assert_eq!(
        ack.return_codes,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );

    // A PUBLISH in (QoS 0 from the broker's own link).
    let topic = format!("devices/site/smart-connect/{SN}/cmd/reset");
    broker.publish(&topic, "{}").unwrap();
    let p = until(&mut events, "the command", |e| match e {
        Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        (topic.as_str(), &b"{}"[..])
    );

    // A PUBLISH out at QoS 1: written with a packet id, acknowledged, seen by the broker.
    let data = format!("devices/site/smart-connect/{SN}/data/events");
    client
        .try_publish(
            data.clone(),
            QoS::AtLeastOnce,
            false,
            b"{\"ok\":1}".to_vec(),
        )
        .unwrap();
    let id = until(&mut events, "PUBLISH written", |e| match e {
        Event::Outgoing(Outgoing::Publish(id)) => Some(*id),
        _ => None,
    })
    .await;
    assert_ne!(id, 0, "QoS 1 has a packet id");
    let acked = until(&mut events, "PUBACK", |e| match e {
        Event::Incoming(Packet::PubAck(a)) => Some(a.pkid),
        _ => None,
    })
    .await;
    assert_eq!(acked, id);
    let m = loop {
        let m = message(&mut seen).await;
        if m.topic == data {
            break m;
        }
    };
    assert_eq!(m.payload, b"{\"ok\":1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos1_publish_in_is_acknowledged_a_wrong_password_closed_and_a_taken_id_refused() {
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(SN)).unwrap();
    let (user, password) = broker.installer();
    let (user, password) = (user.to_string(), password.to_string());
    let plain = broker.plain_addr();

    // The device (mTLS) subscribes at QoS 1; an installer client (password) publishes at QoS 1.
    let (device, mut device_events, _t1) = start(
        dial(&Net::Tcp, broker.tls_addr()),
        settings(SN, None, Some(&broker)),
    );
    connected(&mut device_events).await;
    device
        .try_subscribe("site/+/cmd", QoS::AtLeastOnce)
        .unwrap();
    until(&mut device_events, "SUBACK", |e| {
        matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
    })
    .await;
    let (installer, mut installer_events, _t2) = start(
        dial(&Net::Tcp, plain),
        settings("installer-1", Some((&user, &password)), None),
    );
    connected(&mut installer_events).await;
    installer
        .try_publish("site/1/cmd", QoS::AtLeastOnce, false, b"go".to_vec())
        .unwrap();
    let p = until(&mut device_events, "the publish", |e| match e {
        Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!((p.qos, &p.payload[..]), (QoS::AtLeastOnce, &b"go"[..]));
    let answered = until(&mut device_events, "our PUBACK", |e| match e {
        Event::Outgoing(Outgoing::PubAck(id)) => Some(*id),
        _ => None,
    })
    .await;
    assert_eq!(answered, p.pkid);

    // A wrong password: rumqttd closes without a CONNACK (rumqttc sees the same).
    let (_c, mut closed, _t3) = start(
        dial(&Net::Tcp, plain),
        settings("installer-2", Some((&user, "not-the-password")), None),
    );
    let e = next(&mut closed)
        .await
        .expect_err("a wrong password is not let in");
    assert!(
        matches!(e, ConnectionError::MqttState(StateError::ConnectionAborted)),
        "{e:?}"
    );
    let plan = Plan {
        url: BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap(),
        addr: plain,
        username: user.clone(),
        tls: None,
    };
    let words = describe(&e, Some(&plan), false);
    assert!(
        words.ends_with("(username or password refused?)"),
        "{words}"
    );

    // The device's client id with a password while the device is connected with its
    // certificate: the front answers CONNACK 5.
    let (_c, mut refused, _t4) = start(
        dial(&Net::Tcp, plain),
        settings(SN, Some((&user, &password)), None),
    );
    match next(&mut refused).await {
        Err(ConnectionError::ConnectionRefused(code)) => {
            assert_eq!(code, ConnectReturnCode::NotAuthorized);
            let words = describe(
                &ConnectionError::ConnectionRefused(code),
                Some(&plan),
                false,
            );
            assert!(
                words.contains("refused the connection: NotAuthorized"),
                "{words}"
            );
        }
        other => panic!("expected a refused CONNACK, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_memory_pipe_a_cut_an_untrusted_broker_and_nothing_listening_are_errors() {
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(SN)).unwrap();
    let (net, mut links) = bridge(broker.tls_addr());
    let (_client, mut events, _task) = start(
        dial(&net, broker.tls_addr()),
        settings(SN, None, Some(&broker)),
    );
    connected(&mut events).await;
    let link = links.recv().await.expect("the bridged connection");
    link.abort();
    let e = match next(&mut events).await {
        Err(e) => e,
        Ok(ev) => panic!("expected the cut as an error, got {ev:?}"),
    };
    // Through TLS the cut is an end of stream without close_notify, as rumqttc sees it too.
    assert!(
        matches!(&e, ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::Io(io)
        )) if io.kind() == std::io::ErrorKind::UnexpectedEof),
        "{e:?}"
    );
    let words = describe(&e, None, true);
    assert!(
        words.starts_with("lost the connection to the broker"),
        "{words}"
    );

    // A broker certificate from a CA the client does not know: a TLS error, in TLS words.
    let stranger = crate::adapters::certs::TestPki::new(SN).unwrap();
    let mut s = settings(SN, None, Some(&broker));
    if let Some(tls) = s.tls.as_mut() {
        tls.0 = Arc::new(stranger.client_config(true).unwrap());
    }
    let (_c, mut untrusted, _t) = start(dial(&net, broker.tls_addr()), s);
    let e = next(&mut untrusted).await.expect_err("an untrusted broker");
    assert!(matches!(e, ConnectionError::Tls(_)), "{e:?}");
    let words = describe(&e, None, false);
    // (The stranger's CA has the same name, so the signature is what fails.)
    assert_eq!(words, "TLS: invalid broker certificate: BadSignature");

    let nowhere = SocketAddr::from(([127, 0, 0, 1], 1));
    let (_c, mut refused, _t) = start(dial(&net, nowhere), settings(SN, None, None));
    let e = next(&mut refused).await.expect_err("nothing listens there");
    assert!(
        matches!(&e, ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
    let words = describe(&e, None, false);
    assert!(words.ends_with("connection refused"), "{words}");
}

/// A scripted broker on a pipe: takes one connection and reads its packets until it closes,
/// answering the `i`th with what `answer` says.
async fn script(
    listener: crate::adapters::net::MemListener,
    answer: impl Fn(&Packet, usize) -> Option<Packet>,
) -> Vec<Packet> {
    let (mut pipe, _) = listener.accept().await.unwrap();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    loop {
        let packet = loop {
            match Packet::read(&mut buf, 1 << 16) {
                Ok(p) => break p,
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {
                    if pipe.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return got;
                    }
                }
                Err(e) => panic!("the client sent a bad packet: {e}"),
            }
        };
        if let Some(a) = answer(&packet, got.len()) {
            let mut out = BytesMut::new();
            a.write(&mut out, 1 << 16).unwrap();
            pipe.write_all(&out).await.unwrap();
        }
        got.push(packet);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_every_keep_alive_and_fails_when_a_ping_goes_unanswered() {
    let mem = MemNet::default();
    let addr = SocketAddr::from(([127, 0, 0, 1], 1883));
    let listener = mem.listen(addr).unwrap();
    let broker = tokio::spawn(script(listener, |p, i| match (p, i) {
        (Packet::Connect(_), _) => Some(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        ))),
        (Packet::PingReq, 1) => Some(Packet::PingResp),
        _ => None, // the second ping goes unanswered
    }));
    let mut s = settings("pinger", Some(("u", "p")), None);
    s.keep_alive_s = 1;
    let (client, mut events, task) = start(dial(&Net::Mem(mem), addr), s);
    connected(&mut events).await;
    let mut seen = Vec::new();
    let e = loop {
        match next(&mut events).await {
            Ok(ev) => seen.push(ev),
            Err(e) => break e,
        }
    };
    assert_eq!(
        seen,
        [
            Event::Outgoing(Outgoing::PingReq),
            Event::Incoming(Packet::PingResp),
            Event::Outgoing(Outgoing::PingReq)
        ]
    );
    assert!(
        matches!(e, ConnectionError::MqttState(StateError::AwaitPingResp)),
        "{e:?}"
    );
    drop((client, events));
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the task ends")
        .unwrap();
    let got = broker.await.unwrap();
    match &got[0] {
        Packet::Connect(c) => {
            assert_eq!(
                (c.client_id.as_str(), c.keep_alive, c.clean_session),
                ("pinger", 1, true)
            );
            let login = c.login.as_ref().expect("credentials sent");
            assert_eq!(
                (login.username.as_str(), login.password.as_str()),
                ("u", "p")
            );
        }
        other => panic!("expected CONNECT first, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letting_go_of_the_handle_sends_disconnect_and_ends_the_task() {
    let mem = MemNet::default();
    let addr = SocketAddr::from(([127, 0, 0, 1], 1883));
    let listener = mem.listen(addr).unwrap();
    let broker = tokio::spawn(script(listener, |p, _| {
        matches!(p, Packet::Connect(_))
            .then(|| Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false)))
    }));
    // Keep-alive 0: no pings (and no zero-period timer).
    let mut s = settings("leaver", None, None);
    s.keep_alive_s = 0;
    let (client, mut events, task): (MemClient, Events, _) = start(dial(&Net::Mem(mem), addr), s);
    connected(&mut events).await;
    client
        .try_publish("a/b", QoS::AtMostOnce, true, b"x".to_vec())
        .unwrap();
    assert_eq!(
        next(&mut events).await.unwrap(),
        Event::Outgoing(Outgoing::Publish(0))
    );
    drop((client, events));
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the task ends")
        .unwrap();
    let got = tokio::time::timeout(WAIT, broker)
        .await
        .expect("the broker sees the end")
        .unwrap();
    assert!(
        matches!(got.as_slice(), [Packet::Connect(_), Packet::Publish(p), Packet::Disconnect] if p.retain && p.topic == "a/b"),
        "{got:?}"
    );
}

fn telegram(power_w: f32) -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = Some(T0 / 1000);
    r.voltage_v[0] = Some(230.0);
    r.current_a[0] = Some(1.0);
    r.active_power_phase_w[0] = Some(power_w);
    r.power_import_w = Some(power_w);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5OnePhase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_client_on_the_memory_network_publishes_and_answers_commands() {
    let hw = DeviceConfig {
        identity: Identity::from_seed(0),
        ..DeviceConfig::new(Variant::P1)
    };
    let (host, _clock) = Host::running_virtual(hw, T0);
    let sn = host.with_device(|d| d.identity().serial.clone());
    let broker = EmbeddedBroker::start(BrokerOptions::for_device(&sn)).unwrap();
    let mut seen = broker.subscribe("devices/#").await.unwrap();
    let (net, _links) = bridge(broker.tls_addr());
    let opts = MqttOptions {
        net,
        ..MqttOptions::embedded(&broker)
    };
    let client = MqttClient::start(Arc::clone(&host), opts);
    let mut stats = client.watch();
    tokio::time::timeout(WAIT, stats.wait_for(|s| s.connected && s.subscribed))
        .await
        .expect("connected and subscribed in time")
        .unwrap();
    assert!(
        broker.client_cns().contains(&sn),
        "the device certificate over the pipe"
    );

    host.handle(DeviceEvent::SerialBytes(telegram(1234.0)));
    let m = message(&mut seen).await;
    assert!(m.topic.ends_with("/data/measurements"), "{}", m.topic);
    assert_eq!(m.json().unwrap()["power_import_w"], 1234.0);

    // A command in; its result goes out at QoS 1.
    let root = format!("devices/unknown-site/smart-connect/{sn}");
    broker
        .publish(
            &format!("{root}/cmd/firmware-update"),
            r#"{"Version":"1.5.0"}"#,
        )
        .unwrap();
    let m = loop {
        let m = message(&mut seen).await;
        if m.topic.ends_with("/data/events") {
            break m;
        }
    };
    assert_eq!(m.json().unwrap()["command"], "firmware-update");
    let s = tokio::time::timeout(WAIT, stats.wait_for(|s| s.events_published == 1))
        .await
        .expect("the result counted as written")
        .unwrap()
        .clone();
    assert_eq!((s.published, s.commands, s.connects), (1, 1, 1));
}
