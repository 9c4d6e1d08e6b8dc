//! The in-memory network: a table of listening addresses, each with a queue of pending
//! connections. Connecting makes a `tokio::io::duplex` pipe, keeps one end and queues the
//! other, with the client's address, at the listener. Nothing listening (or a listener
//! dropped) is "connection refused", as on loopback. Ports for `:0` listeners and for
//! clients are handed out from a counter, so a run's addresses depend only on its order of
//! listens and connects.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

/// Bytes a pipe buffers in each direction before a writer waits (like a socket buffer).
const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// The first port handed out.
const FIRST_PORT: u16 = 20_000;

type Pending = (DuplexStream, SocketAddr);

#[derive(Debug)]
struct Table {
    listeners: HashMap<SocketAddr, mpsc::UnboundedSender<Pending>>,
    next_port: u16,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            listeners: HashMap::new(),
            next_port: FIRST_PORT,
        }
    }
}

impl Table {
    fn port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p == u16::MAX { FIRST_PORT } else { p + 1 };
        p
    }
}

/// One in-memory network (cheap to clone: clones share it).
#[derive(Debug, Clone, Default)]
pub struct MemNet(Arc<Mutex<Table>>);

impl MemNet {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Listen on `addr` (port 0: the next free port). Taken: `AddrInUse`.
    pub fn listen(&self, addr: SocketAddr) -> io::Result<MemListener> {
        let mut t = self.table();
        let mut addr = addr;
        if addr.port() == 0 {
            loop {
                addr.set_port(t.port());
                if !t.listeners.contains_key(&addr) {
                    break;
                }
            }
        }
        if t.listeners.get(&addr).is_some_and(|tx| !tx.is_closed()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{addr} is already listened on (in-memory network)"),
            ));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        t.listeners.insert(addr, tx);
        Ok(MemListener {
            net: self.clone(),
            addr,
            queue: tokio::sync::Mutex::new(rx),
        })
    }

    /// Connect to `addr` from `local` (default 127.0.0.1), port chosen.
    pub fn connect(&self, local: Option<IpAddr>, addr: SocketAddr) -> io::Result<DuplexStream> {
        let mut t = self.table();
        let from = SocketAddr::new(local.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), t.port());
        let refused = || {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("nothing listens on {addr} (in-memory network)"),
            )
        };
        let tx = t.listeners.get(&addr).ok_or_else(refused)?;
        let (client, server) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        tx.send((server, from)).map_err(|_| refused())?;
        Ok(client)
    }

    fn unlisten(&self, addr: SocketAddr) {
        let mut t = self.table();
        if t.listeners.get(&addr).is_some_and(|tx| tx.is_closed()) {
            t.listeners.remove(&addr);
        }
    }
}

/// A listener on the in-memory network; dropping it stops listening (pending connections
/// are closed, new ones refused).
#[derive(Debug)]
pub struct MemListener {
    net: MemNet,
    addr: SocketAddr,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
}

impl MemListener {
    /// The next connection and the client's address.
    pub async fn accept(&self) -> io::Result<(DuplexStream, SocketAddr)> {
        self.queue
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "in-memory listener closed"))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MemListener {
    fn drop(&mut self) {
        if let Ok(mut q) = self.queue.try_lock() {
            q.close();
        }
        self.net.unlisten(self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[tokio::test]
    async fn a_client_reaches_the_listener_and_bytes_flow_both_ways() {
        let net = MemNet::default();
        let l = net.listen(at(0)).unwrap();
        let addr = l.local_addr();
        assert_eq!(addr.port(), FIRST_PORT);
        let mut c = net
            .connect(Some(IpAddr::from([127, 0, 0, 2])), addr)
            .unwrap();
        let (mut s, peer) = l.accept().await.unwrap();
        assert_eq!(peer.ip(), IpAddr::from([127, 0, 0, 2]));
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        s.write_all(b"pong").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }

    #[tokio::test]
    async fn nothing_listening_is_refused_and_a_dropped_listener_frees_its_address() {
        let net = MemNet::default();
        let err = net.connect(None, at(502)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(err.to_string().contains("127.0.0.1:502"), "{err}");
        let l = net.listen(at(502)).unwrap();
        let taken = net.listen(at(502)).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AddrInUse);
        drop(l);
        assert_eq!(
            net.connect(None, at(502)).unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        let again = net.listen(at(502)).unwrap();
        assert_eq!(again.local_addr(), at(502));
    }
}
