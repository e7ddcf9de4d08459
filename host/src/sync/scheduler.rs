//! Per-site scheduling state. Each clinic's PMS site has its own queue, in-flight set, retry schedule,
//! Retry-After hold and health (pause + probes); nothing done for one site touches another's. Every
//! transition takes "now" as an argument, so the rules are tested on a fake clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::outcome::Decision;

/// One appointment's pending outbox entries, to be delivered together as its current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub clinic_id: String,
    pub appointment_id: String,
    /// Outbox sequence numbers this delivery consumes.
    pub entries: Vec<u64>,
}

/// How a site's health is judged.
#[derive(Debug, Clone)]
pub struct HealthPolicy {
    /// Consecutive offline answers before the site's queue pauses and only probes are sent.
    pub offline_threshold: u32,
    /// First wait between probes of a paused site; it doubles up to `probe_cap`.
    pub probe_base: Duration,
    pub probe_cap: Duration,
}

#[derive(Debug, Clone, Default)]
struct Retry {
    attempts: u32,
    due: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Health {
    consecutive_offline: u32,
    /// When the run of offline answers began.
    offline_since: Option<jiff::Timestamp>,
    paused_until: Option<Instant>,
    probe_interval: Duration,
    probing: bool,
}

#[derive(Debug)]
pub struct Site {
    queue: VecDeque<WorkItem>,
    in_flight: HashSet<String>,
    runners: usize,
    retries: HashMap<String, Retry>,
    /// Retry-After: nothing goes to this site before then.
    hold_until: Option<Instant>,
    health: Health,
    reconciling: bool,
    last_reconciled: Option<Instant>,
    last_success: Option<jiff::Timestamp>,
    last_error: Option<String>,
}

/// A site's state as the sync status shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteStatus {
    /// Offline: deliveries wait while the site's health is probed.
    pub paused: bool,
    /// Rate limited: nothing is sent before this many milliseconds have passed.
    pub held_for_ms: Option<u64>,
    pub next_probe_in_ms: Option<u64>,
    /// While paused: since when the site has not answered (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub offline_since: Option<jiff::Timestamp>,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
}

fn ms_until(t: Instant, now: Instant) -> u64 {
    t.saturating_duration_since(now).as_millis() as u64
}

impl Site {
    fn new(policy: &HealthPolicy) -> Site {
        Site {
            queue: VecDeque::new(),
            in_flight: HashSet::new(),
            runners: 0,
            retries: HashMap::new(),
            hold_until: None,
            health: Health {
                consecutive_offline: 0,
                offline_since: None,
                paused_until: None,
                probe_interval: policy.probe_base,
                probing: false,
            },
            reconciling: false,
            last_reconciled: None,
            last_success: None,
            last_error: None,
        }
    }

    fn paused(&self) -> bool {
        self.health.paused_until.is_some()
    }

    fn held(&self, now: Instant) -> bool {
        self.hold_until.is_some_and(|t| t > now)
    }

    fn busy_with(&self, appointment_id: &str) -> bool {
        self.in_flight.contains(appointment_id) || self.queue.iter().any(|w| w.appointment_id == appointment_id)
    }

    fn retry_waiting(&self, appointment_id: &str, now: Instant) -> bool {
        self.retries
            .get(appointment_id)
            .and_then(|r| r.due)
            .is_some_and(|due| due > now)
    }

    pub fn status(&self, now: Instant) -> SiteStatus {
        SiteStatus {
            paused: self.paused(),
            held_for_ms: self.hold_until.filter(|t| *t > now).map(|t| ms_until(t, now)),
            next_probe_in_ms: self.health.paused_until.map(|t| ms_until(t, now)),
            offline_since: self.health.offline_since.filter(|_| self.paused()),
            last_success: self.last_success.map(|t| t.to_string()),
            last_error: self.last_error.clone(),
        }
    }
}

/// Every site's state.
#[derive(Debug)]
pub struct Scheduler {
    sites: HashMap<String, Site>,
    policy: HealthPolicy,
    per_site: usize,
}

impl Scheduler {
    pub fn new(policy: HealthPolicy, per_site: usize) -> Scheduler {
        Scheduler {
            sites: HashMap::new(),
            policy,
            per_site: per_site.max(1),
        }
    }

