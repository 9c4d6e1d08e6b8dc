//! The services `run` starts around the device: the web interface and API over HTTP and
//! HTTPS (with a certificate from the local test CA), and the device's MQTT client with, by
//! default, the embedded broker it talks to (and, with `--rig`, an account to watch it and
//! the installer's own broker for MQ-07).
//!
//! The embedded broker's plain listener takes only the installer account `installer` with a
//! password made at random for each start (printed on the banner's `MQTT plain` line; the
//! rig hands it out as the watch and own-broker account). The mTLS listener takes the device
//! certificate (and other certificates from the local test CA, without commands or the
//! device's client id). Both take at most 64 connections at a time, and a client has 5 s
//! for its CONNECT; see `adapters::broker`.

use super::{RunArgs, RunError};
use crate::adapters::broker::{BrokerOptions, EmbeddedBroker, OWN_BROKER_HOST};
use crate::adapters::certs::TestPki;
use crate::adapters::host::Host;
use crate::adapters::http::{HttpOptions, HttpServer};
use crate::adapters::mqtt::{MqttClient, MqttOptions};
use crate::device::identity::Identity;
use crate::dut::OwnBroker;
use std::path::PathBuf;
use std::sync::Arc;

/// The device's MQTT client and, by default, the embedded broker it talks to.
pub(super) struct Mqtt {
    /// Declared (so dropped) before the broker: at the end of a run the client stops first,
    /// instead of logging the embedded broker's shutdown as a refused connection.
    pub(super) _client: MqttClient,
    pub(super) broker: Option<Arc<EmbeddedBroker>>,
    pub(super) lines: Vec<String>,
    /// With `--rig`: an account on the embedded broker to watch the device with, which is
    /// also the installer's own broker (MQ-07) at `OWN_BROKER_HOST`.
    pub(super) watch: Option<OwnBroker>,
    pub(super) own_broker: Option<OwnBroker>,
}

pub(super) fn start_mqtt(
    host: &Arc<Host>,
    id: &Identity,
    state_dir: &std::path::Path,
    args: &RunArgs,
    broker_url: &str,
    seed: u64,
) -> Result<Mqtt, RunError> {
    let resolve = args
        .resolve
        .iter()
        .map(|r| {
            MqttOptions::parse_resolve(r).map_err(|e| RunError::Resolve {
                entry: r.clone(),
                source: e,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if broker_url == "embedded" {
        // No credentials given: the broker makes the installer account with a random password
        // (`broker.installer()`), and the TLS front keeps requiring a client certificate.
        let opts = BrokerOptions {
            tls_port: args.mqtt_tls_port,
            plain_port: args.mqtt_plain_port,
            cert_dir: Some(state_dir.join("mqtt")),
            ..BrokerOptions::for_device(&id.serial)
        };
        let broker = Arc::new(EmbeddedBroker::start(opts).map_err(RunError::Broker)?);
        let mut options = MqttOptions {
            seed,
            ha_discovery: args.ha_discovery,
            ..MqttOptions::embedded(&broker)
        };
        options.resolve.extend(resolve);
        let (watch, own_broker) = if args.rig.is_some() {
            options
                .resolve
                .push((OWN_BROKER_HOST.into(), broker.plain_addr()));
            let (user, password) = broker.installer();
            let account = |url: String| OwnBroker {
                url,
                username: user.into(),
                password: password.into(),
            };
            (
                Some(account(format!("mqtt://{}", broker.plain_addr()))),
                Some(account(format!("mqtt://{OWN_BROKER_HOST}:1883"))),
            )
        } else {
            (None, None)
        };
        let p = broker.paths();
        let (user, password) = broker.installer();
        let lines = vec![
            format!("MQTT broker  mqtts://{} (mTLS, device certificate)  (embedded; the default broker name maps here)", broker.tls_addr()),
            format!(
                "MQTT plain   mqtt://{}  {user}/{password}  (installer account, new each start)",
                broker.plain_addr()
            ),
            format!(
                "MQTT watch   mosquitto_sub --cafile {} --cert {} --key {} -h 127.0.0.1 -p {} -t 'devices/#'",
                p.ca.display(),
                p.device_cert.display(),
                p.device_key.display(),
                broker.tls_addr().port()
            ),
        ];
        let client = MqttClient::start(Arc::clone(host), options);
        Ok(Mqtt {
            broker: Some(broker),
            _client: client,
            lines,
            watch,
            own_broker,
        })
    } else {
        let options = MqttOptions {
            broker: Some(broker_url.to_string()),
            resolve,
            seed,
            ha_discovery: args.ha_discovery,
            ..MqttOptions::default()
        };
        let client = MqttClient::start(Arc::clone(host), options);
        Ok(Mqtt {
            broker: None,
            _client: client,
            lines: vec![format!("MQTT broker  {broker_url}")],
            watch: None,
            own_broker: None,
        })
    }
}

/// The HTTP and HTTPS servers, and where the test CA that signed the HTTPS certificate is.
pub(super) struct Web {
    pub(super) http: HttpServer,
    pub(super) https: HttpServer,
    pub(super) ca: PathBuf,
}

pub(super) async fn start_web(
    host: &Arc<Host>,
    id: &Identity,
    state_dir: &std::path::Path,
    args: &RunArgs,
) -> Result<Web, RunError> {
    let pki = TestPki::new(&id.serial).map_err(RunError::Pki)?;
    let paths = pki
        .write_to(&state_dir.join("pki"))
        .map_err(RunError::PkiWrite)?;
    let tls = pki.server_config().map_err(RunError::Pki)?;
    let https_l = tokio::net::TcpListener::bind(args.https)
        .await
        .map_err(|e| RunError::bind(args.https, e))?;
    let https = HttpServer::start_tls(Arc::clone(host), https_l, tls).map_err(RunError::Https)?;
    let http_l = tokio::net::TcpListener::bind(args.http)
        .await
        .map_err(|e| RunError::bind(args.http, e))?;
    let options = HttpOptions {
        https_port: Some(https.local_addr().port()),
        ..HttpOptions::default()
    };
    let http =
        HttpServer::start_with(Arc::clone(host), http_l, None, options).map_err(RunError::Http)?;
    Ok(Web {
        http,
        https,
        ca: paths.ca,
    })
}
