//! The read path against `/healthz`, in one run through the real (release) binary: 64 keep-alive
//! connections for READ_SECONDS (5 by default) on each of `/healthz`, a rep's slot list (28 days of a clinic
//! with two doctors, 150 booked visits) and the admin appointment list (limit 100), healthz measured before
//! and after the other two and averaged. Then cold start to the first `/healthz` answer with three cached
//! components (median of 7) and the idle server's RSS. Prints requests per second, p99, the ratios and the
//! goals. Run with `cargo bench --bench read`.
//!
//! The client writes raw HTTP/1.1 on its own connections (as wrk does), so the load generator costs little
//! of the two cores the server shares with it.

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::booking::{ROOMY_LIMITS, category, clinic, link, publish, weekday};
use support::{BIN, Server, install_component, local_date_in, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;

/// One request on a kept-alive connection; the status, after reading the whole body (by content-length).
async fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..end]).map_err(|_| std::io::ErrorKind::InvalidData)?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or(std::io::ErrorKind::InvalidData)?;
        while buffer.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        return Ok(status);
    }
}

struct Measured {
    per_second: f64,
    p99: Duration,
}

/// CONNECTIONS connections send `path` back to back for `seconds`; every answer must be a 200.
async fn hammer(addr: &str, path: &str, token: Option<&str>, seconds: f64) -> Measured {
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request: Arc<Vec<u8>> = Arc::new(format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}\r\n").into_bytes());
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (addr, request) = (addr.to_string(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buffer = Vec::with_capacity(64 * 1024);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let status = exchange(&mut stream, &request, &mut buffer).await.expect("answer");
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buffer));
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Measured {
        per_second: all.len() as f64 / elapsed,
        p99: all[((all.len() as f64 - 1.0) * 0.99).round() as usize],
    }
}

