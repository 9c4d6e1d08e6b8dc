//! The remote meter line: the harness's end of the wire to the device's meter input — a TCP
//! connection to a serial bridge, a listening socket a simulator's feed connects to, or a
//! serial port. Counts the bytes written on the current connection so a rig can tell when
//! they have all arrived.

use super::super::TargetError;
use super::config::Feed;
use crate::device::Variant;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

type Wire = Box<dyn AsyncWrite + Send + Unpin>;

/// The harness's end of the meter line.
pub struct MeterLine {
    feed: Feed,
    variant: Variant,
    listener: Option<TcpListener>,
    wire: Option<Wire>,
    /// Bytes written on the current connection.
    written: u64,
}

impl std::fmt::Debug for MeterLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterLine")
            .field("feed", &self.feed)
            .field("connected", &self.wire.is_some())
            .field("written", &self.written)
            .finish()
    }
}

/// Listen at `addr`; a port still held for a moment (a closing connection) is tried again
/// for up to 3 s.
async fn listen(addr: &str) -> Result<TcpListener, TargetError> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 30 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(TargetError(format!(
                    "meter feed: cannot listen on {addr}: {e}"
                )))
            }
        }
    }
}

/// How long to wait for the device side of a listening feed to connect.
const ACCEPT: Duration = Duration::from_secs(30);

impl MeterLine {
    /// Prepare the line; a listening feed binds now, so the device side can connect early.
    pub async fn new(feed: Feed, variant: Variant) -> Result<Self, TargetError> {
        let listener = match &feed.listen {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        Ok(MeterLine {
            feed,
            variant,
            listener,
            wire: None,
            written: 0,
        })
    }

    /// Bytes written on the current connection.
    pub fn written(&self) -> u64 {
        self.written
    }

    async fn connect(&mut self) -> Result<(), TargetError> {
        let wire: Wire = if let Some(l) = &self.listener {
            let addr = self.feed.listen.clone().unwrap_or_default();
            let (s, peer) = tokio::time::timeout(ACCEPT, l.accept())
                .await
                .map_err(|_| {
                    TargetError(format!(
                        "meter feed: nothing connected to {addr} within {} s (start the device side, e.g. `smart-connect-sim run --feed tcp:{addr}`)",
                        ACCEPT.as_secs()
                    ))
                })?
                .map_err(|e| TargetError(format!("meter feed {addr}: {e}")))?;
            s.set_nodelay(true).ok();
            tracing::info!("meter feed: {peer} connected to {addr}");
            Box::new(s)
        } else if let Some(addr) = &self.feed.tcp {
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| TargetError(format!("meter feed: cannot connect to {addr}: {e}")))?;
            s.set_nodelay(true).ok();
            Box::new(s)
        } else if let Some(path) = &self.feed.serial {
            Box::new(self.open_serial(path)?)
        } else {
            return Err(TargetError("meter feed: none configured".into()));
        };
        self.wire = Some(wire);
        self.written = 0;
        Ok(())
    }

    fn open_serial(&self, path: &str) -> Result<tokio_serial::SerialStream, TargetError> {
        use tokio_serial::{DataBits, Parity, SerialPortBuilderExt};
        let (baud, bits, parity) = match self.variant {
            Variant::P1 => (115_200, DataBits::Eight, Parity::None),
            Variant::Tic => (9_600, DataBits::Seven, Parity::Even),
        };
        tokio_serial::new(path, self.feed.baud.unwrap_or(baud))
            .data_bits(bits)
            .parity(parity)
            .open_native_async()
            .map_err(|e| TargetError(format!("meter feed: serial port {path}: {e}")))
    }

    /// Put bytes on the line (connecting first if needed; one retry on a new connection
    /// when the old one broke before anything was written on it).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        if self.wire.is_none() {
            self.connect().await?;
        }
        let wire = self.wire.as_mut().expect("connected above");
        let written = async {
            wire.write_all(bytes).await?;
            wire.flush().await
        };
        match written.await {
            Ok(()) => {
                self.written += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.wire = None;
                Err(TargetError(format!(
                    "meter feed: the connection broke after {} bytes: {e}",
                    self.written
                )))
            }
        }
    }

    /// Make sure the line is connected (a scenario starts on a live line).
    pub async fn ensure(&mut self) -> Result<(), TargetError> {
        if self.wire.is_none() {
            self.connect().await?;
        }
        Ok(())
    }
}
