//! A hostile-input corpus against every route, public and admin, and the CLI: wrong or missing
//! credentials, malformed and oversized bodies, wrong types, duplicate keys, out-of-range numbers, path
//! traversal, broken encodings, Unicode edge cases, control characters, SQL and script injection, dates at
//! the ends of the calendar and local times that daylight saving skips or repeats. Each request has its
//! expected status, every refusal speaks the error envelope (pages answer with the HTML not-found page),
//! and the store's content afterwards is byte-for-byte what it was before.

use std::path::Path;

use crate::support::booking::{ROOMY_LIMITS, book, clinic, link, publish, rep, weekday};
use crate::support::{Server, cli, local_date_in};
use repbook::store::backup::read_backup;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy)]
enum Auth {
    None,
    Wrong,
    Good,
}

struct Case {
    what: String,
    method: Method,
    path: String,
    auth: Auth,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    expect: u16,
}

fn case(what: &str, method: Method, path: &str, auth: Auth, body: Option<&str>, expect: u16) -> Case {
    Case {
        what: what.to_string(),
        method,
        path: path.to_string(),
        auth,
        headers: Vec::new(),
        body: body.map(|b| b.as_bytes().to_vec()),
        expect,
    }
}

/// The store's content (every tree, key and value) through a backup, without the backup's own header.
async fn store_content(server: &Server) -> Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)> {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/backup", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let (_, trees) = read_backup(Path::new("backup"), &bytes).unwrap();
    trees
        .into_iter()
        .map(|(name, entries)| {
            (
                name.to_vec(),
                entries.into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
            )
        })
        .collect()
}

/// One tree of a store: its name, with its keys and values.
type Tree = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

/// Every tree of a store by name, with its keys and values.
type Trees = [Tree];

/// Which trees and keys differ, for the failure message.
fn differences(before: &Trees, after: &Trees) -> Vec<String> {
    let mut found = Vec::new();
    for (name, entries) in after {
        let old = before
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        if &old != entries {
            found.push(format!(
                "{}: {} entries before, {} after",
                String::from_utf8_lossy(name),
                old.len(),
                entries.len()
            ));
        }
    }
    found
}

