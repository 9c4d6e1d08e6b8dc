//! A faulty meter's telegram stream written with the encoding spread over threads, byte for
//! byte what one thread writes (`generate --jobs N`).
//!
//! The meter's state — energy counters, gas, e-MUCS demand — is a running sum over every
//! telegram, so the slots themselves are made in order on one thread ([`Schedule`]); that is
//! the cheap part. Encoding them, the expensive part, runs on `jobs` worker threads a chunk of
//! slots at a time, each with its own encoder (an encoder's caches never change its bytes).
//! The chunks are written back in order on the calling thread, which also applies the byte
//! faults ([`Corrupter`]), so the fault stream's random draws come in the same order as in
//! [`FaultyMeter::next`].

use super::clock::Millis;
use super::faults::{Corrupter, FaultyMeter, Pending, Schedule};
use crate::protocol::MeterKind;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Slots handed to a worker at a time: an hour of SMR 5.0 telegrams (~3 MB of bytes).
pub const CHUNK_SLOTS: usize = 3600;

/// Slots and their clean telegrams, `bytes[ends[i-1]..ends[i]]` for slot `i`.
struct Chunk {
    index: u64,
    slots: Vec<Pending>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// Write every telegram of `meter` sent before `end` to `out`, encoding on `jobs` threads
/// (at least one) `chunk_slots` slots at a time; `progress` hears the meter time and the slot
/// count after each chunk. Returns how many slots were produced — the bytes, the count and
/// the meter's state afterwards are those of [`FaultyMeter::next`] called in a loop.
pub fn write_parallel(
    meter: &mut FaultyMeter,
    end: Millis,
    out: &mut (impl Write + ?Sized),
    jobs: usize,
    chunk_slots: usize,
    progress: &mut dyn FnMut(Millis, usize),
) -> io::Result<usize> {
    let kind = meter.kind();
    let (schedule, corrupter) = meter.parts_mut();
    let jobs = jobs.max(1);
    let chunk_slots = chunk_slots.max(1);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<Chunk>(jobs);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<Chunk>(jobs.saturating_mul(2));
        s.spawn(move || produce(schedule, end, chunk_slots, &work_tx));
        for _ in 0..jobs {
            let (rx, tx) = (Arc::clone(&work_rx), done_tx.clone());
            s.spawn(move || encode(kind, &rx, &tx));
        }
        drop(done_tx);
        // Returning (also on an error) drops `done_rx`: the workers' sends fail, they stop,
        // the producer's sends fail, it stops, and the scope joins them all.
        write_in_order(done_rx, corrupter, out, progress)
    })
}

/// Make the slots in order and hand them out a chunk at a time.
fn produce(schedule: &mut Schedule, end: Millis, chunk_slots: usize, tx: &SyncSender<Chunk>) {
    for index in 0.. {
        let mut slots = Vec::with_capacity(chunk_slots);
        while slots.len() < chunk_slots && schedule.next_at() < end {
            slots.push(schedule.next_pending());
        }
        if slots.is_empty() {
            return;
        }
        let chunk = Chunk {
            index,
            slots,
            bytes: Vec::new(),
            ends: Vec::new(),
        };
        if tx.send(chunk).is_err() {
            return;
        }
    }
}

/// Encode chunks until there are none left or nobody takes the results.
fn encode(kind: MeterKind, rx: &Mutex<Receiver<Chunk>>, tx: &SyncSender<Chunk>) {
    let mut encoder = kind.encoder();
    loop {
        // The lock is held only to take a chunk; a poisoned lock still hands one out.
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(mut chunk) = next else { return };
        chunk.ends.reserve(chunk.slots.len());
        for p in &chunk.slots {
            if !p.dropped {
                encoder.encode_into(&p.reading, &p.registers, &mut chunk.bytes);
            }
            chunk.ends.push(chunk.bytes.len());
        }
        if tx.send(chunk).is_err() {
            return;
        }
    }
}

