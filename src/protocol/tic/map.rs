//! Mapping of checked TIC groups into a [`Reading`]: which label feeds which field, the
//! mono/three-phase decision, apparent-power totals (SINSTS − SINSTI), STGE flags, energy
//! indexes and the DATE horodate with its season letter.

use super::{Group, Mode};
use crate::protocol::time::{self, Season, TIC_TZ};
use crate::protocol::{Protocol, Quirk, Reading, Telegram};

/// A group whose value the reading cannot use; the parser adds the byte offset and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupValueError {
    #[error("group {label:?}: value {value:?} is not a number")]
    NotNumber { label: String, value: String },
    #[error("group \"STGE\": {value:?} is not 8 hex digits")]
    Stge { value: String },
}

/// The STGE status register of a standard-mode meter (32 bits, sent as 8 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stge(pub u32);

impl Stge {
    /// Bit 8: the meter runs in producer mode.
    pub const PRODUCER: u32 = 1 << 8;
    /// Bit 9: the active energy flows in the negative direction (the site exports).
    pub const NEGATIVE_ENERGY: u32 = 1 << 9;

    /// Parse exactly 8 hex digits (either case).
    pub fn parse(hex: &[u8]) -> Option<Stge> {
        if hex.len() != 8 {
            return None;
        }
        hex.iter()
            .try_fold(0u32, |acc, &b| Some(acc << 4 | (b as char).to_digit(16)?))
            .map(Stge)
    }

    /// Bit 8: producer mode.
    pub fn producer(self) -> bool {
        self.0 & Self::PRODUCER != 0
    }

    /// Bit 9: negative active energy (exporting).
    pub fn exporting(self) -> bool {
        self.0 & Self::NEGATIVE_ENERGY != 0
    }
}

/// Values gathered over the groups, combined into the reading at the end.
/// `NGTF` of the HC/HP option (16 characters).
pub(super) const NGTF_HC_HP: &str = "H PLEINE/CREUSE ";

#[derive(Default)]
pub(super) struct Acc {
    papp: Option<u32>,
    sinsts: Option<u32>,
    sinsti: Option<u32>,
    sinsts_phase: [Option<u32>; 3],
    three_phase: bool,
    stge: Option<Stge>,
    /// Historic: sum of the Tempo (BBR*) or EJP indexes.
    total_wh: Option<u64>,
    base_wh: Option<u64>,
    hchc_wh: Option<u64>,
    hchp_wh: Option<u64>,
    east_wh: Option<u64>,
    eait_wh: Option<u64>,
    /// Standard: the supplier's calendar is HC/HP (`NGTF H PLEINE/CREUSE`), so `EASF01`
    /// is the HC index and `EASF02` the HP one.
    hc_hp: bool,
    easf_wh: [Option<u64>; 2],
}

