//! The `Virtual` target: a device host in this process on a virtual clock, with its Modbus
//! server on an ephemeral loopback port. Time advances only when a step says so; the device
//! runs every transition due on the way at its own instant, so timeouts and LED changes
//! happen at the exact virtual time. Modbus is read over the real socket.
//!
//! The adapters (the device's MQTT client, the embedded broker) do real I/O on loopback
//! sockets, so a step that looks at what they did first calls `settle`: a barrier on their
//! own progress — the client has taken in every device effect and the current time, is not
//! in the middle of a connection attempt or a write, has received the commands sent to it,
//! and everything it wrote has reached the suite's subscriptions (through `MqttTap`). Real
//! time only bounds that wait as a hang guard (`SETTLE_CEILING`), never decides a verdict.

use super::api_client::ApiClient;
use super::mqtt_tap::{matches, MqttTap};
use super::{Capabilities, OwnBroker, Target, TargetError};
use crate::adapters::broker::{
    BrokerOptions, EmbeddedBroker, Message, TlsClient, OWN_BROKER_HOST, OWN_BROKER_PASSWORD,
    OWN_BROKER_USER,
};
use crate::adapters::certs::TestPki;
use crate::adapters::host::Host;
use crate::adapters::http::{HttpOptions, HttpServer};
use crate::adapters::modbus::ModbusServer;
use crate::adapters::modbus_client::ModbusClient;
use crate::adapters::mqtt::{MqttClient, MqttOptions};
use crate::adapters::net::{Listener, Net};
use crate::device::config::Config;
use crate::device::firmware::FirmwareImage;
use crate::device::identity::Identity;
use crate::device::led::Color;
use crate::device::network::Lan;
use crate::device::power::PowerInputs;
use crate::device::store::{ConfigStore, MemStore, StoreError};
use crate::device::{DeviceConfig, Effect, Event, Variant};
use crate::sim::clock::{Millis, VirtualClock};
use async_trait::async_trait;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::mpsc::UnboundedReceiver;

/// The longest real time `settle` waits for the adapters before it reports a hang (a bench
/// fault naming what they were doing). Loopback I/O takes milliseconds; this is only a guard.
const SETTLE_CEILING: Duration = Duration::from_secs(60);

/// The device's flash: the in-memory disk model, shared with the target so a step can make
/// it lose power in the middle of a save.
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<Mutex<MemStore>>);

