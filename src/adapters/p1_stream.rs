//! The P1 ext copy on TCP, ser2net-style (`run --p1-tcp ADDR`): the real device repeats every
//! byte its P1 input receives on its "P1 ext" port (a splitter, P1-03); here those bytes
//! (`Effect::P1ExtOut`) go to every connected TCP reader, raw, byte-exact and in order, from
//! the moment it connects. No framing and no handshake, so anything that reads a P1 port
//! through ser2net reads this: Home Assistant's DSMR integration ("network"), dsmr_parser,
//! evcc, dsmr-reader. Bytes a reader sends are read and thrown away; a reader that closes its
//! side is disconnected (as ser2net does).
//!
//! A reader never slows the device or the other readers: each one takes its own copy from
//! the host's effect broadcast into its own bounded queue. A reader that falls more than
//! `MAX_BEHIND_BYTES` (or `MAX_BEHIND_CHUNKS` writes) behind, or that misses effects of the
//! broadcast itself (`Lagged`), is disconnected with a log line naming its address: better
//! to cut a reader than to hand it a torn telegram. At most `MAX_READERS` readers; a further
//! one is closed at once (logged). Accept errors are logged once per kind and backed off
//! (`accept_forever`); the listener never stops.

use super::accept::{accept_forever, Seat, Spare};
use super::host::Host;
use super::net::{Listener, Stream};
use crate::device::Effect;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

/// Readers connected at the same time; a further one is closed at once.
pub const MAX_READERS: usize = 64;
/// A reader this many bytes behind (queued here, beyond what the OS buffers) is cut.
pub const MAX_BEHIND_BYTES: usize = 1 << 20;
/// A reader this many P1 ext writes behind is cut (bounds the queue for tiny writes).
pub const MAX_BEHIND_CHUNKS: usize = 4096;

/// Why the P1 stream could not start.
#[derive(Debug, thiserror::Error)]
pub enum P1StreamError {
    #[error("P1 stream: the listener has no local address: {0}")]
    LocalAddr(io::Error),
}

/// Why a reader's connection ended.
#[derive(Debug, thiserror::Error)]
pub enum Disconnect {
    #[error("closed by the reader")]
    Closed,
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("fell {bytes} bytes in {chunks} writes behind (limit {MAX_BEHIND_BYTES} bytes, {MAX_BEHIND_CHUNKS} writes): a reader too slow for the meter")]
    Behind { bytes: usize, chunks: usize },
    #[error("missed {0} device effects (reader task starved): bytes were lost, cut rather than hand on a torn telegram")]
    Lagged(u64),
    #[error("the device is gone")]
    HostGone,
}

