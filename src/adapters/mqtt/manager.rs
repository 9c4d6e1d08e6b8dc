//! The manager loop: follows the device's effects and clock, turns them and the connection
//! task's rumqttc events into `Input`s for the link machine (`device::mqtt_link`) at device
//! time, and carries out the `Action`s it returns. No policy here: when to connect, what to
//! queue, publish or drop and how commands are answered are the machine's decisions.

use super::connection::describe;
use super::{tls, BrokerUrl, Conn, Manager, Plan, PlanError, ATTEMPTS_KEPT, CLIENT_CHANNEL};
use crate::device::mqtt_link::{Action, Boot, ConnectPlan, Input, Outgoing, Qos, TlsMode};
use crate::device::{Effect, Event};
use crate::protocol::Reading;
use crate::sim::clock::Millis;
use crate::time::Instant;
use rumqttc::{ConnectionError, Packet, QoS};
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
            self.report();
            let step = tokio::select! {
                ev = next_conn_event(self.conn.as_mut()) => Step::Conn(ev),
                e = effects.recv() => Step::Effect(e),
                c = time.changed() => Step::Time(c.is_ok()),
            };
            match step {
                Step::Conn(ev) => {
                    self.on_conn(ev);
                    // Take what else is ready before reporting once.
                    for _ in 0..64 {
                        let Some(Ok(ev)) = self.conn.as_mut().map(|c| c.events.try_recv()) else {
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
                    self.feed(Input::Missed(n));
                    self.resync = true;
                }
                Step::Effect(Err(broadcast::error::RecvError::Closed)) | Step::Time(false) => {
                    return
                }
                Step::Time(true) => {}
            }
        }
    }

    /// Follow the device: a missed boot is caught up with, a change of its network or
    /// running state goes to the machine, and so does a deadline that has come.
    fn sync(&mut self) {
        self.now = self.now.max(self.host.now());
        if self.resync {
            if self.generation == Some(self.host.served().generation) {
                self.resync = false; // caught up: no boot was missed
            } else {
                self.new_boot();
            }
        }
        self.refresh_network();
        let now = Instant::from_epoch_ms(self.now);
        if self.link.next_deadline().is_some_and(|t| t <= now) {
            self.feed(Input::Tick);
        }
    }

    /// Tell the machine when the device's network or running state changed.
    fn refresh_network(&mut self) {
        let network = self.network_state();
        if self.network != Some(network) {
            self.network = Some(network);
            self.feed(Input::Network {
                up: network.0,
                running: network.1,
            });
        }
    }

    /// The device serves (runs its firmware and has a network address), and it runs.
    fn network_state(&self) -> (bool, bool) {
        let serving = self.host.served().serving;
        (serving, serving || self.host.with_device(|d| d.running()))
    }

    /// The device (re)booted or lost power: RAM is gone, the settings in force are re-read.
    fn new_boot(&mut self) {
        // `with_device` waits for the host to finish the event that rebooted the device, so
        // the settings and `served()` read after it belong to the new boot.
        let (boot, plan) = self.boot();
        self.generation = Some(self.host.served().generation);
        self.resync = false;
        self.reported = None;
        self.link_out = None;
        self.plan = plan;
        self.attempt_times.clear();
        // A boot starts without a network (the machine forgets it); the state the device is
        // in now follows, so the first attempt waits for an address.
        self.feed(Input::Boot(Box::new(boot)));
        self.network = None;
        self.refresh_network();
    }

    /// The settings in force at this boot, and the transport's plan for them.
    fn boot(&self) -> (Boot, Option<Plan>) {
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
        let plan = cfg.enabled.then(|| self.plan(&cfg));
        let seed = self.opts.seed
            ^ self
                .host
                .served()
                .generation
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let connect = match &plan {
            Some(Ok(p)) => Ok(ConnectPlan {
                url: format!("{}:{}", p.url.host, p.url.port),
                address: p.addr.to_string(),
                client_id: serial.clone(),
                username: cfg.username.clone(),
                password: cfg.password.clone(),
                tls: ConnectPlan::tls_mode(p.url.tls, &cfg.username),
            }),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("MQTT is disabled".into()),
        };
        let boot = Boot {
            settings: cfg,
            serial,
            model,
            firmware,
            plan: connect,
            ha_discovery: self.opts.ha_discovery,
            backoff: self.opts.backoff,
            seed,
            queue_capacity: self.opts.queue_capacity,
            window: CLIENT_CHANNEL,
        };
        (boot, plan.and_then(Result::ok))
    }

    fn plan(&self, cfg: &crate::device::config::Mqtt) -> Result<Plan, PlanError> {
        let url = BrokerUrl::parse(self.opts.broker.as_deref().unwrap_or(&cfg.broker))?;
        let addr = self.opts.address_for(&url)?;
        let tls = match ConnectPlan::tls_mode(url.tls, &cfg.username) {
            TlsMode::None => None,
            mode => {
                let ca = self.opts.ca_pem.as_deref().ok_or(PlanError::NoCa)?;
                let identity = if mode == TlsMode::Mutual {
                    let id = self.opts.identity.as_ref().ok_or(PlanError::NoIdentity)?;
                    Some((id.cert_pem.as_str(), id.key_pem.as_str()))
                } else {
                    None
                };
                Some(Arc::new(
                    tls::client_config(Arc::clone(&self.host), ca, &url.host, identity)
                        .map_err(PlanError::Tls)?,
                ))
            }
        };
        Ok(Plan {
            url,
            addr,
            username: cfg.username.clone(),
            tls,
        })
    }

    /// Give the machine `input` at device time and carry out what it returns, with the
    /// inputs that follows from that (the device's answers, refused publishes).
    pub(super) fn feed(&mut self, input: Input) {
        self.now = self.now.max(self.host.now());
        let now = Instant::from_epoch_ms(self.now);
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let mut refused = 0usize;
            for action in self.link.handle(input, now) {
                match action {
                    Action::Publish(m) => {
                        if refused > 0 || !self.hand(m) {
                            refused += 1;
                        }
                    }
                    Action::Connect(plan) => self.connect(&plan),
                    Action::Disconnect => self.conn = None,
                    Action::Subscribe(filter) => {
                        let sent = self.conn.as_ref().map(|c| {
                            c.client
                                .try_subscribe(filter, QoS::AtLeastOnce)
                                .map_err(|e| e.to_string())
                        });
                        if let Some(Err(e)) = sent {
                            tracing::warn!("mqtt: cannot subscribe to commands: {e}");
                        }
                    }
                    Action::Link(link) => self.link_out = Some(link),
                    Action::Device(event) => {
                        self.host.handle(event);
                    }
                    Action::Ask(event) => {
                        inputs.push_back(Input::DeviceAnswer(self.host.handle(event)));
                    }
                }
            }
            // Before anything else: the machine puts exactly those back.
            if refused > 0 {
                inputs.push_front(Input::Refused(refused));
            }
        }
    }

    /// Hand one message to rumqttc; `false`: refused (full, or no connection).
    fn hand(&self, m: Outgoing) -> bool {
        let Some(conn) = self.conn.as_ref().filter(|c| c.connected) else {
            return false;
        };
        let qos = match m.qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        conn.client
            .try_publish(m.topic, qos, m.retain, m.payload)
            .is_ok()
    }

    fn connect(&mut self, cp: &ConnectPlan) {
        let Some(plan) = self.plan.as_ref() else {
            return;
        };
        self.attempt_times.push_back(self.now);
        if self.attempt_times.len() > ATTEMPTS_KEPT {
            self.attempt_times.pop_front();
        }
        tracing::info!(
            "mqtt: connecting to {} at {} as {}",
            cp.url,
            cp.address,
            cp.client_id
        );
        self.conn = Some(super::connection::connect(plan, cp, &self.opts));
    }

    fn on_conn(&mut self, ev: Option<Result<rumqttc::Event, ConnectionError>>) {
        match ev {
            None | Some(Err(_)) => {
                let was_connected = self.conn.as_ref().is_some_and(|c| c.connected);
                let reason = match &ev {
                    Some(Err(e)) => describe(e, self.plan.as_ref(), was_connected),
                    _ => "the connection task ended".into(),
                };
                tracing::info!("mqtt: {reason}");
                self.conn = None;
                self.feed(if was_connected {
                    Input::Dropped(reason)
                } else {
                    Input::ConnectFailed(reason)
                });
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::ConnAck(_)))) => {
                if let Some(c) = self.conn.as_mut() {
                    c.connected = true;
                }
                self.feed(Input::Connected);
            }
            Some(Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_)))) => {
                self.written_total += 1;
                self.feed(Input::Written);
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::SubAck(_)))) => {
                if let Some(c) = self.conn.as_mut() {
                    c.subscribed = true;
                }
            }
            Some(Ok(rumqttc::Event::Incoming(Packet::Publish(p)))) => {
                self.received_total += 1;
                tracing::info!("mqtt: command on {}", p.topic);
                self.refresh_network();
                self.feed(Input::Command {
                    topic: p.topic,
                    body: p.payload.to_vec(),
                });
            }
            Some(Ok(_)) => {}
        }
    }

    fn on_reading(&mut self, r: &Reading) {
        let clock = Instant::from_epoch_ms(self.host.device_time());
        let Some((mut topic, mut payload)) = self.link.measurement(r, clock) else {
            return;
        };
        if let Some(l) = self.layer.as_ref() {
            l.measurement(&mut topic, &mut payload, r);
        }
        self.feed(Input::Measurement { topic, payload });
    }

    /// Tell the device about a changed link (once per step), and publish the numbers.
    fn report(&mut self) {
        if let Some(link) = self.link_out.take() {
            if self.reported.as_ref() != Some(&link) {
                self.host.handle(Event::Mqtt(link.clone()));
                self.reported = Some(link);
            }
        }
        self.publish_stats();
    }
}
