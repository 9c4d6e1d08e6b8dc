//! The Gherkin conformance suite under `cargo test`: runs `features/*.feature` against the
//! target chosen by `SC_TARGET` (`virtual`, the default; `memory`, the same device on in-memory
//! pipes; or a target file) — the same runner
//! as `smart-connect-sim conformance`. `SC_TAGS` or `-- --tags EXPR` narrow the run;
//! `SC_DEFECT=name,…` plants defects in the virtual device (to see the suite catch them;
//! needs `--features defects`).
//! Fails on undefined, failed or skipped-without-reason steps; results go to
//! `target/conformance/results.jsonl` for `coverage`.

use smart_connect_sim::conformance::suite::{self, SuiteOptions};
use smart_connect_sim::dut::TargetSpec;
use std::path::Path;

fn options() -> Result<SuiteOptions, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut target = TargetSpec::parse(&std::env::var("SC_TARGET").unwrap_or("virtual".into()))
        .map_err(|e| e.to_string())?;
    if let Ok(names) = std::env::var("SC_DEFECT") {
        plant(&mut target, &names)?;
    }
    let args: Vec<String> = std::env::args().collect();
    let tags = args
        .iter()
        .position(|a| a == "--tags")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("SC_TAGS").ok());
    Ok(SuiteOptions {
        target,
        features: root.join("features"),
        tags,
        results: std::env::var_os("SC_RESULTS")
            .map(Into::into)
            .unwrap_or_else(|| root.join("target/conformance/results.jsonl")),
        concurrency: 8,
        only: None,
    })
}

/// `SC_DEFECT`: plant the defects `names` in the virtual target.
#[cfg(feature = "defects")]
fn plant(target: &mut TargetSpec, names: &str) -> Result<(), String> {
    let TargetSpec::Virtual { defects, .. } = target else {
        return Err("SC_DEFECT plants defects in the virtual target only".into());
    };
    let more =
        smart_connect_sim::defects::parse_list(names).map_err(|e| format!("SC_DEFECT: {e}"))?;
    defects.extend(more);
    Ok(())
}

/// `SC_DEFECT` without the `defects` feature: nothing can be planted.
#[cfg(not(feature = "defects"))]
fn plant(_: &mut TargetSpec, names: &str) -> Result<(), String> {
    Err(format!(
        "SC_DEFECT={names}: this test binary was built without the `defects` feature \
         (run `cargo test --features defects --test conformance`)"
    ))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let outcome = match options() {
        Ok(o) => suite::run(o).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(o) if o.ok() => std::process::ExitCode::SUCCESS,
        Ok(o) => {
            eprintln!(
                "conformance: {} passed, {} failed, {} blocked, {} skipped{}",
                o.passed,
                o.failed,
                o.blocked,
                o.skipped,
                if o.broken {
                    ", the suite itself is broken (parse or hook errors)"
                } else {
                    ""
                }
            );
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("conformance: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
