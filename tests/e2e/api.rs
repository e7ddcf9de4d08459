//! The HTTP API end to end through the real binary: the clinic → staff → booking lifecycle, and the error
//! envelope for each kind of bad request.

use crate::support;

use crate::support::{Server, local_date_in};
use serde_json::{Value, json};

const ZONE: &str = "Australia/Adelaide";

#[tokio::test]
async fn adelaide_clinic_book_list_move_cancel_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Glenelg GP", ZONE, "SA").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "med 000 123 4567").await;
    let ben = server.add_doctor(&clinic, "Ben", "Ode", "MED0007654321").await;

    let (_, staff) = server.get(&format!("/api/v1/clinics/{clinic}/staff")).await;
    let ahpras: Vec<&str> = staff["staff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ahpra"].as_str().unwrap())
        .collect();
    assert!(ahpras.contains(&"MED0001234567"), "AHPRA stored normalised: {ahpras:?}");
    assert_eq!(staff["staff"][0]["pms"]["state"], "unsynced");

    let day1 = local_date_in(ZONE, 10);
    let day2 = local_date_in(ZONE, 11);
    let (status, first) = server.book(&clinic, &ana, &format!("{day1}T12:30"), 20).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["local_date"], day1.as_str());
    assert_eq!(first["local_seconds"], 45_000);
    assert_eq!(first["status"], "booked");
    assert_eq!(first["version"], 1);
    assert_eq!(first["pms"]["state"], "not_applicable", "no PMS configured yet");
    assert!(
        first["start"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{day1}T12:30:00+")),
        "{}",
        first["start"]
    );
    assert_eq!(first["reference"], first["id"]);
    let (status, second) = server.book(&clinic, &ben, &format!("{day2}T09:00"), 15).await;
    assert_eq!(status, 201, "{second}");

    // Same doctor, overlapping: 409 naming the clash. Other doctor at the same time: fine.
    let (status, clash) = server.book(&clinic, &ana, &format!("{day1}T12:40"), 15).await;
    assert_eq!(status, 409, "{clash}");
    assert_eq!(clash["error"]["code"], "overlapping_appointment");
    assert!(
        clash["error"]["message"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap())
    );
    let (status, _) = server.book(&clinic, &ben, &format!("{day1}T12:40"), 15).await;
    assert_eq!(status, 201);

    // Listing: future by default; from/to select clinic-local dates.
    let ids = |v: &Value| -> Vec<String> {
        v["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, all) = server.get(&format!("/api/v1/clinics/{clinic}/appointments")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all).len(), 3);
    let (_, only_day2) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?from={day2}&to={day2}"))
        .await;
    assert_eq!(ids(&only_day2), vec![second["id"].as_str().unwrap().to_string()]);
    let (_, until_day1) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?to={day1}"))
        .await;
    assert_eq!(ids(&until_day1).len(), 2);

    // Move: a new local start and length, version bumped; then cancel, after which it cannot move.
    let first_id = first["id"].as_str().unwrap();
    let (status, moved) = server
        .patch(
            &format!("/api/v1/appointments/{first_id}"),
            json!({"start": format!("{day2}T14:00"), "duration_minutes": 30}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["local_date"], day2.as_str());
    assert_eq!(moved["local_seconds"], 14 * 3600);
    assert_eq!(moved["duration_minutes"], 30);
    assert_eq!(moved["version"], 2);
    let (_, only_day1) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?from={day1}&to={day1}"))
        .await;
    assert!(
        !ids(&only_day1).contains(&first_id.to_string()),
        "index follows the move"
    );

    let (status, cancelled) = server
        .post(&format!("/api/v1/appointments/{first_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["version"], 3);
    let (status, refused) = server
        .patch(
            &format!("/api/v1/appointments/{first_id}"),
            json!({"start": format!("{day2}T15:00")}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["code"], "appointment_cancelled");
    let (_, booked_only) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?status=booked"))
        .await;
    assert_eq!(ids(&booked_only).len(), 2);
    // The cancelled slot is free again.
    let (status, _) = server.book(&clinic, &ana, &format!("{day2}T14:00"), 15).await;
    assert_eq!(status, 201);

    // Every change went through the outbox; with no PMS configured the worker marks them not applicable.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, sync) = server.get(&format!("/api/v1/clinics/{clinic}/sync")).await;
        if sync["outbox"] == 0 {
            assert_eq!(sync["appointments"]["not_applicable"], 4, "{sync}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "outbox not drained: {sync}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn bad_requests_get_an_envelope_that_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let http = reqwest::Client::new();

    let unauthenticated = http
        .get(format!("{}/api/v1/clinics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let body: Value = unauthenticated.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_token");
    let wrong = http
        .get(format!("{}/api/v1/clinics", server.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let (status, body) = server
        .post(
            "/api/v1/clinics",
            json!({"name": "X", "timezone": "Australia/Sydney", "state": "NSW", "colour": "red"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("colour"), "{body}");
    let (status, body) = server
        .post("/api/v1/clinics", json!({"name": "X", "timezone": 7, "state": "NSW"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .post(
            "/api/v1/clinics",
            json!({"name": "X", "timezone": "Europe/Sydney", "state": "NSW"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "unknown_time_zone");

    let huge = json!({"name": "x".repeat(400_000), "timezone": "Australia/Sydney", "state": "NSW"});
    let (status, body) = server.post("/api/v1/clinics", huge).await;
    assert_eq!(status, 413, "{body}");

    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/staff"),
            json!({"first_name": "A", "last_name": "B", "ahpra": "MED12"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("three letters followed by ten digits")
    );
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/staff"),
            json!({"first_name": "Ann", "last_name": "Ng", "ahpra": "MED0001234567"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "duplicate_ahpra");

    let (status, body) = server.book(&clinic, &doctor, "2020-01-01T10:00", 15).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "start_in_past");
    let (status, body) = server
        .book(
            &clinic,
            "01NOSUCHDOCTOR000000000000",
            &format!("{}T10:00", local_date_in("Australia/Sydney", 5)),
            15,
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("practitioner_id"));
    let (status, body) = server
        .book(
            &clinic,
            &doctor,
            &format!("{}T10:00", local_date_in("Australia/Sydney", 5)),
            300,
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = server.get("/api/v1/appointments/01NOSUCHAPPOINTMENT0000000").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "appointment_not_found");
    let (status, body) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?from=tomorrow"))
        .await;
    assert_eq!(status, 422, "{body}");

    // PMS settings: secrets are write-only; connector work answers 503 until a connector exists.
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(json!({"connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": "12345",
                        "pairing_code": "ABC123", "settings": {"base_url": "https://api.stage.haloconnect.io", "subscription_key": "sk-very-secret"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains("sk-very-secret") && !body.to_string().contains("ABC123"),
        "{body}"
    );
    assert_eq!(body["pms"]["secrets_set"], json!(["subscription_key"]));
    let (_, shown) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert!(!shown.to_string().contains("sk-very-secret"));
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "no_connector");
    let (status, _) = server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 503);
    let (status, booked) = server
        .book(
            &clinic,
            &doctor,
            &format!("{}T10:00", local_date_in("Australia/Sydney", 5)),
            15,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(booked["pms"]["state"], "pending", "PMS enabled: waiting to be sent");
}

#[tokio::test]
async fn token_file_is_private_and_env_token_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = Server::start(dir.path()).await;
        let (status, _) = server.get("/api/v1/clinics").await;
        assert_eq!(status, 200);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let server = Server::start_with_env(
        dir.path(),
        &[("REPBOOK_TOKEN", "from-the-environment-0123456789abcdef")],
    )
    .await;
    let (status, _) = server.get("/api/v1/clinics").await;
    assert_eq!(status, 200);
    let file_token = std::fs::read_to_string(dir.path().join("token")).unwrap();
    let stale = reqwest::Client::new()
        .get(format!("{}/api/v1/clinics", server.base))
        .bearer_auth(file_token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
}

#[tokio::test]
async fn a_move_onto_another_appointment_of_the_same_doctor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Glenelg GP", ZONE, "SA").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&clinic, "Ben", "Ode", "MED0007654321").await;
    let day = local_date_in(ZONE, 10);
    let (_, first) = server.book(&clinic, &ana, &format!("{day}T10:00"), 30).await;
    let (_, second) = server.book(&clinic, &ana, &format!("{day}T11:00"), 15).await;
    let (_, bens) = server.book(&clinic, &ben, &format!("{day}T10:15"), 15).await;
    let second_id = second["id"].as_str().unwrap();

    // Onto the first (10:00-10:30): refused, naming it; the appointment is unchanged.
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{second_id}"),
            json!({"start": format!("{day}T10:15")}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "overlapping_appointment");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap()),
        "{body}"
    );
    let (_, unchanged) = server.get(&format!("/api/v1/appointments/{second_id}")).await;
    assert_eq!(
        (unchanged["local_seconds"].as_u64(), unchanged["version"].as_u64()),
        (Some(11 * 3600), Some(1))
    );

    // Lengthening into it is a move too.
    let first_id = first["id"].as_str().unwrap();
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{first_id}"),
            json!({"duration_minutes": 90}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Touching is fine, and so is another doctor's time.
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{second_id}"),
            json!({"start": format!("{day}T10:30")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let bens_id = bens["id"].as_str().unwrap();
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{bens_id}"),
            json!({"start": format!("{day}T10:00")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn appointment_lists_page_with_a_cursor_in_start_order_without_gaps_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let day = support::local_date_in("Australia/Sydney", 5);
    let mut booked = Vec::new();
    // Booked out of order, listed in start order.
    for hour in [15, 9, 12, 10, 16, 11, 14] {
        let (status, body) = server.book(&clinic, &doctor, &format!("{day}T{hour:02}:00"), 15).await;
        assert_eq!(status, 201, "{body}");
        booked.push((hour, body["id"].as_str().unwrap().to_string()));
    }
    booked.sort();
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/clinics/{clinic}/appointments?limit=3");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let items = page["appointments"].as_array().unwrap();
        assert!(items.len() <= 3);
        listed.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, booked.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    let (status, body) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?limit=0"))
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn pages_and_assets_count_against_the_read_quota_and_health_checks_never_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_PUBLIC_READS_PER_MINUTE", "5")]).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();
    for path in ["/", "/assets/style.css", "/assets/admin.js", "/assets/style.css", "/"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    let refused = get("/assets/style.css").await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    for _ in 0..20 {
        assert_eq!(get("/healthz").await.unwrap().status(), 200);
    }
}
