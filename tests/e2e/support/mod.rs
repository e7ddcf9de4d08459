//! Test harness shared by the end-to-end suites: run the real `repbook` binary on a temporary data dir,
//! talk to it over loopback HTTP, kill it, start it again on the same data.

#![allow(dead_code)]

pub mod accounts;
pub mod booking;
pub mod browser;
pub mod oidc;
pub mod pms;
pub mod radicale;
pub mod smtp;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_repbook");

/// The host name a `start_https` server answers as (resolved to loopback by its client, and by a browser
/// started with `--host-resolver-rules=MAP repbook.test 127.0.0.1`).
pub const HTTPS_HOST: &str = "repbook.test";

struct Tls {
    cert_file: PathBuf,
    key_file: PathBuf,
    cert_pem: String,
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub token: String,
    pub data_dir: PathBuf,
    http: reqwest::Client,
}

impl Server {
    /// Starts `repbook serve` on a free loopback port and waits until it answers.
    pub async fn start(data_dir: &Path) -> Server {
        Self::start_with_env(data_dir, &[]).await
    }

    pub async fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_logged(data_dir, env, None).await
    }

    /// Like `start_with_env`, with the server's log (standard error) written to `log` when given.
    pub async fn start_logged(data_dir: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Server {
        Self::start_serving(data_dir, env, log, None).await
    }

    /// Serves HTTPS itself with a throwaway certificate for `HTTPS_HOST` (written beside the data dir);
    /// `base` is `https://repbook.test:PORT`, and `client()` resolves that name to loopback and trusts the
    /// certificate. (Not `localhost`: browsers treat it as secure even over plain HTTP.)
    pub async fn start_https(data_dir: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Server {
        let cert = rcgen::generate_simple_self_signed(vec![HTTPS_HOST.to_string()]).unwrap();
        let cert_file = data_dir.with_extension("cert.pem");
        let key_file = data_dir.with_extension("key.pem");
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
        let tls = Tls {
            cert_file,
            key_file,
            cert_pem: cert.cert.pem(),
        };
        Self::start_serving(data_dir, env, log, Some(tls)).await
    }

    async fn start_serving(data_dir: &Path, env: &[(&str, &str)], log: Option<&Path>, tls: Option<Tls>) -> Server {
        let addr_file = data_dir.join("server.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("REPBOOK_TOKEN")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            });
        for (key, value) in env {
            command.env(key, value);
        }
        if let Some(tls) = &tls {
            command
                .arg("--tls-cert")
                .arg(&tls.cert_file)
                .arg("--tls-key")
                .arg(&tls.key_file);
        }
        let mut child = command.spawn().expect("spawn repbook serve");
        let addr = listening_addr(data_dir, &mut child).await;
        let token = env
            .iter()
            .find(|(k, _)| *k == "REPBOOK_TOKEN")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| {
                std::fs::read_to_string(data_dir.join("token"))
                    .expect("token file")
                    .trim()
                    .to_string()
            });
        let (base, http) = match &tls {
            None => (format!("http://{addr}"), reqwest::Client::new()),
            Some(tls) => {
                let port = addr.rsplit(':').next().unwrap_or_default().to_string();
                let client = reqwest::Client::builder()
                    .add_root_certificate(reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap())
                    .resolve(HTTPS_HOST, addr.parse().expect("socket address"))
                    .build()
                    .unwrap();
                (format!("https://{HTTPS_HOST}:{port}"), client)
            }
        };
        let server = Server {
            child: Some(child),
            base,
            token,
            data_dir: data_dir.to_path_buf(),
            http,
        };
        let health = server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("healthz");
        assert!(health.status().is_success());
        server
    }

    /// A server started elsewhere (by another helper), reached at `base` with `token`; not stopped on drop.
    pub fn attach(base: &str, token: &str, http: reqwest::Client) -> Server {
        Server {
            child: None,
            base: base.to_string(),
            token: token.to_string(),
            data_dir: PathBuf::new(),
            http,
        }
    }

    /// SIGTERM, then waits up to `limit` for the process to exit; returns how long it took and its status.
    pub fn terminate(&mut self, limit: Duration) -> (Duration, std::process::ExitStatus) {
        let mut child = self.child.take().expect("server running");
        let started = Instant::now();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (started.elapsed(), status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("repbook did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's HTTP client (trusting its certificate when it serves HTTPS).
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The server's process id (for /proc readings).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or power cut of the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// Moves the clock of a server started with `clock_env` forward by `by` (it reads its file every 50 ms).
    pub async fn move_clock(&self, by: Duration) {
        let file = clock_file(&self.data_dir);
        let now: i64 = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        std::fs::write(&file, (now + by.as_secs() as i64).to_string()).expect("write the test clock");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    pub async fn create_clinic(&self, name: &str, zone: &str, state: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/clinics",
                json!({"name": name, "timezone": zone, "state": state, "appointment_duration_minutes": 15}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn add_doctor(&self, clinic: &str, first: &str, last: &str, ahpra: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/clinics/{clinic}/staff"),
                json!({"title": "Dr", "first_name": first, "last_name": last, "ahpra": ahpra}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn book(&self, clinic: &str, practitioner: &str, start: &str, minutes: u32) -> (u16, Value) {
        self.post(
            &format!("/api/v1/clinics/{clinic}/appointments"),
            json!({
                "practitioner_id": practitioner,
                "rep": {"name": "Jane Citizen", "company": "Acme Pharma", "email": "jane@acme.test"},
                "start": start, "duration_minutes": minutes,
            }),
        )
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A child process that is killed when the test ends, passing or failing: a panicking test must not leave a
/// server holding the test runner's output open (the runner would wait for it forever).
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// The address a server started on port 0 wrote to its data dir (`server.addr`), once it listens. Panics
/// when the server exits first, with its standard error when that was piped, or after 30 s.
pub async fn listening_addr(data_dir: &Path, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(pipe) = child.stderr.as_mut() {
                let _ = std::io::Read::read_to_string(pipe, &mut stderr);
            }
            panic!("repbook serve exited at start ({status}): {stderr}");
        }
        if let Ok(addr) = std::fs::read_to_string(data_dir.join("server.addr"))
            && !addr.trim().is_empty()
        {
            return addr.trim().to_string();
        }
        assert!(Instant::now() < deadline, "repbook serve did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The file whose seconds move a test server's clock (see `clock_env`).
pub fn clock_file(data_dir: &Path) -> PathBuf {
    data_dir.join("test-clock")
}

/// The environment that gives a server a clock `Server::move_clock` moves, and housekeeping (request
/// expiry) every 200 ms instead of every minute.
pub fn clock_env(data_dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("REPBOOK_TEST_CLOCK_FILE", clock_file(data_dir).display().to_string()),
        ("REPBOOK_HOUSEKEEPING_MS", "200".to_string()),
    ]
}

/// `(key, value)` pairs as `start_with_env` takes them.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Runs the CLI against a data dir and returns its output.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("REPBOOK_TOKEN")
        .env_remove("REPBOOK_URL")
        .output()
        .expect("run repbook")
}

/// A clinic-local date in the given zone, `days` from today, as YYYY-MM-DD.
pub fn local_date_in(zone: &str, days: i64) -> String {
    let tz = TimeZone::get(zone).unwrap();
    let today = Timestamp::now().to_zoned_datetime(tz).date();
    today.checked_add(jiff::Span::new().days(days)).unwrap().to_string()
}

/// The next two DST transitions of a zone after now, as clinic-local dates: (first, second).
pub fn next_transitions(zone: &str) -> Vec<(String, i32, i32)> {
    let tz = TimeZone::get(zone).unwrap();
    tz.following(Timestamp::now())
        .take(2)
        .map(|t| {
            let after = t.offset().seconds();
            let before = tz
                .to_offset(t.timestamp() - jiff::SignedDuration::from_secs(1))
                .seconds();
            let date = t.timestamp().to_zoned_datetime(tz.clone()).date().to_string();
            (date, before, after)
        })
        .collect()
}

/// A test component built by `make plugins` (plugins/testkit/examples/NAME.rs).
pub fn component(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/examples")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins` first", path.display()))
}

pub fn component_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/examples")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The plugin runtime and registry of a data dir, in this process.
pub async fn plugin_registry(
    dir: &Path,
    limits: repbook::plugins::SandboxLimits,
    allow_loopback: bool,
) -> (
    std::sync::Arc<repbook::plugins::Registry>,
    std::sync::Arc<repbook::store::Store>,
) {
    let store = std::sync::Arc::new(repbook::store::Store::open(dir).expect("store"));
    let operator = repbook::plugins::egress::OperatorPolicy {
        allowed_hosts: None,
        allow_loopback,
        allow_private: false,
    };
    let runtime = repbook::plugins::Runtime::new(dir, limits, Default::default(), operator).expect("runtime");
    let registry = repbook::plugins::Registry::open(runtime, store.clone())
        .await
        .expect("registry");
    (registry, store)
}

/// A loopback HTTP server that counts connections and records the request headers it sees.
pub struct Listener {
    pub addr: std::net::SocketAddr,
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Listener {
    pub async fn start(body: &'static str) -> Listener {
        Self::start_with_headers("", body).await
    }

    /// Like `start`, each answer with `headers` (lines ending in CRLF) too, e.g. a `Set-Cookie`.
    pub async fn start_with_headers(headers: &'static str, body: &'static str) -> Listener {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = socket.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    let mut read = 0;
                    loop {
                        let Ok(n) = stream.read(&mut buffer[read..]).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        read += n;
                        let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            seen.lock().unwrap().push(text[..end].to_string());
                            buffer.copy_within(end + 4..read, 0);
                            read -= end + 4;
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n{headers}content-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if stream.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Listener {
            addr,
            connections,
            requests,
        }
    }
}

/// Installs (and activates) a component through the API as the host token; the plugin's summary.
pub async fn install_component(server: &Server, bytes: Vec<u8>) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/plugins", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A process's resident set in KiB (0 once it is gone), for benches that watch the server's memory.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The halo-bp connector built by `make plugins`.
pub fn halo_bp_component() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/halo_bp.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins` first", path.display()))
}

/// Starts a checker's server process and waits (at most 30 s) until it prints `ready` on standard output.
/// The caller keeps the child and kills and waits for it when dropped (as `Smtp` and `Receiver` do).
#[allow(clippy::zombie_processes)]
pub async fn spawn_ready(mut command: std::process::Command, what: &str) -> Child {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what} (run `make test-deps`): {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(line) = rx.try_recv()
            && line == "ready"
        {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not start within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