/// The admin routes with real ids, each with a body that would be accepted: only the credentials fail.
fn admin_routes(clinic: &str, doctor: &str, appointment: &str) -> Vec<(Method, String, Option<String>)> {
    let c = format!("/api/v1/clinics/{clinic}");
    let a = format!("/api/v1/appointments/{appointment}");
    let valid_clinic =
        r#"{"name":"Evil GP","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15}"#;
    vec![
        (Method::GET, "/api/v1/clinics".into(), None),
        (Method::POST, "/api/v1/clinics".into(), Some(valid_clinic.into())),
        (Method::GET, c.clone(), None),
        (Method::PATCH, c.clone(), Some(r#"{"name":"Renamed"}"#.into())),
        (Method::DELETE, c.clone(), None),
        (Method::PUT, format!("{c}/pms"), Some(r#"{"enabled":false}"#.into())),
        (Method::POST, format!("{c}/pms/validate"), Some("{}".into())),
        (Method::GET, format!("{c}/pms/locations"), None),
        (Method::POST, format!("{c}/pms/reset"), Some("{}".into())),
        (Method::GET, format!("{c}/pms/switch?to=caldav"), None),
        (
            Method::POST,
            format!("{c}/pms/switch"),
            Some(r#"{"to":"caldav","old_appointments":"leave"}"#.into()),
        ),
        (Method::GET, format!("{c}/staff"), None),
        (
            Method::POST,
            format!("{c}/staff"),
            Some(r#"{"title":"Dr","first_name":"Eve","last_name":"Il","ahpra":"MED0009999999"}"#.into()),
        ),
        (Method::POST, format!("{c}/staff/sync"), Some("{}".into())),
        (
            Method::PUT,
            format!("{c}/staff/{doctor}/pms"),
            Some(r#"{"pms_user_id":"1"}"#.into()),
        ),
        (Method::GET, format!("{c}/appointments"), None),
        (Method::POST, format!("{c}/appointments"), Some("{}".into())),
        (Method::GET, format!("{c}/availability"), None),
        (Method::POST, format!("{c}/availability/refresh"), Some("{}".into())),
        (Method::GET, format!("{c}/categories"), None),
        (
            Method::POST,
            format!("{c}/categories"),
            Some(r#"{"name":"Evil"}"#.into()),
        ),
        (Method::DELETE, format!("{c}/categories/x"), None),
        (Method::GET, format!("{c}/closed"), None),
        (
            Method::POST,
            format!("{c}/closed"),
            Some(r#"{"date":"2030-01-01"}"#.into()),
        ),
        (Method::DELETE, format!("{c}/closed/2030-01-01"), None),
        (Method::GET, format!("{c}/doctor"), None),
        (Method::GET, format!("{c}/links"), None),
        (
            Method::POST,
            format!("{c}/links"),
            Some(r#"{"label":"Evil","categories":[]}"#.into()),
        ),
        (Method::DELETE, format!("{c}/links/x"), None),
        (Method::GET, format!("{c}/sync"), None),
        (Method::POST, format!("{c}/sync"), Some("{}".into())),
        (Method::POST, format!("{c}/sync/reconcile"), Some("{}".into())),
        (Method::POST, format!("{c}/sync/retry-parked"), Some("{}".into())),
        (Method::GET, format!("{c}/times"), None),
        (
            Method::POST,
            format!("{c}/times"),
            Some(r#"{"weekday":"mon","start":"09:00","end":"10:00"}"#.into()),
        ),
        (Method::DELETE, format!("{c}/times/x"), None),
        (Method::GET, a.clone(), None),
        (Method::PATCH, a.clone(), Some(r#"{"duration_minutes":30}"#.into())),
        (Method::POST, format!("{a}/approve"), Some("{}".into())),
        (Method::POST, format!("{a}/cancel"), Some("{}".into())),
        (Method::POST, format!("{a}/decline"), Some("{}".into())),
        (Method::POST, format!("{a}/resend"), Some("{}".into())),
        (Method::GET, "/api/v1/backup".into(), None),
        (Method::GET, "/api/v1/plugins".into(), None),
        (Method::POST, "/api/v1/plugins".into(), Some("\0asm".into())),
        (
            Method::POST,
            "/api/v1/plugins/halo-bp/activate".into(),
            Some(r#"{"version":"9.9.9"}"#.into()),
        ),
        (
            Method::POST,
            "/api/v1/plugins/halo-bp/rollback".into(),
            Some("{}".into()),
        ),
        (Method::DELETE, "/api/v1/plugins/halo-bp/versions/1.0.0".into(), None),
        (Method::GET, "/metrics".into(), None),
    ]
}

#[tokio::test]
async fn hostile_requests_are_refused_with_the_envelope_and_change_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 10);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "slot_minutes": 15, "practitioner_id": c.ana}),
    )
    .await;
    let link_path = link(&server, &c.id, "All reps", &[]).await;
    let (status, booked) = book(
        &server,
        &link_path,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Rita Rep", "Acme", "rita@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"].as_str().unwrap().to_string();
    let later = local_date_in("Australia/Sydney", 12);
    let (status, admin_booked) = server.book(&c.id, &c.ben, &format!("{later}T09:00"), 15).await;
    assert_eq!(status, 201, "{admin_booked}");
    let admin_appointment = admin_booked["id"].as_str().unwrap().to_string();
    // Let the sync worker and the background flush settle before the snapshot.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let before = store_content(&server).await;

    let mut cases = Vec::new();
    // 1. Every admin route without a token and with a wrong one.
    for (method, path, body) in admin_routes(&c.id, &c.ana, &admin_appointment) {
        for (auth, label) in [(Auth::None, "no token"), (Auth::Wrong, "wrong token")] {
            cases.push(case(
                &format!("{method} {path} with {label}"),
                method.clone(),
                &path,
                auth,
                body.as_deref(),
                401,
            ));
        }
    }
    let clinics = format!("/api/v1/clinics/{}", c.id);
    let post = Method::POST;
    let get = Method::GET;
    let json_case = |what: &str, method: Method, path: &str, body: &str, expect: u16| {
        case(what, method, path, Auth::Good, Some(body), expect)
    };
    // 2. Malformed and hostile JSON on admin routes.
    for (what, body, expect) in [
        ("not JSON", "{name:", 400),
        ("an array", "[]", 400),
        ("a string", "\"clinic\"", 400),
        ("empty body", "", 400),
        (
            "duplicate key",
            r#"{"name":"A","name":"B","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15}"#,
            400,
        ),
        (
            "unknown field",
            r#"{"name":"A","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15,"admin":true}"#,
            400,
        ),
        (
            "wrong type",
            r#"{"name":7,"timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15}"#,
            400,
        ),
        (
            "negative duration",
            r#"{"name":"A","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":-5}"#,
            400,
        ),
        (
            "huge number",
            r#"{"name":"A","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":1e400}"#,
            400,
        ),
        (
            "duration out of range",
            r#"{"name":"A","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":100000}"#,
            422,
        ),
        (
            "unknown zone",
            r#"{"name":"A","timezone":"Mars/Olympus","state":"NSW","appointment_duration_minutes":15}"#,
            422,
        ),
        (
            "zone traversal",
            r#"{"name":"A","timezone":"../../etc/passwd","state":"NSW","appointment_duration_minutes":15}"#,
            422,
        ),
        (
            "unknown state",
            r#"{"name":"A","timezone":"Australia/Sydney","state":"XX","appointment_duration_minutes":15}"#,
            422,
        ),
        (
            "ESC in name",
            "{\"name\":\"\\u001b[31mRed\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            422,
        ),
        (
            "NUL in name",
            "{\"name\":\"A\\u0000B\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            422,
        ),
        (
            "newline in name",
            "{\"name\":\"A\\nFORGED ROW\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            422,
        ),
        (
            "RTL override in name",
            "{\"name\":\"A\\u202Egnp.exe\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            422,
        ),
        (
            "C1 control in name",
            "{\"name\":\"A\\u0085B\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            422,
        ),
        (
            "empty name",
            r#"{"name":"   ","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15}"#,
            422,
        ),
        (
            "name of 10k characters",
            &format!(
                r#"{{"name":"{}","timezone":"Australia/Sydney","state":"NSW","appointment_duration_minutes":15}}"#,
                "A".repeat(10_000)
            ),
            422,
        ),
        (
            "lone surrogate",
            "{\"name\":\"\\ud800\",\"timezone\":\"Australia/Sydney\",\"state\":\"NSW\",\"appointment_duration_minutes\":15}",
            400,
        ),
        (
            "deep nesting",
            &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            400,
        ),
    ] {
        cases.push(json_case(
            &format!("create clinic: {what}"),
            post.clone(),
            "/api/v1/clinics",
            body,
            expect,
        ));
    }
    let mut invalid_utf8 = case(
        "create clinic: invalid UTF-8",
        post.clone(),
        "/api/v1/clinics",
        Auth::Good,
        None,
        400,
    );
    invalid_utf8.body = Some(b"{\"name\":\"\xff\xfe\",\"timezone\":\"Australia/Sydney\"}".to_vec());
    cases.push(invalid_utf8);
    let mut no_type = case(
        "create clinic: no content type",
        post.clone(),
        "/api/v1/clinics",
        Auth::Good,
        Some("{}"),
        400,
    );
    no_type.headers.push(("content-type".into(), "text/plain".into()));
    cases.push(no_type);
    let mut too_big = case(
        "create clinic: 2 MiB body",
        post.clone(),
        "/api/v1/clinics",
        Auth::Good,
        None,
        413,
    );
    too_big.body = Some(format!(r#"{{"name":"{}"}}"#, "A".repeat(2 << 20)).into_bytes());
    cases.push(too_big);

    // 3. Staff, appointments and published times with bad values.
    let staff = format!("{clinics}/staff");
    for (what, body, expect) in [
        (
            "AHPRA with SQL",
            r#"{"title":"Dr","first_name":"A","last_name":"B","ahpra":"MED'; DROP TABLE USERS;--"}"#,
            422,
        ),
        (
            "AHPRA too short",
            r#"{"title":"Dr","first_name":"A","last_name":"B","ahpra":"MED1"}"#,
            422,
        ),
        (
            "duplicate AHPRA",
            r#"{"title":"Dr","first_name":"A","last_name":"B","ahpra":"MED0001234567"}"#,
            409,
        ),
        (
            "script in a name with a newline",
            "{\"title\":\"Dr\",\"first_name\":\"<script>alert(1)</script>\\n\",\"last_name\":\"B\",\"ahpra\":\"MED0003333333\"}",
            422,
        ),
        (
            "ESC in the title",
            "{\"title\":\"\\u001b]0;pwned\\u0007\",\"first_name\":\"A\",\"last_name\":\"B\",\"ahpra\":\"MED0003333333\"}",
            422,
        ),
    ] {
        cases.push(json_case(
            &format!("add staff: {what}"),
            post.clone(),
            &staff,
            body,
            expect,
        ));
    }
    let appointments = format!("{clinics}/appointments");
    let ana = &c.ana;
    for (what, body, expect) in [
        ("a time Sydney skips (DST gap)", format!(r#"{{"practitioner_id":"{ana}","start":"2027-10-03T02:30","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("a time Sydney repeats, without an offset", format!(r#"{{"practitioner_id":"{ana}","start":"2027-04-04T02:30","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("the past", format!(r#"{{"practitioner_id":"{ana}","start":"2001-01-01T09:00","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("year 9999", format!(r#"{{"practitioner_id":"{ana}","start":"9999-12-31T23:59","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("not a date", format!(r#"{{"practitioner_id":"{ana}","start":"tomorrow at noon","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("the booked slot again", format!(r#"{{"practitioner_id":"{ana}","start":"{day}T12:00","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 409),
        ("unknown practitioner", r#"{"practitioner_id":"' OR 1=1 --","start":"2030-01-07T09:00","rep":{"name":"R","company":"C","email":"r@c.test"}}"#.to_string(), 422),
        ("duration 0", format!(r#"{{"practitioner_id":"{ana}","start":"2030-01-07T09:00","duration_minutes":0,"rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 422),
        ("duration 2^64", format!(r#"{{"practitioner_id":"{ana}","start":"2030-01-07T09:00","duration_minutes":18446744073709551616,"rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#), 400),
        ("bad email", format!(r#"{{"practitioner_id":"{ana}","start":"2030-01-07T09:00","rep":{{"name":"R","company":"C","email":"not an email"}}}}"#), 422),
        ("ESC in the rep's name", format!("{{\"practitioner_id\":\"{ana}\",\"start\":\"2030-01-07T09:00\",\"rep\":{{\"name\":\"\\u001b[2J\",\"company\":\"C\",\"email\":\"r@c.test\"}}}}"), 422),
        ("NUL in the notes", format!("{{\"practitioner_id\":\"{ana}\",\"start\":\"2030-01-07T09:00\",\"notes\":\"a\\u0000b\",\"rep\":{{\"name\":\"R\",\"company\":\"C\",\"email\":\"r@c.test\"}}}}"), 422),
    ] {
        cases.push(json_case(&format!("book: {what}"), post.clone(), &appointments, &body, expect));
    }
    let times = format!("{clinics}/times");
    for (what, body, expect) in [
        (
            "end before start",
            r#"{"weekday":"mon","start":"10:00","end":"09:00"}"#,
            422,
        ),
        ("25 o'clock", r#"{"weekday":"mon","start":"25:00","end":"26:00"}"#, 422),
        (
            "unknown weekday",
            r#"{"weekday":"funday","start":"09:00","end":"10:00"}"#,
            422,
        ),
        (
            "unknown category",
            r#"{"weekday":"mon","start":"09:00","end":"10:00","categories":["../../x"]}"#,
            422,
        ),
        (
            "slot of a minute",
            r#"{"weekday":"mon","start":"09:00","end":"10:00","slot_minutes":1}"#,
            422,
        ),
    ] {
        cases.push(json_case(
            &format!("publish: {what}"),
            post.clone(),
            &times,
            body,
            expect,
        ));
    }
    for (what, body, expect) in [
        ("year 0", r#"{"date":"0000-01-01"}"#, 422),
        ("February 30", r#"{"date":"2030-02-30"}"#, 422),
        ("SQL", r#"{"date":"2030-01-01'; --"}"#, 422),
    ] {
        cases.push(json_case(
            &format!("closed date: {what}"),
            post.clone(),
            &format!("{clinics}/closed"),
            body,
            expect,
        ));
    }
    cases.push(json_case(
        "category: control characters",
        post.clone(),
        &format!("{clinics}/categories"),
        "{\"name\":\"a\\u0007b\"}",
        422,
    ));
    cases.push(json_case(
        "link: unknown category",
        post.clone(),
        &format!("{clinics}/links"),
        r#"{"label":"L","categories":["nope"]}"#,
        422,
    ));
    cases.push(json_case(
        "link: control characters in label",
        post.clone(),
        &format!("{clinics}/links"),
        "{\"label\":\"a\\u001bb\",\"categories\":[]}",
        422,
    ));
    cases.push(json_case(
        "pms: unknown setting type",
        Method::PUT,
        &format!("{clinics}/pms"),
        r#"{"settings":{"base_url":7}}"#,
        400,
    ));
    cases.push(json_case(
        "pms: unknown connector",
        Method::PUT,
        &format!("{clinics}/pms"),
        r#"{"connector":"../../bin/sh"}"#,
        422,
    ));
    cases.push(json_case(
        "move to a skipped local time",
        Method::PATCH,
        &format!("/api/v1/appointments/{admin_appointment}"),
        r#"{"start":"2027-10-03T02:15"}"#,
        422,
    ));
    cases.push(json_case(
        "approve a booked appointment",
        post.clone(),
        &format!("/api/v1/appointments/{admin_appointment}/approve"),
        "{}",
        409,
    ));
    cases.push(json_case(
        "activate an unknown plugin",
        post.clone(),
        "/api/v1/plugins/nope/activate",
        r#"{"version":"1.0.0"}"#,
        404,
    ));
    cases.push(json_case(
        "install a non-component",
        post.clone(),
        "/api/v1/plugins",
        "MZ not wasm",
        422,
    ));

    // 4. Query strings: dates at both ends alike, paging, unknown parameters.
    for (what, query, expect) in [
        ("from year 9999", "from=9999-12-31", 422),
        ("to year 9999", "to=9999-12-31", 422),
        ("from year 0001", "from=0001-01-01", 422),
        ("to before from", "from=2030-02-01&to=2030-01-01", 422),
        ("not a date", "from=yesterday", 422),
        ("limit 0", "limit=0", 422),
        ("limit 10 million", "limit=10000000", 422),
        ("negative limit", "limit=-1", 400),
        ("forged cursor", "cursor=..%2F..%2Fetc", 400),
        ("unknown status", "status=deleted", 400),
        ("unknown parameter", "admin=true", 400),
        ("SQL in a date", "from=2030-01-01%27%20OR%201%3D1", 422),
    ] {
        cases.push(case(
            &format!("list: {what}"),
            get.clone(),
            &format!("{appointments}?{query}"),
            Auth::Good,
            None,
            expect,
        ));
    }

    // 5. Paths: traversal, encodings, unknown ids, methods, lengths, header floods.
    for (what, path, expect) in [
        ("asset traversal", "/assets/../../etc/passwd", 404),
        ("encoded asset traversal", "/assets/..%2F..%2Fetc%2Fpasswd", 404),
        ("double-encoded traversal", "/assets/%252e%252e%252fetc", 404),
        ("NUL in an asset name", "/assets/style.css%00.js", 404),
        ("invalid UTF-8 in a path", "/api/v1/clinics/%FF%FE", 400),
        ("clinic id with SQL", "/api/v1/clinics/1%27%20OR%20%271%27%3D%271", 404),
        (
            "clinic id of 2,000 characters",
            &format!("/api/v1/clinics/{}", "A".repeat(2000)),
            404,
        ),
        (
            "unknown appointment",
            "/api/v1/appointments/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            404,
        ),
        ("unknown route", "/api/v2/clinics", 404),
        ("dot segments", "/api/v1/clinics/../../metrics", 404),
    ] {
        cases.push(case(
            &format!("path: {what}"),
            get.clone(),
            path,
            Auth::Good,
            None,
            expect,
        ));
    }
    cases.push(case(
        "URI of 20 KiB",
        get.clone(),
        &format!("/api/v1/clinics?{}", "a".repeat(20 * 1024)),
        Auth::Good,
        None,
        414,
    ));
    cases.push(case(
        "wrong method on a route",
        Method::PUT,
        "/api/v1/clinics",
        Auth::Good,
        Some("{}"),
        405,
    ));
    cases.push(case(
        "DELETE on healthz",
        Method::DELETE,
        "/healthz",
        Auth::None,
        None,
        405,
    ));
    let mut flood = case("150 headers", get.clone(), "/api/v1/clinics", Auth::Good, None, 431);
    for i in 0..150 {
        flood.headers.push((format!("x-flood-{i}"), "y".into()));
    }
    cases.push(flood);
    let mut fat = case("a 40 KiB header", get.clone(), "/api/v1/clinics", Auth::Good, None, 431);
    fat.headers.push(("x-fat".into(), "z".repeat(40 * 1024)));
    cases.push(fat);
    let mut bearer_tricks = case(
        "token in a query string",
        get.clone(),
        &format!("/api/v1/clinics?token={}", server.token),
        Auth::None,
        None,
        401,
    );
    bearer_tricks.what = "token in a query string is not a credential".into();
    cases.push(bearer_tricks);
    let mut basic = case(
        "Basic instead of Bearer",
        get.clone(),
        "/api/v1/clinics",
        Auth::None,
        None,
        401,
    );
    basic
        .headers
        .push(("authorization".into(), format!("Basic {}", server.token)));
    cases.push(basic);
    let mut session_forgery = case(
        "forged session cookie",
        post.clone(),
        &format!("{clinics}/categories"),
        Auth::None,
        Some(r#"{"name":"Evil"}"#),
        401,
    );
    session_forgery
        .headers
        .push(("cookie".into(), "repbook_session=forged".into()));
    session_forgery.headers.push(("x-csrf-token".into(), "forged".into()));
    cases.push(session_forgery);
    cases.push(case(
        "sign in with a wrong token",
        post.clone(),
        "/api/v1/session",
        Auth::None,
        Some(r#"{"token":"guess"}"#),
        401,
    ));
    cases.push(case(
        "sign in with a non-string token",
        post.clone(),
        "/api/v1/session",
        Auth::None,
        Some(r#"{"token":{"$ne":null}}"#),
        400,
    ));

    // 6. The rep's public routes: no token needed, the capability is the key.
    let fake_link = "/book/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (what, method, path, body, expect) in [
        (
            "slots of an unknown link",
            get.clone(),
            format!("{fake_link}/slots"),
            None,
            404,
        ),
        (
            "slots with a traversal link",
            get.clone(),
            "/book/..%2F..%2Fapi/slots".to_string(),
            None,
            404,
        ),
        (
            "slots from year 9999",
            get.clone(),
            format!("{link_path}/slots?from=9999-12-31"),
            None,
            422,
        ),
        (
            "slots to year 9999",
            get.clone(),
            format!("{link_path}/slots?to=9999-12-31"),
            None,
            422,
        ),
        (
            "slots for a whole year",
            get.clone(),
            format!("{link_path}/slots?from=2030-01-01&to=2030-12-31"),
            None,
            422,
        ),
        (
            "slots with an unknown parameter",
            get.clone(),
            format!("{link_path}/slots?admin=1"),
            None,
            400,
        ),
        (
            "book through an unknown link",
            post.clone(),
            format!("{fake_link}/bookings"),
            Some(r#"{"start":"2030-01-07T12:00","rep":{"name":"R","company":"C","email":"r@c.test"}}"#.to_string()),
            404,
        ),
        (
            "book a time that is not offered",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                r#"{{"start":"{day}T03:00","practitioner_id":"{ana}","rep":{{"name":"R","company":"C","email":"r@c.test"}}}}"#
            )),
            409,
        ),
        (
            "book the taken slot",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                r#"{{"start":"{day}T12:00","practitioner_id":"{ana}","rep":{{"name":"R2","company":"C2","email":"r2@c.test"}}}}"#
            )),
            409,
        ),
        (
            "book with ESC in the name",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                "{{\"start\":\"{day}T12:15\",\"practitioner_id\":\"{ana}\",\"rep\":{{\"name\":\"\\u001b[31m\",\"company\":\"C\",\"email\":\"r3@c.test\"}}}}"
            )),
            422,
        ),
        (
            "book with a 200 character phone",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                r#"{{"start":"{day}T12:15","practitioner_id":"{ana}","rep":{{"name":"R","company":"C","email":"r4@c.test","phone":"{}"}}}}"#,
                "1".repeat(200)
            )),
            422,
        ),
        (
            "book with an unknown field",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                r#"{{"start":"{day}T12:15","status":"booked","rep":{{"name":"R","company":"C","email":"r5@c.test"}}}}"#
            )),
            400,
        ),
        (
            "book with a 64 KiB body",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(r#"{{"start":"{}"}}"#, "x".repeat(64 * 1024))),
            413,
        ),
        (
            "book at a skipped local time",
            post.clone(),
            format!("{link_path}/bookings"),
            Some(format!(
                r#"{{"start":"2027-10-03T02:30","practitioner_id":"{ana}","rep":{{"name":"R","company":"C","email":"r6@c.test"}}}}"#
            )),
            422,
        ),
        (
            "manage an unknown booking",
            get.clone(),
            "/manage/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/booking".to_string(),
            None,
            404,
        ),
        (
            "ICS of an unknown booking",
            get.clone(),
            "/manage/nope/booking.ics".to_string(),
            None,
            404,
        ),
        (
            "cancel an unknown booking",
            post.clone(),
            "/manage/nope/cancel".to_string(),
            Some("{}".to_string()),
            404,
        ),
        (
            "swap to a time not offered",
            post.clone(),
            format!("{manage}/swap"),
            Some(format!(r#"{{"start":"{day}T03:00"}}"#)),
            409,
        ),
        (
            "swap to a skipped local time",
            post.clone(),
            format!("{manage}/swap"),
            Some(r#"{"start":"2027-10-03T02:30"}"#.to_string()),
            422,
        ),
        (
            "swap with a wrong type",
            post.clone(),
            format!("{manage}/swap"),
            Some(r#"{"start":12}"#.to_string()),
            400,
        ),
        (
            "swap slots from year 9999",
            get.clone(),
            format!("{manage}/slots?from=9999-12-31"),
            None,
            422,
        ),
        (
            "cancel with the token in another case",
            post.clone(),
            format!("{}/cancel", manage.to_lowercase()),
            Some("{}".to_string()),
            404,
        ),
    ] {
        cases.push(case(
            &format!("public: {what}"),
            method,
            &path,
            Auth::None,
            body.as_deref(),
            expect,
        ));
    }
    // Pages answer a person with the HTML not-found page, and leak nothing about why.
    for (what, path) in [
        ("booking page of an unknown link", fake_link.to_string()),
        (
            "booking page with script in the link",
            "/book/%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
        ),
        ("manage page of an unknown token", "/manage/AAAA".to_string()),
    ] {
        cases.push(case(
            &format!("page: {what}"),
            get.clone(),
            &path,
            Auth::None,
            None,
            404,
        ));
    }

    assert!(cases.len() >= 150, "the corpus has {} requests", cases.len());
    let http = reqwest::Client::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let mut request = http.request(case.method.clone(), format!("{}{}", server.base, case.path));
        match case.auth {
            Auth::None => {}
            Auth::Wrong => request = request.bearer_auth("x".repeat(64)),
            Auth::Good => request = request.bearer_auth(&server.token),
        }
        if case.body.is_some() && !case.headers.iter().any(|(k, _)| k == "content-type") {
            request = request.header("content-type", "application/json");
        }
        for (key, value) in &case.headers {
            request = request.header(key.as_str(), value.as_str());
        }
        if let Some(body) = &case.body {
            request = request.body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            // The server answers 413 (Connection: close) as soon as a body passes the limit; a client still
            // writing the rest can see the close before it reads the answer. Nothing was stored either way.
            Err(error) if case.expect == 413 && error.is_request() => {
                println!(
                    "{}: the connection closed while the oversized body was sent ({error})",
                    case.what
                );
                continue;
            }
            Err(error) => panic!("{}: {error}", case.what),
        };
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.unwrap_or_default();
        if status != case.expect {
            wrong.push(format!(
                "{}: expected {}, got {status}: {}",
                case.what,
                case.expect,
                text.chars().take(200).collect::<String>()
            ));
            continue;
        }
        if kind.starts_with("text/html") {
            assert!(!text.contains("<script>alert"), "{}: reflected script", case.what);
            continue;
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let envelope =
            body["error"]["code"].is_string() && body["error"]["message"].as_str().is_some_and(|m| !m.is_empty());
        if !envelope {
            wrong.push(format!(
                "{}: {status} without the error envelope: {}",
                case.what,
                text.chars().take(200).collect::<String>()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} requests answered wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    // Sign-in attempts are recorded in the audit trail, right or wrong: that is the one tree a refused
    // request may add to, and only with sign-ins.
    let after = store_content(&server).await;
    let audit = |trees: &Trees| -> Vec<(Vec<u8>, Vec<u8>)> {
        trees
            .iter()
            .find(|(name, _)| name == b"audit")
            .map(|(_, entries)| entries.clone())
            .unwrap_or_default()
    };
    let added: Vec<Value> = audit(&after)
        .into_iter()
        .filter(|entry| !audit(&before).contains(entry))
        // A record is a format byte, then JSON.
        .map(|(_, value)| serde_json::from_slice(value.get(1..).unwrap_or_default()).unwrap_or(Value::Null))
        .collect();
    for entry in &added {
        assert!(
            ["sign-in refused", "locked out"].contains(&entry["action"].as_str().unwrap_or_default()),
            "a refused request left an audit entry: {entry}"
        );
        assert_eq!(entry["actor"]["kind"], "anyone", "{entry}");
    }
    let without_audit =
        |trees: &Trees| -> Vec<Tree> { trees.iter().filter(|(name, _)| name != b"audit").cloned().collect() };
    let (before, after) = (without_audit(&before), without_audit(&after));
    let changed = differences(&before, &after);
    assert!(changed.is_empty(), "rejected requests changed the store: {changed:?}");
    assert_eq!(before, after);
    println!("{} hostile requests refused as expected; store unchanged", cases.len());
}

/// The CLI as a person or a script would misuse it: every command refuses bad input with a message and a
/// non-zero exit, and never prints a control character it was sent.
#[tokio::test]
async fn hostile_cli_input_is_refused_and_output_is_never_raw() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let before = store_content(&server).await;
    let data = dir.path();
    for (args, needle) in [
        (
            vec![
                "clinic",
                "create",
                "--name",
                "\u{1b}[31mRed",
                "--timezone",
                "Australia/Sydney",
                "--state",
                "NSW",
            ],
            "control character",
        ),
        (
            vec![
                "clinic",
                "create",
                "--name",
                "A\nB",
                "--timezone",
                "Australia/Sydney",
                "--state",
                "NSW",
            ],
            "control character",
        ),
        (
            vec![
                "clinic",
                "create",
                "--name",
                "A",
                "--timezone",
                "../../etc/localtime",
                "--state",
                "NSW",
            ],
            "time zone",
        ),
        (vec!["clinic", "show", "../../etc/passwd"], "not found"),
        (
            vec!["clinic", "update", &clinic, "--name", "\u{7f}"],
            "control character",
        ),
        (
            vec![
                "staff",
                "add",
                "--clinic",
                &clinic,
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--ahpra",
                "x' OR 1=1",
            ],
            "AHPRA",
        ),
        (vec!["staff", "list", "--clinic", "nope"], "not found"),
        (
            vec![
                "appt",
                "book",
                "--clinic",
                &clinic,
                "--practitioner",
                "nope",
                "--start",
                "2030-01-07T09:00",
                "--rep-name",
                "R",
                "--rep-company",
                "C",
                "--rep-email",
                "r@c.test",
            ],
            "not a practitioner",
        ),
        (
            vec!["appt", "list", "--clinic", &clinic, "--from", "9999-12-31"],
            "outside",
        ),
        (
            vec![
                "appt",
                "list",
                "--clinic",
                &clinic,
                "--from",
                "2030-02-01",
                "--to",
                "2030-01-01",
            ],
            "before",
        ),
        (vec!["appt", "show", "\u{1b}]0;title\u{7}"], "not found"),
        (
            vec![
                "times",
                "add",
                "--clinic",
                &clinic,
                "--weekday",
                "mon",
                "--start",
                "10:00",
                "--end",
                "09:00",
            ],
            "after",
        ),
        (
            vec!["closed", "add", "--clinic", &clinic, "--date", "2030-02-30"],
            "date",
        ),
        (
            vec!["category", "add", "--clinic", &clinic, "--name", "\u{7}"],
            "control character",
        ),
        (
            vec!["link", "create", "--clinic", &clinic, "--label", "\u{1b}[2J"],
            "control character",
        ),
        (vec!["plugin", "activate", "nope", "1.0.0"], "plugin list"),
        (
            vec!["clinic", "set-pms", &clinic, "--setting", "no-equals-sign"],
            "KEY=VALUE",
        ),
        (
            vec![
                "clinic",
                "set-pms",
                &clinic,
                "--setting-file",
                "subscription_key=/nonexistent/key",
            ],
            "cannot read",
        ),
        (vec!["restore", "/nonexistent.backup"], "cannot read"),
    ] {
        let output = cli(data, &args);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(!output.status.success(), "{args:?} succeeded: {stdout}");
        assert!(
            stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: the message does not say what to fix ({needle}): {stderr}"
        );
        for text in [&stderr, &stdout] {
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{args:?} printed a raw control character: {text:?}"
            );
        }
    }
    let after = store_content(&server).await;
    assert_eq!(before, after, "refused CLI commands changed the store");
}
