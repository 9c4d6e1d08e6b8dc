//! The manager loop: follows the device's effects and clock, re-reads the settings at every
//! boot, plans and starts connections, hands queued messages to rumqttc and reacts to what the
//! connection task forwards.

use super::backoff::Backoff;
use super::connection::describe;
use super::payload;
use super::queue::DropOldest;
use super::{tls, Active, BrokerUrl, Conn, Kind, Manager, Out, Plan, PlanError};
use crate::device::measurement::{
    command_filter, measurements_topic, payload as measurement_payload,
};
use crate::device::{Effect, Event};
use crate::protocol::Reading;
use crate::sim::clock::Millis;
use rumqttc::{ConnectionError, Outgoing, Packet, QoS};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

enum Step {
    Conn(Option<Result<rumqttc::Event, ConnectionError>>),
    Effect(Result<Arc<Effect>, broadcast::error::RecvError>),
    Time(bool),
}

async fn next_conn_event(
    conn: Option<&mut Conn>,
) -> Option<Result<rumqttc::Event, ConnectionError>> {
    match conn {
        Some(c) => c.events.recv().await,
        None => std::future::pending().await,
    }
}

impl Manager {
    /// The device's effects arrive in the order the device made them, so a telegram parsed
    /// before a reboot is never sent with the settings (or the queue) of the boot after it.
    pub(super) async fn run(
        mut self,
        mut time: watch::Receiver<Millis>,
        mut effects: broadcast::Receiver<Arc<Effect>>,
    ) {
        loop {
            self.sync();
            self.pump();
            self.report();
            let step = tokio::select! {
                ev = next_conn_event(self.active.as_mut().and_then(|a| a.conn.as_mut())) => Step::Conn(ev),
                e = effects.recv() => Step::Effect(e),
                c = time.changed() => Step::Time(c.is_ok()),
            };
            match step {
                Step::Conn(ev) => {
                    self.on_conn(ev);
                    // Take what else is ready before reporting once.
                    for _ in 0..64 {
                        let Some(Ok(ev)) = self
                            .active
                            .as_mut()
                            .and_then(|a| a.conn.as_mut())
                            .map(|c| c.events.try_recv())
                        else {
                            break;
                        };
                        self.on_conn(Some(ev));
                    }
                }
                Step::Effect(Ok(e)) => {
                    self.effects_seen += 1;
                    match &*e {
                        Effect::Measurement(r) => self.on_reading(r),
                        Effect::Rebooted | Effect::PoweredOff => self.new_boot(),
                        _ => {}
                    }
                }
                Step::Effect(Err(broadcast::error::RecvError::Lagged(n))) => {
                    // Overload: effects were skipped (some of them measurements, perhaps a
                    // reboot). Count them all as dropped (an upper bound) and follow the
                    // host's generation from here.
                    self.effects_seen += n;
                    if let Some(total) = self.missed_log.note(n) {
                        tracing::warn!("mqtt: {total} device effects missed since the last such line (at most one per 10 s); the client cannot keep up (e.g. at --speed max), so those telegrams were not published");
                    }
                    if let Some(a) = self.active.as_mut() {
                        a.queue.add_dropped(n);
                    }
                    self.resync = true;
                }
                Step::Effect(Err(broadcast::error::RecvError::Closed)) | Step::Time(false) => {
                    return
                }
                Step::Time(true) => {}
            }
        }
    }

    /// Follow the device: a new boot re-reads the settings; no network drops the connection;
    /// a due attempt is made.
    fn sync(&mut self) {
        let mut served = self.host.served();
        self.now = self.host.now();
        if self.resync {
            if self.generation == Some(served.generation) {
                self.resync = false; // caught up: no boot was missed
            } else {
                self.new_boot();
                served = self.host.served();
            }
        }
        let now = self.now;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if !served.serving {
            if a.conn.take().is_some() {
                a.requeue();
            }
            a.next_attempt_at = None;
            a.error = self
                .host
                .with_device(|d| d.running())
                .then(|| "no network address: MQTT waits for the network".to_string());
            return;
        }
        if a.conn.is_none() && a.plan.is_ok() && a.next_attempt_at.is_none_or(|t| now >= t) {
            a.connect(&self.opts, now);
        }
    }

    /// The device (re)booted or lost power: RAM is gone, the settings in force are re-read.
    fn new_boot(&mut self) {
        // `with_device` waits for the host to finish the event that rebooted the device, so
        // the settings and `served()` read after it belong to the new boot.
        self.active = self.boot();
        self.generation = Some(self.host.served().generation);
        self.resync = false;
        self.reported = None;
    }

    /// The settings in force at this boot.
    fn boot(&self) -> Option<Active> {
        let (serial, cfg, model, firmware) = self.host.with_device(|d| {
            (
                d.identity().serial.clone(),
                d.active_config().mqtt.clone(),
                format!("Smart Connect {}", d.variant().label()),
                d.firmware().version().to_string(),
            )
        });
        let cfg = match self.layer.as_ref() {
            Some(l) => l.settings(cfg),
            None => cfg,
        };
        if !cfg.enabled {
            return None;
        }
        let plan = self.plan(&cfg);
        let seed = self.opts.seed
            ^ self
                .host
                .served()
                .generation
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some(Active {
            error: plan.as_ref().err().map(ToString::to_string),
            serial,
            site: cfg.site.clone(),
            model,
            firmware,
            plan,
            backoff: Backoff::new(self.opts.backoff, seed),
            queue: DropOldest::new(self.opts.queue_capacity),
            control: VecDeque::new(),
            handed: VecDeque::new(),
            conn: None,
            next_attempt_at: None,
            attempts: 0,
            attempt_times: VecDeque::new(),
            connects: 0,
            published: 0,
            events_published: 0,
            commands: 0,
            last_publish: None,
            reset_pending: false,
        })
    }

