//! A real webhook receiver for the webhook suites: tests/checkers/webhook_receiver.py on a loopback port,
//! verifying every delivery with the `standardwebhooks` package from PyPI (not repbook's signer) and logging
//! each request; a control file makes it fail, park or stall on purpose.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Receiver {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut receiver = Receiver { child: None, port, dir };
        receiver.set(json!({"mode": "ok", "secrets": []}));
        receiver.run().await;
        receiver
    }

    /// Starts (again) on the same port, keeping the log.
    pub async fn run(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers/webhook_receiver.py");
        let mut command = Command::new(super::booking::python());
        command
            .arg(script)
            .args(["--port", &self.port.to_string(), "--control"])
            .arg(self.dir.path().join("control.json"))
            .arg("--log")
            .arg(self.log_path())
            .stderr(Stdio::null());
        self.child = Some(super::spawn_ready(command, "the webhook receiver").await);
    }

    /// The receiver is down (SIGKILL): connections are refused until `run` again.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How the receiver answers from the next request on, and which secrets it verifies with.
    pub fn set(&self, control: Value) {
        let path = self.dir.path().join("control.json");
        let partial = path.with_extension("partial");
        std::fs::write(&partial, control.to_string()).unwrap();
        std::fs::rename(partial, path).unwrap();
    }

    /// Changes only how it answers (`ok`, `fail`, `gone`, `slow`), keeping its secrets.
    pub fn mode(&self, mode: &str) {
        let path = self.dir.path().join("control.json");
        let mut control: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        control["mode"] = json!(mode);
        self.set(control);
    }

    /// The secrets it verifies with now.
    pub fn secrets(&self) -> Vec<String> {
        let path = self.dir.path().join("control.json");
        let control: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        serde_json::from_value(control["secrets"].clone()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log.jsonl")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/repbook", self.port)
    }

    /// Every request received so far, in order.
    pub fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Waits until `done` holds of the log (panics after `limit`, with what arrived).
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if done(&log) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver's log did not get there within {limit:?}: {:#?}",
                log.iter()
                    .map(|e| (&e["type"], &e["answered"], &e["id"]))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for `count` requests of event `kind`.
    pub async fn wait_for(&self, kind: &str, count: usize, limit: Duration) -> Vec<Value> {
        self.wait_until(limit, |log| log.iter().filter(|e| e["type"] == kind).count() >= count)
            .await
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}
