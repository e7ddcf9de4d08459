//! A damaged store is refused at start with a message that says what to do, never served as an older or
//! empty state; ordinary stops (SIGTERM, kill -9) never trip the check; a backup taken while bookings are
//! being made restores everything acknowledged before it.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, cli, local_date_in};
use serde_json::Value;

/// A data dir with a clinic, a doctor and `n` booked appointments, stopped cleanly.
async fn populated(dir: &Path, n: usize) -> Vec<String> {
    let mut server = Server::start(dir).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let mut ids = Vec::new();
    for i in 0..n {
        let day = local_date_in("Australia/Sydney", 3 + (i / 20) as i64);
        let start = format!("{day}T{:02}:{:02}", 8 + (i % 20) / 2, (i % 2) * 30);
        let (status, body) = server.book(&clinic, &doctor, &start, 15).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let (_, status) = server.terminate(Duration::from_secs(20));
    assert!(status.success());
    ids
}

/// Starts `serve` and expects it to refuse: returns its standard error.
fn refused_start(dir: &Path) -> String {
    let _ = std::fs::remove_file(dir.join("server.addr"));
    let mut child = Command::new(support::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("REPBOOK_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            assert!(!status.success(), "a damaged store was served: {stderr}");
            return stderr;
        }
        if Instant::now() > deadline || dir.join("server.addr").exists() {
            let _ = child.kill();
            panic!("repbook started on a damaged store instead of refusing it");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn db_file(dir: &Path) -> std::path::PathBuf {
    dir.join("store").join("db")
}

/// Cuts sled's log file to `to(its length)` bytes, as a crash of the disk or a careless copy would.
fn truncate_store(dir: &Path, to: impl FnOnce(u64) -> u64) {
    let file = db_file(dir);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(to(len))
        .unwrap();
}

fn assert_says_what_to_do(stderr: &str) {
    assert!(
        stderr.contains("repbook restore") && stderr.contains("nothing was changed"),
        "the refusal does not say what to do: {stderr}"
    );
}

async fn count_appointments(server: &Server) -> usize {
    let (_, clinics) = server.get("/api/v1/clinics").await;
    let mut total = 0;
    for clinic in clinics["clinics"].as_array().unwrap() {
        let id = clinic["id"].as_str().unwrap();
        let (status, list) = server
            .get(&format!("/api/v1/clinics/{id}/appointments?from=2020-01-01&limit=1000"))
            .await;
        assert_eq!(status, 200, "{list}");
        total += list["appointments"].as_array().unwrap().len();
    }
    total
}

#[tokio::test]
async fn store_integrity_a_store_truncated_to_zero_bytes_is_refused_not_served_empty() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 10).await;
    truncate_store(dir.path(), |_| 0);
    let stderr = refused_start(dir.path());
    assert_says_what_to_do(&stderr);
}

#[tokio::test]
async fn store_integrity_a_store_truncated_to_half_is_refused_not_served_older() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 120).await;
    truncate_store(dir.path(), |len| len / 2);
    let stderr = refused_start(dir.path());
    assert_says_what_to_do(&stderr);
}

#[tokio::test]
async fn store_integrity_random_bytes_written_over_the_store_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 120).await;
    let file = db_file(dir.path());
    let bytes = std::fs::read(&file).unwrap();
    // Over the written part of the log (sled's file has zeroed room at its end): 2 KiB of noise in the
    // middle of what holds data.
    let used = bytes.iter().rposition(|b| *b != 0).unwrap_or(bytes.len());
    let at = used / 2;
    let mut damaged = bytes.clone();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for byte in &mut damaged[at..at + 2048] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *byte = seed as u8;
    }
    std::fs::write(&file, &damaged).unwrap();
    let stderr = refused_start(dir.path());
    assert_says_what_to_do(&stderr);
}

