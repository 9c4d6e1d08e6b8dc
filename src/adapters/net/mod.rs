//! Where the adapters' bytes travel: real TCP sockets (`Net::Tcp`, the product and the socket
//! targets) or in-memory pipes (`Net::Mem`, the in-memory target: no socket is opened, yet
//! every protocol layer — Modbus TCP framing, HTTP/1.1, TLS, MQTT — runs unchanged over the
//! pipe). A `Listener` hands out each accepted connection as a boxed byte stream with its
//! peer address; a client dials with `Net::connect` (or `connect_from` a chosen local
//! address, for "another client" scenarios).

mod mem;

pub use mem::{MemListener, MemNet};

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream (a TCP socket or one end of an in-memory pipe).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> Io for T {}

/// A boxed connected byte stream.
pub type Stream = Box<dyn Io>;

/// The network the adapters use.
#[derive(Debug, Clone, Default)]
pub enum Net {
    /// Real sockets.
    #[default]
    Tcp,
    /// In-memory pipes between this process's own listeners and clients.
    Mem(MemNet),
}

impl Net {
    /// A fresh in-memory network with nothing listening on it.
    pub fn memory() -> Net {
        Net::Mem(MemNet::default())
    }

    /// Whether bytes stay in this process (no socket is opened).
    pub fn is_memory(&self) -> bool {
        matches!(self, Net::Mem(_))
    }

    /// Listen on `addr`; port 0 picks a free one (see `Listener::local_addr`).
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<Listener> {
        match self {
            Net::Tcp => Ok(Listener::Tcp(tokio::net::TcpListener::bind(addr).await?)),
            Net::Mem(m) => Ok(Listener::Mem(m.listen(addr)?)),
        }
    }

    /// Listen on `addr` without awaiting (for constructors that are not async; a TCP
    /// listener must then be made inside a tokio runtime).
    pub fn listen_now(&self, addr: SocketAddr) -> io::Result<Listener> {
        match self {
            Net::Tcp => {
                let l = std::net::TcpListener::bind(addr)?;
                l.set_nonblocking(true)?;
                Ok(Listener::Tcp(tokio::net::TcpListener::from_std(l)?))
            }
            Net::Mem(m) => Ok(Listener::Mem(m.listen(addr)?)),
        }
    }

    /// Connect to `addr` (TCP with `TCP_NODELAY`).
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<Stream> {
        match self {
            Net::Tcp => {
                let s = tokio::net::TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s))
            }
            Net::Mem(m) => Ok(Box::new(m.connect(None, addr)?)),
        }
    }

    /// Connect to `addr` from the local address `local` (port chosen), so the server sees
    /// another client: e.g. `127.0.0.2` on loopback.
    pub async fn connect_from(&self, local: IpAddr, addr: SocketAddr) -> io::Result<Stream> {
        match self {
            Net::Tcp => {
                let socket = match local {
                    IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.bind(SocketAddr::new(local, 0))?;
                let s = socket.connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s))
            }
            Net::Mem(m) => Ok(Box::new(m.connect(Some(local), addr)?)),
        }
    }
}

/// A listening endpoint of either network.
#[derive(Debug)]
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Mem(MemListener),
}

impl Listener {
    /// The next connection and its peer's address.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // Small request/answer exchanges (Modbus, MQTT) must not wait for Nagle.
                let _ = s.set_nodelay(true);
                Ok((Box::new(s), peer))
            }
            Listener::Mem(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Box::new(s), peer))
            }
        }
    }

    /// The address this listener is reachable at.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr(),
            Listener::Mem(l) => Ok(l.local_addr()),
        }
    }
}

impl From<tokio::net::TcpListener> for Listener {
    fn from(l: tokio::net::TcpListener) -> Self {
        Listener::Tcp(l)
    }
}
