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
        crate::cli::Command::Run(a) => a,
        _ => unreachable!(),
    }
}

#[test]
fn a_broker_url_that_is_not_mqtt_is_refused_at_start() {
    let e = plan(&args(&["--mqtt", "http://x"])).err().expect("refused");
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
    assert!(e.contains("--summary") && e.contains("--feed"), "{e}");
}

#[test]
fn address_flags_take_host_names_and_off() {
    let a = args(&["--modbus", "localhost:0", "--control", "off"]);
    assert!(a.modbus.ip().is_loopback());
    assert_eq!(a.control.0, None);
    let e = crate::cli::Cli::try_parse_from(["smart-connect-sim", "run", "--http", "localhost"])
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("`localhost` has no port"), "{e}");
}
