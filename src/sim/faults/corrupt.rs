//! The byte faults of a [`FaultyMeter`](super::FaultyMeter): what a scheduled one-shot fault
//! does to a telegram's bytes (bad CRC, truncation, line noise, garbage before it, a DSMR 2.2
//! telegram instead). All randomness comes from the meter's seed, stream
//! [`STREAM_FAULTS`](super::super::generator::STREAM_FAULTS), drawn telegram after telegram in
//! order — which is why the corruption is its own part: a parallel `generate` encodes on many
//! threads and still corrupts on one, in the same order, giving the same bytes.

use super::{FaultKind, FaultyTelegram, Pending};
use crate::protocol::dsmr::encode_dsmr22;
use crate::protocol::fault::{apply, FrameFault};
use crate::protocol::{dsmr, tic, MeterKind, Reading};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Applies one-shot faults to telegram bytes, drawing from the fault stream.
#[derive(Debug, Clone)]
pub struct Corrupter {
    kind: MeterKind,
    rng: ChaCha8Rng,
}

impl Corrupter {
    pub(super) fn new(kind: MeterKind, rng: ChaCha8Rng) -> Self {
        Corrupter { kind, rng }
    }

    /// The slot `p` with `bytes` (its clean telegram; ignored for a dropped slot) after its
    /// faults, in their scheduled order.
    pub fn finish(&mut self, p: Pending, mut bytes: Vec<u8>) -> FaultyTelegram {
        if p.dropped {
            bytes.clear();
        } else {
            for k in &p.faults {
                bytes = self.corrupt(bytes, k, &p.reading);
            }
        }
        FaultyTelegram {
            at: p.at,
            reading: p.reading,
            bytes,
            faults: p.faults,
        }
    }

    fn corrupt(&mut self, bytes: Vec<u8>, kind: &FaultKind, reading: &Reading) -> Vec<u8> {
        match *kind {
            FaultKind::BadCrc => apply(&bytes, &FrameFault::BadIntegrity),
            FaultKind::Truncate => {
                let keep = self.rng.random_range(bytes.len() / 4..bytes.len().max(1));
                apply(&bytes, &FrameFault::Truncate { keep })
            }
            FaultKind::Noise { bytes: n } => self.noise(bytes, n),
            FaultKind::Garbage { bytes: n } => {
                let garbage: Vec<u8> = (0..n)
                    .map(|_| match self.rng.random::<u8>() {
                        b'/' | 0x02 | 0x03 | 0x04 => 0x00,
                        b => b,
                    })
                    .collect();
                apply(&bytes, &FrameFault::GarbagePrefix(garbage))
            }
            FaultKind::Incompatible => encode_dsmr22(reading),
            FaultKind::Dropout { .. } | FaultKind::ClockSkew { .. } => bytes,
        }
    }

    /// Corrupt `n` distinct bytes (low six bits flipped: never undetectable by a TIC checksum,
    /// never a parity bit); if the telegram still happens to parse, break its integrity too.
    fn noise(&mut self, mut bytes: Vec<u8>, n: usize) -> Vec<u8> {
        let len = bytes.len();
        if len == 0 {
            return bytes;
        }
        let mut hit = vec![false; len];
        for _ in 0..n.min(len) {
            let mut at = self.rng.random_range(0..len);
            while hit[at] {
                at = (at + 1) % len;
            }
            hit[at] = true;
            let mask = self.rng.random_range(1..0x40u8);
            bytes = apply(&bytes, &FrameFault::FlipByte { at, mask });
        }
        let still_valid = match self.kind {
            MeterKind::Dsmr(_) => dsmr::parse(&bytes).is_ok(),
            MeterKind::Tic(_) => tic::parse(&bytes).is_ok(),
        };
        if still_valid {
            bytes = apply(&bytes, &FrameFault::BadIntegrity);
        }
        bytes
    }
}
