//! `repbook demo`: starts the simulator, installs halo-bp, prepares the demo clinic and serves, honouring
//! REPBOOK_TOKEN and printing its base URL; SIGTERM stops it cleanly.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_seed_flow_with_no_account_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let component = support::halo_bp_component();
    let component_file = dir.path().join("halo_bp.wasm");
    std::fs::write(&component_file, component).unwrap();
    let mut child = support::Reaped(
        Command::new(support::BIN)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["demo", "--listen", "127.0.0.1:0", "--component"])
            .arg(&component_file)
            .env("REPBOOK_TOKEN", "demo-token-from-the-environment-0123456789")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("demo printed its URL");
        if let Some(rest) = line.strip_prefix("repbook demo is running at ") {
            break rest.trim().to_string();
        }
    };
    let sim = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("demo printed the simulator's URL");
        if let Some(rest) = line.strip_prefix("Halo + Bp simulator: ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // `localhost`, the name passkeys can belong to (an address cannot).
    assert!(base.starts_with("http://localhost:"), "{base}");
    let owner_link = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("demo printed its owner's one-time link");
        if let Some(at) = line.find("/invite/") {
            break line[at..].trim().to_string();
        }
    };

    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{base}/api/v1{path}"))
            .bearer_auth("demo-token-from-the-environment-0123456789")
            .send()
    };
    let clinics: Value = get("/clinics").await.unwrap().json().await.unwrap();
    let clinic = clinics["clinics"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(clinics["clinics"][0]["name"], "Harbour Medical Centre (demo)");
    let post = |path: String| {
        http.post(format!("{base}/api/v1{path}"))
            .bearer_auth("demo-token-from-the-environment-0123456789")
            .json(&json!({}))
            .send()
    };
    let validated: Value = post(format!("/clinics/{clinic}/pms/validate"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(validated["valid"], true, "{validated}");
    let staff: Value = post(format!("/clinics/{clinic}/staff/sync"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        staff["summary"],
        json!({"synced": 2, "not_in_pms": 0, "ahpra_mismatch": 1, "needs_mapping": 0}),
        "{staff}"
    );

    // The owner's one-time link: a password, then (the demo only, once) enrolment put off.
    let server = support::Server::attach(&base, "demo-token-from-the-environment-0123456789", http.clone());
    let mut owner = support::accounts::Session::new(&server);
    let (status, view) = owner
        .post(
            &owner_link,
            json!({"name": "Demo Owner", "password": support::accounts::PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["stage"].clone(), view["can_skip_enrolment"].clone()),
        (json!("enrol"), json!(true))
    );
    let (status, view) = owner.post("/api/v1/session/skip-enrolment", json!({})).await;
    assert_eq!((status, view["stage"].clone()), (200, json!("full")), "{view}");
    assert_eq!(owner.get(&format!("/api/v1/clinics/{clinic}")).await.0, 200);
    let mut later = support::accounts::Session::new(&server);
    let (_, view) = later
        .post(
            "/api/v1/session",
            json!({"email": "owner@harbour-medical.demo", "password": support::accounts::PASSWORD}),
        )
        .await;
    assert_eq!(
        (view["stage"].clone(), view["can_skip_enrolment"].clone()),
        (json!("enrol"), json!(false))
    );
    let (status, refused) = later.post("/api/v1/session/skip-enrolment", json!({})).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (403, json!("enrolment_required")),
        "only once"
    );

    // doctor names what the seed's troubleshooting would: Dr Singh's mistyped AHPRA number...
    let doctor = |json: bool| {
        let mut command = Command::new(support::BIN);
        command.args([
            "doctor",
            "--server",
            &base,
            "--token",
            "demo-token-from-the-environment-0123456789",
        ]);
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    let output = doctor(false);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "problems found exit non-zero: {text}");
    let staff_line = text
        .lines()
        .find(|l| l.contains("PROBLEM") && l.contains(" staff "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        staff_line.contains("Singh") && staff_line.contains("MED"),
        "{staff_line}"
    );
    let report: Value = serde_json::from_slice(&doctor(true).stdout).unwrap();
    let checks = report[0]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "connector",
            "site",
            "site_online",
            "location",
            "staff",
            "parked",
            "clock",
            "disk",
            "mail"
        ]
    );
    // The demo writes its mail to a folder: the check says where, and that it can write there.
    assert_eq!(checks[8]["status"], "ok", "{report}");
    assert!(
        checks[8]["message"]
            .as_str()
            .unwrap()
            .starts_with("messages are written to"),
        "{report}"
    );
    assert_eq!(checks[0]["status"], "ok");
    assert_eq!(checks[2]["status"], "ok", "{report}");
    assert_eq!(
        checks[6]["status"], "ok",
        "the simulator's clock is this machine's: {report}"
    );
    // ...and with the site offline, that comes first.
    let changed = http
        .patch(format!("{sim}/_sim/sites/12345/site"))
        .json(&json!({"availability": "offline"}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());
    let output = doctor(false);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1));
    let first_problem = text.lines().find(|l| l.contains("PROBLEM")).unwrap();
    assert!(
        first_problem.contains("site_online") && first_problem.contains("offline"),
        "{text}"
    );
    assert!(text.contains("Halo Link is not running"), "{text}");

    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
