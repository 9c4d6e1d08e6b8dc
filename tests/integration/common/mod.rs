//! Shared by the tests that judge the simulator as a separate process: the binary, free
//! loopback ports, and a `run --speed rig --rig … --feed tcp:…` device stopped on drop.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_smart-connect-sim");

/// A loopback port free right now, below the kernel's ephemeral range (32768 and up on
/// Linux): the port is released before the simulator or the harness binds it again, and in
/// that moment an outgoing connection of a test running beside this one could otherwise take
/// it as its source port (seen in the defect catalogue: "Address already in use").
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Processes running at once start at different places of 20000..32000.
    let start = 20_000 + (std::process::id() % 1_000) as u16 * 12;
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..12_000 {
        let mut port = NEXT.fetch_add(1, Ordering::SeqCst);
        if !(20_000..32_000).contains(&port) {
            port = 20_000 + port % 12_000;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 20000..32000")
}

/// The simulator process, stopped when dropped.
pub struct Device {
    child: Child,
    /// The rig's base URL.
    pub rig: String,
    /// Where the harness's meter line listens (the device connects to it).
    pub feed: u16,
    /// The rig's token (given to `run --rig-token`).
    pub token: String,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a simulated device of `meter` whose clock its rig drives, settings in `dir`, its
/// log in `dir/device.log`; `extra` adds arguments (e.g. `--defect NAME`).
pub fn start(dir: &Path, meter: &str, extra: &[&str]) -> Device {
    std::fs::create_dir_all(dir).expect("work folder");
    let (rig, feed) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("device.log")).expect("device log");
    let token = format!("test-token-{rig}-{feed}");
    let child = Command::new(BIN)
        .args(["run", "--meter", meter, "--speed", "rig"])
        .args(["--rig", &format!("127.0.0.1:{rig}"), "--rig-token", &token])
        .args(["--feed", &format!("tcp:127.0.0.1:{feed}")])
        .args([
            "--modbus",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
        ])
        .args([
            "--mqtt-tls-port",
            "0",
            "--mqtt-plain-port",
            "0",
            "--ha-discovery",
        ])
        .args(extra)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the simulator");
    Device {
        child,
        rig: format!("http://127.0.0.1:{rig}"),
        feed,
        token,
    }
}

impl Device {
    /// A target file that reaches the device through its rig.
    pub fn rig_target(&self, dir: &Path, description: &str) -> std::path::PathBuf {
        let target = dir.join("target.yaml");
        std::fs::write(
            &target,
            format!(
                "description: {description}\nrig: {}\nrig_token: {}\nfeed: {{listen: 127.0.0.1:{}}}\n",
                self.rig, self.token, self.feed
            ),
        )
        .expect("target file");
        target
    }

    /// `GET /rig` once the rig is up (via `smart-connect-sim rig info`).
    pub fn info(&self) -> serde_json::Value {
        for _ in 0..200 {
            let out = Command::new(BIN)
                .args(["rig", "--at", &self.rig, "--token", &self.token, "info"])
                .output()
                .expect("rig info");
            if out.status.success() {
                return serde_json::from_slice(&out.stdout).expect("rig info is JSON");
            }
            // A real process is starting: there is no virtual clock to wait on (bounded: 10 s).
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the simulator's rig did not come up at {}", self.rig);
    }

    /// A target file for a bench that knows only the device's addresses and label (no rig),
    /// plus `more` YAML lines.
    pub fn bench_target(&self, dir: &Path, more: &str) -> std::path::PathBuf {
        let info = self.info();
        let target = dir.join("bench.yaml");
        std::fs::write(
            &target,
            format!(
                "variant: p1\nmodbus: {}\nhttp: {}\nlabel: {{serial: \"{}\", mac: \"{}\", password: \"{}\"}}\nfeed: {{listen: 127.0.0.1:{}}}\n{more}",
                info["modbus"].as_str().unwrap(),
                info["http"].as_str().unwrap(),
                info["serial"].as_str().unwrap(),
                info["mac"].as_str().unwrap(),
                info["password"].as_str().unwrap(),
                self.feed,
            ),
        )
        .expect("target file");
        target
    }
}

/// `smart-connect-sim conformance --target TARGET --tags TAGS --results RESULTS` from the
/// repository root.
pub fn conformance(target: &Path, tags: &str, results: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("conformance")
        .arg("--target")
        .arg(target)
        .args(["--tags", tags])
        .arg("--results")
        .arg(results);
    c
}

/// A fresh work folder under `target/`.
pub fn work(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/process-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work folder");
    dir
}
