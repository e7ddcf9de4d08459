//! The doctors' real diaries, so reps are offered only times the doctor is in and free: a per-doctor,
//! per-day cache of when each one cannot be booked, read from the PMS through the connector's
//! `unavailability` export in the background and subtracted from the published slots. The rep's page reads
//! only this cache, never the PMS: a slow or offline PMS leaves the last answer (or none) in place and the
//! page says since when the slots were not checked. A clash the cache missed still parks at push time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::domain::{Clinic, PmsLinkState};
use crate::plugins::Registry;
use crate::plugins::contract::BusySpan;
use crate::store::Store;
use crate::sync::SyncEngine;

/// How long a day's diary is trusted, and how often the background refresh looks for stale days.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityConfig {
    pub ttl: Duration,
    pub refresh_every: Duration,
    /// Days per connector call (one doctor-week by default: a handful of Halo queries per call).
    pub days_per_call: u32,
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        AvailabilityConfig {
            ttl: Duration::from_secs(300),
            refresh_every: Duration::from_secs(30),
            days_per_call: 7,
        }
    }
}

struct DayDiary {
    busy: Vec<(Timestamp, Timestamp)>,
    read_at: Timestamp,
}

#[derive(Default)]
struct DoctorDiary {
    days: BTreeMap<Date, DayDiary>,
    last_read: Option<Timestamp>,
    last_error: Option<(Timestamp, String)>,
}

#[derive(Default)]
struct ClinicCounters {
    queries: AtomicU64,
    slots_removed: AtomicU64,
    refreshed_at: Mutex<Option<Timestamp>>,
}

/// What the slots of a range may subtract, from the cache only.
pub struct Busy {
    pub by_practitioner: HashMap<String, Vec<(Timestamp, Timestamp)>>,
    /// The oldest diary read the answer relies on; `None` when some day of a doctor was never read.
    pub checked_since: Option<Timestamp>,
    /// Every doctor's every day in the range was read within the TTL.
    pub fresh: bool,
    /// Whether any doctor of the clinic has a diary to read (a connector with "availability").
    pub applies: bool,
}

/// One doctor's diary as the admin side shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DiaryView {
    pub practitioner_id: String,
    pub name: String,
    /// RFC 3339; `null` before the first successful read.
    pub last_read: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub days_known: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvailabilityView {
    /// Whether the clinic's connector reads diaries ("availability" capability).
    pub reads_diaries: bool,
    pub ttl_secs: u64,
    pub doctors: Vec<DiaryView>,
}

pub struct Availability {
    store: Arc<Store>,
    plugins: Arc<Registry>,
    config: AvailabilityConfig,
    diaries: Mutex<HashMap<(String, String), DoctorDiary>>,
    counters: Mutex<HashMap<String, Arc<ClinicCounters>>>,
}

/// The instant of a clinic-local date and second (86400 = the next midnight): a time in a DST gap moves
/// to after the gap, one that happens twice is its first occurrence.
fn instant(clinic: &Clinic, date: Date, seconds: u32) -> Option<Timestamp> {
    let (date, seconds) = if seconds >= 86_400 {
        (date.checked_add(1.day()).ok()?, 0)
    } else {
        (date, seconds)
    };
    let time = jiff::civil::Time::new(
        (seconds / 3600) as i8,
        (seconds % 3600 / 60) as i8,
        (seconds % 60) as i8,
        0,
    )
    .ok()?;
    clinic
        .tz()
        .to_ambiguous_timestamp(date.to_datetime(time))
        .compatible()
        .ok()
}