    fn site(&mut self, clinic_id: &str) -> &mut Site {
        let policy = &self.policy;
        self.sites
            .entry(clinic_id.to_string())
            .or_insert_with(|| Site::new(policy))
    }

    pub fn status(&self, clinic_id: &str, now: Instant) -> SiteStatus {
        match self.sites.get(clinic_id) {
            Some(site) => site.status(now),
            None => Site::new(&self.policy).status(now),
        }
    }

    /// Queues `item` unless its site is paused or held, the appointment is queued or in flight already,
    /// or its retry is not due. Returns whether it was queued.
    pub fn offer(&mut self, item: WorkItem, now: Instant) -> bool {
        let site = self.site(&item.clinic_id);
        if site.paused() || site.held(now) || site.busy_with(&item.appointment_id) {
            return false;
        }
        if site.retry_waiting(&item.appointment_id, now) {
            return false;
        }
        site.queue.push_back(item);
        true
    }

    /// How many more runners each site wants (queued work, up to the per-site concurrency); counts them
    /// as started.
    pub fn runners_to_start(&mut self) -> Vec<String> {
        let per_site = self.per_site;
        let mut start = Vec::new();
        for (clinic_id, site) in &mut self.sites {
            let wanted = per_site.saturating_sub(site.runners).min(site.queue.len());
            site.runners += wanted;
            start.extend(std::iter::repeat_n(clinic_id.clone(), wanted));
        }
        start
    }

    /// The next item for one of a site's runners, now in flight; `None` retires the runner (nothing
    /// queued, or the site paused, held or stopping: its queue is dropped and rebuilt from the outbox
    /// when it may send again).
    pub fn next(&mut self, clinic_id: &str, now: Instant, stopping: bool) -> Option<WorkItem> {
        let site = self.site(clinic_id);
        if stopping || site.paused() || site.held(now) {
            site.queue.clear();
        }
        match site.queue.pop_front() {
            Some(item) => {
                site.in_flight.insert(item.appointment_id.clone());
                Some(item)
            }
            None => {
                site.runners = site.runners.saturating_sub(1);
                None
            }
        }
    }

    /// Claims an appointment for a delivery outside the queue (a person's Resend). `false` when it is in
    /// flight already.
    pub fn claim(&mut self, clinic_id: &str, appointment_id: &str) -> bool {
        let site = self.site(clinic_id);
        site.queue.retain(|w| w.appointment_id != appointment_id);
        site.retries.remove(appointment_id);
        site.in_flight.insert(appointment_id.to_string())
    }

    /// Gives back a claim that delivered nothing.
    pub fn unclaim(&mut self, clinic_id: &str, appointment_id: &str) {
        self.site(clinic_id).in_flight.remove(appointment_id);
    }

    /// Forgets an appointment's retry wait (a person queued it again).
    pub fn release(&mut self, clinic_id: &str, appointment_id: &str) {
        self.site(clinic_id).retries.remove(appointment_id);
    }

    /// Attempts so far of an appointment that keeps failing.
    pub fn attempts(&self, clinic_id: &str, appointment_id: &str) -> u32 {
        self.sites
            .get(clinic_id)
            .and_then(|s| s.retries.get(appointment_id))
            .map_or(0, |r| r.attempts)
    }

    /// Applies a delivery's decision: the appointment leaves the in-flight set, its retry is scheduled or
    /// forgotten, a rate limit holds the site, and the site's health follows the answer.
    pub fn finish(
        &mut self,
        clinic_id: &str,
        appointment_id: &str,
        decision: &Decision,
        signal: SiteSignal,
        error: Option<String>,
        now: Instant,
    ) {
        let threshold = self.policy.offline_threshold;
        let site = self.site(clinic_id);
        site.in_flight.remove(appointment_id);
        match decision {
            Decision::Done | Decision::Park => {
                site.retries.remove(appointment_id);
            }
            Decision::Retry { at, hold_site } => {
                let retry = site.retries.entry(appointment_id.to_string()).or_default();
                retry.attempts += 1;
                retry.due = Some(*at);
                if *hold_site {
                    site.hold_until = Some(site.hold_until.map_or(*at, |t| t.max(*at)));
                }
            }
        }
        match signal {
            SiteSignal::Answered => {
                site.health.consecutive_offline = 0;
                site.health.offline_since = None;
                site.last_success = Some(jiff::Timestamp::now());
            }
            SiteSignal::Offline => {
                if site.health.consecutive_offline == 0 {
                    site.health.offline_since = Some(jiff::Timestamp::now());
                }
                site.health.consecutive_offline += 1;
                if site.health.consecutive_offline >= threshold && !site.paused() {
                    tracing::warn!(
                        clinic = clinic_id,
                        "PMS site offline: pausing its queue and probing health"
                    );
                    site.health.paused_until = Some(now + site.health.probe_interval);
                }
            }
            SiteSignal::None => {}
        }
        if let Some(error) = error {
            site.last_error = Some(error);
        }
    }

