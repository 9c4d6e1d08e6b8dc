//! Scenario files: every kind of error names the file, line and field; every file under
//! `scenarios/` loads.

use super::*;
use crate::sim::faults::FaultKind;

/// A valid file; the tests break one line at a time (1-based line numbers in comments).
const BASE: &str = "\
name: test
seed: 42
variant: p1
meter: smr5
phases: 3
duration: 2h
start: 2026-03-29T00:30:00+01:00
load:
  - base: {watts: 350, noise: 0.1}
  - pv: {peak_watts: 4200, sunrise: \"07:10\", sunset: \"19:40\"}
  - ev: {start: \"18:00\", amps: 16, phases: 3, minutes: 90}
faults:
  - {at: 10m, kind: bad_crc}
  - {at: 20m, kind: dropout, duration: 45s}
device: {usb_power: true, network: dhcp, mqtt: embedded}
";

/// BASE with line `n` (1-based) replaced.
pub(super) fn with_line(n: usize, text: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = text;
    lines.join("\n") + "\n"
}

fn err(text: &str) -> ScenarioError {
    parse(text, Path::new("scenarios/t.yaml")).expect_err("must be refused")
}

/// The error is on `line` and its message contains every one of `parts`.
pub(super) fn assert_err(text: &str, line: usize, parts: &[&str]) -> ScenarioError {
    let e = err(text);
    assert_eq!(e.line, Some(line), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("scenarios/t.yaml:{line}:")),
        "{shown}"
    );
    for p in parts {
        assert!(shown.contains(p), "{shown:?} lacks {p:?}");
    }
    e
}

#[test]
fn base_file_loads_with_every_field() {
    let s = parse(BASE, Path::new("t.yaml")).unwrap();
    assert_eq!(s.name, "test");
    assert_eq!(s.seed, 42);
    assert_eq!(s.variant, Variant::P1);
    assert_eq!(s.meter_kind, MeterKind::from_name("smr5").unwrap());
    assert_eq!(s.phases, 3);
    assert_eq!(s.duration_ms, 7_200_000);
    assert_eq!(s.start, 1_774_740_600_000);
    assert_eq!(s.end(), s.start + 7_200_000);
    assert_eq!(
        s.load,
        [
            LoadComponent::Base {
                watts: 350.0,
                noise: 0.1
            },
            LoadComponent::PvWindow {
                peak_watts: 4200.0,
                sunrise_min: 430,
                sunset_min: 1180
            },
            LoadComponent::Ev {
                start_min: 1080,
                amps: 16.0,
                phases: 3,
                minutes: 90
            },
        ]
    );
    assert_eq!(
        s.faults,
        [
            Fault {
                at_ms: 600_000,
                kind: FaultKind::BadCrc
            },
            Fault {
                at_ms: 1_200_000,
                kind: FaultKind::Dropout {
                    duration_ms: 45_000
                }
            },
        ]
    );
    assert_eq!(s.device, DeviceSettings::default());
    let mut m = s.meter();
    assert_eq!(m.next_at(), s.start);
    assert!(m.next().is_clean());
}

#[test]
fn defaults_and_phase_models() {
    let text = "name: x\nseed: 1\nmeter: tic-standard\nphases: 3\nduration: 1m\n\
                start: 2026-01-01T12:00:00Z\nload: []\n\
                device: {network: none, mqtt: \"mqtts://broker.local:8883\"}\n";
    let s = parse(text, Path::new("t.yaml")).unwrap();
    assert_eq!(s.variant, Variant::Tic, "from the meter");
    assert_eq!(
        s.meter_kind.name(),
        "tic-standard-tri",
        "phases pick the model"
    );
    assert_eq!(s.phases, 3);
    assert!(s.faults.is_empty());
    assert_eq!(
        s.device,
        DeviceSettings {
            usb_power: true,
            network: Network::None,
            mqtt: Mqtt::Url("mqtts://broker.local:8883".into()),
            wifi: Vec::new(),
        }
    );
    let one = with_line(5, "phases: 1").replace("phases: 3, minutes", "phases: 1, minutes");
    let s = parse(&one, Path::new("t.yaml")).unwrap();
    assert_eq!(s.meter_kind.name(), "smr5-1ph");
    let off = with_line(15, "device: {mqtt: off, usb_power: false}");
    let s = parse(&off, Path::new("t.yaml")).unwrap();
    assert_eq!((s.device.mqtt, s.device.usb_power), (Mqtt::Off, false));
}

#[test]
fn unknown_key_at_top_level_and_inside_a_map() {
    assert_err(
        &with_line(3, "colour: red"),
        3,
        &["unknown field `colour`", "expected one of", "variant"],
    );
    assert_err(
        &with_line(9, "  - base: {watts: 350, nosie: 0.1}"),
        9,
        &["load[0].base: unknown field `nosie`", "noise"],
    );
    assert_err(
        &with_line(9, "  - heat_pump: {watts: 350}"),
        9,
        &["load[0]", "heat_pump", "base", "imbalance"],
    );
    assert_err(
        &with_line(15, "device: {usb_power: true, bluetooth: on}"),
        15,
        &["device: unknown field `bluetooth`"],
    );
    assert_err(
        &with_line(13, "  - {at: 10m, kind: bad_crc, bytes: 3}"),
        13,
        &["faults[0]", "`bytes` does not apply to kind bad_crc"],
    );
}

#[test]
fn bad_durations() {
    assert_err(
        &with_line(6, "duration: 2x"),
        6,
        &["duration: ", "unknown unit"],
    );
    assert_err(
        &with_line(6, "duration: 120"),
        6,
        &["duration: ", "missing unit"],
    );
    assert_err(
        &with_line(6, "duration: 0s"),
        6,
        &["duration: must be longer than 0"],
    );
    assert_err(
        &with_line(14, "  - {at: 20 min, kind: dropout, duration: 45s}"),
        14,
        &["faults[1].at: "],
    );
    assert_err(
        &with_line(14, "  - {at: 20m, kind: dropout}"),
        14,
        &["faults[1]: kind dropout needs `duration`"],
    );
}

#[test]
fn ranges_of_ev_and_load_values() {
    let e = assert_err(
        &with_line(
            11,
            "  - ev: {start: \"18:00\", amps: 99, phases: 3, minutes: 90}",
        ),
        11,
        &["load[2].ev.amps: must be between 6 and 32 A, got 99"],
    );
    assert_eq!(e.column, Some(32), "points at the value");
    assert_err(
        &with_line(
            11,
            "  - ev: {start: \"18:00\", amps: 16, phases: 2, minutes: 90}",
        ),
        11,
        &["load[2].ev.phases: must be 1 or 3, got 2"],
    );
    assert_err(
        &with_line(
            11,
            "  - ev: {start: \"23:00\", amps: 16, phases: 3, minutes: 90}",
        ),
        11,
        &["load[2].ev: ", "after midnight", "within a day"],
    );
    assert_err(
        &with_line(9, "  - base: {watts: 50000, noise: 0.1}"),
        9,
        &["load[0].base.watts: must be at least 0 and below 50000 W"],
    );
    assert_err(
        &with_line(9, "  - base: {watts: 300, noise: 1.5}"),
        9,
        &["load[0].base.noise: must be between 0 and 1"],
    );
    assert_err(
        &with_line(
            10,
            "  - pv: {peak_watts: 4200, sunrise: \"7h10\", sunset: \"19:40\"}",
        ),
        10,
        &["load[1].pv.sunrise: ", "HH:MM"],
    );
}

#[test]
fn phases_two_and_unavailable_phase_models() {
    assert_err(
        &with_line(5, "phases: 2"),
        5,
        &["phases: must be 1 or 3, got 2"],
    );
    let text = with_line(4, "meter: dsmr42").replace("phases: 3", "phases: 1");
    assert_err(&text, 5, &["phases: meter dsmr42 has 3 phases only"]);
    // An EV on more phases than the meter has.
    let text = with_line(5, "phases: 1");
    assert_err(
        &text,
        11,
        &["load[2].ev: phases 3 but meter smr5-1ph has 1 phase"],
    );
}

#[test]
fn unknown_meter_lists_the_valid_names() {
    let e = assert_err(
        &with_line(4, "meter: smr6"),
        4,
        &["meter: unknown meter `smr6`", "valid meters: "],
    );
    for k in MeterKind::all() {
        assert!(e.message.contains(k.name()), "{e}");
    }
}

#[test]
fn variant_must_match_the_meter() {
    assert_err(
        &with_line(3, "variant: tic"),
        4,
        &[
            "meter: `smr5` is a P1 meter but variant is tic",
            "tic-historic",
        ],
    );
    assert_err(
        &with_line(3, "variant: a1"),
        3,
        &["variant: unknown variant `a1`", "`p1` or `tic`"],
    );
}

#[test]
fn sunrise_after_sunset() {
    assert_err(
        &with_line(
            10,
            "  - pv: {peak_watts: 4200, sunrise: \"19:40\", sunset: \"07:10\"}",
        ),
        10,
        &["load[1].pv: sunrise 19:40 must be before sunset 07:10"],
    );
}

#[test]
fn incompatible_fault_needs_a_p1_meter() {
    let text = with_line(13, "  - {at: 10m, kind: incompatible}")
        .replace("variant: p1", "variant: tic")
        .replace("meter: smr5", "meter: tic-standard");
    let text = text.replace(
        "  - ev: {start: \"18:00\", amps: 16, phases: 3, minutes: 90}\n",
        "",
    );
    assert_err(
        &text,
        12,
        &[
            "faults[0]: kind incompatible",
            "tic-standard-tri is a TIC meter",
        ],
    );
}

#[test]
fn start_needs_an_offset_and_device_values_are_checked() {
    assert_err(
        &with_line(7, "start: 2026-03-29T00:30:00"),
        7,
        &["start: ", "RFC 3339 time with offset"],
    );
    assert_err(
        &with_line(15, "device: {mqtt: \"broker.local\"}"),
        15,
        &["device.mqtt: ", "not embedded, off or a broker URL"],
    );
    assert_err(
        &with_line(15, "device: {network: wifi}"),
        15,
        &[
            "device.network: unknown variant `wifi`",
            "expected one of `dhcp`, `static`, `none`",
        ],
    );
}

#[test]
fn wifi_networks_in_range_are_checked_where_they_stand() {
    let wifi = "device:\n  wifi:\n    - {ssid: Zolder, psk: geheim-wachtwoord}\n    - {ssid: Lab, dhcp: false}";
    let s = parse(&with_line(15, wifi), Path::new("t.yaml")).unwrap();
    let lan = s.lan();
    assert_eq!(lan.wifi.len(), 2);
    assert_eq!(
        (lan.wifi[0].password.as_str(), lan.wifi[0].dhcp),
        ("geheim-wachtwoord", true)
    );
    assert_eq!(
        (lan.wifi[1].password.as_str(), lan.wifi[1].dhcp),
        ("", false),
        "open"
    );
    assert!(lan.wifi.iter().all(|w| w.band_ghz == 2.4) && lan.ethernet_link);
    let bad = |item: &str| with_line(15, &format!("device:\n  wifi:\n    - {item}"));
    assert_err(
        &bad("{ssid: Zolder, psk: kort}"),
        17,
        &["device.wifi[0].psk: ", "8..63"],
    );
    assert_err(
        &bad("{ssid: \"\"}"),
        17,
        &["device.wifi[0].ssid: must not be empty"],
    );
    let long = format!("{{ssid: {}}}", "x".repeat(33));
    assert_err(
        &bad(&long),
        17,
        &["device.wifi[0].ssid: must be at most 32 bytes, got 33"],
    );
    assert_err(
        &bad("{ssid: Zolder, band: 5}"),
        17,
        &["unknown field `band`", "psk"],
    );
    let twice = "device:\n  wifi:\n    - {ssid: Zolder}\n    - {ssid: Zolder}";
    let e = err(&with_line(15, twice));
    assert!(
        e.to_string()
            .contains("device.wifi: Wi-Fi network \"Zolder\" is listed twice"),
        "{e}"
    );
    assert!(e.line.is_some_and(|l| l >= 16), "{e}");
}

#[test]
fn missing_fields_and_syntax_errors() {
    let text = BASE.replace("seed: 42\n", "");
    let e = err(&text);
    assert!(e.message.contains("missing field `seed`"), "{e}");
    let e = assert_err(&with_line(9, "  - base: {watts: 350, noise: 0.1"), 10, &[]);
    assert!(e.line.is_some());
    let e = load(Path::new("scenarios/does-not-exist.yaml")).unwrap_err();
    assert_eq!(e.line, None);
    assert!(
        e.to_string()
            .starts_with("scenarios/does-not-exist.yaml: cannot read"),
        "{e}"
    );
}

#[test]
fn every_file_in_scenarios_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Some(s.name.as_str()),
            path.file_stem().and_then(|n| n.to_str()),
            "the name matches the file name"
        );
        let mut m = s.meter();
        let t = m.next();
        assert_eq!(t.at, s.start);
        names.push(s.name);
    }
    for required in [
        "smr5-household",
        "dsmr42-no-voltage",
        "emucs-belgium-pv",
        "tic-historic-mono",
        "tic-standard-tri-producer",
        "ev-charging-evening",
    ] {
        assert!(names.iter().any(|n| n == required), "{required} missing");
    }
}

