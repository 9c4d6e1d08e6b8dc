//! rumqttd's side: the router and listener settings, starting over TCP (the fronts' ports
//! bound once, rumqttd's picked free and retried), picking a free port, and the probe that
//! waits until a listener answers an MQTT CONNECT with a CONNACK.

use super::{connect_packet, BrokerError, BrokerOptions, EmbeddedBroker, FrontListeners};
use super::{MAX_PAYLOAD, PLAIN_WHAT, TLS_WHAT};
use crate::adapters::certs::TestPki;
use rumqttd::{ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

impl EmbeddedBroker {
    /// Over TCP: the fronts bind the requested ports themselves, once (a taken port is final).
    /// Only rumqttd's two loopback ports are picked and can lose a race (then retried).
    pub(super) fn start_tcp(
        opts: &BrokerOptions,
        pki: &Arc<TestPki>,
        tls_cfg: Arc<rustls::ServerConfig>,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let bind = |port: u16, what: &'static str| {
            let addr = std::net::SocketAddr::new(lo, port);
            std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| BrokerError::Bind { addr, what, source })
        };
        let tls_listener = bind(opts.tls_port, TLS_WHAT)?;
        let plain_listener = bind(opts.plain_port, PLAIN_WHAT)?;
        let mut last_err = String::new();
        for _ in 0..5 {
            let listeners = tls_listener
                .try_clone()
                .and_then(|t| Ok(FrontListeners::Tcp(t, plain_listener.try_clone()?)));
            let started = listeners
                .map_err(BrokerError::from)
                .and_then(|l| Self::try_start(opts, pki, Arc::clone(&tls_cfg), l));
            match started {
                Ok(b) => return Ok(b),
                Err(e) => last_err = e.to_string(),
            }
        }
        Err(BrokerError::Start(last_err))
    }
}

pub(super) fn router_config() -> RouterConfig {
    RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 200,
        max_segment_size: 1 << 20,
        max_segment_count: 4,
        ..RouterConfig::default()
    }
}

/// A rumqttd listener that takes only the accounts in `auth` (both listen on loopback, behind
/// a front); `connect_timeout`: the CONNECT deadline (the fronts forward it at once).
pub(super) fn server_settings(
    name: &str,
    listen: SocketAddr,
    auth: HashMap<String, String>,
    connect_timeout: Duration,
) -> ServerSettings {
    ServerSettings {
        name: format!("smart-connect-{name}"),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: u16::try_from(connect_timeout.as_millis()).unwrap_or(u16::MAX),
            max_payload_size: MAX_PAYLOAD,
            max_inflight_count: 100,
            auth: Some(auth),
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

pub(super) fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Connect, send a CONNECT, expect a CONNACK accepting it, close.
pub(super) fn probe(addr: SocketAddr, credentials: Option<(&str, &str)>) -> io::Result<()> {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let id = format!("sim-probe-{}", PROBES.fetch_add(1, Ordering::Relaxed));
    s.write_all(&connect_packet(&id, credentials))?;
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack)?;
    if ack[0] != 0x20 || ack[3] != 0 {
        return Err(io::Error::other(format!("unexpected CONNACK {ack:02X?}")));
    }
    // No DISCONNECT packet: rumqttd 0.20 then sends its router a second disconnect for the
    // same connection id once the socket closes, and if a new link (e.g. `subscribe`) got
    // that id in between, the new link is cut. Closing the socket disconnects once.
    Ok(())
}
