//! `conformance --interactive`: a bench with no hooks for power, the button or the LED, run by
//! a lab engineer answering on the terminal. Here the "engineer" is this test: it reads each
//! prompt from the suite's stderr, does what it says to a simulator in another process (whose
//! clock a `time` hook drives, so no real time passes), and types the answer — the colour it
//! sees, or Enter.

use crate::common;

use common::BIN;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// The rig: its URL and token.
struct Rig<'a> {
    url: &'a str,
    token: &'a str,
}

/// `smart-connect-sim rig --at URL ARGS…` (the rig's token in the environment); its stdout.
fn rig(r: &Rig, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .env("SMART_CONNECT_RIG_TOKEN", r.token)
        .args(["rig", "--at", r.url])
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
fn answer(url: &Rig, prompt: &str) -> String {
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
    let dir = common::work("interactive");
    let device = common::start(&dir, "smr5", &[]);
    let url = device.rig.clone();
    // The suite and its hook (a child of the suite) know the rig's token from the
    // environment, as in an engineer's shell; set on the suite's command only, since the
    // other tests of this binary run in the same process.
    // The bench: addresses and label as a lab writes them down; only time is hooked.
    let target = device.bench_target(
        &dir,
        &format!("hooks:\n  time: {BIN} rig --at {url} time '{{until_ms}}' {{fed_bytes}}\n"),
    );
    let results = dir.join("results.jsonl");
    let mut suite = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SMART_CONNECT_RIG_TOKEN", &device.token)
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
            let line = answer(
                &Rig {
                    url: &url,
                    token: &device.token,
                },
                &prompt,
            );
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
