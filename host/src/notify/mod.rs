//! Telling people: the notification outbox's worker, and how its messages are written and sent. Messages
//! are written (`compose`, with a module per family: `rep`, `waitlist`, `clinic`, `accounts`) in the same
//! store transaction as the change they tell of; this worker sends them off every request's path (`transport`), decides what each answer means (`outcome`, pure), and
//! records it: sent, retried with backoff, or parked with the mail server's reply where the admin page,
//! `doctor` and `/metrics` show it. A slow or dead mail server slows nothing but this worker.

pub mod accounts;
mod calendar;
mod clinic;
mod compose;
mod outcome;
mod rep;
mod transport;
mod waitlist;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use calendar::{Method, Parties, calendar};
pub use clinic::ClinicFacts;
pub use compose::{Composer, Letter, MailIdentity, RepLinks, compose_test, when};
pub use outcome::{Decision, RetryPolicy, classify};
pub use transport::{MailSettings, MailSetupError, Mailer, SendFailure};

use crate::clock::Clock;
use crate::domain::{MessageState, OutgoingMessage};
use crate::store::Store;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub retry: RetryPolicy,
    /// Messages being sent at once.
    pub concurrency: usize,
    /// Longest sleep when nothing wakes the worker.
    pub idle_wake: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            retry: RetryPolicy::default(),
            concurrency: 4,
            idle_wake: Duration::from_secs(5),
        }
    }
}

/// Totals since start, for `/metrics`.
#[derive(Default)]
pub struct MailCounters {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub parked: AtomicU64,
}

pub struct Notifier {
    store: Arc<Store>,
    mailer: Option<Arc<Mailer>>,
    clock: Clock,
    config: NotifyConfig,
    in_flight: Mutex<HashSet<String>>,
    slots: Arc<Semaphore>,
    stopping: AtomicBool,
    pub counters: MailCounters,
}

impl Notifier {
    pub fn new(store: Arc<Store>, mailer: Option<Arc<Mailer>>, clock: Clock, config: NotifyConfig) -> Arc<Notifier> {
        Arc::new(Notifier {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            store,
            mailer,
            clock,
            config,
            in_flight: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
            counters: MailCounters::default(),
        })
    }

