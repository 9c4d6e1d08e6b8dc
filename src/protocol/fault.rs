//! Deliberate faults applied to encoded frames, so the simulator can inject what real lines
//! produce: a wrong DSMR CRC or TIC group checksum, a truncated frame, garbage before a frame,
//! a flipped byte. Pure byte manipulation; the seeded choice of *when* lives in `sim::faults`.

use memchr::memchr;

/// A fault to apply to one encoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameFault {
    /// DSMR: one CRC digit changed. TIC: the first group's checksum character changed.
    BadIntegrity,
    /// Only the first `keep` bytes are sent (at most the length minus one).
    Truncate { keep: usize },
    /// These bytes come before the frame.
    GarbagePrefix(Vec<u8>),
    /// The byte at `at` is XOR-ed with `mask` (line noise); out-of-range positions wrap.
    FlipByte { at: usize, mask: u8 },
}

/// Apply `fault` to a copy of `frame`.
pub fn apply(frame: &[u8], fault: &FrameFault) -> Vec<u8> {
    let mut out = frame.to_vec();
    match fault {
        FrameFault::BadIntegrity => corrupt_integrity(&mut out),
        FrameFault::Truncate { keep } => out.truncate((*keep).min(frame.len().saturating_sub(1))),
        FrameFault::GarbagePrefix(g) => {
            out = g.iter().chain(frame).copied().collect();
        }
        FrameFault::FlipByte { at, mask } => {
            if !out.is_empty() {
                let i = at.checked_rem(out.len()).unwrap_or(0); // not empty: never None
                out[i] ^= mask.max(&1);
            }
        }
    }
    out
}

/// Make the integrity check fail while keeping the frame well-formed.
fn corrupt_integrity(frame: &mut [u8]) {
    if frame.first() == Some(&b'/') {
        if let Some(bang) = memchr(b'!', frame) {
            let crc_at = bang.saturating_add(1);
            if let Some(d) = frame.get_mut(crc_at).filter(|d| d.is_ascii_hexdigit()) {
                *d = next_hex(*d);
            }
        }
    } else if let Some(cr) = memchr(b'\r', frame) {
        // The checksum is the byte before the first group's CR; keep it in the 0x20..0x5F range.
        if let Some(at) = cr.checked_sub(1) {
            let c = &mut frame[at];
            // The next value modulo 64 (wrapping is the point), back in the printable range.
            *c = (c.wrapping_sub(0x20).wrapping_add(1) & 0x3F).saturating_add(0x20);
        }
    }
}

fn next_hex(d: u8) -> u8 {
    let v = (d as char).to_digit(16).unwrap_or(0);
    let n = v.saturating_add(1) % 16; // v ≤ 15
    char::from_digit(n, 16).map_or(b'0', |c| c.to_ascii_uppercase() as u8)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn dsmr_crc_digit_changes() {
        let f = b"/X\r\n\r\n1-0:1.7.0(00.100*kW)\r\n!F9AB\r\n";
        let bad = apply(f, &FrameFault::BadIntegrity);
        assert_eq!(&bad[bad.len() - 7..], b"!09AB\r\n");
    }

    #[test]
    fn tic_checksum_changes_within_range() {
        let f = b"\x02\nADCO 021861348497 L\r\x03";
        let bad = apply(f, &FrameFault::BadIntegrity);
        assert_eq!(bad[bad.len() - 3], b'M');
        let f = b"\x02\nX 1 _\r\x03";
        assert_eq!(apply(f, &FrameFault::BadIntegrity)[6], b' ');
    }

    #[test]
    fn truncate_always_shortens() {
        assert_eq!(apply(b"abc", &FrameFault::Truncate { keep: 10 }), b"ab");
        assert_eq!(
            apply(b"abc", &FrameFault::GarbagePrefix(vec![1])),
            b"\x01abc"
        );
        assert_eq!(
            apply(b"abc", &FrameFault::FlipByte { at: 4, mask: 0 }),
            b"acc"
        );
    }
}
