//! The EV set-point as a Modbus TCP holding register on the *control* port
//! (`run --control-modbus`, default 127.0.0.1:5021), so a charger under test — or its test
//! script — writes its decision where it would write it to a real charger, and reads the
//! result in the device's meter registers. The device's own Modbus port stays read-only
//! (MB-09). Any unit id; up to 8 clients at once.
//!
//! | register | access | meaning |
//! |---|---|---|
//! | 0 | read/write | EV set-point, 0.1 A per phase, 0..=800 (below `ev.min_amps`, e.g. 0, pauses charging; a car that is not connected draws nothing) |
//! | 1 | read/write | EV phases: 1 or 3 |
//! | 2 | read | EV current drawn now, 0.1 A |
//! | 3 | read | EV phases now |
//! | 4 | read | main fuse rating, 0.1 A (0: no fuse model) |
//! | 5 | read | smallest fuse margin of the last telegram, 0.1 A, signed (0x8000: none) |
//! | 6 | read | fuse trips so far |
//!
//! FC 3 and 4 read, FC 6 and 16 write (16 writes 0..=1 as one change). Exceptions: 0x01 other
//! function codes, 0x02 an address outside the map or a write to a read-only register, 0x03
//! a value out of range or a bad quantity; a refused write changes nothing.

use super::Control;
use crate::adapters::accept::{accept_forever, Seat, Spare};
use crate::adapters::modbus::mbap::{self, Mbap};
use crate::adapters::net::{Listener, Stream};
use serde_json::json;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Registers 0..=LAST exist.
const LAST: u16 = 6;
/// Clients served at once.
const MAX_CLIENTS: usize = 8;

/// Serve the set-point registers on `listener` until the handle is aborted (the
/// connections end with it).
pub fn serve(ctl: Arc<Control>, listener: impl Into<Listener>) -> tokio::task::JoinHandle<()> {
    let listener: Listener = listener.into();
    let clients = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        accept_forever(listener, "control modbus", Spare::None, |stream, peer| {
            let seat = Seat::take(&clients, MAX_CLIENTS);
            let ctl = Arc::clone(&ctl);
            async move {
                let Some(seat) = seat else {
                    tracing::info!(
                        "control modbus: {peer} refused, {MAX_CLIENTS} clients connected"
                    );
                    return None;
                };
                tracing::info!("control modbus: {peer} connected");
                Some(async move {
                    match connection(&ctl, stream).await {
                        Err(e) => tracing::info!("control modbus: {peer} closed: {e}"),
                        Ok(()) => tracing::info!("control modbus: {peer} disconnected"),
                    }
                    drop(seat);
                })
            }
        })
        .await
    })
}

async fn connection(ctl: &Control, mut stream: Stream) -> std::io::Result<()> {
    let start = Instant::now();
    let ms = || start.elapsed().as_millis() as i64;
    let mut frames = Mbap::default();
    let mut buf = [0u8; 512];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) if frames.stalled(ms()) => {
                return Err(std::io::Error::other("a partial request older than 5 s"))
            }
            Err(_) => continue,
        };
        if n == 0 {
            return Ok(());
        }
        frames.push(&buf[..n], ms());
        while let Some(f) = frames
            .next_frame(ms())
            .map_err(|e| std::io::Error::other(e.to_string()))?
        {
            let pdu = answer(ctl, &f.pdu);
            stream
                .write_all(&mbap::encode(f.transaction, f.unit, &pdu))
                .await?;
        }
    }
}

fn exception(function: u8, code: u8) -> Vec<u8> {
    vec![function | 0x80, code]
}

/// The response PDU for a request PDU.
pub fn answer(ctl: &Control, pdu: &[u8]) -> Vec<u8> {
    let Some((&function, data)) = pdu.split_first() else {
        return exception(0, 0x01);
    };
    let word =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?])) };
    match function {
        3 | 4 => {
            let (Some(addr), Some(qty)) = (word(0), word(2)) else {
                return exception(function, 0x03);
            };
            if !(1..=125).contains(&qty) {
                return exception(function, 0x03);
            }
            if u32::from(addr) + u32::from(qty) - 1 > u32::from(LAST) {
                return exception(function, 0x02);
            }
            let regs = registers(ctl);
            let mut out = vec![function, (qty * 2) as u8];
            for r in &regs[usize::from(addr)..usize::from(addr + qty)] {
                out.extend_from_slice(&r.to_be_bytes());
            }
            out
        }
        6 => {
            let (Some(addr), Some(value)) = (word(0), word(2)) else {
                return exception(function, 0x03);
            };
            match write(ctl, addr, &[value]) {
                Ok(()) => pdu.to_vec(),
                Err(code) => exception(function, code),
            }
        }
        16 => {
            let (Some(addr), Some(qty)) = (word(0), word(2)) else {
                return exception(function, 0x03);
            };
            let values: Option<Vec<u16>> = (0..usize::from(qty)).map(|i| word(5 + 2 * i)).collect();
            match values {
                Some(v)
                    if !v.is_empty()
                        && v.len() <= 123
                        && data.get(4) == Some(&((qty * 2) as u8)) =>
                {
                    match write(ctl, addr, &v) {
                        Ok(()) => vec![function, data[0], data[1], data[2], data[3]],
                        Err(code) => exception(function, code),
                    }
                }
                _ => exception(function, 0x03),
            }
        }
        _ => exception(function, 0x01),
    }
}

/// The register values now.
fn registers(ctl: &Control) -> [u16; LAST as usize + 1] {
    let now = ctl.host().now();
    ctl.with_house(|h| {
        let ev = &h.house.ev;
        let (a, phases) = ev.current_at(now.max(ev.set_at));
        let fuse = &h.house.fuse;
        let deci = |x: f64| (x * 10.0).round().clamp(0.0, 65_535.0) as u16;
        let margin = fuse.margin_a().map_or(0x8000, |m| {
            ((m * 10.0).round().clamp(-32_767.0, 32_767.0) as i16) as u16
        });
        [
            if ev.set_point.on {
                deci(ev.set_point.amps)
            } else {
                0
            },
            u16::from(ev.set_point.phases),
            deci(a),
            u16::from(phases),
            fuse.rating.map_or(0, |r| deci(r.amps)),
            margin,
            fuse.kpis.trips.min(65_535) as u16,
        ]
    })
}

/// Write `values` from `addr` as one change; an exception code when refused.
fn write(ctl: &Control, addr: u16, values: &[u16]) -> Result<(), u8> {
    let end = u32::from(addr) + values.len() as u32 - 1;
    if end > 1 {
        return Err(0x02);
    }
    let mut ev = serde_json::Map::new();
    for (i, v) in values.iter().enumerate() {
        match usize::from(addr) + i {
            0 if *v <= 800 => {
                ev.insert("amps".into(), json!(f64::from(*v) / 10.0));
            }
            1 if *v == 1 || *v == 3 => {
                ev.insert("phases".into(), json!(v));
            }
            _ => return Err(0x03),
        }
    }
    ctl.change("modbus", &json!({ "ev": ev })).map_err(|_| 0x03)
}
