//! Water and heat meters on the M-Bus (#19): what the parser reads back, which kinds carry
//! them, monotonic registers that change only at their own capture instants on the kind's
//! cadence, a household's daily water volume with morning and evening peaks, heat that is
//! seasonal, and default meters without them.
#![allow(clippy::arithmetic_side_effects)]

use super::tests::{at, kind};
use super::*;
use crate::protocol::dsmr::{self, MbusChannel};

fn base() -> Load {
    Load::Household(vec![LoadComponent::Base {
        watts: 500.0,
        noise: 0.2,
    }])
}

fn both() -> MbusMeters {
    MbusMeters {
        water: Some(WaterMeter::new(3)),
        heat: Some(HeatMeter::new(25.0)),
    }
}

fn channel(n: u8) -> MbusChannel {
    MbusChannel::new(n).unwrap()
}

#[test]
fn the_parser_reads_back_water_and_heat_on_every_p1_kind() {
    for name in ["smr5", "smr5-1ph", "dsmr42", "emucs"] {
        let k = kind(name);
        let start = at("2026-01-14T06:58:00+01:00");
        let mut m = SyntheticMeter::new(k, base(), 3, start).with_mbus(both());
        for _ in 0..30 {
            let t = m.next();
            let back = dsmr::parse(&t.bytes).unwrap().reading;
            assert_eq!(back, t.reading, "{name}");
            assert!(back.energy.water_m3.is_some(), "{name}");
            // The e-MUCS meter carries water only.
            assert_eq!(back.energy.heat_gj.is_some(), name != "emucs", "{name}");
        }
    }
}

#[test]
fn lines_sit_on_their_channels_after_gas() {
    let swapped = MbusMeters {
        water: Some(WaterMeter {
            channel: channel(4),
            persons: 2,
        }),
        heat: Some(HeatMeter {
            channel: channel(2),
            annual_gj: 25.0,
        }),
    };
    let mut m =
        SyntheticMeter::new(kind("smr5"), base(), 3, at("2026-01-14T12:00:00Z")).with_mbus(swapped);
    let t = m.next();
    let text = String::from_utf8(t.bytes).unwrap();
    let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert!(pos("0-1:24.2.1(") < pos("0-2:24.1.0(004)"));
    assert!(pos("0-2:24.2.1(") < pos("0-4:24.1.0(007)"));
    assert!(text.contains("*GJ)\r\n0-4:24.1.0(007)"), "{text}");
    let back = dsmr::parse(text.as_bytes()).unwrap().reading;
    assert_eq!(back.energy.water_m3, t.reading.energy.water_m3);
    assert_eq!(back.energy.heat_gj, t.reading.energy.heat_gj);
}

#[test]
fn which_kinds_carry_which_devices() {
    let water = MbusMeters {
        water: Some(WaterMeter::new(2)),
        heat: None,
    };
    let heat = MbusMeters {
        water: None,
        heat: Some(HeatMeter::new(25.0)),
    };
    for name in ["smr5", "smr5-1ph", "dsmr42"] {
        assert_eq!(both().check(kind(name)), Ok(()), "{name}");
    }
    assert_eq!(water.check(kind("emucs")), Ok(()));
    assert_eq!(
        heat.check(kind("emucs")),
        Err(MbusError::NoHeat(kind("emucs")))
    );
    assert!(matches!(
        water.check(kind("tic-standard")),
        Err(MbusError::NoMbus(_))
    ));
    assert_eq!(MbusMeters::default().check(kind("tic-standard")), Ok(()));
    let same = MbusMeters {
        heat: Some(HeatMeter {
            channel: channel(2),
            annual_gj: 9.0,
        }),
        ..water
    };
    assert_eq!(same.check(kind("smr5")), Err(MbusError::SameChannel(2)));
    let gas = MbusMeters {
        water: Some(WaterMeter {
            channel: channel(1),
            persons: 1,
        }),
        heat: None,
    };
    assert_eq!(gas.check(kind("dsmr42")), Err(MbusError::GasChannel));
    // A meter leaves out what it cannot carry.
    let t = SyntheticMeter::new(kind("tic-standard"), base(), 1, 0)
        .with_mbus(both())
        .next();
    assert_eq!(
        (t.reading.energy.water_m3, t.reading.energy.heat_gj),
        (None, None)
    );
    let e =
        SyntheticMeter::new(kind("emucs"), base(), 1, at("2026-01-14T12:00:00Z")).with_mbus(both());
    assert_eq!(
        e.mbus_meters(),
        MbusMeters {
            heat: None,
            ..both()
        }
    );
}

#[test]
fn default_meters_have_no_water_or_heat() {
    for k in MeterKind::all() {
        let mut m = SyntheticMeter::new(k, base(), 5, at("2026-01-14T12:00:00Z"));
        let t = m.next();
        assert_eq!(
            (t.reading.energy.water_m3, t.reading.energy.heat_gj),
            (None, None)
        );
        let text = String::from_utf8_lossy(&t.bytes);
        assert!(!text.contains("0-2:") && !text.contains("0-3:"), "{text}");
    }
}

/// Telegram time, water and heat values and their capture times over `secs` from `start`.
type Row = (i64, f64, f64, i64, i64);

fn rows(name: &str, start: &str, secs: i64) -> Vec<Row> {
    let k = kind(name);
    let mut m = SyntheticMeter::new(k, base(), 11, at(start)).with_mbus(both());
    let n = secs * 1000 / k.interval_ms();
    (0..n)
        .map(|_| {
            let (t, r) = m.next_reading();
            let regs = m.registers();
            (
                t / 1000,
                r.energy.water_m3.unwrap(),
                r.energy.heat_gj.unwrap_or(0.0),
                regs.water.capture.unwrap(),
                regs.heat.capture.unwrap(),
            )
        })
        .collect()
}

