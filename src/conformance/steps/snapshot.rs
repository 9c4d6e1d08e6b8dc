//! MB-08, one read never mixes two telegrams, checked the way a torn update can be seen: a
//! charger reads the whole map without pause while a telegram whose every value differs
//! from the previous one is applied; each read must be wholly the old telegram or wholly the
//! new one. The reads run on the harness's own Modbus connection (the device serves one
//! client), in a task of their own, so they go on while the telegram is put on the line.

use super::registers::hex_bytes;
use super::world::DeviceWorld;
use crate::adapters::modbus_client::{describe, exception_text};
use crate::conformance::decode::float_cd_ab_at;
use crate::protocol::Reading;
use crate::sim::generator::{FixedValues, Load};
use cucumber::{then, when};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The registers read: 0x8006 .. 0x8023 (voltages, currents, total and phase powers).
const FIRST: u16 = 0x8006;

/// Reads that must show the new telegram in a row before the hammering stops.
const SETTLED_READS: usize = 5;

/// Where each value sits and what it is called.
const VALUES: [(u16, &str); 10] = [
    (0x8006, "voltage L1"),
    (0x8008, "voltage L2"),
    (0x800A, "voltage L3"),
    (0x800E, "current L1"),
    (0x8010, "current L2"),
    (0x8012, "current L3"),
    (0x8016, "total active power"),
    (0x801E, "active power L1"),
    (0x8020, "active power L2"),
    (0x8022, "active power L3"),
];

/// What the reads saw, kept in the world for the Then-steps.
#[derive(Debug, Default, Clone)]
pub struct Hammer {
    pub reads: Vec<Vec<u16>>,
    pub old: [f64; 10],
    pub new: [f64; 10],
}

fn values(r: &Reading) -> [f64; 10] {
    let v = |x: Option<f32>| f64::from(x.unwrap_or(0.0));
    [
        v(r.voltage_v[0]),
        v(r.voltage_v[1]),
        v(r.voltage_v[2]),
        v(r.current_a[0]),
        v(r.current_a[1]),
        v(r.current_a[2]),
        v(r.active_power_w),
        v(r.active_power_phase_w[0]),
        v(r.active_power_phase_w[1]),
        v(r.active_power_phase_w[2]),
    ]
}

fn decoded(words: &[u16]) -> [f64; 10] {
    VALUES.map(|(addr, _)| {
        let i = usize::from(addr - FIRST);
        // A short read decodes as NaN: it matches neither telegram, so it counts as mixed.
        f64::from(float_cd_ab_at(words, i).unwrap_or(f32::NAN))
    })
}

/// Which telegram one read shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    Old,
    New,
    Mixed,
}

fn classify(h: &Hammer, words: &[u16]) -> Shows {
    let got = decoded(words);
    let is = |want: &[f64; 10]| (0..10).all(|i| (got[i] - want[i]).abs() < 0.05);
    if is(&h.new) {
        Shows::New
    } else if is(&h.old) {
        Shows::Old
    } else {
        Shows::Mixed
    }
}

/// Every value of `f` moved, so each register tells which telegram it came from.
fn every_value_changed(f: &FixedValues) -> FixedValues {
    let shift = |x: Option<f64>, by: f64| x.map(|v| v + by);
    FixedValues {
        voltage_v: f.voltage_v.map(|v| shift(v, 2.3)),
        current_a: f.current_a.map(|v| shift(v, 3.0)),
        power_w: [
            shift(f.power_w[0], 690.0),
            shift(f.power_w[1], 920.0),
            shift(f.power_w[2], 1150.0),
        ],
    }
}

