//! Answers one request PDU from the host's current snapshot (never waits for the device):
//! FC 3 and 4 read the same map (MB-04), other function codes get exception 0x01 (MB-09).
//! The service sits between the framing (`mbap`) and the socket (`conn`), like
//! tokio-modbus's `Service` trait: `Service` answers a well-formed read, `DeviceService` from
//! the device's register map; a wrapper may change the answers.

use crate::adapters::host::{Host, Served};
use crate::device::registers::Exception;

/// Answers a well-formed read request (function 3 or 4) with a response PDU.
pub trait Service: Send + Sync {
    /// The response PDU to a read of `qty` registers at `addr` with `function` for `unit`,
    /// from the snapshot `served`.
    fn read(&self, served: &Served, unit: u8, function: u8, addr: u16, qty: u16) -> Vec<u8>;
}

/// The device's answers: the template's map of the current values, any unit id (MB-03).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceService;

impl Service for DeviceService {
    fn read(&self, served: &Served, _unit: u8, function: u8, addr: u16, qty: u16) -> Vec<u8> {
        let words = served.template.read(&served.values, function, addr, qty);
        response(function, words)
    }
}

/// The response PDU for `function` answered with `words` or an exception.
pub fn response(function: u8, words: Result<Vec<u16>, Exception>) -> Vec<u8> {
    match words {
        Ok(words) => {
            let mut out = Vec::with_capacity(2 + 2 * words.len());
            out.push(function);
            // At most 125 registers (MB-09): 250 bytes fit the count byte.
            out.push(u8::try_from(2 * words.len()).unwrap_or(u8::MAX));
            for w in words {
                out.extend_from_slice(&w.to_be_bytes());
            }
            out
        }
        Err(e) => exception(function, e.code()),
    }
}

/// An exception response PDU: `function` with the high bit set, then `code`.
pub fn exception(function: u8, code: u8) -> Vec<u8> {
    vec![function | 0x80, code]
}

/// A request PDU that is not a well-formed read: the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function 0x{function:02X} with {len} bytes of data (a read has 4: address and quantity)")]
pub struct MalformedPdu {
    pub function: u8,
    pub len: usize,
}

/// The response PDU for `pdu` addressed to `unit`.
pub(super) fn answer(
    host: &Host,
    service: &dyn Service,
    unit: u8,
    pdu: &[u8],
) -> Result<Vec<u8>, MalformedPdu> {
    let Some((&function, data)) = pdu.split_first() else {
        return Err(MalformedPdu {
            function: 0,
            len: 0,
        });
    };
    if !matches!(function, 3 | 4) {
        return Ok(exception(function, Exception::IllegalFunction.code()));
    }
    let [a_hi, a_lo, q_hi, q_lo] = data else {
        return Err(MalformedPdu {
            function,
            len: data.len(),
        });
    };
    let addr = u16::from_be_bytes([*a_hi, *a_lo]);
    let qty = u16::from_be_bytes([*q_hi, *q_lo]);
    Ok(service.read(&host.served(), unit, function, addr, qty))
}
