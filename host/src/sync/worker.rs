//! The outbox worker: finds appointments with pending entries, delivers each with a per-site and a global
//! concurrency cap, backs off with full jitter (honouring Retry-After), and pauses a site that keeps
//! answering "offline", probing its health instead until it is back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use super::{SyncEngine, SyncError, locked};
use crate::plugins::ConnectorFailure;

pub struct Retry {
    pub attempts: u32,
    pub due: Instant,
}

/// What the worker knows about one clinic's PMS site.
#[derive(Clone)]
pub struct SiteState {
    pub consecutive_offline: u32,
    pub paused_until: Option<Instant>,
    pub probe_interval: Duration,
    pub probing: bool,
    pub reconciling: bool,
    pub last_reconciled: Option<Instant>,
    pub last_success: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    pub paused: bool,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub next_probe_in_ms: Option<u64>,
}

impl SyncEngine {
    fn site(&self, clinic_id: &str) -> SiteState {
        locked(&self.sites)
            .entry(clinic_id.to_string())
            .or_insert_with(|| SiteState {
                consecutive_offline: 0,
                paused_until: None,
                probe_interval: self.config.backoff_base,
                probing: false,
                reconciling: false,
                last_reconciled: None,
                last_success: None,
                last_error: None,
            })
            .clone()
    }

    pub fn site_status(&self, clinic_id: &str) -> SiteStatus {
        let site = self.site(clinic_id);
        SiteStatus {
            paused: site.paused_until.is_some(),
            last_success: site.last_success.map(|t| t.to_string()),
            last_error: site.last_error,
            next_probe_in_ms: site
                .paused_until
                .map(|t| t.saturating_duration_since(Instant::now()).as_millis() as u64),
        }
    }

    pub(super) fn site_succeeded(&self, clinic_id: &str) {
        self.site(clinic_id);
        if let Some(site) = locked(&self.sites).get_mut(clinic_id) {
            site.consecutive_offline = 0;
            site.paused_until = None;
            site.probe_interval = self.config.backoff_base;
            site.last_success = Some(jiff::Timestamp::now());
        }
    }

    pub(super) fn site_failed(&self, clinic_id: &str, error: &SyncError) {
        self.site(clinic_id);
        let offline = matches!(
            error,
            SyncError::Connector(ConnectorFailure::SiteOffline(_) | ConnectorFailure::UnknownOutcome(_))
        );
        if let Some(site) = locked(&self.sites).get_mut(clinic_id) {
            site.last_error = Some(error.to_string());
            if offline {
                site.consecutive_offline += 1;
                if site.consecutive_offline >= self.config.offline_threshold && site.paused_until.is_none() {
                    tracing::warn!(
                        clinic = clinic_id,
                        "PMS site offline: pausing its queue and probing health"
                    );
                    site.paused_until = Some(Instant::now() + site.probe_interval);
                }
            }
        }
    }

