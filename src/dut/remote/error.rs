//! Why a remote target cannot be used: `TargetFileError` for the target file (read, YAML with
//! line and column, the checks across its keys, the PEM files it names) and `BenchError` for
//! the conformance statement and the pre-flight check of the bench (rig, hooks, meter line,
//! the device's ports). Both keep the text the harness has always printed.

use crate::dut::TargetError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A target file that cannot be used. The problems inside a file start with `line:column:`
/// (YAML) or a space (`load` puts `path:` in front of both: `remote.yaml:3:1: …`,
/// `remote.yaml: feed: …`).
#[derive(Debug, thiserror::Error)]
pub enum TargetFileError {
    #[error("target file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A problem inside the file at `path`.
    #[error("{}:{source}", .path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<TargetFileError>,
    },
    /// Not the YAML of a target file; `at` is the 1-based line and column, when known.
    #[error("{}{source}", .at.map_or(" ".to_string(), |(l, c)| format!("{l}:{c}: ")))]
    Yaml {
        at: Option<(usize, usize)>,
        #[source]
        source: yaml_serde::Error,
    },
    #[error(" feed: give exactly one of `tcp`, `listen` or `serial`")]
    FeedCount,
    #[error(" capabilities: unknown ability {name:?}; valid: {}", .valid.join(", "))]
    UnknownAbility {
        name: String,
        valid: Vec<&'static str>,
    },
    #[error(
        " declare at least one interface of the device: `modbus: HOST:PORT`, `http: http://HOST` or `mqtt:` (or a `rig` to ask)"
    )]
    NoInterface,
    #[error(
        " label: required with `http:` or `mqtt:` when there is no `rig` to ask (serial, mac, password)"
    )]
    LabelRequired,
    #[error(" variant: required when there is no `rig` to ask (p1 or tic)")]
    VariantRequired,
    #[error(" variant: {given:?} is not p1 or tic")]
    Variant { given: String },
    #[error(
        " meters: unknown meter {name:?}; valid: {}",
        crate::protocol::MeterKind::names()
    )]
    UnknownMeter { name: String },
    /// A PEM file the target file names (`what`: its key, such as `mqtt.ca`).
    #[error("{what} {}: {source}", .path.display())]
    Pem {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mqtt: give both `cert` and `key`, or neither")]
    CertWithoutKey,
}

/// Why the statement cannot be made or the bench cannot work (pre-flight). A bench fault's
/// marker is left out of these texts: the whole run is blocked anyway.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    TargetFile(#[from] TargetFileError),
    #[error("the bench rig does not answer: {}", plain(.0))]
    Rig(#[source] TargetError),
    #[error(
        "hook `{hook}`: program {program:?} not found (relative paths start in {})",
        folder(.dir).display()
    )]
    HookProgram {
        hook: &'static str,
        program: String,
        /// The target file's folder.
        dir: PathBuf,
    },
    #[error("the target declares no variant")]
    NoVariant,
    #[error("{}", plain(.0))]
    MeterLine(#[source] TargetError),
    #[error("the meter line does not connect: {}", plain(.0))]
    MeterLineConnect(#[source] TargetError),
    #[error("the MQTT broker to watch at {addr} does not accept a connection: {source}")]
    Broker {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// `interface`: Modbus or HTTP.
    #[error(
        "the device's {interface} server at {addr} does not accept a connection within {within:?}: {source} (is the device powered and on the network?)"
    )]
    Interface {
        interface: &'static str,
        addr: String,
        within: Duration,
        #[source]
        source: std::io::Error,
    },
}

/// A bench fault's message without its marker.
fn plain(e: &TargetError) -> &str {
    e.0.trim_start_matches(crate::dut::BENCH_FAULT)
}

/// The folder relative paths start in: `.` for the working folder.
fn folder(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}
