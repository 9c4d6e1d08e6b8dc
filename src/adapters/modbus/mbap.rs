//! Modbus TCP framing (MBAP) as a pure state machine: bytes and `now` in, whole frames or a
//! framing error out. Only complete, valid frames count as a client's activity; the server
//! closes a connection whose partial frame is older than `PARTIAL_MS` (a slow-loris client
//! sending a byte a second) or whose header is not Modbus (protocol id ≠ 0, or a length
//! outside 2..=254: an ADU is at most 260 bytes). The error names the stream offset of the
//! offending header field, so a log line says exactly what the client sent.

use crate::sim::clock::Millis;

/// A frame that is still incomplete this long after its first byte closes the connection.
pub const PARTIAL_MS: Millis = 5_000;
/// The MBAP header: transaction id, protocol id, length, unit id.
const HEADER_LEN: usize = 7;
/// The largest MBAP length field: unit id + a 253-byte PDU (Modbus Application Protocol v1.1b3 §4.1).
const MAX_LENGTH: u16 = 254;

/// One complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub transaction: u16,
    pub unit: u8,
    /// Function code and data.
    pub pdu: Vec<u8>,
}

/// Why a connection's bytes are not Modbus TCP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("protocol id 0x{found:04X} at byte {offset} (Modbus TCP has 0x0000)")]
    ProtocolId { offset: u64, found: u16 },
    #[error("length {found} at byte {offset} (2..=254: unit id + a PDU of at most 253 bytes)")]
    Length { offset: u64, found: u16 },
}

/// Collects a connection's bytes into frames.
#[derive(Debug, Default)]
pub struct Mbap {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Device time the first byte of the current partial frame arrived.
    partial_since: Option<Millis>,
}

