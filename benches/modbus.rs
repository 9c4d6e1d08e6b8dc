//! Modbus TCP round-trip latency and throughput: `cargo bench --bench modbus` (about 5 s
//! after the build; run without `--bench`, e.g. by `cargo test --benches`, it only checks
//! that every server answers right, with 100 requests each). A plain `main`, not criterion:
//! what matters here is the latency distribution (p50/p99/max) of one charger-like client,
//! which criterion does not report.
//!
//! Three servers on 127.0.0.1, measured in one run with the same client:
//! - (a) `ModbusServer`: the simulator's server (tokio-modbus) serving a virtual P1 device,
//!   booted as in `tests/integration/modbus_server.rs` (USB power, 6 s of virtual time, tick) and fed one
//!   `dsmr::encode` telegram, EMPro map.
//! - (b) pymodbus: `benches/pymodbus_server.py` run with `python3`, holding 0x8000–0x803F
//!   with the very register words (a) serves (read from the device), so both answer the same
//!   bytes. If `python3` or `pymodbus` is missing it is reported "not measured (reason)" and
//!   (a) and (c) still run.
//! - (c) a bare tokio TCP server that answers every 12-byte request with a fixed 29-byte
//!   answer (the size of a 10-register FC 3 answer): the cost of one loopback round trip
//!   through tokio on this machine, the floor for any Modbus server here. Its answer is the
//!   exact answer (a) gives, with the request's transaction id copied in (2 bytes), so the
//!   client can check every answer of every server the same way.
//!
//! The client (decided: identical for all three, so the client's own cost cancels out of the
//! ratios): a `current_thread` tokio runtime on the main thread, one connection with
//! `TCP_NODELAY`, raw MBAP bytes — write a 12-byte FC 3 request for 10 registers at 0x8006
//! (unit 1, transaction id incremented per request), `read_exact` the 29-byte answer, compare
//! it byte for byte with the expected answer (transaction id included). One request in
//! flight at a time, as a charger polls. The latency of a request is from just before the
//! write to just after the last answer byte; requests/s is the measured requests divided by
//! the wall time of the measured loops. Every server first gets a warm-up that is not counted
//! (2 000 requests, 1 000 for pymodbus), then 50 000 measured requests (20 000 for pymodbus,
//! about 2 s), the three servers taking turns in 5 rounds so that a burst of other work on the
//! machine does not land on one server only. Requests/s is 1 / mean latency, so it is what
//! rare stalls (a busy machine) move first; the p50 ratios printed next to the targets are
//! the steadier comparison.
//!
//! The servers (a) and (c) run in their own multi-thread tokio runtime (`Runtime::new()`,
//! as `smart-connect-sim run` uses: one worker per core), on other threads than the client,
//! like a device and a charger in two processes; (b) is its own process.
//!
//! Then 100 clients one after another against (a), with the same raw client: each connects,
//! makes 100 reads and disconnects. The server holds one client slot (MB-02) and must free
//! it when the client leaves; a client whose connection is refused (closed without an
//! answer) because the server has not yet seen the previous client's close retries its
//! connect, and the retries are counted. Every client must get all 100 answers (asserted).
//!
//! Targets printed next to the figures: (a) ≥ 10× the requests/s of pymodbus, ≥ 50 % of the
//! echo server's requests/s, p99 < 1 ms. They are reported, not asserted (a loaded machine
//! would fail them); the answers' correctness is asserted.

use smart_connect_sim::adapters::host::Host;
use smart_connect_sim::adapters::modbus::ModbusServer;
use smart_connect_sim::device::registers::f32_cdab;
use smart_connect_sim::device::{DeviceConfig, Event, Variant};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::{Protocol, Reading};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "modbus/pymodbus.rs"]
mod pymodbus;
use pymodbus::start_pymodbus;

/// Requests per server: warm-up (not counted), then measured.
const WARMUP: usize = 2_000;
const N_FAST: usize = 50_000;
const WARMUP_PY: usize = 1_000;
const N_PY: usize = 20_000;
/// The servers take turns this many times (the counts above are split between the rounds).
const ROUNDS: usize = 5;
/// The 100-sequential-clients run.
const CLIENTS: usize = 100;
const READS_PER_CLIENT: usize = 100;
const MAX_RETRIES_PER_CLIENT: usize = 10_000;