/// Write the chunks in their order, applying the byte faults slot by slot.
fn write_in_order(
    rx: Receiver<Chunk>,
    corrupter: &mut Corrupter,
    out: &mut (impl Write + ?Sized),
    progress: &mut dyn FnMut(Millis, usize),
) -> io::Result<usize> {
    let mut waiting = BTreeMap::new();
    let (mut next, mut written) = (0u64, 0usize);
    for chunk in rx {
        waiting.insert(chunk.index, chunk);
        while let Some(chunk) = waiting.remove(&next) {
            let mut start = 0;
            let mut last_at = None;
            for (p, &end) in chunk.slots.into_iter().zip(&chunk.ends) {
                let clean = chunk.bytes.get(start..end).unwrap_or_default();
                start = end;
                last_at = Some(p.at);
                if p.faults.is_empty() && !p.dropped {
                    out.write_all(clean)?;
                } else {
                    out.write_all(&corrupter.finish(p, clean.to_vec()).bytes)?;
                }
                written = written.saturating_add(1);
            }
            if let Some(at) = last_at {
                progress(at, written);
            }
            next = next.saturating_add(1);
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::generate::write_until;
    use crate::sim::faults::{Fault, FaultKind};
    use crate::sim::generator::default_load;
    use crate::sim::generator::{Load, SyntheticMeter};

    const T0: Millis = 1_774_744_200_000; // 2026-03-29T00:30:00Z, the spring DST night

    /// A meter with every kind of fault, several inside the first chunks.
    fn faulty(kind: &str) -> FaultyMeter {
        let kind = MeterKind::from_name(kind).unwrap();
        let meter = SyntheticMeter::new(kind, Load::Household(default_load()), 5, T0);
        let mut faults = vec![
            (3_000, FaultKind::BadCrc),
            (9_000, FaultKind::Noise { bytes: 4 }),
            (9_000, FaultKind::Garbage { bytes: 9 }),
            (20_000, FaultKind::Truncate),
            (31_000, FaultKind::ClockSkew { seconds: -90 }),
            (
                44_000,
                FaultKind::Dropout {
                    duration_ms: 12_000,
                },
            ),
            (50_000, FaultKind::BadCrc),
            (70_000, FaultKind::Noise { bytes: 1 }),
        ];
        if matches!(kind, MeterKind::Dsmr(_)) {
            faults.push((60_000, FaultKind::Incompatible));
        }
        let faults = faults
            .into_iter()
            .map(|(at_ms, kind)| Fault { at_ms, kind })
            .collect();
        FaultyMeter::new(meter, faults).unwrap()
    }

    fn one_thread(meter: &mut FaultyMeter, end: Millis) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let n = write_until(meter, end, &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn many_threads_write_the_bytes_of_one() {
        for kind in [
            "smr5",
            "dsmr42",
            "emucs",
            "tic-standard-tri",
            "tic-historic",
        ] {
            let end = T0 + 150_000;
            let mut seq = faulty(kind);
            let (want, want_n) = one_thread(&mut seq, end);
            for (jobs, chunk) in [(1, 1), (2, 7), (3, 5), (4, 64)] {
                let mut m = faulty(kind);
                let (mut out, mut seen) = (Vec::new(), Vec::new());
                let n = write_parallel(&mut m, end, &mut out, jobs, chunk, &mut |at, n| {
                    seen.push((at, n))
                })
                .unwrap();
                assert_eq!(n, want_n, "{kind} jobs {jobs}");
                assert!(
                    out == want,
                    "{kind}: {jobs} jobs, chunks of {chunk}: other bytes"
                );
                assert_eq!(
                    m.next(),
                    seq.clone().next(),
                    "{kind}: the meter goes on alike"
                );
                assert_eq!(seen.last().map(|&(_, n)| n), Some(want_n));
                assert!(seen.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
            }
        }
    }

    /// A sink that breaks after `left` bytes.
    struct Breaks {
        left: usize,
    }

    impl Write for Breaks {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if b.len() > self.left {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            self.left -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_stops_every_thread_and_is_reported() {
        let mut m = faulty("smr5");
        let mut sink = Breaks { left: 50_000 };
        let r = write_parallel(&mut m, T0 + 86_400_000, &mut sink, 2, 16, &mut |_, _| {});
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::StorageFull);
    }
}
