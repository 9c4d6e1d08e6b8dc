//! One scenario's view of the remote device: fresh at the start (when the bench can make it
//! so), its clients (Modbus, HTTP, MQTT watch), and each bench ability routed to a hook
//! command, the rig, the operator, or a clear "this bench cannot" error.

use super::super::api_client::ApiClient;
use super::super::rig_client::{RigClient, RigInfo};
use super::super::{OwnBroker, Target, TargetError};
use super::hooks::{ask_colour, instruct, parse_colour, run_hook};
use super::watch::Watch;
use super::{MeterLine, RemoteBench};
use crate::adapters::broker::{Message, TlsClient};
use crate::adapters::modbus_client::ModbusClient;
use crate::device::identity::Identity;
use crate::device::led::Color;
use crate::device::network::Lan;
use crate::device::Variant;
use crate::sim::clock::Millis;
use async_trait::async_trait;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Debug)]
pub struct RemoteTarget {
    bench: Arc<RemoteBench>,
    rig: Option<RigClient>,
    variant: Variant,
    label: Identity,
    /// Time is moved by the harness (a rig or `time` hook drives the device's clock).
    drives_time: bool,
    /// The device's time as last reported (when the harness drives it).
    now: Millis,
    modbus_addr: SocketAddr,
    client: ModbusClient,
    api: ApiClient,
    http: String,
    https: String,
    ca_pem: Option<String>,
    watch: Option<Watch>,
    own_broker: Option<OwnBroker>,
}

/// Where the HTTP clients point when the target declares no HTTP API (nothing listens on
/// port 0; the suite skips `@needs-http` scenarios, so only a mis-tagged step gets here).
const NO_HTTP: &str = "http://127.0.0.1:0";

/// In real time, one LED sample (250 ms) either way: a hook or an operator takes time to
/// look, and the harness's and the device's clocks are not in step.
const REAL_TIME_TOLERANCE_MS: Millis = 250;

fn wall_clock() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

fn parse_mac(s: &str) -> Result<[u8; 6], TargetError> {
    let parts: Vec<u8> = s
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| TargetError::bench(format!("label.mac {s:?}: expected AA:BB:CC:DD:EE:FF")))?;
    parts
        .try_into()
        .map_err(|_| TargetError::bench(format!("label.mac {s:?}: expected six bytes")))
}

fn resolve(addr: &str) -> Result<SocketAddr, TargetError> {
    addr.to_socket_addrs()
        .map_err(|e| TargetError::bench(format!("modbus address {addr:?}: {e}")))?
        .next()
        .ok_or_else(|| TargetError::bench(format!("modbus address {addr:?} resolves to nothing")))
}

