//! The P1 ext output of a remote device as a bench reads it: a serial port on the second RJ12
//! (115200 8N1, as the meter input it copies) or a serial-to-TCP bridge. A reader task keeps
//! every byte that comes out; a step takes what arrived since the last time.

use super::super::TargetError;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;

/// `p1_ext:` in the target file: exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P1ExtSource {
    /// A serial port wired to the P1 ext output.
    #[serde(default)]
    pub serial: Option<String>,
    /// A serial-to-TCP bridge (`HOST:PORT`) in front of that port.
    #[serde(default)]
    pub tcp: Option<String>,
}

/// What came out of P1 ext, collected by a background reader.
#[derive(Debug, Clone, Default)]
pub struct P1ExtTap {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Why the reader stopped, if it did.
    failure: Arc<Mutex<Option<String>>>,
}

impl P1ExtTap {
    /// Open the source and start reading it.
    pub async fn open(src: &P1ExtSource) -> Result<Self, TargetError> {
        let tap = P1ExtTap::default();
        let reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match (&src.serial, &src.tcp) {
            (Some(path), None) => {
                use tokio_serial::SerialPortBuilderExt;
                // P1 ext repeats the P1 input: the line settings of a DSMR meter.
                let smr5 = crate::protocol::MeterKind::Dsmr(
                    crate::protocol::dsmr::DsmrKind::Smr5ThreePhase,
                );
                let (baud, bits, parity) = crate::adapters::runner::serial_settings(smr5);
                Box::new(
                    tokio_serial::new(path, baud)
                        .data_bits(bits)
                        .parity(parity)
                        .open_native_async()
                        .map_err(|e| {
                            TargetError::bench(format!("p1_ext: serial port {path}: {e}"))
                        })?,
                )
            }
            (None, Some(addr)) => {
                Box::new(tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                    TargetError::bench(format!("p1_ext: cannot connect to {addr}: {e}"))
                })?)
            }
            _ => {
                return Err(TargetError::bench(
                    "p1_ext: give exactly one of `serial` or `tcp`",
                ))
            }
        };
        let t = tap.clone();
        tokio::spawn(async move {
            let mut reader = reader;
            let mut buf = vec![0u8; 4096];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) => {
                        *t.failure.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some("the P1 ext line closed".into());
                        return;
                    }
                    Ok(n) => t
                        .bytes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]),
                    Err(e) => {
                        *t.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        return;
                    }
                }
            }
        });
        Ok(tap)
    }

    /// The bytes that came out since the last call.
    pub fn take(&self) -> Result<Vec<u8>, TargetError> {
        let bytes = std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|p| p.into_inner()));
        match &*self.failure.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(why) if bytes.is_empty() => Err(TargetError::bench(format!("p1_ext: {why}"))),
            _ => Ok(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_tap_keeps_what_came_out_until_taken() {
        let bridge = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let src = P1ExtSource {
            tcp: Some(bridge.local_addr().unwrap().to_string()),
            ..P1ExtSource::default()
        };
        let (tap, accepted) = tokio::join!(P1ExtTap::open(&src), bridge.accept());
        let tap = tap.unwrap();
        let mut port = accepted.unwrap().0;
        port.write_all(b"/ISK5\\2M550T\r\n").await.unwrap();
        let mut got = Vec::new();
        for _ in 0..200 {
            got.extend(tap.take().unwrap());
            if got.len() >= 14 {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(got, b"/ISK5\\2M550T\r\n");
        assert!(tap.take().unwrap().is_empty());
        drop(port);
        let e = P1ExtTap::open(&P1ExtSource::default()).await.unwrap_err();
        assert!(e.0.contains("exactly one"), "{e}");
    }
}
