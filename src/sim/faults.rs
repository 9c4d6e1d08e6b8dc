//! Scheduled faults on a synthetic meter's telegram stream: a bad CRC / group checksum, a
//! truncated telegram, line noise inside a telegram, garbage between telegrams, a dropout, a
//! DSMR 2.2 telegram from an incompatible meter, and a skewed meter clock.
//!
//! A fault scheduled at `at_ms` (from the meter's first telegram) takes effect on the first
//! telegram sent at or after that time. One-shot faults (bad CRC, truncate, noise, garbage,
//! incompatible) change that one telegram; a dropout silences every telegram in its window
//! (one-shot faults falling inside it are lost with the telegram); a clock skew shifts the
//! meter's own timestamp from then on. All randomness (noise bytes and positions, truncation
//! point, garbage) comes from the meter's seed, stream [`STREAM_FAULTS`].

use super::clock::Millis;
use super::generator::{Load, SyntheticMeter, STREAM_FAULTS};
pub use crate::protocol::dsmr::encode_dsmr22;
use crate::protocol::dsmr::DsmrRegisters;
use crate::protocol::{MeterKind, Reading};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod corrupt;
pub use corrupt::Corrupter;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// DSMR CRC or TIC group checksum wrong (`FrameFault::BadIntegrity`).
    BadCrc,
    /// The telegram is cut off at a random point (at least a quarter of it is sent).
    Truncate,
    /// Line noise: `bytes` random bytes inside the telegram are corrupted; the telegram is
    /// always rejected.
    Noise { bytes: usize },
    /// `bytes` random bytes (wrong baud rate, interference) before the telegram, which itself
    /// stays valid. Never contains a frame start byte (`/`, STX).
    Garbage { bytes: usize },
    /// Nothing is sent for `duration_ms`.
    Dropout { duration_ms: i64 },
    /// The meter sends a DSMR 2.2 telegram (no CRC) instead. P1 meters only.
    Incompatible,
    /// The meter's own timestamp is off by `seconds` from then on.
    ClockSkew { seconds: i64 },
}

impl FaultKind {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::BadCrc => "bad_crc",
            FaultKind::Truncate => "truncate",
            FaultKind::Noise { .. } => "noise",
            FaultKind::Garbage { .. } => "garbage",
            FaultKind::Dropout { .. } => "dropout",
            FaultKind::Incompatible => "incompatible",
            FaultKind::ClockSkew { .. } => "clock_skew",
        }
    }
}

/// A fault at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Offset from the scenario start (the meter's first telegram), ms.
    pub at_ms: i64,
    pub kind: FaultKind,
}

/// A fault list that cannot be applied to this meter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("fault `incompatible` (a DSMR 2.2 telegram) needs a P1 meter; {meter} is a TIC meter, and TIC has no incompatible form")]
    IncompatibleOnTic { meter: &'static str },
    #[error("fault `{fault}` at {at_ms} ms: {problem}")]
    Invalid {
        fault: &'static str,
        at_ms: i64,
        problem: String,
    },
}

/// One telegram slot of a faulty meter.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultyTelegram {
    /// When the meter sends (or would have sent) the telegram.
    pub at: Millis,
    /// What the meter measured: what a clean telegram would have carried.
    pub reading: Reading,
    /// What goes on the wire: empty during a dropout.
    pub bytes: Vec<u8>,
    /// The faults that changed these bytes (a clock skew is not listed: the telegram stays
    /// valid and its reading carries the skewed time).
    pub faults: Vec<FaultKind>,
}

impl FaultyTelegram {
    /// The bytes are one valid telegram that parses to `reading`.
    pub fn is_clean(&self) -> bool {
        self.faults.is_empty()
    }
}

/// A synthetic meter with scheduled faults: the [`Schedule`] makes the slots, the
/// [`Corrupter`] applies the byte faults.
#[derive(Debug, Clone)]
pub struct FaultyMeter {
    schedule: Schedule,
    corrupter: Corrupter,
}

