//! Deciding what a delivery's result means, apart from doing it: `classify` turns a result into done,
//! retry at a time, or park with the reason; `record` says what the appointment's PMS status becomes.
//! Both are pure (the clock and the jitter are arguments), so they are tested without a PMS or a store.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::SyncError;
use crate::domain::{Appointment, PmsPlacement, PmsRecord, PmsSyncState};
use crate::plugins::ConnectorFailure;
use crate::plugins::contract::PushOutcome;

/// What a delivery did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Delivered {
    /// The PMS holds the appointment as booked now.
    Pushed { outcome: PushOutcome },
    /// The PMS no longer holds it as booked.
    Cancelled,
    /// Nothing had to be sent.
    NotSent { reason: String },
}

/// How failed deliveries are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Finished: record the outcome and consume the outbox entries.
    Done,
    /// Keep the entries and try again at `at`; a rate limit also holds the whole site until then.
    Retry { at: Instant, hold_site: bool },
    /// A person must act (the error says what); consume the entries until they queue it again.
    Park,
}

/// The longest wait before attempt `attempts + 1`: doubling from `base`, capped.
pub fn backoff_ceiling(attempts: u32, policy: &RetryPolicy) -> Duration {
    policy
        .base
        .saturating_mul(1u32 << attempts.clamp(1, 20).saturating_sub(1))
        .min(policy.cap)
}

/// `attempts` counts failures so far, this one included; `jitter` is uniform in [0, 1) (full jitter).
/// `clinic_has_other_changes`: a slot conflict may be an ordering effect (another change of the clinic,
/// not yet delivered, may free the slot), so it is retried while such changes wait.
pub fn classify(
    result: &Result<Delivered, SyncError>,
    attempts: u32,
    now: Instant,
    policy: &RetryPolicy,
    jitter: f64,
    clinic_has_other_changes: bool,
) -> Decision {
    let error = match result {
        Ok(_) => return Decision::Done,
        Err(error) => error,
    };
    let conflict_may_clear =
        matches!(error, SyncError::Connector(ConnectorFailure::Conflict(_))) && clinic_has_other_changes;
    if !error.is_retryable() && !conflict_may_clear {
        return Decision::Park;
    }
    let ceiling = backoff_ceiling(attempts, policy);
    let mut wait = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
    let mut hold_site = false;
    if let SyncError::Connector(ConnectorFailure::RateLimited(ms)) = error {
        // Retry-After is a floor, not a suggestion.
        wait = wait.max(Duration::from_millis(*ms as u64));
        hold_site = true;
    }
    Decision::Retry {
        at: now + wait,
        hold_site,
    }
}

/// Whether what repbook knew of the PMS record still holds after this result.
fn nothing_written(result: &Result<Delivered, SyncError>) -> bool {
    match result {
        Ok(_) => true,
        Err(SyncError::Connector(failure)) => failure.nothing_written(),
        // Failures before the connector was called (no connector, not mapped, store) send nothing.
        Err(SyncError::NotConfigured(_) | SyncError::NoConnector { .. } | SyncError::NotValidated(_)) => true,
        Err(SyncError::PractitionerNotMapped(_) | SyncError::SwitchRefused(_) | SyncError::Invalid(_)) => true,
        // A plugin that trapped or timed out may have sent a request first.
        Err(SyncError::Plugin(_) | SyncError::Store(_)) => false,
    }
}

/// The delivery that was attempted: which version, and where it asked the PMS to put the appointment.
pub struct Attempt<'a> {
    pub version: u64,
    pub placement: Option<PmsPlacement>,
    /// The connector that was called (`None`: nothing was sent).
    pub connector: Option<&'a str>,
    pub result: &'a Result<Delivered, SyncError>,
    pub decision: &'a Decision,
    pub now: Timestamp,
}

