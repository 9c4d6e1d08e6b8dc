//! `run --mdns`: advertise the virtual device on the host's network with mDNS (mdns-sd), as
//! the real box answers `smart-connect.local` (NET-06, WEB-01): an `_http._tcp` service whose
//! host is `smart-connect.local.`, pointing at the web interface. Off by default; the
//! conformance suite never starts it (it would multicast on the machine's interfaces).

use mdns_sd::{ServiceDaemon, ServiceInfo};
use std::net::IpAddr;

/// The mDNS host name of every Smart Connect.
pub const HOST_NAME: &str = "smart-connect.local.";
/// The advertised service type.
pub const SERVICE_TYPE: &str = "_http._tcp.local.";

/// Why the device cannot be advertised: mdns-sd refused the record, or its daemon.
#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    #[error("mDNS record: {0}")]
    Record(#[source] mdns_sd::Error),
    #[error("mDNS daemon: {0}")]
    Daemon(#[source] mdns_sd::Error),
    #[error("mDNS register: {0}")]
    Register(#[source] mdns_sd::Error),
}

/// The service record for the device `serial` whose web interface is at `ip:port`.
pub fn service(serial: &str, ip: IpAddr, port: u16) -> Result<ServiceInfo, MdnsError> {
    let instance = format!("Smart Connect {serial}");
    let props = [("serial", serial), ("path", "/")];
    ServiceInfo::new(SERVICE_TYPE, &instance, HOST_NAME, ip, port, &props[..])
        .map_err(MdnsError::Record)
}

/// A running advertisement; withdrawn when dropped.
pub struct Advertiser {
    daemon: ServiceDaemon,
}

impl Advertiser {
    /// Start advertising `info` on the host's interfaces.
    pub fn start(info: ServiceInfo) -> Result<Self, MdnsError> {
        let daemon = ServiceDaemon::new().map_err(MdnsError::Daemon)?;
        daemon.register(info).map_err(MdnsError::Register)?;
        Ok(Advertiser { daemon })
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_smart_connect_local_and_the_web_port() {
        let s = service("02584DAC210B", "192.168.1.50".parse().unwrap(), 8080).unwrap();
        assert_eq!(s.get_hostname(), HOST_NAME);
        assert_eq!(
            s.get_fullname(),
            "Smart Connect 02584DAC210B._http._tcp.local."
        );
        assert_eq!(s.get_port(), 8080);
        assert_eq!(s.get_property_val_str("serial"), Some("02584DAC210B"));
    }
}
