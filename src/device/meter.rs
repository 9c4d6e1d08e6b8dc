//! The device's meter input: serial bytes in → framer → parser → acceptance rules → a new
//! register snapshot per valid telegram (MB-07/08), rejected telegrams only counted (P1-06),
//! "no meter data" after the P1-07 silence with the last values kept, DSMR older than 4.2
//! refused (P1-02), DSMR 4.2 voltage 0 (P1-05), TIC per-phase power never negative (TIC-02/04).
//! What the firmware accepts (oldest DSMR version, TIC historic mode, the DSMR 4.x silence
//! timeout) is a parameter of the hardware (`MeterParams`), the manual's values by default.

use super::registers::MeterValues;
use super::Variant;
use crate::protocol::framer::{Event as FrameEvent, Frame, Framer, FramerMode};
use crate::protocol::{ErrorKind, ParseError, ParseOptions, Protocol, Reading, Telegram};
use crate::time::{Duration, Instant};
use serde::Serialize;

/// Why the device has no meter data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataReason {
    /// No valid telegram since power-on.
    NeverReceived,
    /// Valid telegrams stopped (bad cable, P1 port switched off, only rejected telegrams).
    Timeout,
    /// The meter sends telegrams older than DSMR 4.2 (P1-02).
    Incompatible,
}

/// Whether meter data is flowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum MeterState {
    Receiving,
    NoData(NoDataReason),
}

/// What the meter input reports in the status (API-06).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterStatus {
    pub protocol: Option<Protocol>,
    pub version: Option<String>,
    /// Device time (UTC epoch ms) of the last valid telegram.
    pub last_telegram_at: Option<Instant>,
    pub telegrams_ok: u64,
    pub telegrams_rejected: u64,
    pub state: MeterState,
    pub last_error: Option<ParseError>,
    /// TIC STGE bit 9 of the last valid telegram (TIC-04); `None` for DSMR.
    pub exporting: Option<bool>,
}

/// What the meter input asks the rest of the device to do.
#[derive(Debug, Clone, PartialEq)]
pub enum MeterEffect {
    /// A valid telegram: the new register values and the reading behind them.
    Accepted(MeterValues, Box<Reading>),
    Rejected(ParseError),
    StateChanged(MeterState),
}

/// What a firmware accepts on its meter input and how long it waits for a silent meter.
/// The defaults are the manual's (P1-02, P1-07, TIC-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterParams {
    /// The oldest DSMR version accepted, times ten (42: DSMR 4.2, P1-02).
    pub min_dsmr_version: u32,
    /// Whether Linky frames in historic mode are read (TIC-01); standard mode always is.
    pub tic_historic: bool,
    /// Silence after which a DSMR 4.x meter (a telegram every 10 s) counts as gone (P1-07).
    pub dsmr4_silence_timeout_ms: Duration,
}

impl Default for MeterParams {
    fn default() -> Self {
        MeterParams {
            min_dsmr_version: 42,
            tic_historic: true,
            dsmr4_silence_timeout_ms: Duration::from_secs(30),
        }
    }
}

/// The meter input state machine.
#[derive(Debug)]
pub struct MeterInput {
    variant: Variant,
    framer: Framer,
    values: MeterValues,
    status: MeterStatus,
    /// Silence after which the device declares "no meter data" (P1-07).
    timeout_ms: Duration,
    frames: Vec<FrameEvent>,
    /// Device time of the last byte received, for the inter-byte timeout.
    last_byte_at: Instant,
    params: MeterParams,
    /// The last version field seen and its `numeric_version`, so a meter repeating its
    /// version (every telegram) is not re-parsed.
    version_seen: Option<(String, Option<u32>)>,
    /// The parse target, reused frame after frame (its header string's memory stays; the
    /// reading leaves with the `Accepted` effect).
    parsed: Telegram,
}

/// A frame still open after this long without bytes is truncated (a whole telegram takes
/// well under this at 115200 Bd, and historic TIC sends a byte every 8 ms).
pub const IDLE_MS: Duration = Duration::from_ms(500);

impl MeterInput {
    /// A meter input of `variant` with the manual's acceptance rules.
    pub fn new(variant: Variant) -> Self {
        MeterInput::with_params(variant, MeterParams::default())
    }

    /// A meter input of `variant` accepting what `params` says.
    pub fn with_params(variant: Variant, params: MeterParams) -> Self {
        let mode = match variant {
            Variant::P1 => FramerMode::P1,
            Variant::Tic => FramerMode::Tic,
        };
        MeterInput {
            variant,
            framer: Framer::new(mode),
            values: MeterValues::default(),
            status: MeterStatus {
                protocol: None,
                version: None,
                last_telegram_at: None,
                telegrams_ok: 0,
                telegrams_rejected: 0,
                state: MeterState::NoData(NoDataReason::NeverReceived),
                last_error: None,
                exporting: None,
            },
            timeout_ms: default_timeout(variant),
            frames: Vec::new(),
            last_byte_at: Instant::EPOCH,
            params,
            version_seen: None,
            parsed: Telegram::default(),
        }
    }

