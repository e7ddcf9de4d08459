//! A real CalDAV server for the CalDAV suites: Radicale (from `make test-deps`' venv) on a loopback port,
//! with htpasswd auth and a fresh storage folder per test; stopped with the test, and restartable on the
//! same port and storage to play an outage. An independent reader (Python's `caldav` client) says what it
//! holds.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const USER: &str = "repbook";
pub const PASSWORD: &str = "radicale-secret-42";

pub struct Radicale {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn venv_python() -> PathBuf {
    super::booking::python()
}

impl Radicale {
    pub async fn start() -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(dir.path().join("users"), format!("{USER}:{PASSWORD}\n")).unwrap();
        std::fs::write(
            dir.path().join("config"),
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n\
                 [storage]\nfilesystem_folder = {storage}\n[rights]\ntype = owner_only\n[logging]\nlevel = warning\n",
                users = dir.path().join("users").display(),
                storage = dir.path().join("collections").display(),
            ),
        )
        .unwrap();
        let mut radicale = Radicale { child: None, port, dir };
        radicale.run().await;
        radicale
    }

    /// Starts (again) on the same port and storage.
    pub async fn run(&mut self) {
        let child = Command::new(venv_python())
            .args(["-m", "radicale", "--config"])
            .arg(self.dir.path().join("config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Radicale (run `make test-deps`)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if reqwest::get(self.base()).await.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "Radicale did not start within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server (SIGKILL: like a crash or a pulled cable), keeping its storage.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Where Radicale keeps the files of `user`'s calendar `name` (one `.ics` per event).
    pub fn calendar_dir(&self, name: &str) -> std::path::PathBuf {
        self.dir
            .path()
            .join("collections/collection-root")
            .join(USER)
            .join(name)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The user's calendar home: what the connector's `server_url` setting names.
    pub fn home(&self) -> String {
        format!("{}{USER}/", self.base())
    }

    pub fn calendar_url(&self, name: &str) -> String {
        format!("{}{name}/", self.home())
    }

    /// MKCALENDAR for events (or, with `calendar` false, an address book: a collection that is no calendar).
    pub async fn make_collection(&self, name: &str, calendar: bool) {
        // Radicale makes only calendars and address books; an address book is a collection that is no calendar.
        let (method, body) = if calendar {
            (
                "MKCALENDAR",
                format!(
                    r#"<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>{name}</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#
                ),
            )
        } else {
            (
                "MKCOL",
                r#"<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"#.to_string(),
            )
        };
        let response = reqwest::Client::new()
            .request(method.parse().unwrap(), self.calendar_url(name))
            .basic_auth(USER, Some(PASSWORD))
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{method} {name}: {}", response.status());
    }

    /// Every event in a calendar, as Python's caldav client reads it.
    pub fn events(&self, name: &str) -> Vec<Value> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers/caldav_read.py");
        let output = Command::new(venv_python())
            .arg(script)
            .args([&self.calendar_url(name), USER, PASSWORD])
            .output()
            .expect("run the caldav reader");
        assert!(
            output.status.success(),
            "caldav reader: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.kill();
    }
}
