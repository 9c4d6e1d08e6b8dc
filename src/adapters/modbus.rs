//! Modbus TCP server on tokio-modbus, serving the host's current register snapshot.
//! One client at a time: a second connection is closed at once and the first keeps working
//! (MB-02, MB-10); a client silent for 60 s of device time is dropped so a dead charger
//! cannot hold the slot; any unit id is answered (MB-03); FC 3 and 4 read the same map
//! (MB-04); other function codes, addresses and quantities get the MB-09 exceptions. A
//! malformed frame closes that connection only; the server keeps serving the next client.
//! The planted Modbus defects (`device::defect`) are read once at start.

use super::host::Host;
use crate::device::defect::{Defect, Defects};
use crate::device::registers::Exception;
use crate::sim::clock::Millis;
use std::future::{ready, Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::tcp::Server;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A client that sends nothing for this long is disconnected (MB-10).
pub const IDLE_MS: Millis = 60_000;

/// A running Modbus server; stops when dropped.
#[derive(Debug)]
pub struct ModbusServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ModbusServer {
    /// Serve `host` on `listener` (bind port 0 in tests).
    pub fn start(host: Arc<Host>, listener: TcpListener) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let defects = Arc::new(host.with_device(|d| d.hardware().defects.clone()));
        let idle_ms = match defects.contains(&Defect::ModbusNoIdleTimeout) {
            true => Millis::MAX / 4,
            false => IDLE_MS,
        };
        let slot = Arc::new(Slot::new(idle_ms));
        let task = tokio::spawn(async move {
            let server = Server::new(listener);
            let on_connected = |stream: TcpStream, peer: SocketAddr| {
                let host = Arc::clone(&host);
                let defects = Arc::clone(&defects);
                // `modbus-second-client-accepted`: every connection gets a slot of its own.
                let slot = match defects.contains(&Defect::ModbusSecondClientAccepted) {
                    true => Arc::new(Slot::new(idle_ms)),
                    false => Arc::clone(&slot),
                };
                async move {
                    // A client that has just closed may not have been seen yet by its
                    // connection task: give it a few turns before calling the slot busy.
                    for _ in 0..8 {
                        if !slot.busy(host.now()) {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                    Ok(connect(host, slot, defects, stream, peer))
                }
            };
            let on_error = |e: io::Error| tracing::debug!("modbus connection closed: {e}");
            if let Err(e) = server.serve(&on_connected, on_error).await {
                tracing::warn!("modbus server stopped: {e}");
            }
        });
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

/// The single client slot (MB-02): who holds it and when they last sent something.
struct Slot {
    holder: std::sync::Mutex<Option<Holder>>,
    next_id: std::sync::atomic::AtomicU64,
    /// A holder silent this long loses the slot (`IDLE_MS`, MB-10).
    idle_ms: Millis,
}

struct Holder {
    id: u64,
    last: Arc<AtomicI64>,
    stop: CancellationToken,
}

impl Slot {
    fn new(idle_ms: Millis) -> Self {
        Slot {
            holder: Default::default(),
            next_id: Default::default(),
            idle_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Holder>> {
        self.holder.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Held by a client that is not idle past `IDLE_MS` at device time `now`.
    fn busy(&self, now: Millis) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|h| now - h.last.load(Ordering::SeqCst) < self.idle_ms)
    }

    /// Take the slot: a holder idle for `IDLE_MS` is dropped first (MB-10). `None` if busy.
    fn take(&self, now: Millis) -> Option<(u64, Arc<AtomicI64>, CancellationToken)> {
        let mut h = self.lock();
        if let Some(old) = h.as_ref() {
            if now - old.last.load(Ordering::SeqCst) < self.idle_ms {
                return None;
            }
            old.stop.cancel();
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let last = Arc::new(AtomicI64::new(now));
        let stop = CancellationToken::new();
        *h = Some(Holder {
            id,
            last: Arc::clone(&last),
            stop: stop.clone(),
        });
        Some((id, last, stop))
    }

    fn release(&self, id: u64) {
        let mut h = self.lock();
        if h.as_ref().is_some_and(|x| x.id == id) {
            *h = None;
        }
    }
}

/// Accept or refuse a connection: refused (closed at once) when the device does not serve
/// or another client holds the slot.
fn connect(
    host: Arc<Host>,
    slot: Arc<Slot>,
    defects: Arc<Defects>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(Service, Guarded)> {
    let served = host.served();
    if !served.serving {
        tracing::info!("modbus: {peer} refused, device not serving");
        return None;
    }
    let Some((id, last, stop)) = slot.take(host.now()) else {
        tracing::info!("modbus: {peer} refused, another client is connected (MB-02)");
        return None;
    };
    tracing::info!("modbus: {peer} connected");
    let _ = stream.set_nodelay(true);
    tokio::spawn(watchdog(
        Arc::clone(&host),
        Arc::clone(&last),
        stop.clone(),
        served.generation,
        slot.idle_ms,
        peer,
    ));
    let guarded = Guarded {
        stream,
        host: Arc::clone(&host),
        last,
        stopped: Box::pin(stop.clone().cancelled_owned()),
        stop,
        slot,
        id,
    };
    Some((Service { host, defects }, guarded))
}

/// Closes the connection when the client has been silent for `IDLE_MS` of device time, or
/// when the device reboots or loses power.
async fn watchdog(
    host: Arc<Host>,
    last: Arc<AtomicI64>,
    stop: CancellationToken,
    generation: u64,
    idle_ms: Millis,
    peer: SocketAddr,
) {
    let mut time = host.time();
    loop {
        let served = host.served();
        if served.generation != generation || !served.serving {
            tracing::info!("modbus: {peer} dropped, device restarted");
            break;
        }
        if *time.borrow_and_update() - last.load(Ordering::SeqCst) >= idle_ms {
            tracing::info!(
                "modbus: {peer} dropped after {} s without a request (MB-10)",
                IDLE_MS / 1000
            );
            break;
        }
        tokio::select! {
            changed = time.changed() => if changed.is_err() { break },
            () = stop.cancelled() => return,
        }
    }
    stop.cancel();
}

/// The connection's stream: notes activity, reads end when the watchdog stops it or the
/// client has been idle too long, and the single client slot is released when the
/// connection goes away.
struct Guarded {
    stream: TcpStream,
    host: Arc<Host>,
    last: Arc<AtomicI64>,
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
    stop: CancellationToken,
    slot: Arc<Slot>,
    id: u64,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop.cancel();
        self.slot.release(self.id);
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Whatever the watchdog has or has not seen yet: an expired client is not answered.
        if self.host.now() - self.last.load(Ordering::SeqCst) >= self.slot.idle_ms {
            self.stop.cancel();
        }
        if self.stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(())); // end of stream: the server closes the connection
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.host.now();
            self.last.store(now, Ordering::SeqCst);
        }
        res
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Answers requests from the host's current snapshot (never waits for the device).
struct Service {
    host: Arc<Host>,
    /// Planted bugs of the register answers (`Template::read_with`).
    defects: Arc<Defects>,
}

impl tokio_modbus::server::Service for Service {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let served = self.host.served();
        let unit = req.slave;
        let read = |fc: u8, addr: u16, qty: u16| {
            served
                .template
                .read_with(&served.values, unit, fc, (addr, qty), &self.defects)
                .map_err(exception)
        };
        ready(match req.request {
            Request::ReadHoldingRegisters(addr, qty) => {
                read(3, addr, qty).map(Response::ReadHoldingRegisters)
            }
            Request::ReadInputRegisters(addr, qty) => {
                read(4, addr, qty).map(Response::ReadInputRegisters)
            }
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

fn exception(e: Exception) -> ExceptionCode {
    match e {
        Exception::IllegalFunction => ExceptionCode::IllegalFunction,
        Exception::IllegalDataAddress => ExceptionCode::IllegalDataAddress,
        Exception::IllegalDataValue => ExceptionCode::IllegalDataValue,
        Exception::GatewayTargetFailed => ExceptionCode::GatewayTargetDevice,
    }
}
