//! Modbus TCP server serving the host's current register snapshot. One client at a time: a
//! second connection is closed at once and the first keeps working (MB-02, MB-10); a client
//! without a complete request for 60 s of device time is dropped so a dead charger cannot
//! hold the slot; any unit id is answered (MB-03); FC 3 and 4 read the same map (MB-04);
//! other function codes, addresses and quantities get the MB-09 exceptions.
//!
//! Hostile clients: only complete, valid frames count as activity; a header that is not
//! Modbus TCP (protocol id ≠ 0, length > 254) closes that connection at once, and so does a
//! partial frame older than `mbap::PARTIAL_MS` (slow loris). The accept loop survives every
//! accept error (logged once, backs off, keeps listening) and keeps one spare descriptor so
//! a charger can still connect when other listeners have used up the process's descriptors.
//!
//! Files: `mbap.rs` (framing, pure), `service.rs` (request → response PDU), `slot.rs` (the
//! single client slot: the tokio side of the pure rule in `device::modbus_slot`), `conn.rs`
//! (one connection), this file (the listener). `ModbusOptions` says how: which service
//! answers, the idle timeout, one client or many (both handed to the rule as `SlotRules`).

mod conn;
pub mod mbap;
mod service;
mod slot;

pub use mbap::{FrameError, PARTIAL_MS};
pub use service::{exception, response, DeviceService, MalformedPdu, Service};

use super::accept::{accept_forever, Spare};
use super::host::Host;
use super::net::{Listener, Stream};
use crate::sim::clock::Millis;
use slot::Slot;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A client that sends no complete request for this long is disconnected (MB-10).
pub const IDLE_MS: Millis = crate::device::modbus_slot::IDLE_LIMIT.as_ms();

/// How a Modbus server serves; `Default` is the device's way (MB-02, MB-10).
#[derive(Clone)]
pub struct ModbusOptions {
    /// What answers the reads (`DeviceService`: the register map).
    pub service: Arc<dyn Service>,
    /// A client without a complete request for this long is dropped (`IDLE_MS`).
    pub idle_ms: Millis,
    /// One client at a time (`true`, MB-02); `false` serves every client that connects.
    pub single_client: bool,
}

impl Default for ModbusOptions {
    fn default() -> Self {
        ModbusOptions {
            service: Arc::new(DeviceService),
            idle_ms: IDLE_MS,
            single_client: true,
        }
    }
}

impl std::fmt::Debug for ModbusOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModbusOptions")
            .field("idle_ms", &self.idle_ms)
            .field("single_client", &self.single_client)
            .finish_non_exhaustive()
    }
}

/// A running Modbus server; stops when dropped.
#[derive(Debug)]
pub struct ModbusServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ModbusServer {
    /// Serve `host` on `listener` (bind port 0 in tests) the device's way (with the
    /// `defects` feature: as the device's planted defects say).
    pub fn start(host: Arc<Host>, listener: impl Into<Listener>) -> io::Result<Self> {
        let options = ModbusOptions::default();
        #[cfg(feature = "defects")]
        let options = crate::defects::modbus::options(&host, options);
        Self::start_with(host, listener, options)
    }

    /// Serve `host` on `listener` as `options` say.
    pub fn start_with(
        host: Arc<Host>,
        listener: impl Into<Listener>,
        options: ModbusOptions,
    ) -> io::Result<Self> {
        let listener: Listener = listener.into();
        let addr = listener.local_addr()?;
        let slot = Arc::new(Slot::new(options.single_client, options.idle_ms));
        let task = tokio::spawn(accept_loop(listener, host, Arc::new(options), slot));
        Ok(ModbusServer { addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ModbusServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accept until aborted (`accept_forever`: errors backed off, a spare descriptor for when
/// the process runs out); each client is admitted or closed at once.
async fn accept_loop(
    listener: Listener,
    host: Arc<Host>,
    options: Arc<ModbusOptions>,
    slot: Arc<Slot>,
) {
    accept_forever(listener, "modbus", Spare::Held, |stream, peer| {
        let (host, options, slot) = (Arc::clone(&host), Arc::clone(&options), Arc::clone(&slot));
        async move { admit(&host, &options, &slot, stream, peer).await }
    })
    .await
}

/// Give the connection the slot (returns its task), or close it at once (device not
/// serving, or another client holds the slot).
async fn admit(
    host: &Arc<Host>,
    options: &ModbusOptions,
    slot: &Arc<Slot>,
    stream: Stream,
    peer: SocketAddr,
) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    let served = host.served();
    if !served.serving {
        tracing::info!("modbus: {peer} refused, device not serving");
        return None;
    }
    // A client that has just closed may not have been seen yet by its connection task:
    // give it a few turns before calling the slot busy.
    for _ in 0..8 {
        if !slot.busy(host.now()) {
            break;
        }
        tokio::task::yield_now().await;
    }
    let Some(held) = slot.take(host.now()) else {
        tracing::info!("modbus: {peer} refused, another client is connected (MB-02)");
        return None;
    };
    tracing::info!("modbus: {peer} connected");
    Some(conn::serve(
        Arc::clone(host),
        Arc::clone(&options.service),
        held,
        stream,
        peer,
        served.generation,
    ))
}
