//! The broker on the in-memory network (`Net::Mem`): clients speak raw MQTT 3.1.1 (rumqttd's
//! own `V4` codec) over in-memory pipes, through the TLS front with the device certificate or
//! the plain front with a password, into the router via the bridge; no rumqttd listener.

use super::{BrokerOptions, EmbeddedBroker, OWN_BROKER_PASSWORD, OWN_BROKER_USER};
use crate::adapters::net::Net;
use bytes::BytesMut;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{
    ConnectReturnCode, Filter, Login, Packet, Protocol, Publish, QoS, RetainForwardRule, Subscribe,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const SERIAL: &str = "02584D0A1B2C";
const WAIT: Duration = Duration::from_secs(10);

fn start() -> EmbeddedBroker {
    EmbeddedBroker::start(BrokerOptions {
        net: Net::memory(),
        credentials: vec![(OWN_BROKER_USER.into(), OWN_BROKER_PASSWORD.into())],
        ..BrokerOptions::for_device(SERIAL)
    })
    .unwrap()
}

/// A raw MQTT client on any byte stream.
struct Client<S> {
    s: S,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, p: Packet) {
        let mut b = BytesMut::new();
        V4.write(p, &mut b).unwrap();
        self.s.write_all(&b).await.unwrap();
    }

    /// The next packet; `None` when the broker closed the connection.
    async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(WAIT, async {
            loop {
                match V4.read_mut(&mut self.buf, 1 << 20) {
                    Ok(p) => return Some(p),
                    Err(rumqttd::protocol::Error::InsufficientBytes(_)) => {}
                    Err(e) => panic!("bad packet from the broker: {e}"),
                }
                match self.s.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("the broker neither answered nor closed")
    }

    /// CONNECT; the CONNACK's return code (`None`: closed without a CONNACK).
    async fn connect(
        &mut self,
        id: &str,
        login: Option<(&str, &str)>,
        keep_alive: u16,
        clean_session: bool,
    ) -> Option<ConnectReturnCode> {
        let connect = rumqttd::protocol::Connect {
            keep_alive,
            client_id: id.into(),
            clean_session,
        };
        let login = login.map(|(u, p)| Login {
            username: u.into(),
            password: p.into(),
        });
        self.send(Packet::Connect(connect, None, None, None, login))
            .await;
        match self.recv().await? {
            Packet::ConnAck(ack, _) => Some(ack.code),
            p => panic!("expected a CONNACK, got {p:?}"),
        }
    }

    async fn subscribe(&mut self, filter: &str) {
        let filters = vec![Filter {
            path: filter.into(),
            qos: QoS::AtMostOnce,
            nolocal: false,
            preserve_retain: false,
            retain_forward_rule: RetainForwardRule::OnEverySubscribe,
        }];
        self.send(Packet::Subscribe(Subscribe { pkid: 1, filters }, None))
            .await;
        assert!(matches!(self.recv().await, Some(Packet::SubAck(..))));
    }

    async fn publish(&mut self, topic: &str, payload: &str, retain: bool) {
        let p = Publish::new(topic.to_string(), payload.to_string(), retain);
        self.send(Packet::Publish(p, None)).await;
    }

    /// The next PUBLISH: (topic, payload).
    async fn next_publish(&mut self) -> (String, String) {
        match self.recv().await {
            Some(Packet::Publish(p, _)) => (
                String::from_utf8_lossy(&p.topic).into_owned(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            ),
            p => panic!("expected a PUBLISH, got {p:?}"),
        }
    }
}

async fn plain(b: &EmbeddedBroker) -> Client<crate::adapters::net::Stream> {
    let s = b.net().connect(b.plain_addr()).await.unwrap();
    Client {
        s,
        buf: BytesMut::new(),
    }
}

/// A TLS connection to the front with the device certificate (or none).
async fn tls(
    b: &EmbeddedBroker,
    cert: bool,
) -> std::io::Result<Client<tokio_rustls::client::TlsStream<crate::adapters::net::Stream>>> {
    let s = b.net().connect(b.tls_addr()).await?;
    let connector =
        tokio_rustls::TlsConnector::from(Arc::new(b.pki().client_config(cert).unwrap()));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let s = tokio::time::timeout(WAIT, connector.connect(name, s))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake hung"))??;
    Ok(Client {
        s,
        buf: BytesMut::new(),
    })
}

/// Wait (wall clock: the broker's own) until `f` holds.
async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn the_device_connects_with_its_certificate_and_messages_flow_both_ways() {
    let b = start();
    assert!(b.net().is_memory());
    assert_eq!((b.internal_addr(), b.public_internal_addr()), (None, None));
    let mut dev = tls(&b, true).await.unwrap();
    assert_eq!(
        dev.connect(SERIAL, None, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    let c = b.tls_clients();
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].cn.as_deref(), c[0].client_id.as_deref()),
        (Some(SERIAL), Some(SERIAL))
    );
    // Commands from the broker's side reach the device.
    let cmd = format!("devices/site/smart-connect/{SERIAL}/cmd/reset");
    dev.subscribe(&format!("devices/+/smart-connect/{SERIAL}/cmd/#"))
        .await;
    b.publish(&cmd, "now").unwrap();
    assert_eq!(dev.next_publish().await, (cmd, "now".into()));
    // The device's data reaches the suite's subscription; a retained discovery message stays.
    let mut seen = b.subscribe("devices/#").await.unwrap();
    let data = format!("devices/site/smart-connect/{SERIAL}/data/measurements");
    dev.publish(&data, "{\"p\":1}", false).await;
    let m = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        (data.as_str(), &b"{\"p\":1}"[..])
    );
    dev.publish("homeassistant/sensor/sc/config", "{}", true)
        .await;
    // PINGREQ is answered.
    dev.send(Packet::PingReq(rumqttd::protocol::PingReq)).await;
    assert!(matches!(dev.recv().await, Some(Packet::PingResp(_))));
    let mut ha = b.subscribe("homeassistant/#").await.unwrap();
    let m = tokio::time::timeout(WAIT, ha.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        m.retain && m.topic == "homeassistant/sensor/sc/config",
        "{m:?}"
    );
}

#[tokio::test]
async fn the_plain_listener_checks_accounts_and_connect_rules_like_rumqttd() {
    let b = start();
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("installer-1", Some((OWN_BROKER_USER, "wrong")), 30, true)
            .await,
        None,
        "a wrong password: closed without a CONNACK"
    );
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("installer-1", None, 30, true).await,
        None,
        "no login"
    );
    let mut c = plain(&b).await;
    let login = Some((OWN_BROKER_USER, OWN_BROKER_PASSWORD));
    assert_eq!(
        c.connect("installer-1", login, 0, true).await,
        None,
        "keep alive 0"
    );
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("a/b", login, 30, true).await,
        None,
        "a client id the router refuses (it holds a topic separator)"
    );
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("", login, 30, false).await,
        Some(ConnectReturnCode::ClientIdentifierNotValid)
    );
    assert!(c.recv().await.is_none(), "closed after the refusal");
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("", login, 30, true).await,
        Some(ConnectReturnCode::Success),
        "an empty client id with a clean session gets one assigned"
    );
    c.subscribe("t/#").await;
    b.publish("t/1", "x").unwrap();
    assert_eq!(c.next_publish().await, ("t/1".into(), "x".into()));
    // A client without a certificate gets a TLS session (password clients are allowed) and is
    // relayed to the public side, where its account is checked.
    let mut t = tls(&b, false).await.unwrap();
    assert_eq!(
        t.connect("installer-2", login, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    assert!(b.tls_clients().iter().any(|c| c.cn.is_none()
        && c.client_id.as_deref() == Some("installer-2")
        && c.username.as_deref() == Some(OWN_BROKER_USER)));
}

#[tokio::test]
async fn the_router_forgets_a_closed_connection_and_its_client_id_can_reconnect() {
    let b = start();
    let login = Some((OWN_BROKER_USER, OWN_BROKER_PASSWORD));
    let mut a = plain(&b).await;
    assert_eq!(
        a.connect("x", login, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    a.subscribe("t/#").await;
    until("one bridged connection", || b.bridged() == 1).await;
    drop(a);
    until("the router told", || b.bridged() == 0).await;
    let mut a = plain(&b).await;
    assert_eq!(
        a.connect("x", login, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    a.subscribe("t/#").await;
    b.publish("t/1", "once").unwrap();
    assert_eq!(a.next_publish().await, ("t/1".into(), "once".into()));
    // The same client id again while it is connected: the older connection is closed.
    let mut c = plain(&b).await;
    assert_eq!(
        c.connect("x", login, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    assert!(a.recv().await.is_none(), "the older connection is closed");
    until("only the newer connection", || b.bridged() == 1).await;
    c.subscribe("t/#").await;
    b.publish("t/2", "new").unwrap();
    assert_eq!(c.next_publish().await, ("t/2".into(), "new".into()));
    // A DISCONNECT ends it too.
    c.send(Packet::Disconnect(
        rumqttd::protocol::Disconnect {
            reason_code: rumqttd::protocol::DisconnectReasonCode::NormalDisconnection,
        },
        None,
    ))
    .await;
    until("none after DISCONNECT", || b.bridged() == 0).await;
}

#[tokio::test]
async fn an_unreachable_broker_cuts_and_refuses_tls_connections() {
    let b = start();
    let mut dev = tls(&b, true).await.unwrap();
    assert_eq!(
        dev.connect(SERIAL, None, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    let mut installer = plain(&b).await;
    let login = Some((OWN_BROKER_USER, OWN_BROKER_PASSWORD));
    assert_eq!(
        installer.connect("installer-1", login, 30, true).await,
        Some(ConnectReturnCode::Success)
    );
    b.set_reachable(false);
    assert!(dev.recv().await.is_none(), "cut");
    until("the router told", || b.bridged() == 1).await;
    assert!(
        tls(&b, true).await.is_err(),
        "new TLS connections are closed"
    );
    // The plain listener is not affected.
    installer.subscribe("t/#").await;
    b.set_reachable(true);
    let mut dev = tls(&b, true).await.unwrap();
    assert_eq!(
        dev.connect(SERIAL, None, 30, true).await,
        Some(ConnectReturnCode::Success),
        "reachable again"
    );
}

#[tokio::test]
async fn a_silent_client_is_closed_after_one_and_a_half_keep_alives() {
    let b = start();
    let mut c = plain(&b).await;
    let login = Some((OWN_BROKER_USER, OWN_BROKER_PASSWORD));
    assert_eq!(
        c.connect("quiet", login, 1, true).await,
        Some(ConnectReturnCode::Success)
    );
    let t0 = std::time::Instant::now();
    assert!(c.recv().await.is_none(), "closed");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn the_will_is_published_when_a_connection_is_lost_not_after_a_disconnect() {
    let b = start();
    let mut wills = b.subscribe("status/#").await.unwrap();
    let login = Some(rumqttd::protocol::Login {
        username: OWN_BROKER_USER.into(),
        password: OWN_BROKER_PASSWORD.into(),
    });
    for (id, disconnect) in [("clean", true), ("lost", false)] {
        let mut c = plain(&b).await;
        let connect = rumqttd::protocol::Connect {
            keep_alive: 30,
            client_id: id.into(),
            clean_session: true,
        };
        let will = rumqttd::protocol::LastWill {
            topic: format!("status/{id}").into(),
            message: "offline".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
        };
        c.send(Packet::Connect(
            connect,
            None,
            Some(will),
            None,
            login.clone(),
        ))
        .await;
        assert!(matches!(c.recv().await, Some(Packet::ConnAck(..))));
        if disconnect {
            c.send(Packet::Disconnect(
                rumqttd::protocol::Disconnect {
                    reason_code: rumqttd::protocol::DisconnectReasonCode::NormalDisconnection,
                },
                None,
            ))
            .await;
        }
        drop(c);
        until("the router told", || b.bridged() == 0).await;
    }
    let m = tokio::time::timeout(WAIT, wills.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("status/lost", &b"offline"[..])
    );
    assert!(wills.try_recv().is_err(), "no will after a DISCONNECT");
}
