//! `run`'s start-up checks: wrong flags are refused before anything listens, naming the flag
//! and the value.

use super::{plan, RunArgs};
use clap::Parser;

fn args(extra: &[&str]) -> RunArgs {
    let mut argv = vec!["smart-connect-sim", "run"];
    argv.extend_from_slice(extra);
    match crate::cli::Cli::try_parse_from(argv)
        .expect("parses")
        .command
    {
        crate::cli::Command::Run(a) => *a,
        _ => unreachable!(),
    }
}

#[test]
fn a_broker_url_that_is_not_mqtt_is_refused_at_start() {
    let e = plan(&args(&["--mqtt", "http://x"]))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("--mqtt http://x") && e.contains("mqtt:// or mqtts://"),
        "{e}"
    );
    assert!(plan(&args(&["--mqtt", "mqtts://broker.example:8883"])).is_ok());
    assert!(plan(&args(&["--mqtt", "embedded"])).is_ok());
}

#[test]
fn the_kpi_summary_needs_the_live_house() {
    let e = plan(&args(&["--summary", "k.json", "--feed", "file:x"]))
        .err()
        .expect("refused");
    assert!(matches!(e, super::RunError::SummaryNeedsHouse), "{e}");
    let e = e.to_string();
    assert!(e.contains("--summary") && e.contains("--feed"), "{e}");
}

#[test]
fn address_flags_take_host_names_and_off() {
    let a = args(&["--modbus", "localhost:0", "--control", "off"]);
    assert!(a.modbus.ip().is_loopback());
    assert_eq!(a.control.0, None);
    let e = crate::cli::Cli::try_parse_from(["smart-connect-sim", "run", "--http", "localhost"])
        .expect_err("refused")
        .to_string();
    assert!(e.contains("`localhost` has no port"), "{e}");
}

#[test]
fn wifi_networks_join_the_lan_and_replace_a_scenario_network_of_the_same_name() {
    let p = plan(&args(&[
        "--wifi",
        "Zolder:geheim-wachtwoord",
        "--wifi",
        "Gasten",
    ]))
    .expect("ok");
    let nets: Vec<(&str, &str, bool)> = p
        .lan
        .wifi
        .iter()
        .map(|w| (w.ssid.as_str(), w.password.as_str(), w.dhcp))
        .collect();
    assert_eq!(
        nets,
        [("Zolder", "geheim-wachtwoord", true), ("Gasten", "", true)]
    );
    let dir = std::env::temp_dir().join(format!("sc-wifi-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("s.yaml");
    std::fs::write(
        &file,
        "name: s\nseed: 1\nmeter: smr5\nduration: 1m\nstart: 2026-01-01T00:00:00Z\nload: []\n\
         device: {wifi: [{ssid: Zolder, psk: oud-wachtwoord}, {ssid: Lab}]}\n",
    )
    .expect("scenario");
    let path = file.to_string_lossy().into_owned();
    let p = plan(&args(&[&path, "--wifi", "Zolder:geheim-wachtwoord"])).expect("ok");
    let _ = std::fs::remove_dir_all(&dir);
    let nets: Vec<(&str, &str)> = p
        .lan
        .wifi
        .iter()
        .map(|w| (w.ssid.as_str(), w.password.as_str()))
        .collect();
    assert_eq!(nets, [("Lab", ""), ("Zolder", "geheim-wachtwoord")]);
}

/// A scenario file under `target/` with `device:` set to `device`.
fn scenario_with(name: &str, device: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/run-plan-tests");
    std::fs::create_dir_all(&dir).expect("folder");
    let path = dir.join(format!("{name}.yaml"));
    let yaml = format!(
        "name: {name}\nseed: 3\nmeter: smr5\nduration: 1m\nstart: 2026-06-01T12:00:00+02:00\nload:\n  - base: {{watts: 500}}\ndevice: {device}\n"
    );
    std::fs::write(&path, yaml).expect("scenario");
    path.display().to_string()
}

#[test]
fn the_scenarios_device_network_and_mqtt_take_effect() {
    let none = scenario_with("no-cable", "{network: none, mqtt: off}");
    let p = plan(&args(&[none.as_str()])).expect("plan");
    assert!(!p.lan.ethernet_link, "network: none is no cable");
    assert!(p.mqtt_off, "mqtt: off");
    assert_eq!(p.mqtt, "embedded");

    let fixed = scenario_with(
        "no-dhcp",
        "{network: static, mqtt: 'mqtts://broker.lab:8883'}",
    );
    let p = plan(&args(&[fixed.as_str()])).expect("plan");
    assert!(
        p.lan.ethernet_link && !p.lan.dhcp,
        "network: static is no DHCP server"
    );
    assert_eq!(p.mqtt, "mqtts://broker.lab:8883", "the scenario's broker");
    assert!(!p.mqtt_off);
    let p = plan(&args(&["--mqtt", "mqtt://127.0.0.1:1883", fixed.as_str()])).expect("plan");
    assert_eq!(p.mqtt, "mqtt://127.0.0.1:1883", "an explicit --mqtt wins");

    let p = plan(&args(&[])).expect("plan");
    assert!(p.lan.ethernet_link && p.lan.dhcp && !p.mqtt_off);
    assert_eq!(p.mqtt, "embedded");
}
