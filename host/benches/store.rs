//! Store write benchmark: durable bookings (record + index + outbox in one transaction, then a shared
//! flush) from 1 and from 16 concurrent writers. Prints latency percentiles and flushes per write, which
//! shows how much group commit saves. Run with `make bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use repbook::domain::{Clinic, NewAppointment, NewClinic, NewPractitioner, Practitioner, Rep, new_id};
use repbook::store::Store;

const BOOKINGS: usize = 2_000;

/// Bookings must be in the future; next year always is.
fn next_year() -> i16 {
    Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(writers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let clinic = Clinic::create(
        new_id(),
        NewClinic {
            name: "Bench".into(),
            timezone: "Australia/Sydney".into(),
            state: "NSW".into(),
            appointment_duration_minutes: 15,
        },
        Timestamp::now(),
    )
    .unwrap();
    store.put_clinic(&clinic).unwrap();
    let mut doctors = Vec::new();
    for n in 0..writers {
        let doctor = Practitioner::create(
            new_id(),
            clinic.id.clone(),
            NewPractitioner {
                title: "Dr".into(),
                first_name: "D".into(),
                last_name: format!("{n}"),
                ahpra: format!("MED{:010}", n + 1),
            },
        )
        .unwrap();
        store.put_practitioner(&doctor).unwrap();
        doctors.push(doctor.id);
    }
    let flushes_before = store.flush_count();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, doctor) in doctors.into_iter().enumerate() {
        let store = store.clone();
        let clinic = clinic.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in 0..BOOKINGS / writers {
                let day = next_year() + (n / 10_000) as i16;
                let slot = n % 10_000;
                let start = format!(
                    "{day}-{:02}-{:02}T{:02}:{:02}",
                    1 + slot / 800 % 12,
                    1 + slot / 32 % 25,
                    8 + slot % 32 / 4,
                    slot % 4 * 15
                );
                let new = NewAppointment {
                    practitioner_id: doctor.clone(),
                    rep: Rep {
                        name: format!("Rep {w}-{n}"),
                        company: "Acme".into(),
                        email: String::new(),
                        phone: None,
                    },
                    start,
                    duration_minutes: Some(15),
                    notes: String::new(),
                };
                let t = Instant::now();
                store.book_appointment(&clinic, new, Timestamp::now()).await.unwrap();
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
    latencies.sort();
    let flushes = store.flush_count() - flushes_before;
    println!(
        "{writers:>2} writers: {:>6.0} bookings/s  p50 {:>8.3} ms  p99 {:>8.3} ms  flushes/booking {:.3}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        flushes as f64 / latencies.len() as f64,
    );
}

#[tokio::main]
async fn main() {
    println!(
        "durable bookings ({BOOKINGS} per run; each = sled transaction over 3 trees + group-commit flush + fsync)"
    );
    run(1).await;
    run(16).await;
}
