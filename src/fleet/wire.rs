//! The fleet device's MQTT 3.1.1 wire, as small as a device needs: dial (TCP, then TLS with
//! the device's own rustls configuration), CONNECT/CONNACK, and packets in and out with
//! rumqttc's codec (`mqttbytes::v4`). One connection is one byte stream and one small read
//! buffer; the device task (`fleet::device`) drives it. No channels, no per-connection task:
//! ten thousand of these share one tokio runtime.

use rumqttc::mqttbytes::{self, v4::*};
use rustls::pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::bytes::BytesMut;

/// The largest packet accepted from the broker (commands are small).
pub const MAX_PACKET: usize = 64 * 1024;

/// A connected byte stream: plain TCP or TLS over it.
pub trait Wire: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Wire for T {}

/// The stream of one connection.
pub type Stream = Pin<Box<dyn Wire>>;

/// Why a connection could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("TCP connect to {addr}: {source}")]
    Dial { addr: SocketAddr, source: io::Error },
    #[error("TLS handshake: {0}")]
    Tls(io::Error),
    #[error("broker refused the CONNECT: {0:?}")]
    Refused(ConnectReturnCode),
    #[error("broker answered the CONNECT with {0}")]
    NotConnAck(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the broker closed the connection")]
    Closed,
    #[error("read/write: {0}")]
    Io(io::Error),
    #[error("MQTT packet: {0}")]
    Codec(String),
}

impl WireError {
    /// The failure without what varies per device (addresses), for counting.
    pub fn kind(&self) -> String {
        match self {
            WireError::Dial { source, .. } => format!("TCP connect: {source}"),
            e if e.is_clock() => "TLS handshake: the broker certificate is not valid at the \
                                  device's clock (MQ-06: set the clock)"
                .to_string(),
            other => other.to_string(),
        }
    }

    /// The TLS failure was the device rejecting the broker certificate's validity by its
    /// own clock (MQ-06).
    pub fn is_clock(&self) -> bool {
        match self {
            WireError::Tls(e) => matches!(
                e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidYet
                        | rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. }
                        | rustls::CertificateError::NotValidYetContext { .. }
                ))
            ),
            _ => false,
        }
    }
}

/// What a connection is made with.
#[derive(Clone)]
pub struct Dialer {
    pub addr: SocketAddr,
    /// TLS settings and the name the broker certificate is checked for (`None`: plain).
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub client_id: String,
    pub login: Option<(String, String)>,
    pub keep_alive_s: u16,
}

/// Dial, secure and log in; returns the stream and its read buffer.
pub async fn connect(d: &Dialer) -> Result<(Stream, BytesMut), WireError> {
    let tcp = TcpStream::connect(d.addr)
        .await
        .map_err(|source| WireError::Dial {
            addr: d.addr,
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Stream = match &d.tls {
        None => Box::pin(tcp),
        Some((cfg, name)) => Box::pin(
            tokio_rustls::TlsConnector::from(Arc::clone(cfg))
                .connect(name.clone(), tcp)
                .await
                .map_err(WireError::Tls)?,
        ),
    };
    let mut connect = Connect::new(d.client_id.clone());
    connect.keep_alive = d.keep_alive_s;
    connect.clean_session = true;
    if let Some((u, p)) = &d.login {
        connect.set_login(u.clone(), p.clone());
    }
    write(&mut stream, &Packet::Connect(connect)).await?;
    let mut buf = BytesMut::with_capacity(64);
    loop {
        if let Some(p) = take(&mut buf)? {
            return match p {
                Packet::ConnAck(a) if a.code == ConnectReturnCode::Success => Ok((stream, buf)),
                Packet::ConnAck(a) => Err(WireError::Refused(a.code)),
                other => Err(WireError::NotConnAck(format!("{other:?}"))),
            };
        }
        fill(&mut stream, &mut buf).await?;
    }
}

/// Encode `packet` and write it, flushed.
pub async fn write(stream: &mut Stream, packet: &Packet) -> Result<(), WireError> {
    let mut out = BytesMut::new();
    packet
        .write(&mut out, MAX_PACKET)
        .map_err(|e| WireError::Codec(e.to_string()))?;
    stream.write_all(&out).await.map_err(WireError::Io)?;
    stream.flush().await.map_err(WireError::Io)
}

/// The next whole packet in `buf`, if one is there.
pub fn take(buf: &mut BytesMut) -> Result<Option<Packet>, WireError> {
    match Packet::read(buf, MAX_PACKET) {
        Ok(p) => Ok(Some(p)),
        Err(mqttbytes::Error::InsufficientBytes(n)) => {
            buf.reserve(n);
            Ok(None)
        }
        Err(e) => Err(WireError::Codec(e.to_string())),
    }
}

/// Read once into `buf`; the broker closing is [`WireError::Closed`].
pub async fn fill(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), WireError> {
    if buf.capacity() == buf.len() {
        buf.reserve(256);
    }
    match stream.read_buf(buf).await {
        Ok(0) => Err(WireError::Closed),
        Ok(_) => Ok(()),
        Err(e) => Err(WireError::Io(e)),
    }
}