fn on_off(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

impl RemoteTarget {
    /// Set up one scenario on the bench's device: make it fresh (hook, rig or operator),
    /// connect the meter line, and prepare the clients.
    pub async fn open(bench: Arc<RemoteBench>, variant: Variant) -> Result<Self, TargetError> {
        let cfg = bench.config().clone();
        let rig = bench.rig.clone();
        let mut info: Option<RigInfo> = match &rig {
            Some(r) => Some(r.info().await?),
            None => None,
        };
        if let Some(cmd) = &cfg.hooks.fresh {
            run_hook(&cfg.dir, "fresh", cmd, &[]).await?;
        } else if let Some(r) = &rig {
            info = Some(r.fresh().await?);
        } else if cfg.interactive {
            instruct("Factory-reset the Smart Connect (hold the button 10 s or use the web interface) and unplug all its power").await?;
        }
        let label = match (&cfg.label, &info) {
            (Some(l), _) => Identity {
                serial: l.serial.clone(),
                mac: parse_mac(&l.mac)?,
                label_password: l.password.clone(),
            },
            (None, Some(i)) => Identity {
                serial: i.serial.clone(),
                mac: parse_mac(&i.mac)?,
                label_password: i.password.clone(),
            },
            // A device judged over Modbus alone needs no label.
            (None, None) => Identity {
                serial: String::new(),
                mac: [0; 6],
                label_password: String::new(),
            },
        };
        let modbus = cfg
            .modbus
            .clone()
            .or(info.as_ref().map(|i| i.modbus.clone()));
        let modbus_addr = match &modbus {
            Some(a) => resolve(a)?,
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        // Without an HTTP API the clients point nowhere; the suite skips what needs them.
        let http = cfg
            .http
            .clone()
            .or(info.as_ref().map(|i| i.http.clone()))
            .unwrap_or_else(|| NO_HTTP.to_string());
        let https = cfg
            .https
            .clone()
            .or(info.as_ref().map(|i| i.https.clone()))
            .unwrap_or_else(|| http.replacen("http://", "https://", 1));
        let ca_pem = match &cfg.https_ca {
            Some(p) => Some(
                cfg.read_pem(p, "https_ca")
                    .map_err(|e| TargetError(e.to_string()))?,
            ),
            None => info.as_ref().map(|i| i.https_ca_pem.clone()),
        };
        let watch = match cfg.watch().map_err(|e| TargetError(e.to_string()))? {
            Some(w) => Some(w),
            None => info.as_ref().and_then(|i| i.watch.as_ref()).map(|w| Watch {
                url: w.url.clone(),
                username: Some(w.username.clone()),
                password: Some(w.password.clone()),
                ..Watch::default()
            }),
        };
        let own_broker = cfg
            .own_broker
            .clone()
            .or(info.as_ref().and_then(|i| i.own_broker.clone()));
        let drives_time = cfg.hooks.time.is_some() || info.as_ref().is_some_and(|i| i.drives_time);
        {
            let mut line = bench.line.lock().await;
            if line.is_none() {
                *line = Some(
                    MeterLine::new(
                        cfg.feed.clone(),
                        variant,
                        cfg.meter_kinds().map_err(|e| TargetError(e.to_string()))?,
                    )
                    .await?,
                );
            }
            line.as_mut().expect("set above").ensure().await?;
        }
        let api = ApiClient::new(&http, "user", &label.label_password, None)?;
        let mut t = RemoteTarget {
            rig,
            variant,
            label,
            drives_time,
            now: info.as_ref().map_or_else(wall_clock, |i| i.now),
            client: ModbusClient::new(modbus_addr),
            modbus_addr,
            api,
            http,
            https,
            ca_pem,
            watch,
            own_broker,
            bench,
        };
        if t.drives_time {
            // Everything sent so far has arrived, and we know the device's time.
            t.time(None).await?;
        }
        Ok(t)
    }

    fn lacks(&self, what: &str, tag: &str) -> TargetError {
        TargetError::bench(format!(
            "this bench cannot {what}: give the target file a hook or a rig for it, or run with --interactive (scenarios needing it are tagged @{tag})"
        ))
    }

    /// Drive the device's clock: once the meter bytes sent have arrived, move to `until`.
    async fn time(&mut self, until: Option<Millis>) -> Result<(), TargetError> {
        let bench = Arc::clone(&self.bench);
        let fed = bench
            .line
            .lock()
            .await
            .as_ref()
            .map_or(0, MeterLine::written);
        let now = if let Some(cmd) = &self.bench.cfg.hooks.time {
            let until_s = until.map(|u| u.to_string()).unwrap_or_default();
            let out = run_hook(
                &self.bench.cfg.dir,
                "time",
                cmd,
                &[("until_ms", until_s), ("fed_bytes", fed.to_string())],
            )
            .await?;
            out.parse::<Millis>().map_err(|_| {
                TargetError::bench(format!(
                    "hook `time` printed {out:?}, not the device time in ms"
                ))
            })?
        } else if let Some(r) = &self.rig {
            r.time(until, fed).await?
        } else {
            return Err(TargetError::bench(
                "no rig or time hook drives this device's clock",
            ));
        };
        self.now = now;
        Ok(())
    }
}

#[async_trait]
impl Target for RemoteTarget {
    fn second_client_addr(&self) -> Option<std::net::IpAddr> {
        self.bench.cfg.second_client_addr
    }

    fn max_latency_ms(&self) -> Millis {
        if self.drives_time {
            0
        } else {
            self.bench.cfg.max_latency_ms as Millis
        }
    }

    fn boot_ms(&self) -> Millis {
        self.bench.cfg.boot_ms as Millis
    }

    fn timing_tolerance_ms(&self) -> Millis {
        if self.drives_time {
            0
        } else {
            REAL_TIME_TOLERANCE_MS
        }
    }

    fn variant(&self) -> Variant {
        self.variant
    }

    fn label(&self) -> Identity {
        self.label.clone()
    }

    fn now(&self) -> Millis {
        if self.drives_time {
            self.now
        } else {
            wall_clock()
        }
    }

    fn modbus_addr(&self) -> SocketAddr {
        self.modbus_addr
    }

    async fn send_meter_bytes(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        {
            let mut line = self.bench.line.lock().await;
            let line = line
                .as_mut()
                .ok_or_else(|| TargetError::bench("meter line not set up"))?;
            line.send(bytes).await?;
        }
        if self.drives_time {
            self.time(None).await
        } else {
            // Real time: give the device the time a telegram takes to digest before a step looks.
            tokio::time::sleep(Duration::from_millis(self.bench.cfg.settle_ms)).await;
            Ok(())
        }
    }

    async fn wait_until(&mut self, t: Millis) -> Result<(), TargetError> {
        if self.drives_time {
            return self.time(Some(t)).await;
        }
        let ahead = t - wall_clock();
        if ahead > 0 {
            tokio::time::sleep(Duration::from_millis(ahead as u64)).await;
        }
        Ok(())
    }

    async fn set_power(&mut self, usb: bool, meter_supply: bool) -> Result<(), TargetError> {
        let h = &self.bench.cfg.hooks;
        if let Some(cmd) = &h.power {
            run_hook(
                &self.bench.cfg.dir,
                "power",
                cmd,
                &[("usb", on_off(usb)), ("meter", on_off(meter_supply))],
            )
            .await?;
        } else if let Some(r) = &self.rig {
            self.now = r.power(usb, meter_supply).await?.now.max(self.now);
        } else if self.bench.cfg.interactive {
            instruct(&format!(
                "Power: USB-C {}, meter P1 supply {}",
                if usb { "PLUGGED IN" } else { "UNPLUGGED" },
                if meter_supply {
                    "CONNECTED"
                } else {
                    "DISCONNECTED"
                }
            ))
            .await?;
        } else if !(usb || meter_supply) {
            return Err(self.lacks("switch the power off", "needs-power"));
        }
        Ok(())
    }

    async fn button_down(&mut self) -> Result<(), TargetError> {
        if let Some(cmd) = &self.bench.cfg.hooks.button {
            run_hook(
                &self.bench.cfg.dir,
                "button",
                cmd,
                &[("state", "down".into())],
            )
            .await
            .map(|_| ())
        } else if let Some(r) = &self.rig {
            r.button(true).await.map(|_| ())
        } else if self.bench.cfg.interactive {
            instruct("Press the button and KEEP HOLDING it").await
        } else {
            Err(self.lacks("press the button", "needs-button"))
        }
    }

    async fn button_up(&mut self) -> Result<(), TargetError> {
        if let Some(cmd) = &self.bench.cfg.hooks.button {
            run_hook(
                &self.bench.cfg.dir,
                "button",
                cmd,
                &[("state", "up".into())],
            )
            .await
            .map(|_| ())
        } else if let Some(r) = &self.rig {
            r.button(false).await.map(|_| ())
        } else if self.bench.cfg.interactive {
            instruct("Release the button").await
        } else {
            Err(self.lacks("release the button", "needs-button"))
        }
    }

    async fn led_colour(&mut self) -> Result<Color, TargetError> {
        if let Some(cmd) = &self.bench.cfg.hooks.led {
            let out = run_hook(&self.bench.cfg.dir, "led", cmd, &[]).await?;
            parse_colour(&out).ok_or_else(|| {
                TargetError::bench(format!(
                    "hook `led` printed {out:?}, not red/green/blue/orange/off"
                ))
            })
        } else if let Some(r) = &self.rig {
            r.led().await
        } else if self.bench.cfg.interactive {
            ask_colour().await
        } else {
            Err(self.lacks("see the LED", "needs-led"))
        }
    }

    async fn set_lan(&mut self, lan: Lan) -> Result<(), TargetError> {
        if let Some(r) = &self.rig {
            r.lan(&lan).await.map(|_| ())
        } else if self.bench.cfg.interactive {
            instruct(&format!(
                "Arrange the network: {}",
                serde_json::to_string(&lan).unwrap_or_default()
            ))
            .await
        } else if lan == Lan::default() {
            Ok(())
        } else {
            Err(self.lacks("change the network", "needs-network"))
        }
    }

    async fn offer_firmware(&mut self, version: &str, good: bool) -> Result<(), TargetError> {
        if let Some(cmd) = &self.bench.cfg.hooks.firmware {
            let vars = [("version", version.to_string()), ("good", on_off(good))];
            return run_hook(&self.bench.cfg.dir, "firmware", cmd, &vars)
                .await
                .map(|_| ());
        }
        match &self.rig {
            Some(r) => r.firmware(version, good).await.map(|_| ()),
            None => Err(self.lacks(
                &format!("stage firmware {version} on an update server"),
                "needs-update-server",
            )),
        }
    }

    fn modbus(&mut self) -> &mut ModbusClient {
        &mut self.client
    }

    async fn take_p1_ext(&mut self) -> Result<Vec<u8>, TargetError> {
        let bench = Arc::clone(&self.bench);
        if let Some(bytes) = bench.take_p1_ext().await? {
            return Ok(bytes);
        }
        match &self.rig {
            Some(r) => r.p1_ext().await,
            None => Err(self.lacks("read the P1 ext output", "needs-p1-ext")),
        }
    }

    fn api(&self) -> &ApiClient {
        &self.api
    }

    async fn mqtt_subscribe(
        &mut self,
        filter: &str,
    ) -> Result<UnboundedReceiver<Message>, TargetError> {
        match &self.watch {
            Some(w) => w.subscribe(filter).await,
            None => Err(TargetError::bench(
                "the target file has no `mqtt:` broker to watch",
            )),
        }
    }

    async fn mqtt_publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), TargetError> {
        match &self.watch {
            Some(w) => w.publish(topic, payload).await,
            None => Err(TargetError::bench(
                "the target file has no `mqtt:` broker to publish on",
            )),
        }
    }

    async fn set_broker_reachable(&mut self, reachable: bool) -> Result<(), TargetError> {
        match &self.rig {
            Some(r) => r.broker(reachable).await.map(|_| ()),
            None => Err(self.lacks("take the broker down", "needs-broker")),
        }
    }

    async fn mqtt_clients(&mut self) -> Result<Vec<TlsClient>, TargetError> {
        match &self.rig {
            Some(r) => r.broker_clients().await,
            None => Err(self.lacks("read the broker's connection log", "needs-broker")),
        }
    }

    fn own_broker(&self) -> Option<OwnBroker> {
        self.own_broker.clone()
    }

    async fn set_device_clock(&mut self, utc: Millis) -> Result<(), TargetError> {
        if let Some(cmd) = &self.bench.cfg.hooks.device_clock {
            run_hook(
                &self.bench.cfg.dir,
                "device_clock",
                cmd,
                &[("utc_ms", utc.to_string())],
            )
            .await
            .map(|_| ())
        } else if let Some(r) = &self.rig {
            r.device_clock(utc).await.map(|_| ())
        } else if self.bench.cfg.interactive {
            let when = chrono::DateTime::from_timestamp_millis(utc)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default();
            instruct(&format!("Set the device clock to {when} (UTC)")).await
        } else {
            Err(self.lacks("set the device clock", "needs-clock"))
        }
    }

    fn http_url(&self) -> String {
        self.http.trim_end_matches('/').to_string()
    }

    fn https_url(&self) -> String {
        self.https.trim_end_matches('/').to_string()
    }

    fn https_ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }
}
