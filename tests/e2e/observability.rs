//! Logs and metrics of a running server: JSON log lines that carry each request's id, an id in every
//! response, latency per route template and connector call durations in /metrics, and never a secret or a
//! capability in either.

use std::time::Duration;

use crate::support::booking::{ROOMY_LIMITS, book, link, publish, rep, weekday};
use crate::support::pms::{install_halo_bp, ready_clinic, seed, wait_drained};
use crate::support::{Server, local_date_in};
use serde_json::{Value, json};

#[tokio::test]
async fn logs_and_metrics_carry_request_ids_and_never_a_secret() {
    let sim = halo_sim::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), seed(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.extend([
        ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"),
        ("REPBOOK_LOG_FORMAT", "json"),
        (
            "RUST_LOG",
            "debug,sled=info,wasmtime=info,cranelift_codegen=info,hyper=info,reqwest=info",
        ),
    ]);
    let mut server = Server::start_logged(&data, &env, Some(&log)).await;
    install_halo_bp(&server).await;
    let setup = ready_clinic(&server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 5);
    publish(
        &server,
        &setup.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": setup.doctors[0].0}),
    )
    .await;
    let url = link(&server, &setup.id, "All reps", &[]).await;
    let (status, booked) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&setup.doctors[0].0),
        rep("Lia", "Acme", "lia@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"].as_str().unwrap().to_string();
    wait_drained(&server, &setup.id, Duration::from_secs(20)).await;

    // Every response names its request; a client's plain id is kept, anything else replaced.
    let client = reqwest::Client::new();
    let answer = client
        .get(format!("{}/api/v1/clinics", server.base))
        .bearer_auth(&server.token)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-me-42");
    let answer = client
        .get(format!("{}{url}/slots", server.base))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    let generated = answer.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 26, "a fresh ULID: {generated}");

    let metrics = client
        .get(format!("{}/metrics", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "repbook_http_request_duration_seconds_bucket{route=\"/book/{link}/slots\",method=\"GET\",status=\"2xx\"",
        "repbook_http_request_duration_seconds_count{route=\"/api/v1/clinics/{clinic}/pms/validate\",method=\"POST\",status=\"2xx\"}",
        "repbook_plugin_call_duration_seconds_count{connector=\"halo-bp\",export=\"push-appointment\",outcome=\"ok\"} 1",
        "repbook_plugin_call_duration_seconds_count{connector=\"halo-bp\",export=\"validate-site\",outcome=\"ok\"}",
        "repbook_sync_deliveries_total{outcome=\"delivered\"} 1",
        &format!("repbook_sync_outbox_entries{{clinic=\"{}\"}} 0", setup.id),
    ] {
        assert!(metrics.contains(needle), "/metrics lacks {needle}\n{metrics}");
    }
    server.kill();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 20, "{} lines", lines.len());
    assert!(
        lines.iter().any(|l| l["span"]["id"] == "trace-me-42"),
        "no log line carries the request id"
    );
    assert!(lines.iter().any(|l| l["span"]["id"] == generated.as_str()));
    let capability = url.trim_start_matches("/book/");
    let token = manage.trim_start_matches("/manage/");
    for (what, secret) in [
        ("the API token", server.token.as_str()),
        ("the Halo subscription key", "test-key"),
        ("the booking link's capability", capability),
        ("the manage token", token),
        ("the pairing code", "PAIR42"),
    ] {
        assert!(!text.contains(secret), "the log holds {what}");
        assert!(!metrics.contains(secret), "/metrics holds {what}");
    }
}
