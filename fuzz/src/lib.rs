//! Bodies of the fuzz targets (`device_handle` in `device.rs`, its meter bytes in
//! `telegrams.rs`). The libFuzzer binaries in `fuzz_targets/` call them, and
//! `tests/smoke.rs` runs them over every file in `../fixtures` on the stable toolchain.
//!
//! Each body panics (= a crash for libFuzzer) when an invariant breaks; parse errors on
//! arbitrary input are expected and fine.

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use smart_connect_sim::protocol::dsmr::{self, DsmrKind};
use smart_connect_sim::protocol::framer::{Event, Frame, FrameKind, Framer, FramerMode, MAX_FRAME};
use smart_connect_sim::protocol::{tic, ParseError, ParseOptions, Protocol, Reading};

mod device;
mod telegrams;

pub use device::device_handle;
pub use telegrams::resign_dsmr;

const KEEP_RAW: ParseOptions = ParseOptions { keep_raw: true };

/// An error must point inside the input it was found in (or just past its end).
fn check_error(e: &ParseError, len: usize) {
    assert!(
        e.offset <= len,
        "error offset {} past the input ({len} bytes): {e}",
        e.offset
    );
    assert!(e.line >= 1, "line numbers are 1-based: {e}");
}

/// `dsmr::parse` on arbitrary bytes: no panic; with and without `keep_raw` the reading is the
/// same; an accepted telegram starts with `/` and names its header.
pub fn dsmr_parse(data: &[u8]) {
    let plain = dsmr::parse(data);
    let raw = dsmr::parse_with(data, KEEP_RAW);
    match (&plain, &raw) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.reading, b.reading);
            assert_eq!(a.quirks, b.quirks);
            assert_eq!(data.first().map(|b| b & 0x7F), Some(b'/'));
            assert!(a.header.is_some());
            assert_eq!(a.reading.protocol, Protocol::Dsmr);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            check_error(a, data.len());
        }
        _ => panic!("keep_raw changed the outcome: {plain:?} vs {raw:?}"),
    }
}

/// `tic::parse` on arbitrary bytes: no panic; `keep_raw` does not change the outcome.
pub fn tic_parse(data: &[u8]) {
    let plain = tic::parse(data);
    let raw = tic::parse_with(data, KEEP_RAW);
    match (&plain, &raw) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.reading, b.reading);
            assert_eq!(a.quirks, b.quirks);
            assert_ne!(a.reading.protocol, Protocol::Dsmr);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            check_error(a, data.len());
        }
        _ => panic!("keep_raw changed the outcome: {plain:?} vs {raw:?}"),
    }
}

/// Marks the start of the split trailer in a `framer` input (see [`split_input`]).
pub const SPLIT_MAGIC: &[u8; 4] = b"\xffCUT";

/// A `framer` input is `stream [SPLIT_MAGIC sizes…]`: each byte after the last `SPLIT_MAGIC`
/// is the length of one read (0 = an empty read), cycled until the stream is used up. Without
/// the trailer (e.g. a raw capture from `../fixtures` as seed) the read lengths (0..=96) come
/// from a PRNG seeded with a hash of the input, so every mutation also moves the splits;
/// libFuzzer's comparison tracing finds the magic and then steers the splits directly.
pub fn split_input(data: &[u8]) -> (&[u8], Vec<usize>) {
    if let Some(at) = data.windows(4).rposition(|w| w == SPLIT_MAGIC) {
        let sizes: Vec<usize> = data[at + 4..].iter().map(|&b| usize::from(b)).collect();
        if sizes.iter().any(|&s| s > 0) {
            return (&data[..at], sizes);
        }
        return (&data[..at], vec![0, usize::MAX]);
    }
    // FNV-1a → xorshift64.
    let mut x = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    }) | 1;
    let mut sizes = Vec::with_capacity(64);
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes.push((x % 97) as usize);
    }
    if sizes.iter().all(|&s| s == 0) {
        sizes.push(1);
    }
    (data, sizes)
}

fn run_framer(stream: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut f = Framer::new(FramerMode::Auto);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        f.push(&rest[..n], &mut out);
        rest = &rest[n..];
        i += 1;
    }
    assert_eq!(f.position(), stream.len());
    f.finish(&mut out);
    out
}

/// The framer on arbitrary bytes split at fuzzer-chosen points, in `Auto` mode:
/// - every frame is at most `MAX_FRAME` bytes, is the stream's bytes at its offset (bit 7
///   cleared), starts with its kind's start byte, and parses without panicking (errors
///   pointing inside the stream);
/// - the events are those of the same stream pushed in one read (split invariance), except
///   for `parity_stripped`, which the framer decides per read (a known approximation).
///   Set `FUZZ_FRAMER_SPLIT_CHECK=0` to skip this check (e.g. while a known split bug is open,
///   to keep fuzzing for the other invariants).
pub fn framer(data: &[u8]) {
    let (stream, sizes) = split_input(data);
    let split = run_framer(stream, &sizes);
    let mut last_end = 0;
    for ev in &split {
        match ev {
            Event::Frame(f) => {
                check_frame(f, stream);
                assert!(f.offset >= last_end, "frames overlap or go backwards");
                last_end = f.offset + f.bytes().len();
                match f.parse(ParseOptions::default()) {
                    Ok(t) => assert_eq!(
                        t.reading.protocol == Protocol::Dsmr,
                        f.kind == FrameKind::Dsmr
                    ),
                    Err(e) => check_error(&e, stream.len()),
                }
            }
            Event::Error(e) => check_error(e, stream.len()),
        }
    }
    if !split_check_enabled() {
        return;
    }
    let whole = run_framer(stream, &[usize::MAX]);
    let (split, whole) = (without_parity_flag(split), without_parity_flag(whole));
    if split != whole {
        let i = split.iter().zip(&whole).take_while(|(a, b)| a == b).count();
        panic!(
            "read boundaries changed the framer's output at event {i}:\n  split: {:?}\n  whole: {:?}\n  \
             previous: {:?}\n  read lengths (cycled): {sizes:?}",
            split.get(i).map(brief),
            whole.get(i).map(brief),
            i.checked_sub(1).map(|p| brief(&whole[p])),
        );
    }
}

