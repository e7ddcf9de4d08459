//! A disk that stops taking writes (here: a file-size limit, which fails writes with EFBIG exactly where a
//! full disk fails them with ENOSPC) is never a silent wedge: the write that hit it is refused with 503,
//! `/healthz` turns 503 with the reason, the process exits non-zero for its supervisor, and after the
//! restart every booking that was acknowledged is there.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, Server, listening_addr, local_date_in};
use serde_json::{Value, json};

/// `repbook serve` whose files may not grow past `limit` bytes.
fn serve_with_file_limit(dir: &std::path::Path, limit: u64) -> std::process::Child {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("REPBOOK_TOKEN")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Ignored, the signal turns into EFBIG from write(2), as a full disk gives ENOSPC.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().expect("spawn repbook serve")
}

#[tokio::test]
async fn disk_full_refuses_the_write_reports_unhealthy_exits_and_keeps_every_acknowledged_booking() {
    let dir = tempfile::tempdir().unwrap();
    // A first start creates the store, the token and a clinic with a doctor, without a limit.
    let (clinic, doctor) = {
        let mut server = Server::start(dir.path()).await;
        let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
        let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
        server.terminate(Duration::from_secs(20));
        (clinic, doctor)
    };
    let store_bytes = std::fs::metadata(dir.path().join("store").join("db")).unwrap().len();
    let _ = std::fs::remove_file(dir.path().join("server.addr"));
    // sled's log grows in 512 KiB segments: room for the current one and one more, then the disk is full.
    const SEGMENT: u64 = 512 * 1024;
    let mut child = serve_with_file_limit(dir.path(), (store_bytes / SEGMENT + 2) * SEGMENT + 64 * 1024);
    let base = format!("http://{}", listening_addr(dir.path(), &mut child).await);
    let token = std::fs::read_to_string(dir.path().join("token"))
        .unwrap()
        .trim()
        .to_string();
    let http = reqwest::Client::new();

    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for i in 0..20_000 {
        let day = local_date_in("Australia/Sydney", 2 + i / 40);
        let minutes = 8 * 60 + (i % 40) * 15;
        let start = format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60);
        let response = http
            .post(format!("{base}/api/v1/clinics/{clinic}/appointments"))
            .bearer_auth(&token)
            .json(
                &json!({"practitioner_id": doctor, "start": start, "duration_minutes": 15,
                    "rep": {"name": "Rep", "company": "Acme", "email": "rep@acme.test"},
                }),
            )
            .send()
            .await;
        let Ok(response) = response else {
            refusal = Some((0, Value::Null));
            break;
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 201 {
            acknowledged.push(body["id"].as_str().unwrap().to_string());
        } else {
            refusal = Some((status, body));
            break;
        }
    }
    let (status, body) = refusal.expect("the file limit was never reached");
    assert!(!acknowledged.is_empty());
    assert_eq!(
        status, 503,
        "a write the disk refused is a 503 the client can retry: {body}"
    );
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");

    // /healthz says so, with the reason, before the process goes.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["error"]["code"], "store_failed", "{health}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server wedged instead of exiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!exit.success(), "a supervisor restarts only a failed exit");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("free disk space"), "{stderr}");

    // Space is back: every acknowledged booking is there.
    let server = Server::start(dir.path()).await;
    for id in &acknowledged {
        let (status, appointment) = server.get(&format!("/api/v1/appointments/{id}")).await;
        assert_eq!(status, 200, "acknowledged booking {id} lost: {appointment}");
    }
    println!(
        "{} bookings acknowledged before the disk refused; all {} there after the restart",
        acknowledged.len(),
        acknowledged.len()
    );
}