    /// Paused sites whose next probe is due; each is marked as being probed.
    pub fn probes_due(&mut self, now: Instant) -> Vec<String> {
        self.sites
            .iter_mut()
            .filter(|(_, s)| !s.health.probing && s.health.paused_until.is_some_and(|t| t <= now))
            .map(|(id, s)| {
                s.health.probing = true;
                id.clone()
            })
            .collect()
    }

    /// A probe's answer: online resumes the site (its own retries fall due at once; a Retry-After hold
    /// stays), offline waits twice as long, up to the cap.
    pub fn probed(&mut self, clinic_id: &str, online: bool, now: Instant) {
        let (base, cap) = (self.policy.probe_base, self.policy.probe_cap);
        let site = self.site(clinic_id);
        site.health.probing = false;
        if online {
            tracing::info!(clinic = clinic_id, "PMS site back online: resuming its queue");
            site.health = Health {
                consecutive_offline: 0,
                offline_since: None,
                paused_until: None,
                probe_interval: base,
                probing: false,
            };
            for retry in site.retries.values_mut() {
                retry.due = Some(now);
            }
        } else {
            site.health.probe_interval = (site.health.probe_interval * 2).min(cap);
            site.health.paused_until = Some(now + site.health.probe_interval);
        }
    }

    /// Forgets a site's state (a connection reset).
    pub fn reset(&mut self, clinic_id: &str) {
        if let Some(site) = self.sites.get_mut(clinic_id) {
            let in_flight = std::mem::take(&mut site.in_flight);
            let runners = site.runners;
            *site = Site::new(&self.policy);
            site.in_flight = in_flight;
            site.runners = runners;
        }
    }

    /// Starts a reconciliation of this site when it is due (`every` since the last, or since `since`).
    pub fn reconcile_due(&mut self, clinic_id: &str, every: Duration, since: Instant, now: Instant) -> bool {
        let site = self.site(clinic_id);
        let last = site.last_reconciled.unwrap_or(since);
        let due = !site.reconciling && !site.paused() && now.duration_since(last) >= every;
        if due {
            site.reconciling = true;
        }
        due
    }

    pub fn reconciled(&mut self, clinic_id: &str, now: Instant) {
        let site = self.site(clinic_id);
        site.reconciling = false;
        site.last_reconciled = Some(now);
    }

    /// Appointments in flight, all sites.
    pub fn in_flight(&self) -> usize {
        self.sites.values().map(|s| s.in_flight.len()).sum()
    }

    pub fn in_flight_at(&self, clinic_id: &str) -> usize {
        self.sites.get(clinic_id).map_or(0, |s| s.in_flight.len())
    }

    /// Items waiting in a site's queue.
    #[cfg(test)]
    pub fn queued_at(&self, clinic_id: &str) -> usize {
        self.sites.get(clinic_id).map_or(0, |s| s.queue.len())
    }

    /// Milliseconds until the earliest retry of this site falls due.
    pub fn next_retry_ms(&self, clinic_id: &str, now: Instant) -> Option<u64> {
        let site = self.sites.get(clinic_id)?;
        let retry = site.retries.values().filter_map(|r| r.due).min();
        retry.into_iter().chain(site.hold_until).max().map(|t| ms_until(t, now))
    }

    /// When the worker should look again without being woken: the earliest retry, hold end or probe
    /// (a paused site's retries wait for its probe).
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.sites
            .values()
            .flat_map(|s| match s.health.paused_until {
                Some(probe) => vec![probe],
                None => s.retries.values().filter_map(|r| r.due).chain(s.hold_until).collect(),
            })
            .filter(|due| *due > now)
            .min()
    }
}