    pub fn values(&self) -> &MeterValues {
        &self.values
    }

    pub fn status(&self) -> &MeterStatus {
        &self.status
    }

    /// Bytes from the meter line.
    pub fn on_bytes(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<MeterEffect>) {
        let mut frames = std::mem::take(&mut self.frames);
        self.framer.push(bytes, &mut frames);
        self.last_byte_at = now;
        self.handle_frames(&mut frames, now, out);
        self.frames = frames;
        self.on_tick(now, out);
    }

    fn handle_frames(
        &mut self,
        frames: &mut Vec<FrameEvent>,
        now: Instant,
        out: &mut Vec<MeterEffect>,
    ) {
        for ev in frames.drain(..) {
            let parsed = match ev {
                FrameEvent::Frame(f) => {
                    let parsed = self.parse(&f);
                    self.framer.recycle(f);
                    parsed
                }
                FrameEvent::Error(e) if e.kind == ErrorKind::Garbage => continue,
                FrameEvent::Error(e) => Err(e),
            };
            self.on_parsed(parsed, now, out);
        }
    }

    /// A telegram the framer and parser already produced from bytes received at `now` (the
    /// device path after parsing, `Device::handle_telegram_into`): what `on_bytes` does with
    /// each parsed frame.
    pub fn on_telegram(&mut self, t: Telegram, now: Instant, out: &mut Vec<MeterEffect>) {
        self.last_byte_at = now;
        self.on_parsed(Ok(Box::new(t.reading)), now, out);
        self.on_tick(now, out);
    }

    /// Where parsing ends: one frame's telegram or error through the acceptance rules.
    fn on_parsed(
        &mut self,
        parsed: Result<Box<Reading>, ParseError>,
        now: Instant,
        out: &mut Vec<MeterEffect>,
    ) {
        // The reading stays boxed (the `Accepted` effect's box): no copies on the way.
        match parsed.and_then(|r| self.accept(&r).map(|()| r)) {
            Ok(reading) => self.on_valid(reading, now, out),
            Err(e) => self.on_rejected(e, out),
        }
    }

    /// Time passed: declare "no meter data" once the meter has been silent too long.
    pub fn on_tick(&mut self, now: Instant, out: &mut Vec<MeterEffect>) {
        if self.framer.in_frame() && now >= self.last_byte_at.saturating_add(IDLE_MS) {
            let mut frames = std::mem::take(&mut self.frames);
            self.framer.idle(&mut frames);
            self.handle_frames(&mut frames, now, out);
            self.frames = frames;
        }
        if let (MeterState::Receiving, Some(deadline)) = (self.status.state, self.deadline()) {
            if now >= deadline {
                let reason = match &self.status.last_error {
                    Some(e) if e.kind == ErrorKind::Incompatible => NoDataReason::Incompatible,
                    _ => NoDataReason::Timeout,
                };
                self.set_state(MeterState::NoData(reason), out);
            }
        }
    }