    pub(super) fn schedule_retry(&self, appointment_id: &str, error: &SyncError) {
        let mut retries = locked(&self.retries);
        let retry = retries.entry(appointment_id.to_string()).or_insert(Retry {
            attempts: 0,
            due: Instant::now(),
        });
        retry.attempts += 1;
        let ceiling = self
            .config
            .backoff_base
            .saturating_mul(1u32 << retry.attempts.min(20).saturating_sub(1))
            .min(self.config.backoff_cap);
        let mut delay = Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64));
        if let SyncError::Connector(ConnectorFailure::RateLimited(ms)) = error {
            delay = delay.max(Duration::from_millis(*ms as u64));
        }
        retry.due = Instant::now() + delay;
    }

    /// Appointments whose entries can be delivered now, oldest first, with the entries' sequence numbers.
    fn due_work(&self) -> Result<Vec<(String, String, Vec<u64>)>, SyncError> {
        let now = Instant::now();
        let mut in_flight = locked(&self.in_flight).clone();
        in_flight.extend(locked(&self.queues).queued.iter().cloned());
        let retries = locked(&self.retries);
        let sites = locked(&self.sites);
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut due: Vec<(String, String, Vec<u64>)> = Vec::new();
        let mut skipped = std::collections::HashSet::new();
        for (seq, entry) in self.store.outbox_entries()? {
            if let Some(&at) = index.get(&entry.appointment_id) {
                due[at].2.push(seq);
                continue;
            }
            if skipped.contains(&entry.appointment_id) || in_flight.contains(&entry.appointment_id) {
                continue;
            }
            let skip = |skipped: &mut std::collections::HashSet<String>| skipped.insert(entry.appointment_id.clone());
            if retries.get(&entry.appointment_id).is_some_and(|r| r.due > now)
                || sites.get(&entry.clinic_id).is_some_and(|s| s.paused_until.is_some())
            {
                skip(&mut skipped);
                continue;
            }
            index.insert(entry.appointment_id.clone(), due.len());
            due.push((entry.clinic_id, entry.appointment_id, vec![seq]));
        }
        Ok(due)
    }

    /// Health probes for paused sites whose wait is over.
    fn probe_due_sites(self: &Arc<Self>) {
        let now = Instant::now();
        let due: Vec<String> = {
            let mut sites = locked(&self.sites);
            sites
                .iter_mut()
                .filter(|(_, s)| !s.probing && s.paused_until.is_some_and(|t| t <= now))
                .map(|(id, s)| {
                    s.probing = true;
                    id.clone()
                })
                .collect()
        };
        for clinic_id in due {
            let engine = self.clone();
            engine
                .counters
                .probes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                let online = match engine
                    .store
                    .clinic(&clinic_id)
                    .map_err(SyncError::from)
                    .and_then(|c| engine.connector(&c).map(|p| (c, p)))
                {
                    Ok((clinic, plugin)) => {
                        let mut ctx = Self::call_context(&clinic);
                        let health = plugin.health(&mut ctx).await;
                        let _ = engine.keep_site_cache(&clinic, &ctx).await;
                        matches!(health, Ok(h) if h.availability == "online")
                    }
                    Err(_) => false,
                };
                let mut sites = locked(&engine.sites);
                if let Some(site) = sites.get_mut(&clinic_id) {
                    site.probing = false;
                    if online {
                        tracing::info!(clinic = %clinic_id, "PMS site back online: resuming its queue");
                        site.paused_until = None;
                        site.consecutive_offline = 0;
                        site.probe_interval = engine.config.backoff_base;
                    } else {
                        site.probe_interval = (site.probe_interval * 2).min(engine.config.probe_cap);
                        site.paused_until = Some(Instant::now() + site.probe_interval);
                    }
                }
                drop(sites);
                if online {
                    // Everything that waited for the site is due again at once.
                    locked(&engine.retries).clear();
                    engine.notify();
                }
            });
        }
    }

    /// Starts the scheduled reconciliation of clinics whose interval has passed.
    fn reconcile_due_clinics(self: &Arc<Self>) {
        let Some(every) = self.config.reconcile_every else {
            return;
        };
        let Ok(clinics) = self.store.clinics() else { return };
        let now = Instant::now();
        for clinic in clinics
            .into_iter()
            .filter(|c| c.pms.is_active() && c.pms.validated_at.is_some())
        {
            self.site(&clinic.id);
            let due = {
                let mut sites = locked(&self.sites);
                let Some(site) = sites.get_mut(&clinic.id) else {
                    continue;
                };
                let since = site.last_reconciled.unwrap_or(self.started);
                let due = !site.reconciling && site.paused_until.is_none() && now.duration_since(since) >= every;
                if due {
                    site.reconciling = true;
                }
                due
            };
            if due {
                let engine = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = engine.reconcile(&clinic.id).await {
                        tracing::warn!(clinic = %clinic.id, %error, "scheduled reconciliation failed");
                    }
                    if let Some(site) = locked(&engine.sites).get_mut(&clinic.id) {
                        site.reconciling = false;
                        site.last_reconciled = Some(Instant::now());
                    }
                });
            }
        }
    }

    /// Runs until stopped: queue what is due per site, keep each site's runners going, then sleep until
    /// woken (a write queued something) or the next tick (retries falling due).
    pub async fn run(self: Arc<Self>) {
        while !self.stopping() {
            self.probe_due_sites();
            self.reconcile_due_clinics();
            match self.due_work() {
                Ok(due) => {
                    // One durable write for the whole batch instead of one per delivery.
                    let ids: Vec<String> = due.iter().map(|(_, id, _)| id.clone()).collect();
                    // An idle server (nothing newly marked) does not flush on every tick.
                    match self.store.mark_ever_sent(&ids) {
                        Ok(0) => {}
                        Ok(_) => {
                            if let Err(error) = self.store.durable().await {
                                tracing::error!(%error, "cannot flush the store");
                            }
                        }
                        Err(error) => tracing::error!(%error, "cannot mark appointments as being sent"),
                    }
                    self.dispatch(due)
                }
                Err(error) => tracing::error!(%error, "cannot read the outbox"),
            }
            let _ = tokio::time::timeout(self.config.tick, self.wake.notified()).await;
        }
    }

    /// Adds due work to the sites' queues and starts runners up to each site's concurrency.
    fn dispatch(self: &Arc<Self>, due: Vec<(String, String, Vec<u64>)>) {
        let mut start = Vec::new();
        {
            let mut queues = locked(&self.queues);
            for (clinic_id, appointment_id, seqs) in due {
                if queues.queued.insert(appointment_id.clone()) {
                    queues
                        .by_site
                        .entry(clinic_id)
                        .or_default()
                        .push_back((appointment_id, seqs));
                }
            }
            let Queues { by_site, runners, .. } = &mut *queues;
            for (clinic_id, queue) in by_site.iter() {
                let running = runners.entry(clinic_id.clone()).or_default();
                let wanted = self
                    .config
                    .per_site_concurrency
                    .saturating_sub(*running)
                    .min(queue.len());
                *running += wanted;
                start.extend(std::iter::repeat_n(clinic_id.clone(), wanted));
            }
        }
        for clinic_id in start {
            let engine = self.clone();
            tokio::spawn(async move { engine.run_site(clinic_id).await });
        }
    }

    /// One of a site's runners: delivers from the site's queue until it is empty or the site pauses.
    async fn run_site(self: Arc<Self>, clinic_id: String) {
        loop {
            let paused = self.site(&clinic_id).paused_until.is_some();
            let next = {
                let mut queues = locked(&self.queues);
                let Queues {
                    by_site,
                    queued,
                    runners,
                } = &mut *queues;
                let queue = by_site.entry(clinic_id.clone()).or_default();
                if paused || self.stopping() {
                    // Left for the next scan once the site is back.
                    for (appointment_id, _) in queue.drain(..) {
                        queued.remove(&appointment_id);
                    }
                }
                match queue.pop_front() {
                    Some((appointment_id, seqs)) => {
                        queued.remove(&appointment_id);
                        Some((appointment_id, seqs))
                    }
                    None => {
                        if let Some(running) = runners.get_mut(&clinic_id) {
                            *running = running.saturating_sub(1);
                        }
                        None
                    }
                }
            };
            let Some((appointment_id, seqs)) = next else { return };
            let Ok(_permit) = self.global.acquire().await else {
                return;
            };
            if let Err(error) = self.process(&appointment_id, Some(seqs)).await {
                tracing::debug!(appointment = %appointment_id, %error, "delivery attempt failed");
            }
        }
    }
}

/// Work handed to site runners: per-site FIFO queues, what is in them, and how many runners each site has.
#[derive(Default)]
pub struct Queues {
    by_site: HashMap<String, std::collections::VecDeque<(String, Vec<u64>)>>,
    queued: std::collections::HashSet<String>,
    runners: HashMap<String, usize>,
}
