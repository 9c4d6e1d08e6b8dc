//! The in-memory target (`--target memory`) under the README's test command: the whole suite
//! passes on the virtual device whose interfaces meet the suite on in-memory pipes, and every
//! planted defect still fails a scenario of its area there (the wire changes no verdict). That the run
//! opens no socket is checked under strace by `tests/external/memory_target.sh` in `.ci/run`.

use crate::common;
use smart_connect_sim::defects::Defect;
use std::path::Path;

fn results(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the results file is written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a results line is JSON"))
        .collect()
}

#[test]
fn the_whole_suite_passes_on_in_memory_pipes() {
    let dir = common::work("memory-target");
    let file = dir.join("results.jsonl");
    let out = std::process::Command::new(common::BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "conformance",
            "--target",
            "memory",
            "--seed",
            "42",
            "--results",
        ])
        .arg(&file)
        .output()
        .expect("run the suite");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the memory run failed:\n{stderr}");
    assert!(
        stderr.contains("in-memory pipes: no sockets"),
        "the run names its wire:\n{stderr}"
    );
    let rows = results(&file);
    assert!(rows.len() >= 170, "only {} scenarios ran", rows.len());
    let not_passed: Vec<_> = rows.iter().filter(|r| r["status"] != "passed").collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
}

/// Every defect of the catalogue, planted in the in-memory device, fails a scenario of its
/// area (the catalogue's kill check, `defect_catalogue`, does the same through a separate
/// process and its rig; here each run takes about a second).
#[test]
fn every_planted_defect_fails_its_area_on_in_memory_pipes() {
    let dir = common::work("memory-target-defects");
    let mut survivors = Vec::new();
    for d in Defect::ALL {
        let file = dir.join(format!("{}.jsonl", d.name()));
        let out = common::conformance(Path::new("memory"), d.area(), &file)
            .args(["--seed", "42", "--defect", d.name()])
            .output()
            .expect("run the suite");
        let failed =
            out.status.code() == Some(1) && results(&file).iter().any(|r| r["status"] == "failed");
        if !failed {
            survivors.push(format!(
                "{} ({}): exit {:?}\n{}",
                d.name(),
                d.area(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        survivors.is_empty(),
        "{} of {} planted defects passed on the memory target:\n{}",
        survivors.len(),
        Defect::ALL.len(),
        survivors.join("\n")
    );
}
