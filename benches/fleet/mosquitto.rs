//! The bench's Mosquitto: `tests/external/fleet_mosquitto.conf.in` filled with two free
//! loopback ports, the fleet PKI folder and the ACL, run as a child process that can be
//! killed (an outage) and started again on the same ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mosquitto {
    pub conf: PathBuf,
    pub tls_port: u16,
    pub plain_port: u16,
    child: Option<Child>,
    /// A broker another process started (only its CPU is read).
    other_pid: Option<u32>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether `mosquitto` can be started here.
pub fn available() -> bool {
    Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl Mosquitto {
    /// Write the config for the PKI in `pki_dir` into `dir` and start the broker.
    pub fn start(dir: &Path, pki_dir: &Path) -> Mosquitto {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let template = std::fs::read_to_string(root.join("tests/external/fleet_mosquitto.conf.in"))
            .expect("the Mosquitto template");
        let (tls_port, plain_port) = (free_port(), free_port());
        let conf = template
            .replace("@TLS_PORT@", &tls_port.to_string())
            .replace("@PLAIN_PORT@", &plain_port.to_string())
            .replace("@PKI_DIR@", &pki_dir.display().to_string())
            .replace(
                "@ACL_FILE@",
                &root
                    .join("tests/external/fleet_mosquitto.acl")
                    .display()
                    .to_string(),
            );
        let path = dir.join("mosquitto.conf");
        std::fs::write(&path, conf).expect("write mosquitto.conf");
        let mut m = Mosquitto {
            conf: path,
            tls_port,
            plain_port,
            child: None,
            other_pid: None,
        };
        m.restart();
        m
    }

    /// Start the broker (again) and wait until its TLS port accepts.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.conf.with_extension("log")).expect("log file");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.tls_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.tls_port
            );
            std::thread::yield_now();
        }
    }

    /// Kill the broker (SIGKILL: a crash, no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id).or(self.other_pid)
    }

    /// The broker process `pid` started elsewhere (for its CPU figure).
    pub fn existing(pid: Option<u32>) -> Mosquitto {
        Mosquitto {
            conf: PathBuf::new(),
            tls_port: 0,
            plain_port: 0,
            child: None,
            other_pid: pid,
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU seconds (user + system) of process `pid` so far.
pub fn cpu_s(pid: u32) -> Option<f64> {
    smart_connect_sim::fleet::stats::process_usage(&pid.to_string()).0
}
