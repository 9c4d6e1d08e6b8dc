//! The live house driven with no sockets: a change shows in exactly the next telegram, a bad
//! change is refused whole with every wrong field named, the charger's response reaches the
//! meter, the fuse accounts and trips, faults added now land on the next telegram.

use super::change::{parse, Limits};
use super::live::{LiveFault, LiveHouse};
use crate::protocol::{dsmr, MeterKind};
use crate::sim::faults::{FaultKind, FaultyMeter};
use crate::sim::generator::{Load, LoadComponent, SyntheticMeter};
use serde_json::json;

const START: i64 = 1_774_800_000_000; // 2026-03-29T16:00:00Z

fn house(meter: &str) -> LiveHouse {
    let kind = MeterKind::from_name(meter).unwrap();
    let load = Load::Household(vec![LoadComponent::Base {
        watts: 600.0,
        noise: 0.0,
    }]);
    LiveHouse::new(FaultyMeter::new(SyntheticMeter::new(kind, load, 7, START), vec![]).unwrap())
}

fn limits(h: &LiveHouse) -> Limits {
    Limits {
        phases: h.kind().phases(),
        meter: h.kind(),
    }
}

fn change(h: &mut LiveHouse, v: serde_json::Value, now: i64) {
    let c = parse(&v, limits(h)).unwrap_or_else(|e| panic!("{e:?}"));
    h.apply(&c, now);
}

#[test]
fn a_change_shows_in_exactly_the_next_telegram() {
    let mut h = house("smr5");
    let before = h.next();
    assert!(before.reading.active_power_w.unwrap() < 700.0);
    let now = h.next_at() - 500;
    change(
        &mut h,
        json!({"ev": {"on": true, "amps": 16, "phases": 3}}),
        now,
    );
    let after = h.next();
    let w = after.reading.active_power_w.unwrap();
    assert!(w > 11_000.0, "EV 3×16 A shows at once: {w} W");
    for a in after.reading.current_a {
        assert!(a.unwrap() >= 16.0, "{:?}", after.reading.current_a);
    }
    // The bytes say the same as the reading.
    let parsed = dsmr::parse(&after.bytes).unwrap();
    assert_eq!(parsed.reading.active_power_w, after.reading.active_power_w);
}

#[test]
fn per_phase_base_in_amps_and_battery_and_pv_now() {
    let mut h = house("smr5");
    change(
        &mut h,
        json!({"base": {"l1": {"amps": 10, "cos_phi": 1.0}, "l2": {"watts": 0}, "l3": {"watts": 0}},
               "battery": {"watts": -900}, "pv": {"peak_watts": 3000, "irradiance_w_m2": 0}}),
        START,
    );
    let r = h.next().reading;
    let p = r.active_power_phase_w.map(|w| w.unwrap());
    // L1: 2300 W ± 5 % minus a third of the battery's 900 W.
    assert!((1880.0..2120.0).contains(&p[0]), "{p:?}");
    assert_eq!(p[1], -300.0);
    assert_eq!(p[2], -300.0);
    change(&mut h, json!({"pv": {"irradiance_w_m2": 1000}}), START + 1);
    let p = h.next().reading.active_power_w.unwrap();
    // 2.3 kW on L1, 0.9 kW into the battery's discharge, 3 kW of PV: about −1.6 kW.
    assert!(
        (-1800.0..-1400.0).contains(&p),
        "3 kW of PV now exports: {p}"
    );
}

#[test]
fn a_bad_change_names_every_field_and_changes_nothing() {
    let h = house("smr5-1ph");
    let e = parse(
        &json!({"ev": {"amps": 99, "phases": 3, "speed": 1}, "base": {"l2": {"watts": 5}},
                "fuse": {"trip": "yes"}, "meter": "tic-standard"}),
        limits(&h),
    )
    .unwrap_err();
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "ev.amps",
        "ev.phases",
        "ev.speed",
        "base.l2",
        "fuse.amps",
        "fuse.trip",
        "meter",
    ] {
        assert!(fields.contains(&f), "{f} missing from {e:?}");
    }
    assert!(
        e.iter().any(|e| e.message.contains("0..=80 A, got 99")),
        "{e:?}"
    );
    assert!(parse(&json!({}), limits(&h)).is_err());
    assert!(parse(&json!([1]), limits(&h)).is_err());
}

