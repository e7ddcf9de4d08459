//! What a clinic publishes for reps: visitor categories, weekly times, closed dates and booking links
//! (found by their capability). Each lives under its clinic's key prefix.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;

use super::codec::{decode, encode};
use super::{Store, StoreError, keys, tx_error};
use crate::domain::{BookingLink, ClosedDate, PublishedTime, VisitorCategory};

fn list<T: DeserializeOwned>(tree: &sled::Tree, clinic_id: &str, what: &'static str) -> Result<Vec<T>, StoreError> {
    tree.scan_prefix(keys::clinic_prefix(clinic_id))
        .values()
        .map(|v| decode(what, &v?))
        .collect()
}

fn put<T: Serialize>(tree: &sled::Tree, key: Vec<u8>, value: &T) -> Result<(), StoreError> {
    tree.insert(key, encode(value)?)?;
    Ok(())
}

fn remove(tree: &sled::Tree, key: Vec<u8>, entity: &'static str, id: &str) -> Result<(), StoreError> {
    match tree.remove(key)? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            entity,
            id: id.to_string(),
        }),
    }
}

impl Store {
    pub fn categories(&self, clinic_id: &str) -> Result<Vec<VisitorCategory>, StoreError> {
        list(&self.categories, clinic_id, "category")
    }

    pub fn put_category(&self, category: &VisitorCategory) -> Result<(), StoreError> {
        put(
            &self.categories,
            keys::owned(&category.clinic_id, &category.id),
            category,
        )
    }

    pub fn remove_category(&self, clinic_id: &str, id: &str) -> Result<(), StoreError> {
        remove(&self.categories, keys::owned(clinic_id, id), "category", id)
    }

    pub fn published_times(&self, clinic_id: &str) -> Result<Vec<PublishedTime>, StoreError> {
        list(&self.published_times, clinic_id, "published time")
    }

    pub fn put_published_time(&self, time: &PublishedTime) -> Result<(), StoreError> {
        put(&self.published_times, keys::owned(&time.clinic_id, &time.id), time)
    }

    pub fn remove_published_time(&self, clinic_id: &str, id: &str) -> Result<(), StoreError> {
        remove(&self.published_times, keys::owned(clinic_id, id), "published time", id)
    }

    pub fn closed_dates(&self, clinic_id: &str) -> Result<Vec<ClosedDate>, StoreError> {
        list(&self.closed_dates, clinic_id, "closed date")
    }

    pub fn put_closed_date(&self, closed: &ClosedDate) -> Result<(), StoreError> {
        put(&self.closed_dates, keys::closed(&closed.clinic_id, closed.date), closed)
    }

    pub fn remove_closed_date(&self, clinic_id: &str, date: jiff::civil::Date) -> Result<(), StoreError> {
        remove(
            &self.closed_dates,
            keys::closed(clinic_id, date),
            "closed date",
            &date.to_string(),
        )
    }

    pub fn links(&self, clinic_id: &str) -> Result<Vec<BookingLink>, StoreError> {
        list(&self.links, clinic_id, "booking link")
    }

    pub fn link(&self, clinic_id: &str, id: &str) -> Result<BookingLink, StoreError> {
        match self.links.get(keys::owned(clinic_id, id))? {
            Some(bytes) => decode("booking link", &bytes),
            None => Err(StoreError::NotFound {
                entity: "booking link",
                id: id.to_string(),
            }),
        }
    }

    /// Stores a link and the index from its capability to it, together.
    pub fn put_link(&self, link: &BookingLink) -> Result<(), StoreError> {
        let record = encode(link)?;
        let key = keys::owned(&link.clinic_id, &link.id);
        (&self.links, &self.link_capabilities)
            .transaction(|(links, capabilities)| {
                links.insert(key.as_slice(), record.as_slice())?;
                capabilities.insert(link.capability.as_bytes(), key.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }

    /// The link whose URL carries `capability`, revoked or not.
    pub fn link_by_capability(&self, capability: &str) -> Result<Option<BookingLink>, StoreError> {
        match self.link_capabilities.get(capability.as_bytes())? {
            Some(key) => match self.links.get(key)? {
                Some(bytes) => decode("booking link", &bytes).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }
}