/// A whole number made of ASCII digits only (at most 18, so it always fits a u64; checked
/// anyway: a number that did not fit would be "not a number", never a wrapped one).
pub(super) fn uint(data: &[u8]) -> Option<u64> {
    if data.is_empty() || data.len() > 18 {
        return None;
    }
    data.iter().try_fold(0u64, |acc, &b| {
        let digit = b
            .is_ascii_digit()
            .then(|| u64::from(b.wrapping_sub(b'0')))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

impl Acc {
    /// Map one group; `Ok(false)` when the label is not one the reading uses.
    pub(super) fn apply(
        &mut self,
        tel: &mut Telegram,
        mode: Mode,
        g: &Group<'_>,
    ) -> Result<bool, GroupValueError> {
        let d = g.data;
        let num = || {
            uint(d).ok_or_else(|| GroupValueError::NotNumber {
                label: String::from_utf8_lossy(g.label).into_owned(),
                value: String::from_utf8_lossy(d).into_owned(),
            })
        };
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        if mode == Mode::Standard && g.label == b"DATE" {
            tel.reading.timestamp = horodate(g.horodate.unwrap_or(d), tel);
            return Ok(true);
        }
        let r = &mut tel.reading;
        match (mode, g.label) {
            (Mode::Historic, b"ADCO") | (Mode::Standard, b"ADSC") => {
                let id = String::from_utf8_lossy(d).trim().to_string();
                r.meter_id = (!id.is_empty()).then_some(id);
            }
            (Mode::Historic, b"IINST" | b"IINST1") => r.current_a[0] = Some(num()? as f32),
            (Mode::Historic, b"IINST2") => self.phase(&mut r.current_a[1], num()?),
            (Mode::Historic, b"IINST3") => self.phase(&mut r.current_a[2], num()?),
            (Mode::Historic, b"PAPP") => self.papp = Some(small(num()?)),
            (Mode::Historic, b"BASE") => self.base_wh = Some(num()?),
            (Mode::Historic, b"HCHC") => self.hchc_wh = Some(num()?),
            (Mode::Historic, b"HCHP") => self.hchp_wh = Some(num()?),
            (
                Mode::Historic,
                b"BBRHCJB" | b"BBRHPJB" | b"BBRHCJW" | b"BBRHPJW" | b"BBRHCJR" | b"BBRHPJR"
                | b"EJPHN" | b"EJPHPM",
            ) => self.total_wh = Some(self.total_wh.unwrap_or(0).saturating_add(num()?)),
            (Mode::Standard, b"VTIC") => {
                let v = String::from_utf8_lossy(d);
                let v = v.trim().trim_start_matches('0');
                r.version = Some(format!("TIC V{}", if v.is_empty() { "0" } else { v }));
            }
            (Mode::Standard, b"IRMS1") => r.current_a[0] = Some(num()? as f32),
            (Mode::Standard, b"IRMS2") => self.phase(&mut r.current_a[1], num()?),
            (Mode::Standard, b"IRMS3") => self.phase(&mut r.current_a[2], num()?),
            (Mode::Standard, b"URMS1") => r.voltage_v[0] = Some(num()? as f32),
            (Mode::Standard, b"URMS2") => self.phase(&mut r.voltage_v[1], num()?),
            (Mode::Standard, b"URMS3") => self.phase(&mut r.voltage_v[2], num()?),
            (Mode::Standard, b"SINSTS") => self.sinsts = Some(small(num()?)),
            (Mode::Standard, b"SINSTS1") => self.sinsts_phase[0] = Some(small(num()?)),
            (Mode::Standard, b"SINSTS2") => {
                self.sinsts_phase[1] = Some(small(num()?));
                self.three_phase = true;
            }
            (Mode::Standard, b"SINSTS3") => {
                self.sinsts_phase[2] = Some(small(num()?));
                self.three_phase = true;
            }
            (Mode::Standard, b"SINSTI") => self.sinsti = Some(small(num()?)),
            (Mode::Standard, b"STGE") => {
                self.stge = Some(Stge::parse(d).ok_or_else(|| GroupValueError::Stge {
                    value: String::from_utf8_lossy(d).into_owned(),
                })?);
            }
            (Mode::Standard, b"EAST") => self.east_wh = Some(num()?),
            (Mode::Standard, b"EAIT") => self.eait_wh = Some(num()?),
            (Mode::Standard, b"NGTF") => {
                self.hc_hp = String::from_utf8_lossy(d).trim() == NGTF_HC_HP.trim();
                return Ok(false);
            }
            (Mode::Standard, b"EASF01") if self.hc_hp => self.easf_wh[0] = Some(num()?),
            (Mode::Standard, b"EASF02") if self.hc_hp => self.easf_wh[1] = Some(num()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// A phase-2/3 value: also marks the meter as three-phase.
    fn phase(&mut self, slot: &mut Option<f32>, v: u64) {
        *slot = Some(v as f32);
        self.three_phase = true;
    }

    /// Combine the gathered values into the reading.
    pub(super) fn finish(self, r: &mut Reading, mode: Mode) {
        let kwh = |wh: Option<u64>| wh.map(|v| v as f64 / 1000.0);
        match mode {
            Mode::Historic => {
                r.protocol = Protocol::TicHistoric;
                r.version = Some("TIC historic".to_string());
                let papp = self.papp.map(|v| v as f32);
                r.power_import_w = papp;
                r.active_power_w = papp;
                if !self.three_phase {
                    r.active_power_phase_w[0] = papp;
                }
                let hc = match (self.hchc_wh, self.hchp_wh) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
                };
                r.energy.import_kwh = kwh(self.base_wh.or(self.total_wh).or(hc));
                r.energy.import_t1_kwh = kwh(self.hchc_wh);
                r.energy.import_t2_kwh = kwh(self.hchp_wh);
            }
            Mode::Standard => {
                r.protocol = Protocol::TicStandard;
                let sinsts = self.sinsts.map(|v| v as f32);
                let sinsti = self.sinsti.map(|v| v as f32);
                r.power_import_w = sinsts;
                r.power_export_w = sinsti;
                if sinsts.is_some() || sinsti.is_some() {
                    r.active_power_w = Some(sinsts.unwrap_or(0.0) - sinsti.unwrap_or(0.0));
                }
                if self.three_phase {
                    r.active_power_phase_w = self.sinsts_phase.map(|p| p.map(|v| v as f32));
                } else {
                    r.active_power_phase_w[0] = sinsts;
                }
                r.exporting = self.stge.map(Stge::exporting);
                r.energy.import_kwh = kwh(self.east_wh);
                r.energy.export_kwh = kwh(self.eait_wh);
                r.energy.import_t1_kwh = kwh(self.easf_wh[0]);
                r.energy.import_t2_kwh = kwh(self.easf_wh[1]);
            }
        }
    }
}

/// A standard-mode horodate `SYYMMDDhhmmss` (S = season letter) → UTC epoch seconds, noting
/// the quirks: lower-case season (degraded clock), no season (space), unusable date.
fn horodate(h: &[u8], tel: &mut Telegram) -> Option<i64> {
    let season = match h.first() {
        Some(b'E') => Some(Season::Summer),
        Some(b'H') => Some(Season::Winter),
        Some(b'e') => {
            tel.quirk(Quirk::ClockDegraded);
            Some(Season::Summer)
        }
        Some(b'h') => {
            tel.quirk(Quirk::ClockDegraded);
            Some(Season::Winter)
        }
        Some(b' ') => {
            tel.quirk(Quirk::NoSeason);
            Some(Season::Unknown)
        }
        _ => None,
    };
    let ts = season
        .zip(h.get(1..).and_then(time::parse_yymmddhhmmss))
        .and_then(|(s, dt)| {
            if time::is_placeholder(&dt) {
                None
            } else {
                time::local_to_utc(dt, s, TIC_TZ)
            }
        });
    if ts.is_none() {
        tel.quirk(Quirk::PlaceholderTime);
    }
    ts
}
