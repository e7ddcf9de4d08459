//! What a waitlist costs, in the same run of one real `repbook serve` (mail written to a folder): rep
//! bookings through a link at a clinic with ENTRIES reps waiting (200 by default) and at one with none,
//! taken in turn by 4 clients (BOOKINGS each side, 400 by default): every booking wakes the offer sweep,
//! which reads the waiting clinic's open times under its lock. Prints each side's p50 and p99 and their
//! ratio (target: within 1.25x), then the time from a cancellation to its offer being queued with all
//! those reps waiting (p50 over the cancellations; target: well under a second). Run with
//! `cargo bench --bench waitlist` (needs `make test-deps` for the mail reader).

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::booking::{ROOMY_LIMITS, book, link, public_post, publish, rep, set_rules, weekday};
use support::smtp::read_mail;
use support::{Server, env_refs, local_date_in};

const CLIENTS: usize = 4;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A clinic whose Dr Ana Ng has 15-minute slots 06:00-22:00 on 20 days, and whose Dr Ben Okafor has four
/// noon slots on `ben_day`, all booked by the clinic. Returns the clinic, its link, Ana's slots, Ben's
/// visits and Ben's id.
async fn prepare(
    server: &Server,
    name: &str,
    ben_day: &str,
) -> (String, String, Vec<(String, String)>, Vec<String>, String) {
    let id = server.create_clinic(name, "Australia/Sydney", "NSW").await;
    let c = support::booking::BookingClinic {
        ana: server.add_doctor(&id, "Ana", "Ng", "MED0001234567").await,
        ben: server.add_doctor(&id, "Ben", "Okafor", "MED0007654321").await,
        id,
    };
    set_rules(
        server,
        &c.id,
        json!({"link_daily_cap": 1000, "booking_lead_hours": 0, "max_open_bookings_per_rep": 50}),
    )
    .await;
    let mut slots = Vec::new();
    for offset in 2..22 {
        let day = local_date_in("Australia/Sydney", offset);
        publish(
            server,
            &c.id,
            json!({"weekday": weekday(&day), "start": "06:00", "end": "22:00", "practitioner_id": c.ana}),
        )
        .await;
        for quarter in 0..64 {
            let minutes = 6 * 60 + quarter * 15;
            slots.push((format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60), c.ana.clone()));
        }
    }
    slots.sort();
    slots.dedup();
    publish(
        server,
        &c.id,
        json!({"weekday": weekday(ben_day), "start": "12:00", "end": "13:00", "practitioner_id": c.ben}),
    )
    .await;
    let mut visits = Vec::new();
    for minute in ["00", "15", "30", "45"] {
        let (status, body) = server.book(&c.id, &c.ben, &format!("{ben_day}T12:{minute}"), 15).await;
        assert_eq!(status, 201, "{body}");
        visits.push(body["id"].as_str().unwrap().to_string());
    }
    // Ben's times recur weekly: book the later weeks out too, so only these four can come free.
    let mut later = ben_day.parse::<jiff::civil::Date>().unwrap();
    for _ in 0..8 {
        later = later.checked_add(jiff::Span::new().days(7)).unwrap();
        for minute in ["00", "15", "30", "45"] {
            server.book(&c.id, &c.ben, &format!("{later}T12:{minute}"), 15).await;
        }
    }
    let link = link(server, &c.id, "Bench reps", &[]).await;
    (c.id, link, slots, visits, c.ben)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let env_number =
        |name: &str, default: usize| std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    let (entries, bookings) = (env_number("ENTRIES", 200), env_number("BOOKINGS", 400));
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let mut env: Vec<(&str, String)> = ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.push(("REPBOOK_MAIL_DIR", mail.display().to_string()));
    env.push(("REPBOOK_MAIL_FROM", "visits@repbook.test".into()));
    let server = Server::start_with_env(&dir.path().join("data"), &env_refs(&env)).await;
    let ben_day = local_date_in("Australia/Sydney", 3);
    let (waiting_clinic, waiting_link, waiting_slots, ben_visits, ben) = prepare(&server, "Waiting GP", &ben_day).await;
    let (_, plain_link, plain_slots, _, _) = prepare(&server, "Plain GP", &ben_day).await;

    // ENTRIES reps wait for Dr Ben Okafor, each confirming by the link in their mail.
    for n in 0..entries {
        let (status, body) = public_post(
            &server,
            &format!("{waiting_link}/waitlist"),
            json!({"rep": rep(&format!("Waiting {n}"), "Acme", &format!("wait{n}@acme.test")), "practitioner_id": ben, "until": local_date_in("Australia/Sydney", 50)}),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    let mut files: Vec<_> = std::fs::read_dir(&mail)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for letter in read_mail(&files, None) {
        if let Some(link) = letter.link("/waitlist/") {
            let path = link.split_once("://").unwrap().1;
            let path = &path[path.find('/').unwrap()..];
            let (status, body) = public_post(&server, &format!("{path}/confirm"), json!({})).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (_, list) = server.get(&format!("/api/v1/clinics/{waiting_clinic}/waitlist")).await;
    let waiting = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "waiting")
        .count();
    assert_eq!(waiting, entries, "every rep confirmed");

    // Bookings through both links in turn.
    let server = Arc::new(server);
    let sides = Arc::new([(plain_link, plain_slots), (waiting_link, waiting_slots)]);
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (server, sides) = (server.clone(), sides.clone());
        clients.spawn(async move {
            let mut taken = [Vec::new(), Vec::new()];
            for n in (client..bookings).step_by(CLIENTS) {
                let order = if n % 2 == 0 { [0, 1] } else { [1, 0] };
                for side in order {
                    let (link, slots) = &sides[side];
                    let (start, doctor) = &slots[n];
                    let who = rep(&format!("Rep {n}"), "Company", &format!("rep{n}-{side}@company.test"));
                    let began = Instant::now();
                    let (status, body) = book(&server, link, start, Some(doctor), who).await;
                    taken[side].push(began.elapsed());
                    assert_eq!(status, 201, "{body}");
                }
            }
            taken
        });
    }
    let (mut plain, mut with_waitlist) = (Vec::new(), Vec::new());
    for [p, w] in clients.join_all().await {
        plain.extend(p);
        with_waitlist.extend(w);
    }
    plain.sort();
    with_waitlist.sort();

    // Cancellations of Dr Okafor's visits: each is offered (in turn) to the longest-waiting rep.
    let mut offered = Vec::new();
    for (n, visit) in ben_visits.iter().enumerate() {
        let began = Instant::now();
        let (status, body) = server
            .post(&format!("/api/v1/appointments/{visit}/cancel"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        loop {
            let (_, list): (u16, Value) = server.get(&format!("/api/v1/clinics/{waiting_clinic}/waitlist")).await;
            if list["offers"].as_array().unwrap().len() > n {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "no offer for cancellation {n}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        offered.push(began.elapsed());
    }
    offered.sort();

    println!("link booking, {bookings} per side, {CLIENTS} clients, the same run:");
    println!(
        "  no waitlist:          p50 {:>7.2} ms   p99 {:>7.2} ms",
        ms(percentile(&plain, 0.5)),
        ms(percentile(&plain, 0.99))
    );
    println!(
        "  {entries} reps waiting:     p50 {:>7.2} ms   p99 {:>7.2} ms",
        ms(percentile(&with_waitlist, 0.5)),
        ms(percentile(&with_waitlist, 0.99))
    );
    let ratio = |p| percentile(&with_waitlist, p).as_secs_f64() / percentile(&plain, p).as_secs_f64();
    println!(
        "  waiting/none: p50 {:.2}x, p99 {:.2}x (target: p50 within 1.25x)",
        ratio(0.5),
        ratio(0.99)
    );
    println!(
        "cancellation to offer queued, {entries} reps waiting, {} cancellations: p50 {:.1} ms, max {:.1} ms",
        offered.len(),
        ms(percentile(&offered, 0.5)),
        ms(*offered.last().unwrap())
    );
}
