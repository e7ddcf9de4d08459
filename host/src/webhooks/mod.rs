//! Telling other systems: the webhook worker. It turns each event of the webhook outbox into one delivery
//! per subscribed endpoint (the payload fixed then, so every attempt sends the same bytes), and sends what
//! is due: signed per Standard Webhooks, to the endpoint's host only and through the connectors' address
//! checks, at most one attempt per endpoint at a time (a slow receiver holds up nobody else), each bounded
//! by `--webhook-timeout-secs`. What to do after an attempt is `domain::attempt_outcome`'s decision.
//!
//! A delivery is recorded (durably) after the receiver answers; only a crash between the two sends one
//! `webhook-id` twice, which is why receivers deduplicate on it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::domain::{
    AppointmentView, AttemptOutcome, Delivery, DeliveryReply, DeliveryState, Endpoint, EventKind, PmsRecord,
    PmsSyncStatus, WebhookEvent, attempt_outcome, rfc3339_in, signature_header,
};
use crate::plugins::egress::{Egress, OperatorPolicy, PolicyResolver, RefusedAddress};
use crate::store::{Store, StoreError};

/// How the webhook worker sends.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// One attempt's bound: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// The first wait after a failed attempt (doubling, at most an hour).
    pub retry_base: Duration,
    /// Attempts in flight at once (over all endpoints; one per endpoint).
    pub concurrency: usize,
    /// Loopback and private addresses: the same operator consent as for connectors.
    pub operator: OperatorPolicy,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            concurrency: 16,
            operator: OperatorPolicy::default(),
        }
    }
}

#[derive(Debug, Default)]
pub struct WebhookCounters {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub parked: AtomicU64,
}

pub struct Webhooks {
    store: Arc<Store>,
    clock: Clock,
    config: WebhookConfig,
    client: reqwest::Client,
    /// Endpoints with an attempt in flight.
    busy: Mutex<HashSet<String>>,
    slots: Arc<Semaphore>,
    stopping: AtomicBool,
    pub counters: WebhookCounters,
}

/// The most of a receiver's answer kept with the delivery.
const REPLY_CHARS: usize = 500;

impl Webhooks {
    pub fn new(store: Arc<Store>, clock: Clock, config: WebhookConfig) -> Result<Arc<Webhooks>, reqwest::Error> {
        let client = reqwest::Client::builder()
            // A redirect could lead anywhere: a 3xx is the answer, and parks the delivery.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("repbook-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PolicyResolver(config.operator.reachable())))
            .build()?;
        Ok(Arc::new(Webhooks {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            store,
            clock,
            config,
            client,
            busy: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
            counters: WebhookCounters::default(),
        }))
    }

