//! Meter protocols: pure parsers and encoders for DSMR/e-MUCS P1 telegrams and Linky TIC
//! frames, the streaming framer, and the shared `Reading`/`ParseError` types. No I/O here.

// Values from the wire (telegram, TIC, Modbus, MQTT/HTTP fields) must never overflow into a
// panic (debug) or a silent wrap (release): every arithmetic is checked or saturating, with the
// outcome chosen where it happens. Test modules opt out with `#[allow]`.
#![deny(clippy::arithmetic_side_effects)]

pub mod dsmr;
pub mod error;
pub mod fault;
pub mod framer;
pub mod kind;
pub mod reading;
pub mod tic;
pub mod time;

pub use error::{ErrorKind, ParseError};
pub use kind::{KindEncoder, MeterKind};
pub use reading::{Energy, Protocol, Reading};

use serde::Serialize;

/// Something unusual but accepted in a telegram, counted in the parse result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quirk {
    /// DSMR CRC printed with lower-case hex digits.
    CrcLowercase,
    /// DSMR CRC printed with fewer than 4 digits (leading zeros dropped).
    CrcUnpadded,
    /// Bytes carried a parity bit (7E1 read as 8N1) that was stripped.
    ParityStripped,
    /// A meter timestamp was a placeholder or impossible date: treated as "no time".
    PlaceholderTime,
    /// TIC historic group checksums include the last separator ("mode 2").
    ChecksumMode2,
    /// TIC season letter in lower case: the meter's clock is degraded.
    ClockDegraded,
    /// TIC horodate without a season letter (space).
    NoSeason,
    /// DSMR timestamp with its DST flag in lower case (`s`/`w`), read as `S`/`W`.
    SeasonLowercase,
    /// NUL bytes after the DSMR CRC line, ignored.
    TrailingNul,
}

/// Options for the parsers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Keep the lines/groups that are not mapped into the `Reading` (costs allocations).
    pub keep_raw: bool,
}

/// A successfully parsed telegram or frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telegram {
    #[serde(flatten)]
    pub reading: Reading,
    /// DSMR header identification (`/ISK5\2M550T-1012` without the `/`), TIC: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Unusual-but-accepted traits of this telegram; each quirk at most once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quirks: Vec<Quirk>,
    /// Lines (DSMR) or groups (TIC) not mapped into the reading, when `keep_raw` is set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<String>,
    /// The last DSMR frame parsed into this telegram and its layout, for the next one
    /// (`dsmr/layout.rs`); not part of the result: telegrams compare equal whatever it holds.
    #[serde(skip)]
    pub(crate) layout: dsmr::LayoutCache,
}

/// An empty DSMR telegram: the parse target [`framer::Frame::parse_into`] fills (and refills).
impl Default for Telegram {
    fn default() -> Self {
        Telegram::new(Reading::empty(Protocol::Dsmr))
    }
}

impl Telegram {
    pub(crate) fn new(reading: Reading) -> Self {
        Telegram {
            reading,
            header: None,
            quirks: Vec::new(),
            raw: Vec::new(),
            layout: dsmr::LayoutCache::default(),
        }
    }

    /// A telegram of these parts (with no parse state of its own: an empty layout cache).
    pub fn from_parts(
        reading: Reading,
        header: Option<String>,
        quirks: Vec<Quirk>,
        raw: Vec<String>,
    ) -> Self {
        Telegram {
            reading,
            header,
            quirks,
            raw,
            layout: dsmr::LayoutCache::default(),
        }
    }

    /// Record a quirk once.
    pub(crate) fn quirk(&mut self, q: Quirk) {
        if !self.quirks.contains(&q) {
            self.quirks.push(q);
        }
    }
}

/// Strip the parity bit (7E1 read as 8 bits) when any byte has it; `None` when nothing to strip.
pub(crate) fn strip_parity(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.iter().any(|&b| b & 0x80 != 0) {
        Some(bytes.iter().map(|&b| b & 0x7F).collect())
    } else {
        None
    }
}
