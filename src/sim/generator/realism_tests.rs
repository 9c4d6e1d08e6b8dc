//! Realism of the synthetic meters (#19): tariff indicator ↔ register consistency over a
//! winter and a summer week per region, the public holidays, M-Bus capture cadence, e-MUCS
//! demand recomputed from the telegrams, register roll-over.

use super::tests::{at, kind};
use super::*;
use crate::protocol::dsmr;
use chrono::NaiveDate;

/// A house that imports at night and exports at midday in summer.
fn house() -> Load {
    Load::Household(vec![
        LoadComponent::Base {
            watts: 900.0,
            noise: 0.3,
        },
        LoadComponent::Pv { peak_watts: 5000.0 },
    ])
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The value of `obis`'s first `(…)` group in telegram `bytes`.
fn field<'a>(bytes: &'a [u8], obis: &str) -> &'a str {
    let text = std::str::from_utf8(bytes).unwrap();
    let start = text.find(&format!("{obis}(")).unwrap() + obis.len() + 1;
    &text[start..start + text[start..].find(')').unwrap()]
}

#[test]
fn easter_and_dutch_holidays() {
    assert_eq!(easter_sunday(2024), date(2024, 3, 31));
    assert_eq!(easter_sunday(2025), date(2025, 4, 20));
    assert_eq!(easter_sunday(2026), date(2026, 4, 5));
    for d in [
        date(2026, 1, 1),
        date(2026, 4, 6),   // Easter Monday
        date(2026, 4, 27),  // King's Day
        date(2025, 4, 26),  // King's Day, the 27th being a Sunday
        date(2026, 5, 14),  // Ascension Day
        date(2026, 5, 25),  // Whit Monday
        date(2026, 12, 25), // Christmas
        date(2026, 12, 26),
    ] {
        assert!(nl_holiday(d), "{d}");
    }
    for d in [
        date(2025, 4, 27),
        date(2026, 4, 3), // Good Friday
        date(2026, 5, 5), // Liberation Day
        date(2026, 4, 5), // Easter Sunday itself (a Sunday: low anyway)
        date(2026, 6, 1),
    ] {
        assert!(!nl_holiday(d), "{d}");
    }
}

#[test]
fn schedules_per_region() {
    let local = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let nl = TariffRegion::Nl;
    let be = TariffRegion::Be;
    // 2026-06-01 is a Monday, 2026-06-06 a Saturday, 2026-04-27 King's Day (Monday).
    for (region, when, register) in [
        (nl, "2026-06-01 06:59", 0),
        (nl, "2026-06-01 07:00", 1),
        (nl, "2026-06-01 22:59", 1),
        (nl, "2026-06-01 23:00", 0),
        (nl, "2026-06-06 12:00", 0),
        (nl, "2026-04-27 12:00", 0),
        (nl, "2026-04-28 12:00", 1),
        (be, "2026-06-01 06:59", 1),
        (be, "2026-06-01 07:00", 0),
        (be, "2026-06-01 21:59", 0),
        (be, "2026-06-01 22:00", 1),
        (be, "2026-06-06 12:00", 1),
        (TariffRegion::Fr, "2026-06-01 12:00", 0),
    ] {
        assert_eq!(region.register(local(when)), register, "{region:?} {when}");
    }
    assert!(TariffRegion::Nl.fits(kind("emucs")) && !TariffRegion::Fr.fits(kind("smr5")));
    assert!(
        TariffRegion::Fr.fits(kind("tic-standard")) && !TariffRegion::Be.fits(kind("tic-historic"))
    );
}

/// Over a week: a register grows only in the tariff the earlier telegram shows; the
/// indicator follows the schedule; both tariffs count. Every 97th telegram is encoded and
/// its `0-0:96.14.0` and capture time checked against the registers.
fn week_is_consistent(name: &str, start: &str) {
    let k = kind(name);
    let t0 = at(start);
    let mut m = SyntheticMeter::new(k, house(), 11, t0);
    let region = m.site().tariff_region;
    let mut local = LocalTime::new(crate::protocol::time::METER_TZ);
    let (_, first) = m.next_reading();
    let mut prev = (first, m.registers().tariff);
    let mut seen = [false; 2];
    let mut grew = [false; 2];
    let n = 7 * 86_400_000 / m.kind().interval_ms();
    for i in 1..n {
        let (t, r) = if i % 97 == 0 {
            let tel = m.next();
            let regs = m.registers();
            let shown = field(&tel.bytes, "0-0:96.14.0");
            assert_eq!(shown, format!("{:04}", regs.tariff), "{name}");
            (tel.at, tel.reading)
        } else {
            m.next_reading()
        };
        let tariff = m.registers().tariff;
        assert_eq!(
            usize::from(tariff - 1),
            region.register(local.local_ms(t)),
            "{name} at {t}"
        );
        let e = &r.energy;
        let p = &prev.0.energy;
        let t1 = e.import_t1_kwh != p.import_t1_kwh || e.export_t1_kwh != p.export_t1_kwh;
        let t2 = e.import_t2_kwh != p.import_t2_kwh || e.export_t2_kwh != p.export_t2_kwh;
        assert!(
            !(t1 && prev.1 != 1),
            "{name}: tariff 1 grew under indicator {} at {t}",
            prev.1
        );
        assert!(
            !(t2 && prev.1 != 2),
            "{name}: tariff 2 grew under indicator {} at {t}",
            prev.1
        );
        grew[0] |= t1;
        grew[1] |= t2;
        seen[usize::from(tariff - 1)] = true;
        prev = (r, tariff);
    }
    assert_eq!(seen, [true, true], "{name} {start}: both indicators");
    assert_eq!(grew, [true, true], "{name} {start}: both tariffs count");
}

