//! The `mbus:` map: water and heat meters reach the meter, defaults, and errors that name the
//! file, line, column and field.

use super::tests::{assert_err, with_line};
use super::*;
use crate::protocol::dsmr::MbusChannel;
use crate::sim::generator::{HeatMeter, WaterMeter};

/// The test file with an `mbus:` map `v` after `start:` (line 7; the map is on line 8).
fn mbus(v: &str) -> String {
    with_line(7, &format!("start: 2026-01-05T12:00:00Z\nmbus: {v}"))
}

/// A minimal file of meter `meter` with `mbus: v` on line 6.
fn on(meter: &str, v: &str) -> String {
    format!("name: x\nseed: 1\nmeter: {meter}\nduration: 1m\nstart: 2026-01-01T12:00:00Z\nmbus: {v}\nload: []\n")
}

fn channel(n: u8) -> MbusChannel {
    MbusChannel::new(n).unwrap()
}

#[test]
fn water_and_heat_reach_the_meter_and_default_to_channels_2_and_3() {
    let s = parse(&mbus("{water: {}, heat: {}}"), Path::new("t.yaml")).unwrap();
    let want = MbusMeters {
        water: Some(WaterMeter::new(2)),
        heat: Some(HeatMeter::new(25.0)),
    };
    assert_eq!(s.mbus, want);
    assert_eq!(s.synthetic_meter().mbus_meters(), want);
    let t = s.meter().next();
    assert!(t.reading.energy.water_m3.is_some() && t.reading.energy.heat_gj.is_some());
    let text = "{water: {channel: 4, persons: 5}, heat: {channel: 2, annual_gj: 40.5}}";
    let s = parse(&mbus(text), Path::new("t.yaml")).unwrap();
    assert_eq!(
        s.mbus,
        MbusMeters {
            water: Some(WaterMeter {
                channel: channel(4),
                persons: 5
            }),
            heat: Some(HeatMeter {
                channel: channel(2),
                annual_gj: 40.5
            }),
        }
    );
    let be = parse(&on("emucs", "{water: {persons: 1}}"), Path::new("t.yaml")).unwrap();
    assert_eq!(be.mbus.water.map(|w| w.persons), Some(1));
    let none = parse(
        &with_line(7, "start: 2026-01-05T12:00:00Z"),
        Path::new("t.yaml"),
    )
    .unwrap();
    assert_eq!(none.mbus, MbusMeters::default());
}

#[test]
fn mbus_values_are_checked_where_they_stand() {
    assert_err(
        &mbus("{water: {channel: 1}}"),
        8,
        &["mbus.water.channel: ", "must be channel 2, 3 or 4", "got 1"],
    );
    assert_err(
        &mbus("{heat: {channel: 5}}"),
        8,
        &["mbus.heat.channel: ", "got 5"],
    );
    assert_err(
        &mbus("{water: {persons: 0}}"),
        8,
        &["mbus.water.persons: ", "from 1 to 8", "got 0"],
    );
    assert_err(
        &mbus("{heat: {annual_gj: 500}}"),
        8,
        &["mbus.heat.annual_gj: ", "between 1 and 200 GJ", "got 500"],
    );
    assert_err(
        &mbus("{water: {litres: 3}}"),
        8,
        &["mbus.water: unknown field `litres`"],
    );
    assert_err(&mbus("{gas: {}}"), 8, &["mbus: unknown field `gas`"]);
    assert_err(
        &mbus("{water: {channel: 3}, heat: {}}"),
        8,
        &["mbus: ", "water and heat are both on channel 3"],
    );
    assert_err(
        &on("emucs", "{heat: {}}"),
        6,
        &["mbus.heat: ", "meter emucs carries no heat meter"],
    );
    assert_err(
        &on("tic-standard", "{water: {}}"),
        6,
        &["mbus.water: ", "meter tic-standard has no M-Bus"],
    );
}

#[test]
fn docs_scenarios_md_documents_the_mbus_keys() {
    let doc = include_str!("../../../docs/scenarios.md");
    for key in ["mbus", "water", "heat", "channel", "persons", "annual_gj"] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/scenarios.md lacks `{key}`"
        );
    }
}
