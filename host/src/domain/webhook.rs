//! Webhooks: a clinic's endpoints (where, which events, the signing secrets), the events repbook tells them
//! of, one delivery of one event to one endpoint, and the Standard Webhooks signature. Pure: what an event
//! is follows from an appointment's change; sending and retrying are `webhooks/`'s.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Appointment, AppointmentStatus, DomainError};

/// What an endpoint can subscribe to, as `type` names the event in a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    #[serde(rename = "appointment.held")]
    AppointmentHeld,
    #[serde(rename = "appointment.booked")]
    AppointmentBooked,
    #[serde(rename = "appointment.requested")]
    AppointmentRequested,
    #[serde(rename = "appointment.approved")]
    AppointmentApproved,
    #[serde(rename = "appointment.declined")]
    AppointmentDeclined,
    #[serde(rename = "appointment.expired")]
    AppointmentExpired,
    #[serde(rename = "appointment.moved")]
    AppointmentMoved,
    #[serde(rename = "appointment.swapped")]
    AppointmentSwapped,
    #[serde(rename = "appointment.cancelled")]
    AppointmentCancelled,
    /// The front desk marked the rep as arrived.
    #[serde(rename = "appointment.arrived")]
    AppointmentArrived,
    /// The front desk marked the rep as not come.
    #[serde(rename = "appointment.no_show")]
    AppointmentNoShow,
    #[serde(rename = "pms.synced")]
    PmsSynced,
    #[serde(rename = "pms.parked")]
    PmsParked,
    #[serde(rename = "waitlist.offered")]
    WaitlistOffered,
    #[serde(rename = "waitlist.claimed")]
    WaitlistClaimed,
    /// Only ever sent by "send a test event"; nobody subscribes to it.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventKind {
    /// Every event an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventKind; 15] = [
        EventKind::AppointmentHeld,
        EventKind::AppointmentBooked,
        EventKind::AppointmentRequested,
        EventKind::AppointmentApproved,
        EventKind::AppointmentDeclined,
        EventKind::AppointmentExpired,
        EventKind::AppointmentMoved,
        EventKind::AppointmentSwapped,
        EventKind::AppointmentCancelled,
        EventKind::AppointmentArrived,
        EventKind::AppointmentNoShow,
        EventKind::PmsSynced,
        EventKind::PmsParked,
        EventKind::WaitlistOffered,
        EventKind::WaitlistClaimed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::AppointmentHeld => "appointment.held",
            EventKind::AppointmentBooked => "appointment.booked",
            EventKind::AppointmentRequested => "appointment.requested",
            EventKind::AppointmentApproved => "appointment.approved",
            EventKind::AppointmentDeclined => "appointment.declined",
            EventKind::AppointmentExpired => "appointment.expired",
            EventKind::AppointmentMoved => "appointment.moved",
            EventKind::AppointmentSwapped => "appointment.swapped",
            EventKind::AppointmentCancelled => "appointment.cancelled",
            EventKind::AppointmentArrived => "appointment.arrived",
            EventKind::AppointmentNoShow => "appointment.no_show",
            EventKind::PmsSynced => "pms.synced",
            EventKind::PmsParked => "pms.parked",
            EventKind::WaitlistOffered => "waitlist.offered",
            EventKind::WaitlistClaimed => "waitlist.claimed",
            EventKind::WebhookTest => "webhook.test",
        }
    }

    /// What an appointment's change is to a subscriber, if anything (a new manage link, a note: nothing).
    pub fn of_change(previous: Option<&Appointment>, next: &Appointment) -> Option<EventKind> {
        use AppointmentStatus as S;
        let Some(previous) = previous else {
            return match next.status {
                S::Held => Some(EventKind::AppointmentHeld),
                S::Booked => Some(EventKind::AppointmentBooked),
                S::Requested => Some(EventKind::AppointmentRequested),
                S::Cancelled | S::Declined | S::Expired => None,
            };
        };
        if previous.status != next.status {
            return match (previous.status, next.status) {
                (S::Requested, S::Booked) => Some(EventKind::AppointmentApproved),
                (_, S::Booked) => Some(EventKind::AppointmentBooked),
                (_, S::Requested) => Some(EventKind::AppointmentRequested),
                (_, S::Declined) => Some(EventKind::AppointmentDeclined),
                (_, S::Expired) => Some(EventKind::AppointmentExpired),
                (_, S::Cancelled) => Some(EventKind::AppointmentCancelled),
                (_, S::Held) => Some(EventKind::AppointmentHeld),
            };
        }
        let mark = |a: &Appointment| a.attendance.as_ref().map(|m| m.mark);
        if mark(previous) != mark(next) {
            return match mark(next) {
                Some(super::AttendanceMark::Arrived) => Some(EventKind::AppointmentArrived),
                Some(super::AttendanceMark::NoShow) => Some(EventKind::AppointmentNoShow),
                // "Could not see them" and a mark taken back are the clinic's own business.
                _ => None,
            };
        }
        let placed = |a: &Appointment| (a.start, a.practitioner_id.clone(), a.duration_minutes);
        if placed(previous) == placed(next) {
            None
        } else if next.swapped_at.len() > previous.swapped_at.len() {
            Some(EventKind::AppointmentSwapped)
        } else {
            Some(EventKind::AppointmentMoved)
        }
    }
}

