//! One connection attempt: the rumqttc options and event loop task (`Net::Tcp`) or the
//! in-memory client's task (`Net::Mem`, `mem_client.rs`), the handle the manager sends
//! requests through, and a connection failure in words a user can act on.

use super::mem_client::{self, MemClient};
use super::{tls, Conn, MqttOptions, Plan, CLIENT_CHANNEL, MAX_PACKET};
use crate::adapters::net::Net;
use crate::device::mqtt_link::ConnectPlan;
use rumqttc::{
    AsyncClient, ClientError, ConnectionError, EventLoop, NetworkOptions, QoS, TlsConfiguration,
    Transport,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The manager's handle on one connection: rumqttc's client, or the in-memory client's.
#[derive(Debug, Clone)]
pub(super) enum Client {
    Rumqttc(AsyncClient),
    Mem(MemClient),
}

impl Client {
    /// Queue a PUBLISH without waiting; `Err` when full or the connection has ended.
    pub(super) fn try_publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        match self {
            Client::Rumqttc(c) => c.try_publish(topic, qos, retain, payload),
            Client::Mem(c) => c.try_publish(topic, qos, retain, payload),
        }
    }

    /// Queue a SUBSCRIBE without waiting; `Err` when full or the connection has ended.
    pub(super) fn try_subscribe(&self, filter: String, qos: QoS) -> Result<(), ClientError> {
        match self {
            Client::Rumqttc(c) => c.try_subscribe(filter, qos),
            Client::Mem(c) => c.try_subscribe(filter, qos),
        }
    }
}

/// Start a connection attempt now: the machine's plan (client id, credentials) over this
/// boot's transport (address, TLS configuration), on the options' network.
pub(super) fn connect(plan: &Plan, cp: &ConnectPlan, opts: &MqttOptions) -> Conn {
    if let Net::Mem(_) = &opts.net {
        let net = opts.net.clone();
        let addr = plan.addr;
        let dial: mem_client::Dial = Box::pin(async move { net.connect(addr).await });
        let (client, events, task) =
            mem_client::start(dial, mem_client::Settings::new(plan, cp, opts));
        return Conn {
            client: Client::Mem(client),
            events,
            task,
            connected: false,
            subscribed: false,
        };
    }
    let mut o = rumqttc::MqttOptions::new(
        cp.client_id.clone(),
        plan.addr.ip().to_string(),
        plan.addr.port(),
    );
    o.set_keep_alive(Duration::from_secs(u64::from(opts.keep_alive_s.max(1))));
    o.set_clean_session(true);
    o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    if !cp.username.is_empty() {
        o.set_credentials(cp.username.clone(), cp.password.clone());
    }
    if let Some(tls) = &plan.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::clone(tls),
        )));
    }
    let (client, mut eventloop) = AsyncClient::new(o, CLIENT_CHANNEL);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(opts.connect_timeout_s.max(1));
    eventloop.set_network_options(net);
    let (tx, events) = mpsc::channel(256);
    let task = tokio::spawn(drive(eventloop, tx));
    Conn {
        client: Client::Rumqttc(client),
        events,
        task,
        connected: false,
        subscribed: false,
    }
}

/// Poll one connection until it fails; forward everything to the manager.
async fn drive(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Result<rumqttc::Event, ConnectionError>>,
) {
    loop {
        let r = eventloop.poll().await;
        let failed = r.is_err();
        if tx.send(r).await.is_err() || failed {
            return;
        }
    }
}

/// A connection failure in words a user can act on (for `MqttLink.error`).
pub(super) fn describe(e: &ConnectionError, plan: Option<&Plan>, was_connected: bool) -> String {
    let target = plan.map_or_else(String::new, |p| {
        format!("{}:{} ({})", p.url.host, p.url.port, p.addr)
    });
    if let Some(t) = find_rustls(e) {
        return tls::describe(t);
    }
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker {target} refused the connection: {code:?}")
        }
        ConnectionError::NetworkTimeout => format!("no answer from the broker {target} in time"),
        ConnectionError::FlushTimeout => format!("the broker {target} stopped reading"),
        _ if was_connected => format!("lost the connection to the broker {target}: {e}"),
        _ => match find_io(e).map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                format!("cannot connect to the broker {target}: connection refused")
            }
            Some(
                std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof,
            )
            | None
                if closed_early(e) || find_io(e).is_some() =>
            {
                let creds = plan.is_some_and(|p| !p.username.is_empty());
                format!(
                    "the broker {target} closed the connection before accepting it ({})",
                    if creds {
                        "username or password refused?"
                    } else {
                        "certificate or client id refused, or the broker is down?"
                    }
                )
            }
            _ => format!("cannot connect to the broker {target}: {e}"),
        },
    }
}

/// rumqttc's way of saying the broker hung up (before or after CONNECT).
fn closed_early(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::MqttState(rumqttc::StateError::ConnectionAborted)
    )
}

fn find_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
        }
        cur = c.source();
    }
    None
}

fn find_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = c.source();
    }
    None
}
