//! A Modbus TCP client (tokio-modbus) as a charger uses it: one connection, reconnected when
//! the device dropped it; any function code (unknown ones are sent raw so the device's
//! exception can be seen). Used by the conformance steps and the benchmarks. It dials over
//! a `Net`: real TCP (`new`) or the in-memory network (`over`).

use crate::adapters::net::{Net, Stream};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_modbus::client::{tcp, Client, Context, Reader};
use tokio_modbus::prelude::{Request, Slave, SlaveContext};

/// A request with function code `fc` shaped as a client would send it: reads for the read
/// codes, writes of zeros for the write codes, raw bytes for anything else.
fn request(fc: u8, addr: u16, qty: u16) -> Request<'static> {
    match fc {
        0x01 => Request::ReadCoils(addr, qty),
        0x02 => Request::ReadDiscreteInputs(addr, qty),
        0x05 => Request::WriteSingleCoil(addr, false),
        0x06 => Request::WriteSingleRegister(addr, qty),
        0x0F => Request::WriteMultipleCoils(addr, vec![false; usize::from(qty.max(1))].into()),
        0x10 => Request::WriteMultipleRegisters(addr, vec![0; usize::from(qty.max(1))].into()),
        other => {
            let mut body = addr.to_be_bytes().to_vec();
            body.extend(qty.to_be_bytes());
            Request::Custom(other, body.into())
        }
    }
}

/// The device's answer: registers, or the exception code.
pub type Reply = Result<Vec<u16>, u8>;

/// The name of a Modbus exception code, as the Modbus application protocol calls it.
pub fn exception_name(code: u8) -> &'static str {
    match code {
        0x01 => "illegal function",
        0x02 => "illegal data address",
        0x03 => "illegal data value",
        0x04 => "server device failure",
        0x05 => "acknowledge",
        0x06 => "server device busy",
        0x08 => "memory parity error",
        0x0A => "gateway path unavailable",
        0x0B => "gateway target device failed to respond",
        _ => "not a standard exception code",
    }
}

/// `exception 0x02 (illegal data address)`.
pub fn exception_text(code: u8) -> String {
    format!("exception 0x{code:02X} ({})", exception_name(code))
}

/// What a request was, for messages: `unit id 1, function 0x03, address 0x8006, quantity 2`.
pub fn describe(fc: u8, unit: u8, addr: u16, qty: u16) -> String {
    format!("unit id {unit}, function 0x{fc:02X}, address 0x{addr:04X}, quantity {qty}")
}

/// How long to wait for a connection or an answer before calling the device unresponsive.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A connected stream as tokio-modbus wants its transport (it asks for `Debug`).
struct Transport(Stream);

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

pub struct ModbusClient {
    net: Net,
    addr: SocketAddr,
    ctx: Option<Context>,
    /// A connection was made at least once.
    used: bool,
}

impl std::fmt::Debug for ModbusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModbusClient")
            .field("addr", &self.addr)
            .field("in_memory", &self.net.is_memory())
            .field("connected", &self.ctx.is_some())
            .finish()
    }
}

impl ModbusClient {
    /// A client for the device at `addr` over TCP.
    pub fn new(addr: SocketAddr) -> Self {
        ModbusClient::over(Net::Tcp, addr)
    }

    /// A client for the device at `addr` on `net`.
    pub fn over(net: Net, addr: SocketAddr) -> Self {
        ModbusClient {
            net,
            addr,
            ctx: None,
            used: false,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A new client for the same device on the same network, not connected yet.
    pub fn fresh(&self) -> Self {
        ModbusClient::over(self.net.clone(), self.addr)
    }

    /// Drop the connection (the next read reconnects).
    pub async fn disconnect(&mut self) {
        if let Some(mut c) = self.ctx.take() {
            let _ = c.disconnect().await;
        }
    }

    /// Read `qty` registers at `addr` with function code `fc` from unit `unit`; reconnects
    /// once if the connection was closed.
    pub async fn read(&mut self, fc: u8, unit: u8, addr: u16, qty: u16) -> io::Result<Reply> {
        match self.try_read(fc, unit, addr, qty).await {
            Ok(r) => Ok(r),
            Err(_) => {
                self.ctx = None;
                self.try_read(fc, unit, addr, qty).await
            }
        }
    }

    /// Like `read` but never reconnects a connection the device closed: a closed connection
    /// is an error, so a test can see that the device dropped it.
    pub async fn read_once(&mut self, fc: u8, unit: u8, addr: u16, qty: u16) -> io::Result<Reply> {
        if self.ctx.is_none() && self.used {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection was closed",
            ));
        }
        self.try_read(fc, unit, addr, qty).await
    }