/// Spawns `repbook serve` and returns the time until its first `/healthz` 200, and the child.
async fn cold_start(data_dir: &Path) -> (Duration, std::process::Child) {
    let addr_file = data_dir.join("server.addr");
    let _ = std::fs::remove_file(&addr_file);
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn repbook serve");
    loop {
        assert!(started.elapsed() < Duration::from_secs(30), "no answer in 30 s");
        assert!(child.try_wait().expect("wait").is_none(), "repbook serve exited");
        let Ok(addr) = std::fs::read_to_string(&addr_file) else {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        };
        let addr = addr.trim();
        if let Ok(mut stream) = TcpStream::connect(addr).await {
            let request = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n");
            if exchange(&mut stream, request.as_bytes(), &mut Vec::new()).await.ok() == Some(200) {
                return (started.elapsed(), child);
            }
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: f64 = std::env::var("READ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.push(("RUST_LOG", "error"));
    let server = Server::start_with_env(&data_dir, &env).await;

    // Three components installed, so the store holds them and the engine's cache has them compiled.
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release");
    for path in [
        built.join("halo_bp.wasm"),
        built.join("caldav.wasm"),
        built.join("examples/echo.wasm"),
    ] {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins`", path.display()));
        install_component(&server, bytes).await;
    }

    // A clinic with two doctors, noon-to-five on weekdays for both, and 150 booked visits in its diary.
    let booking = clinic(&server, "Australia/Sydney", "NSW").await;
    let visits = category(&server, &booking.id, "Pharmaceutical").await;
    for doctor in [&booking.ana, &booking.ben] {
        for day in ["mon", "tue", "wed", "thu", "fri"] {
            publish(
                &server,
                &booking.id,
                json!({"weekday": day, "start": "12:00", "end": "17:00", "practitioner_id": doctor, "categories": [visits]}),
            )
            .await;
        }
    }
    let rep_link = link(&server, &booking.id, "Reps", &[&visits]).await;
    let mut booked = 0;
    for offset in 1..60 {
        let day = local_date_in("Australia/Sydney", offset);
        if matches!(weekday(&day), "sat" | "sun") {
            continue;
        }
        for hour in 8..11 {
            let (status, body) = server
                .book(&booking.id, &booking.ben, &format!("{day}T{hour:02}:00"), 15)
                .await;
            assert_eq!(status, 201, "{body}");
            booked += 1;
        }
        if booked >= 150 {
            break;
        }
    }
    let addr = server.base.trim_start_matches("http://").to_string();
    let slots_path = format!("{rep_link}/slots");
    let (status, body) = support::booking::public_get(&server, &slots_path).await;
    assert_eq!(status, 200, "{body}");
    let offered = body["slots"].as_array().map(Vec::len).unwrap_or(0);
    assert!(offered > 100, "the link offers {offered} slots");
    let list_path = format!("/api/v1/clinics/{}/appointments?limit=100", booking.id);
    let (status, body) = server.get(&list_path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["appointments"].as_array().map(Vec::len), Some(100), "{body}");

    // READ_PROFILE=slots|list|healthz: only that route, for READ_SECONDS, to attach a profiler to the pid.
    if let Ok(route) = std::env::var("READ_PROFILE") {
        let (path, token) = match route.as_str() {
            "slots" => (slots_path.as_str(), None),
            "list" => (list_path.as_str(), Some(server.token.as_str())),
            _ => ("/healthz", None),
        };
        println!("profiling {path}: server pid {}", server.pid());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let measured = hammer(&addr, path, token, seconds).await;
        println!("{:.0}/s, p99 {:.2} ms", measured.per_second, ms(measured.p99));
        return;
    }

    // Warm up, then each route in turn; healthz twice, around the others.
    hammer(&addr, "/healthz", None, 1.0).await;
    hammer(&addr, &slots_path, None, 1.0).await;
    hammer(&addr, &list_path, Some(&server.token), 1.0).await;
    let health_before = hammer(&addr, "/healthz", None, seconds).await;
    let slots = hammer(&addr, &slots_path, None, seconds).await;
    let list = hammer(&addr, &list_path, Some(&server.token), seconds).await;
    let health_after = hammer(&addr, "/healthz", None, seconds).await;
    let health = (health_before.per_second + health_after.per_second) / 2.0;

    let build = if cfg!(debug_assertions) {
        "debug build: use cargo bench"
    } else {
        "release build"
    };
    println!("read path, {CONNECTIONS} connections, {seconds} s each ({build}):");
    println!(
        "  /healthz                             {:>9.0}/s  p99 {:>6.2} ms (before {:.0}/s, after {:.0}/s)",
        health,
        ms(health_before.p99.max(health_after.p99)),
        health_before.per_second,
        health_after.per_second
    );
    println!(
        "  GET /book/{{link}}/slots ({offered} slots)   {:>9.0}/s  p99 {:>6.2} ms  ratio {:.3} (goal >= 0.15)",
        slots.per_second,
        ms(slots.p99),
        slots.per_second / health
    );
    println!(
        "  GET /clinics/{{c}}/appointments?limit=100 {:>6.0}/s  p99 {:>6.2} ms  ratio {:.3} (goal >= 0.10)",
        list.per_second,
        ms(list.p99),
        list.per_second / health
    );
    drop(server);

    // Cold start: the same data dir, three components in the store and in the compiled cache.
    let mut starts = Vec::new();
    let mut idle_rss = 0;
    for run in 0..7 {
        let (took, mut child) = cold_start(&data_dir).await;
        starts.push(took);
        if run == 6 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            idle_rss = rss_kib(child.id());
        }
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
    }
    starts.sort();
    println!(
        "  cold start to /healthz, 3 cached components: median {:.1} ms (min {:.1}, max {:.1}; goal <= 50)",
        ms(starts[3]),
        ms(starts[0]),
        ms(starts[6])
    );
    println!(
        "  idle RSS after start: {:.1} MiB (goal <= 25)",
        idle_rss as f64 / 1024.0
    );
}