/// The meter and its fault schedule: telegram slots in order, before encoding.
#[derive(Debug, Clone)]
pub struct Schedule {
    meter: SyntheticMeter,
    /// Sorted by time (stable: same-time faults keep their order).
    faults: Vec<Fault>,
    /// `faults[..fired]` have taken effect.
    fired: usize,
    dropout_until: Millis,
    dropout: Option<FaultKind>,
}

/// A telegram slot whose bytes are still to be written: the reading and registers to encode,
/// and the faults that will change the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub at: Millis,
    pub reading: Reading,
    pub registers: DsmrRegisters,
    /// The one-shot faults in the order they apply, or the dropout silencing the slot.
    pub faults: Vec<FaultKind>,
    /// Nothing is sent (a dropout).
    pub dropped: bool,
}

impl FaultyMeter {
    /// Wrap `meter`; fails when a fault cannot apply to it (`incompatible` on a TIC meter,
    /// empty noise, non-positive dropout).
    pub fn new(meter: SyntheticMeter, mut faults: Vec<Fault>) -> Result<Self, FaultError> {
        for f in &faults {
            check(f, meter.kind())?;
        }
        faults.sort_by_key(|f| f.at_ms);
        let mut rng = ChaCha8Rng::seed_from_u64(meter.seed());
        rng.set_stream(STREAM_FAULTS);
        Ok(FaultyMeter {
            corrupter: Corrupter::new(meter.kind(), rng),
            schedule: Schedule {
                meter,
                faults,
                fired: 0,
                dropout_until: i64::MIN,
                dropout: None,
            },
        })
    }

    pub fn kind(&self) -> MeterKind {
        self.schedule.meter.kind()
    }

    /// Add a fault now: it takes effect on the next telegram (the live house's "fault now").
    /// Checked as in [`FaultyMeter::new`].
    pub fn inject(&mut self, kind: FaultKind, now: Millis) -> Result<(), FaultError> {
        let s = &mut self.schedule;
        let at_ms = now.saturating_sub(s.meter.start()).max(0);
        let f = Fault { at_ms, kind };
        check(&f, s.meter.kind())?;
        let pos = s.faults[s.fired..].partition_point(|g| g.at_ms <= at_ms);
        s.faults.insert(s.fired + pos, f);
        Ok(())
    }

    pub fn meter(&self) -> &SyntheticMeter {
        &self.schedule.meter
    }

    pub fn meter_mut(&mut self) -> &mut SyntheticMeter {
        &mut self.schedule.meter
    }

    pub fn faults(&self) -> &[Fault] {
        &self.schedule.faults
    }

    /// Change what the meter measures from the next telegram on.
    pub fn set_load(&mut self, load: Load) {
        self.schedule.meter.set_load(load);
    }

    /// Time of the next telegram slot.
    pub fn next_at(&self) -> Millis {
        self.schedule.next_at()
    }

    /// The next telegram slot: its bytes with the faults due applied, or no bytes during a
    /// dropout.
    #[allow(clippy::should_implement_trait)] // never ends: not an iterator
    pub fn next(&mut self) -> FaultyTelegram {
        let p = self.schedule.next_pending();
        let bytes = if p.dropped {
            Vec::new()
        } else {
            self.schedule.meter.encode(&p.reading, &p.registers)
        };
        self.corrupter.finish(p, bytes)
    }

    /// The slot maker and the byte faults apart (a parallel writer makes slots on one
    /// thread and corrupts on another; see `sim::parallel`).
    pub fn parts_mut(&mut self) -> (&mut Schedule, &mut Corrupter) {
        (&mut self.schedule, &mut self.corrupter)
    }
}

impl Schedule {
    /// Time of the next telegram slot.
    pub fn next_at(&self) -> Millis {
        self.meter.next_at()
    }