    async fn try_read(&mut self, fc: u8, unit: u8, addr: u16, qty: u16) -> io::Result<Reply> {
        let at = self.addr;
        let what = move || what_now(fc, unit, addr, qty, at);
        if self.ctx.is_none() {
            let stream = tokio::time::timeout(TIMEOUT, self.net.connect(self.addr))
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{}: no connection within {TIMEOUT:?}", what()),
                    )
                })?
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("{}: cannot connect: {e}", what()))
                })?;
            self.ctx = Some(tcp::attach(Transport(stream)));
            self.used = true;
        }
        let ctx = self.ctx.as_mut().expect("connected above");
        ctx.set_slave(Slave(unit));
        let call = async {
            match fc {
                3 => ctx.read_holding_registers(addr, qty).await,
                4 => ctx.read_input_registers(addr, qty).await,
                other => ctx
                    .call(request(other, addr, qty))
                    .await
                    .map(|r| r.map(|_| Vec::new())),
            }
        };
        let res = tokio::time::timeout(TIMEOUT, call).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: no answer within {TIMEOUT:?}",
                    what_now(fc, unit, addr, qty, self.addr)
                ),
            )
        })?;
        match res {
            Ok(Ok(words)) if fc <= 4 && words.len() != usize::from(qty) => {
                Err(io::Error::other(format!(
                    "{}: the answer carries {} registers",
                    what_now(fc, unit, addr, qty, self.addr),
                    words.len()
                )))
            }
            Ok(Ok(words)) => Ok(Ok(words)),
            Ok(Err(exc)) => Ok(Err(u8::from(exc))),
            Err(e) => {
                self.ctx = None;
                let kind = match &e {
                    tokio_modbus::Error::Transport(t) if ended(t) => io::ErrorKind::UnexpectedEof,
                    tokio_modbus::Error::Transport(t) => t.kind(),
                    _ => io::ErrorKind::InvalidData,
                };
                Err(io::Error::new(
                    kind,
                    format!(
                        "{}: {}",
                        what_now(fc, unit, addr, qty, self.addr),
                        plain_error(&e)
                    ),
                ))
            }
        }
    }
}

fn what_now(fc: u8, unit: u8, addr: u16, qty: u16, at: SocketAddr) -> String {
    format!("Modbus read ({}) at {at}", describe(fc, unit, addr, qty))
}

/// The stream ended before an answer: tokio-modbus reports that as the thread's last OS
/// error, which is "no error" (0) when nothing failed, e.g. on an in-memory pipe.
fn ended(t: &io::Error) -> bool {
    t.raw_os_error() == Some(0)
}

/// A transport or protocol error in words (tokio-modbus's own messages carry `Debug` output
/// of its types, e.g. a response to another function code).
fn plain_error(e: &tokio_modbus::Error) -> String {
    match e {
        tokio_modbus::Error::Transport(t) if ended(t) => {
            "the device closed the connection without an answer".into()
        }
        tokio_modbus::Error::Transport(t) => match t.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the device closed the connection without an answer".into()
            }
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
                "the connection was closed before the request was sent".into()
            }
            _ => format!("connection error: {t}"),
        },
        tokio_modbus::Error::Protocol(_) => {
            "the answer does not match the request (wrong transaction id, unit id or function code, or a malformed frame)".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::host::Host;
    use crate::adapters::modbus::{ModbusOptions, ModbusServer};
    use crate::device::registers::f32_cdab;
    use crate::device::{DeviceConfig, Event, Variant};
    use crate::protocol::dsmr::{self, DsmrKind};
    use crate::protocol::{Protocol, Reading};
    use std::sync::Arc;

    const AT: ([u8; 4], u16) = ([127, 0, 0, 1], 502);

    /// A booted device importing 1234 W, its Modbus server on the in-memory network.
    async fn device(net: &Net) -> (Arc<Host>, crate::sim::clock::VirtualClock, ModbusServer) {
        let (host, clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
        let mut r = Reading::empty(Protocol::Dsmr);
        r.power_import_w = Some(1234.0);
        r.power_export_w = Some(0.0);
        host.handle(Event::SerialBytes(dsmr::encode(
            &r,
            DsmrKind::Smr5ThreePhase,
        )));
        let listener = net.listen(SocketAddr::from(AT)).await.unwrap();
        let server =
            ModbusServer::start_with(Arc::clone(&host), listener, ModbusOptions::default())
                .unwrap();
        (host, clock, server)
    }

    #[tokio::test]
    async fn reads_and_exceptions_travel_over_the_memory_network() {
        let net = Net::memory();
        let (_host, _clock, server) = device(&net).await;
        let mut c = ModbusClient::over(net.clone(), server.local_addr());
        for fc in [3, 4] {
            let w = c.read(fc, 1, 0x8016, 2).await.unwrap().unwrap();
            assert_eq!(f32_cdab([w[0], w[1]]), 1234.0, "function {fc}");
        }
        assert_eq!(c.read(0x06, 1, 0x8016, 1).await.unwrap(), Err(0x01));
        assert_eq!(c.read(3, 1, 0x0000, 2).await.unwrap(), Err(0x02));
    }

    #[tokio::test]
    async fn a_second_client_is_closed_while_the_first_holds_the_slot() {
        let net = Net::memory();
        let (_host, _clock, server) = device(&net).await;
        let mut first = ModbusClient::over(net.clone(), server.local_addr());
        assert!(first.read(3, 1, 0x8016, 2).await.unwrap().is_ok());
        let mut second = first.fresh();
        let err = second.read_once(3, 1, 0x8016, 2).await.unwrap_err();
        assert!(
            err.to_string()
                .ends_with("the device closed the connection without an answer"),
            "{err}"
        );
        assert!(first.read_once(3, 1, 0x8016, 2).await.unwrap().is_ok());
        first.disconnect().await;
        let mut third = second.fresh();
        assert!(third.read(3, 1, 0x8016, 2).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn nothing_listening_is_a_clear_connect_error() {
        let mut c = ModbusClient::over(Net::memory(), SocketAddr::from(AT));
        let err = c.read(3, 1, 0x8016, 2).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            err.to_string(),
            "Modbus read (unit id 1, function 0x03, address 0x8016, quantity 2) at \
             127.0.0.1:502: cannot connect: nothing listens on 127.0.0.1:502 (in-memory network)"
        );
    }
}