#[test]
fn scenario_files_show_what_they_promise() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let first = |name: &str| {
        let s = load(&dir.join(format!("{name}.yaml"))).unwrap();
        s.meter().next().reading
    };
    let r = first("tic-standard-tri-producer");
    assert!(r.active_power_w.unwrap() < 0.0, "{r:?}");
    assert!(r.active_power_phase_w.iter().flatten().all(|&p| p >= 0.0));
    let r = first("tic-standard-consumer-exporting");
    assert_eq!((r.active_power_w, r.exporting), (Some(0.0), Some(true)));
    assert!(first("emucs-belgium-pv").active_power_w.unwrap() < 0.0);
    assert_eq!(first("dsmr42-no-voltage").voltage_v, [None; 3]);
    let s = load(&dir.join("ev-charging-evening.yaml")).unwrap();
    let mut m = s.meter();
    let mut kinds = Vec::new();
    let mut ev_seen = false;
    while m.next_at() < s.end() {
        let t = m.next();
        ev_seen |= t.reading.current_a.iter().flatten().all(|&a| a >= 16.0);
        for k in t.faults {
            if !kinds.contains(&k.name()) {
                kinds.push(k.name());
            }
        }
    }
    assert!(ev_seen);
    assert_eq!(kinds, ["bad_crc", "dropout", "noise"]);
}