impl SharedStore {
    fn with<R>(&self, f: impl FnOnce(&mut MemStore) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ConfigStore for SharedStore {
    fn load(&mut self) -> Result<Option<Config>, StoreError> {
        self.with(|s| s.load())
    }
    fn save(&mut self, c: &Config) -> Result<(), StoreError> {
        self.with(|s| s.save(c))
    }
    fn quarantine(&mut self, stamp: &str) -> Result<Option<String>, StoreError> {
        self.with(|s| s.quarantine(stamp))
    }
    fn power_lost(&mut self) {
        self.with(MemStore::power_loss)
    }
}

/// An in-process virtual Smart Connect.
#[derive(Debug)]
pub struct VirtualTarget {
    host: Arc<Host>,
    clock: VirtualClock,
    variant: Variant,
    identity: Identity,
    /// The store behind the host, for power losses inside a save.
    store: SharedStore,
    /// From the identity (and so from the scenario's seed): picks where a save is cut.
    seed: u64,
    modbus: ModbusServer,
    client: ModbusClient,
    http: HttpServer,
    https: HttpServer,
    api: ApiClient,
    /// The test CA that signed the HTTPS server's certificate (WEB-06).
    ca_pem: String,
    broker: EmbeddedBroker,
    mqtt: MqttClient,
    /// Everything on the broker, fanned out to the suite's subscriptions (counted).
    tap: MqttTap,
    /// The device's effects, counted to know when the MQTT client has taken them all in.
    effects: broadcast::Receiver<Arc<Effect>>,
    effects_made: u64,
    /// Messages the target published on the broker itself (commands): the tap sees them too.
    published: u64,
    /// Commands the device's client was subscribed to when they were published.
    commands_due: u64,
    /// Bench abilities used so far (`capabilities_used`).
    used: std::sync::Mutex<Capabilities>,
    /// Where the interfaces listen and the suite's clients dial.
    net: Net,
}

impl VirtualTarget {
    /// An unpowered device of `hw` whose clock starts at `start`, with an empty store and its
    /// Modbus server on 127.0.0.1, port chosen by the OS. Call inside a tokio runtime.
    pub async fn new(hw: DeviceConfig, start: Millis) -> Result<Self, TargetError> {
        Self::new_on(hw, start, Net::Tcp).await
    }

    /// The same on `net`: with `Net::Mem` every interface (Modbus, HTTP, HTTPS, the broker's
    /// listeners) listens on the in-memory network and the suite's clients and the device's
    /// MQTT client dial it, so no socket is opened.
    pub async fn new_on(hw: DeviceConfig, start: Millis, net: Net) -> Result<Self, TargetError> {
        let clock = VirtualClock::new(start);
        let variant = hw.variant;
        let identity = hw.identity.clone();
        let store = SharedStore::default();
        let host = Host::new(hw, Some(Box::new(store.clone())), Arc::new(clock.clone()));
        let modbus = ModbusServer::start(Arc::clone(&host), bind_local(&net)?).map_err(io)?;
        let client = ModbusClient::over(net.clone(), modbus.local_addr());
        let pki =
            TestPki::new(&identity.serial).map_err(|e| TargetError(format!("test PKI: {e}")))?;
        let tls = pki
            .server_config()
            .map_err(|e| TargetError(format!("test PKI: {e}")))?;
        let ca_pem = pki.ca_pem().to_string();
        let https = HttpServer::start_tls(Arc::clone(&host), bind_local(&net)?, tls).map_err(io)?;
        let options = HttpOptions {
            https_port: Some(https.local_addr().port()),
            ..HttpOptions::default()
        };
        let http = HttpServer::start_with(Arc::clone(&host), bind_local(&net)?, None, options)
            .map_err(io)?;
        let api = ApiClient::over(
            net.clone(),
            &format!("http://{}", http.local_addr()),
            "user",
            &identity.label_password,
            None,
        )?;
        let opts = BrokerOptions {
            tls_port: 0,
            plain_port: 0,
            net: net.clone(),
            credentials: vec![(OWN_BROKER_USER.into(), OWN_BROKER_PASSWORD.into())],
            ..BrokerOptions::for_device(&identity.serial)
        };
        let broker = EmbeddedBroker::start(opts)
            .map_err(|e| TargetError(format!("embedded broker: {e}")))?;
        let seed = identity
            .mac
            .iter()
            .fold(0u64, |h, &b| (h << 8) | u64::from(b));
        // Home Assistant discovery is on (a simulator option, `@sim-convention` scenarios).
        let mut options = MqttOptions {
            seed,
            ha_discovery: true,
            net: net.clone(),
            ..MqttOptions::embedded(&broker)
        };
        // The installer's own broker (MQ-07) is the embedded broker's password-checked listener.
        options
            .resolve
            .push((OWN_BROKER_HOST.into(), broker.plain_addr()));
        let tap = MqttTap::start(&broker)
            .await
            .map_err(|e| TargetError(format!("embedded broker: {e}")))?;
        // Taken right after the client's own receiver, before the device does anything: both
        // see the same effects from here on.
        let mqtt = MqttClient::start(Arc::clone(&host), options);
        let effects = host.effects();
        Ok(VirtualTarget {
            host,
            clock,
            variant,
            identity,
            store,
            seed,
            modbus,
            client,
            http,
            https,
            api,
            ca_pem,
            broker,
            mqtt,
            tap,
            effects,
            effects_made: 0,
            published: 0,
            commands_due: 0,
            used: Default::default(),
            net,
        })
    }

    /// The host (for tests of the simulator itself, never for conformance steps).
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    fn event(&mut self, ev: Event) -> Vec<Effect> {
        self.host.handle(ev)
    }

    /// What the adapters are still doing, or `None` when they have caught up with the device
    /// and the clock and the suite's subscriptions hold everything the device wrote.
    fn pending(&mut self) -> Option<String> {
        loop {
            match self.effects.try_recv() {
                Ok(_) => self.effects_made += 1,
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.effects_made += n,
                Err(_) => break,
            }
        }
        let st = self.mqtt.stats();
        let due = st.written_total + self.published;
        if st.effects_seen < self.effects_made {
            Some(format!(
                "the MQTT client has taken in {} of {} device effects",
                st.effects_seen, self.effects_made
            ))
        } else if st.device_time != self.host.now() {
            Some("the MQTT client has not seen the current device time".into())
        } else if let Some(busy) = st.busy {
            Some(format!("the MQTT client is {busy}"))
        } else if st.received_total < self.commands_due {
            Some(format!(
                "the MQTT client received {} of {} commands",
                st.received_total, self.commands_due
            ))
        } else if self.tap.seen() < due {
            Some(format!(
                "the broker delivered {} of {due} messages to the subscriptions",
                self.tap.seen()
            ))
        } else {
            None
        }
    }

    /// Note that the scenario used a bench ability.
    fn uses(&self, f: impl FnOnce(&mut Capabilities)) {
        f(&mut self.used.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// A listener on 127.0.0.1 of `net` with a port chosen by the network (tests run in
/// parallel).
fn bind_local(net: &Net) -> Result<Listener, TargetError> {
    net.listen_now(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(io)
}

fn io(e: std::io::Error) -> TargetError {
    TargetError(e.to_string())
}

#[async_trait]
impl Target for VirtualTarget {
    fn variant(&self) -> Variant {
        self.variant
    }

    fn label(&self) -> Identity {
        self.identity.clone()
    }

    fn now(&self) -> Millis {
        use crate::sim::clock::Clock;
        self.clock.now()
    }

    fn modbus_addr(&self) -> SocketAddr {
        self.uses(|c| c.modbus = true);
        self.modbus.local_addr()
    }

    async fn send_meter_bytes(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        self.event(Event::SerialBytes(bytes.to_vec()));
        Ok(())
    }

    async fn wait_until(&mut self, t: Millis) -> Result<(), TargetError> {
        // The device runs every transition due before `t` at its own instant.
        self.clock.advance_to(t);
        self.event(Event::Tick);
        // Let the adapters (e.g. the Modbus idle watchdog) see the new time.
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn set_power(&mut self, usb: bool, meter_supply: bool) -> Result<(), TargetError> {
        // A bench without a power switch keeps USB-C plugged in.
        self.uses(|c| c.power |= !usb);
        self.event(Event::Power(PowerInputs {
            usb,
            p1_supply: meter_supply,
        }));
        Ok(())
    }

    /// The save is cut after step `seed % (STEPS + 1)` of the store's atomic replace (0:
    /// before the temp file is written … `STEPS`: after the folder's fsync, before the save
    /// returns), so the scenario's seed picks the step and replays it.
    async fn lose_power_while_saving(&mut self, patch: Value) -> Result<(), TargetError> {
        let steps = u64::try_from(MemStore::STEPS)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let step = usize::try_from(self.seed % steps).unwrap_or(0);
        self.store.with(|s| {
            s.fail_after(step);
        });
        // The simulated power loss makes the save fail (500); a real device would be dead.
        let _ = self.patch_config(patch).await;
        self.set_power(false, false).await
    }

    async fn button_down(&mut self) -> Result<(), TargetError> {
        self.uses(|c| c.button = true);
        self.event(Event::ButtonDown);
        Ok(())
    }

    async fn button_up(&mut self) -> Result<(), TargetError> {
        self.event(Event::ButtonUp);
        Ok(())
    }

    async fn led_colour(&mut self) -> Result<Color, TargetError> {
        self.uses(|c| c.led = true);
        let now = self.host.now();
        Ok(self.host.led_colour_at(now))
    }

    fn settles_exactly(&self) -> bool {
        true
    }

    async fn settle(&mut self) -> Result<(), TargetError> {
        let started = std::time::Instant::now();
        let mut stats = self.mqtt.watch();
        loop {
            let Some(what) = self.pending() else {
                return Ok(());
            };
            if started.elapsed() >= SETTLE_CEILING {
                return Err(TargetError::bench(format!(
                    "the virtual device's adapters did not settle within {} s of real time: {what}",
                    SETTLE_CEILING.as_secs()
                )));
            }
            // Woken by the client's own progress; the short sleep covers the tap and effects.
            let _ = tokio::time::timeout(Duration::from_millis(2), stats.changed()).await;
        }
    }

    async fn set_lan(&mut self, lan: Lan) -> Result<(), TargetError> {
        self.uses(|c| c.network |= lan != Lan::default());
        self.event(Event::Lan(lan));
        Ok(())
    }

    async fn offer_firmware(&mut self, version: &str, good: bool) -> Result<(), TargetError> {
        self.uses(|c| c.update_server = true);
        self.host.with_device_mut(|d| {
            d.offer_firmware(FirmwareImage {
                version: version.into(),
                good,
            })
        });
        Ok(())
    }

    fn modbus(&mut self) -> &mut ModbusClient {
        self.uses(|c| c.modbus = true);
        &mut self.client
    }

    async fn take_p1_ext(&mut self) -> Result<Vec<u8>, TargetError> {
        self.uses(|c| c.p1_ext = true);
        Ok(self.host.take_p1_ext())
    }

    fn api(&self) -> &ApiClient {
        self.uses(|c| c.http = true);
        &self.api
    }

    async fn status(&mut self) -> Result<serde_json::Value, TargetError> {
        self.uses(|c| c.status = true);
        // The status shows what the adapters reported to the device (the MQTT link: drops,
        // errors, last publish): they must have caught up with the device and the clock, or
        // a loaded machine would read an older link than an idle one.
        self.settle().await?;
        self.api.status().await
    }

    async fn mqtt_subscribe(
        &mut self,
        filter: &str,
    ) -> Result<UnboundedReceiver<Message>, TargetError> {
        self.uses(|c| c.mqtt = true);
        self.settle().await?;
        if filter.starts_with("devices/") {
            // Through the tap, so `settle` knows when the subscription has what the device
            // wrote (the device's own topics carry no retained messages).
            return Ok(self.tap.subscribe(filter));
        }
        // Other topics (Home Assistant discovery) are about retained messages, which the
        // broker replays only to a subscription of its own (it clears the retain flag of
        // what it forwards live, so the tap cannot keep them).
        self.broker
            .subscribe(filter)
            .await
            .map_err(|e| TargetError(format!("MQTT subscribe {filter}: {e}")))
    }

    async fn mqtt_publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), TargetError> {
        self.uses(|c| c.mqtt = true);
        // The command reaches the device's client only while it is subscribed to its topic.
        self.settle().await?;
        let st = self.mqtt.stats();
        let filter = self.host.with_device(|d| {
            crate::device::measurement::command_filter(
                &d.active_config().mqtt.site,
                &d.identity().serial,
            )
        });
        if st.connected && st.subscribed && matches(&filter, topic) {
            self.commands_due += 1;
        }
        self.published += 1;
        self.broker
            .publish(topic, payload.to_vec())
            .map_err(|e| TargetError(format!("MQTT publish {topic}: {e}")))
    }

    async fn set_broker_reachable(&mut self, reachable: bool) -> Result<(), TargetError> {
        self.uses(|c| c.broker = true);
        // Nothing in flight when the connection is cut, and the device has noticed the cut
        // when this returns: what was delivered before and after is exact.
        self.settle().await?;
        let was_connected = self.mqtt.stats().connected;
        self.broker.set_reachable(reachable);
        if !reachable && was_connected {
            // Wait for the cut itself: `busy` alone is no sign of it (a client still connected
            // is busy while it writes), and messages it writes before it notices are lost
            // on the dead connection instead of queued — a verdict that would hang on load.
            let mut stats = self.mqtt.watch();
            let noticed = tokio::time::timeout(SETTLE_CEILING, stats.wait_for(|s| !s.connected))
                .await
                .is_ok_and(|r| r.is_ok());
            if !noticed {
                return Err(TargetError::bench(format!(
                    "the device's MQTT client did not notice the broker going down within {} s of real time",
                    SETTLE_CEILING.as_secs()
                )));
            }
            self.settle().await?;
        }
        Ok(())
    }

    fn own_broker(&self) -> Option<OwnBroker> {
        self.uses(|c| c.own_broker = true);
        Some(OwnBroker {
            url: format!("mqtt://{OWN_BROKER_HOST}:1883"),
            username: OWN_BROKER_USER.into(),
            password: OWN_BROKER_PASSWORD.into(),
        })
    }

    async fn mqtt_clients(&mut self) -> Result<Vec<TlsClient>, TargetError> {
        self.uses(|c| c.broker = true);
        Ok(self.broker.tls_clients())
    }

    async fn set_device_clock(&mut self, utc: Millis) -> Result<(), TargetError> {
        self.uses(|c| c.clock = true);
        self.host.set_device_time(utc);
        self.event(Event::Tick);
        Ok(())
    }

    fn http_url(&self) -> String {
        self.uses(|c| c.http = true);
        format!("http://{}", self.http.local_addr())
    }

    fn https_url(&self) -> String {
        self.uses(|c| c.http = true);
        format!("https://{}", self.https.local_addr())
    }

    fn web_url(&self, https: bool) -> String {
        self.uses(|c| c.web = true);
        let addr = if https {
            self.https.local_addr()
        } else {
            self.http.local_addr()
        };
        format!("{}://{addr}", if https { "https" } else { "http" })
    }

    fn net(&self) -> Net {
        self.net.clone()
    }

    fn capabilities_used(&self) -> Capabilities {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn https_ca_pem(&self) -> Option<String> {
        self.uses(|c| c.http = true);
        Some(self.ca_pem.clone())
    }
}