fn split_check_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("FUZZ_FRAMER_SPLIT_CHECK").map_or(true, |v| v != "0"))
}

/// An event without the frame's bytes (for messages).
fn brief(ev: &Event) -> String {
    match ev {
        Event::Frame(f) => format!(
            "Frame {:?} at {} ({} bytes, ends {:?})",
            f.kind,
            f.offset,
            f.bytes().len(),
            String::from_utf8_lossy(&f.bytes()[f.bytes().len().saturating_sub(8)..])
        ),
        Event::Error(e) => format!("Error {e}"),
    }
}

fn check_frame(f: &Frame, stream: &[u8]) {
    assert!(
        f.bytes().len() <= MAX_FRAME,
        "frame of {} bytes",
        f.bytes().len()
    );
    assert!(!f.bytes().is_empty());
    let src = &stream[f.offset..f.offset + f.bytes().len()];
    assert!(
        src.iter().zip(f.bytes()).all(|(&s, &b)| s & 0x7F == b),
        "frame bytes differ from the stream at offset {}",
        f.offset
    );
    let start = match f.kind {
        FrameKind::Dsmr => b'/',
        FrameKind::Tic => 0x02,
    };
    assert_eq!(f.bytes()[0], start);
}

fn without_parity_flag(mut events: Vec<Event>) -> Vec<Event> {
    for ev in &mut events {
        if let Event::Frame(f) = ev {
            f.parity_stripped = false;
        }
    }
    events
}

/// encode → parse is the identity for every meter kind on values at wire resolution (the
/// domain of `tests/integration/dsmr_props.rs`), with the values drawn from the fuzzer's bytes.
pub fn dsmr_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((kind, r)) = reading(&mut u) else {
        return;
    };
    let bytes = dsmr::encode(&r, kind);
    let t = dsmr::parse(&bytes).unwrap_or_else(|e| {
        panic!("{e}\n{}", String::from_utf8_lossy(&bytes));
    });
    assert_eq!(t.reading, r, "{}", String::from_utf8_lossy(&bytes));
    // And through the framer, as the device reads it.
    let events = smart_connect_sim::protocol::framer::frame_all(&bytes, FramerMode::P1);
    assert!(matches!(&events[..], [Event::Frame(f)] if f.bytes() == bytes));
}

fn opt<T>(
    u: &mut Unstructured<'_>,
    f: impl FnOnce(&mut Unstructured<'_>) -> ArbResult<T>,
) -> ArbResult<Option<T>> {
    Ok(if u.arbitrary::<bool>()? {
        Some(f(u)?)
    } else {
        None
    })
}

/// A DSMR reading at wire resolution for a fuzzer-chosen kind (also the generator of the
/// `device_handle` target's telegrams).
pub(crate) fn reading(u: &mut Unstructured<'_>) -> ArbResult<(DsmrKind, Reading)> {
    let kind = *u.choose(&DsmrKind::ALL)?;
    let mut r = Reading::empty(Protocol::Dsmr);
    r.timestamp = opt(u, |u| u.int_in_range(978_307_200i64..=3_999_999_999))?;
    let id_len = u.int_in_range(1usize..=20)?;
    const ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut id = String::with_capacity(id_len);
    for _ in 0..id_len {
        id.push(char::from(*u.choose(ID)?));
    }
    r.meter_id = Some(id);
    r.version = Some(
        match kind {
            DsmrKind::Dsmr42 => "4.2",
            DsmrKind::Emucs => "e-MUCS 50217",
            _ => "5.0",
        }
        .into(),
    );
    for p in 0..kind.phases() {
        let volts = opt(u, |u| u.int_in_range(1800u32..=2599))?;
        if kind.has_voltage() {
            r.voltage_v[p] = volts.map(|v| (f64::from(v) / 10.0) as f32);
        }
        let amps = opt(u, |u| u.int_in_range(0u32..=7999))?;
        r.current_a[p] = amps.map(|a| {
            if kind.current_decimals() == 2 {
                (f64::from(a) / 100.0) as f32
            } else {
                (a / 100) as f32
            }
        });
        r.active_power_phase_w[p] =
            opt(u, |u| u.int_in_range(-20_000i32..=19_999))?.map(|w| w as f32);
    }
    let imp = u.int_in_range(0u32..=59_999)?;
    let exp = u.int_in_range(0u32..=59_999)?;
    r.power_import_w = Some(imp as f32);
    r.power_export_w = Some(exp as f32);
    r.active_power_w = Some(imp as f32 - exp as f32);
    r.energy.import_t1_kwh =
        opt(u, |u| u.int_in_range(0u64..=99_999_998))?.map(|v| v as f64 / 1000.0);
    r.energy.gas_m3 = opt(u, |u| u.int_in_range(0u64..=99_999_998))?.map(|v| v as f64 / 1000.0);
    Ok((kind, r))
}
