//! Getting repbook's truth into the PMS: the clinic-level actions (validate, locations, staff sync,
//! reset), delivery of one appointment through its clinic's connector, and the worker that drains the
//! outbox per site with bounded concurrency, backoff with jitter, Retry-After and a pause while a site is
//! offline. `outcome` decides, `scheduler` keeps each site's state, `worker` and `delivery` act.

mod connection;
mod delivery;
mod error;
mod outcome;
mod reconcile;
mod scheduler;
mod status;
mod switch;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

pub use connection::{Probe, Validation};
pub use error::SyncError;
pub use outcome::{Delivered, RetryPolicy};
pub use reconcile::ReconcileReport;
pub use scheduler::{HealthPolicy, SiteStatus};
pub use status::{ParkedItem, SyncCounts, SyncStatus};
pub use switch::{OldAppointments, SwitchChoice, SwitchPreview, SwitchRequest, SwitchResult};

use crate::domain::Clinic;
use crate::plugins::{CallContext, LoadedPlugin, Registry};
use crate::store::Store;
use scheduler::Scheduler;

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub per_site_concurrency: usize,
    pub global_concurrency: usize,
    pub retry: RetryPolicy,
    pub health: HealthPolicy,
    /// Longest the worker sleeps without being woken (a safety net; commits and deadlines wake it).
    pub idle_wake: Duration,
    /// How often each clinic is reconciled with its PMS; `None` turns the schedule off.
    pub reconcile_every: Option<Duration>,
    /// Where mail comes from, when the server sends mail (the practice hears of parked appointments).
    pub mail: Option<crate::notify::MailIdentity>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            per_site_concurrency: 4,
            global_concurrency: 16,
            retry: RetryPolicy {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(600),
            },
            health: HealthPolicy {
                offline_threshold: 3,
                probe_base: Duration::from_secs(1),
                probe_cap: Duration::from_secs(15),
            },
            idle_wake: Duration::from_secs(1),
            reconcile_every: Some(Duration::from_secs(3600)),
            mail: None,
        }
    }
}

pub struct SyncEngine {
    store: Arc<Store>,
    plugins: Arc<Registry>,
    config: SyncConfig,
    scheduler: Mutex<Scheduler>,
    /// The store's outbox signal: every commit that queues something wakes the worker.
    wake: Arc<Notify>,
    /// Signalled whenever a delivery finishes, for a graceful stop waiting on the last one.
    finished: Notify,
    global: Semaphore,
    stopping: AtomicBool,
    started: Instant,
    pub counters: Counters,
}

/// Totals since start, for `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub parked: AtomicU64,
    pub probes: AtomicU64,
    pub reconciliations: AtomicU64,
}

impl SyncEngine {
    pub fn new(store: Arc<Store>, plugins: Arc<Registry>, config: SyncConfig) -> Arc<SyncEngine> {
        Arc::new(SyncEngine {
            scheduler: Mutex::new(Scheduler::new(config.health.clone(), config.per_site_concurrency)),
            wake: store.outbox_signal(),
            finished: Notify::new(),
            global: Semaphore::new(config.global_concurrency.max(1)),
            stopping: AtomicBool::new(false),
            started: Instant::now(),
            counters: Counters::default(),
            store,
            plugins,
            config,
        })
    }

    fn scheduler(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Graceful stop: no new deliveries start; those in flight may finish within `bound`. Returns how many
    /// were still in flight at the bound (their outbox entries stay, so they are delivered after restart).
    pub async fn stop(&self, bound: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let finished = self.finished.notified();
            let left = self.scheduler().in_flight();
            if left == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                let left = self.scheduler().in_flight();
                tracing::warn!(
                    left,
                    "stopping with deliveries in flight; they are delivered after restart"
                );
                return left;
            }
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn site_status(&self, clinic_id: &str) -> SiteStatus {
        self.scheduler().status(clinic_id, Instant::now())
    }

    /// Deliveries of this clinic in flight right now.
    pub fn in_flight_count(&self, clinic_id: &str) -> usize {
        self.scheduler().in_flight_at(clinic_id)
    }

    /// Milliseconds until this clinic's earliest waiting retry (or its Retry-After) is over.
    pub fn next_retry_ms(&self, clinic_id: &str) -> Option<u64> {
        self.scheduler().next_retry_ms(clinic_id, Instant::now())
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The clinic's active connector, or why there is none.
    pub fn connector(&self, clinic: &Clinic) -> Result<Arc<LoadedPlugin>, SyncError> {
        let name = clinic.pms.connector.as_deref().ok_or_else(|| {
            SyncError::NotConfigured(format!(
                "clinic {} has no PMS connector set: choose one (e.g. halo-bp) in its PMS settings",
                clinic.id
            ))
        })?;
        self.plugins.get(name).map_err(SyncError::no_connector)
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
            timezone: clinic.timezone.clone(),
            peer_clock_offset: None,
        }
    }

    /// Keeps what the connector learned about the site (e.g. a changed Halo GUID) for the next call.
    async fn keep_site_cache(&self, clinic: &Clinic, ctx: &CallContext) -> Result<(), SyncError> {
        if ctx.site_cache != clinic.pms.site_cache {
            let cache = ctx.site_cache.clone();
            self.store
                .update_clinic(&clinic.id, move |c| {
                    c.pms.site_cache = cache;
                    Ok::<_, SyncError>(())
                })
                .await?;
        }
        Ok(())
    }
}
