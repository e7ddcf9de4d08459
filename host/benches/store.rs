//! Store write benchmark: repbook's durable booking (record + start index + outbox entry in one sled
//! transaction, then a shared group-commit flush + fsync) against raw sled doing the same transaction
//! shape with its own flush + fsync per write, in the same run, at 1, 16 and 32 writers, spread over 32
//! clinics and all on one clinic. Prints throughput, latency, flushes per booking and the ratio to raw.
//! Run with `make bench` (or `cargo bench --bench store`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use repbook::app::{App, Availability};
use repbook::clock::Clock;
use repbook::domain::{Clinic, NewAppointment, NewClinic, NewPractitioner, Practitioner, Rep, new_id};
use repbook::plugins::{Registry, Runtime};
use repbook::store::Store;
use repbook::sync::SyncEngine;
use sled::Transactional;

const BOOKINGS: usize = 3_200;
const CLINICS: usize = 32;

/// Bookings must be in the future; next year always is.
fn next_year() -> i16 {
    Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    flushes_per_booking: f64,
}

fn figures(mut latencies: Vec<Duration>, elapsed: Duration, flushes: u64) -> Figures {
    latencies.sort();
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        flushes_per_booking: flushes as f64 / latencies.len() as f64,
    }
}

/// A distinct local start per (writer, n), so no booking overlaps another of the same doctor.
fn start_of(n: usize) -> String {
    let slot = n % 8_000;
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        next_year() + (n / 8_000) as i16,
        1 + slot / 800 % 10,
        1 + slot / 32 % 25,
        8 + slot % 32 / 4,
        slot % 4 * 15
    )
}

/// Raw sled: the same three trees and transaction, a record of the same size, and a flush + fsync of
/// sled's log after every write (no group commit), from `writers` threads.
fn raw_sled(dir: &Path, writers: usize, record: &[u8]) -> Figures {
    let db = sled::Config::new()
        .path(dir.join("raw"))
        .cache_capacity(64 << 20)
        .open()
        .unwrap();
    let (records, index, outbox) = (
        db.open_tree("appointments").unwrap(),
        db.open_tree("appointments_by_start").unwrap(),
        db.open_tree("outbox").unwrap(),
    );
    let log = dir.join("raw").join("db");
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (db, records, index, outbox, log, record) = (
                db.clone(),
                records.clone(),
                index.clone(),
                outbox.clone(),
                log.clone(),
                record.to_vec(),
            );
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for n in 0..BOOKINGS / writers {
                    let t = Instant::now();
                    let id = format!("{w:04}{n:022}");
                    (&records, &index, &outbox)
                        .transaction(|(r, i, o)| {
                            r.insert(id.as_bytes(), record.as_slice())?;
                            i.insert(format!("c{w}/{n:016}{id}").as_bytes(), id.as_bytes())?;
                            let seq = o.generate_id()?;
                            o.insert(&seq.to_be_bytes(), &record[..160])?;
                            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                        })
                        .unwrap();
                    db.flush().unwrap();
                    File::open(&log).and_then(|f| f.sync_data()).unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    figures(latencies, started.elapsed(), (BOOKINGS / writers * writers) as u64)
}

fn clinic(n: usize) -> Clinic {
    Clinic::create(
        new_id(),
        NewClinic {
            name: format!("Bench {n}"),
            timezone: "Australia/Sydney".into(),
            state: "NSW".into(),
            appointment_duration_minutes: 15,
        },
        Timestamp::now(),
    )
    .unwrap()
}

/// repbook: `App::book` (a staff booking: the overlap rule under the clinic's lock, one transaction, the
/// group commit) from `writers` tasks, each with its own doctor, over `clinics` clinics.
async fn repbook(dir: &Path, writers: usize, clinics: usize) -> Figures {
    let store = Arc::new(Store::open(dir).unwrap());
    let plugins = Registry::open(Runtime::from_config(dir, &Default::default()).unwrap(), store.clone())
        .await
        .unwrap();
    let sync = SyncEngine::new(store.clone(), plugins.clone(), Default::default());
    let availability = Arc::new(Availability::new(store.clone(), plugins.clone(), Default::default()));
    let app = Arc::new(App::new(
        store.clone(),
        plugins,
        sync,
        availability,
        Clock::system(),
        dir.to_path_buf(),
        Arc::new(
            repbook::identity::Identity::new(None, "http://127.0.0.1", Default::default(), 1)
                .await
                .unwrap(),
        ),
    ));
    let clinics: Vec<Clinic> = (0..clinics).map(clinic).collect();
    for clinic in &clinics {
        store.put_clinic(clinic).unwrap();
    }
    let mut doctors = Vec::new();
    for w in 0..writers {
        let clinic = clinics[w % clinics.len()].clone();
        let doctor = Practitioner::create(
            new_id(),
            clinic.id.clone(),
            NewPractitioner {
                title: "Dr".into(),
                first_name: "D".into(),
                last_name: format!("{w}"),
                ahpra: format!("MED{:010}", w + 1),
            },
        )
        .unwrap();
        store.put_practitioner(&doctor).unwrap();
        doctors.push((clinic, doctor.id));
    }
    store.durable().await.unwrap();
    let flushes_before = store.flush_count();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, (clinic, doctor)) in doctors.into_iter().enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in 0..BOOKINGS / writers {
                let new = NewAppointment {
                    practitioner_id: doctor.clone(),
                    rep: Rep {
                        name: format!("Rep {w}-{n}"),
                        company: "Acme".into(),
                        email: "rep@acme.test".into(),
                        phone: None,
                    },
                    start: start_of(n),
                    duration_minutes: Some(15),
                    notes: String::new(),
                };
                let t = Instant::now();
                app.book(&clinic.id, new).await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    figures(latencies, elapsed, store.flush_count() - flushes_before)
}

fn line(label: &str, f: &Figures, raw: Option<&Figures>) {
    println!(
        "  {label:<30} {:>7.0} /s  p50 {:>7.3} ms  p99 {:>7.3} ms  flushes/booking {:>5.3}{}",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.flushes_per_booking,
        raw.map(|r| format!("  = {:.2} of raw", f.per_second / r.per_second))
            .unwrap_or_default()
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // A stored appointment's size, for raw sled's records.
    let sample = serde_json::to_vec(&serde_json::json!({
        "id": new_id(), "reference": new_id(), "clinic_id": new_id(), "practitioner_id": new_id(),
        "rep": {"name": "Rep 12-345", "company": "Acme", "email": "rep@acme.test", "phone": null},
        "start": "2027-03-01T22:00:00Z", "local_date": "2027-03-02", "local_seconds": 32400, "duration_minutes": 15,
        "notes": "", "status": "booked", "version": 1,
        "created_at": "2026-11-26T10:00:00Z", "updated_at": "2026-11-26T10:00:00Z"}))
    .unwrap();
    println!(
        "durable bookings, {BOOKINGS} per run (sled transaction over 3 trees + flush + fsync of sled's log; record {} bytes)",
        sample.len()
    );
    for writers in [1, 16, 32] {
        let raw = raw_sled(tempfile::tempdir().unwrap().path(), writers, &sample);
        println!("{writers} writers:");
        line("raw sled (flush per write)", &raw, None);
        let spread = repbook(tempfile::tempdir().unwrap().path(), writers, CLINICS).await;
        line(&format!("repbook, {CLINICS} clinics"), &spread, Some(&raw));
        let one = repbook(tempfile::tempdir().unwrap().path(), writers, 1).await;
        line("repbook, one clinic", &one, Some(&raw));
    }
}