    pub fn mailer(&self) -> Option<&Arc<Mailer>> {
        self.mailer.as_ref()
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends what is due until stopped; a commit that queues a message wakes it at once.
    pub async fn run(self: Arc<Self>) {
        let Some(mailer) = self.mailer.clone() else {
            return;
        };
        let wake = self.store.message_signal();
        while !self.stopping.load(Ordering::SeqCst) {
            let now = self.clock.now();
            let mut next_due: Option<jiff::Timestamp> = None;
            match self.store.queue_heads() {
                Ok(heads) => {
                    for head in heads {
                        if head.next_try_at > now {
                            next_due = Some(next_due.map_or(head.next_try_at, |t| t.min(head.next_try_at)));
                            continue;
                        }
                        if self.in_flight().contains(&head.id) {
                            continue;
                        }
                        let Ok(permit) = self.slots.clone().acquire_owned().await else {
                            return;
                        };
                        if !self.in_flight().insert(head.id.clone()) {
                            continue;
                        }
                        // The list was read before this send slot came free: a send that finished meanwhile
                        // recorded its outcome before leaving `in_flight`, so the store says whether it went.
                        let message = match self.store.message(&head.id) {
                            Ok(current) if current.due(self.clock.now()) => current,
                            _ => {
                                self.in_flight().remove(&head.id);
                                continue;
                            }
                        };
                        let (notifier, mailer) = (self.clone(), mailer.clone());
                        tokio::spawn(async move {
                            notifier.deliver(&mailer, message).await;
                            drop(permit);
                        });
                    }
                }
                Err(error) => tracing::error!(%error, "cannot read the notification outbox"),
            }
            // Sleep until the next retry falls due, a commit queues a message, or a send finishes.
            let next = next_due
                .map(|due| due.duration_since(self.clock.now()))
                .and_then(|wait| wait.try_into().ok())
                .unwrap_or(self.config.idle_wake)
                .min(self.config.idle_wake)
                .max(Duration::from_millis(20));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
        }
    }

    /// One attempt at one message, and its record.
    async fn deliver(&self, mailer: &Mailer, message: OutgoingMessage) {
        let result = mailer.send(&message).await;
        let tries = message.tries + 1;
        let now = self.clock.now();
        let decision = classify(
            &result,
            tries,
            message.created_at,
            now,
            &self.config.retry,
            rand::random::<f64>(),
        );
        let recorded = self.store.update_message(&message.id, |stored| {
            if stored.state != MessageState::Queued {
                // Cancelled (or retried by hand) while this attempt ran: a person's word stands.
                return Ok(());
            }
            stored.tries = tries;
            match &decision {
                Decision::Sent { reply } => {
                    stored.state = MessageState::Sent;
                    stored.sent_at = Some(now);
                    stored.last_reply = Some(reply.clone());
                    // It may carry a rep's link; once sent, nothing needs it.
                    stored.body = None;
                }
                Decision::Retry { at, reply } => {
                    stored.next_try_at = *at;
                    stored.last_reply = Some(reply.clone());
                }
                Decision::Park { reply } => {
                    stored.state = MessageState::Parked;
                    stored.last_reply = Some(reply.clone());
                }
            }
            Ok(())
        });
        let counter = match &decision {
            Decision::Sent { .. } => &self.counters.sent,
            Decision::Retry { reply, .. } => {
                tracing::info!(message = %message.id, %reply, "mail server said later");
                &self.counters.retried
            }
            Decision::Park { reply } => {
                tracing::warn!(message = %message.id, %reply, "message parked: the mail server refused it");
                &self.counters.parked
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = recorded {
            tracing::error!(message = %message.id, %error, "cannot record a message's outcome");
        }
        self.in_flight().remove(&message.id);
    }

    /// No new sends start; those in flight may finish within `bound` (an unfinished one stays queued and
    /// goes after the restart, the same message).
    pub async fn stop(&self, bound: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + bound;
        while !self.in_flight().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;

    /// A sent message may have carried a rep's manage or confirmation link: the store keeps its record
    /// (who, what, when, the server's reply) and drops its text.
    #[tokio::test]
    async fn a_sent_message_keeps_its_record_and_drops_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
        let outbox = dir.path().join("mail");
        let settings = MailSettings {
            mail_dir: Some(outbox.clone()),
            mail_from: Some("visits@clinic.test".into()),
            timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let mailer = Mailer::from_settings(&settings).unwrap().unwrap();
        let text = b"Subject: Confirm\r\n\r\nhttp://127.0.0.1/confirm/secret-capability\r\n".to_vec();
        let message = OutgoingMessage {
            id: "01MESSAGE".into(),
            clinic_id: "c".into(),
            appointment_id: Some("visit".into()),
            kind: MessageKind::ConfirmAddress,
            to: vec!["rep@pharma.test".into()],
            subject: "Confirm".into(),
            state: MessageState::Queued,
            tries: 0,
            next_try_at: jiff::Timestamp::UNIX_EPOCH,
            last_reply: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            sent_at: None,
            body: Some(text.clone()),
        };
        store.enqueue_messages(std::slice::from_ref(&message)).unwrap();
        let notifier = Notifier::new(store.clone(), None, Clock::system(), NotifyConfig::default());

        notifier.deliver(&mailer, message).await;

        let stored = store.message("01MESSAGE").unwrap();
        assert_eq!(stored.state, MessageState::Sent);
        assert_eq!(stored.tries, 1);
        assert!(stored.sent_at.is_some());
        assert!(stored.last_reply.as_deref().unwrap_or("").contains("written to"));
        assert_eq!(stored.body, None, "the text (and the link in it) stays after sending");
        assert_eq!(std::fs::read(outbox.join("01MESSAGE.eml")).unwrap(), text);
        assert!(store.queue_heads().unwrap().is_empty());
    }
}