    /// The next slot before encoding: the faults due take effect (a clock skew on the
    /// reading, a dropout on this and later slots, one-shot faults listed for the bytes).
    pub fn next_pending(&mut self) -> Pending {
        let at = self.meter.next_at();
        let mut one_shot = Vec::new();
        while let Some(f) = self.faults.get(self.fired) {
            let when = self.meter.start() + f.at_ms;
            if when > at {
                break;
            }
            self.fired += 1;
            match f.kind {
                FaultKind::ClockSkew { seconds } => {
                    self.meter.set_clock_skew(seconds.saturating_mul(1000))
                }
                FaultKind::Dropout { duration_ms } => {
                    let end = when.saturating_add(duration_ms);
                    if end > self.dropout_until {
                        self.dropout_until = end;
                        self.dropout = Some(f.kind.clone());
                    }
                }
                ref k => one_shot.push(k.clone()),
            }
        }
        let (_, reading) = self.meter.next_reading();
        let registers = self.meter.registers().clone();
        if at < self.dropout_until {
            return Pending {
                at,
                reading,
                registers,
                faults: self.dropout.clone().into_iter().collect(),
                dropped: true,
            };
        }
        // The replacement telegram first, then the byte faults in their scheduled order.
        one_shot.sort_by_key(|k| *k != FaultKind::Incompatible);
        Pending {
            at,
            reading,
            registers,
            faults: one_shot,
            dropped: false,
        }
    }
}