    /// When the device must next look at the meter input, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        let silence = match self.status.state {
            MeterState::Receiving => self
                .status
                .last_telegram_at
                .map(|t| t.saturating_add(self.timeout_ms)),
            MeterState::NoData(_) => None,
        };
        let idle = self
            .framer
            .in_frame()
            .then_some(self.last_byte_at.saturating_add(IDLE_MS));
        match (silence, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Parse a frame (framing and checksum) into the reused parse target; the reading is
    /// moved out (it leaves with the `Accepted` effect), the rest stays for the next frame.
    fn parse(&mut self, f: &Frame) -> Result<Box<Reading>, ParseError> {
        f.parse_into(ParseOptions::default(), &mut self.parsed)?;
        Ok(Box::new(std::mem::replace(
            &mut self.parsed.reading,
            Reading::empty(Protocol::Dsmr),
        )))
    }

    /// Device-level acceptance beyond framing and checksums.
    fn accept(&mut self, r: &Reading) -> Result<(), ParseError> {
        match (self.variant, r.protocol) {
            (Variant::P1, Protocol::Dsmr) => {
                if let Some(v) = self.version_number(r.version.as_deref()) {
                    if v < self.params.min_dsmr_version {
                        let msg = format!(
                            "DSMR {} meter: older than DSMR 4.2 is not supported",
                            r.version.as_deref().unwrap_or("?")
                        );
                        return Err(ParseError::new(ErrorKind::Incompatible, 0, 1, msg));
                    }
                }
                Ok(())
            }
            (Variant::Tic, Protocol::TicHistoric) if !self.params.tic_historic => {
                let msg = "TIC historic mode is not supported".to_string();
                Err(ParseError::new(ErrorKind::Incompatible, 0, 1, msg))
            }
            (Variant::Tic, Protocol::TicHistoric | Protocol::TicStandard) => Ok(()),
            (v, p) => Err(ParseError::new(
                ErrorKind::Incompatible,
                0,
                1,
                format!("a {} telegram on a {v:?} device", p.as_str()),
            )),
        }
    }

    /// `numeric_version` of a version field, remembered for the next telegram's same field.
    fn version_number(&mut self, v: Option<&str>) -> Option<u32> {
        let v = v?;
        match &self.version_seen {
            Some((seen, n)) if seen == v => *n,
            _ => {
                let n = numeric_version(v);
                self.version_seen = Some((v.to_string(), n));
                n
            }
        }
    }

    fn on_valid(&mut self, r: Box<Reading>, now: Instant, out: &mut Vec<MeterEffect>) {
        // Counters saturate at u64::MAX (never wrap back to "no telegram yet").
        let seq = self.values.telegram_seq.saturating_add(1);
        self.values = to_values(&r, self.variant, seq);
        let version = self.version_number(r.version.as_deref());
        self.timeout_ms = timeout_for(version, self.variant, &self.params);
        self.status.telegrams_ok = self.status.telegrams_ok.saturating_add(1);
        self.status.last_telegram_at = Some(now);
        self.status.protocol = Some(r.protocol);
        if self.status.version != r.version {
            self.status.version.clone_from(&r.version);
        }
        self.status.exporting = r.exporting;
        out.push(MeterEffect::Accepted(self.values, r));
        self.set_state(MeterState::Receiving, out);
    }

    fn on_rejected(&mut self, e: ParseError, out: &mut Vec<MeterEffect>) {
        self.status.telegrams_rejected = self.status.telegrams_rejected.saturating_add(1);
        let incompatible = e.kind == ErrorKind::Incompatible;
        self.status.last_error = Some(e.clone());
        out.push(MeterEffect::Rejected(e));
        if incompatible {
            if let MeterState::NoData(_) = self.status.state {
                self.set_state(MeterState::NoData(NoDataReason::Incompatible), out);
            }
        }
    }

    fn set_state(&mut self, s: MeterState, out: &mut Vec<MeterEffect>) {
        if self.status.state != s {
            self.status.state = s;
            out.push(MeterEffect::StateChanged(s));
        }
    }
}

/// `4.2` → 42, `5.0` → 50; e-MUCS and unknown forms → None (accepted). The version field
/// comes from the wire: a number that does not fit a `u32` once scaled (`999999999.9`), or a
/// minor part of more than one digit (`4.10`, which would otherwise read as 50), is not a
/// DSMR version this firmware knows, so it is unknown too: accepted, with SMR 5 timing.
pub(super) fn numeric_version(v: &str) -> Option<u32> {
    let (a, b) = v.split_once('.')?;
    let (major, minor) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
    if minor > 9 {
        return None;
    }
    major.checked_mul(10)?.checked_add(minor)
}

fn default_timeout(variant: Variant) -> Duration {
    match variant {
        Variant::P1 => Duration::from_secs(3),
        Variant::Tic => Duration::from_secs(10),
    }
}

/// P1-07: three telegram intervals (30 s for DSMR 4.x by default, 3 s for SMR5/e-MUCS),
/// 10 s on TIC. `version` is the telegram's `numeric_version`.
fn timeout_for(version: Option<u32>, variant: Variant, params: &MeterParams) -> Duration {
    match (variant, version) {
        (Variant::Tic, _) => Duration::from_secs(10),
        (Variant::P1, Some(v)) if v < 50 => params.dsmr4_silence_timeout_ms,
        (Variant::P1, _) => Duration::from_secs(3),
    }
}

/// The register values of a valid reading: missing values read 0, DSMR 4.2 voltage 0 (P1-05),
/// currents as magnitudes (MB-13), TIC per-phase power never negative (TIC-02).
pub fn to_values(r: &Reading, variant: Variant, seq: u64) -> MeterValues {
    let z = |x: Option<f32>| x.filter(|v| v.is_finite()).unwrap_or(0.0);
    let mut v = MeterValues {
        telegram_seq: seq,
        ..MeterValues::default()
    };
    for p in 0..3 {
        v.voltage_v[p] = z(r.voltage_v[p]);
        v.current_a[p] = z(r.current_a[p]).abs();
        v.active_power_phase_w[p] = match variant {
            Variant::P1 => z(r.active_power_phase_w[p]),
            Variant::Tic => z(r.active_power_phase_w[p]).max(0.0),
        };
    }
    v.active_power_w = z(r.active_power_w);
    v
}