impl Mbap {
    /// Append bytes read at device time `now`.
    pub fn push(&mut self, bytes: &[u8], now: Millis) {
        if bytes.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            self.partial_since = Some(now);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` while incomplete, or why the bytes are not Modbus.
    /// A header is judged as soon as its fields have arrived, before the rest of the frame.
    pub fn next_frame(&mut self, now: Millis) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() >= 4 {
            let found = u16::from_be_bytes([self.buf[2], self.buf[3]]);
            if found != 0 {
                return Err(FrameError::ProtocolId {
                    offset: self.offset.saturating_add(2),
                    found,
                });
            }
        }
        if self.buf.len() < 6 {
            return Ok(None);
        }
        let length = u16::from_be_bytes([self.buf[4], self.buf[5]]);
        if !(2..=MAX_LENGTH).contains(&length) {
            return Err(FrameError::Length {
                offset: self.offset.saturating_add(4),
                found: length,
            });
        }
        // `length` counts the unit id and the PDU; the 6 bytes before it come first.
        let total = usize::from(length) + 6;
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = Frame {
            transaction: u16::from_be_bytes([self.buf[0], self.buf[1]]),
            unit: self.buf[HEADER_LEN - 1],
            pdu: self.buf[HEADER_LEN..total].to_vec(),
        };
        self.buf.drain(..total);
        self.offset = self.offset.saturating_add(total as u64);
        // What is left arrived with this read: a new partial frame starts now.
        self.partial_since = (!self.buf.is_empty()).then_some(now);
        Ok(Some(frame))
    }

    /// Device time the current partial frame began, if one is pending.
    pub fn partial_since(&self) -> Option<Millis> {
        self.partial_since
    }

    /// True when a partial frame has been pending for `PARTIAL_MS` at `now`.
    pub fn stalled(&self, now: Millis) -> bool {
        self.partial_since
            .is_some_and(|t| now.saturating_sub(t) >= PARTIAL_MS)
    }
}

/// A response ADU: the request's transaction and unit id, protocol 0, `pdu`.
pub fn encode(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let length = u16::try_from(pdu.len() + 1).unwrap_or(MAX_LENGTH);
    let mut out = Vec::with_capacity(HEADER_LEN + pdu.len());
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: [u8; 12] = [0x12, 0x34, 0, 0, 0, 6, 0xF7, 0x03, 0x80, 0x16, 0, 2];

    #[test]
    fn a_frame_split_into_single_bytes_comes_out_whole() {
        let mut m = Mbap::default();
        for (i, b) in READ.iter().enumerate() {
            assert_eq!(m.next_frame(0), Ok(None), "after {i} bytes");
            m.push(&[*b], i as Millis);
        }
        let f = m.next_frame(20).unwrap().unwrap();
        assert_eq!(f.transaction, 0x1234);
        assert_eq!(f.unit, 0xF7);
        assert_eq!(f.pdu, vec![0x03, 0x80, 0x16, 0, 2]);
        assert_eq!(m.partial_since(), None);
        assert_eq!(m.next_frame(20), Ok(None));
    }

    #[test]
    fn two_frames_in_one_read_and_a_tail_that_starts_a_new_partial_frame() {
        let mut m = Mbap::default();
        let mut bytes = READ.repeat(2);
        bytes.extend_from_slice(&READ[..3]);
        m.push(&bytes, 100);
        assert!(m.next_frame(100).unwrap().is_some());
        assert!(m.next_frame(100).unwrap().is_some());
        assert_eq!(m.next_frame(100), Ok(None));
        assert_eq!(m.partial_since(), Some(100));
        assert!(!m.stalled(100 + PARTIAL_MS - 1));
        assert!(m.stalled(100 + PARTIAL_MS));
    }

    #[test]
    fn a_slow_loris_stalls_however_often_it_sends() {
        let mut m = Mbap::default();
        // Header announcing the largest legal frame, then one byte a second.
        m.push(&[0, 1, 0, 0, 0x00, 0xFE, 1], 0);
        for s in 1..=5 {
            m.push(&[0], s * 1000);
            assert_eq!(m.next_frame(s * 1000), Ok(None));
        }
        assert!(m.stalled(5_000), "bytes of a partial frame are no activity");
    }

    #[test]
    fn headers_that_are_not_modbus_are_refused_with_their_offset() {
        let mut m = Mbap::default();
        m.push(&[0x10, 0x2A, 0x00, 0x04, b'M', b'Q', b'T', b'T'], 0); // MQTT CONNECT
        assert_eq!(
            m.next_frame(0),
            Err(FrameError::ProtocolId {
                offset: 2,
                found: 4
            })
        );
        let mut m = Mbap::default();
        m.push(&READ, 0);
        m.push(&[0, 1, 0, 0, 0xFF, 0xFF], 0);
        assert!(m.next_frame(0).unwrap().is_some());
        let e = m.next_frame(0).unwrap_err();
        assert_eq!(
            e,
            FrameError::Length {
                offset: 16,
                found: 0xFFFF
            }
        );
        assert_eq!(
            e.to_string(),
            "length 65535 at byte 16 (2..=254: unit id + a PDU of at most 253 bytes)"
        );
        for bad in [0u16, 1, 255] {
            let mut m = Mbap::default();
            let [hi, lo] = bad.to_be_bytes();
            m.push(&[0, 1, 0, 0, hi, lo], 0);
            assert!(m.next_frame(0).is_err(), "length {bad}");
        }
    }

    #[test]
    fn the_protocol_id_is_judged_before_the_length_arrives() {
        let mut m = Mbap::default();
        m.push(b"GET ", 0);
        assert!(matches!(
            m.next_frame(0),
            Err(FrameError::ProtocolId { .. })
        ));
    }

    #[test]
    fn a_response_echoes_transaction_and_unit() {
        assert_eq!(
            encode(0xBEEF, 7, &[0x83, 0x02]),
            vec![0xBE, 0xEF, 0, 0, 0, 3, 7, 0x83, 0x02]
        );
    }
}
