//! The remote meter line: the harness's end of the wire to the device's meter input — a TCP
//! connection to a serial bridge, a listening socket a simulator's feed connects to, or a
//! serial port. Counts the bytes written on the current connection so a rig can tell when
//! they have all arrived.

use super::super::TargetError;
use super::config::Feed;
use crate::device::Variant;
use crate::protocol::MeterKind;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

type Wire = Box<dyn AsyncWrite + Send + Unpin>;

/// The harness's end of the meter line.
pub struct MeterLine {
    feed: Feed,
    variant: Variant,
    /// The meters the bench presents (the serial line settings follow them).
    meters: Option<Vec<MeterKind>>,
    listener: Option<TcpListener>,
    /// How long to wait for the device side of a listening feed to connect.
    accept: Duration,
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
                return Err(TargetError::bench(format!(
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
    pub async fn new(
        feed: Feed,
        variant: Variant,
        meters: Option<Vec<MeterKind>>,
    ) -> Result<Self, TargetError> {
        let listener = match &feed.listen {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        Ok(MeterLine {
            feed,
            variant,
            meters,
            listener,
            accept: ACCEPT,
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
            let (s, peer) = tokio::time::timeout(self.accept, l.accept())
                .await
                .map_err(|_| {
                    TargetError::bench(format!(
                        "meter feed: nothing connected to {addr} within {} s (start the device side, e.g. `smart-connect-sim run --feed tcp:{addr}`)",
                        self.accept.as_secs_f32()
                    ))
                })?
                .map_err(|e| TargetError::bench(format!("meter feed {addr}: {e}")))?;
            s.set_nodelay(true).ok();
            tracing::info!("meter feed: {peer} connected to {addr}");
            Box::new(s)
        } else if let Some(addr) = &self.feed.tcp {
            let s = tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                TargetError::bench(format!("meter feed: cannot connect to {addr}: {e}"))
            })?;
            s.set_nodelay(true).ok();
            Box::new(s)
        } else if let Some(path) = &self.feed.serial {
            Box::new(self.open_serial(path)?)
        } else {
            return Err(TargetError::bench("meter feed: none configured"));
        };
        self.wire = Some(wire);
        self.written = 0;
        Ok(())
    }

    /// The meter kind whose line settings the serial port takes: the first wired meter of
    /// the variant, else SMR 5 (115200 8N1) or a standard-mode Linky (9600 7E1).
    fn line_kind(&self) -> MeterKind {
        let default = match self.variant {
            Variant::P1 => MeterKind::Dsmr(crate::protocol::dsmr::DsmrKind::Smr5ThreePhase),
            Variant::Tic => MeterKind::Tic(crate::protocol::tic::TicKind::StandardMono),
        };
        self.meters
            .iter()
            .flatten()
            .copied()
            .find(|k| {
                matches!(
                    (k, self.variant),
                    (MeterKind::Dsmr(_), Variant::P1) | (MeterKind::Tic(_), Variant::Tic)
                )
            })
            .unwrap_or(default)
    }

    fn open_serial(&self, path: &str) -> Result<tokio_serial::SerialStream, TargetError> {
        use tokio_serial::SerialPortBuilderExt;
        let (baud, bits, parity) = crate::adapters::runner::serial_settings(self.line_kind());
        tokio_serial::new(path, self.feed.baud.unwrap_or(baud))
            .data_bits(bits)
            .parity(parity)
            .open_native_async()
            .map_err(|e| TargetError::bench(format!("meter feed: serial port {path}: {e}")))
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
                Err(TargetError::bench(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_serial_meter_line_carries_the_bytes() {
        // A pseudo-terminal pair stands in for the USB serial adapter wired to the meter input.
        let (mut device_side, port) = tokio_serial::SerialStream::pair().expect("a pty pair");
        let path = tokio_serial::SerialPort::name(&port).expect("the pty has a path");
        let feed = Feed {
            serial: Some(path),
            ..Feed::default()
        };
        let historic = MeterKind::from_name("tic-historic").unwrap();
        let mut line = MeterLine::new(feed, Variant::Tic, Some(vec![historic]))
            .await
            .unwrap();
        assert_eq!(line.line_kind(), historic);
        line.send(b"\x02\nADCO 012345678901 E\r\x03").await.unwrap();
        assert_eq!(line.written(), 23);
        let mut got = vec![0u8; 23];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            device_side.read_exact(&mut got),
        )
        .await
        .expect("the bytes arrive")
        .unwrap();
        assert_eq!(&got, b"\x02\nADCO 012345678901 E\r\x03");
        drop(port);
    }

    #[tokio::test]
    async fn a_tcp_line_connects_to_a_serial_bridge() {
        // A ser2net-style bridge: it listens, the harness connects and writes.
        let bridge = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let feed = Feed {
            tcp: Some(bridge.local_addr().unwrap().to_string()),
            ..Feed::default()
        };
        let mut line = MeterLine::new(feed, Variant::P1, None).await.unwrap();
        let (accepted, sent) = tokio::join!(bridge.accept(), line.send(b"/ISK5\\2M550T\r\n"));
        sent.unwrap();
        let mut got = vec![0u8; 14];
        accepted.unwrap().0.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"/ISK5\\2M550T\r\n");
        assert_eq!(line.written(), 14);
    }

    #[tokio::test]
    async fn a_listening_line_says_who_should_connect() {
        let feed = Feed {
            listen: Some("127.0.0.1:0".into()),
            ..Feed::default()
        };
        let mut line = MeterLine::new(feed, Variant::P1, None).await.unwrap();
        assert_eq!(line.line_kind().name(), "smr5");
        // Nothing connects: the error names the address and the command that would.
        line.accept = std::time::Duration::from_millis(50);
        let e = line.send(b"x").await.unwrap_err();
        assert!(e.0.contains("run --feed tcp:127.0.0.1:0"), "{e}");
    }
}