/// The read: 10 registers from 0x8006 (voltages to total power of the EMPro map).
const ADDR: u16 = 0x8006;
const QTY: u16 = 10;
const UNIT: u8 = 1;
const REQ_LEN: usize = 12;
const RESP_LEN: usize = 7 + 2 + 2 * QTY as usize; // MBAP + FC + byte count + data = 29
/// Block given to pymodbus.
const BLOCK: u16 = 0x8000;
const BLOCK_LEN: u16 = 64;

fn request(tid: u16) -> [u8; REQ_LEN] {
    let [t0, t1] = tid.to_be_bytes();
    let [a0, a1] = ADDR.to_be_bytes();
    let [q0, q1] = QTY.to_be_bytes();
    [t0, t1, 0, 0, 0, 6, UNIT, 0x03, a0, a1, q0, q1]
}

fn expected_answer(words: &[u16]) -> [u8; RESP_LEN] {
    assert_eq!(words.len(), usize::from(QTY));
    let mut r = [0u8; RESP_LEN];
    r[4..6].copy_from_slice(&((RESP_LEN - 6) as u16).to_be_bytes());
    r[6] = UNIT;
    r[7] = 0x03;
    r[8] = (2 * QTY) as u8;
    for (i, w) in words.iter().enumerate() {
        r[9 + 2 * i..11 + 2 * i].copy_from_slice(&w.to_be_bytes());
    }
    r
}

/// A realistic three-phase telegram.
fn telegram() -> Vec<u8> {
    let mut r = Reading::empty(Protocol::Dsmr);
    r.voltage_v = [Some(231.4), Some(229.8), Some(232.1)];
    r.current_a = [Some(6.0), Some(4.0), Some(7.0)];
    r.active_power_phase_w = [Some(1388.4), Some(919.2), Some(1624.7)];
    r.power_import_w = Some(3932.3);
    r.power_export_w = Some(0.0);
    dsmr::encode(&r, DsmrKind::Smr5ThreePhase)
}

/// (a): a booted virtual device that has received a telegram, with its Modbus server.
async fn device() -> (Arc<Host>, ModbusServer) {
    let (host, _clock) = Host::running_virtual(DeviceConfig::new(Variant::P1), 0);
    assert!(
        host.served().serving,
        "the device does not serve after boot"
    );
    host.handle(Event::SerialBytes(telegram()));
    assert_eq!(
        host.served().values.telegram_seq,
        1,
        "the telegram was not taken"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = ModbusServer::start(Arc::clone(&host), listener).expect("start");
    (host, server)
}

/// (c): answers every 12-byte request with `answer` (transaction id copied in).
async fn echo_server(answer: [u8; RESP_LEN]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut req = [0u8; REQ_LEN];
                let mut resp = answer;
                while s.read_exact(&mut req).await.is_ok() {
                    resp[..2].copy_from_slice(&req[..2]);
                    if s.write_all(&resp).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The client side of one connection.
struct Conn {
    stream: TcpStream,
    tid: u16,
    answer: [u8; RESP_LEN],
}

impl Conn {
    async fn open(addr: SocketAddr, answer: [u8; RESP_LEN]) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            tid: 0,
            answer,
        })
    }

    /// One request/answer; the answer must be exactly the expected one.
    async fn read(&mut self) -> io::Result<()> {
        self.tid = self.tid.wrapping_add(1);
        let req = request(self.tid);
        let mut resp = [0u8; RESP_LEN];
        self.stream.write_all(&req).await?;
        self.stream.read_exact(&mut resp).await?;
        self.answer[..2].copy_from_slice(&self.tid.to_be_bytes());
        if resp != self.answer {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "unexpected answer {resp:02X?}, expected {:02X?}",
                    self.answer
                ),
            ));
        }
        Ok(())
    }
}

struct Stats {
    n: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

/// The timed requests to one server, gathered over several rounds on one connection.
struct Series {
    conn: Conn,
    lat: Vec<Duration>,
    wall: Duration,
}

impl Series {
    /// Connect and warm up (not counted).
    async fn open(addr: SocketAddr, answer: [u8; RESP_LEN], warmup: usize) -> io::Result<Series> {
        let mut conn = Conn::open(addr, answer).await?;
        for _ in 0..warmup {
            conn.read().await?;
        }
        Ok(Series {
            conn,
            lat: Vec::new(),
            wall: Duration::ZERO,
        })
    }

    /// `n` timed sequential requests.
    async fn run(&mut self, n: usize) -> io::Result<()> {
        self.lat.reserve(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            self.conn.read().await?;
            self.lat.push(t.elapsed());
        }
        self.wall += start.elapsed();
        Ok(())
    }

