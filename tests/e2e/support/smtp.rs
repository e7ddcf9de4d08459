//! A real SMTP server for the mail suites: aiosmtpd (tests/checkers/smtp_server.py, from `make test-deps`'
//! venv) on a loopback port, with STARTTLS on a throwaway certificate and AUTH, saving each message it
//! accepts as a numbered .eml file; a control file makes it defer, refuse or hang on purpose. An independent
//! reader (tests/checkers/mail_check.py: Python's `email` and `icalendar`) says what each message holds.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const USER: &str = "repbook-mailer";
pub const PASSWORD: &str = "smtp-secret-7431";
pub const FROM: &str = "visits@repbook.test";

/// How repbook reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain SMTP (`smtp://`), no sign-in.
    Plain,
    /// STARTTLS required (`smtp://...?tls=required`), with AUTH.
    Starttls,
    /// TLS from the first byte (`smtps://`), with AUTH.
    Implicit,
}

pub struct Smtp {
    child: Option<Child>,
    pub port: u16,
    pub tls: Tls,
    dir: tempfile::TempDir,
}

fn checkers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers")
}

impl Smtp {
    pub async fn start(tls: Tls) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::create_dir_all(dir.path().join("mail")).unwrap();
        std::fs::write(dir.path().join("password"), PASSWORD).unwrap();
        if tls != Tls::Plain {
            let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
            std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
            std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
        }
        let mut smtp = Smtp {
            child: None,
            port,
            tls,
            dir,
        };
        smtp.set(json!({"mode": "ok"}));
        smtp.run().await;
        smtp
    }

    /// Starts (again) on the same port and folder.
    pub async fn run(&mut self) {
        let mut command = Command::new(super::booking::python());
        command
            .arg(checkers().join("smtp_server.py"))
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.folder())
            .arg("--control")
            .arg(self.dir.path().join("control.json"))
            .stderr(Stdio::null());
        if self.tls != Tls::Plain {
            command
                .arg("--cert")
                .arg(self.dir.path().join("cert.pem"))
                .arg("--key")
                .arg(self.dir.path().join("key.pem"))
                .args(["--user", USER, "--password", PASSWORD]);
        }
        if self.tls == Tls::Implicit {
            command.arg("--implicit-tls");
        }
        self.child = Some(super::spawn_ready(command, "the SMTP server").await);
    }

    /// Kills the server (SIGKILL: the mail server is down), keeping what it received.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How the server behaves from the next command on (see smtp_server.py): `{"mode": "tempfail"}`, ...
    pub fn set(&self, control: Value) {
        let path = self.dir.path().join("control.json");
        let partial = path.with_extension("partial");
        std::fs::write(&partial, control.to_string()).unwrap();
        std::fs::rename(partial, path).unwrap();
    }

    pub fn folder(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    pub fn url(&self) -> String {
        match self.tls {
            Tls::Plain => format!("smtp://127.0.0.1:{}", self.port),
            Tls::Starttls => format!("smtp://127.0.0.1:{}?tls=required", self.port),
            Tls::Implicit => format!("smtps://127.0.0.1:{}", self.port),
        }
    }

    /// The environment that points a repbook server at this mail server, with the password in a file and
    /// the throwaway certificate trusted; deferred messages are tried again after `retry_ms`.
    pub fn env(&self, retry_ms: u64) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("REPBOOK_SMTP_URL", self.url()),
            ("REPBOOK_MAIL_FROM", FROM.to_string()),
            ("REPBOOK_MAIL_RETRY_BASE_MS", retry_ms.to_string()),
            ("REPBOOK_MAIL_TIMEOUT_SECS", "3".to_string()),
        ];
        if self.tls != Tls::Plain {
            env.push(("REPBOOK_SMTP_USER", USER.to_string()));
            env.push((
                "REPBOOK_SMTP_PASSWORD_FILE",
                self.dir.path().join("password").display().to_string(),
            ));
            env.push((
                "REPBOOK_SMTP_CA_FILE",
                self.dir.path().join("cert.pem").display().to_string(),
            ));
        }
        env
    }

    /// The messages received so far, in the order they arrived.
    pub fn received(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.folder())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
    }

    /// Waits until at least `count` messages arrived (panics after `limit`), and reads them all.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        loop {
            let files = self.received();
            if files.len() >= count {
                return read_mail(&files, None);
            }
            assert!(
                Instant::now() < deadline,
                "{} message(s) arrived within {limit:?}, {count} expected: {:?}",
                files.len(),
                read_mail(&files, None).iter().map(|m| m.subject()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message received so far, read by the independent checker; `zone` names the zone the checker
    /// shows calendar times in.
    pub fn read(&self, zone: Option<&str>) -> Vec<Mail> {
        read_mail(&self.received(), zone)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One message as Python's `email` package (and `icalendar`, for an attached calendar) reads it.
#[derive(Debug, Clone)]
pub struct Mail(pub Value);

impl Mail {
    pub fn subject(&self) -> String {
        self.0["subject"].as_str().unwrap_or_default().to_string()
    }
    pub fn to(&self) -> Vec<String> {
        self.0["to"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    }
    pub fn text(&self) -> String {
        self.0["text"].as_str().unwrap_or_default().to_string()
    }
    pub fn message_id(&self) -> String {
        self.0["message_id"].as_str().unwrap_or_default().to_string()
    }
    /// The first link in the text part that starts with `prefix` (a path such as `/confirm/`).
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.0["links"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str())
            .find(|l| l.contains(prefix))
            .map(str::to_string)
    }
    pub fn calendar(&self) -> &Value {
        &self.0["calendar"]
    }
}

/// Runs the independent reader on message files.
pub fn read_mail(files: &[PathBuf], zone: Option<&str>) -> Vec<Mail> {
    if files.is_empty() {
        return Vec::new();
    }
    let mut command = Command::new(super::booking::python());
    command.arg(checkers().join("mail_check.py"));
    if let Some(zone) = zone {
        command.args(["--zone", zone]);
    }
    let output = command.args(files).output().expect("run mail_check.py");
    assert!(
        output.status.success(),
        "mail_check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all: Value = serde_json::from_slice(&output.stdout).expect("mail_check.py prints JSON");
    all.as_array().unwrap().iter().cloned().map(Mail).collect()
}

/// Messages whose subject starts with `prefix`.
pub fn with_subject<'a>(mail: &'a [Mail], prefix: &str) -> Vec<&'a Mail> {
    mail.iter().filter(|m| m.subject().starts_with(prefix)).collect()
}
