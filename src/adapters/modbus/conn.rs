//! One client connection: read, frame (`mbap`), answer (`service`), write — until the client
//! leaves, idles past the limit (MB-10), stalls mid-frame (`PARTIAL_MS`), sends something
//! that is not Modbus TCP, or the device reboots or loses power. Timeouts run on device time.

use super::mbap::{encode, Mbap};
use super::service::answer;
use super::service::Service;
use super::slot::Held;
use crate::adapters::host::Host;
use crate::adapters::net::Stream;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a connection ended (logged).
enum End {
    Closed,
    Stopped(String),
}

/// Serve `stream` while it holds the slot; the slot is released when this returns.
pub(super) async fn serve(
    host: Arc<Host>,
    service: Arc<dyn Service>,
    held: Held,
    mut stream: Stream,
    peer: SocketAddr,
    generation: u64,
) {
    let end = run(&host, service.as_ref(), &held, &mut stream, generation).await;
    // Free the slot before the client can see the close, so it can reconnect at once.
    drop(held);
    match end {
        End::Closed => tracing::info!("modbus: {peer} disconnected"),
        End::Stopped(why) => tracing::info!("modbus: {peer} dropped: {why}"),
    }
    let _ = stream.shutdown().await;
}

async fn run(
    host: &Host,
    service: &dyn Service,
    held: &Held,
    stream: &mut Stream,
    generation: u64,
) -> End {
    let mut frames = Mbap::default();
    let mut time = host.time();
    let mut buf = [0u8; 512];
    loop {
        if let Some(why) = expired(host, held, &frames, generation) {
            return End::Stopped(why);
        }
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => return End::Closed,
                Err(e) => return End::Stopped(format!("read failed: {e}")),
                Ok(n) => {
                    frames.push(&buf[..n], host.now());
                    loop {
                        // Whatever the timers have or have not seen yet: an expired client
                        // is not answered.
                        if let Some(why) = expired(host, held, &frames, generation) {
                            return End::Stopped(why);
                        }
                        let frame = match frames.next_frame(host.now()) {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(e) => return End::Stopped(format!("not Modbus TCP: {e}")),
                        };
                        if !held.active(host.now()) {
                            return End::Stopped("another client took the idle slot".into());
                        }
                        let pdu = match answer(host, service, frame.unit, &frame.pdu) {
                            Ok(pdu) => pdu,
                            Err(e) => return End::Stopped(format!("malformed request: {e}")),
                        };
                        let reply = encode(frame.transaction, frame.unit, &pdu);
                        if let Err(e) = stream.write_all(&reply).await {
                            return End::Stopped(format!("write failed: {e}"));
                        }
                    }
                }
            },
            changed = time.changed() => if changed.is_err() {
                return End::Stopped("device stopped".into());
            },
            () = held.stop.cancelled() => return End::Stopped("another client took the idle slot".into()),
        }
    }
}

/// Why the connection must end now, if it must.
fn expired(host: &Host, held: &Held, frames: &Mbap, generation: u64) -> Option<String> {
    let served = host.served();
    if served.generation != generation || !served.serving {
        return Some("device restarted".into());
    }
    let now = host.now();
    if held.idle(now) {
        return Some(format!(
            "{} s without a request (MB-10)",
            held.idle_limit().as_secs()
        ));
    }
    if frames.stalled(now) {
        return Some(format!(
            "a request still incomplete {} s after its first byte",
            super::mbap::PARTIAL_MS / 1000
        ));
    }
    None
}
