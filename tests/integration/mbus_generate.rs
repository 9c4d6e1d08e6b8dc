//! `generate` and `replay` with a scenario that has water and heat meters (#19): every
//! telegram parses with the water and heat values on their channels, captured on the 5-minute
//! M-Bus cadence and never going back, and `replay` reads every telegram.

use smart_connect_sim::cli::generate::{plan, write_until, GenerateArgs};
use smart_connect_sim::cli::replay::replay;
use smart_connect_sim::device::Variant;
use smart_connect_sim::protocol::dsmr;
use std::collections::BTreeSet;

const SCENARIO: &str = "\
name: water-and-heat
seed: 4
meter: smr5
duration: 10m
start: 2026-01-14T06:58:00+01:00
load:
  - base: {watts: 400, noise: 0.2}
mbus:
  water: {persons: 3}
  heat: {channel: 4, annual_gj: 30}
";

/// The value of the line starting with `prefix` (up to its last `)`).
fn line<'a>(telegram: &'a str, prefix: &str) -> &'a str {
    let start = telegram
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix}\n{telegram}"));
    let rest = &telegram[start + prefix.len()..];
    &rest[..rest.find("\r\n").unwrap()]
}

#[test]
fn generate_and_replay_a_scenario_with_water_and_heat() {
    let dir = std::env::temp_dir().join(format!("sc-mbus-generate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("water-and-heat.yaml");
    std::fs::write(&path, SCENARIO).unwrap();
    let args = GenerateArgs {
        meter: None,
        seed: None,
        duration: None,
        scenario: Some(path),
        start: None,
        out: None,
        jobs: None,
    };
    let (mut meter, end) = plan(&args).unwrap();
    let mut bytes = Vec::new();
    let n = write_until(&mut meter, end, &mut bytes).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(n, 600);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let mut last = (0.0, 0.0);
    let mut captures = BTreeSet::new();
    let mut parsed = 0;
    for (i, body) in text.split('/').skip(1).enumerate() {
        let telegram = format!("/{body}");
        let r = dsmr::parse(telegram.as_bytes()).unwrap().reading;
        let (water, heat) = (r.energy.water_m3.unwrap(), r.energy.heat_gj.unwrap());
        assert!(water >= last.0 && heat >= last.1, "telegram {i} went back");
        last = (water, heat);
        assert_eq!(line(&telegram, "0-2:24.1.0("), "007)");
        assert_eq!(line(&telegram, "0-4:24.1.0("), "004)");
        assert!(line(&telegram, "0-4:24.2.1(").ends_with("*GJ)"));
        captures.insert(line(&telegram, "0-2:24.2.1(")[..12].to_string());
        parsed += 1;
    }
    assert_eq!(parsed, n);
    // 06:58–07:08: captured at 06:55, 07:00 and 07:05.
    let want: BTreeSet<String> = ["260114065500", "260114070000", "260114070500"]
        .map(String::from)
        .into();
    assert_eq!(captures, want);
    assert_eq!(replay("water-and-heat", &bytes, Variant::P1).len(), n);
}