#[test]
fn registers_are_monotonic_and_change_only_at_their_capture_instants() {
    for (name, period_s) in [("smr5", 300), ("dsmr42", 3600), ("emucs", 300)] {
        let rows = rows(name, "2026-01-14T05:00:00+01:00", 6 * 3600);
        let offset = rows[0].3.rem_euclid(period_s);
        if name != "emucs" {
            assert_eq!(offset, 0, "{name}: water captured on the whole period");
            assert_eq!(rows[0].4.rem_euclid(period_s), 0, "{name}: heat");
        }
        let mut changes = 0;
        for w in rows.windows(2) {
            let ((t, water, heat, wat, hat), (_, pw, ph, pwat, phat)) = (w[1], w[0]);
            for cap in [wat, hat] {
                assert!(
                    cap <= t && t - cap < period_s,
                    "{name} at {t}: captured {cap}"
                );
            }
            assert_eq!(
                wat.rem_euclid(period_s),
                offset,
                "{name}: the device's own offset"
            );
            assert!(water >= pw && heat >= ph, "{name} at {t}: went back");
            if wat == pwat {
                assert_eq!(water, pw, "{name} at {t}: water moved between captures");
            }
            if hat == phat {
                assert_eq!(heat, ph, "{name} at {t}: heat moved between captures");
            }
            changes += usize::from(water != pw);
        }
        // Six morning hours of a three-person household: water moves at most captures.
        assert!(
            changes >= 6 * 3600 / period_s as usize / 2,
            "{name}: {changes}"
        );
    }
}

/// Water (litres) and heat (GJ) used in each local hour of `days` days from `start` (a
/// local midnight), from the hourly captures of a DSMR 4.2 meter.
fn hourly(start: &str, days: i64, water: WaterMeter, annual_gj: f64) -> (Vec<f64>, Vec<f64>) {
    let meters = MbusMeters {
        water: Some(water),
        heat: Some(HeatMeter::new(annual_gj)),
    };
    let mut m = SyntheticMeter::new(kind("dsmr42"), base(), 23, at(start)).with_mbus(meters);
    let mut marks = Vec::new();
    while marks.len() as i64 <= days * 24 {
        let (t, r) = m.next_reading();
        if t % 3_600_000 == 0 {
            marks.push((r.energy.water_m3.unwrap(), r.energy.heat_gj.unwrap()));
        }
    }
    let litres = marks
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * 1000.0)
        .collect();
    let gj = marks.windows(2).map(|w| w[1].1 - w[0].1).collect();
    (litres, gj)
}

#[test]
fn water_is_a_households_daily_volume_with_morning_and_evening_peaks() {
    for persons in [1u8, 3, 5] {
        let (litres, _) = hourly(
            "2026-03-02T00:00:00+01:00",
            7,
            WaterMeter::new(persons),
            25.0,
        );
        let per_person = f64::from(persons);
        for (d, day) in litres.chunks(24).enumerate() {
            let total: f64 = day.iter().sum();
            // 100–150 L a person, ± 15 % a day (litre rounding of the captures aside).
            assert!(
                (80.0 * per_person..=175.0 * per_person).contains(&total),
                "{persons} persons, day {d}: {total} L"
            );
        }
        let mut by_hour = [0.0; 24];
        for (i, l) in litres.iter().enumerate() {
            by_hour[i % 24] += l;
        }
        let night: f64 = by_hour[1..5].iter().sum();
        let morning: f64 = by_hour[6..9].iter().sum();
        let evening: f64 = by_hour[18..22].iter().sum();
        let afternoon: f64 = by_hour[13..17].iter().sum();
        assert!(
            morning > 5.0 * night && evening > 5.0 * night,
            "{by_hour:?}"
        );
        assert!(morning > afternoon, "{by_hour:?}");
    }
}

#[test]
fn heat_is_seasonal() {
    let water = WaterMeter::new(2);
    let (_, winter) = hourly("2026-01-12T00:00:00+01:00", 7, water, 25.0);
    let (_, summer) = hourly("2026-07-13T00:00:00+02:00", 7, water, 25.0);
    let (w, s): (f64, f64) = (winter.iter().sum(), summer.iter().sum());
    // 25 GJ a year: a January week near a gigajoule, a July week hot water only.
    assert!((0.5..1.6).contains(&w), "winter week {w} GJ");
    assert!(s > 0.02 && w > 5.0 * s, "winter {w} GJ, summer {s} GJ");
    // Heat at night is the thermostat's setback: below the morning's.
    let hour = |h: usize| winter.iter().skip(h).step_by(24).sum::<f64>();
    assert!(
        hour(3) < hour(7),
        "night {} GJ, morning {} GJ",
        hour(3),
        hour(7)
    );
}

#[test]
fn devices_have_their_own_capture_offsets_on_emucs() {
    let water = MbusMeters {
        water: Some(WaterMeter::new(2)),
        heat: None,
    };
    let offsets: std::collections::BTreeSet<i64> = (0..8)
        .map(|seed| {
            let mut m =
                SyntheticMeter::new(kind("emucs"), base(), seed, at("2026-01-14T12:00:00Z"))
                    .with_mbus(water);
            m.next();
            let r = m.registers();
            r.water.capture.unwrap().rem_euclid(300) * 1000
                + r.mbus_capture.unwrap().rem_euclid(300)
        })
        .collect();
    assert!(offsets.len() > 4, "{offsets:?}");
}