#[test]
fn indicator_and_registers_agree_winter_and_summer_weeks() {
    for name in ["smr5", "dsmr42", "emucs"] {
        week_is_consistent(name, "2026-01-12T00:00:00+01:00");
        week_is_consistent(name, "2026-07-06T00:00:00+02:00");
    }
}

#[test]
fn mbus_values_change_only_at_their_capture_instants() {
    for (name, period_s) in [("smr5", 300), ("dsmr42", 3600), ("emucs", 300)] {
        let t0 = at("2026-02-03T10:17:23+01:00");
        let mut m = SyntheticMeter::new(kind(name), house(), 5, t0);
        let mut last: Option<(i64, f64)> = None;
        let mut offsets = std::collections::BTreeSet::new();
        let mut captures = 0;
        for _ in 0..(3 * 3600 * 1000 / m.kind().interval_ms()) {
            let tel = m.next();
            let cap = m.registers().mbus_capture.unwrap();
            let gas = tel.reading.energy.gas_m3.unwrap();
            let now = tel.at / 1000;
            assert!(
                cap <= now && now - cap < period_s,
                "{name}: capture {cap} at {now}"
            );
            offsets.insert(cap.rem_euclid(period_s));
            let obis = if name == "emucs" {
                "0-1:24.2.3"
            } else {
                "0-1:24.2.1"
            };
            let shown = field(&tel.bytes, obis);
            let want = crate::protocol::time::utc_to_local(cap, crate::protocol::time::METER_TZ)
                .map(|(l, _)| crate::protocol::time::format_yymmddhhmmss(&l))
                .unwrap();
            assert_eq!(&shown[..12], want, "{name}");
            if let Some((c, g)) = last {
                if c == cap {
                    assert_eq!(g, gas, "{name}: the value moved between captures");
                } else {
                    captures += 1;
                    assert_eq!(cap - c, period_s, "{name}: one period later");
                    assert!(gas >= g);
                }
            }
            last = Some((cap, gas));
        }
        assert_eq!(offsets.len(), 1, "{name}: a fixed cadence");
        assert!(
            captures >= 3 * 3600 / period_s - 1,
            "{name}: {captures} captures"
        );
        if name != "emucs" {
            assert_eq!(offsets.first(), Some(&0), "{name}: on the whole period");
        }
    }
}

#[test]
fn emucs_demand_is_the_quarter_hour_average_and_month_peak() {
    // Across a month boundary: 31 January 18:00 to 1 February 06:00.
    let t0 = at("2026-01-31T18:00:00+01:00");
    let mut m = SyntheticMeter::new(kind("emucs"), house(), 3, t0);
    let mut quarter_wh = 0.0;
    let mut quarters: Vec<(i64, f64)> = Vec::new();
    let mut prev_w = 0.0;
    for _ in 0..12 * 3600 {
        let tel = m.next();
        let t = tel.at;
        quarter_wh += prev_w / 3600.0;
        if t > t0 && t % registers::QUARTER_MS == 0 {
            quarters.push((t / 1000, quarter_wh * 4.0));
            quarter_wh = 0.0;
        }
        prev_w = f64::from(tel.reading.power_import_w.unwrap());
        let d = &m.registers().demand;
        assert!(
            (d.average_w - quarter_wh * 4.0).abs() < 1.0,
            "1.4.0 {} W, recomputed {} W at {t}",
            d.average_w,
            quarter_wh * 4.0
        );
        let shown = field(&tel.bytes, "1-0:1.4.0");
        assert_eq!(shown, format!("{:06.3}*kW", d.average_w / 1000.0));
        let feb = at("2026-02-01T00:00:00+01:00") / 1000;
        let this_month: Vec<_> = quarters
            .iter()
            .filter(|(end, _)| (*end > feb) == (t / 1000 >= feb))
            .collect();
        match this_month.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            Some((end, w)) => {
                let (p_at, p_w) = d.month_peak.unwrap();
                assert_eq!(p_at, *end);
                assert!((p_w - w).abs() < 1.0, "peak {p_w} W, recomputed {w} W");
            }
            None => assert_eq!(d.month_peak, None),
        }
        if t / 1000 >= feb {
            let jan = quarters.iter().filter(|(end, _)| *end <= feb);
            let (end, w) = jan.max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            assert_eq!(d.history.len(), 1);
            assert_eq!((d.history[0].month_end, d.history[0].at), (feb, *end));
            assert!((d.history[0].peak_w - w).abs() < 1.0);
            assert_eq!(d.month_start, Some(feb));
        } else {
            assert!(d.history.is_empty());
        }
    }
    let tel = m.next();
    let text = String::from_utf8(tel.bytes).unwrap();
    assert!(
        text.contains("0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(260201000000W)(26013"),
        "{text}"
    );
    dsmr::parse(text.as_bytes()).unwrap();
}