    fn stats(mut self) -> Stats {
        let n = self.lat.len();
        let lat = &mut self.lat;
        lat.sort_unstable();
        let pct = |p: f64| lat[((n as f64 * p).ceil() as usize).clamp(1, n) - 1];
        Stats {
            n,
            rate: n as f64 / self.wall.as_secs_f64(),
            p50: pct(0.50),
            p99: pct(0.99),
            p999: pct(0.999),
            max: lat[n - 1],
        }
    }
}

/// What the sequential-clients run saw.
struct Sequential {
    total: Duration,
    answered: usize,
    retries: usize,
    refused_clients: usize,
    worst: usize,
    /// Per client: from the first connect attempt to the first answer (retries included).
    first_answer: Vec<Duration>,
}

/// 100 clients one after another against `addr`, each with its own connection: connect,
/// 100 reads, disconnect.
async fn sequential_clients(addr: SocketAddr, answer: [u8; RESP_LEN]) -> Sequential {
    let start = Instant::now();
    let mut r = Sequential {
        total: Duration::ZERO,
        answered: 0,
        retries: 0,
        refused_clients: 0,
        worst: 0,
        first_answer: Vec::with_capacity(CLIENTS),
    };
    for i in 0..CLIENTS {
        let t = Instant::now();
        let mut tries = 0;
        let mut c = loop {
            let mut c = match Conn::open(addr, answer).await {
                Ok(c) => c,
                Err(e) => panic!("client {i}: cannot connect: {e}"),
            };
            match c.read().await {
                Ok(()) => break c,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => panic!("client {i}: {e}"),
                // Refused: closed without an answer, the server had not yet seen the
                // previous client's close.
                Err(_) => {
                    tries += 1;
                    assert!(
                        tries < MAX_RETRIES_PER_CLIENT,
                        "client {i} refused {tries} times: the slot was never freed"
                    );
                }
            }
        };
        r.first_answer.push(t.elapsed());
        r.retries += tries;
        r.refused_clients += usize::from(tries > 0);
        r.worst = r.worst.max(tries);
        let mut got = 1;
        for _ in 1..READS_PER_CLIENT {
            c.read()
                .await
                .unwrap_or_else(|e| panic!("client {i}, read {got}: {e}"));
            got += 1;
        }
        assert_eq!(got, READS_PER_CLIENT, "client {i} got {got} answers");
        r.answered += got;
        drop(c); // disconnect
    }
    r.total = start.elapsed();
    r.first_answer.sort_unstable();
    r
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn row(name: &str, s: &Stats) {
    println!(
        "{name:<40} {:>8} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        s.n,
        s.rate,
        us(s.p50),
        us(s.p99),
        us(s.p999),
        us(s.max)
    );
}

/// The 1-minute load average, when the system tells it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) only check that
    // every server answers correctly, with few requests.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (warmup, n_fast, warmup_py, n_py) = if quick {
        (10, 100, 10, 100)
    } else {
        (WARMUP, N_FAST, WARMUP_PY, N_PY)
    };

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_rt = tokio::runtime::Runtime::new().expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let (host, sim) = server_rt.block_on(device());
    let served = host.served();
    let block = served
        .template
        .read(&served.values, 3, BLOCK, BLOCK_LEN)
        .expect("EMPro block");
    let off = usize::from(ADDR - BLOCK);
    let answer = expected_answer(&block[off..off + usize::from(QTY)]);
    let echo = server_rt.block_on(echo_server(answer));
    let py = start_pymodbus(&block);

    let f = |reg: u16| {
        f32_cdab([
            block[usize::from(reg - BLOCK)],
            block[usize::from(reg - BLOCK + 1)],
        ])
    };
    if quick {
        println!("quick check (run without --bench): 100 requests per server; `cargo bench --bench modbus` for the figures");
    }
    println!(
        "Modbus TCP round trips on 127.0.0.1 ({cores} cores, load average {})",
        load_average()
    );
    println!(
        "  request: FC 3, 10 registers at 0x{ADDR:04X}, unit {UNIT} (12 bytes) -> answer 29 bytes: V {:.1}/{:.1}/{:.1}, I {:.1}/{:.1}/{:.1}, P {:.1} W",
        f(0x8006),
        f(0x8008),
        f(0x800A),
        f(0x800E),
        f(0x8010),
        f(0x8012),
        f(0x8016)
    );
    println!("  client: one connection, TCP_NODELAY, one request in flight, raw MBAP bytes on tokio (current_thread), same for all servers");
    println!("  servers (a), (c): tokio multi-thread runtime, {cores} workers (as `smart-connect-sim run`); (b): python3 process");
    println!();
    println!(
        "{:<40} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "server", "requests", "requests/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs"
    );

