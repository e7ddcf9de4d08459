//! A rep's link booking with mail on and off, in the same run: two real `repbook serve` processes, one with
//! no mail and one whose SMTP server (aiosmtpd) takes 2 s per message, so its mail worker is busy for the
//! whole run. Clients book through both in turn (4 at a time, BOOKINGS each, 1000 by default) and the bench
//! prints each side's p50 and p99 and their ratio. Target: mail on is within 10% of mail off, because a
//! message is only written with the booking and sent later. Run with `cargo bench --bench mail` (needs
//! `make test-deps` for the SMTP server).

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::booking::{ROOMY_LIMITS, book, clinic, link, publish, rep, set_rules, weekday};
use support::smtp::{Smtp, Tls};
use support::{Server, env_refs, local_date_in};

const CLIENTS: usize = 4;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A clinic with two doctors and 15-minute slots 06:00-22:00 on 20 days from the day after tomorrow; returns
/// its link and the slots.
async fn prepare(server: &Server) -> (String, Vec<(String, String)>) {
    let c = clinic(server, "Australia/Sydney", "NSW").await;
    set_rules(server, &c.id, json!({"link_daily_cap": 1000, "booking_lead_hours": 0})).await;
    let mut slots = Vec::new();
    for offset in 2..22 {
        let day = local_date_in("Australia/Sydney", offset);
        for doctor in [&c.ana, &c.ben] {
            publish(
                server,
                &c.id,
                json!({"weekday": weekday(&day), "start": "06:00", "end": "22:00", "practitioner_id": doctor}),
            )
            .await;
            for quarter in 0..64 {
                let minutes = 6 * 60 + quarter * 15;
                slots.push((format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60), doctor.clone()));
            }
        }
    }
    // A weekday repeats within 20 days: keep each (start, doctor) once.
    slots.sort();
    slots.dedup();
    (link(server, &c.id, "Bench reps", &[]).await, slots)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bookings: usize = std::env::var("BOOKINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let smtp = Smtp::start(Tls::Plain).await;
    smtp.set(json!({"mode": "slow", "delay": 2.0}));

    let off_dir = tempfile::tempdir().unwrap();
    let off = Server::start_with_env(off_dir.path(), &ROOMY_LIMITS).await;
    let on_dir = tempfile::tempdir().unwrap();
    let mut on_env = smtp.env(1000);
    on_env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let on = Server::start_with_env(on_dir.path(), &env_refs(&on_env)).await;
    let (off_link, off_slots) = prepare(&off).await;
    let (on_link, on_slots) = prepare(&on).await;
    assert!(
        off_slots.len() >= bookings && on_slots.len() >= bookings,
        "not enough slots"
    );

    let sides = Arc::new([(off, off_link, off_slots), (on, on_link, on_slots)]);
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let sides = sides.clone();
        clients.spawn(async move {
            let mut taken = [Vec::new(), Vec::new()];
            for n in (client..bookings).step_by(CLIENTS) {
                // Alternate which side goes first, so neither always meets a warmer cache.
                let order = if n % 2 == 0 { [0, 1] } else { [1, 0] };
                for side in order {
                    let (server, link, slots) = &sides[side];
                    let (start, doctor) = &slots[n];
                    let who = rep(
                        &format!("Rep {n}"),
                        &format!("Company {n}"),
                        &format!("rep{n}@company{n}.test"),
                    );
                    let began = Instant::now();
                    let (status, body) = book(server, link, start, Some(doctor), who).await;
                    taken[side].push(began.elapsed());
                    assert_eq!(status, 201, "{body}");
                }
            }
            taken
        });
    }
    let mut off_times = Vec::new();
    let mut on_times = Vec::new();
    for [off, on] in clients.join_all().await {
        off_times.extend(off);
        on_times.extend(on);
    }
    off_times.sort();
    on_times.sort();
    let (_, on_mail) = sides[1].0.get("/api/v1/mail").await;
    let sent = smtp.received().len();

    println!("link booking, {bookings} per side, {CLIENTS} clients, the same run:");
    println!(
        "  mail off: p50 {:>7.2} ms   p99 {:>7.2} ms",
        percentile(&off_times, 0.5).as_secs_f64() * 1000.0,
        percentile(&off_times, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "  mail on (SMTP 2 s per message; {sent} sent, {} still waiting): p50 {:>7.2} ms   p99 {:>7.2} ms",
        on_mail["queued"],
        percentile(&on_times, 0.5).as_secs_f64() * 1000.0,
        percentile(&on_times, 0.99).as_secs_f64() * 1000.0
    );
    let ratio = |p| percentile(&on_times, p).as_secs_f64() / percentile(&off_times, p).as_secs_f64();
    println!(
        "  on/off: p50 {:.2}x, p99 {:.2}x (target: p50 within 1.10x)",
        ratio(0.5),
        ratio(0.99)
    );
    assert!(
        on_mail["queued"].as_u64().unwrap_or(0) > 0 || sent >= bookings,
        "the mail worker was busy during the run"
    );
}
