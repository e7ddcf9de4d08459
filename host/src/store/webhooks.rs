//! The webhook outbox. An event is written into `webhook_events` in the transaction of the change it
//! reports (an appointment's write, a PMS outcome, a waitlist offer); the webhook worker turns each into one
//! delivery per subscribed endpoint (`webhook_deliveries`, with the exact payload) and a `webhook_queue`
//! entry while it waits, in one transaction that also takes the event away. Deliveries are keyed
//! `clinic/endpoint/event id`, and event ids are ULIDs, so an endpoint's deliveries read in order.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::codec::{decode, encode};
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{Delivery, DeliveryState, Endpoint, WebhookEvent};

fn endpoint_key(clinic_id: &str, endpoint_id: &str) -> Vec<u8> {
    format!("{clinic_id}/{endpoint_id}").into_bytes()
}

fn delivery_key(clinic_id: &str, endpoint_id: &str, event_id: &str) -> Vec<u8> {
    format!("{clinic_id}/{endpoint_id}/{event_id}").into_bytes()
}

/// Appends events to the webhook outbox inside a transaction that includes `webhook_events`.
pub(super) fn put_events(
    events_tree: &TransactionalTree,
    events: &[Vec<u8>],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    for event in events {
        let seq = events_tree.generate_id()?;
        events_tree.insert(&seq.to_be_bytes(), event.as_slice())?;
    }
    Ok(())
}

/// Events encoded before a transaction (which may run more than once).
pub(super) fn encode_events(events: &[WebhookEvent]) -> Result<Vec<Vec<u8>>, StoreError> {
    events.iter().map(encode).collect()
}

impl Store {
    /// Woken after each commit that wrote a webhook event or a delivery.
    pub fn webhook_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.webhook_signal.clone()
    }

    pub(super) fn webhook_written(&self) {
        self.webhook_signal.notify_one();
    }

    pub fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.webhook_endpoints
            .insert(endpoint_key(&endpoint.clinic_id, &endpoint.id), encode(endpoint)?)?;
        Ok(())
    }

    pub fn endpoint(&self, clinic_id: &str, id: &str) -> Result<Endpoint, StoreError> {
        match self.webhook_endpoints.get(endpoint_key(clinic_id, id))? {
            Some(bytes) => decode("webhook endpoint", &bytes),
            None => Err(StoreError::NotFound {
                entity: "webhook endpoint",
                id: id.to_string(),
            }),
        }
    }

    pub fn endpoints(&self, clinic_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.webhook_endpoints
            .scan_prefix(format!("{clinic_id}/"))
            .values()
            .map(|v| decode("webhook endpoint", &v?))
            .collect()
    }

    /// Removes an endpoint; its waiting deliveries are dropped (their records stay, for the history).
    pub fn remove_endpoint(&self, clinic_id: &str, id: &str) -> Result<(), StoreError> {
        self.endpoint(clinic_id, id)?;
        let queued: Vec<_> = self
            .webhook_queue
            .scan_prefix(endpoint_key(clinic_id, &format!("{id}/")))
            .keys()
            .collect::<Result<_, _>>()?;
        (&self.webhook_endpoints, &self.webhook_queue)
            .transaction(|(endpoints, queue)| {
                endpoints.remove(endpoint_key(clinic_id, id))?;
                for key in &queued {
                    queue.remove(key.clone())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_abort_error)
    }

    /// Events not yet turned into deliveries, oldest first.
    pub fn pending_webhook_events(&self, limit: usize) -> Result<Vec<(u64, WebhookEvent)>, StoreError> {
        self.webhook_events
            .iter()
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                let seq = key.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                Ok((seq, decode("webhook event", &value)?))
            })
            .collect()
    }

    /// Takes event `seq` away and queues its deliveries, atomically (a crash leaves the event or all of them).
    pub fn fan_out(&self, seq: Option<u64>, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let encoded = deliveries
            .iter()
            .map(|d| Ok((delivery_key(&d.clinic_id, &d.endpoint_id, &d.event_id), encode(d)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        (&self.webhook_events, &self.webhook_deliveries, &self.webhook_queue)
            .transaction(|(events, records, queue)| {
                if let Some(seq) = seq {
                    events.remove(&seq.to_be_bytes())?;
                }
                for (key, record) in &encoded {
                    // Already there: this event was fanned out before a crash took the event's removal away.
                    if records.get(key.as_slice())?.is_none() {
                        records.insert(key.as_slice(), record.as_slice())?;
                        queue.insert(key.as_slice(), &[])?;
                    }
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_abort_error)?;
        if !deliveries.is_empty() {
            self.webhook_written();
        }
        Ok(())
    }

    /// Every delivery waiting for an attempt, by endpoint and in event order.
    pub fn queued_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let mut found = Vec::new();
        for key in self.webhook_queue.iter().keys() {
            if let Some(bytes) = self.webhook_deliveries.get(key?)? {
                found.push(decode("webhook delivery", &bytes)?);
            }
        }
        Ok(found)
    }

    pub fn delivery(&self, clinic_id: &str, endpoint_id: &str, event_id: &str) -> Result<Delivery, StoreError> {
        match self
            .webhook_deliveries
            .get(delivery_key(clinic_id, endpoint_id, event_id))?
        {
            Some(bytes) => decode("webhook delivery", &bytes),
            None => Err(StoreError::NotFound {
                entity: "webhook delivery",
                id: event_id.to_string(),
            }),
        }
    }

    /// Writes a delivery as an attempt (or a retry by hand) left it: queued while pending, else not.
    pub fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let key = delivery_key(&delivery.clinic_id, &delivery.endpoint_id, &delivery.event_id);
        let record = encode(delivery)?;
        let pending = delivery.state == DeliveryState::Pending;
        (&self.webhook_deliveries, &self.webhook_queue)
            .transaction(|(records, queue)| {
                records.insert(key.as_slice(), record.as_slice())?;
                if pending {
                    queue.insert(key.as_slice(), &[])?;
                } else {
                    queue.remove(key.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_abort_error)?;
        if pending {
            self.webhook_written();
        }
        Ok(())
    }

    /// Every delivery of a clinic (for privacy: scrubbing reps' details from their bodies).
    pub fn clinic_deliveries(&self, clinic_id: &str) -> Result<Vec<Delivery>, StoreError> {
        self.webhook_deliveries
            .scan_prefix(format!("{clinic_id}/"))
            .values()
            .map(|v| decode("webhook delivery", &v?))
            .collect()
    }

    /// An endpoint's deliveries, newest first, at most `limit`.
    pub fn deliveries(&self, clinic_id: &str, endpoint_id: &str, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.webhook_deliveries
            .scan_prefix(endpoint_key(clinic_id, &format!("{endpoint_id}/")))
            .values()
            .rev()
            .take(limit)
            .map(|v| decode("webhook delivery", &v?))
            .collect()
    }
}
