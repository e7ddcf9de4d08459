//! Sign-in under attack, against bookings, in one run of the real binary:
//!
//! 1. Reps' link bookings (2 clients) alone, then while 8 attackers send 1,000 wrong passwords for the
//!    owner's account from 20 addresses (through a trusted proxy), spread over the phase, once with the
//!    throttles as shipped and once with them opened wide (every guess then costs an argon2id hash, which
//!    runs on the blocking pool at most half the cores at a time). Prints each phase's booking p50/p99
//!    and the ratio to the quiet phases'. Target: within 10% at p99 with the throttles as shipped.
//! 2. User enumeration: 200 sign-ins each for an unknown address, a wrong password and a disabled account
//!    (throttle wide open, so each is checked in full); prints each kind's median and the largest ratio
//!    between them. Target: within noise (under 1.10).
//!
//! Run with `cargo bench --bench accounts` (BOOKINGS per phase, default 300).

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::accounts::{self, Session};
use support::booking::{ROOMY_LIMITS, book, clinic, link, publish, rep, set_rules, weekday};
use support::{Server, local_date_in};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Slots to book: 15 minutes each, 06:00-22:00, on 20 days, for two doctors.
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
    slots.sort();
    slots.dedup();
    (link(server, &c.id, "Bench reps", &[]).await, slots)
}

/// Books `count` slots from `slots` (2 clients), answering each booking's latency, sorted.
async fn bookings(
    server: Arc<Server>,
    link: &str,
    slots: Arc<Vec<(String, String)>>,
    next: &Arc<AtomicUsize>,
    count: usize,
) -> Vec<Duration> {
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..2 {
        let (server, link, slots, next) = (server.clone(), link.to_string(), slots.clone(), next.clone());
        clients.spawn(async move {
            let mut taken = Vec::new();
            for n in 0..count / 2 {
                let at = next.fetch_add(1, Ordering::SeqCst);
                let (start, doctor) = &slots[at];
                let who = rep(
                    &format!("Rep {client}-{n}"),
                    &format!("Company {at}"),
                    &format!("rep{at}@bench.test"),
                );
                let began = Instant::now();
                let (status, body) = book(&server, &link, start, Some(doctor), who).await;
                assert_eq!(status, 201, "{body}");
                taken.push(began.elapsed());
            }
            taken
        });
    }
    let mut all = Vec::new();
    while let Some(done) = clients.join_next().await {
        all.extend(done.unwrap());
    }
    all.sort();
    all
}

/// How many wrong passwords an attack sends in all (the flood), spread over the booking phase.
const GUESSES: usize = 1000;
const ATTACKERS: usize = 8;

/// Wrong passwords for `email` from 20 addresses by 8 attackers, `GUESSES` in all, each attacker pausing
/// `pace` between guesses, until they are sent or `stop`; answers how many were sent.
fn flood(server: Arc<Server>, email: &str, stop: Arc<AtomicBool>, pace: Duration) -> tokio::task::JoinSet<usize> {
    let mut attackers = tokio::task::JoinSet::new();
    for attacker in 0..ATTACKERS {
        let (server, email, stop) = (server.clone(), email.to_string(), stop.clone());
        attackers.spawn(async move {
            let mut sent = 0;
            while !stop.load(Ordering::SeqCst) && sent < GUESSES / ATTACKERS {
                tokio::time::sleep(pace).await;
                let mut session =
                    Session::new(&server).seen_from(&format!("203.0.113.{}", (attacker * 7 + sent) % 20 + 1));
                let _ = session
                    .post(
                        "/api/v1/session",
                        json!({"email": email, "password": format!("guess {sent} of {attacker}")}),
                    )
                    .await;
                sent += 1;
            }
            sent
        });
    }
    attackers
}

async fn phase(
    server: &Arc<Server>,
    link: &str,
    slots: &Arc<Vec<(String, String)>>,
    next: &Arc<AtomicUsize>,
    count: usize,
    attack: Option<Duration>,
) -> (Vec<Duration>, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let mut attackers = attack.map(|pace| flood(server.clone(), "owner@bench.test", stop.clone(), pace));
    let taken = bookings(server.clone(), link, slots.clone(), next, count).await;
    let took = began.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut sent = 0;
    if let Some(set) = attackers.as_mut() {
        while let Some(n) = set.join_next().await {
            sent += n.unwrap();
        }
    }
    (taken, sent, took)
}

