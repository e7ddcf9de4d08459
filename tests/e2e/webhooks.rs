//! Webhooks through the real binary to a real receiver in Python that verifies every delivery with the
//! `standardwebhooks` package from PyPI (not repbook's signer): the API's view of the appointment in each,
//! through receiver downtime, 500s and a 410 (parked, its answer shown, retried by hand), a slow receiver
//! (timed out; another clinic's deliveries are not held up), kill -9 of repbook mid-delivery (duplicates by
//! `webhook-id` counted), secret rotation (both secrets verify during the overlap), a test event from the
//! CLI, and URLs that lead to this machine without the operator's consent refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::booking::ROOMY_LIMITS;
use crate::support::webhooks::Receiver;
use crate::support::{Server, cli, clock_env, env_refs, local_date_in};

/// Loopback receivers need the operator's consent, as connectors do; retries come fast in tests.
fn env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"));
    env.push(("REPBOOK_WEBHOOK_RETRY_BASE_MS", "200"));
    env.extend_from_slice(extra);
    env
}

/// Adds an endpoint for `events` (empty: all) and tells the receiver its secret; returns (id, secret).
async fn subscribe(server: &Server, clinic: &str, receiver: &Receiver, events: &[&str]) -> (String, String) {
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/webhooks"),
            json!({"url": receiver.url(), "events": events, "description": "intranet"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set(json!({"mode": "ok", "secrets": [secret]}));
    (body["endpoint"]["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(server: &Server, clinic: &str, endpoint: &str) -> Vec<Value> {
    let (status, body) = server
        .get(&format!("/api/v1/clinics/{clinic}/webhooks/{endpoint}/deliveries"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the delivery of `event` (a webhook-id) satisfies `done`.
async fn wait_delivery(
    server: &Server,
    clinic: &str,
    endpoint: &str,
    event: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = deliveries(server, clinic, endpoint).await;
        if let Some(d) = found.iter().find(|d| d["id"] == event)
            && done(d)
        {
            return d.clone();
        }
        assert!(
            Instant::now() < deadline,
            "delivery {event} never got there: {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn all_verified(log: &[Value]) -> bool {
    log.iter().all(|e| {
        e["verified"]
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(|b| b == true))
    })
}

#[tokio::test]
async fn webhook_deliveries_verify_and_survive_downtime_500s_and_a_410() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &env(&[])).await;
    let mut receiver = Receiver::start().await;
    let clinic = server.create_clinic("Hooks", "Australia/Sydney", "NSW").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let (endpoint, _) = subscribe(&server, &clinic, &receiver, &[]).await;
    let day = local_date_in("Australia/Sydney", 5);

    // A booking: one appointment.booked, verified, carrying the API's own view of the appointment.
    let (status, booked) = server.book(&clinic, &ana, &format!("{day}T09:00"), 15).await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_str().unwrap();
    let got = receiver
        .wait_for("appointment.booked", 1, Duration::from_secs(15))
        .await;
    let (_, view) = server.get(&format!("/api/v1/appointments/{id}")).await;
    let data = &got[0]["body"]["data"];
    for field in [
        "id",
        "clinic_id",
        "practitioner_id",
        "practitioner_name",
        "start",
        "end",
        "local_start",
        "status",
        "rep",
    ] {
        assert_eq!(data[field], view[field], "{field}: {data} vs {view}");
    }
    assert_eq!(data["status"], "booked");
    assert!(all_verified(&got), "{got:#?}");

    // The receiver is down: the cancellation waits and is retried; back up, it arrives once.
    receiver.kill();
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let cancelled = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let list = deliveries(&server, &clinic, &endpoint).await;
            if let Some(d) = list
                .iter()
                .find(|d| d["type"] == "appointment.cancelled" && d["attempts"].as_u64() >= Some(2))
            {
                break d.clone();
            }
            assert!(Instant::now() < deadline, "the cancellation was not retried: {list:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(cancelled["state"], "pending");
    assert!(
        cancelled["last_reply"]["detail"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{cancelled}"
    );
    receiver.run().await;
    let event = cancelled["id"].as_str().unwrap();
    wait_delivery(&server, &clinic, &endpoint, event, |d| d["state"] == "delivered").await;
    let log = receiver
        .wait_for("appointment.cancelled", 1, Duration::from_secs(10))
        .await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["id"], event);
    assert_eq!(log[0]["body"]["data"]["status"], "cancelled");

    // 500s: retried until the receiver takes it; every attempt is the same webhook-id and body.
    receiver.mode("fail");
    let (_, second) = server.book(&clinic, &ana, &format!("{day}T10:00"), 15).await;
    let failing = receiver
        .wait_for("appointment.booked", 3, Duration::from_secs(20))
        .await;
    receiver.mode("ok");
    let tries: Vec<&Value> = failing
        .iter()
        .filter(|e| e["body"]["data"]["id"] == second["id"])
        .collect();
    assert!(tries.len() >= 2, "{tries:#?}");
    assert!(
        tries
            .iter()
            .all(|t| t["id"] == tries[0]["id"] && t["body"] == tries[0]["body"])
    );
    let event = tries[0]["id"].as_str().unwrap();
    let done = wait_delivery(&server, &clinic, &endpoint, event, |d| d["state"] == "delivered").await;
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");

    // 410 Gone: parked at once with the receiver's answer; Retry sends the same delivery again.
    receiver.mode("gone");
    let (_, third) = server.book(&clinic, &ana, &format!("{day}T11:00"), 15).await;
    let gone = receiver
        .wait_until(Duration::from_secs(15), |log| {
            log.iter().any(|e| e["body"]["data"]["id"] == third["id"])
        })
        .await;
    let event = gone.iter().find(|e| e["body"]["data"]["id"] == third["id"]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let parked = wait_delivery(&server, &clinic, &endpoint, &event, |d| d["state"] == "parked").await;
    assert_eq!(parked["attempts"], 1, "{parked}");
    assert_eq!(parked["last_reply"]["status"], 410);
    assert!(
        parked["last_reply"]["detail"]
            .as_str()
            .unwrap()
            .contains("receiver in mode gone"),
        "{parked}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.log().iter().filter(|e| e["id"] == event.as_str()).count(),
        1,
        "a parked delivery is not retried by itself"
    );
    let out = cli(dir.path(), &["doctor", "--clinic", &clinic]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("webhook delivery(ies) parked") && said.contains("410"),
        "{said}"
    );
    receiver.mode("ok");
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/webhooks/{endpoint}/deliveries/{event}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_delivery(&server, &clinic, &endpoint, &event, |d| d["state"] == "delivered").await;
    assert!(all_verified(&receiver.log()), "{:#?}", receiver.log());

    // The CLI's test event goes through the same outbox, signed the same way.
    let data_dir = dir.path().to_path_buf();
    let out = cli(&data_dir, &["webhook", "test", "--clinic", &clinic, &endpoint]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let test = receiver.wait_for("webhook.test", 1, Duration::from_secs(10)).await;
    assert_eq!(test[0]["verified"], json!([true]));
    let out = cli(&data_dir, &["webhook", "deliveries", "--clinic", &clinic, &endpoint]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("webhook.test") && table.contains("delivered"), "{table}");

    // Switched off from the CLI (a PATCH of that field alone): what happens meanwhile is not sent to it.
    let out = cli(
        &data_dir,
        &[
            "webhook",
            "update",
            "--clinic",
            &clinic,
            &endpoint,
            "--disabled",
            "true",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, shown) = server
        .get(&format!("/api/v1/clinics/{clinic}/webhooks/{endpoint}"))
        .await;
    assert_eq!(
        (shown["disabled"].as_bool(), shown["url"].as_str()),
        (Some(true), Some(receiver.url().as_str()))
    );
    let before = deliveries(&server, &clinic, &endpoint).await.len();
    let (status, _) = server.book(&clinic, &ana, &format!("{day}T12:00"), 15).await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        deliveries(&server, &clinic, &endpoint).await.len(),
        before,
        "nothing for a switched-off endpoint"
    );
    // A delivery already waiting when it is switched off waits on, and goes once it is on again.
    let path = format!("/api/v1/clinics/{clinic}/webhooks/{endpoint}");
    server
        .call(reqwest::Method::PATCH, &path, Some(json!({"disabled": false})))
        .await;
    receiver.kill();
    let (_, waiting) = server.book(&clinic, &ana, &format!("{day}T13:00"), 15).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let pending = loop {
        let list = deliveries(&server, &clinic, &endpoint).await;
        if let Some(d) = list
            .iter()
            .find(|d| d["payload"]["data"]["id"] == waiting["id"] && d["attempts"].as_u64() >= Some(1))
        {
            break d["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "{list:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server
        .call(reqwest::Method::PATCH, &path, Some(json!({"disabled": true})))
        .await;
    receiver.run().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !receiver.log().iter().any(|e| e["id"] == pending.as_str()),
        "sent to a switched-off endpoint"
    );
    server
        .call(reqwest::Method::PATCH, &path, Some(json!({"disabled": false})))
        .await;
    wait_delivery(&server, &clinic, &endpoint, &pending, |d| d["state"] == "delivered").await;

    let (status, body) = server
        .call(reqwest::Method::PATCH, &path, Some(json!({"url": "ftp://x/"})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("https://"),
        "{body}"
    );
}

#[tokio::test]
async fn webhook_slow_receiver_times_out_and_holds_up_no_other_clinic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &env(&[("REPBOOK_WEBHOOK_TIMEOUT_SECS", "2")])).await;
    let (slow, quick) = (Receiver::start().await, Receiver::start().await);
    let stalled = server.create_clinic("Stalled", "Australia/Sydney", "NSW").await;
    let busy = server.create_clinic("Busy", "Australia/Sydney", "NSW").await;
    let ana = server.add_doctor(&stalled, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&busy, "Ben", "Okafor", "MED0007654321").await;
    let (slow_endpoint, _) = subscribe(&server, &stalled, &slow, &["appointment.booked"]).await;
    subscribe(&server, &busy, &quick, &["appointment.booked"]).await;
    slow.set(json!({"mode": "slow", "slow_secs": 30, "secrets": []}));
    let day = local_date_in("Australia/Sydney", 6);

    let (status, _) = server.book(&stalled, &ana, &format!("{day}T09:00"), 15).await;
    assert_eq!(status, 201);
    slow.wait_until(Duration::from_secs(10), |log| !log.is_empty()).await;
    // While the stalled clinic's receiver holds its attempt, the other clinic's bookings arrive at once.
    let started = Instant::now();
    for hour in 9..14 {
        let (status, body) = server.book(&busy, &ben, &format!("{day}T{hour:02}:00"), 15).await;
        assert_eq!(status, 201, "{body}");
    }
    quick.wait_for("appointment.booked", 5, Duration::from_secs(10)).await;
    let took = started.elapsed();
    eprintln!("webhook slow receiver: 5 other-clinic deliveries in {took:?} while one attempt hung");
    assert!(
        took < Duration::from_secs(2),
        "the other clinic waited for the slow receiver: {took:?}"
    );

    let list = deliveries(&server, &stalled, &slow_endpoint).await;
    let event = list[0]["id"].as_str().unwrap().to_string();
    let timed_out = wait_delivery(&server, &stalled, &slow_endpoint, &event, |d| {
        d["attempts"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(timed_out["state"], "pending", "a timeout is retried: {timed_out}");
    assert!(
        timed_out["last_reply"]["detail"]
            .as_str()
            .unwrap()
            .contains("no answer within 2 s"),
        "{timed_out}"
    );
}

#[tokio::test]
async fn webhook_kill_9_mid_delivery_loses_nothing_and_duplicates_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(&[]);
    let mut server = Server::start_with_env(dir.path(), &env).await;
    let receiver = Receiver::start().await;
    let clinic = server.create_clinic("Crashy", "Australia/Sydney", "NSW").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    subscribe(&server, &clinic, &receiver, &["appointment.booked"]).await;
    // Each answer takes a moment, so kills land while deliveries are in flight.
    receiver.set(json!({"mode": "slow", "slow_secs": 0.15, "secrets": json!(receiver_secret(&receiver))}));
    let day = local_date_in("Australia/Sydney", 7);
    let mut booked = Vec::new();
    for n in 0..40 {
        let start = format!("{day}T{:02}:{:02}", 8 + n / 4, (n % 4) * 15);
        let (status, body) = server.book(&clinic, &ana, &start, 15).await;
        assert_eq!(status, 201, "{body}");
        booked.push(body["id"].as_str().unwrap().to_string());
    }
    let mut kills = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.kill();
        kills += 1;
        server = Server::start_with_env(dir.path(), &env).await;
    }
    let log = receiver
        .wait_until(Duration::from_secs(60), |log| {
            let ids: std::collections::HashSet<&Value> = log.iter().map(|e| &e["body"]["data"]["id"]).collect();
            booked.iter().all(|id| ids.contains(&json!(id)))
        })
        .await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for entry in &log {
        *per_id.entry(entry["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let duplicates: usize = per_id.values().map(|n| n - 1).sum();
    eprintln!(
        "webhook kill -9: {} bookings, {kills} kills, {} deliveries received, {} distinct webhook-ids, {duplicates} duplicate(s)",
        booked.len(),
        log.len(),
        per_id.len()
    );
    assert_eq!(per_id.len(), 40, "one webhook-id per booking");
    // One attempt per endpoint is in flight at a time: a kill can repeat at most that one.
    assert!(duplicates <= kills, "{duplicates} duplicates after {kills} kills");
    assert!(all_verified(&log));
}

fn receiver_secret(receiver: &Receiver) -> Vec<String> {
    receiver.secrets()
}

#[tokio::test]
async fn webhook_secret_rotation_signs_with_both_during_the_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_env(dir.path());
    let mut all = env(&[]);
    all.extend(env_refs(&clock));
    let server = Server::start_with_env(dir.path(), &all).await;
    let receiver = Receiver::start().await;
    let clinic = server.create_clinic("Rotating", "Australia/Sydney", "NSW").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let (endpoint, old) = subscribe(&server, &clinic, &receiver, &["appointment.booked"]).await;
    let day = local_date_in("Australia/Sydney", 9);

    let out = cli(
        dir.path(),
        &[
            "webhook",
            "rotate",
            "--clinic",
            &clinic,
            &endpoint,
            "--overlap-hours",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let new = printed
        .split_whitespace()
        .find(|w| w.starts_with("whsec_") && *w != old)
        .expect("the new secret printed once")
        .to_string();
    let (_, shown) = server
        .get(&format!("/api/v1/clinics/{clinic}/webhooks/{endpoint}"))
        .await;
    assert!(
        !shown.to_string().contains("whsec_"),
        "a secret is never shown again: {shown}"
    );
    assert_eq!(shown["signing_secrets"], 2);

    receiver.set(json!({"mode": "ok", "secrets": [old, new]}));
    server.book(&clinic, &ana, &format!("{day}T09:00"), 15).await;
    let during = receiver
        .wait_for("appointment.booked", 1, Duration::from_secs(10))
        .await;
    assert_eq!(
        during[0]["verified"],
        json!([true, true]),
        "both secrets sign during the overlap"
    );

    server.move_clock(Duration::from_secs(3 * 3600)).await;
    server.book(&clinic, &ana, &format!("{day}T10:00"), 15).await;
    let after = receiver
        .wait_for("appointment.booked", 2, Duration::from_secs(10))
        .await;
    assert_eq!(
        after[1]["verified"],
        json!([false, true]),
        "after the overlap only the new secret signs"
    );
}

/// A name of this machine that resolves to loopback only through the resolver (not by its text): Debian
/// maps the host's own name to 127.0.1.1.
fn loopback_name() -> String {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .expect("this machine's name");
    let loops = (name.as_str(), 443)
        .to_socket_addrs()
        .map(|mut a| a.all(|a| a.ip().is_loopback()))
        .unwrap_or(false);
    assert!(
        loops,
        "this test needs the machine's name ({name}) to resolve to loopback, as Debian's /etc/hosts does"
    );
    name
}

#[tokio::test]
async fn webhook_urls_that_lead_to_this_machine_are_refused_without_consent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let receiver = Receiver::start().await;
    let clinic = server.create_clinic("Careful", "Australia/Sydney", "NSW").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let path = format!("/api/v1/clinics/{clinic}/webhooks");

    // By its text: refused when added, saying which flag allows it.
    for url in [
        receiver.url(),
        format!("https://[::1]:{}/", receiver.port),
        "https://10.1.2.3/hook".into(),
    ] {
        let (status, body) = server.post(&path, json!({"url": url})).await;
        assert_eq!(status, 422, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("--plugin-allow-"), "{url}: {message}");
    }
    let (status, body) = server.post(&path, json!({"url": "http://hooks.example.com/"})).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("https"), "{body}");

    // By where its name resolves: taken (the name is not loopback by its text), then refused on the
    // resolved address when sending, and parked with the reason; the receiver never hears of it.
    let name = loopback_name();
    let url = format!("https://{name}:{}/hooks", receiver.port);
    let (status, body) = server
        .post(&path, json!({"url": url, "events": ["appointment.booked"]}))
        .await;
    assert_eq!(status, 201, "{body}");
    let endpoint = body["endpoint"]["id"].as_str().unwrap().to_string();
    let day = local_date_in("Australia/Sydney", 4);
    server.book(&clinic, &ana, &format!("{day}T09:00"), 15).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let parked = loop {
        let list = deliveries(&server, &clinic, &endpoint).await;
        if let Some(d) = list.iter().find(|d| d["state"] == "parked") {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "not parked: {list:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let detail = parked["last_reply"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("loopback") && detail.contains("--plugin-allow-loopback"),
        "{detail}"
    );
    assert!(
        receiver.log().is_empty(),
        "nothing reached the receiver: {:#?}",
        receiver.log()
    );
}

/// The PMS outcomes reach subscribers: a booking Bp took (`pms.synced`, with the PMS id in the view) and one
/// Bp refused because the doctor's time is taken there (`pms.parked`, with the reason), from halo-sim
/// through the real halo-bp component.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_pms_synced_and_parked_carry_where_the_visit_stands() {
    use crate::support::pms::{ready_clinic, start};
    let setup = start(
        crate::support::pms::seed(1),
        &[("REPBOOK_WEBHOOK_RETRY_BASE_MS", "200")],
    )
    .await;
    let (server, sim) = (&setup.server, &setup.sim);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let receiver = Receiver::start().await;
    subscribe(server, &clinic.id, &receiver, &["pms.synced", "pms.parked"]).await;
    // A weekday: the simulated doctors have sessions Monday to Friday.
    let day = (4..11)
        .map(|n| local_date_in("Australia/Sydney", n))
        .find(|d| !matches!(crate::support::booking::weekday(d), "sat" | "sun"))
        .unwrap();
    let ana = &clinic.doctors[0].0;
    let (status, synced) = server.book(&clinic.id, ana, &format!("{day}T09:30"), 15).await;
    assert_eq!(status, 201, "{synced}");
    let got = receiver.wait_for("pms.synced", 1, Duration::from_secs(30)).await;
    let data = &got[0]["body"]["data"];
    assert_eq!(data["id"], synced["id"]);
    assert_eq!(data["pms"]["state"], "synced", "{data}");
    assert!(data["pms"]["pms_id"].is_string(), "{data}");
    assert_eq!(got[0]["verified"], json!([true]));

    let taken = json!({"user_id": clinic.doctors[0].1, "patient_id": 1, "date": day, "time": 11 * 3600, "length": 900, "appointment_type": 1, "location_id": 1, "reason": "Patient"});
    reqwest::Client::new()
        .post(format!("{}/_sim/sites/{}/appointments", sim.url(), clinic.site_id))
        .json(&taken)
        .send()
        .await
        .unwrap();
    let (status, clash) = server.book(&clinic.id, ana, &format!("{day}T11:00"), 15).await;
    assert_eq!(status, 201, "{clash}");
    let got = receiver.wait_for("pms.parked", 1, Duration::from_secs(30)).await;
    let data = &got[0]["body"]["data"];
    assert_eq!(data["id"], clash["id"]);
    assert_eq!(data["pms"]["state"], "needs_attention", "{data}");
    assert!(data["pms"]["reason"].as_str().unwrap().contains("conflict"), "{data}");
    // One event per outcome: the synced visit is not told again.
    assert_eq!(receiver.log().iter().filter(|e| e["type"] == "pms.synced").count(), 1);
}

/// Every change of a visit is one event of the right type, in order: booked through a link, swapped by the
/// rep, moved by the clinic, cancelled; a request approved, another declined.
#[tokio::test]
async fn webhook_every_appointment_change_is_one_event_of_its_type() {
    use crate::support::booking::{book, clinic, link, public_post, publish, publish_noons, rep, set_rules, weekday};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &env(&[])).await;
    let receiver = Receiver::start().await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(&server, &c.id, json!({"booking_lead_hours": 0, "swap_cutoff_hours": 0, "cancel_cutoff_hours": 0, "max_open_bookings_per_rep": 5})).await;
    let day = local_date_in("Australia/Sydney", 5);
    publish_noons(&server, &c.id, &c.ana, &[&day], Some(15)).await;
    publish(&server, &c.id, json!({"weekday": weekday(&day), "start": "09:00", "end": "09:30", "practitioner_id": c.ben, "approval_required": true})).await;
    let link = link(&server, &c.id, "Reps", &[]).await;
    subscribe(&server, &c.id, &receiver, &[]).await;

    let (status, booked) = book(
        &server,
        &link,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Ann", "Acme", "ann@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"].as_str().unwrap().to_string();
    let (status, body) = public_post(
        &server,
        &format!("{manage}/swap"),
        json!({"start": format!("{day}T12:30"), "practitioner_id": c.ana}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = server.get(&format!("/api/v1/clinics/{}/appointments", c.id)).await;
    let id = list["appointments"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{id}"),
            json!({"start": format!("{day}T15:00")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut requests = Vec::new();
    for (minute, who) in [("00", "bo@beta.test"), ("15", "cy@gamma.test")] {
        let (status, body) = book(
            &server,
            &link,
            &format!("{day}T09:{minute}"),
            Some(&c.ben),
            rep("R", "Co", who),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "requested");
        let (_, list) = server
            .get(&format!("/api/v1/clinics/{}/appointments?status=requested", c.id))
            .await;
        let found = list["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rep"]["email"] == who)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        requests.push(found);
    }
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{}/approve", requests[0]), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{}/decline", requests[1]), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    let expected = [
        "appointment.booked",
        "appointment.swapped",
        "appointment.moved",
        "appointment.cancelled",
        "appointment.requested",
        "appointment.requested",
        "appointment.approved",
        "appointment.declined",
    ];
    let log = receiver
        .wait_until(Duration::from_secs(20), |log| log.len() >= expected.len())
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = if receiver.log().len() > log.len() {
        receiver.log()
    } else {
        log
    };
    // Deliveries may arrive in any order; their ids are ULIDs, made in the order of the changes.
    let mut by_id: Vec<(String, String)> = log
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_id.sort();
    let order: Vec<&str> = by_id.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(order, expected, "{log:#?}");
    assert!(all_verified(&log));
    let swapped = log.iter().find(|e| e["type"] == "appointment.swapped").unwrap();
    assert_eq!(swapped["body"]["data"]["local_start"], format!("{day}T12:30"));
}
