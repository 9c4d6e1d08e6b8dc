//! The simulator's bench rig (`run --rig ADDR`): a small HTTP control endpoint that does to
//! the virtual device what a lab bench does to a real one — switch power, hold the button,
//! read the LED, set the device clock, change the LAN, take the MQTT broker down, stage
//! firmware, read the P1 ext output, and bring a factory-new device between scenarios. With
//! `--speed rig` it is also the device's clock: time moves only when the harness says so,
//! after the meter feed has delivered the bytes sent before (so a remote run is as fast and
//! as deterministic as the in-process one). The protocol types live in `target::rig_client`.

use super::broker::EmbeddedBroker;
use super::host::Host;
use crate::device::firmware::FirmwareImage;
use crate::device::network::Lan;
use crate::device::power::PowerInputs;
use crate::device::{DeviceConfig, Event};
use crate::dut::rig_client::{
    Button, DeviceClock, FirmwareOffer, LedReading, P1Ext, Power, Reachable, RigInfo, TimeAsk,
    TimeNow,
};
use crate::dut::OwnBroker;
use crate::sim::clock::VirtualClock;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Bytes the meter feed has put on the device's input on its current connection.
#[derive(Debug, Clone)]
pub struct FeedCounter(Arc<watch::Sender<u64>>);

impl Default for FeedCounter {
    fn default() -> Self {
        FeedCounter(Arc::new(watch::Sender::new(0)))
    }
}

impl FeedCounter {
    /// A new feed connection: counting starts again.
    pub fn reset(&self) {
        self.0.send_replace(0);
    }

    pub fn add(&self, n: usize) {
        self.0.send_modify(|c| *c += n as u64);
    }

    pub fn get(&self) -> u64 {
        *self.0.borrow()
    }

    /// Wait until `n` bytes have arrived (at most `limit` of real time).
    pub async fn wait_for(&self, n: u64, limit: Duration) -> Result<(), u64> {
        let mut rx = self.0.subscribe();
        let arrived = tokio::time::timeout(limit, rx.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|r| r.is_ok());
        if arrived {
            Ok(())
        } else {
            Err(self.get())
        }
    }
}

/// What the rig controls and reports.
pub struct Rig {
    pub host: Arc<Host>,
    /// The device a "fresh" request builds (variant, label, firmware, planted defects).
    pub hw: DeviceConfig,
    /// The device's clock when the rig drives time (`--speed rig`).
    pub clock: Option<VirtualClock>,
    pub fed: FeedCounter,
    pub broker: Option<Arc<EmbeddedBroker>>,
    /// Where the harness watches the device's MQTT messages, with an account.
    pub watch: Option<OwnBroker>,
    /// An installer's own broker with an account for the device (MQ-07).
    pub own_broker: Option<OwnBroker>,
    pub modbus: SocketAddr,
    pub http: String,
    pub https: String,
    pub https_ca_pem: String,
    /// Every request must carry `Authorization: Bearer <token>` (printed by `run`).
    pub token: String,
}

type Shared = Arc<Rig>;
type Reply<T> = Result<Json<T>, (StatusCode, String)>;

/// Connections the rig serves at once (a harness needs one or two).
const MAX_CONNECTIONS: usize = 16;

/// How long a time request waits for meter bytes still on their way.
const FEED_WAIT: Duration = Duration::from_secs(10);

impl Rig {
    fn info(&self) -> RigInfo {
        let id = &self.hw.identity;
        RigInfo {
            variant: self.hw.variant.label().to_string(),
            serial: id.serial.clone(),
            mac: id.mac_string(),
            password: id.label_password.clone(),
            now: self.host.now(),
            fed_bytes: self.fed.get(),
            drives_time: self.clock.is_some(),
            modbus: self.modbus.to_string(),
            http: self.http.clone(),
            https: self.https.clone(),
            https_ca_pem: self.https_ca_pem.clone(),
            watch: self.watch.clone(),
            own_broker: self.own_broker.clone(),
        }
    }
}

/// Serve the rig on `listener` until the process ends: only to clients with the token, with
/// the API's head and body timeouts and a budget of `MAX_CONNECTIONS`.
pub fn serve(rig: Rig, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let rig = Arc::new(rig);
    let app = Router::new()
        .route("/rig", get(info))
        .route("/rig/fresh", post(fresh))
        .route("/rig/power", post(power))
        .route("/rig/button", post(button))
        .route("/rig/led", get(led))
        .route("/rig/time", post(time))
        .route("/rig/device-clock", post(device_clock))
        .route("/rig/lan", post(lan))
        .route("/rig/broker", post(broker))
        .route("/rig/broker/clients", get(broker_clients))
        .route("/rig/firmware", post(firmware))
        .route("/rig/p1-ext", get(p1_ext))
        .layer(axum::middleware::from_fn(super::http::whole_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&rig),
            authorize,
        ))
        .with_state(rig);
    super::http::serve_plain(listener, app, MAX_CONNECTIONS)
}

