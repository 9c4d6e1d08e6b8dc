//! Pre-flight: before the first scenario of a long real-time run, check that the bench can
//! work at all — the rig answers, every hook's program exists, the meter line connects, and
//! (when nothing on the bench switches the device's power, so it must be on) each declared
//! interface of the device accepts a connection. A failure blocks the run with the cause
//! instead of failing every scenario against the device.

use super::error::BenchError;
use super::feed::MeterLine;
use super::RemoteBench;
use crate::dut::Statement;
use std::path::Path;
use std::time::Duration;

/// How long a declared interface may take to accept a connection at pre-flight.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

impl RemoteBench {
    /// Check the bench; `Err` with the cause when a scenario could not work.
    pub async fn preflight(&self, statement: &Statement) -> Result<(), BenchError> {
        if self.rig.is_some() {
            self.rig_info().await.map_err(BenchError::Rig)?;
        }
        self.check_hooks()?;
        let variant = *statement.variants.first().ok_or(BenchError::NoVariant)?;
        {
            let mut line = self.line.lock().await;
            if line.is_none() {
                *line = Some(
                    MeterLine::new(self.cfg.feed.clone(), variant, self.cfg.meter_kinds()?)
                        .await
                        .map_err(BenchError::MeterLine)?,
                );
            }
            line.as_mut()
                .expect("set above")
                .ensure()
                .await
                .map_err(BenchError::MeterLineConnect)?;
        }
        // The broker the harness watches is the lab's: it must be up whatever the device does.
        if statement.capabilities.mqtt {
            if let Some(addr) = self.cfg.mqtt.as_ref().and_then(|m| broker_addr(&m.url)) {
                connect(&addr, CONNECT_WAIT)
                    .await
                    .map_err(|source| BenchError::Broker {
                        addr: addr.clone(),
                        source,
                    })?;
            }
        }
        // A device the bench cannot switch on is on: each interface must answer.
        if !statement.capabilities.power && self.rig.is_none() {
            let mut ports = Vec::new();
            if statement.capabilities.modbus {
                if let Some(m) = &self.cfg.modbus {
                    ports.push(("Modbus", m.clone()));
                }
            }
            if statement.capabilities.http {
                if let Some(h) = self.cfg.http.as_deref().and_then(host_port) {
                    ports.push(("HTTP", h));
                }
            }
            for (interface, addr) in ports {
                let within = Duration::from_millis(self.cfg.boot_ms) + CONNECT_WAIT;
                connect(&addr, within)
                    .await
                    .map_err(|source| BenchError::Interface {
                        interface,
                        addr: addr.clone(),
                        within,
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Every hook's program is there: a path relative to the target file, or on `PATH`.
    fn check_hooks(&self) -> Result<(), BenchError> {
        let h = &self.cfg.hooks;
        let hooks = [
            ("fresh", &h.fresh),
            ("power", &h.power),
            ("button", &h.button),
            ("led", &h.led),
            ("device_clock", &h.device_clock),
            ("time", &h.time),
            ("firmware", &h.firmware),
        ];
        for (name, cmd) in hooks {
            let Some(cmd) = cmd else { continue };
            let program = cmd.split_whitespace().next().unwrap_or("");
            let found = if program.contains('/') {
                self.cfg.path(Path::new(program)).is_file()
            } else {
                on_path(program)
            };
            if !found {
                return Err(BenchError::HookProgram {
                    hook: name,
                    program: program.to_string(),
                    dir: self.cfg.dir.clone(),
                });
            }
        }
        Ok(())
    }
}

/// `HOST:PORT` of an `http://` or `https://` URL.
fn host_port(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

/// `HOST:PORT` of an `mqtt://` or `mqtts://` URL (1883 / 8883 by default).
fn broker_addr(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let port = u
        .port()
        .unwrap_or(if u.scheme() == "mqtts" { 8883 } else { 1883 });
    Some(format!("{}:{port}", u.host_str()?))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Connect to `addr`, trying again until `within` has passed (a device still booting).
async fn connect(addr: &str, within: Duration) -> std::io::Result<()> {
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout(CONNECT_WAIT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if tokio::time::Instant::now() >= end => return Err(e),
            Err(_) if tokio::time::Instant::now() >= end => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer",
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(
            host_port("http://127.0.0.1").as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(
            host_port("https://127.0.0.1:8443/").as_deref(),
            Some("127.0.0.1:8443")
        );
        assert_eq!(
            broker_addr("mqtts://127.0.0.1").as_deref(),
            Some("127.0.0.1:8883")
        );
        assert_eq!(
            broker_addr("mqtt://127.0.0.1:1884").as_deref(),
            Some("127.0.0.1:1884")
        );
        assert!(on_path("sh"));
        assert!(!on_path("no-such-program-here"));
    }
}
