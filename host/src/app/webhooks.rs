//! A clinic's webhook endpoints: adding one (its signing secret shown once), changing its URL or events,
//! rotating the secret with an overlap in which both sign, removing it, sending it a test event, and the
//! deliveries with their outcomes (a parked one sent again by hand). Sending is the webhook worker's.

use base64::Engine as _;
use jiff::SignedDuration;
use rand::TryRngCore;

use super::{App, AppError};
use crate::domain::{
    Delivery, DeliveryState, DomainError, Endpoint, EndpointPatch, EndpointRequest, EventKind, SigningSecret, event_id,
    new_id, rfc3339_in,
};
use crate::webhooks::{Webhooks, new_delivery};

/// The longest overlap a rotation may keep the old secret signing.
pub const MAX_OVERLAP_HOURS: u32 = 24 * 7;
/// Deliveries listed per endpoint at most.
pub const DELIVERIES_MAX: usize = 500;

/// An endpoint as created or rotated: the secret, shown this once.
pub struct WithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

impl App {
    fn new_secret(&self) -> Result<SigningSecret, AppError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| AppError::Random(e.to_string()))?;
        Ok(SigningSecret {
            key: base64::engine::general_purpose::STANDARD.encode(bytes),
            created_at: self.now(),
            retires_at: None,
        })
    }

    /// The URL checked and refused where the operator's policy would refuse it anyway (a loopback or
    /// private literal without the flag), so the mistake shows when it is made, not at the first event.
    fn checked_url(&self, request: EndpointRequest) -> Result<(String, Vec<EventKind>, String, bool), AppError> {
        let disabled = request.disabled;
        let (url, events, description) = request.validated()?;
        if let Some(refused) = Webhooks::refusal(&self.plugins.runtime().operator, &url) {
            return Err(DomainError::Invalid {
                field: "url",
                message: refused,
            }
            .into());
        }
        Ok((url.to_string(), events, description, disabled))
    }

    pub fn endpoints(&self, clinic_id: &str) -> Result<Vec<Endpoint>, AppError> {
        self.store.clinic(clinic_id)?;
        Ok(self.store.endpoints(clinic_id)?)
    }

    pub fn endpoint(&self, clinic_id: &str, id: &str) -> Result<Endpoint, AppError> {
        Ok(self.store.endpoint(clinic_id, id)?)
    }

    pub async fn add_endpoint(&self, clinic_id: &str, request: EndpointRequest) -> Result<WithSecret, AppError> {
        self.store.clinic(clinic_id)?;
        let (url, events, description, disabled) = self.checked_url(request)?;
        let secret = self.new_secret()?;
        let endpoint = Endpoint {
            id: new_id(),
            clinic_id: clinic_id.to_string(),
            url,
            description,
            events,
            secrets: vec![secret.clone()],
            created_at: self.now(),
            disabled,
        };
        self.store.put_endpoint(&endpoint)?;
        self.store.durable().await?;
        tracing::info!(clinic = %clinic_id, endpoint = %endpoint.id, url = %endpoint.url, "webhook endpoint added");
        Ok(WithSecret {
            endpoint,
            secret: secret.shown(),
        })
    }

    pub async fn update_endpoint(&self, clinic_id: &str, id: &str, patch: EndpointPatch) -> Result<Endpoint, AppError> {
        let mut endpoint = self.store.endpoint(clinic_id, id)?;
        let (url, events, description, disabled) = self.checked_url(patch.applied_to(&endpoint))?;
        endpoint.url = url;
        endpoint.events = events;
        endpoint.description = description;
        endpoint.disabled = disabled;
        self.store.put_endpoint(&endpoint)?;
        self.store.durable().await?;
        Ok(endpoint)
    }

    pub async fn remove_endpoint(&self, clinic_id: &str, id: &str) -> Result<(), AppError> {
        self.store.remove_endpoint(clinic_id, id)?;
        self.store.durable().await?;
        Ok(())
    }

    /// A new secret signs from now on; the current one keeps signing for `overlap_hours` (0: stops now),
    /// so a receiver can take the new one without missing a delivery. Older ones stop.
    pub async fn rotate_secret(&self, clinic_id: &str, id: &str, overlap_hours: u32) -> Result<WithSecret, AppError> {
        if overlap_hours > MAX_OVERLAP_HOURS {
            return Err(DomainError::Invalid {
                field: "overlap_hours",
                message: format!("overlap_hours is at most {MAX_OVERLAP_HOURS} (a week); it was {overlap_hours}"),
            }
            .into());
        }
        let now = self.now();
        let secret = self.new_secret()?;
        let mut endpoint = self.store.endpoint(clinic_id, id)?;
        let retires = now + SignedDuration::from_hours(overlap_hours as i64);
        let mut kept = vec![secret.clone()];
        if let Some(current) = endpoint.signing_secrets(now).next().cloned()
            && overlap_hours > 0
        {
            kept.push(SigningSecret {
                retires_at: Some(current.retires_at.map_or(retires, |at| at.min(retires))),
                ..current
            });
        }
        endpoint.secrets = kept;
        self.store.put_endpoint(&endpoint)?;
        self.store.durable().await?;
        tracing::info!(clinic = %clinic_id, endpoint = %id, overlap_hours, "webhook secret rotated");
        Ok(WithSecret {
            endpoint,
            secret: secret.shown(),
        })
    }

    /// Queues a `webhook.test` delivery to the endpoint (through the outbox like any other).
    pub async fn test_endpoint(&self, clinic_id: &str, id: &str) -> Result<Delivery, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let endpoint = self.store.endpoint(clinic_id, id)?;
        let now = self.now();
        let event = event_id();
        let payload = serde_json::json!({
            "type": EventKind::WebhookTest.name(),
            "timestamp": rfc3339_in(now, &clinic.tz()),
            "data": {
                "clinic_id": clinic.id,
                "clinic_name": clinic.name,
                "endpoint_id": endpoint.id,
                "message": "a test event from repbook: this endpoint is reachable and verifies the signature",
            },
        })
        .to_string();
        let delivery = new_delivery(&endpoint, &event, EventKind::WebhookTest, payload, now);
        self.store.fan_out(None, std::slice::from_ref(&delivery))?;
        self.store.durable().await?;
        Ok(delivery)
    }

    pub fn deliveries(&self, clinic_id: &str, id: &str, limit: usize) -> Result<Vec<Delivery>, AppError> {
        self.store.endpoint(clinic_id, id)?;
        if !(1..=DELIVERIES_MAX).contains(&limit) {
            return Err(crate::domain::DomainError::Invalid {
                field: "limit",
                message: format!("limit {limit} must be between 1 and {DELIVERIES_MAX}"),
            }
            .into());
        }
        Ok(self.store.deliveries(clinic_id, id, limit)?)
    }

    /// Sends a parked delivery again now (the same `webhook-id` and body), with three fresh days of retries.
    pub async fn retry_delivery(&self, clinic_id: &str, id: &str, event: &str) -> Result<Delivery, AppError> {
        let mut delivery = self.store.delivery(clinic_id, id, event)?;
        match delivery.state {
            DeliveryState::Parked => {}
            DeliveryState::Pending => {
                return Err(AppError::conflict(
                    "delivery_pending",
                    "this delivery is still being tried; it goes at its next attempt",
                ));
            }
            DeliveryState::Delivered => {
                return Err(AppError::conflict(
                    "delivery_delivered",
                    "this delivery was taken by the endpoint already; send a test event to try the endpoint",
                ));
            }
        }
        let now = self.now();
        delivery.state = DeliveryState::Pending;
        delivery.next_at = now;
        delivery.retried_at = Some(now);
        self.store.put_delivery(&delivery)?;
        self.store.durable().await?;
        Ok(delivery)
    }
}
