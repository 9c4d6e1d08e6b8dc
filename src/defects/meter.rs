//! The meter-path defects the faulty firmware layer applies outside the device: register
//! values that lag, stay stale or are made up (`ValueDefects`), and a CRC check that lets
//! everything through (`CrcFixer`).

use super::{Defect, Defects};
use crate::device::registers::MeterValues;
use crate::device::Variant;
use crate::protocol::Reading;

/// What a buggy firmware makes of each new register snapshot.
#[derive(Debug, Clone)]
pub struct ValueDefects {
    variant: Variant,
    torn: bool,
    nominal_voltage: bool,
    negative_phase: bool,
    every_tenth: bool,
    /// The snapshot served.
    values: MeterValues,
    /// The previous telegram's per-phase power (`modbus-torn-reads`).
    lagging_phase_w: [f32; 3],
    /// Valid telegrams since the boot (`p1-registers-not-updated`).
    accepted: u64,
}

impl ValueDefects {
    pub fn new(variant: Variant, defects: &Defects) -> Self {
        ValueDefects {
            variant,
            torn: defects.contains(&Defect::ModbusTornReads),
            nominal_voltage: defects.contains(&Defect::P1Dsmr42VoltageNominal),
            negative_phase: defects.contains(&Defect::TicNegativePhasePower),
            every_tenth: defects.contains(&Defect::P1RegistersNotUpdated),
            values: MeterValues::default(),
            lagging_phase_w: [0.0; 3],
            accepted: 0,
        }
    }

    /// Whether any value defect is planted (else the device's own values are served).
    pub fn planted(&self) -> bool {
        self.torn || self.nominal_voltage || self.negative_phase || self.every_tenth
    }

    /// The snapshot served now.
    pub fn current(&self) -> MeterValues {
        self.values
    }

    /// Power lost: the register map reads zero again.
    pub fn reset(&mut self) {
        *self = ValueDefects {
            values: MeterValues::default(),
            lagging_phase_w: [0.0; 3],
            accepted: 0,
            ..self.clone()
        };
    }

    /// The device shows `next` (from `reading`, or a boot's empty map without one); what
    /// the buggy firmware serves instead.
    pub fn next(&mut self, mut next: MeterValues, reading: Option<&Reading>) -> MeterValues {
        let Some(r) = reading else {
            self.reset();
            self.values = next;
            return next;
        };
        if self.torn {
            // The per-phase power half of the map is still the previous telegram's.
            let fresh = next.active_power_phase_w;
            next.active_power_phase_w = std::mem::replace(&mut self.lagging_phase_w, fresh);
        }
        if self.nominal_voltage && self.variant == Variant::P1 {
            for p in 0..3 {
                if r.voltage_v[p].is_none() && r.current_a[p].is_some() {
                    next.voltage_v[p] = 230.0;
                }
            }
        }
        if self.negative_phase && self.variant == Variant::Tic && next.active_power_w < 0.0 {
            // The injected power is split over the phases and subtracted from each.
            let phases: u8 = match r.current_a[1].is_some() || r.voltage_v[1].is_some() {
                true => 3,
                false => 1,
            };
            let share = next.active_power_w / f32::from(phases);
            for p in next
                .active_power_phase_w
                .iter_mut()
                .take(usize::from(phases))
            {
                *p += share;
            }
        }
        if !self.every_tenth || self.accepted.is_multiple_of(10) {
            self.values = next;
        }
        self.accepted = self.accepted.saturating_add(1);
        self.values
    }
}

/// Rewrites a P1 byte stream so that every DSMR CRC is right (`p1-bad-crc-accepted`: what
/// a firmware that ignores the CRC effectively parses). Works across chunk boundaries: the
/// CRC is known at the `!`, and the four hex digits after it are replaced as they come.
#[derive(Debug, Clone, Default)]
pub struct CrcFixer {
    /// The frame since its `/`.
    frame: Vec<u8>,
    /// The right CRC digits and how many of them are written.
    pending: Option<([u8; 4], usize)>,
}

/// A frame longer than this is not a telegram: forget it.
const MAX_FRAME: usize = 64 * 1024;

impl CrcFixer {
    /// `bytes` with the CRC digits replaced by the right ones.
    pub fn fix(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if let Some((crc, i)) = self.pending {
                match crc.get(i) {
                    Some(&digit) if b.is_ascii_hexdigit() => {
                        out.push(digit);
                        self.pending = Some((crc, i.saturating_add(1)));
                        continue;
                    }
                    _ => self.pending = None,
                }
            }
            if b == b'/' || self.frame.len() > MAX_FRAME {
                self.frame.clear();
            }
            self.frame.push(b);
            out.push(b);
            if b == b'!' {
                let crc = crate::protocol::dsmr::crc16::checksum(&self.frame);
                let mut digits = [0u8; 4];
                digits.copy_from_slice(format!("{crc:04X}").as_bytes());
                self.pending = Some((digits, 0));
                self.frame.clear();
            }
        }
        out
    }
}
