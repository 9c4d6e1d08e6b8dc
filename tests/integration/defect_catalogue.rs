//! The defect catalogue proves the suite bites: for every planted firmware bug
//! (`run --defect NAME`), start the simulator with it as a separate process and run the
//! scenarios of the defect's area against it through the `Remote` target, exactly as a real
//! device would be judged. Each run must fail, and a failing scenario must carry one of the
//! requirement IDs the defect breaks. Prints the kill table (also written to
//! `target/conformance/defects.md`) and the kill ratio; the target is 100 %.
//!
//! Slow (one simulator process and one suite run per defect, a few minutes on 2 cores), so
//! it is ignored by `cargo test`; CI runs it with
//! `cargo test --features defects --test integration defect_catalogue -- --ignored`. Needs
//! the `defects` feature (the simulator binary must know `--defect`).

use crate::common;

use smart_connect_sim::conformance::coverage::parse_results;
use smart_connect_sim::defects::Defect;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What one defect's run found.
struct Verdict {
    defect: Defect,
    killed: bool,
    /// Failed scenarios and their requirement tags.
    failed: Vec<String>,
    note: String,
}

fn meter_for(d: Defect) -> &'static str {
    if d.requirements().iter().any(|r| r.starts_with("TIC-")) || d.area() == "@tic" {
        "tic-standard"
    } else {
        "smr5"
    }
}

fn judge(d: Defect, dir: &Path) -> Verdict {
    let device = common::start(dir, meter_for(d), &["--defect", d.name()]);
    let target = device.rig_target(dir, &format!("defect {}", d.name()));
    let results = dir.join("results.jsonl");
    let out = common::conformance(&target, d.area(), &results)
        .output()
        .expect("run the suite");
    drop(device);
    let text = std::fs::read_to_string(&results).unwrap_or_default();
    let runs = parse_results(&text).unwrap_or_default();
    let failed: Vec<_> = runs.iter().filter(|r| r.status == "failed").collect();
    let hits = failed.iter().any(|r| {
        r.tags
            .iter()
            .any(|t| d.requirements().contains(&t.trim_start_matches('@')))
    });
    let note = match out.status.code() {
        Some(1) if hits => "failed, naming the broken requirement".to_string(),
        Some(1) => "failed, but no failing scenario carries the defect's requirement".into(),
        Some(0) => "NOT CAUGHT: the suite passed".into(),
        other => format!(
            "the suite did not run ({other:?}): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
    };
    Verdict {
        defect: d,
        killed: out.status.code() == Some(1) && hits,
        failed: failed
            .iter()
            .map(|r| {
                let ids: Vec<&str> = r
                    .tags
                    .iter()
                    .map(|t| t.trim_start_matches('@'))
                    .filter(|t| {
                        t.contains('-') && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    })
                    .collect();
                format!("{} [{}]", r.scenario, ids.join(" "))
            })
            .collect(),
        note,
    }
}

#[test]
#[ignore = "slow: a simulator process and a suite run per defect; CI runs it with --ignored"]
fn every_planted_defect_makes_its_area_fail_naming_the_requirement() {
    let work = root().join("target/conformance/defects");
    let _ = std::fs::remove_dir_all(&work);
    let queue = Mutex::new(Defect::ALL.to_vec());
    let verdicts = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(d) = queue.lock().unwrap().pop() else {
                    return;
                };
                let v = judge(d, &work.join(d.name()));
                eprintln!("{:<40} {}", d.name(), v.note);
                verdicts.lock().unwrap().push(v);
            });
        }
    });
    let mut verdicts = verdicts.into_inner().unwrap();
    verdicts.sort_by_key(|v| v.defect);
    let killed = verdicts.iter().filter(|v| v.killed).count();
    let mut table = format!(
        "# Defect catalogue: kill ratio {killed}/{} ({:.0} %)\n\n| defect | area | breaks | caught | failing scenarios |\n|---|---|---|---|---|\n",
        verdicts.len(),
        100.0 * killed as f64 / verdicts.len().max(1) as f64
    );
    for v in &verdicts {
        table += &format!(
            "| `{}` — {} | {} | {} | {} | {} |\n",
            v.defect.name(),
            v.defect.describe(),
            v.defect.area(),
            v.defect.requirements().join(", "),
            if v.killed { "yes" } else { "**NO**" },
            if v.killed {
                v.failed.join("<br>")
            } else {
                v.note.clone()
            }
        );
    }
    let report: PathBuf = root().join("target/conformance/defects.md");
    std::fs::write(&report, &table).expect("write the kill table");
    println!("{table}");
    assert!(
        Defect::ALL.len() >= 25,
        "the catalogue needs at least 25 defects"
    );
    let missed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.killed)
        .map(|v| v.defect.name())
        .collect();
    assert!(
        missed.is_empty(),
        "defects the suite did not catch: {missed:?} (see {})",
        report.display()
    );
}
