//! Wire resolution: the reading a meter kind's telegram carries for the physical values and
//! registers (DSMR versions, decimals and units; TIC historic/standard, consumer/producer),
//! so that parsing the encoded telegram gives back exactly this `Reading`.

use super::counters::Counters;
use super::load::Physical;
use super::{MbusValues, SyntheticMeter};
use crate::protocol::time::is_placeholder;
use crate::protocol::{MeterKind, Reading};
use crate::sim::clock::Millis;
use chrono::{DateTime, Datelike};

impl SyntheticMeter {
    /// The reading at wire resolution for this kind.
    /// `mbus`: the M-Bus values as last captured.
    pub(super) fn quantise(
        &mut self,
        t: Millis,
        p: &Physical,
        c: &Counters,
        mbus: MbusValues,
    ) -> Reading {
        let n = self.kind.phases();
        let mut r = Reading::empty(self.kind.protocol());
        r.meter_id = Some(self.meter_id.clone());
        let ts = (t + self.skew_ms).div_euclid(1000);
        match self.kind {
            MeterKind::Dsmr(k) => {
                use crate::protocol::dsmr::DsmrKind;
                r.version = Some(
                    match k {
                        DsmrKind::Dsmr42 => "4.2",
                        DsmrKind::Emucs => "e-MUCS 50217",
                        _ => "5.0",
                    }
                    .to_string(),
                );
                r.timestamp = self.wire_time(ts);
                let amp_scale = 10f64.powi(k.current_decimals() as i32);
                let mut total = 0.0f32;
                for i in 0..n {
                    if k.has_voltage() {
                        r.voltage_v[i] = p.voltage[i].map(|v| scaled(v, 10.0));
                    }
                    r.current_a[i] = p.current[i].map(|a| scaled(a, amp_scale));
                    let w = p.power[i].map(|w| w.round() as f32 + 0.0);
                    total += w.unwrap_or(0.0);
                    r.active_power_phase_w[i] = w;
                }
                let (import, export) = (total.max(0.0) + 0.0, (-total).max(0.0) + 0.0);
                r.power_import_w = Some(import);
                r.power_export_w = Some(export);
                r.active_power_w = Some(import - export);
                let kwh = |wh: f64| rolled(wh, ENERGY_WRAP) / 1000.0;
                r.energy.import_t1_kwh = Some(kwh(c.import_wh[0]));
                r.energy.import_t2_kwh = Some(kwh(c.import_wh[1]));
                r.energy.export_t1_kwh = Some(kwh(c.export_wh[0]));
                r.energy.export_t2_kwh = Some(kwh(c.export_wh[1]));
                let mbus_value = |v: f64| rolled(v * 1000.0, GAS_WRAP) / 1000.0;
                r.energy.gas_m3 = Some(mbus_value(mbus.gas_m3));
                r.energy.water_m3 = mbus.other.0.map(mbus_value);
                r.energy.heat_gj = mbus.other.1.map(mbus_value);
            }
            MeterKind::Tic(k) => {
                let whole = |v: Option<f64>, max: f64| -> f32 {
                    v.map_or(0.0, |x| x.round().clamp(0.0, max) as f32)
                };
                let wh = |x: f64| rolled(x, ENERGY_WRAP) / 1000.0;
                let signed: Vec<f64> = (0..n)
                    .map(|i| {
                        p.apparent[i]
                            .unwrap_or(0.0)
                            .round()
                            .clamp(-99_999.0, 99_999.0)
                    })
                    .collect();
                let net: f64 = signed.iter().sum();
                let drawn = net.clamp(0.0, 99_999.0) as f32;
                let injected = (-net).clamp(0.0, 99_999.0) as f32;
                let import_wh = c.import_wh[0] + c.import_wh[1];
                let export_wh = c.export_wh[0] + c.export_wh[1];
                for i in 0..n {
                    r.current_a[i] = Some(whole(p.current[i], 999.0));
                }
                r.energy.import_kwh = Some(wh(import_wh));
                if self.site.tariff_region == super::TariffRegion::FrHc {
                    // HC (index 1) and HP (index 2), each rolling over at its own width;
                    // historic frames have no total: the parser gives their sum.
                    let hc_wh = rolled(c.import_wh[0], ENERGY_WRAP);
                    let hp_wh = rolled(c.import_wh[1], ENERGY_WRAP);
                    r.energy.import_t1_kwh = Some(hc_wh / 1000.0);
                    r.energy.import_t2_kwh = Some(hp_wh / 1000.0);
                    // EAST is the sum of the whole indexes (rolling over on its own).
                    let total_wh = if k.is_standard() {
                        (hc_wh + hp_wh).rem_euclid(ENERGY_WRAP)
                    } else {
                        hc_wh + hp_wh
                    };
                    r.energy.import_kwh = Some(total_wh / 1000.0);
                }
                if !k.is_standard() {
                    r.version = Some("TIC historic".to_string());
                    r.power_import_w = Some(drawn);
                    r.active_power_w = Some(drawn);
                    if n == 1 {
                        r.active_power_phase_w[0] = Some(drawn);
                    }
                } else {
                    r.version = Some("TIC V2".to_string());
                    r.timestamp = self.wire_time(ts);
                    for i in 0..n {
                        r.voltage_v[i] = Some(whole(p.voltage[i], 999.0));
                    }
                    r.power_import_w = Some(drawn);
                    if k.producer() {
                        r.power_export_w = Some(injected);
                        r.active_power_w = Some(drawn - injected);
                        r.energy.export_kwh = Some(wh(export_wh));
                    } else {
                        r.active_power_w = Some(drawn);
                    }
                    if n == 3 {
                        for (slot, s) in r.active_power_phase_w.iter_mut().zip(&signed) {
                            *slot = Some(s.max(0.0) as f32);
                        }
                    } else {
                        r.active_power_phase_w[0] = Some(drawn);
                    }
                    r.exporting = Some(net < 0.0);
                }
            }
        }
        r
    }

    /// `ts` if the wire can carry it (local year 2000–2099, not a placeholder date).
    fn wire_time(&mut self, ts: i64) -> Option<i64> {
        let local = self.local.local_ms(ts.checked_mul(1000)?) / 1000;
        let dt = DateTime::from_timestamp(local, 0)?.naive_utc();
        ((2000..=2099).contains(&dt.year()) && !is_placeholder(&dt)).then_some(ts)
    }
}

/// Energy registers wrap here (Wh): DSMR prints `000000.000` kWh (10 characters, so
/// 999 999.999 kWh at most), TIC nine digits of Wh.
const ENERGY_WRAP: f64 = 1e9;
/// The gas, water and heat registers wrap here (litres, MJ): `00000.000` m³ or GJ, 99 999.999
/// at most.
const GAS_WRAP: f64 = 1e8;

/// A register of `units` (Wh, litres) as a meter of `wrap` units shows it: whole units,
/// rolled over to zero at the register width.
fn rolled(units: f64, wrap: f64) -> f64 {
    units.floor().rem_euclid(wrap)
}

/// `v` rounded to `1/scale` and converted as the parser converts the printed decimal.
fn scaled(v: f64, scale: f64) -> f32 {
    ((v * scale).round() / scale) as f32 + 0.0
}
