//! The outbox worker: turns pending outbox entries into work items on their sites' queues, keeps each
//! site's runners going, probes paused sites and starts scheduled reconciliations. It sleeps until a
//! commit queues something (the store's outbox signal) or the next retry, hold or probe falls due.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::scheduler::WorkItem;
use super::{SyncEngine, SyncError};

impl SyncEngine {
    /// Runs until stopped.
    pub async fn run(self: Arc<Self>) {
        while !self.stopping() {
            let now = Instant::now();
            self.probe_due_sites(now);
            self.reconcile_due_clinics(now);
            if let Err(error) = self.queue_due_work(now) {
                tracing::error!(%error, "cannot read the outbox");
            }
            let now = Instant::now();
            let wait = self
                .scheduler()
                .next_deadline(now)
                .map(|due| due.saturating_duration_since(now))
                .unwrap_or(self.config.idle_wake)
                .min(self.config.idle_wake);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Offers every appointment with pending entries to its site, then starts the runners the sites want.
    fn queue_due_work(self: &Arc<Self>, now: Instant) -> Result<(), SyncError> {
        let mut items: Vec<WorkItem> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (seq, entry) in self.store.outbox_entries()? {
            match index.get(&entry.appointment_id) {
                Some(&at) => items[at].entries.push(seq),
                None => {
                    index.insert(entry.appointment_id.clone(), items.len());
                    items.push(WorkItem {
                        clinic_id: entry.clinic_id,
                        appointment_id: entry.appointment_id,
                        entries: vec![seq],
                    });
                }
            }
        }
        let start = {
            let mut scheduler = self.scheduler();
            for item in items {
                scheduler.offer(item, now);
            }
            scheduler.runners_to_start()
        };
        for clinic_id in start {
            let engine = self.clone();
            tokio::spawn(async move { engine.run_site(clinic_id).await });
        }
        Ok(())
    }

    /// One of a site's runners: delivers from the site's queue until it is empty, paused or held.
    async fn run_site(self: Arc<Self>, clinic_id: String) {
        loop {
            let next = self.scheduler().next(&clinic_id, Instant::now(), self.stopping());
            let Some(item) = next else { return };
            let Ok(_permit) = self.global.acquire().await else {
                return;
            };
            if let Err(error) = self.deliver(item, false).await {
                tracing::debug!(clinic = %clinic_id, %error, "delivery attempt failed");
            }
        }
    }

    /// Health probes of paused sites whose wait is over.
    fn probe_due_sites(self: &Arc<Self>, now: Instant) {
        let due = self.scheduler().probes_due(now);
        for clinic_id in due {
            self.counters.probes.fetch_add(1, Ordering::Relaxed);
            let engine = self.clone();
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
                engine.scheduler().probed(&clinic_id, online, Instant::now());
                if online {
                    engine.wake.notify_one();
                }
            });
        }
    }

    /// Starts the scheduled reconciliation of clinics whose interval has passed.
    fn reconcile_due_clinics(self: &Arc<Self>, now: Instant) {
        let Some(every) = self.config.reconcile_every else {
            return;
        };
        let Ok(clinics) = self.store.clinics() else { return };
        for clinic in clinics
            .into_iter()
            .filter(|c| c.pms.is_active() && c.pms.validated_at.is_some())
        {
            if !self.scheduler().reconcile_due(&clinic.id, every, self.started, now) {
                continue;
            }
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(error) = engine.reconcile(&clinic.id).await {
                    tracing::warn!(clinic = %clinic.id, %error, "scheduled reconciliation failed");
                }
                engine.scheduler().reconciled(&clinic.id, Instant::now());
            });
        }
    }
}