fn report(name: &str, taken: &[Duration], quiet: &[Duration], guesses: usize) {
    let (p50, p99) = (percentile(taken, 0.5), percentile(taken, 0.99));
    println!(
        "  {name:<34} p50 {:>6.2} ms  p99 {:>6.2} ms  p99 ratio {:.2}  ({guesses} wrong passwords sent)",
        ms(p50),
        ms(p99),
        ms(p99) / ms(percentile(quiet, 0.99))
    );
}

async fn server_with(dir: &std::path::Path, extra: &[(&str, &str)]) -> Arc<Server> {
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.extend([
        ("REPBOOK_TRUSTED_PROXIES", "127.0.0.1"),
        ("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "1000000"),
    ]);
    env.extend_from_slice(extra);
    Arc::new(Server::start_with_env(dir, &env).await)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count: usize = std::env::var("BOOKINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    println!("accounts bench: {count} link bookings per phase, 2 clients; 8 attackers from 20 addresses");

    for (label, extra) in [
        ("throttle as shipped", vec![]),
        (
            "throttle wide open (every guess hashed)",
            vec![
                ("REPBOOK_SIGN_IN_FAILURES_PER_ACCOUNT", "100000000"),
                ("REPBOOK_SIGN_IN_FAILURES_PER_ADDRESS", "100000000"),
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let server = server_with(dir.path(), &extra).await;
        let _ = accounts::first_owner(&server, "owner@bench.test").await;
        let (link, slots) = prepare(&server).await;
        assert!(slots.len() >= count * 3);
        let slots = Arc::new(slots);
        let next = Arc::new(AtomicUsize::new(0));
        // Warm the path, then quiet, attacked, quiet again (the two quiet phases are averaged).
        let _ = bookings(server.clone(), &link, slots.clone(), &next, 20).await;
        let (mut quiet, _, took) = phase(&server, &link, &slots, &next, count, None).await;
        // The thousand guesses spread over a phase as long as the quiet one.
        let pace = took / (GUESSES / ATTACKERS) as u32;
        let (attacked, guesses, _) = phase(&server, &link, &slots, &next, count, Some(pace)).await;
        let (quiet_again, _, _) = phase(&server, &link, &slots, &next, count, None).await;
        quiet.extend(quiet_again);
        quiet.sort();
        println!("{label}:");
        report("bookings, no attack", &quiet, &quiet, 0);
        report("bookings during the attack", &attacked, &quiet, guesses);
    }

    // Enumeration: the same work and answer for unknown, wrong and disabled.
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(
        dir.path(),
        &[
            ("REPBOOK_SIGN_IN_FAILURES_PER_ACCOUNT", "100000000"),
            ("REPBOOK_SIGN_IN_FAILURES_PER_ADDRESS", "100000000"),
        ],
    )
    .await;
    let (_, mut owner) = accounts::first_owner(&server, "owner@bench.test").await;
    let c = server.create_clinic("Bench GP", "Australia/Sydney", "NSW").await;
    let (gone, _) = accounts::invited(&server, Some(&mut owner), "gone@bench.test", "front_desk", Some(&c)).await;
    let (status, _) = owner
        .patch(&format!("/api/v1/people/{}", gone.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 200);
    let kinds = [
        ("unknown address", "nobody@bench.test", accounts::PASSWORD),
        ("wrong password", "owner@bench.test", "not the password at all"),
        ("disabled account", "gone@bench.test", accounts::PASSWORD),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    // Interleaved, so a noisy moment of the machine falls on every kind alike.
    for _ in 0..200 {
        for (n, (_, email, password)) in kinds.iter().enumerate() {
            let began = Instant::now();
            let (status, _) = Session::new(&server)
                .post("/api/v1/session", json!({"email": email, "password": password}))
                .await;
            times[n].push(began.elapsed());
            assert_eq!(status, 401);
        }
    }
    println!("user enumeration, 200 sign-ins each (interleaved):");
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            ms(percentile(t, 0.5))
        })
        .collect();
    for ((name, _, _), median) in kinds.iter().zip(&medians) {
        println!("  {name:<18} median {median:>6.2} ms");
    }
    let (low, high) = medians
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), m| (l.min(*m), h.max(*m)));
    println!("  largest ratio between kinds: {:.3}", high / low);
}
