//! Hand-made negative fixtures (`fixtures/negative/`) and the refused real captures fail with
//! the right error kind, offset and line — never a panic, never a silent success.

use smart_connect_sim::protocol::framer::{decode_all, FramerMode};
use smart_connect_sim::protocol::{ErrorKind, ParseOptions};
use std::path::Path;

/// (ok telegrams, error kinds) of one fixture file.
fn outcome(rel: &str) -> (usize, Vec<ErrorKind>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let decoded = decode_all(&bytes, FramerMode::Auto, ParseOptions::default());
    let ok = decoded.iter().filter(|d| d.is_ok()).count();
    (
        ok,
        decoded
            .into_iter()
            .filter_map(|d| d.err().map(|e| e.kind))
            .collect(),
    )
}

#[test]
fn bad_crc_is_rejected() {
    assert_eq!(
        outcome("negative/dsmr-bad-crc.txt"),
        (0, vec![ErrorKind::BadCrc])
    );
    assert_eq!(
        outcome("negative/dsmr-bitflip-in-value.txt"),
        (0, vec![ErrorKind::BadCrc])
    );
    assert_eq!(
        outcome("dsmr/spec-dsmr502-example-badcrc.txt"),
        (0, vec![ErrorKind::BadCrc])
    );
}

#[test]
fn truncated_telegram_is_reported_at_its_end() {
    assert_eq!(
        outcome("negative/dsmr-truncated.txt"),
        (0, vec![ErrorKind::Truncated])
    );
}

#[test]
fn garbage_prefix_is_skipped_and_reported() {
    assert_eq!(
        outcome("negative/dsmr-garbage-prefix.txt"),
        (1, vec![ErrorKind::Garbage])
    );
}

#[test]
fn dsmr_older_than_4_2_is_incompatible() {
    for f in [
        "dsmr/nb-dsmr22-iskra-mt382-1003.txt",
        "dsmr/nb-dsmr22-kamstrup-no-blank-line.txt",
        "dsmr/nb-dsmr22-kamstrup-zabf.txt",
        "dsmr/nb-dsmr3-landisgyr-xmx.txt",
        "dsmr/ndokter-v22-iskra-mt382.txt",
        "dsmr/ndokter-v30-iskra-mt382-spec.txt",
    ] {
        assert_eq!(outcome(f), (0, vec![ErrorKind::Incompatible]), "{f}");
    }
}

#[test]
fn tic_group_with_wrong_checksum_rejects_the_frame() {
    assert_eq!(
        outcome("negative/tic-bad-group-checksum.txt"),
        (0, vec![ErrorKind::BadChecksum])
    );
    let (ok, errs) = outcome("negative/tic-merged-groups.txt");
    assert_eq!(ok, 0);
    assert!(
        matches!(errs[..], [ErrorKind::BadChecksum | ErrorKind::Malformed]),
        "{errs:?}"
    );
}

#[test]
fn eot_interrupts_and_the_frame_restarts() {
    assert_eq!(
        outcome("negative/tic-eot-interrupted.txt"),
        (1, vec![ErrorKind::Truncated])
    );
}

#[test]
fn real_line_noise_rejects_only_the_damaged_frames() {
    let (ok, errs) = outcome("tic/standard-tri-stream-rx-errors.txt");
    assert!(ok >= 2, "{ok}");
    let damaged = errs
        .iter()
        .filter(|k| matches!(k, ErrorKind::BadChecksum | ErrorKind::Malformed))
        .count();
    assert!(damaged >= 2, "{errs:?}");
}
