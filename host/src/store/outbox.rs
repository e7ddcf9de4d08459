//! Outbox entries: what changed about an appointment, written in the same transaction as the change, for
//! the sync engine to deliver to the PMS.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::codec::decode;
use super::{Store, StoreError};

/// What the PMS must be told; the domain decides it from the change.
pub use crate::domain::OutboxChange as OutboxOp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub op: OutboxOp,
    pub appointment_id: String,
    pub clinic_id: String,
    pub version: u64,
    pub enqueued_at: Timestamp,
}

impl Store {
    /// Every outbox entry in write order, with its sequence number.
    pub fn outbox_entries(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        self.outbox
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let seq = key
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "outbox key",
                        message: format!("{} bytes", key.len()),
                    })?;
                Ok((seq, decode("outbox entry", &value)?))
            })
            .collect()
    }

    pub fn outbox_contains(&self, seq: u64) -> bool {
        self.outbox.contains_key(seq.to_be_bytes()).unwrap_or(false)
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }
}