/// What a delivery's answer says about the site itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteSignal {
    /// The site answered (whatever it said about the appointment).
    Answered,
    /// The site did not answer: offline, or no answer in time.
    Offline,
    /// Nothing reached the site.
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler() -> Scheduler {
        Scheduler::new(
            HealthPolicy {
                offline_threshold: 3,
                probe_base: Duration::from_secs(1),
                probe_cap: Duration::from_secs(15),
            },
            2,
        )
    }

    fn item(clinic: &str, appointment: &str) -> WorkItem {
        WorkItem {
            clinic_id: clinic.into(),
            appointment_id: appointment.into(),
            entries: vec![1],
        }
    }

    #[test]
    fn scheduler_retry_after_on_one_site_holds_only_that_site() {
        let mut s = scheduler();
        let t0 = Instant::now();
        assert!(s.offer(item("A", "a1"), t0));
        assert!(s.offer(item("B", "b1"), t0));
        assert_eq!(s.next("B", t0, false).unwrap().appointment_id, "b1");
        let hold = Decision::Retry {
            at: t0 + Duration::from_secs(5),
            hold_site: true,
        };
        s.finish("B", "b1", &hold, SiteSignal::Answered, Some("429".into()), t0);
        // B takes nothing new before its Retry-After, A is unaffected.
        assert!(!s.offer(item("B", "b2"), t0 + Duration::from_secs(4)));
        assert!(s.offer(item("A", "a2"), t0 + Duration::from_secs(4)));
        assert!(s.offer(item("B", "b2"), t0 + Duration::from_secs(5)));
        assert_eq!(s.next_retry_ms("B", t0), Some(5000));
    }

    #[test]
    fn scheduler_site_recovery_releases_its_own_retries_but_not_another_sites_hold() {
        let mut s = scheduler();
        let t0 = Instant::now();
        for n in 0..3 {
            let id = format!("a{n}");
            assert!(s.offer(item("A", &id), t0));
            s.next("A", t0, false);
            let retry = Decision::Retry {
                at: t0 + Duration::from_secs(60),
                hold_site: false,
            };
            s.finish("A", &id, &retry, SiteSignal::Offline, None, t0);
        }
        assert!(s.status("A", t0).paused, "three offline answers pause the site");
        assert!(!s.offer(item("A", "a9"), t0));
        assert!(s.offer(item("B", "b1"), t0));
        s.next("B", t0, false);
        let hold = Decision::Retry {
            at: t0 + Duration::from_secs(30),
            hold_site: true,
        };
        s.finish("B", "b1", &hold, SiteSignal::Answered, None, t0);

        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(s.probes_due(t1), vec!["A".to_string()]);
        s.probed("A", true, t1);
        assert!(s.offer(item("A", "a0"), t1), "A's own retries are due again at once");
        assert!(!s.offer(item("B", "b1"), t1), "B still waits out its Retry-After");
        assert!(s.offer(item("B", "b1"), t0 + Duration::from_secs(30)));
    }

    #[test]
    fn scheduler_probes_back_off_to_the_cap_while_offline() {
        let mut s = scheduler();
        let mut now = Instant::now();
        for n in 0..3 {
            s.offer(item("A", &format!("a{n}")), now);
            s.next("A", now, false);
            let retry = Decision::Retry {
                at: now,
                hold_site: false,
            };
            s.finish("A", &format!("a{n}"), &retry, SiteSignal::Offline, None, now);
        }
        let mut waits = Vec::new();
        for _ in 0..6 {
            let due = s.next_deadline(now).unwrap();
            waits.push((due - now).as_secs());
            now = due;
            assert_eq!(s.probes_due(now).len(), 1);
            s.probed("A", false, now);
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 15, 15]);
    }

    #[test]
    fn scheduler_keeps_one_delivery_per_appointment_and_caps_runners() {
        let mut s = scheduler();
        let t0 = Instant::now();
        assert!(s.offer(item("A", "a1"), t0));
        assert!(!s.offer(item("A", "a1"), t0), "already queued");
        s.offer(item("A", "a2"), t0);
        s.offer(item("A", "a3"), t0);
        assert_eq!(s.runners_to_start().len(), 2, "per-site concurrency is 2");
        assert!(s.runners_to_start().is_empty());
        s.next("A", t0, false);
        assert!(!s.claim("A", "a1"), "a1 is in flight");
        assert!(s.claim("A", "a3"), "a queued item can be taken for a resend");
        assert_eq!(s.queued_at("A"), 1);
        assert_eq!(s.in_flight_at("A"), 2);
    }
}
