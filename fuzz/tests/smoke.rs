//! Stable-toolchain smoke test of the fuzz target bodies: every file of `../fixtures` (the
//! seed corpus), a few deterministic mutations of each, and synthetic split trailers, through
//! all five bodies; and `device_handle` on pseudo-random inputs. `cargo test` in `fuzz/`; no libFuzzer, no nightly needed.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    assert!(
        paths.len() > 40,
        "fixtures not found under {}",
        root.display()
    );
    paths
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn all_bodies(name: &str, data: &[u8]) {
    let run = |body: fn(&[u8]), what: &str| {
        if let Err(e) = std::panic::catch_unwind(|| body(data)) {
            panic!("{what} failed on {name}: {e:?}");
        }
    };
    run(fuzz_bodies::dsmr_parse, "dsmr_parse");
    run(fuzz_bodies::tic_parse, "tic_parse");
    run(fuzz_bodies::framer, "framer");
    run(fuzz_bodies::dsmr_roundtrip, "dsmr_roundtrip");
    run(fuzz_bodies::device_handle, "device_handle");
}

#[test]
fn every_fixture_through_every_body() {
    for (name, data) in seeds() {
        all_bodies(&name, &data);
    }
    all_bodies("empty", b"");
}

#[test]
fn fixtures_with_split_trailers() {
    let trailers: [&[u8]; 5] = [
        b"",
        b"\x00",
        b"\x01",
        b"\x00\x07\x40\x01\xff",
        b"\x03\x00\x00",
    ];
    for (name, data) in seeds() {
        for t in trailers {
            let mut input = data.clone();
            input.extend_from_slice(fuzz_bodies::SPLIT_MAGIC);
            input.extend_from_slice(t);
            fuzz_bodies::framer(&input);
            let (stream, _) = fuzz_bodies::split_input(&input);
            assert_eq!(stream, &data[..], "{name}");
        }
    }
}

#[test]
fn all_fixtures_as_one_stream() {
    let stream: Vec<u8> = seeds().into_iter().flat_map(|(_, d)| d).collect();
    fuzz_bodies::framer(&stream);
    let mut with_reads = stream.clone();
    with_reads.extend_from_slice(fuzz_bodies::SPLIT_MAGIC);
    with_reads.extend_from_slice(&[64, 1, 17, 0, 255]);
    fuzz_bodies::framer(&with_reads);
}

#[test]
fn mutated_fixtures() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (name, data) in seeds() {
        if data.is_empty() || data.len() > 8192 {
            continue;
        }
        for _ in 0..24 {
            let mut m = data.clone();
            let at = next() as usize % m.len();
            match next() % 4 {
                0 => m[at] ^= 1 << (next() % 8),
                1 => m.truncate(at),
                2 => m.insert(at, next() as u8),
                _ => {
                    m.remove(at);
                }
            }
            all_bodies(&name, &m);
        }
    }
}

/// Stream + split trailer: the framer body reads it as `stream` pushed in reads of `reads`.
fn with_reads(stream: &[u8], reads: &[u8]) -> Vec<u8> {
    let mut input = stream.to_vec();
    input.extend_from_slice(fuzz_bodies::SPLIT_MAGIC);
    input.extend_from_slice(reads);
    input
}

/// Open finding 1 (found by the `framer` target): the CRC tail window is measured from the
/// LAST `!` in the frame so far (`rposition` in `Framer::in_dsmr_tail`), so a `!` among the
/// ≤ 8 bytes after the end marker restarts the window only if a read boundary fell before it.
/// One read: the 8-byte window fills and the frame is handed over; reads of 3 + 7 bytes: the
/// window restarts at the second `!` and the stream ends `truncated`.
#[test]
fn known_finding_bang_in_crc_tail() {
    fuzz_bodies::framer(&with_reads(b"/!!100\r333", &[3, 7]));
}

/// Open finding 2 (found by the `framer` target): in `Auto` mode, after a frame is dropped as
/// too large, `append` swallows the rest of the current read, so whether a start byte of the
/// OTHER protocol inside the dropped frame's remainder (here a P1 `/` inside an oversized
/// TIC frame, which `in_tic` does not look for) opens a new frame depends on where the read
/// ended. One read: only `too_large`; reads of 4101 + rest: `too_large`, then the telegram.
#[test]
fn known_finding_resync_after_too_large() {
    let mut stream = vec![0x02];
    stream.extend(std::iter::repeat_n(b'A', 4200));
    stream.extend_from_slice(include_bytes!(
        "../../fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt"
    ));
    // 4101 = 16 × 255 + 21: sixteen reads of 255 bytes, one of 21, then reads of 255.
    let mut reads = vec![255u8; 16];
    reads.push(21);
    reads.extend([255u8; 8]);
    let input = with_reads(&stream, &reads);
    fuzz_bodies::framer(&input);
}

/// `device_handle` on 3000 pseudo-random inputs of 0..2048 bytes (each one decodes into a
/// different event sequence; the fuzzer's coverage guidance is what makes them interesting, so
/// this only shows the body runs and its invariants hold on easy inputs).
#[test]
fn device_handle_on_random_inputs() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..3000 {
        let len = (next() % 2048) as usize;
        let input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Err(e) = std::panic::catch_unwind(|| fuzz_bodies::device_handle(&input)) {
            panic!("device_handle failed on random input {i} ({len} bytes): {e:?}");
        }
    }
}

/// The generator re-signs a telegram whose field was replaced: the CRC is right again.
#[test]
fn resigned_telegrams_parse() {
    let t = include_bytes!("../../fixtures/dsmr/nb-dsmr50-iskra-am550t-3ph.txt");
    let text = String::from_utf8_lossy(t).replace("1-3:0.2.8(50)", "1-3:0.2.8(999999999.9)");
    let signed = fuzz_bodies::resign_dsmr(text.into_bytes());
    let parsed = smart_connect_sim::protocol::dsmr::parse(&signed).expect("CRC right");
    assert_eq!(parsed.reading.version.as_deref(), Some("999999999.9"));
}