/// One signing secret: 32 random bytes, shown once as `whsec_<base64>`. A rotated-out secret keeps signing
/// until `retires_at`, so receivers can switch over without missing a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// Standard base64 of the key bytes.
    pub key: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub retires_at: Option<Timestamp>,
}

impl SigningSecret {
    /// The form a receiver's Standard Webhooks library takes.
    pub fn shown(&self) -> String {
        format!("whsec_{}", self.key)
    }
}

/// A clinic's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub clinic_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<EventKind>,
    /// The newest first; older ones only while they overlap.
    pub secrets: Vec<SigningSecret>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub disabled: bool,
}

impl Endpoint {
    /// The secrets that sign at `now`: the current one and any still in their overlap.
    pub fn signing_secrets(&self, now: Timestamp) -> impl Iterator<Item = &SigningSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.retires_at.is_none_or(|at| at > now))
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        !self.disabled && self.events.contains(&kind)
    }
}

/// An endpoint's URL and events as an admin sends them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    /// `https://...`; `http://` only to loopback, and loopback only with `--plugin-allow-loopback`.
    #[schema(max_length = 2000, pattern = "@url")]
    pub url: String,
    /// Which events it wants (see the event names); empty: all of them.
    #[serde(default)]
    pub events: Vec<EventKind>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: String,
    #[serde(default)]
    pub disabled: bool,
}

/// A change of an endpoint: only the fields given change (the secret never does: rotate it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000, pattern = "@url")]
    pub url: Option<String>,
    /// Empty: all events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventKind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// Switched off: what happens meanwhile is not delivered to it (nothing piles up for a dead receiver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

impl EndpointPatch {
    /// The endpoint's whole request after this change, to be checked as a new one is.
    pub fn applied_to(self, endpoint: &Endpoint) -> EndpointRequest {
        EndpointRequest {
            url: self.url.unwrap_or_else(|| endpoint.url.clone()),
            events: self.events.unwrap_or_else(|| endpoint.events.clone()),
            description: self.description.unwrap_or_else(|| endpoint.description.clone()),
            disabled: self.disabled.unwrap_or(endpoint.disabled),
        }
    }
}

