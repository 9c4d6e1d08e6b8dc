//! Address flags of `run` (`--modbus`, `--http`, `--https`, `--rig`, `--p1-tcp`, `--control`,
//! `--control-modbus`): `IP:PORT` or `HOST:PORT` resolved at start, with an error that names
//! the value and what was expected.

use std::net::SocketAddr;

/// What an address flag expects, at the end of each error.
const EXPECTED: &str =
    "an address such as 127.0.0.1:5020 (IP:PORT or HOST:PORT; port 0 picks a free one)";

/// Why an address flag's value is refused; each names the value as given.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("`{given}` has no port: {EXPECTED}")]
    NoPort { given: String },
    #[error("`{given}`: port `{port}` is not a number 0..=65535; {EXPECTED}")]
    Port { given: String, port: String },
    #[error("`{given}`: cannot resolve `{host}` ({source}); {EXPECTED}")]
    Resolve {
        given: String,
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{given}`: `{host}` has no address; {EXPECTED}")]
    NoAddress { given: String, host: String },
}

/// A listen address: `IP:PORT`, or `HOST:PORT` resolved now (`localhost:5020`); the error
/// names the value and what is expected.
pub fn parse_listen(s: &str) -> Result<SocketAddr, ListenError> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let given = || s.to_string();
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(ListenError::NoPort { given: given() });
    };
    if port.parse::<u16>().is_err() {
        return Err(ListenError::Port {
            given: given(),
            port: port.to_string(),
        });
    }
    let mut addrs = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|source| ListenError::Resolve {
            given: given(),
            host: host.to_string(),
            source,
        })?
        .collect::<Vec<_>>();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| ListenError::NoAddress {
            given: given(),
            host: host.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_host_names_and_errors() {
        assert_eq!(parse_listen("127.0.0.1:5020").unwrap().port(), 5020);
        let a = parse_listen("localhost:5020").unwrap();
        assert!(a.ip().is_loopback() && a.port() == 5020, "{a}");
        assert!(parse_listen("[::1]:0").unwrap().ip().is_ipv6());
        let e = parse_listen("localhost").unwrap_err().to_string();
        assert!(e.contains("`localhost` has no port"), "{e}");
        let e = parse_listen("localhost:99999").unwrap_err().to_string();
        assert!(e.contains("port `99999` is not a number"), "{e}");
        let e = parse_listen("nohost.invalid:80").unwrap_err().to_string();
        assert!(e.contains("cannot resolve `nohost.invalid`"), "{e}");
    }
}
