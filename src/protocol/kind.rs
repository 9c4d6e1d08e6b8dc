//! Every meter kind the simulator can impersonate, across both protocols: names for the
//! command line and scenarios, telegram interval, phases, and dispatch to the right encoder.

use super::dsmr::{self, DsmrKind};
use super::tic::{self, TicKind};
use super::{Protocol, Reading};

/// A P1 or TIC meter kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterKind {
    Dsmr(DsmrKind),
    Tic(TicKind),
}

impl MeterKind {
    /// All kinds in a stable order (P1 first).
    pub fn all() -> impl Iterator<Item = MeterKind> {
        DsmrKind::ALL
            .into_iter()
            .map(MeterKind::Dsmr)
            .chain(TicKind::ALL.into_iter().map(MeterKind::Tic))
    }

    /// Command-line / scenario name (`smr5`, `dsmr42`, `emucs`, `tic-standard-tri`, …).
    pub fn name(self) -> &'static str {
        match self {
            MeterKind::Dsmr(k) => k.name(),
            MeterKind::Tic(k) => k.name(),
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|k| k.name() == name)
    }

    /// Every valid name, comma-separated (for error messages).
    pub fn names() -> String {
        Self::all().map(|k| k.name()).collect::<Vec<_>>().join(", ")
    }

    /// The protocol its telegrams carry.
    pub fn protocol(self) -> Protocol {
        match self {
            MeterKind::Dsmr(_) => Protocol::Dsmr,
            MeterKind::Tic(k) if k.is_standard() => Protocol::TicStandard,
            MeterKind::Tic(_) => Protocol::TicHistoric,
        }
    }

    /// Number of phases.
    pub fn phases(self) -> usize {
        match self {
            MeterKind::Dsmr(k) => k.phases(),
            MeterKind::Tic(k) if k.three_phase() => 3,
            MeterKind::Tic(_) => 1,
        }
    }

    /// Time between telegrams in milliseconds: SMR5 1 s, DSMR 4.2 10 s, TIC standard ≈0.9 s
    /// mono / ≈1.4 s three-phase, historic ≈2 s (P1-04, P1-07).
    pub fn interval_ms(self) -> i64 {
        match self {
            MeterKind::Dsmr(k) => i64::from(k.interval_s()).saturating_mul(1000),
            MeterKind::Tic(k) if !k.is_standard() => 2000,
            MeterKind::Tic(k) if k.three_phase() => 1400,
            MeterKind::Tic(_) => 900,
        }
    }

    /// Whether the meter powers a P1 device through its port (SMR 5.x and e-MUCS do, DSMR
    /// 4.2 does not, TIC never; PWR-01/02/04).
    pub fn supplies_p1_power(self) -> bool {
        matches!(
            self,
            MeterKind::Dsmr(DsmrKind::Smr5ThreePhase | DsmrKind::Smr5OnePhase | DsmrKind::Emucs)
        )
    }

    /// Encode one telegram/frame of this kind.
    pub fn encode(self, r: &Reading) -> Vec<u8> {
        match self {
            MeterKind::Dsmr(k) => dsmr::encode(r, k),
            MeterKind::Tic(k) => tic::encode(r, k),
        }
    }

    /// Encode one telegram/frame of this kind carrying `regs` (TIC frames carry none of
    /// them: one index, no M-Bus, no demand registers).
    pub fn encode_with(self, r: &Reading, regs: &dsmr::DsmrRegisters) -> Vec<u8> {
        self.encoder().encode(r, regs)
    }

    /// An encoder for telegram after telegram of this kind.
    pub fn encoder(self) -> KindEncoder {
        match self {
            MeterKind::Dsmr(k) => KindEncoder::Dsmr(Box::new(dsmr::Encoder::new(k))),
            MeterKind::Tic(k) => KindEncoder::Tic(k),
        }
    }
}

/// Telegram after telegram of one meter kind: DSMR through the reusable [`dsmr::Encoder`]
/// (which rewrites only what changed), TIC frame by frame. The bytes are those of
/// [`MeterKind::encode_with`].
#[derive(Debug, Clone)]
pub enum KindEncoder {
    Dsmr(Box<dsmr::Encoder>),
    Tic(TicKind),
}

impl KindEncoder {
    /// Append the telegram of `r` carrying `regs` to `out`.
    pub fn encode_into(&mut self, r: &Reading, regs: &dsmr::DsmrRegisters, out: &mut Vec<u8>) {
        match self {
            KindEncoder::Dsmr(e) => out.extend_from_slice(e.encode(r, regs)),
            KindEncoder::Tic(k) => out.extend_from_slice(&tic::encode_with(r, *k, regs.tariff)),
        }
    }

    /// The telegram of `r` carrying `regs`.
    pub fn encode(&mut self, r: &Reading, regs: &dsmr::DsmrRegisters) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(r, regs, &mut out);
        out
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let names: Vec<_> = MeterKind::all().map(MeterKind::name).collect();
        for n in &names {
            assert_eq!(MeterKind::from_name(n).unwrap().name(), *n);
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(MeterKind::names().contains("tic-producer"));
    }

    #[test]
    fn intervals_follow_the_standards() {
        assert_eq!(MeterKind::from_name("smr5").unwrap().interval_ms(), 1000);
        assert_eq!(
            MeterKind::from_name("dsmr42").unwrap().interval_ms(),
            10_000
        );
        assert_eq!(
            MeterKind::from_name("tic-historic").unwrap().interval_ms(),
            2000
        );
        assert_eq!(
            MeterKind::from_name("tic-standard").unwrap().interval_ms(),
            900
        );
        assert_eq!(
            MeterKind::from_name("tic-standard-tri")
                .unwrap()
                .interval_ms(),
            1400
        );
    }
}