impl Availability {
    pub fn new(store: Arc<Store>, plugins: Arc<Registry>, config: AvailabilityConfig) -> Self {
        Availability {
            store,
            plugins,
            config,
            diaries: Mutex::new(HashMap::new()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), DoctorDiary>> {
        self.diaries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counters(&self, clinic_id: &str) -> Arc<ClinicCounters> {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(clinic_id.to_string())
            .or_default()
            .clone()
    }

    /// Whether the clinic's connector can read diaries.
    pub fn reads_diaries(&self, clinic: &Clinic) -> bool {
        clinic.pms.is_active()
            && clinic
                .pms
                .connector
                .as_deref()
                .and_then(|name| self.plugins.get(name).ok())
                .is_some_and(|plugin| plugin.has_capability("availability"))
    }

    /// The busy spans of the clinic's matched doctors for `[first, last]`, from the cache only.
    pub fn busy(&self, clinic: &Clinic, first: Date, last: Date, now: Timestamp) -> Busy {
        let mut busy = Busy {
            by_practitioner: HashMap::new(),
            checked_since: None,
            fresh: true,
            applies: self.reads_diaries(clinic),
        };
        if !busy.applies {
            return busy;
        }
        let doctors: Vec<String> = self
            .store
            .staff(&clinic.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.pms.state == PmsLinkState::Synced && p.pms.user_id.is_some())
            .map(|p| p.id)
            .collect();
        let ttl = jiff::SignedDuration::try_from(self.config.ttl).unwrap_or(jiff::SignedDuration::from_secs(300));
        let diaries = self.lock();
        let mut oldest: Option<Timestamp> = None;
        let mut never = false;
        for doctor in doctors {
            let diary = diaries.get(&(clinic.id.clone(), doctor.clone()));
            let mut spans = Vec::new();
            let mut date = first;
            while date <= last {
                match diary.and_then(|d| d.days.get(&date)) {
                    Some(day) => {
                        spans.extend(day.busy.iter().copied());
                        oldest = Some(oldest.map_or(day.read_at, |o| o.min(day.read_at)));
                        if now.duration_since(day.read_at) > ttl {
                            busy.fresh = false;
                        }
                    }
                    None => {
                        never = true;
                        busy.fresh = false;
                    }
                }
                match date.checked_add(1.day()) {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
            busy.by_practitioner.insert(doctor, spans);
        }
        busy.checked_since = if never { None } else { oldest };
        busy
    }

    /// Counts slots the diaries removed from an answer (for the metric).
    pub fn note_removed(&self, clinic_id: &str, removed: usize) {
        if removed > 0 {
            self.counters(clinic_id)
                .slots_removed
                .fetch_add(removed as u64, Ordering::Relaxed);
        }
    }

    /// Reads the stale days of every matched doctor of a clinic, up to its booking horizon, one call per
    /// `days_per_call` days. Returns the connector calls made.
    pub async fn refresh_clinic(&self, clinic: &Clinic, now: Timestamp) -> usize {
        if !self.reads_diaries(clinic) {
            return 0;
        }
        let Some(plugin) = clinic.pms.connector.as_deref().and_then(|n| self.plugins.get(n).ok()) else {
            return 0;
        };
        let today = now.to_zoned_datetime(clinic.tz()).date();
        let horizon = today
            .checked_add((clinic.booking.booking_horizon_days as i64).days())
            .unwrap_or(today);
        let ttl = jiff::SignedDuration::try_from(self.config.ttl).unwrap_or(jiff::SignedDuration::from_secs(300));
        let staff = self.store.staff(&clinic.id).unwrap_or_default();
        let counters = self.counters(&clinic.id);
        let mut calls = 0;
        for doctor in staff.iter().filter(|p| p.pms.state == PmsLinkState::Synced) {
            let Some(user) = doctor.pms.user_id else { continue };
            let key = (clinic.id.clone(), doctor.id.clone());
            // Stale days, in runs of at most `days_per_call`.
            let stale: Vec<Date> = {
                let diaries = self.lock();
                let diary = diaries.get(&key);
                let mut dates = Vec::new();
                let mut date = today;
                while date <= horizon {
                    let fresh = diary
                        .and_then(|d| d.days.get(&date))
                        .is_some_and(|day| now.duration_since(day.read_at) <= ttl);
                    if !fresh {
                        dates.push(date);
                    }
                    match date.checked_add(1.day()) {
                        Ok(next) => date = next,
                        Err(_) => break,
                    }
                }
                dates
            };
            let mut runs: Vec<(Date, Date)> = Vec::new();
            for date in stale {
                match runs.last_mut() {
                    Some((first, last))
                        if last.checked_add(1.day()).ok() == Some(date)
                            && (date - *first).get_days() < self.config.days_per_call as i32 =>
                    {
                        *last = date
                    }
                    _ => runs.push((date, date)),
                }
            }
            for (first, last) in runs {
                let mut ctx = SyncEngine::call_context(clinic);
                calls += 1;
                counters.queries.fetch_add(1, Ordering::Relaxed);
                let result = plugin.unavailability(&mut ctx, user, first, last).await;
                let read_at = Timestamp::now();
                let mut diaries = self.lock();
                let diary = diaries.entry(key.clone()).or_default();
                match result {
                    Ok(spans) => {
                        let mut by_day: BTreeMap<Date, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
                        for BusySpan {
                            date,
                            start_seconds,
                            end_seconds,
                            ..
                        } in spans
                        {
                            if date < first || date > last {
                                continue;
                            }
                            if let (Some(from), Some(until)) =
                                (instant(clinic, date, start_seconds), instant(clinic, date, end_seconds))
                            {
                                by_day.entry(date).or_default().push((from, until));
                            }
                        }
                        let mut date = first;
                        while date <= last {
                            let busy = by_day.remove(&date).unwrap_or_default();
                            diary.days.insert(date, DayDiary { busy, read_at });
                            match date.checked_add(1.day()) {
                                Ok(next) => date = next,
                                Err(_) => break,
                            }
                        }
                        diary.last_read = Some(read_at);
                    }
                    Err(error) => {
                        let message = crate::sync::SyncError::from(error).to_string();
                        tracing::debug!(clinic = %clinic.id, doctor = %doctor.id, %message, "cannot read the diary");
                        diary.last_error = Some((read_at, message));
                        // The rest would fail the same way; the next round tries again.
                        break;
                    }
                }
            }
            // Days before today are of no use any more.
            if let Some(diary) = self.lock().get_mut(&key) {
                diary.days.retain(|date, _| *date >= today);
            }
        }
        *counters.refreshed_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Timestamp::now());
        calls
    }

    /// The background refresh: every `refresh_every`, each clinic whose connector reads diaries.
    pub async fn run(self: Arc<Self>) {
        let mut every = tokio::time::interval(self.config.refresh_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let clinics = self.store.clinics().unwrap_or_default();
            for clinic in clinics {
                self.refresh_clinic(&clinic, Timestamp::now()).await;
            }
        }
    }

    pub fn view(&self, clinic: &Clinic) -> AvailabilityView {
        let tz = clinic.tz();
        let staff = self.store.staff(&clinic.id).unwrap_or_default();
        let diaries = self.lock();
        AvailabilityView {
            reads_diaries: self.reads_diaries(clinic),
            ttl_secs: self.config.ttl.as_secs(),
            doctors: staff
                .iter()
                .map(|p| {
                    let diary = diaries.get(&(clinic.id.clone(), p.id.clone()));
                    DiaryView {
                        practitioner_id: p.id.clone(),
                        name: p.display_name(),
                        last_read: diary
                            .and_then(|d| d.last_read)
                            .map(|t| crate::domain::rfc3339_in(t, &tz)),
                        last_error: diary.and_then(|d| d.last_error.as_ref()).map(|(_, e)| e.clone()),
                        last_error_at: diary
                            .and_then(|d| d.last_error.as_ref())
                            .map(|(t, _)| crate::domain::rfc3339_in(*t, &tz)),
                        days_known: diary.map(|d| d.days.len()).unwrap_or(0),
                    }
                })
                .collect(),
        }
    }

    /// Prometheus lines: queries, refresh age and removed slots per clinic.
    pub fn render_metrics(&self, out: &mut String, now: Timestamp) {
        use std::fmt::Write;
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP repbook_availability_queries_total Diary reads (connector unavailability calls) per clinic.\n# TYPE repbook_availability_queries_total counter"
        );
        for (clinic, c) in counters.iter() {
            let _ = writeln!(
                out,
                "repbook_availability_queries_total{{clinic=\"{clinic}\"}} {}",
                c.queries.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP repbook_availability_refresh_age_seconds Seconds since the clinic's diaries were last refreshed.\n# TYPE repbook_availability_refresh_age_seconds gauge"
        );
        for (clinic, c) in counters.iter() {
            if let Some(at) = *c.refreshed_at.lock().unwrap_or_else(|p| p.into_inner()) {
                let _ = writeln!(
                    out,
                    "repbook_availability_refresh_age_seconds{{clinic=\"{clinic}\"}} {}",
                    now.duration_since(at).as_secs()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP repbook_availability_slots_removed_total Offered slots left out because the PMS diary is busy.\n# TYPE repbook_availability_slots_removed_total counter"
        );
        for (clinic, c) in counters.iter() {
            let _ = writeln!(
                out,
                "repbook_availability_slots_removed_total{{clinic=\"{clinic}\"}} {}",
                c.slots_removed.load(Ordering::Relaxed)
            );
        }
    }
}

impl super::App {
    /// When each doctor's diary was last read, and the last error reading it.
    pub fn availability_view(&self, clinic_id: &str) -> Result<AvailabilityView, super::AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        Ok(self.availability.view(&clinic))
    }

    /// Reads the stale days of the doctors' diaries now.
    pub async fn refresh_availability(&self, clinic_id: &str) -> Result<AvailabilityView, super::AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.availability.refresh_clinic(&clinic, Timestamp::now()).await;
        Ok(self.availability.view(&clinic))
    }
}
