//! One connection attempt: the rumqttc options and event loop task, putting back what a lost
//! connection had not written, and a connection failure in words a user can act on.

use super::{
    tls, Active, Conn, Kind, MqttOptions, Plan, ATTEMPTS_KEPT, CLIENT_CHANNEL, CONTROL_QUEUE,
    MAX_PACKET,
};
use crate::sim::clock::Millis;
use rumqttc::{
    AsyncClient, ConnectionError, EventLoop, NetworkOptions, TlsConfiguration, Transport,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

impl Active {
    /// Start a connection attempt now.
    pub(super) fn connect(&mut self, opts: &MqttOptions, now: Millis) {
        let Ok(plan) = self.plan.as_ref() else { return };
        self.attempts += 1;
        self.attempt_times.push_back(now);
        if self.attempt_times.len() > ATTEMPTS_KEPT {
            self.attempt_times.pop_front();
        }
        self.next_attempt_at = None;
        let mut o = rumqttc::MqttOptions::new(
            self.serial.clone(),
            plan.addr.ip().to_string(),
            plan.addr.port(),
        );
        o.set_keep_alive(Duration::from_secs(u64::from(opts.keep_alive_s.max(1))));
        o.set_clean_session(true);
        o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if !plan.username.is_empty() {
            o.set_credentials(plan.username.clone(), plan.password.clone());
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
        tracing::info!(
            "mqtt: connecting to {}:{} at {} as {}",
            plan.url.host,
            plan.url.port,
            plan.addr,
            self.serial
        );
        self.conn = Some(Conn {
            client,
            events,
            task,
            connected: false,
            subscribed: false,
        });
    }

    /// Messages handed to a connection that is gone go back to the queues, oldest first
    /// (discovery configs are sent afresh at every connect).
    pub(super) fn requeue(&mut self) {
        while let Some(m) = self.handed.pop_back() {
            match m.kind {
                Kind::Measurement => {
                    self.queue.push_front(m);
                }
                Kind::Event if self.control.len() < CONTROL_QUEUE => self.control.push_front(m),
                Kind::Event | Kind::Discovery => {}
            }
        }
        self.control.retain(|m| m.kind != Kind::Discovery);
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