#[test]
fn registers_roll_over_at_their_width() {
    let t0 = at("2026-01-12T12:00:00+01:00");
    let load = Load::Household(vec![LoadComponent::Base {
        watts: 7200.0,
        noise: 0.0,
    }]);
    let mut m = SyntheticMeter::new(kind("smr5"), load, 2, t0);
    m.counters.import_wh[1] = 999_999_999.0;
    m.counters.gas_m3 = 99_999.999_5;
    m.mbus.m3 = m.counters.gas_m3;
    let first = m.next();
    assert_eq!(first.reading.energy.import_t2_kwh, Some(999_999.999));
    assert_eq!(field(&first.bytes, "1-0:1.8.2"), "999999.999*kWh");
    let mut last = first;
    for _ in 0..600 {
        last = m.next();
    }
    let e = last.reading.energy;
    assert!(e.import_t2_kwh.unwrap() < 2.0, "{e:?}");
    assert!(e.gas_m3.unwrap() < 1.0, "{e:?}");
    assert_eq!(dsmr::parse(&last.bytes).unwrap().reading, last.reading);
    let mut tic = SyntheticMeter::new(kind("tic-standard"), house(), 2, t0);
    tic.counters.import_wh = [999_999_999.0, 0.0];
    let r = tic.next().reading;
    assert_eq!(r.energy.import_kwh, Some(999_999.999));
}

#[test]
fn sun_elevation_matches_known_values() {
    // De Bilt (52.1 N, 5.2 E): solar noon ≈ 11:40 UTC; elevation 90 − 52.1 ± 23.44.
    let summer = solar_elevation_deg(at("2026-06-21T11:40:00Z"), 52.1, 5.2);
    assert!((summer - 61.3).abs() < 0.6, "{summer}");
    let winter = solar_elevation_deg(at("2026-12-21T11:50:00Z"), 52.1, 5.2);
    assert!((winter - 14.5).abs() < 0.6, "{winter}");
    assert!(solar_elevation_deg(at("2026-01-14T18:00:00Z"), 52.1, 5.2) < -10.0);
    assert_eq!(clear_sky_fraction(-1.0), 0.0);
    assert!(clear_sky_fraction(61.3) > 0.7 && clear_sky_fraction(14.5) < 0.2);
}

/// No export while the sun is below the horizon, a summer peak near solar noon, dark
/// January evenings; the cloud process is deterministic.
#[test]
fn pv_follows_the_sun_and_the_season() {
    let pv_only = Load::Household(vec![LoadComponent::Pv { peak_watts: 4000.0 }]);
    let site = Site::in_region(TariffRegion::Nl);
    for (start, kw_min) in [
        ("2026-01-14T00:00:00+01:00", 0.0),
        ("2026-06-21T00:00:00+02:00", 2.0),
    ] {
        let t0 = at(start);
        let mut m = SyntheticMeter::new(kind("dsmr42"), pv_only.clone(), 9, t0);
        let mut best = (0.0f32, 0);
        for _ in 0..8640 {
            let (t, r) = m.next_reading();
            let export = r.power_export_w.unwrap();
            let elevation = solar_elevation_deg(t, site.latitude_deg, site.longitude_deg);
            if elevation <= 0.0 {
                assert_eq!(export, 0.0, "export {export} W at {t}, sun at {elevation}°");
            }
            if export > best.0 {
                best = (export, t);
            }
        }
        assert!(best.0 / 1000.0 > kw_min, "{start}: peak {} W", best.0);
        let noon = t0 + 13 * 3_600_000 + 40 * 60_000 - if kw_min > 0.0 { 3_600_000 } else { 0 };
        assert!(
            (best.1 - noon).abs() < 3 * 3_600_000,
            "{start}: peak at {}",
            best.1
        );
    }
    // 14 January, 19:00 local: dark.
    let mut m = SyntheticMeter::new(
        kind("smr5"),
        pv_only.clone(),
        9,
        at("2026-01-14T19:00:00+01:00"),
    );
    assert_eq!(m.next().reading.power_export_w, Some(0.0));
    // Same seed, same clouds; another seed, other clouds.
    let day = |seed| {
        let mut m = SyntheticMeter::new(
            kind("dsmr42"),
            pv_only.clone(),
            seed,
            at("2026-06-21T06:00:00+02:00"),
        );
        (0..4000)
            .map(|_| m.next_reading().1.power_export_w.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(day(1), day(1));
    assert_ne!(day(1), day(2));
}
