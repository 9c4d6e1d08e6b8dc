//! `conformance --interactive`: a bench with no hooks for power, the button or the LED, run by
//! a lab engineer answering on the terminal. Here the "engineer" is this test: it reads each
//! prompt from the suite's stderr, does what it says to a simulator in another process (whose
//! clock a `time` hook drives, so no real time passes), and types the answer — the colour it
//! sees, or Enter.

use std::io::{Read, Write};
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

/// `smart-connect-sim rig --at URL ARGS…`; its stdout.
fn rig(url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["rig", "--at", url])
        .args(args)
        .output()
        .expect("rig");
    assert!(
        out.status.success(),
        "rig {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the engineer does for a prompt; the line they type.
fn answer(url: &str, prompt: &str) -> String {
    if prompt.contains("Which colour is the LED") {
        return match rig(url, &["led"]).as_str() {
            "off" => "f".into(),
            c => c[..1].to_string(),
        };
    }
    if prompt.contains("Factory-reset") {
        rig(url, &["fresh"]);
    } else if let Some(p) = prompt.strip_prefix("Power: ") {
        let usb = if p.contains("USB-C PLUGGED IN") {
            "1"
        } else {
            "0"
        };
        let meter = if p.contains("supply CONNECTED") {
            "1"
        } else {
            "0"
        };
        rig(url, &["power", usb, meter]);
    } else if prompt.contains("KEEP HOLDING") {
        rig(url, &["button", "down"]);
    } else if prompt.contains("Release the button") {
        rig(url, &["button", "up"]);
    } else {
        panic!("the engineer does not know what to do: {prompt:?}");
    }
    String::new()
}

#[test]
fn an_operator_answers_for_the_power_switch_the_button_and_the_led() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interactive-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (rig_port, feed) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{rig_port}");
    let _device = Device(
        Command::new(BIN)
            .args([
                "run",
                "--meter",
                "smr5",
                "--speed",
                "rig",
                "--rig",
                &format!("127.0.0.1:{rig_port}"),
            ])
            .args(["--feed", &format!("tcp:127.0.0.1:{feed}")])
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
    );
    let info: serde_json::Value = (0..100)
        .find_map(|_| {
            let out = Command::new(BIN)
                .args(["rig", "--at", &url, "info"])
                .output()
                .ok()?;
            if out.status.success() {
                return serde_json::from_slice(&out.stdout).ok();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            None
        })
        .expect("the simulator's rig comes up");
    // The bench: addresses and label as a lab writes them down; only time is hooked.
    let target = dir.join("bench.yaml");
    std::fs::write(
        &target,
        format!(
            "variant: p1\nmodbus: {}\nhttp: {}\nlabel: {{serial: \"{}\", mac: \"{}\", password: \"{}\"}}\nfeed: {{listen: 127.0.0.1:{feed}}}\nhooks:\n  time: {BIN} rig --at {url} time '{{until_ms}}' {{fed_bytes}}\n",
            info["modbus"].as_str().unwrap(),
            info["http"].as_str().unwrap(),
            info["serial"].as_str().unwrap(),
            info["mac"].as_str().unwrap(),
            info["password"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let results = dir.join("results.jsonl");
    let mut suite = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "conformance",
            "--interactive",
            "--tags",
            "@LED-04",
            "--target",
        ])
        .arg(&target)
        .arg("--results")
        .arg(&results)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the suite");
    let mut to_suite = suite.stdin.take().unwrap();
    let mut from_suite = suite.stderr.take().unwrap();
    let (mut seen, mut answered, mut colours) = (String::new(), 0, 0);
    let mut buf = [0u8; 4096];
    loop {
        let n = from_suite.read(&mut buf).expect("the suite's stderr");
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        // A prompt is complete when it ends in its question.
        while let Some(start) = seen.find(">>> ") {
            let rest = &seen[start + 4..];
            let Some(end) = ["then press Enter. ", "o[f]f: "]
                .iter()
                .filter_map(|q| rest.find(q).map(|i| i + q.len()))
                .min()
            else {
                break;
            };
            let prompt = rest[..end].trim().to_string();
            colours += usize::from(prompt.contains("Which colour"));
            let line = answer(&url, &prompt);
            writeln!(to_suite, "{line}").expect("answer the suite");
            answered += 1;
            seen = rest[end..].to_string();
        }
    }
    let status = suite.wait().unwrap();
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(
        status.success(),
        "the suite failed after {answered} answers:\n{seen}\n{text}"
    );
    assert!(text.contains("\"status\":\"passed\""), "{text}");
    assert!(
        colours >= 8,
        "only {colours} colour questions ({answered} prompts)"
    );
}
