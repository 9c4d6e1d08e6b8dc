//! Telegrams of meters older than DSMR 4 (the device treats them as incompatible, P1-02): the DSMR 2.2 shape
//! of an Iskra MT382, for tests and fault scenarios that feed the device an unsupported meter.

use super::super::time::{format_yymmddhhmmss, utc_to_local, METER_TZ};
use super::super::Reading;
use std::fmt::Write;

/// A DSMR 2.2 telegram (Iskra MT382 shape) carrying `r`: no version line, 2-decimal kW,
/// hourly gas on two lines, and `!` + CRLF without a CRC.
pub fn encode_dsmr22(r: &Reading) -> Vec<u8> {
    let mut s = String::with_capacity(700);
    s.push_str("/ISk5\\2MT382-1000\r\n\r\n");
    let hex = |id: &str| {
        id.bytes().fold(String::new(), |mut h, b| {
            let _ = write!(h, "{b:02X}");
            h
        })
    };
    let id = r.meter_id.as_deref().unwrap_or("E0000000000000000");
    let _ = write!(s, "0-0:96.1.1({})\r\n", hex(id));
    let e = &r.energy;
    for (obis, v) in [
        ("1-0:1.8.1", e.import_t1_kwh),
        ("1-0:1.8.2", e.import_t2_kwh),
        ("1-0:2.8.1", e.export_t1_kwh),
        ("1-0:2.8.2", e.export_t2_kwh),
    ] {
        let _ = write!(s, "{obis}({:09.3}*kWh)\r\n", v.unwrap_or(0.0));
    }
    s.push_str("0-0:96.14.0(0002)\r\n");
    let total = r.active_power_w.unwrap_or(0.0);
    let import = r.power_import_w.unwrap_or(total.max(0.0));
    let export = r.power_export_w.unwrap_or((-total).max(0.0));
    let _ = write!(s, "1-0:1.7.0({:07.2}*kW)\r\n", f64::from(import) / 1000.0);
    let _ = write!(s, "1-0:2.7.0({:07.2}*kW)\r\n", f64::from(export) / 1000.0);
    s.push_str("0-0:17.0.0(0999.00*kW)\r\n0-0:96.3.10(1)\r\n0-0:96.13.1()\r\n0-0:96.13.0()\r\n");
    if let Some(gas) = e.gas_m3 {
        let hour = r
            .timestamp
            .and_then(|ts| utc_to_local(ts, METER_TZ))
            .map(|(dt, _)| format!("{}0000", &format_yymmddhhmmss(&dt)[..8]))
            .unwrap_or_else(|| "000101000000".to_string());
        let _ = write!(
            s,
            "0-1:24.1.0(3)\r\n0-1:96.1.0({})\r\n0-1:24.3.0({hour})(00)(60)(1)(0-1:24.2.1)(m3)\r\n({gas:09.3})\r\n0-1:24.4.0(1)\r\n",
            hex("G0000000000000000")
        );
    }
    s.push_str("!\r\n");
    s.into_bytes()
}
