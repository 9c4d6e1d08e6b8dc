//! The registers a telegram carries beyond its reading, tracked as the meter's registers
//! advance between telegrams:
//!
//! - the M-Bus (gas) value on the M-Bus device's own cadence: captured every 5 minutes on
//!   SMR 5 (on the whole 5 minutes), every hour on DSMR 4.2 (on the whole hour), every 5
//!   minutes on e-MUCS at a per-meter offset (real e-MUCS captures show capture times such
//!   as `…203958W` that stay put for minutes); the value and its capture time change only at
//!   capture instants;
//! - the e-MUCS demand: `1.4.0` = import energy of the current quarter hour so far ÷ 15 min
//!   (it grows through the quarter, as in real captures), `1.6.0` = this month's largest
//!   completed quarter-hour average with the end of that quarter, `98.1.0` = the peaks of the
//!   closed months since the simulation started (at most 13, oldest first).

use super::counters::{Counters, Rates};
use super::SyntheticMeter;
use crate::protocol::dsmr::{Demand, DsmrKind, DsmrRegisters, MonthPeak};
use crate::protocol::MeterKind;
use crate::sim::clock::Millis;

/// A quarter hour, ms.
pub(super) const QUARTER_MS: i64 = 900_000;
/// Months `0-0:98.1.0` keeps.
const HISTORY_MONTHS: usize = 13;

/// An M-Bus value as last captured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Capture {
    /// Capture instant, UTC epoch ms.
    pub(super) at: Millis,
    /// m³ (gas, water) or GJ (heat).
    pub(super) m3: f64,
}

/// The e-MUCS demand registers' state.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DemandState {
    /// Start of the current quarter hour (UTC epoch ms, on a whole quarter).
    quarter_start: Millis,
    /// Import (both tariffs, Wh) at the start of the quarter (or of the simulation).
    quarter_import_wh: f64,
    month_start: Millis,
    next_month: Millis,
    /// This month's peak: end of its quarter (ms), W.
    peak: Option<(Millis, f64)>,
    history: Vec<MonthPeak>,
}

/// The register values between two telegrams: flowing at `watts` on register `tariff`, the
/// M-Bus registers at `rates`, from the registers `from` at time `from_ms`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    pub(super) from: Counters,
    pub(super) from_ms: Millis,
    pub(super) watts: f64,
    pub(super) tariff: usize,
    pub(super) rates: Rates,
}

impl Flow {
    /// The registers at `t` (≥ `from_ms`).
    pub(super) fn at(&self, t: Millis) -> Counters {
        self.from
            .advanced(self.watts, t - self.from_ms, self.tariff, self.rates)
    }
}

/// The capture as of `to` of the register `pick` captured every `period` ms at `offset` ms,
/// given the last capture `prev` and the flow since `flow.from_ms`.
pub(super) fn capture_on(
    (period, offset): (i64, i64),
    prev: Capture,
    flow: &Flow,
    to: Millis,
    pick: fn(&Counters) -> f64,
) -> Capture {
    let last = capture_instant((period, offset), to);
    if last > prev.at && last >= flow.from_ms {
        Capture {
            at: last,
            m3: pick(&flow.at(last)),
        }
    } else {
        prev
    }
}

/// The last capture instant at or before `t` of a device captured every `period` ms at
/// `offset` ms.
pub(super) fn capture_instant((period, offset): (i64, i64), t: Millis) -> Millis {
    (t - offset).div_euclid(period) * period + offset
}

fn import_total(c: &Counters) -> f64 {
    c.import_wh[0] + c.import_wh[1]
}

impl SyntheticMeter {
    /// M-Bus capture period and offset (ms), `None` for a meter without M-Bus.
    pub(super) fn mbus_cadence(&self) -> Option<(i64, i64)> {
        match self.kind {
            MeterKind::Dsmr(DsmrKind::Dsmr42) => Some((3_600_000, 0)),
            MeterKind::Dsmr(DsmrKind::Emucs) => Some((300_000, self.mbus_offset_ms)),
            MeterKind::Dsmr(_) => Some((300_000, 0)),
            MeterKind::Tic(_) => None,
        }
    }

    /// The first capture: the last capture instant at or before `start` with the initial
    /// gas register.
    pub(super) fn initial_capture(&self, start: Millis, gas_m3: f64) -> Capture {
        let at = self
            .mbus_cadence()
            .map_or(start, |cadence| capture_instant(cadence, start));
        Capture { at, m3: gas_m3 }
    }

    /// The gas capture as of `to`, given the last one `prev` and the flow since `flow.from_ms`.
    pub(super) fn capture_until(&self, prev: Capture, flow: &Flow, to: Millis) -> Capture {
        match self.mbus_cadence() {
            Some(cadence) => capture_on(cadence, prev, flow, to, |c| c.gas_m3),
            None => prev,
        }
    }

    /// Fresh demand state for an e-MUCS meter starting at `start` with `counters`.
    pub(super) fn initial_demand(&mut self, start: Millis, c: &Counters) -> Option<DemandState> {
        if self.kind != MeterKind::Dsmr(DsmrKind::Emucs) {
            return None;
        }
        let (month_start, next_month) = self.local.month_bounds(start);
        Some(DemandState {
            quarter_start: start.div_euclid(QUARTER_MS) * QUARTER_MS,
            quarter_import_wh: import_total(c),
            month_start,
            next_month,
            peak: None,
            history: Vec::new(),
        })
    }

    /// Close every quarter hour (and month) that ends in (`flow.from_ms`, `to`].
    pub(super) fn advance_demand(&mut self, flow: &Flow, to: Millis) {
        let Some(mut d) = self.demand.take() else {
            return;
        };
        while d.quarter_start + QUARTER_MS <= to {
            let end = d.quarter_start + QUARTER_MS;
            let import = import_total(&flow.at(end.max(flow.from_ms)));
            let average_w = (import - d.quarter_import_wh) * 4.0;
            if d.peak.is_none_or(|(_, w)| average_w > w) {
                d.peak = Some((end, average_w));
            }
            d.quarter_start = end;
            d.quarter_import_wh = import;
            if end >= d.next_month {
                if let Some((at, peak_w)) = d.peak.take() {
                    d.history.push(MonthPeak {
                        month_end: d.next_month.div_euclid(1000),
                        at: at.div_euclid(1000),
                        peak_w,
                    });
                }
                if d.history.len() > HISTORY_MONTHS {
                    d.history.remove(0);
                }
                (d.month_start, d.next_month) = self.local.month_bounds(end);
            }
        }
        self.demand = Some(d);
    }

    /// The registers a telegram at `t` carries, with the registers `c` as of `t`.
    pub(super) fn registers_at(&mut self, t: Millis, c: &Counters, mbus: Capture) -> DsmrRegisters {
        let tariff = u8::try_from(self.tariff(t)).unwrap_or(0) + 1;
        // The history changes once a month: reuse the last telegram's copy.
        let mut history = std::mem::take(&mut self.registers.demand.history);
        let demand = self.demand.as_ref().map_or_else(Demand::default, |d| {
            if history != d.history {
                history.clone_from(&d.history);
            }
            Demand {
                average_w: ((import_total(c) - d.quarter_import_wh) * 4.0).max(0.0),
                month_peak: d.peak.map(|(at, w)| (at.div_euclid(1000), w)),
                month_start: Some(d.month_start.div_euclid(1000)),
                history,
            }
        });
        let (water, heat) = self.other_mbus_devices();
        DsmrRegisters {
            tariff,
            mbus_capture: Some((mbus.at + self.skew_ms).div_euclid(1000)),
            water,
            heat,
            demand,
        }
    }
}
