//! Fleet mode against a real Mosquitto (issue #15): `cargo bench --bench fleet` (needs
//! `mosquitto`; about 4 min with the defaults). Runs the fleet in this process (the code of
//! `smart-connect-sim fleet`) and prints each figure beside its target, with Mosquitto's own
//! CPU in the same run as the peer:
//!
//! 1. mTLS, `SC_FLEET_DEVICES` devices (default 10 000), SMR 5.0 (1 message/s each), ramp
//!    500/s, the latency tap on: time until all are connected (≤ 60 s), then a steady window of
//!    `SC_FLEET_STEADY_S` s (default 30): our CPU (≤ 1 core), resident memory per device
//!    (≤ 30 KB: growth over the process before the fleet, divided by the devices), drops (0),
//!    publish → subscriber p99 (≤ 100 ms).
//! 2. Outage: Mosquitto killed (SIGKILL) for `SC_FLEET_OUTAGE_S` s (default 30) and started
//!    again on the same ports: time until every device is back (≤ the back-off cap 8 s + 10 s)
//!    and the most connection attempts started in any second (≤ the ramp).
//! 3. The same fleet over plain TCP (`--auth password`): CPU, memory, p99 (the plain figure).
//!
//! `SC_FLEET_CHECK=1` exits 1 when a figure misses its target.

#[path = "fleet/mosquitto.rs"]
mod mosquitto;

