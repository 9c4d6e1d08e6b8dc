//! Remote commands (MQ-13, FW-01): carry out a command received on `…/cmd/+` and queue its
//! result for `…/data/events`.

use super::payload::{parse_command, Command, CommandResult};
use super::{Kind, Manager, Out, CONTROL_QUEUE};
use crate::device::measurement::{events_topic, topic_root};
use crate::device::{Effect, Event, Reply};
use rumqttc::QoS;
use std::sync::Arc;

impl Manager {
    /// A remote command (MQ-13): carry it out and queue its result.
    pub(super) fn on_command(&mut self, topic: &str, body: &[u8]) {
        let now = self.host.now();
        let host = Arc::clone(&self.host);
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let prefix = format!("{}/cmd/", topic_root(&a.site, &a.serial));
        let Some(name) = topic.strip_prefix(&prefix) else {
            return;
        };
        a.commands += 1;
        const NOT_RUNNING: &str = "the device is not running";
        let (outcome, version, reset) = match parse_command(name, body) {
            Err(reason) => (Err(reason.to_string()), None, false),
            Ok(Command::FirmwareUpdate { version }) => {
                let fx = host.handle(Event::FirmwareUpdate {
                    version: version.clone(),
                });
                let outcome = fx
                    .iter()
                    .find_map(|e| match e {
                        Effect::Reply(Reply::Firmware(r)) => {
                            Some(r.clone().map_err(|e| e.to_string()))
                        }
                        Effect::Reply(Reply::NotRunning) => Some(Err(NOT_RUNNING.to_string())),
                        _ => None,
                    })
                    .unwrap_or_else(|| Err("no answer from the device".into()));
                (outcome, Some(version), false)
            }
            Ok(Command::Reset) => match host.with_device(|d| d.running()) {
                true => (Ok(()), None, true),
                false => (Err(NOT_RUNNING.to_string()), None, false),
            },
        };
        tracing::info!("mqtt: command {name}: {outcome:?}");
        let result = CommandResult::new(
            name,
            outcome,
            version,
            &a.serial,
            &a.site,
            now.div_euclid(1000),
        );
        if a.control.len() >= CONTROL_QUEUE {
            a.control.pop_front();
            a.queue.add_dropped(1);
        }
        a.control.push_back(Out {
            topic: events_topic(&a.site, &a.serial),
            payload: result.to_json(),
            qos: QoS::AtLeastOnce,
            retain: false,
            kind: Kind::Event,
            then_reset: reset,
        });
        a.reset_pending |= reset;
    }
}
