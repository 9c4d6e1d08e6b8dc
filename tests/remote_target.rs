//! The `Remote` target end to end, in `cargo test`: the simulator started as a separate
//! process (`run --rig --speed rig --feed tcp:`), judged through a target file exactly as a
//! real device would be; and a bench without a rig or hooks, whose scenarios needing the
//! LED are reported as skipped with the reason instead of run. (CI runs the whole suite this
//! way: `tests/external/remote_conformance.sh`.)

use smart_connect_sim::conformance::coverage::parse_results;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smart-connect-sim");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

struct Device(Child);

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A simulated P1 device with its rig at `rig` and its meter feed connecting to `feed`.
fn start(dir: &Path, rig: u16, feed: u16) -> Device {
    Device(
        Command::new(BIN)
            .args(["run", "--meter", "smr5", "--speed", "rig"])
            .args([
                "--rig",
                &format!("127.0.0.1:{rig}"),
                "--feed",
                &format!("tcp:127.0.0.1:{feed}"),
            ])
            .args([
                "--modbus",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--https",
                "127.0.0.1:0",
            ])
            .args(["--mqtt-tls-port", "0", "--mqtt-plain-port", "0"])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator"),
    )
}

fn conformance(target: &Path, tags: &str, results: &Path) -> std::process::Output {
    Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("conformance")
        .arg("--target")
        .arg(target)
        .args(["--tags", tags])
        .arg("--results")
        .arg(results)
        .output()
        .expect("run the suite")
}

fn work(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/remote-target-test")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_modbus_scenarios_pass_against_a_separate_simulator_process() {
    let dir = work("modbus");
    let (rig, feed) = (free_port(), free_port());
    let _device = start(&dir, rig, feed);
    let target = dir.join("target.yaml");
    std::fs::write(
        &target,
        format!("rig: http://127.0.0.1:{rig}\nfeed: {{listen: 127.0.0.1:{feed}}}\n"),
    )
    .unwrap();
    let results = dir.join("results.jsonl");
    let out = conformance(&target, "@modbus", &results);
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = runs.iter().filter(|r| r.status == "passed").count();
    assert!(
        passed >= 20,
        "only {passed} Modbus scenarios passed: {runs:?}"
    );
    assert!(runs.iter().all(|r| r.status == "passed"), "{runs:?}");
}

#[test]
fn a_bench_without_a_led_hook_reports_the_led_scenarios_as_skipped_with_the_reason() {
    let dir = work("no-led");
    let (rig, feed) = (free_port(), free_port());
    let _device = start(&dir, rig, feed);
    // Describe the device as a lab would a real one: addresses and label, no rig, no hooks.
    let info: serde_json::Value = {
        let url = format!("http://127.0.0.1:{rig}/rig");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                if let Ok(r) = reqwest::get(&url).await {
                    return r.json().await.unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the simulator's rig did not come up at {url}");
        })
    };
    let target = dir.join("bench.yaml");
    std::fs::write(
        &target,
        format!(
            "description: a bench with nothing but a meter line\nvariant: p1\nmodbus: {}\nhttp: {}\nlabel: {{serial: \"{}\", mac: \"{}\", password: \"{}\"}}\nfeed: {{listen: 127.0.0.1:{feed}}}\n",
            info["modbus"].as_str().unwrap(),
            info["http"].as_str().unwrap(),
            info["serial"].as_str().unwrap(),
            info["mac"].as_str().unwrap(),
            info["password"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let results = dir.join("results.jsonl");
    let out = conformance(&target, "@led", &results);
    let runs = parse_results(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(!runs.is_empty());
    for r in &runs {
        assert_eq!(r.status, "skipped", "{r:?}");
        let why = r.reason.as_deref().unwrap_or_default();
        assert!(
            why.starts_with("@needs-") && why.contains(": the target declares no "),
            "{why}"
        );
    }
    assert!(runs.iter().any(|r| r
        .reason
        .as_deref()
        .is_some_and(|w| w.starts_with("@needs-led: the target declares no led"))));
    // Nothing ran: no scenario passed, so the run is not a success.
    assert!(!out.status.success());
}