use smart_connect_sim::fleet::launch::{self, Auth, FleetOptions};
use smart_connect_sim::fleet::pki::FleetPki;
use smart_connect_sim::fleet::plan::{MeterMix, Shard};
use smart_connect_sim::fleet::stats::{FleetStats, Snapshot};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `SC_FLEET_RAMP` connection attempts per second (default 1 000: 10 000 devices come back
/// within 10 s of a broker's return, the outage target; the connect target needs 167/s).
fn ramp_per_s() -> u32 {
    u32::try_from(env_u64("SC_FLEET_RAMP", 1000)).unwrap_or(1000)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Report {
    misses: Vec<String>,
}

impl Report {
    fn line(&mut self, what: &str, value: String, target: &str, ok: bool) {
        println!(
            "{what:<44} {value:<34} target {target:<14} {}",
            if ok { "OK" } else { "MISS" }
        );
        if !ok {
            self.misses.push(what.to_string());
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Resident KiB of this process.
fn rss_kb() -> u64 {
    smart_connect_sim::fleet::stats::process_usage("self")
        .1
        .unwrap_or(0)
}

/// Poll the fleet's numbers every 50 ms until `f` holds (true) or `limit` passes (false).
async fn wait(stats: &FleetStats, limit: Duration, f: impl Fn(&Snapshot) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f(&stats.snapshot()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// One fleet run: its live numbers, the stop token and the task.
fn start(
    devices: u64,
    broker: SocketAddr,
    tls: bool,
    pki: &Arc<FleetPki>,
) -> (
    Arc<FleetStats>,
    CancellationToken,
    tokio::task::JoinHandle<Snapshot>,
) {
    let stop = CancellationToken::new();
    let opts = FleetOptions {
        devices,
        shard: Shard::WHOLE,
        mix: MeterMix::default(),
        seed: 1,
        ramp_per_s: ramp_per_s(),
        duration_ms: None,
        speed: 1,
        broker,
        broker_host: "127.0.0.1".into(),
        tls,
        auth: if tls { Auth::Mtls } else { Auth::Password },
        broker_ca_pem: None,
        pki: Arc::clone(pki),
        site: "bench".into(),
        keep_alive_s: 60,
        tap: true,
        bad_clock_pct: 0.0,
        silent_pct: 0.0,
        // No progress lines: the bench takes the latency windows itself.
        progress_every: Duration::from_secs(24 * 3600),
        stop: stop.clone(),
    };
    let fleet = launch::prepare(opts).expect("the fleet starts");
    let stats = fleet.stats();
    let task = tokio::spawn(fleet.run(|_| {}));
    (stats, stop, task)
}

/// Steady state: CPU (ours and Mosquitto's), memory, drops, p99 over `steady_s`.
async fn steady(
    r: &mut Report,
    label: &str,
    stats: &FleetStats,
    m: &mosquitto::Mosquitto,
    devices: u64,
    base_kb: u64,
    steady_s: u64,
) {
    // The connect phase leaves a backlog: messages queued while a device waited for its turn
    // went out in a burst on connect. Measure once the tap receives no more than is sent.
    let settle = Instant::now();
    loop {
        let before = stats.snapshot();
        stats.take_window();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, _, n) = stats.take_window();
        let sent = stats.snapshot().sent - before.sent;
        if n as f64 <= sent as f64 * 1.02 || settle.elapsed() > Duration::from_secs(120) {
            println!(
                "{label}: backlog drained after {:.0} s",
                settle.elapsed().as_secs_f64()
            );
            break;
        }
    }
    let a = stats.snapshot();
    stats.take_window();
    let peer_a = m.pid().and_then(mosquitto::cpu_s);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(steady_s)).await;
    let b = stats.snapshot();
    let (p50, p99, samples) = stats.take_window();
    let peer_b = m.pid().and_then(mosquitto::cpu_s);
    let dt = t.elapsed().as_secs_f64();
    let ours = (b.cpu_s.unwrap_or(0.0) - a.cpu_s.unwrap_or(0.0)) / dt;
    let peer = match (peer_a, peer_b) {
        (Some(x), Some(y)) => format!("(mosquitto {:.2} cores)", (y - x) / dt),
        _ => String::new(),
    };
    let rate = (b.sent - a.sent) as f64 / dt;
    r.line(
        &format!("{label}: CPU, {devices} devices at {rate:.0} msg/s"),
        format!("{ours:.2} cores {peer}"),
        "≤ 1 core",
        ours <= 1.0,
    );
    let per_device =
        (b.rss_kb.unwrap_or(0).saturating_sub(base_kb)) as f64 * 1024.0 / devices as f64 / 1000.0;
    r.line(
        &format!("{label}: memory per device"),
        format!(
            "{per_device:.1} KB (RSS {} MiB)",
            b.rss_kb.unwrap_or(0) / 1024
        ),
        "≤ 30 KB",
        per_device <= 30.0,
    );
    r.line(
        &format!("{label}: drops"),
        format!("{}", b.dropped),
        "0",
        b.dropped == 0,
    );
    let p99 = p99.unwrap_or(f64::INFINITY);
    r.line(
        &format!("{label}: publish → subscriber p50 / p99"),
        format!(
            "{:.1} / {p99:.1} ms ({samples} msgs)",
            p50.unwrap_or(f64::NAN)
        ),
        "p99 ≤ 100 ms",
        p99 <= 100.0,
    );
}

/// The plain-TCP phase, in its own process: the broker is the parent's.
fn plain_phase(port: u16, devices: u64, steady_s: u64) {
    let pki = Arc::new(FleetPki::derive(1, &["127.0.0.1".to_string()]).expect("fleet PKI"));
    let peer = mosquitto::Mosquitto::existing(
        std::env::var("SC_FLEET_PLAIN_PID")
            .ok()
            .and_then(|p| p.parse().ok()),
    );
    let rt = runtime();
    let mut r = Report { misses: Vec::new() };
    rt.block_on(async {
        let base_kb = rss_kb();
        let (stats, stop, task) = start(devices, ([127, 0, 0, 1], port).into(), false, &pki);
        let all = wait(&stats, Duration::from_secs(300), |s| s.connected == devices).await;
        assert!(all, "plain: every device connected");
        steady(
            &mut r,
            "plain TCP",
            &stats,
            &peer,
            devices,
            base_kb,
            steady_s,
        )
        .await;
        stop.cancel();
        task.await.expect("the fleet ends");
    });
    if !r.misses.is_empty() {
        eprintln!("missed: {}", r.misses.join(", "));
        std::process::exit(1);
    }
}

fn main() {
    if let Some(port) = std::env::var("SC_FLEET_PLAIN_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        let devices = env_u64("SC_FLEET_DEVICES", 10_000);
        smart_connect_sim::fleet::limits::ensure_fds(devices).expect("file descriptors");
        return plain_phase(port, devices, env_u64("SC_FLEET_STEADY_S", 30));
    }
    if !mosquitto::available() {
        println!("fleet bench: `mosquitto` not found (apt-get install mosquitto); skipped");
        return;
    }
    smart_connect_sim::adapters::certs::install_crypto_provider();
    let devices = env_u64("SC_FLEET_DEVICES", 10_000);
    let steady_s = env_u64("SC_FLEET_STEADY_S", 30);
    let outage_s = env_u64("SC_FLEET_OUTAGE_S", 30);
    smart_connect_sim::fleet::limits::ensure_fds(devices).expect("file descriptors");
    let dir = std::env::temp_dir().join(format!("sc-fleet-bench-{}", std::process::id()));
    let pki = Arc::new(FleetPki::derive(1, &["127.0.0.1".to_string()]).expect("fleet PKI"));
    pki.write_to(&dir).expect("write the PKI");
    let mut m = mosquitto::Mosquitto::start(&dir, &dir);
    let rt = runtime();
    let mut r = Report { misses: Vec::new() };
    rt.block_on(async {
        let base_kb = rss_kb();
        // 1. mTLS.
        let tls_addr: SocketAddr = ([127, 0, 0, 1], m.tls_port).into();
        let (stats, stop, task) = start(devices, tls_addr, true, &pki);
        let t = Instant::now();
        let all = wait(&stats, Duration::from_secs(300), |s| s.connected == devices).await;
        let took = t.elapsed().as_secs_f64();
        r.line(
            &format!("mTLS: {devices} connections established"),
            format!("{took:.1} s (ramp {}/s)", ramp_per_s()),
            "≤ 60 s",
            all && took <= 60.0,
        );
        steady(&mut r, "mTLS", &stats, &m, devices, base_kb, steady_s).await;
        // 2. Outage.
        m.kill();
        let lost = wait(&stats, Duration::from_secs(60), |s| s.connected == 0).await;
        assert!(lost, "the devices noticed the outage");
        tokio::time::sleep(Duration::from_secs(outage_s)).await;
        m.restart();
        let t = Instant::now();
        let back = wait(&stats, Duration::from_secs(300), |s| s.connected == devices).await;
        let took = t.elapsed().as_secs_f64();
        r.line(
            &format!("after a {outage_s} s outage: all {devices} back"),
            format!("{took:.1} s"),
            "≤ 8 s + 10 s",
            back && took <= 18.0,
        );
        stop.cancel();
        let fin = task.await.expect("the fleet ends");
        let peak = fin.max_attempts_per_s;
        println!(
            "  why attempts failed or connections broke: {:?}",
            fin.errors
        );
        // Slots are exact; a task woken a millisecond late can land in the next second.
        r.line(
            "most connection attempts in one second",
            format!("{peak}/s (whole run)"),
            &format!("≤ {}/s", ramp_per_s()),
            f64::from(peak) <= f64::from(ramp_per_s()) * 1.02,
        );
    });
    // 3. Plain TCP, in a fresh process of this bench (so its memory starts from nothing).
    let out = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env("SC_FLEET_PLAIN_PORT", m.plain_port.to_string())
        .env("SC_FLEET_PLAIN_PID", m.pid().unwrap_or(0).to_string())
        .output()
        .expect("the plain-TCP run");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        r.misses.push(format!(
            "plain TCP run: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !r.misses.is_empty() && std::env::var_os("SC_FLEET_CHECK").is_some() {
        eprintln!("missed: {}", r.misses.join(", "));
        std::process::exit(1);
    }
}
