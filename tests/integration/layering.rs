//! The layers stay apart: the device core (`src/device`) is pure, so it names neither the
//! simulation (`sim`: clocks, meters, scenarios), the adapters, the targets nor the
//! conformance suite, touches no file system (the configuration file is
//! `adapters::file_store`), and reads time only as `crate::time` types. The check reads the
//! source, so a violation names the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `src/<dir>` that mention any of `forbidden`, as `file:line: text`.
fn offending(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src").join(dir), &mut files);
    assert!(files.len() > 10, "no sources found under src/{dir}");
    files.sort();
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if forbidden.iter().any(|w| line.contains(w)) {
                let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_device_core_depends_on_no_outer_layer() {
    let found = offending(
        "device",
        &[
            "crate::sim",
            "crate::adapters",
            "crate::dut",
            "crate::conformance",
            "crate::cli",
            "tokio::",
        ],
    );
    assert!(
        found.is_empty(),
        "the device core must stay pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_protocols_depend_on_nothing_but_themselves_and_time() {
    let found = offending(
        "protocol",
        &[
            "crate::sim",
            "crate::device",
            "crate::adapters",
            "crate::dut",
            "crate::conformance",
            "tokio::",
        ],
    );
    assert!(
        found.is_empty(),
        "the protocols must stay pure:\n{}",
        found.join("\n")
    );
}
