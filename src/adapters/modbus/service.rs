//! Answers one request PDU from the host's current snapshot (never waits for the device):
//! FC 3 and 4 read the same map (MB-04), other function codes get exception 0x01 (MB-09).
//! The service sits between the framing (`mbap`) and the socket (`conn`), like
//! tokio-modbus's `Service` trait.

use crate::adapters::host::Host;
use crate::device::defect::Defects;
use crate::device::registers::Exception;

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
    defects: &Defects,
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
        return Ok(exception(function, Exception::IllegalFunction));
    }
    let [a_hi, a_lo, q_hi, q_lo] = data else {
        return Err(MalformedPdu {
            function,
            len: data.len(),
        });
    };
    let addr = u16::from_be_bytes([*a_hi, *a_lo]);
    let qty = u16::from_be_bytes([*q_hi, *q_lo]);
    let served = host.served();
    Ok(
        match served
            .template
            .read_with(&served.values, unit, function, (addr, qty), defects)
        {
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
            Err(e) => exception(function, e),
        },
    )
}

fn exception(function: u8, e: Exception) -> Vec<u8> {
    let code = match e {
        Exception::IllegalFunction => 0x01,
        Exception::IllegalDataAddress => 0x02,
        Exception::IllegalDataValue => 0x03,
        Exception::GatewayTargetFailed => 0x0B,
    };
    vec![function | 0x80, code]
}