impl EndpointRequest {
    /// The URL parsed and shaped (no user info, no fragment, https or loopback http), the events deduplicated.
    pub fn validated(self) -> Result<(url::Url, Vec<EventKind>, String), DomainError> {
        let invalid = |message: String| DomainError::Invalid { field: "url", message };
        let text = self.url.trim();
        let url = url::Url::parse(text).map_err(|e| {
            invalid(format!(
                "'{text}' is not a URL ({e}); give the full https://... address"
            ))
        })?;
        let host = url.host_str().unwrap_or_default().to_string();
        if host.is_empty() {
            return Err(invalid(format!("'{text}' has no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "a webhook URL may not carry a user name or password; the signature proves who sent it".into(),
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid("a webhook URL may not have a #fragment".into()));
        }
        match url.scheme() {
            "https" => {}
            "http" if names_this_machine(&host) => {}
            other => {
                return Err(invalid(format!(
                    "a webhook URL must be https:// (it was {other}://); plain http is allowed only to this machine"
                )));
            }
        }
        if text.len() > 2000 {
            return Err(invalid("the URL is longer than 2000 characters".into()));
        }
        let mut events = if self.events.is_empty() {
            EventKind::SUBSCRIBABLE.to_vec()
        } else {
            self.events
        };
        if events.contains(&EventKind::WebhookTest) {
            return Err(DomainError::Invalid {
                field: "events",
                message: "webhook.test is sent only by \"send a test event\"; subscribe to the others".into(),
            });
        }
        events.sort_by_key(|e| e.name());
        events.dedup();
        let description = self.description.trim().to_string();
        if description.chars().count() > 200 {
            return Err(DomainError::Invalid {
                field: "description",
                message: "the description is longer than 200 characters".into(),
            });
        }
        Ok((url, events, description))
    }
}

/// Whether a URL's host names this machine by its text (`localhost`, a loopback literal). Where a name
/// really leads is checked again, on its resolved addresses, when a delivery is sent.
fn names_this_machine(host: &str) -> bool {
    let name = host.trim_end_matches('.');
    let literal = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name.ends_with(".localhost")
        || literal.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Something that happened that endpoints may want: written in the transaction of the change (the
/// webhook outbox), turned into one delivery per subscribed endpoint by the webhook worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `webhook-id`: the same for every attempt of it.
    pub id: String,
    pub clinic_id: String,
    pub kind: EventKind,
    pub at: Timestamp,
    /// The appointment as the change left it.
    #[serde(default)]
    pub appointment: Option<Appointment>,
    /// Anything else the event carries (the waitlist entry and the offered time, a parked push's reason).
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

impl WebhookEvent {
    pub fn new(id: String, kind: EventKind, clinic_id: &str, at: Timestamp) -> WebhookEvent {
        WebhookEvent {
            id,
            clinic_id: clinic_id.to_string(),
            kind,
            at,
            appointment: None,
            detail: None,
        }
    }

    pub fn of_change(previous: Option<&Appointment>, next: &Appointment, id: String) -> Option<WebhookEvent> {
        EventKind::of_change(previous, next).map(|kind| WebhookEvent {
            appointment: Some(next.clone()),
            ..WebhookEvent::new(id, kind, &next.clinic_id, next.updated_at)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up: a 4xx that will not change by trying again, or three days of failures. Retry sends it again.
    Parked,
}

/// What the endpoint (or the network) said to the last attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryReply {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The first 500 characters of the answer's body, or why there was no answer.
    pub detail: String,
}

/// One event to one endpoint, with the exact bytes sent every time (so a retry is the same message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub event_id: String,
    pub endpoint_id: String,
    pub clinic_id: String,
    pub kind: EventKind,
    pub payload: String,
    pub created_at: Timestamp,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_at: Timestamp,
    #[serde(default)]
    pub last: Option<DeliveryReply>,
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
    /// When a person last sent it again: the three days of retries count from then.
    #[serde(default)]
    pub retried_at: Option<Timestamp>,
}

/// How long a failing delivery is retried before it is parked.
pub const RETRY_FOR: SignedDuration = SignedDuration::from_hours(72);

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(Timestamp),
    Park(String),
}

/// The decision after attempt number `attempts` (1 for the first) of a delivery created at `created_at`
/// that got `status` (`None`: no answer: refused, reset, timed out). 2xx is done; 408, 429 and 5xx and no
/// answer are retried with backoff (5 s, doubling, at most an hour apart) for three days; every other
/// answer (a 4xx that says the receiver will never take it, such as 410 Gone, or a 3xx: redirects are not
/// followed) parks it with that answer.
pub fn attempt_outcome(
    status: Option<u16>,
    attempts: u32,
    created_at: Timestamp,
    now: Timestamp,
    base: SignedDuration,
) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        Some(408) | Some(429) | Some(500..=599) | None => {
            let exponent = attempts.saturating_sub(1).min(12);
            let wait = (base * (1i32 << exponent)).min(SignedDuration::from_hours(1));
            let next = now + wait;
            if next > created_at + RETRY_FOR {
                AttemptOutcome::Park(format!("still failing after {attempts} attempts over three days"))
            } else {
                AttemptOutcome::RetryAt(next)
            }
        }
        Some(code) => AttemptOutcome::Park(format!(
            "the endpoint answered {code}, which says it will not take this delivery; fix the receiver, then Retry"
        )),
    }
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each key, space
/// separated (several while a rotation overlaps).
pub fn signature_header<'a>(
    keys: impl IntoIterator<Item = &'a SigningSecret>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    keys.into_iter()
        .filter_map(|secret| {
            let key = engine.decode(&secret.key).ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!("v1,{}", engine.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The specification's own test vector (standard-webhooks, spec/standard-webhooks.md).
        let secret = SigningSecret {
            key: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: at("2024-01-01T00:00:00Z"),
            retires_at: None,
        };
        let body = br#"{"test": 2432232314}"#;
        let header = signature_header([&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    const FIVE: SignedDuration = SignedDuration::from_secs(5);

    #[test]
    fn outcome_retries_what_may_pass_and_parks_what_will_not() {
        let created = at("2026-01-01T00:00:00Z");
        let now = at("2026-01-01T00:00:10Z");
        assert_eq!(
            attempt_outcome(Some(204), 1, created, now, FIVE),
            AttemptOutcome::Delivered
        );
        assert_eq!(
            attempt_outcome(Some(500), 1, created, now, FIVE),
            AttemptOutcome::RetryAt(now + SignedDuration::from_secs(5))
        );
        assert_eq!(
            attempt_outcome(None, 3, created, now, FIVE),
            AttemptOutcome::RetryAt(now + SignedDuration::from_secs(20))
        );
        assert!(matches!(
            attempt_outcome(Some(429), 1, created, now, FIVE),
            AttemptOutcome::RetryAt(_)
        ));
        assert!(matches!(
            attempt_outcome(Some(408), 1, created, now, FIVE),
            AttemptOutcome::RetryAt(_)
        ));
        assert!(matches!(
            attempt_outcome(Some(410), 1, created, now, FIVE),
            AttemptOutcome::Park(_)
        ));
        assert!(matches!(
            attempt_outcome(Some(301), 1, created, now, FIVE),
            AttemptOutcome::Park(_)
        ));
        let late = created + RETRY_FOR - SignedDuration::from_secs(1);
        assert!(matches!(
            attempt_outcome(Some(503), 40, created, late, FIVE),
            AttemptOutcome::Park(_)
        ));
        // Never more than an hour apart.
        assert_eq!(
            attempt_outcome(Some(503), 30, created, now, FIVE),
            AttemptOutcome::RetryAt(now + SignedDuration::from_secs(3600))
        );
    }

    #[test]
    fn urls_must_be_https_or_this_machine() {
        let request = |url: &str| EndpointRequest {
            url: url.into(),
            events: vec![],
            description: String::new(),
            disabled: false,
        };
        assert!(request("https://hooks.example.com/repbook").validated().is_ok());
        assert!(request("http://127.0.0.1:9000/hook").validated().is_ok());
        for bad in [
            "http://hooks.example.com/",
            "ftp://x/",
            "https://u:p@x.example/",
            "nonsense",
        ] {
            assert!(request(bad).validated().is_err(), "{bad} was taken");
        }
        let (_, events, _) = request("https://x.example/").validated().unwrap();
        assert_eq!(events.len(), EventKind::SUBSCRIBABLE.len());
    }
}