#[test]
fn the_live_house_keys_load_and_are_checked_where_they_stand() {
    let text = format!(
        "{BASE}house:\n  fuse: {{amps: 25, trip: true}}\n  battery: {{watts: -1500}}\nsetpoint: modbus\nevents:\n  - {{at: 40m, ev: {{on: false}}}}\n  - {{at: 5m, ev: {{on: true, amps: 16}}}}\n"
    );
    let s = parse(&text, Path::new("scenarios/t.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.house.as_ref().unwrap()["fuse"]["amps"], 25);
    assert_eq!(s.setpoint, SetPointSource::Modbus);
    let at: Vec<i64> = s.events.iter().map(|e| e.0).collect();
    assert_eq!(at, [300_000, 2_400_000], "in time order");
    // A wrong value inside `house:` or an event names the field and the line.
    assert_err(
        &format!("{BASE}house:\n  fuse: {{amps: 0}}\n"),
        17,
        &["house", "fuse.amps: must be 1..=400 A, got 0"],
    );
    assert_err(
        &format!("{BASE}events:\n  - {{at: 5m, ev: {{on: true}}}}\n  - {{at: 6m, ev: {{amps: 99, volts: 3}}}}\n"),
        18,
        &["events[1]", "ev.amps: must be 0..=80 A, got 99", "ev.volts: unknown field"],
    );
    assert_err(
        &format!("{BASE}events:\n  - {{ev: {{on: true}}}}\n"),
        17,
        &["events[0]", "at: missing"],
    );
    assert_err(
        &format!("{BASE}setpoint: carrier-pigeon\n"),
        16,
        &["setpoint", "modbus"],
    );
    // Per-phase values are checked against the meter's phases.
    let one_phase = with_line(5, "phases: 1").replace("phases: 3, minutes", "phases: 1, minutes");
    assert_err(
        &format!("{one_phase}house:\n  base: {{l3: {{watts: 100}}}}\n"),
        17,
        &["base.l3: this meter has 1 phase(s)"],
    );
}

#[test]
fn docs_scenarios_md_examples_load_and_every_key_is_documented() {
    let doc = include_str!("../../../docs/scenarios.md");
    let examples: Vec<&str> = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(examples.len() >= 3, "the examples");
    for (i, text) in examples.iter().enumerate() {
        parse(
            text,
            Path::new(&format!("docs/scenarios.md example {}", i + 1)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    for key in [
        "name",
        "seed",
        "variant",
        "meter",
        "phases",
        "duration",
        "start",
        "load",
        "faults",
        "device",
        "house",
        "setpoint",
        "events",
        "watts",
        "noise",
        "peak_watts",
        "sunrise",
        "sunset",
        "amps",
        "minutes",
        "l1",
        "l2",
        "l3",
        "at",
        "kind",
        "bytes",
        "seconds",
        "usb_power",
        "network",
        "mqtt",
        "wifi",
        "ssid",
        "psk",
        "dhcp",
        "bad_crc",
        "truncate",
        "garbage",
        "dropout",
        "incompatible",
        "clock_skew",
        "imbalance",
        "cos_phi",
        "irradiance_w_m2",
        "delay_s",
        "ramp_s",
        "min_amps",
        "max_amps",
        "phase_switch_s",
        "battery",
        "fuse",
        "trip",
    ] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/scenarios.md lacks `{key}`"
        );
    }
}
