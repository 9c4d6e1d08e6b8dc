//! The pymodbus 3 TCP server the Modbus bench measures against (`benches/pymodbus_server.py`
//! run with `python3`): started with the register block's words, killed when dropped.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The pymodbus server process; killed when dropped.
pub struct PyServer {
    child: Child,
    pub addr: SocketAddr,
    pub version: String,
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `benches/pymodbus_server.py` with the block's words; the reason when it cannot run.
pub fn start_pymodbus(words: &[u16]) -> Result<PyServer, String> {
    let probe = Command::new("python3")
        .args(["-c", "import pymodbus; print(pymodbus.__version__)"])
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => "python3 not found on PATH".to_string(),
            _ => format!("python3 cannot be run: {e}"),
        })?;
    if !probe.status.success() {
        let err = String::from_utf8_lossy(&probe.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(format!(
            "pymodbus is not installed for python3 ({last}); pip install pymodbus==3.16.1"
        ));
    }
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pymodbus_server.py");
    let hex: Vec<String> = words.iter().map(|w| format!("{w:x}")).collect();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(hex.join(","))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
    // Drain stderr all along (a full pipe would stall the server); keep it for the reason.
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let (mut pipe, stderr) = (child.stderr.take().expect("piped"), Arc::clone(&stderr));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let server = PyServer {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        version,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.starts_with("ready") => return Ok(server),
            Ok(_) => {}
            Err(e) => {
                drop(server); // kills it
                std::thread::sleep(Duration::from_millis(50));
                let err = stderr.lock().unwrap().clone();
                let last = err.lines().last().unwrap_or("").trim();
                let why = if e == mpsc::RecvTimeoutError::Timeout {
                    "no \"ready\" within 20 s"
                } else {
                    "it exited"
                };
                return Err(format!("pymodbus_server.py did not start: {why}; {last}"));
            }
        }
    }
}
