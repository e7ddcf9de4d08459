//! Clinic-local times through the real binary: DST gaps and folds in Sydney, Adelaide's +10:30 and Lord
//! Howe's half-hour shift, stored with the right instant and local date/seconds.

use crate::support::{Server, next_transitions};

#[tokio::test]
async fn sydney_dst_gap_refused_and_fold_needs_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;

    for (date, before, after) in next_transitions("Australia/Sydney") {
        if after > before {
            // DST starts: 02:00 jumps to 03:00, so 02:30 never happens.
            let (status, body) = server.book(&clinic, &doctor, &format!("{date}T02:30"), 15).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["error"]["code"], "nonexistent_local_time");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("02:00 to 03:00"),
                "{body}"
            );
        } else {
            // DST ends: 02:30 happens twice; without an offset the answer asks for one.
            let (status, body) = server.book(&clinic, &doctor, &format!("{date}T02:30"), 15).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["error"]["code"], "ambiguous_local_time");
            let (status, first) = server.book(&clinic, &doctor, &format!("{date}T02:30+11:00"), 15).await;
            assert_eq!(status, 201, "{first}");
            let (status, second) = server.book(&clinic, &doctor, &format!("{date}T02:30+10:00"), 15).await;
            assert_eq!(status, 201, "the repeated 02:30 is a different hour: {second}");
            assert_eq!(first["local_seconds"], 9000);
            assert_eq!(second["local_seconds"], 9000);
            assert!(first["start"].as_str().unwrap().ends_with("+11:00"));
            assert!(second["start"].as_str().unwrap().ends_with("+10:00"));
        }
    }
}

#[tokio::test]
async fn adelaide_and_lord_howe_store_the_right_instant_and_local_parts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;

    // Mid-January (daylight time) and mid-July (standard time) of next year, so the test never dates.
    let next_year = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1;
    let (summer, winter) = (format!("{next_year}-01-15"), format!("{next_year}-07-15"));
    let adelaide = server.create_clinic("Glenelg GP", "Australia/Adelaide", "SA").await;
    let doctor = server.add_doctor(&adelaide, "Ana", "Ng", "MED0001234567").await;
    let (status, body) = server.book(&adelaide, &doctor, &format!("{summer}T12:30"), 15).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["start"], format!("{summer}T12:30:00+10:30"));
    assert_eq!(body["local_date"], summer.as_str());
    assert_eq!(body["local_seconds"], 45_000);
    let (status, body) = server.book(&adelaide, &doctor, &format!("{winter}T12:30"), 15).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["start"], format!("{winter}T12:30:00+09:30"));

    let lord_howe = server
        .create_clinic("Island Clinic", "Australia/Lord_Howe", "NSW")
        .await;
    let doctor = server.add_doctor(&lord_howe, "Ben", "Ode", "MED0007654321").await;
    let (status, body) = server.book(&lord_howe, &doctor, &format!("{summer}T09:00"), 15).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["start"], format!("{summer}T09:00:00+11:00"));
    let (status, body) = server.book(&lord_howe, &doctor, &format!("{winter}T09:00"), 15).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["start"], format!("{winter}T09:00:00+10:30"));
    assert_eq!(body["local_seconds"], 32_400);
    for (date, before, after) in next_transitions("Australia/Lord_Howe") {
        assert_eq!((after - before).abs(), 1800, "Lord Howe shifts by 30 minutes");
        if after > before {
            let (status, body) = server.book(&lord_howe, &doctor, &format!("{date}T02:15"), 15).await;
            assert_eq!(status, 422, "{body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("02:00 to 02:30"),
                "{body}"
            );
        } else {
            // Clocks go back from 02:00 (+11:00) to 01:30 (+10:30): 01:45 happens twice, 30 minutes apart.
            let (status, body) = server.book(&lord_howe, &doctor, &format!("{date}T01:45"), 15).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["error"]["code"], "ambiguous_local_time");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("+11") && message.contains("+10:30"), "{message}");
            let (status, first) = server
                .book(&lord_howe, &doctor, &format!("{date}T01:45+11:00"), 15)
                .await;
            assert_eq!(status, 201, "{first}");
            let (status, second) = server
                .book(&lord_howe, &doctor, &format!("{date}T01:45+10:30"), 15)
                .await;
            assert_eq!(status, 201, "the second 01:45 is another half hour: {second}");
            let instant = |v: &serde_json::Value| v["start"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
            assert_eq!((instant(&second) - instant(&first)).as_mins(), 30);
            assert_eq!(
                (first["local_seconds"].as_u64(), second["local_seconds"].as_u64()),
                (Some(6300), Some(6300))
            );
            assert_eq!(first["local_date"], second["local_date"]);
        }
    }

    // The stored instant survives a restart unchanged (read back from sled, not recomputed from input).
    drop(server);
    let server = Server::start(dir.path()).await;
    let (_, list) = server
        .get(&format!(
            "/api/v1/clinics/{lord_howe}/appointments?from={winter}&to={winter}"
        ))
        .await;
    assert_eq!(list["appointments"][0]["start"], format!("{winter}T09:00:00+10:30"));
}