#[when(
    regex = r"^the meter's next telegram changes every value while a charger reads 30 registers at 0x8006 without pause$"
)]
async fn hammer(w: &mut DeviceWorld) {
    let old = w
        .last_reading
        .clone()
        .expect("no telegram was sent yet: let the meter send first");
    let line = w.line.as_mut().expect("no meter connected");
    let Load::Fixed(f) = line.meter.load().clone() else {
        panic!("this step needs a meter with fixed values ('… reporting' or '… drawing')");
    };
    line.meter.set_load(Load::Fixed(every_value_changed(&f)));
    let bytes = w
        .next_telegram(None)
        .await
        .expect("the meter is not sending");
    let new = w.last_reading.clone().expect("a clean telegram");
    let (old, new) = (values(&old), values(&new));
    for (i, (_, name)) in VALUES.iter().enumerate() {
        assert!(
            (old[i] - new[i]).abs() >= 0.05,
            "the harness could not change {name}: the check needs every value to differ"
        );
    }

    // The charger's reads go on in a task of their own on the harness's connection.
    let fresh = w.target().modbus().fresh();
    let mut client = std::mem::replace(w.target().modbus(), fresh);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u16>, String>>();
    let reader = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            while !stop.load(Ordering::Relaxed) {
                let r = match client.read(3, 1, FIRST, 30).await {
                    Ok(Ok(words)) => Ok(words),
                    Ok(Err(code)) => Err(format!(
                        "Modbus read ({}) was answered with {}",
                        describe(3, 1, FIRST, 30),
                        exception_text(code)
                    )),
                    Err(e) => Err(e.to_string()),
                };
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    break;
                }
            }
            client
        }
    });
    let mut h = Hammer {
        reads: Vec::new(),
        old,
        new,
    };
    let mut error = None;
    // A few reads of the old telegram first, so the change happens under the reads.
    while h.reads.len() < 3 && error.is_none() {
        match rx.recv().await {
            Some(Ok(words)) => h.reads.push(words),
            Some(Err(e)) => error = Some(e),
            None => break,
        }
    }
    // Nothing may panic until the client is back in the target: a send that fails (a bench
    // fault) is kept and raised after.
    let mut send_failed = None;
    if error.is_none() {
        let sent_at = Instant::now();
        w.sent.extend_from_slice(&bytes);
        w.last_sent_damaged = false;
        if let Err(e) = w.target().send_meter_bytes(&bytes).await {
            send_failed = Some(e);
        }
        w.last_sent = Some(sent_at);
    }
    if error.is_none() && send_failed.is_none() {
        // Hammer on until the new telegram has shown a few times in a row, or the latency
        // the target allows (at least a second of real time) has passed.
        let allowed = Duration::from_millis(w.target().max_latency_ms().max(1_000) as u64);
        let end = w.last_sent.unwrap_or_else(Instant::now) + allowed;
        let mut in_a_row = 0;
        while in_a_row < SETTLED_READS {
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(Ok(words))) => {
                    in_a_row = if classify(&h, &words) == Shows::New {
                        in_a_row + 1
                    } else {
                        0
                    };
                    h.reads.push(words);
                }
                Ok(Some(Err(e))) => {
                    error = Some(e);
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let client = match reader.await {
        Ok(client) => client,
        Err(e) => panic!("the reading task ended abnormally: {e}"),
    };
    *w.target().modbus() = client;
    if let Some(e) = send_failed {
        panic!("putting bytes on the meter line: {e}");
    }
    if let Some(e) = error {
        panic!("while reading without pause: {e}");
    }
    w.hammer = Some(h);
}

fn hammered(w: &DeviceWorld) -> &Hammer {
    w.hammer
        .as_ref()
        .expect("no reads: 'When the meter's next telegram changes every value while …'")
}

/// Which values of a mixed read came from which telegram.
fn explain(h: &Hammer, words: &[u16]) -> String {
    let got = decoded(words);
    VALUES
        .iter()
        .enumerate()
        .map(|(i, (addr, name))| {
            let from = if (got[i] - h.new[i]).abs() < 0.05 {
                "new"
            } else if (got[i] - h.old[i]).abs() < 0.05 {
                "old"
            } else {
                "neither"
            };
            format!("0x{addr:04X} {name} = {} ({from})", got[i] as f32)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[then(regex = r"^every read showed wholly the previous telegram or wholly the new one$")]
async fn never_mixed(w: &mut DeviceWorld) {
    let h = hammered(w);
    let mixed: Vec<usize> = (0..h.reads.len())
        .filter(|&i| classify(h, &h.reads[i]) == Shows::Mixed)
        .collect();
    if let Some(&first) = mixed.first() {
        let words = &h.reads[first];
        panic!(
            "{} of {} reads of 30 registers at 0x8006 mixed two telegrams; read #{} showed: {} \
             (registers {}). MB-08 wants every multi-register read from one telegram: update \
             the map as one snapshot, not value by value",
            mixed.len(),
            h.reads.len(),
            first + 1,
            explain(h, words),
            hex_bytes(words)
        );
    }
}

#[then(regex = r"^the reads ended on the new telegram$")]
async fn ended_new(w: &mut DeviceWorld) {
    let h = hammered(w);
    let last = h.reads.last().expect("no reads");
    assert!(
        classify(h, last) == Shows::New,
        "after {} reads the registers still do not show the new telegram: {}",
        h.reads.len(),
        explain(h, last)
    );
}