/// Whether `f` can apply to a meter of `kind` (`incompatible` on a TIC meter, empty noise,
/// non-positive dropout, negative time are refused).
fn check(f: &Fault, kind: MeterKind) -> Result<(), FaultError> {
    let invalid = |problem: &str| FaultError::Invalid {
        fault: f.kind.name(),
        at_ms: f.at_ms,
        problem: problem.to_string(),
    };
    match f.kind {
        FaultKind::Incompatible if matches!(kind, MeterKind::Tic(_)) => {
            Err(FaultError::IncompatibleOnTic { meter: kind.name() })
        }
        FaultKind::Noise { bytes: 0 } | FaultKind::Garbage { bytes: 0 } => {
            Err(invalid("needs at least one byte"))
        }
        FaultKind::Dropout { duration_ms } if duration_ms <= 0 => {
            Err(invalid("the duration must be positive"))
        }
        _ if f.at_ms < 0 => Err(invalid("the time must not be negative")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framer::{decode_all, FramerMode};
    use crate::protocol::{dsmr, ErrorKind, ParseOptions};
    use crate::sim::generator::LoadComponent;

    const T0: Millis = 1_774_744_200_000; // 2026-03-29T00:30:00Z

    fn meter(name: &str) -> SyntheticMeter {
        let load = Load::Household(vec![LoadComponent::Base {
            watts: 500.0,
            noise: 0.1,
        }]);
        SyntheticMeter::new(MeterKind::from_name(name).unwrap(), load, 11, T0)
    }

    fn at(s: i64, kind: FaultKind) -> Fault {
        Fault {
            at_ms: s * 1000,
            kind,
        }
    }

    fn mode(m: &FaultyMeter) -> FramerMode {
        match m.kind() {
            MeterKind::Dsmr(_) => FramerMode::P1,
            MeterKind::Tic(_) => FramerMode::Tic,
        }
    }

    #[test]
    fn one_shot_faults_break_one_telegram_each() {
        for name in ["smr5", "tic-standard-tri", "tic-historic"] {
            // Half-way between telegrams, so TIC jitter cannot merge two faults.
            let iv = MeterKind::from_name(name).unwrap().interval_ms();
            let at = |k: i64, kind| Fault {
                at_ms: k * iv + iv / 2,
                kind,
            };
            let faults = vec![
                at(1, FaultKind::BadCrc),
                at(3, FaultKind::Truncate),
                at(5, FaultKind::Noise { bytes: 3 }),
                at(7, FaultKind::Garbage { bytes: 20 }),
            ];
            let mut m = FaultyMeter::new(meter(name), faults).unwrap();
            let slots: Vec<_> = (0..12).map(|_| m.next()).collect();
            let broken: Vec<_> = slots.iter().filter(|t| !t.is_clean()).collect();
            assert_eq!(broken.len(), 4, "{name}");
            assert_eq!(broken[3].faults, [FaultKind::Garbage { bytes: 20 }]);
            let stream: Vec<u8> = slots.iter().flat_map(|t| t.bytes.clone()).collect();
            let decoded = decode_all(&stream, mode(&m), ParseOptions::default());
            let ok: Vec<_> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
            // BadCrc, Truncate, Noise lose their telegram; the one after the garbage is fine.
            assert_eq!(ok.len(), 12 - 3, "{name}: {decoded:?}");
            let clean: Vec<_> = slots
                .iter()
                .filter(|t| t.is_clean() || t.faults[0] == FaultKind::Garbage { bytes: 20 })
                .map(|t| t.reading.clone())
                .collect();
            let parsed: Vec<_> = ok.iter().map(|(_, t)| t.reading.clone()).collect();
            assert_eq!(parsed, clean, "{name}");
        }
    }

    #[test]
    fn dropout_silences_its_window() {
        let mut m = FaultyMeter::new(
            meter("smr5"),
            vec![at(3, FaultKind::Dropout { duration_ms: 4500 })],
        )
        .unwrap();
        let empty: Vec<bool> = (0..10).map(|_| m.next().bytes.is_empty()).collect();
        let expect = [
            false, false, false, true, true, true, true, true, false, false,
        ];
        assert_eq!(empty, expect);
    }

    #[test]
    fn clock_skew_shifts_the_meter_time_from_then_on() {
        let mut m = FaultyMeter::new(
            meter("smr5"),
            vec![at(2, FaultKind::ClockSkew { seconds: -3600 })],
        )
        .unwrap();
        let ts: Vec<_> = (0..4).map(|_| m.next()).collect();
        assert_eq!(ts[1].reading.timestamp, Some(ts[1].at / 1000));
        assert_eq!(ts[2].reading.timestamp, Some(ts[2].at / 1000 - 3600));
        assert_eq!(ts[3].reading.timestamp, Some(ts[3].at / 1000 - 3600));
        assert!(ts.iter().all(FaultyTelegram::is_clean));
        let parsed = dsmr::parse(&ts[3].bytes).unwrap().reading;
        assert_eq!(parsed, ts[3].reading);
    }

    #[test]
    fn incompatible_sends_a_dsmr22_telegram() {
        let mut m = FaultyMeter::new(meter("smr5"), vec![at(1, FaultKind::Incompatible)]).unwrap();
        m.next();
        let t = m.next();
        let text = String::from_utf8(t.bytes.clone()).unwrap();
        assert!(
            text.starts_with("/ISk5\\2MT382-1000\r\n\r\n0-0:96.1.1("),
            "{text}"
        );
        assert!(
            text.ends_with(")\r\n!\r\n") && !text.contains("1-3:0.2.8"),
            "{text}"
        );
        let e = dsmr::parse(&t.bytes).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Incompatible);
        let decoded = decode_all(&t.bytes, FramerMode::P1, ParseOptions::default());
        assert!(matches!(&decoded[..], [Err(e)] if e.kind == ErrorKind::Incompatible));
        assert!(m.next().is_clean());
    }

    #[test]
    fn incompatible_on_tic_is_refused() {
        let e = FaultyMeter::new(meter("tic-standard"), vec![at(1, FaultKind::Incompatible)])
            .unwrap_err();
        assert!(e.to_string().contains("tic-standard is a TIC meter"), "{e}");
        assert!(
            FaultyMeter::new(meter("smr5"), vec![at(1, FaultKind::Noise { bytes: 0 })]).is_err()
        );
    }

    #[test]
    fn faults_are_deterministic_per_seed() {
        let run = || {
            let faults = vec![
                at(1, FaultKind::Truncate),
                at(2, FaultKind::Noise { bytes: 5 }),
                at(3, FaultKind::Garbage { bytes: 9 }),
            ];
            let mut m = FaultyMeter::new(meter("smr5"), faults).unwrap();
            (0..5).flat_map(|_| m.next().bytes).collect::<Vec<u8>>()
        };
        assert_eq!(run(), run());
    }
}