/// Applies an attempt to the appointment's record. Knowledge of the PMS record (id, confirmed placement,
/// whether a push is in doubt) is updated whatever the version; the state only when `appointment` (as
/// stored now) has not changed since the attempt: its newer change is queued and delivered next.
pub fn record(record: &mut PmsRecord, appointment: &Appointment, attempt: &Attempt<'_>) {
    let pms = &mut record.status;
    if attempt.connector.is_some() && pms.sending_to.as_deref() != attempt.connector {
        // The clinic switched connector while this went to the old one: its answer is about a PMS that
        // is no longer this appointment's, and the switch has queued it for the new one.
        return;
    }
    match attempt.result {
        Ok(Delivered::Pushed { outcome }) => {
            pms.delivered_by = attempt.connector.map(str::to_string);
            if let Some(connector) = attempt.connector {
                pms.note_held_by(connector, Some(outcome.pms_id.clone()));
            }
            pms.pms_id = Some(outcome.pms_id.clone());
            pms.confirmed = attempt.placement.clone().map(|p| PmsPlacement {
                pms_id: outcome.pms_id.clone(),
                ..p
            });
            pms.in_doubt = false;
        }
        Ok(Delivered::Cancelled) => {
            pms.delivered_by = attempt.connector.map(str::to_string);
            pms.confirmed = None;
            pms.in_doubt = false;
        }
        Ok(Delivered::NotSent { .. }) => {}
        Err(_) if nothing_written(attempt.result) => pms.in_doubt = false,
        Err(_) => {}
    }
    if appointment.version != attempt.version {
        return;
    }
    let status = state_after(attempt);
    record.version = attempt.version;
    let pms = &mut record.status;
    pms.state = status.0;
    pms.reason = status.1;
    pms.updated_at = Some(attempt.now);
    match attempt.decision {
        Decision::Done => {
            pms.attempts = 0;
            if pms.state == PmsSyncState::Synced {
                pms.synced_version = Some(attempt.version);
            }
        }
        Decision::Retry { .. } | Decision::Park => pms.attempts += 1,
    }
}

fn state_after(attempt: &Attempt<'_>) -> (PmsSyncState, Option<String>) {
    match (attempt.result, attempt.decision) {
        (Ok(Delivered::Pushed { .. }), _) => (PmsSyncState::Synced, None),
        (Ok(Delivered::Cancelled), _) => (PmsSyncState::Synced, Some("cancelled in the PMS".into())),
        (Ok(Delivered::NotSent { reason }), _) => (PmsSyncState::NotApplicable, Some(reason.clone())),
        (Err(error), Decision::Park) => (PmsSyncState::NeedsAttention, Some(error.to_string())),
        (Err(error), _) => (PmsSyncState::Pending, Some(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginError;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }

    fn failed(failure: ConnectorFailure) -> Result<Delivered, SyncError> {
        Err(SyncError::Connector(failure))
    }

    #[test]
    fn success_is_done_and_permanent_failures_park() {
        let now = Instant::now();
        let ok = Ok(Delivered::Cancelled);
        assert_eq!(classify(&ok, 0, now, &policy(), 0.5, false), Decision::Done);
        for failure in [
            ConnectorFailure::Auth("key".into()),
            ConnectorFailure::Rejected("sql".into()),
            ConnectorFailure::InvalidConfig("x".into()),
        ] {
            assert_eq!(
                classify(&failed(failure), 1, now, &policy(), 0.5, false),
                Decision::Park
            );
        }
        let unmapped = Err(SyncError::PractitionerNotMapped("Dr X".into()));
        assert_eq!(classify(&unmapped, 1, now, &policy(), 0.5, false), Decision::Park);
    }

    #[test]
    fn backoff_doubles_with_full_jitter_and_stops_at_the_cap() {
        let now = Instant::now();
        let offline = failed(ConnectorFailure::SiteOffline("down".into()));
        let at = |attempts, jitter| match classify(&offline, attempts, now, &policy(), jitter, false) {
            Decision::Retry { at, hold_site } => {
                assert!(!hold_site);
                at - now
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(at(1, 0.999_999).as_millis(), 999);
        assert_eq!(at(3, 0.5), Duration::from_secs(2));
        assert_eq!(at(30, 1.0), Duration::from_secs(600));
        assert_eq!(at(4, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_a_floor_and_holds_the_site() {
        let now = Instant::now();
        let limited = failed(ConnectorFailure::RateLimited(5_000));
        match classify(&limited, 1, now, &policy(), 0.0, false) {
            Decision::Retry { at, hold_site } => {
                assert_eq!(at - now, Duration::from_secs(5));
                assert!(hold_site);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_conflict_waits_only_while_other_changes_of_the_clinic_are_pending() {
        let now = Instant::now();
        let clash = failed(ConnectorFailure::Conflict("slot taken".into()));
        assert!(matches!(
            classify(&clash, 1, now, &policy(), 0.1, true),
            Decision::Retry { .. }
        ));
        assert_eq!(classify(&clash, 1, now, &policy(), 0.1, false), Decision::Park);
    }

    #[test]
    fn a_crashed_plugin_is_retried_and_leaves_the_push_in_doubt() {
        let now = Instant::now();
        let trapped = Err(SyncError::Plugin(PluginError::Trapped {
            plugin: "p".into(),
            message: "boom".into(),
        }));
        assert!(matches!(
            classify(&trapped, 1, now, &policy(), 0.1, false),
            Decision::Retry { .. }
        ));
        assert!(!nothing_written(&trapped));
        assert!(nothing_written(&failed(ConnectorFailure::SiteOffline("x".into()))));
        assert!(!nothing_written(&failed(ConnectorFailure::UnknownOutcome(
            "504".into()
        ))));
    }
}
