//! `run` as a process: `--wifi` values are checked at start (the error names the flag and the
//! value), settings saved by an earlier run are carried over and the banner says so (warning
//! when they select a Wi-Fi network the simulated LAN lacks), and `--factory-reset` discards
//! them. Every run binds port 0, keeps its settings in its own folder under `target/` and
//! stops after a few seconds of device time at full speed.

use crate::common;

use smart_connect_sim::device::config::{Config, NetIf};
use std::path::Path;
use std::process::{Command, Output};

/// `run` for 20 s of device time at full speed with every listener on port 0, the control
/// surfaces off, settings in `state`.
fn run_command(state: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(common::BIN);
    c.args(["run", "--speed", "max", "--duration", "20s"])
        .args(["--modbus", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--https", "127.0.0.1:0"])
        .args(["--mqtt-tls-port", "0", "--mqtt-plain-port", "0"])
        .args(["--control", "off", "--control-modbus", "off"])
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    c
}

/// `run_command` at log level info.
fn run(state: &Path, extra: &[&str]) -> Output {
    run_command(state, extra)
        .env("RUST_LOG", "info")
        .output()
        .expect("run the simulator")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Settings that select the Wi-Fi network "Home", as the web page saves them.
fn save_wifi_settings(state: &Path) -> std::path::PathBuf {
    let mut c = Config {
        default_net_if: NetIf::WiFi,
        ..Config::default()
    };
    c.wifi.ssid = "Home".into();
    c.wifi.password = "secret123".into();
    std::fs::create_dir_all(state).expect("state folder");
    let path = state.join("config.json");
    std::fs::write(&path, serde_json::to_vec(&c).expect("JSON")).expect("config.json");
    path
}

#[test]
fn bad_wifi_values_are_refused_naming_the_flag_and_the_value() {
    let state = common::work("run-settings-bad-wifi").join("state");
    let long = format!("{}:secret123", "x".repeat(33));
    for (value, why) in [
        ("Home:short", "8..63"),
        (":secret123", "must not be empty"),
        (long.as_str(), "at most 32 bytes"),
        ("Home:tab\there-1", "printable ASCII"),
    ] {
        let o = run(&state, &["--wifi", value]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "--wifi {value:?}: {err}");
        assert!(
            err.contains("--wifi") && err.contains(value) && err.contains(why),
            "--wifi {value:?}: {err}"
        );
    }
    let o = run(&state, &["--wifi", "Lab", "--wifi", "Lab:secret123"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--wifi Lab") && err.contains("twice"), "{err}");
    assert!(
        !state.join("config.json").exists(),
        "nothing started, nothing saved"
    );
}

#[test]
fn carried_over_wifi_settings_are_announced_and_warned_about() {
    let state = common::work("run-settings-carried").join("state");
    let path = save_wifi_settings(&state);
    let o = run(&state, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "settings     carried over from {} (saved ",
            path.display()
        )) && out.contains("start with --factory-reset to discard them"),
        "{out}"
    );
    assert!(
        out.contains("!! network   Wi-Fi network \"Home\" not found"),
        "the banner warns: {out}"
    );
    assert!(
        err.contains("WARN")
            && err.contains("network: Wi-Fi network \"Home\" not found")
            && err.contains("--factory-reset"),
        "the log says why and the way out: {err}"
    );
    // With the network in range the device joins it: no warning, no problem in the log.
    let o = run(&state, &["--wifi", "Home:secret123"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("Wi-Fi        \"Home\" in range"), "{out}");
    assert!(
        !out.contains("!! network") && !err.contains("network: Wi-Fi"),
        "{out}\n{err}"
    );
    assert!(err.contains("LED: Normal"), "joined and serving: {err}");
}

#[test]
fn factory_reset_discards_the_saved_wifi_settings() {
    let state = common::work("run-settings-factory-reset").join("state");
    let path = save_wifi_settings(&state);
    let o = run(&state, &["--factory-reset"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "--factory-reset: discarded the saved settings {} (Wi-Fi \"Home\"",
            path.display()
        )),
        "the log names the file and what it held: {err}"
    );
    assert!(
        out.contains("settings     factory defaults (--factory-reset discarded"),
        "{out}"
    );
    assert!(
        !out.contains("!! network") && !err.contains("network: Wi-Fi"),
        "{out}\n{err}"
    );
    assert!(!path.exists(), "the saved settings are gone");
    let o = run(&state, &[]);
    let (out, _) = text(&o);
    assert!(out.contains("settings     factory defaults\n"), "{out}");
}

/// The log a user reads: at `--speed max` 20 s of device time pass in milliseconds, so the
/// `telegram:` lines are sampled (at most one per wall-clock second, each with the device time
/// in brackets and how many were read since the last line) and the last line gives the totals
/// and the device time done (it once printed the speed instead); no flood of "missed"
/// warnings, and the embedded broker's shutdown is not logged as a refused connection.
#[test]
fn the_log_samples_telegrams_with_device_time_and_ends_with_the_totals() {
    let state = common::work("run-log");
    // The default log filter, as a user gets it.
    let out = run_command(&state, &[])
        .env_remove("RUST_LOG")
        .output()
        .expect("run the simulator");
    let (_stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let telegrams: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("] telegram: "))
        .collect();
    assert!(
        (1..=5).contains(&telegrams.len()),
        "sampled telegram lines, got {}:\n{stderr}",
        telegrams.len()
    );
    for l in &telegrams {
        let bracket = l.split('[').nth(1).and_then(|r| r.split(']').next());
        assert!(
            bracket.is_some_and(|t| t.len() == 24 && t.ends_with('Z') && t.contains('T')),
            "device time as RFC 3339 in brackets: {l}"
        );
        assert!(
            l.contains(" read, ") && l.contains(" rejected since the last line"),
            "{l}"
        );
    }
    let end = stderr
        .lines()
        .find(|l| l.contains("20 s of device time done: stopping ("))
        .unwrap_or_else(|| panic!("the end names the device time done:\n{stderr}"));
    let read: u32 = end
        .split("stopping (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count of telegrams: {end}"));
    assert!(read >= 10, "over 10 telegrams in 20 s less the boot: {end}");
    assert!(end.contains("0 rejected"), "{end}");
    let missed = stderr
        .lines()
        .filter(|l| l.contains("effects missed"))
        .count();
    assert!(
        missed <= 3,
        "at most one 'missed' line per 10 s: {missed}\n{stderr}"
    );
    assert!(
        !stderr.contains("closed the connection before accepting it"),
        "the broker's own shutdown is not a refused connection:\n{stderr}"
    );
    assert!(
        !stderr.contains("ERROR") && !stderr.contains("rumqttd"),
        "routine broker messages stay hidden by default:\n{stderr}"
    );
}

/// A scenario's `device:` as `run` starts it: `mqtt: off` on factory settings is a device
/// with MQTT off (the banner says so and the saved settings hold it), `network: none` is no
/// cable (the log names the problem).
#[test]
fn a_scenarios_device_mqtt_off_and_no_cable_are_what_run_starts() {
    let state = common::work("run-scenario-device");
    let scenario = state.join("no-cable.yaml");
    std::fs::write(
        &scenario,
        "name: no-cable\nseed: 3\nmeter: smr5\nduration: 1m\nstart: 2026-06-01T12:00:00+02:00\nload:\n  - base: {watts: 500}\ndevice: {network: none, mqtt: off}\n",
    )
    .expect("scenario");
    let out = run(&state, &[scenario.to_str().expect("utf-8 path")]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("factory defaults with MQTT off (the scenario's device.mqtt: off)"),
        "{stdout}"
    );
    let saved: Config =
        serde_json::from_slice(&std::fs::read(state.join("config.json")).expect("saved settings"))
            .expect("JSON");
    assert!(!saved.mqtt.enabled, "saved with MQTT off");
    assert!(stderr.contains("Ethernet: no cable"), "{stderr}");
}