#[tokio::test]
async fn store_integrity_sigterm_and_kill_9_restarts_are_never_mistaken_for_damage() {
    let dir = tempfile::tempdir().unwrap();
    let ids = populated(dir.path(), 5).await;
    for round in 0..3 {
        let mut server = Server::start(dir.path()).await;
        let (_, clinics) = server.get("/api/v1/clinics").await;
        let clinic = clinics["clinics"][0]["id"].as_str().unwrap().to_string();
        let (_, staff) = server.get(&format!("/api/v1/clinics/{clinic}/staff")).await;
        let doctor = staff["staff"][0]["id"].as_str().unwrap().to_string();
        let day = local_date_in("Australia/Sydney", 30 + round);
        let (status, body) = server.book(&clinic, &doctor, &format!("{day}T09:00"), 15).await;
        assert_eq!(status, 201, "{body}");
        if round % 2 == 0 {
            server.kill();
        } else {
            server.terminate(Duration::from_secs(20));
        }
    }
    let server = Server::start(dir.path()).await;
    assert_eq!(count_appointments(&server).await, ids.len() + 3);
}

#[tokio::test]
async fn store_integrity_a_backup_taken_during_bookings_restores_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 20).await;
    let mut server = Server::start(dir.path()).await;
    let (_, clinics) = server.get("/api/v1/clinics").await;
    let clinic = clinics["clinics"][0]["id"].as_str().unwrap().to_string();
    let (_, staff) = server.get(&format!("/api/v1/clinics/{clinic}/staff")).await;
    let doctor = staff["staff"][0]["id"].as_str().unwrap().to_string();

    // Bookings keep landing while the backup is taken.
    let writer = {
        let base = server.base.clone();
        let token = server.token.clone();
        let (clinic, doctor) = (clinic.clone(), doctor.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut booked = Vec::new();
            for i in 0..60 {
                let day = local_date_in("Australia/Sydney", 40 + i / 20);
                let start = format!("{day}T{:02}:{:02}", 8 + (i % 20) / 2, (i % 2) * 30);
                let response = http
                    .post(format!("{base}/api/v1/clinics/{clinic}/appointments"))
                    .bearer_auth(&token)
                    .json(
                        &serde_json::json!({"practitioner_id": doctor, "start": start, "duration_minutes": 15,
                        "rep": {"name": "Rep", "company": "Acme", "email": "r@acme.test"}}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                booked.push(Instant::now());
            }
            booked
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let asked = Instant::now();
    let backup = dir.path().join("nightly.backup");
    let output = tokio::task::spawn_blocking({
        let (data, backup) = (dir.path().to_path_buf(), backup.clone());
        move || cli(&data, &["backup", backup.to_str().unwrap(), "--json"])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let header: Value = serde_json::from_slice(&output.stdout).unwrap();
    let acknowledged_before = writer.await.unwrap().iter().filter(|t| **t < asked).count();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);

    // A restore while the server runs is refused: it would pull the store from under it.
    let running = cli(dir.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!running.status.success());
    assert!(String::from_utf8_lossy(&running.stderr).contains("stop it first"));
    server.terminate(Duration::from_secs(20));

    // The disk then loses the store; the backup brings back what it held.
    truncate_store(dir.path(), |_| 0);
    assert_says_what_to_do(&refused_start(dir.path()));
    let restored = cli(dir.path(), &["restore", backup.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(said.contains("kept at"), "the damaged store is kept: {said}");

    let server = Server::start(dir.path()).await;
    let count = count_appointments(&server).await;
    assert!(
        count >= 20 + acknowledged_before,
        "{count} appointments after restore; 20 + {acknowledged_before} were acknowledged before the backup was asked for"
    );
    assert!(count <= 80);
    assert!(header["records"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn store_integrity_a_damaged_backup_file_is_refused_and_the_store_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 3).await;
    let server = Server::start(dir.path()).await;
    let backup = dir.path().join("b.backup");
    let output = tokio::task::spawn_blocking({
        let (data, backup) = (dir.path().to_path_buf(), backup.clone());
        move || cli(&data, &["backup", backup.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    drop(server);
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&backup, &bytes).unwrap();
    let before = std::fs::read(db_file(dir.path())).unwrap();
    let refused = cli(dir.path(), &["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("SHA-256"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read(db_file(dir.path())).unwrap(), before);
}

#[tokio::test]
async fn store_integrity_accept_older_store_starts_knowingly_on_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path(), 10).await;
    truncate_store(dir.path(), |_| 0);
    refused_start(dir.path());
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_ACCEPT_OLDER_STORE", "true")]).await;
    assert_eq!(count_appointments(&server).await, 0);
}