    fn plan(&self, cfg: &crate::device::config::Mqtt) -> Result<Plan, PlanError> {
        let url = BrokerUrl::parse(self.opts.broker.as_deref().unwrap_or(&cfg.broker))?;
        let addr = self.opts.address_for(&url)?;
        let tls = if url.tls {
            let ca = self.opts.ca_pem.as_deref().ok_or(PlanError::NoCa)?;
            let identity = if cfg.username.is_empty() {
                let id = self.opts.identity.as_ref().ok_or(PlanError::NoIdentity)?;
                Some((id.cert_pem.as_str(), id.key_pem.as_str()))
            } else {
                None
            };
            Some(Arc::new(
                tls::client_config(Arc::clone(&self.host), ca, &url.host, identity)
                    .map_err(PlanError::Tls)?,
            ))
        } else {
            None
        };
        Ok(Plan {
            url,
            addr,
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            tls,
        })
    }

    /// Hand queued messages to rumqttc while connected and it has room.
    fn pump(&mut self) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let Some(conn) = a.conn.as_ref().filter(|c| c.connected) else {
            return;
        };
        loop {
            let (m, control) = match a.control.pop_front() {
                Some(m) => (m, true),
                None => match a.queue.pop() {
                    Some(m) => (m, false),
                    None => break,
                },
            };
            match conn
                .client
                .try_publish(m.topic.clone(), m.qos, m.retain, m.payload.clone())
            {
                Ok(()) => a.handed.push_back(m),
                Err(_) => {
                    if control {
                        a.control.push_front(m);
                    } else {
                        a.queue.push_front(m);
                    }
                    break;
                }
            }
        }
    }

    fn on_conn(&mut self, ev: Option<Result<rumqttc::Event, ConnectionError>>) {
        let now = self.now.max(self.host.now());
        let Some(a) = self.active.as_mut() else {
            return;
        };
        match ev {
            None | Some(Err(_)) => {
                let reason = match &ev {
                    Some(Err(e)) => describe(
                        e,
                        a.plan.as_ref().ok(),
                        a.conn.as_ref().is_some_and(|c| c.connected),
                    ),
                    _ => "the connection task ended".into(),
                };
                tracing::info!("mqtt: {reason}");
                a.conn = None;
                a.requeue();
                a.error = Some(reason);
                a.next_attempt_at = Some(now + a.backoff.next_delay());
                if std::mem::take(&mut a.reset_pending) {
                    self.host.handle(Event::SoftReset);
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::ConnAck(_)))) => {
                a.connects += 1;
                a.backoff.reset();
                a.error = None;
                let filter = command_filter(&a.site, &a.serial);
                if let Some(c) = a.conn.as_mut() {
                    c.connected = true;
                    if let Err(e) = c.client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::warn!("mqtt: cannot subscribe to commands: {e}");
                    }
                }
                if self.opts.ha_discovery {
                    let state = measurements_topic(&a.site, &a.serial);
                    for (topic, payload) in
                        payload::ha_discovery(&a.serial, &state, &a.model, &a.firmware)
                            .into_iter()
                            .rev()
                    {
                        a.control.push_front(Out {
                            topic,
                            payload,
                            qos: QoS::AtLeastOnce,
                            retain: true,
                            kind: Kind::Discovery,
                            then_reset: false,
                        });
                    }
                }
            }
            Some(Ok(rumqttc::Event::Outgoing(Outgoing::Publish(_)))) => {
                self.written_total += 1;
                let Some(m) = a.handed.pop_front() else {
                    return;
                };
                match m.kind {
                    Kind::Measurement => {
                        a.published += 1;
                        a.last_publish = Some(now);
                    }
                    Kind::Event => a.events_published += 1,
                    Kind::Discovery => {}
                }
                if m.then_reset && std::mem::take(&mut a.reset_pending) {
                    self.host.handle(Event::SoftReset);
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::SubAck(_)))) => {
                if let Some(c) = a.conn.as_mut() {
                    c.subscribed = true;
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::Publish(p)))) => {
                self.received_total += 1;
                self.on_command(&p.topic, &p.payload)
            }
            Some(Ok(_)) => {}
        }
    }

    fn on_reading(&mut self, r: &Reading) {
        let now = self.host.device_time();
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let now = crate::time::Instant::from_epoch_ms(now);
        let mut payload = measurement_payload(r, &a.serial, &a.site, now);
        let mut topic = measurements_topic(&a.site, &a.serial);
        if let Some(l) = self.layer.as_ref() {
            l.measurement(&mut topic, &mut payload, r);
        }
        a.queue.push(Out {
            topic,
            payload,
            qos: QoS::AtMostOnce,
            retain: false,
            kind: Kind::Measurement,
            then_reset: false,
        });
    }
}