/// 401 unless the request carries the rig's token (compared in constant time).
async fn authorize(
    State(rig): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.as_bytes(), rig.token.as_bytes()) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(axum::http::header::WWW_AUTHENTICATE, "Bearer realm=\"rig\"")],
        "the bench rig needs the token `run --rig` printed: Authorization: Bearer <token>",
    )
        .into_response()
}

/// Equal bytes, in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

async fn info(State(rig): State<Shared>) -> Json<crate::dut::rig_client::RigInfo> {
    Json(rig.info())
}

async fn fresh(State(rig): State<Shared>) -> Json<RigInfo> {
    rig.host.factory_fresh(rig.hw.clone());
    if let Some(b) = &rig.broker {
        b.set_reachable(true);
    }
    Json(rig.info())
}

async fn power(State(rig): State<Shared>, Json(p): Json<Power>) -> Json<TimeNow> {
    rig.host.handle(Event::Power(PowerInputs {
        usb: p.usb,
        p1_supply: p.meter,
    }));
    now(&rig)
}

async fn button(State(rig): State<Shared>, Json(b): Json<Button>) -> Json<TimeNow> {
    rig.host.handle(if b.down {
        Event::ButtonDown
    } else {
        Event::ButtonUp
    });
    now(&rig)
}

async fn led(State(rig): State<Shared>) -> Json<LedReading> {
    let t = rig.host.now();
    Json(LedReading {
        colour: rig.host.led_colour_at(t),
    })
}

fn now(rig: &Rig) -> Json<TimeNow> {
    Json(TimeNow {
        now: rig.host.now(),
    })
}

async fn time(State(rig): State<Shared>, Json(ask): Json<TimeAsk>) -> Reply<TimeNow> {
    if let Err(got) = rig.fed.wait_for(ask.fed_bytes, FEED_WAIT).await {
        return Err((
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the meter feed delivered {got} of the {} bytes sent on this connection within {} s",
                ask.fed_bytes,
                FEED_WAIT.as_secs()
            ),
        ));
    }
    match (&rig.clock, ask.until) {
        (Some(clock), Some(until)) => {
            clock.advance_to(until.max(rig.host.now()));
            rig.host.handle(Event::Tick);
            // Let the adapters (Modbus idle watchdog, MQTT back-off) see the new time.
            tokio::task::yield_now().await;
        }
        (None, Some(_)) => {
            return Err((
                StatusCode::CONFLICT,
                "this device keeps its own time (start `run` with --speed rig to drive it)".into(),
            ))
        }
        (_, None) => {}
    }
    Ok(now(&rig))
}

async fn device_clock(State(rig): State<Shared>, Json(c): Json<DeviceClock>) -> Json<TimeNow> {
    rig.host.set_device_time(c.utc);
    rig.host.handle(Event::Tick);
    now(&rig)
}

async fn lan(State(rig): State<Shared>, Json(l): Json<Lan>) -> Json<TimeNow> {
    rig.host.handle(Event::Lan(l));
    now(&rig)
}

fn no_broker() -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        "this simulator talks to an external broker (--mqtt URL); the rig controls only the embedded one".into(),
    )
}

async fn broker(State(rig): State<Shared>, Json(r): Json<Reachable>) -> Reply<TimeNow> {
    let b = rig.broker.as_ref().ok_or_else(no_broker)?;
    b.set_reachable(r.reachable);
    Ok(now(&rig))
}

async fn broker_clients(
    State(rig): State<Shared>,
) -> Reply<Vec<crate::adapters::broker::TlsClient>> {
    let b = rig.broker.as_ref().ok_or_else(no_broker)?;
    Ok(Json(b.tls_clients()))
}

async fn firmware(State(rig): State<Shared>, Json(f): Json<FirmwareOffer>) -> Json<TimeNow> {
    rig.host.with_device_mut(|d| {
        d.offer_firmware(FirmwareImage {
            version: f.version,
            good: f.good,
        })
    });
    now(&rig)
}

async fn p1_ext(State(rig): State<Shared>) -> Json<P1Ext> {
    let bytes = rig.host.take_p1_ext();
    Json(P1Ext {
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
