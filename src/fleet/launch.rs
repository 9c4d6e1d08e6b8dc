//! Starting a fleet: the PKI and TLS settings, each device of the shard built from its plan
//! (identity, certificate, meter, faults), one task per device, the optional tap, progress
//! every few seconds, and the final numbers.

use super::device::FleetDevice;
use super::pki::FleetPki;
use super::plan::{mix64, DevicePlan, MeterMix, Shard};
use super::stats::{FleetStats, Snapshot};
use super::wire::Dialer;
use super::{Ramp, Shared};
use crate::sim::clock::Millis;
use crate::sim::generator::{Load, SyntheticMeter};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How devices log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Client certificate, CN = serial (MQ-05); needs `mqtts://`.
    Mtls,
    /// Username = serial, password = label password (MQ-07), over TLS or plain.
    Password,
}

/// Everything a fleet run needs.
pub struct FleetOptions {
    pub devices: u64,
    pub shard: Shard,
    pub mix: MeterMix,
    pub seed: u64,
    pub ramp_per_s: u32,
    /// Device time to run; `None`: until stopped.
    pub duration_ms: Option<Millis>,
    pub speed: u32,
    pub broker: SocketAddr,
    /// The name the broker certificate is checked for.
    pub broker_host: String,
    pub tls: bool,
    pub auth: Auth,
    /// The CA devices check the broker with (PEM); `None`: the fleet CA.
    pub broker_ca_pem: Option<String>,
    pub pki: Arc<FleetPki>,
    pub site: String,
    pub keep_alive_s: u16,
    pub tap: bool,
    pub bad_clock_pct: f64,
    pub silent_pct: f64,
    /// Called with each progress snapshot (every `progress_every`).
    pub progress_every: std::time::Duration,
    pub stop: CancellationToken,
}

/// Why a fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Plan(#[from] super::plan::PlanError),
    #[error(transparent)]
    Pki(#[from] crate::adapters::certs::PkiError),
    #[error("TLS settings: {0}")]
    Tls(String),
    #[error(
        "--auth mtls needs an mqtts:// broker URL (mutual TLS); use --auth password for mqtt://"
    )]
    MtlsWithoutTls,
}

/// A device clock for rustls: fleet device time plus a fixed offset (the bad-clock fault).
#[derive(Debug)]
struct FleetClock {
    epoch: std::time::Instant,
    t0_ms: Millis,
    speed: u32,
    offset_ms: Millis,
}

impl rustls::time_provider::TimeProvider for FleetClock {
    fn current_time(&self) -> Option<UnixTime> {
        let dev = self.epoch.elapsed().as_millis() * u128::from(self.speed);
        let ms = self.t0_ms + Millis::try_from(dev).ok()? + self.offset_ms;
        u64::try_from(ms)
            .ok()
            .map(|ms| UnixTime::since_unix_epoch(std::time::Duration::from_millis(ms)))
    }
}

/// A device's (or the tap's) TLS settings: the broker checked with `verifier` at `clock`, the
/// client certificate `id` presented (mTLS) if given, no session resumption (a session of one
/// device must never be resumed by another, and a cache of 256 sessions per device would cost
/// more memory than the device itself).
fn tls_config(
    provider: &Arc<rustls::crypto::CryptoProvider>,
    clock: Arc<FleetClock>,
    verifier: &Arc<rustls::client::WebPkiServerVerifier>,
    id: Option<super::pki::ClientIdentity>,
) -> Result<Arc<rustls::ClientConfig>, FleetError> {
    let tls = |e: rustls::Error| FleetError::Tls(e.to_string());
    let b = rustls::ClientConfig::builder_with_details(Arc::clone(provider), clock)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_webpki_verifier(Arc::clone(verifier));
    let mut cfg = match id {
        Some(id) => {
            let key = id.key();
            b.with_client_auth_cert(id.chain, key).map_err(tls)?
        }
        None => b.with_no_client_auth(),
    };
    cfg.resumption = Resumption::disabled();
    Ok(Arc::new(cfg))
}

/// Whether device `index` has fault `salt` at `pct` percent.
fn has_fault(seed: u64, salt: u64, index: u64, pct: f64) -> bool {
    let u = (mix64(seed ^ salt, index) >> 11) as f64 / (1u64 << 53) as f64;
    u * 100.0 < pct
}

const SALT_CLOCK: u64 = 0xC10C_0000;
const SALT_SILENT: u64 = 0x5113_0000;

/// Run the shard's devices until the duration is over or `stop`; the final numbers.
pub async fn run(o: FleetOptions, progress: impl FnMut(&Snapshot)) -> Result<Snapshot, FleetError> {
    Ok(prepare(o)?.run(progress).await)
}

/// A shard's devices, built and not yet running.
pub struct Fleet {
    shared: Arc<Shared>,
    devices: Vec<FleetDevice>,
    tap: Option<(Dialer, HashMap<String, usize>)>,
    progress_every: std::time::Duration,
}