    // The three servers take turns, ROUNDS times, so that a burst of other work on the
    // machine hurts all of them rather than the one measured at that moment.
    let mut a = client_rt
        .block_on(Series::open(sim.local_addr(), answer, warmup))
        .expect("(a) ModbusServer");
    let mut b = match &py {
        Ok(p) => client_rt
            .block_on(Series::open(p.addr, answer, warmup_py))
            .map_err(|e| format!("pymodbus answered wrongly or not at all: {e}")),
        Err(why) => Err(why.clone()),
    };
    let mut c = client_rt
        .block_on(Series::open(echo, answer, warmup))
        .expect("(c) echo");
    for _ in 0..ROUNDS {
        client_rt
            .block_on(a.run(n_fast / ROUNDS))
            .expect("(a) ModbusServer");
        if let Ok(series) = &mut b {
            if let Err(e) = client_rt.block_on(series.run(n_py / ROUNDS)) {
                b = Err(format!("pymodbus answered wrongly or not at all: {e}"));
            }
        }
        client_rt
            .block_on(c.run(n_fast / ROUNDS))
            .expect("(c) echo");
    }
    let (a, c) = (a.stats(), c.stats());
    let b = b.map(Series::stats);
    row("(a) smart-connect-sim ModbusServer", &a);
    match (&b, &py) {
        (Ok(s), Ok(p)) => row(&format!("(b) pymodbus {} (python3)", p.version), s),
        (Err(why), _) => println!("{:<40} not measured ({why})", "(b) pymodbus"),
        (Ok(_), Err(_)) => unreachable!("measured without a server"),
    }
    row("(c) tokio echo, fixed 29-byte answer", &c);
    drop(py); // kills the pymodbus server

    println!();
    println!("targets for (a):");
    match &b {
        Ok(b) => {
            let r = a.rate / b.rate;
            println!(
                "  requests/s (a)/(b) = {r:>6.1}×        target ≥ 10× pymodbus      {}   (p50 (b)/(a) = {:.1}×)",
                verdict(r >= 10.0),
                b.p50.as_secs_f64() / a.p50.as_secs_f64()
            );
        }
        Err(_) => println!("  requests/s (a)/(b) = not measured  target ≥ 10× pymodbus      (pymodbus not measured)"),
    }
    let r = a.rate / c.rate;
    println!(
        "  requests/s (a)/(c) = {:>6.1} %       target ≥ 50 % of the echo  {}   (p50 (c)/(a) = {:.0} %)",
        100.0 * r,
        verdict(r >= 0.5),
        100.0 * c.p50.as_secs_f64() / a.p50.as_secs_f64()
    );
    println!(
        "  p99 (a)            = {:>6.3} ms      target < 1 ms              {}",
        a.p99.as_secs_f64() * 1e3,
        verdict(a.p99 < Duration::from_millis(1))
    );

    println!();
    let seq = client_rt.block_on(sequential_clients(sim.local_addr(), answer));
    assert_eq!(
        seq.answered,
        CLIENTS * READS_PER_CLIENT,
        "not every client got all its answers"
    );
    println!(
        "{CLIENTS} clients one after another against (a), each: connect, {READS_PER_CLIENT} reads, disconnect"
    );
    println!(
        "  total {:.1} ms ({:.0} µs per client), answers {}/{}",
        seq.total.as_secs_f64() * 1e3,
        us(seq.total) / CLIENTS as f64,
        seq.answered,
        CLIENTS * READS_PER_CLIENT
    );
    println!(
        "  connect retries {} ({} of {CLIENTS} clients refused at least once, worst client {} retries)",
        seq.retries, seq.refused_clients, seq.worst
    );
    println!(
        "  connect to first answer, retries included: p50 {:.1} µs, max {:.1} µs",
        us(seq.first_answer[CLIENTS / 2 - 1]),
        us(seq.first_answer[CLIENTS - 1])
    );
    println!();
    println!(
        "load average at the end: {} (other work on the machine widens p99.9 and max)",
        load_average()
    );
    drop(sim);
    drop(host);
    server_rt.shutdown_timeout(Duration::from_secs(1));
}