#[test]
fn the_charger_response_reaches_the_meter() {
    let mut h = house("smr5");
    change(
        &mut h,
        json!({"ev": {"on": true, "amps": 6, "phases": 1, "delay_s": 2, "ramp_s": 4}}),
        START,
    );
    let currents: Vec<f32> = (0..8)
        .map(|_| h.next().reading.current_a[0].unwrap())
        .collect();
    // 600 W base: ~1 A per phase; the EV adds nothing for 2 s, then ramps 0 → 6 A over 4 s.
    assert!(currents[0] <= 2.0 && currents[1] <= 2.0, "{currents:?}");
    assert!(currents[6] >= 6.0, "{currents:?}");
    assert!(currents.windows(2).all(|w| w[1] >= w[0]), "{currents:?}");
}

#[test]
fn the_fuse_counts_overload_and_trips_the_house_dark() {
    let mut h = house("smr5");
    change(
        &mut h,
        json!({"fuse": {"amps": 25, "trip": true}, "ev": {"on": true, "amps": 32, "phases": 3},
               "base": {"l1": {"amps": 40}}}),
        START,
    );
    let mut tripped_at = None;
    for _ in 0..600 {
        let t = h.next();
        if t.tripped {
            tripped_at = Some(t.at - START);
            assert!(t.bytes.is_empty(), "the tripping telegram is not sent");
            break;
        }
    }
    // L1 ≈ 72 A = 2.9 × 25 A: the type C curve trips in 1–60 s.
    let at = tripped_at.expect("the fuse tripped");
    assert!((1_000..=60_000).contains(&at), "{at} ms");
    let s = h.summary();
    assert_eq!(s.fuse.trips, 1);
    assert!(s.fuse.overload_s > 0.0);
    assert!(s.fuse.worst_overshoot_a > 40.0, "{s:?}");
    assert!(s.fuse.max_current_a[0] >= 70.0, "{s:?}");
    assert!(h.dark() && h.next().bytes.is_empty());
    for _ in 0..10 {
        h.next();
    }
    let s = h.summary();
    assert_eq!(
        s.telegrams,
        s.duration_s as u64 + 1,
        "the dark slots count as time: {s:?}"
    );
    let now = h.next_at();
    h.reset_fuse(now);
    change(&mut h, json!({"ev": {"on": false}, "base": null}), now);
    assert!(!h.next().bytes.is_empty(), "power is back");
}

#[test]
fn faults_added_now_land_on_the_next_telegram() {
    let mut h = house("smr5");
    h.next();
    let now = h.next_at() - 1;
    h.inject(LiveFault::Meter(FaultKind::BadCrc), now).unwrap();
    let t = h.next();
    assert!(dsmr::parse(&t.bytes).is_err());
    assert!(dsmr::parse(&h.next().bytes).is_ok());
    let now = h.next_at();
    h.inject(
        LiveFault::SlowCadence {
            duration_ms: 30_000,
        },
        now,
    )
    .unwrap();
    let sent = (0..30).filter(|_| !h.next().bytes.is_empty()).count();
    assert_eq!(sent, 3, "one telegram per 10 s");
    assert!(h
        .inject(LiveFault::Meter(FaultKind::Noise { bytes: 0 }), now)
        .is_err());
}

#[test]
fn the_meter_kind_changes_at_the_next_telegram_and_energy_adds_up() {
    let mut h = house("smr5");
    for _ in 0..3600 {
        h.next();
    }
    let s = h.summary();
    // 600 W for an hour.
    assert!((0.58..0.62).contains(&s.energy.import_kwh), "{s:?}");
    assert_eq!(s.energy.export_kwh, 0.0);
    let now = h.next_at();
    change(&mut h, json!({"meter": "dsmr42"}), now);
    let t = h.next();
    assert_eq!(
        dsmr::parse(&t.bytes).unwrap().reading.version.as_deref(),
        Some("4.2")
    );
}

#[test]
fn repeating_a_set_point_does_not_restart_the_charger() {
    let mut h = house("smr5");
    change(
        &mut h,
        json!({"ev": {"on": true, "amps": 16, "delay_s": 2, "ramp_s": 4}}),
        START,
    );
    let before = h.house.clone();
    change(&mut h, json!({"ev": {"amps": 16}}), START + 3_000);
    assert_eq!(h.house, before, "same set-point: same charger state");
    assert_eq!(
        h.house.ev.current_at(START + 6_000).0,
        16.0,
        "the ramp went on"
    );
}
