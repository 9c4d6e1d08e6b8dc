//! Steps that act on the meter line and on time: telegrams arrive, time passes, the meter
//! changes its load, sends damaged telegrams or falls silent.

use super::setup::{phase_index, single_load, watts};
use super::world::DeviceWorld;
use crate::protocol::fault::FrameFault;
use crate::sim::generator::Load;
use cucumber::{given, when};

#[given(regex = r"^(\d+) seconds? ha(?:ve|s) passed$")]
#[when(regex = r"^(\d+) seconds? pass(?:es)?$")]
async fn seconds_pass(w: &mut DeviceWorld, s: i64) {
    w.pass(s * 1000).await;
}

#[when(regex = r"^(\d+) milliseconds pass$")]
async fn millis_pass(w: &mut DeviceWorld, ms: i64) {
    w.pass(ms).await;
}

#[when(regex = r"^the next (?:telegram|frame) arrives$")]
async fn next_arrives(w: &mut DeviceWorld) {
    let bytes = w
        .next_telegram(None)
        .await
        .expect("the meter is not sending");
    w.send(&bytes).await;
}

#[when(regex = r"^the meter's load changes to ([\d.\-]+) (W|kW) on (L[123])$")]
fn load_changes(w: &mut DeviceWorld, n: f64, unit: String, phase: String) {
    let line = w.line.as_mut().expect("no meter connected");
    let kind = line.meter.kind();
    line.meter.set_load(Load::Fixed(single_load(
        kind,
        phase_index(&phase),
        watts(n, &unit),
    )));
}

#[when(
    regex = r"^the meter sends (a telegram with a bad CRC|a frame with a wrong group checksum|a truncated telegram)$"
)]
async fn damaged(w: &mut DeviceWorld, what: String) {
    let fault = if what.contains("truncated") {
        FrameFault::Truncate { keep: 300 }
    } else {
        FrameFault::BadIntegrity
    };
    let bytes = w
        .next_telegram(Some(fault))
        .await
        .expect("the meter is not sending");
    w.send(&bytes).await;
}

#[when(regex = r"^the meter sends (\d+) bytes of line noise$")]
async fn noise(w: &mut DeviceWorld, n: usize) {
    let seed = w.seed;
    let bytes: Vec<u8> = (0..n)
        .map(|i| b"#%&*~?=+"[(seed as usize + i * 7) % 8])
        .collect();
    w.send(&bytes).await;
}

#[when(regex = r"^the meter stops sending$")]
fn stops(w: &mut DeviceWorld) {
    w.line.as_mut().expect("no meter connected").sending = false;
}

#[when(regex = r"^every telegram from now on has a bad CRC$")]
fn every_bad(w: &mut DeviceWorld) {
    w.line.as_mut().expect("no meter connected").every = Some(FrameFault::BadIntegrity);
}