/// A running P1 stream; stops (and closes every reader) when dropped.
#[derive(Debug)]
pub struct P1Stream {
    addr: SocketAddr,
    readers: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl P1Stream {
    /// Serve the P1 ext bytes of `host` to every reader connecting to `listener` (bind port
    /// 0 in tests).
    pub fn start(host: Arc<Host>, listener: impl Into<Listener>) -> Result<Self, P1StreamError> {
        let listener: Listener = listener.into();
        let addr = listener.local_addr().map_err(P1StreamError::LocalAddr)?;
        let readers = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept_loop(listener, host, Arc::clone(&readers)));
        Ok(P1Stream {
            addr,
            readers,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Readers connected right now.
    pub fn readers(&self) -> usize {
        self.readers.load(Ordering::SeqCst)
    }
}

impl Drop for P1Stream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accept until aborted (`accept_forever`); the readers' tasks end with it.
async fn accept_loop(listener: Listener, host: Arc<Host>, readers: Arc<AtomicUsize>) {
    accept_forever(listener, "p1 stream", Spare::None, |stream, peer| {
        // Subscribe before anything else: the reader gets every byte from now on.
        let effects = host.effects();
        let seat = Seat::take(&readers, MAX_READERS);
        async move {
            let Some(seat) = seat else {
                tracing::info!(
                    "p1 stream: {peer} refused, {MAX_READERS} readers already connected"
                );
                drop(stream);
                return None;
            };
            tracing::info!("p1 stream: {peer} connected ({} readers)", seat.count());
            Some(async move {
                let why = serve(stream, effects).await;
                let left = seat.count().saturating_sub(1);
                match why {
                    Disconnect::Closed => {
                        tracing::info!("p1 stream: {peer} disconnected ({left} readers left)")
                    }
                    e => {
                        tracing::warn!("p1 stream: {peer} disconnected: {e} ({left} readers left)")
                    }
                }
                drop(seat);
            })
        }
    })
    .await
}

/// The bytes of a P1 ext write (`None` for every other effect).
fn p1_bytes(e: &Effect) -> Option<&[u8]> {
    match e {
        Effect::P1ExtOut(b) if !b.is_empty() => Some(b),
        _ => None,
    }
}

/// Copy P1 ext bytes to `stream` until the reader goes away or falls behind. One task, three
/// cancel-safe events: a new effect (queued at once, never waiting on the socket), bytes
/// from the reader (discarded), room in the socket (the queue's front is written).
async fn serve(stream: Stream, mut effects: broadcast::Receiver<Arc<Effect>>) -> Disconnect {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut queue: VecDeque<Arc<Effect>> = VecDeque::new();
    let mut queued = 0usize; // bytes in `queue` not yet written
    let mut front_written = 0usize; // bytes of the queue's front already written
    let mut discard = [0u8; 512];
    loop {
        let front = queue
            .front()
            .and_then(|e| p1_bytes(e))
            .and_then(|b| b.get(front_written..))
            .unwrap_or(&[]);
        let front_len = front.len();
        tokio::select! {
            biased;
            r = effects.recv() => match r {
                Ok(e) => {
                    let Some(len) = p1_bytes(&e).map(<[u8]>::len) else { continue };
                    queued = queued.saturating_add(len);
                    queue.push_back(e);
                    if queued > MAX_BEHIND_BYTES || queue.len() > MAX_BEHIND_CHUNKS {
                        return Disconnect::Behind { bytes: queued, chunks: queue.len() };
                    }
                }
                Err(RecvError::Lagged(n)) => return Disconnect::Lagged(n),
                Err(RecvError::Closed) => return Disconnect::HostGone,
            },
            r = rd.read(&mut discard) => match r {
                Ok(0) => return Disconnect::Closed,
                Ok(_) => {}
                Err(e) => return Disconnect::Io(e),
            },
            w = wr.write(front), if !front.is_empty() => match w {
                Ok(0) => return Disconnect::Io(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    queued = queued.saturating_sub(n);
                    if n >= front_len {
                        queue.pop_front();
                        front_written = 0;
                    } else {
                        front_written = front_written.saturating_add(n);
                    }
                }
                Err(e) => return Disconnect::Io(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceConfig, Event, Variant};
    use crate::protocol::dsmr::{self, DsmrKind};
    use crate::protocol::{Protocol, Reading};
    use std::time::Duration;
    use tokio::net::{TcpListener, TcpStream};

    const LIMIT: Duration = Duration::from_secs(20);

    fn telegram(w: f32) -> Vec<u8> {
        let mut r = Reading::empty(Protocol::Dsmr);
        r.power_import_w = Some(w);
        r.power_export_w = Some(0.0);
        dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
    }

    async fn started() -> (Arc<Host>, P1Stream) {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let (host, _clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = P1Stream::start(Arc::clone(&host), listener).unwrap();
        (host, stream)
    }

    /// Wait (bounded, no sleeping) until the stream has `n` readers.
    async fn readers(stream: &P1Stream, n: usize) {
        tokio::time::timeout(LIMIT, async {
            while stream.readers() != n {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{} readers, expected {n}", stream.readers()));
    }

    async fn connect(stream: &P1Stream, n: usize) -> TcpStream {
        let c = TcpStream::connect(stream.local_addr()).await.unwrap();
        readers(stream, n).await;
        c
    }

    async fn read_exactly(c: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0u8; n];
        tokio::time::timeout(LIMIT, c.read_exact(&mut got))
            .await
            .expect("the bytes arrive in time")
            .expect("the connection stays open");
        got
    }

    /// Nothing more (EOF) or only a reset: the stream closed this reader.
    async fn closed(c: &mut TcpStream) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(LIMIT, c.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn every_reader_gets_every_byte_in_order() {
        let (host, stream) = started().await;
        let mut a = connect(&stream, 1).await;
        let mut b = connect(&stream, 2).await;
        // A whole telegram, one split across three writes, and line noise: a copy of the wire.
        let t1 = telegram(1234.0);
        let t2 = telegram(987.0);
        let mut expected = t1.clone();
        host.handle(Event::SerialBytes(t1));
        for part in [&t2[..10], &t2[10..500], &t2[500..], b"\x00noise\xff"] {
            expected.extend_from_slice(part);
            host.handle(Event::SerialBytes(part.to_vec()));
        }
        // What the readers send is read and discarded.
        a.write_all(b"hello?\r\n").await.unwrap();
        assert_eq!(read_exactly(&mut a, expected.len()).await, expected);
        assert_eq!(read_exactly(&mut b, expected.len()).await, expected);
        let t3 = telegram(5.0);
        host.handle(Event::SerialBytes(t3.clone()));
        assert_eq!(read_exactly(&mut a, t3.len()).await, t3);
        assert_eq!(read_exactly(&mut b, t3.len()).await, t3);
    }

    #[tokio::test]
    async fn a_reader_that_never_reads_is_cut_and_the_others_keep_up() {
        let (host, stream) = started().await;
        let _stalled = connect(&stream, 1).await;
        let mut fast = connect(&stream, 2).await;
        // 64 telegrams per write; what the stalled reader's OS buffers take plus 1 MiB.
        let chunk: Vec<u8> = (0..64u8).flat_map(|i| telegram(f32::from(i))).collect();
        let mut sent = 0usize;
        while stream.readers() == 2 {
            assert!(sent < 256 << 20, "the stalled reader was never cut");
            host.handle(Event::SerialBytes(chunk.clone()));
            sent += chunk.len();
            // The fast reader gets each write while the other one stalls.
            assert_eq!(read_exactly(&mut fast, chunk.len()).await, chunk);
        }
        assert_eq!(stream.readers(), 1);
        host.handle(Event::SerialBytes(chunk.clone()));
        assert_eq!(read_exactly(&mut fast, chunk.len()).await, chunk);
        assert!(sent >= MAX_BEHIND_BYTES, "cut after {sent} bytes");
        eprintln!("the stalled reader was cut after {sent} bytes");
    }

    #[tokio::test]
    async fn a_reader_that_missed_effects_is_cut_not_handed_a_torn_stream() {
        let (host, stream) = started().await;
        let mut c = connect(&stream, 1).await;
        // The reader's task cannot run while this test does not yield: the broadcast
        // (1024 effects) overflows under it.
        let t = telegram(100.0);
        for _ in 0..1100 {
            host.handle(Event::SerialBytes(t.clone()));
        }
        let mut got = Vec::new();
        let _ = tokio::time::timeout(LIMIT, c.read_to_end(&mut got)).await;
        assert!(got.is_empty(), "{} bytes of a lagged stream", got.len());
        readers(&stream, 0).await;
    }

    #[tokio::test]
    async fn a_reader_can_leave_and_come_back() {
        let (host, stream) = started().await;
        let mut a = connect(&stream, 1).await;
        let t1 = telegram(1.0);
        host.handle(Event::SerialBytes(t1.clone()));
        assert_eq!(read_exactly(&mut a, t1.len()).await, t1);
        drop(a);
        readers(&stream, 0).await;
        // Bytes while nobody listens are gone (a wire), the new reader starts afresh.
        host.handle(Event::SerialBytes(telegram(2.0)));
        let mut b = connect(&stream, 1).await;
        let t3 = telegram(3.0);
        host.handle(Event::SerialBytes(t3.clone()));
        assert_eq!(read_exactly(&mut b, t3.len()).await, t3);
    }

    #[tokio::test]
    async fn readers_beyond_the_cap_are_closed_at_once() {
        let (host, stream) = started().await;
        let mut held = Vec::new();
        for n in 1..=MAX_READERS {
            held.push(connect(&stream, n).await);
        }
        let mut extra = TcpStream::connect(stream.local_addr()).await.unwrap();
        assert!(closed(&mut extra).await, "the 65th reader was not closed");
        assert_eq!(stream.readers(), MAX_READERS);
        let t = telegram(42.0);
        host.handle(Event::SerialBytes(t.clone()));
        for c in &mut held {
            assert_eq!(read_exactly(c, t.len()).await, t);
        }
        drop(held);
        readers(&stream, 0).await;
        let mut again = connect(&stream, 1).await;
        host.handle(Event::SerialBytes(t.clone()));
        assert_eq!(read_exactly(&mut again, t.len()).await, t);
    }

    #[tokio::test]
    async fn dropping_the_stream_closes_its_readers() {
        let (_host, stream) = started().await;
        let mut c = connect(&stream, 1).await;
        drop(stream);
        assert!(closed(&mut c).await);
    }
}
