//! Getting repbook's truth into the PMS: the clinic-level actions (validate, locations, staff sync,
//! reset), delivery of one appointment through its clinic's connector, and the worker that drains the
//! outbox with per-site concurrency, backoff with jitter and a pause while a site is offline.

mod connection;
mod delivery;
mod error;
mod reconcile;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

pub use connection::Validation;
pub use delivery::Delivered;
pub use error::SyncError;
pub use reconcile::ReconcileReport;
pub use worker::SiteStatus;

use crate::domain::Clinic;
use crate::plugins::{CallContext, LoadedPlugin, Registry};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub per_site_concurrency: usize,
    pub global_concurrency: usize,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Consecutive offline answers before a site's queue pauses and only health probes are sent.
    pub offline_threshold: u32,
    /// Longest wait between health probes of a paused site.
    pub probe_cap: Duration,
    /// How often the worker looks for due retries when nothing wakes it.
    pub tick: Duration,
    /// How often each clinic is reconciled with its PMS; `None` turns the schedule off.
    pub reconcile_every: Option<Duration>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            per_site_concurrency: 4,
            global_concurrency: 16,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(600),
            offline_threshold: 3,
            probe_cap: Duration::from_secs(15),
            tick: Duration::from_millis(250),
            reconcile_every: Some(Duration::from_secs(3600)),
        }
    }
}

pub struct SyncEngine {
    store: Arc<Store>,
    plugins: Arc<Registry>,
    config: SyncConfig,
    wake: Notify,
    global: Arc<Semaphore>,
    sites: Mutex<HashMap<String, worker::SiteState>>,
    retries: Mutex<HashMap<String, worker::Retry>>,
    in_flight: Mutex<HashSet<String>>,
    queues: Mutex<worker::Queues>,
    stopping: std::sync::atomic::AtomicBool,
    started: std::time::Instant,
    pub counters: Counters,
}

/// Totals since start, for `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub delivered: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
    pub parked: std::sync::atomic::AtomicU64,
    pub probes: std::sync::atomic::AtomicU64,
    pub reconciliations: std::sync::atomic::AtomicU64,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SyncEngine {
    pub fn new(store: Arc<Store>, plugins: Arc<Registry>, config: SyncConfig) -> Arc<SyncEngine> {
        Arc::new(SyncEngine {
            global: Arc::new(Semaphore::new(config.global_concurrency)),
            store,
            plugins,
            config,
            wake: Notify::new(),
            sites: Mutex::new(HashMap::new()),
            retries: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            queues: Mutex::new(worker::Queues::default()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            started: std::time::Instant::now(),
            counters: Counters::default(),
        })
    }

    /// Graceful stop: take no new work, let calls in flight finish (up to `bound`).
    pub async fn drain(&self, bound: Duration) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let deadline = std::time::Instant::now() + bound;
        while !locked(&self.in_flight).is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = locked(&self.in_flight).len();
        if left > 0 {
            tracing::warn!(
                left,
                "stopping with deliveries in flight; they are retried after restart"
            );
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Appointments of a clinic being delivered right now.
    pub fn in_flight_count(&self, clinic_appointments: &[String]) -> usize {
        let in_flight = locked(&self.in_flight);
        clinic_appointments.iter().filter(|id| in_flight.contains(*id)).count()
    }

    /// When the earliest waiting retry of these appointments is due, in milliseconds from now.
    pub fn next_retry_ms(&self, appointment_ids: &[String]) -> Option<u64> {
        let now = std::time::Instant::now();
        let retries = locked(&self.retries);
        appointment_ids
            .iter()
            .filter_map(|id| retries.get(id))
            .map(|r| r.due.saturating_duration_since(now).as_millis() as u64)
            .min()
    }

    /// Tells the worker there may be new outbox entries.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The clinic's active connector, or why there is none.
    pub fn connector(&self, clinic: &Clinic) -> Result<Arc<LoadedPlugin>, SyncError> {
        let name = clinic.pms.connector.as_deref().ok_or_else(|| {
            SyncError::NotConfigured(format!(
                "clinic {} has no PMS connector set: PUT its pms settings with \"connector\": \"halo-bp\"",
                clinic.id
            ))
        })?;
        self.plugins
            .get(name)
            .map_err(|_| SyncError::NoConnector(name.to_string()))
    }

    /// The context a connector call gets for this clinic.
    pub fn call_context(clinic: &Clinic) -> CallContext {
        CallContext {
            clinic_id: clinic.id.clone(),
            site_id: clinic.pms.site_id.clone(),
            pairing_code: clinic.pms.pairing_code.clone(),
            location_id: clinic.pms.location_id,
            settings: clinic.pms.settings.clone(),
            secrets: clinic.pms.secrets.clone(),
            site_cache: clinic.pms.site_cache.clone(),
        }
    }

    /// Keeps what the connector learned about the site (e.g. a changed Halo GUID) for the next call.
    async fn keep_site_cache(&self, clinic: &Clinic, ctx: &CallContext) -> Result<(), SyncError> {
        if ctx.site_cache != clinic.pms.site_cache {
            let cache = ctx.site_cache.clone();
            self.store
                .update_clinic(&clinic.id, move |c| {
                    c.pms.site_cache = cache;
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }
}