    /// Why `url` may not be sent to under the operator's policy, if it may not (checked on its text here;
    /// names are checked again on their resolved addresses when sending).
    pub fn refusal(operator: &OperatorPolicy, url: &url::Url) -> Option<String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let rule = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Egress::new(&[rule], operator).check(url).err()
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fans events out and sends what is due until stopped; a commit that writes an event wakes it.
    pub async fn run(self: Arc<Self>) {
        let wake = self.store.webhook_signal();
        while !self.stopping.load(Ordering::SeqCst) {
            if let Err(error) = self.fan_out() {
                tracing::error!(%error, "cannot turn webhook events into deliveries");
            }
            let now = self.clock.now();
            let mut next_due: Option<Timestamp> = None;
            match self.store.queued_deliveries() {
                Ok(queued) => {
                    let mut seen = HashSet::new();
                    // Deliveries queued before their endpoint was switched off wait until it is on again.
                    let mut off: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
                    for delivery in queued {
                        let endpoint = format!("{}/{}", delivery.clinic_id, delivery.endpoint_id);
                        let disabled = *off.entry(endpoint.clone()).or_insert_with(|| {
                            self.store
                                .endpoint(&delivery.clinic_id, &delivery.endpoint_id)
                                .is_ok_and(|e| e.disabled)
                        });
                        if disabled {
                            continue;
                        }
                        // The earliest due delivery of each endpoint; the rest wait their turn.
                        if delivery.next_at > now {
                            next_due = Some(next_due.map_or(delivery.next_at, |t| t.min(delivery.next_at)));
                            continue;
                        }
                        if !seen.insert(endpoint.clone()) || self.busy().contains(&endpoint) {
                            continue;
                        }
                        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                            break;
                        };
                        self.busy().insert(endpoint.clone());
                        let worker = self.clone();
                        tokio::spawn(async move {
                            worker.attempt(delivery).await;
                            worker.busy().remove(&endpoint);
                            drop(permit);
                            worker.store.webhook_signal().notify_one();
                        });
                    }
                }
                Err(error) => tracing::error!(%error, "cannot read the webhook queue"),
            }
            let wait = next_due
                .map(|due| due.duration_since(self.clock.now()))
                .and_then(|wait| Duration::try_from(wait).ok())
                .unwrap_or(Duration::from_secs(5))
                .clamp(Duration::from_millis(20), Duration::from_secs(5));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Turns every pending event into its deliveries.
    fn fan_out(&self) -> Result<(), StoreError> {
        loop {
            let events = self.store.pending_webhook_events(100)?;
            if events.is_empty() {
                return Ok(());
            }
            for (seq, event) in events {
                let endpoints = self.store.endpoints(&event.clinic_id).unwrap_or_default();
                let wanted: Vec<&Endpoint> = endpoints
                    .iter()
                    // An endpoint hears of what happens from its creation on.
                    .filter(|e| e.wants(event.kind) && e.created_at <= event.at)
                    .collect();
                let deliveries = if wanted.is_empty() {
                    Vec::new()
                } else {
                    match self.payload(&event) {
                        Ok(payload) => wanted
                            .into_iter()
                            .map(|endpoint| new_delivery(endpoint, &event.id, event.kind, payload.clone(), event.at))
                            .collect(),
                        // Its clinic is gone (deleted since): nobody is left to tell.
                        Err(StoreError::NotFound { .. }) => Vec::new(),
                        Err(error) => return Err(error),
                    }
                };
                self.store.fan_out(Some(seq), &deliveries)?;
            }
        }
    }

    /// The body every endpoint gets: `type`, `timestamp` and `data`, where `data` is the API's view of
    /// the appointment (with where it stands with the PMS), or the event's own detail.
    fn payload(&self, event: &WebhookEvent) -> Result<String, StoreError> {
        let clinic = self.store.clinic(&event.clinic_id)?;
        let view = match &event.appointment {
            Some(appointment) => {
                let name = match &appointment.practitioner_id {
                    Some(id) => self
                        .store
                        .practitioner(&clinic.id, id)
                        .map(|p| p.display_name())
                        .unwrap_or_else(|_| "a practitioner no longer listed".into()),
                    None => "the clinic".into(),
                };
                let pms = match event.kind {
                    EventKind::PmsSynced | EventKind::PmsParked => event
                        .detail
                        .clone()
                        .and_then(|d| serde_json::from_value::<PmsSyncStatus>(d).ok())
                        .unwrap_or_else(|| PmsRecord::default().status),
                    _ => {
                        let queued = self.store.queued_appointments()?.contains(&appointment.id);
                        self.store.pms_status(appointment, queued, clinic.pms.is_active())?
                    }
                };
                Some(AppointmentView::new(appointment, &clinic, name, pms))
            }
            None => None,
        };
        let data = match (event.kind, view, &event.detail) {
            (EventKind::WaitlistOffered | EventKind::WaitlistClaimed, view, Some(detail)) => {
                let mut detail = detail.clone();
                if let (Some(view), Some(object)) = (view, detail.as_object_mut()) {
                    object.insert("appointment".into(), serde_json::to_value(view).unwrap_or_default());
                }
                detail
            }
            (_, Some(view), _) => serde_json::to_value(view).unwrap_or_default(),
            (_, None, Some(detail)) => detail.clone(),
            (_, None, None) => serde_json::Value::Null,
        };
        Ok(serde_json::json!({
            "type": event.kind.name(),
            "timestamp": rfc3339_in(event.at, &clinic.tz()),
            "data": data,
        })
        .to_string())
    }

    /// One attempt at one delivery, and its record.
    async fn attempt(&self, delivery: Delivery) {
        let endpoint = match self.store.endpoint(&delivery.clinic_id, &delivery.endpoint_id) {
            Ok(endpoint) => endpoint,
            Err(_) => return, // removed meanwhile: its queue entries went with it
        };
        let now = self.clock.now();
        let (status, detail) = self.send(&endpoint, &delivery, now).await;
        let attempts = delivery.attempts + 1;
        let after = self.clock.now();
        let window_from = delivery.retried_at.unwrap_or(delivery.created_at);
        let outcome = match &status {
            Err(refused) => AttemptOutcome::Park(refused.clone()),
            Ok(status) => {
                let base = jiff::SignedDuration::try_from(self.config.retry_base)
                    .unwrap_or(jiff::SignedDuration::from_secs(5));
                attempt_outcome(*status, attempts, window_from, after, base)
            }
        };
        let recorded = (|| -> Result<(), StoreError> {
            let mut current = self
                .store
                .delivery(&delivery.clinic_id, &delivery.endpoint_id, &delivery.event_id)?;
            if current.state != DeliveryState::Pending || current.attempts != delivery.attempts {
                return Ok(()); // a person acted on it meanwhile
            }
            current.attempts = attempts;
            current.last = Some(DeliveryReply {
                at: after,
                status: status.as_ref().ok().copied().flatten(),
                detail: detail.clone(),
            });
            match &outcome {
                AttemptOutcome::Delivered => {
                    current.state = DeliveryState::Delivered;
                    current.delivered_at = Some(after);
                }
                AttemptOutcome::RetryAt(at) => current.next_at = *at,
                AttemptOutcome::Park(why) => {
                    current.state = DeliveryState::Parked;
                    if let Some(last) = current.last.as_mut() {
                        last.detail = format!("{why}. {}", last.detail).trim_end_matches(". ").to_string();
                    }
                }
            }
            self.store.put_delivery(&current)
        })();
        let counter = match &outcome {
            AttemptOutcome::Delivered => &self.counters.delivered,
            AttemptOutcome::RetryAt(_) => &self.counters.retried,
            AttemptOutcome::Park(why) => {
                tracing::warn!(endpoint = %endpoint.id, event = %delivery.event_id, %why, "webhook delivery parked");
                &self.counters.parked
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match recorded {
            Ok(()) => {
                if let Err(error) = self.store.durable().await {
                    tracing::error!(%error, "cannot make a webhook outcome durable");
                }
            }
            Err(error) => tracing::error!(%error, "cannot record a webhook delivery's outcome"),
        }
    }

    /// Sends once: `Ok(status)` (`None`: no answer) with the answer's start or why there was none, or
    /// `Err(why)` when the operator's policy forbids the address (retrying would not change that).
    async fn send(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
        now: Timestamp,
    ) -> (Result<Option<u16>, String>, String) {
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(error) => {
                return (
                    Err(format!("the endpoint's URL does not parse ({error})")),
                    String::new(),
                );
            }
        };
        if let Some(refused) = Self::refusal(&self.config.operator, &url) {
            return (Err(refused), String::new());
        }
        // The header says when this attempt left, by the machine's clock (receivers reject stale ones),
        // whatever clock the booking rules read.
        let timestamp = Timestamp::now().as_second();
        let signature = signature_header(
            endpoint.signing_secrets(now),
            &delivery.event_id,
            timestamp,
            delivery.payload.as_bytes(),
        );
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone());
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = tokio::time::timeout(self.config.timeout, response.text())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let detail: String = body.chars().take(REPLY_CHARS).collect();
                (Ok(Some(status)), detail)
            }
            Err(error) => {
                let mut source: Option<&dyn std::error::Error> = Some(&error);
                while let Some(inner) = source {
                    if let Some(refused) = inner.downcast_ref::<RefusedAddress>() {
                        return (Err(refused.0.clone()), String::new());
                    }
                    source = inner.source();
                }
                let why = if error.is_timeout() {
                    format!("no answer within {} s", self.config.timeout.as_secs())
                } else if error.is_connect() {
                    format!("could not connect ({})", root_cause(&error))
                } else {
                    format!("the request failed ({})", root_cause(&error))
                };
                (Ok(None), why)
            }
        }
    }

    /// No new attempts start; those in flight may finish within `bound`.
    pub async fn stop(&self, bound: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.store.webhook_signal().notify_one();
        let deadline = tokio::time::Instant::now() + bound;
        while !self.busy().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A new delivery of event `event_id` to `endpoint`, due now.
pub fn new_delivery(endpoint: &Endpoint, event_id: &str, kind: EventKind, payload: String, at: Timestamp) -> Delivery {
    Delivery {
        event_id: event_id.to_string(),
        endpoint_id: endpoint.id.clone(),
        clinic_id: endpoint.clinic_id.clone(),
        kind,
        payload,
        created_at: at,
        state: DeliveryState::Pending,
        attempts: 0,
        next_at: at,
        last: None,
        delivered_at: None,
        retried_at: None,
    }
}