/// Build the shard's devices (identities, certificates, meters, faults) and the tap.
pub fn prepare(o: FleetOptions) -> Result<Fleet, FleetError> {
    if o.auth == Auth::Mtls && !o.tls {
        return Err(FleetError::MtlsWithoutTls);
    }
    let range = o.shard.range(o.devices)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = o
        .broker_ca_pem
        .clone()
        .unwrap_or_else(|| o.pki.ca_pem().to_string());
    use rustls::pki_types::pem::PemObject;
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let c = c.map_err(|e| FleetError::Tls(format!("broker CA: {e}")))?;
        roots
            .add(c)
            .map_err(|e| FleetError::Tls(format!("broker CA: {e}")))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| FleetError::Tls(e.to_string()))?;
    let server_name = ServerName::try_from(o.broker_host.clone())
        .map_err(|e| FleetError::Tls(format!("broker host {:?}: {e}", o.broker_host)))?;
    let wall_ms = chrono::Utc::now().timestamp_millis();
    let t0_ms = wall_ms - wall_ms.rem_euclid(1000);
    let epoch = tokio::time::Instant::now();
    let std_epoch = std::time::Instant::now();
    let end_real = match o.duration_ms {
        Some(d) => {
            epoch
                + std::time::Duration::from_millis(
                    u64::try_from(d).unwrap_or(0) / u64::from(o.speed.max(1)),
                )
        }
        None => super::far_future(),
    };
    let n = range.end - range.start;
    let stats = Arc::new(FleetStats::new(n));
    let mut devices = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut slots = HashMap::new();
    let mut expected = 0;
    for (slot, index) in range.clone().enumerate() {
        let plan = DevicePlan::derive(o.seed, index, &o.mix);
        let bad_clock = has_fault(o.seed, SALT_CLOCK, index, o.bad_clock_pct);
        expected += u64::from(!bad_clock);
        stats
            .bad_clock_devices
            .fetch_add(u64::from(bad_clock), std::sync::atomic::Ordering::Relaxed);
        let clock = Arc::new(FleetClock {
            epoch: std_epoch,
            t0_ms,
            speed: o.speed.max(1),
            offset_ms: if bad_clock { -t0_ms } else { 0 },
        });
        let tls = if o.tls {
            let id = match o.auth {
                Auth::Mtls => Some(o.pki.device(index, &plan.identity.serial)?),
                Auth::Password => None,
            };
            let cfg = tls_config(&provider, clock, &verifier, id)?;
            Some((cfg, server_name.clone()))
        } else {
            None
        };
        let dialer = Dialer {
            addr: o.broker,
            tls,
            client_id: plan.identity.serial.clone(),
            login: (o.auth == Auth::Password).then(|| {
                (
                    plan.identity.serial.clone(),
                    plan.identity.label_password.clone(),
                )
            }),
            keep_alive_s: o.keep_alive_s,
        };
        let load = Load::Household(crate::sim::generator::default_load());
        let meter = SyntheticMeter::new(plan.kind, load, plan.meter_seed, t0_ms + plan.phase_ms);
        let mut d = FleetDevice::new(
            slot,
            plan.identity.serial.clone(),
            meter,
            dialer,
            &o.site,
            mix64(o.seed, index ^ 0xB0FF),
        );
        if has_fault(o.seed, SALT_SILENT, index, o.silent_pct) {
            let span = o.duration_ms.unwrap_or(3_600_000).max(60_000);
            let r = mix64(o.seed ^ SALT_SILENT, index ^ 0xFFFF);
            let from = t0_ms + (r % span as u64) as Millis;
            let len = 30_000 + ((r >> 32) % 270_000) as Millis;
            d.silent = Some((from, from + len));
            stats
                .silent_devices
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if o.tap {
            slots.insert(plan.identity.serial, slot);
        }
        devices.push(d);
    }
    let shared = Arc::new(Shared {
        stats: Arc::clone(&stats),
        ramp: Ramp::per_second(o.ramp_per_s),
        site: o.site.clone(),
        epoch,
        t0_ms,
        speed: o.speed.max(1),
        end_real,
        // A child: the end of the run stops the tap without cancelling the caller's token.
        stop: o.stop.child_token(),
        expected_connected: expected,
    });
    let mut tap = None;
    if o.tap {
        let tls = if o.tls {
            let clock = Arc::new(FleetClock {
                epoch: std_epoch,
                t0_ms,
                speed: o.speed.max(1),
                offset_ms: 0,
            });
            let cfg = tls_config(&provider, clock, &verifier, Some(o.pki.tap()?))?;
            Some((cfg, server_name.clone()))
        } else {
            None
        };
        let dialer = Dialer {
            addr: o.broker,
            tls,
            client_id: format!("{}-{}", super::pki::TAP_CN, o.shard.index),
            login: None,
            keep_alive_s: o.keep_alive_s,
        };
        tap = Some((dialer, slots));
    }
    Ok(Fleet {
        shared,
        devices,
        tap,
        progress_every: o.progress_every,
    })
}

impl Fleet {
    /// The counters the devices update (live).
    pub fn stats(&self) -> Arc<FleetStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Run every device until the end; `progress` gets a snapshot every `progress_every`
    /// with the latency of the samples since the previous one (`recent_*`). The final numbers.
    pub async fn run(self, mut progress: impl FnMut(&Snapshot)) -> Snapshot {
        let Fleet {
            shared,
            devices,
            tap,
            progress_every,
        } = self;
        // The tap on a thread and runtime of its own: a subscriber that waits behind ten
        // thousand device tasks in the run queue would measure our scheduler, not the broker.
        let tap = tap.map(|(dialer, slots)| {
            let sh = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("fleet-tap".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(super::tap::run(sh, dialer, slots));
                    }
                })
        });
        let mut tasks = tokio::task::JoinSet::new();
        let pacer = {
            let sh = Arc::clone(&shared);
            tokio::spawn(async move { sh.ramp.pace(sh.stop.clone()).await })
        };
        for d in devices {
            tasks.spawn(d.run(Arc::clone(&shared)));
        }
        let stats = &shared.stats;
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(start + progress_every, progress_every);
        loop {
            tokio::select! {
                done = tasks.join_next() => if done.is_none() { break },
                _ = tick.tick() => {
                    let mut s = stats.snapshot();
                    (s.recent_p50_ms, s.recent_p99_ms, _) = stats.take_window();
                    progress(&s);
                }
            }
        }
        shared.stop.cancel();
        let _ = pacer.await;
        if let Some(Ok(t)) = tap {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        stats.snapshot()
    }
}
