//! Waitlist entries and offers, in one tree: `e/clinic/id` for an entry, `o/clinic/id` for an offer (ids
//! are ULIDs: a clinic's entries and offers read in the order they were made), and `t/<sha256>` from the
//! digest of each one's capability (the links in the rep's mail) to its key. They are written with the
//! change they go with: an offer in turn with the appointment that holds its time, a claim with the visit
//! it books (`Change::waitlist`), a join with its confirmation mail (`write_waitlist`).

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::codec::{decode, encode};
use super::messages::MessageTrees;
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{OutgoingMessage, WaitlistEntry, WaitlistOffer, WebhookEvent};

/// An entry or an offer to write.
#[derive(Debug, Clone, Copy)]
pub enum WaitlistWrite<'a> {
    Entry(&'a WaitlistEntry),
    Offer(&'a WaitlistOffer),
    /// One more capability (its digest) that opens an entry: a leave link in a later message.
    EntryToken(&'a str, &'a WaitlistEntry),
}

fn entry_key(clinic_id: &str, id: &str) -> Vec<u8> {
    format!("e/{clinic_id}/{id}").into_bytes()
}

fn offer_key(clinic_id: &str, id: &str) -> Vec<u8> {
    format!("o/{clinic_id}/{id}").into_bytes()
}

fn token_key(digest: &str) -> Vec<u8> {
    format!("t/{digest}").into_bytes()
}

/// What a capability from a waitlist mail names.
#[derive(Debug, Clone)]
pub enum WaitlistRecord {
    Entry(WaitlistEntry),
    Offer(WaitlistOffer),
}

/// Keys and values ready for a transaction.
pub(super) type Encoded = Vec<(Vec<u8>, Vec<u8>)>;

/// Records (and their token index entries) encoded before a transaction (which may run more than once).
pub(super) fn encode_writes(writes: &[WaitlistWrite<'_>]) -> Result<Encoded, StoreError> {
    let mut records = Vec::new();
    for write in writes {
        if let WaitlistWrite::EntryToken(digest, entry) = write {
            records.push((token_key(digest), entry_key(&entry.clinic_id, &entry.id)));
            continue;
        }
        let (key, value, digest) = match write {
            WaitlistWrite::Entry(entry) => (
                entry_key(&entry.clinic_id, &entry.id),
                encode(*entry)?,
                &entry.token_sha256,
            ),
            WaitlistWrite::Offer(offer) => (
                offer_key(&offer.clinic_id, &offer.id),
                encode(*offer)?,
                &offer.token_sha256,
            ),
            WaitlistWrite::EntryToken(..) => continue,
        };
        records.push((token_key(digest), key.clone()));
        records.push((key, value));
    }
    Ok(records)
}

pub(super) fn put_encoded(
    tree: &TransactionalTree,
    records: &Encoded,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    for (key, value) in records {
        tree.insert(key.as_slice(), value.as_slice())?;
    }
    Ok(())
}

impl Store {
    pub fn waitlist_entries(&self, clinic_id: &str) -> Result<Vec<WaitlistEntry>, StoreError> {
        self.waitlist
            .scan_prefix(format!("e/{clinic_id}/"))
            .values()
            .map(|v| decode("waitlist entry", &v?))
            .collect()
    }

    pub fn waitlist_entry(&self, clinic_id: &str, id: &str) -> Result<WaitlistEntry, StoreError> {
        match self.waitlist.get(entry_key(clinic_id, id))? {
            Some(bytes) => decode("waitlist entry", &bytes),
            None => Err(StoreError::NotFound {
                entity: "waitlist entry",
                id: id.to_string(),
            }),
        }
    }

    pub fn waitlist_offers(&self, clinic_id: &str) -> Result<Vec<WaitlistOffer>, StoreError> {
        self.waitlist
            .scan_prefix(format!("o/{clinic_id}/"))
            .values()
            .map(|v| decode("waitlist offer", &v?))
            .collect()
    }

    /// The entry or offer the capability with this digest names.
    pub fn waitlist_by_token(&self, digest: &str) -> Result<Option<WaitlistRecord>, StoreError> {
        let Some(key) = self.waitlist.get(token_key(digest))? else {
            return Ok(None);
        };
        let Some(value) = self.waitlist.get(&key)? else {
            return Ok(None);
        };
        Ok(Some(if key.starts_with(b"e/") {
            WaitlistRecord::Entry(decode("waitlist entry", &value)?)
        } else {
            WaitlistRecord::Offer(decode("waitlist offer", &value)?)
        }))
    }

    /// Whether any clinic has an entry at all (the offer sweep skips clinics without).
    pub fn has_waitlist(&self, clinic_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .waitlist
            .scan_prefix(format!("e/{clinic_id}/"))
            .next()
            .transpose()?
            .is_some())
    }

    /// Entries and offers with the messages and webhook events they give rise to, in one transaction.
    pub fn write_waitlist(
        &self,
        writes: &[WaitlistWrite<'_>],
        messages: &[OutgoingMessage],
        events: &[WebhookEvent],
    ) -> Result<(), StoreError> {
        let records = encode_writes(writes)?;
        let events_encoded = super::webhooks::encode_events(events)?;
        let (m, c, q, p) = self.message_trees();
        (&self.waitlist, m, c, q, p, &self.webhook_events)
            .transaction(|(waitlist, messages_tree, by_clinic, queue, parked, webhook_events)| {
                put_encoded(waitlist, &records)?;
                let trees = MessageTrees {
                    messages: messages_tree,
                    by_clinic,
                    queue,
                    parked,
                };
                for message in messages {
                    trees.put(message)?;
                }
                super::webhooks::put_events(webhook_events, &events_encoded)?;
                Ok(())
            })
            .map_err(tx_abort_error)?;
        if !messages.is_empty() {
            self.message_signal.notify_one();
        }
        if !events.is_empty() {
            self.webhook_written();
        }
        Ok(())
    }
}
