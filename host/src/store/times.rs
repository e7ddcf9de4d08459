//! The times a clinic offers reps: visitor categories, weekly times and closed dates, each under its
//! clinic's key prefix.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{decode, encode};
use super::{Store, StoreError, keys};
use crate::domain::{ClosedDate, PublishedTime, VisitorCategory};

pub(super) fn list<T: DeserializeOwned>(
    tree: &sled::Tree,
    clinic_id: &str,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
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
        put(&self.published_times, keys::owned(&time.clinic_id, &time.id), time)?;
        // New times: the waitlist may have reps waiting for them.
        self.waitlist_changed(&time.clinic_id);
        Ok(())
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
        )?;
        // A date reopened frees its times.
        self.waitlist_changed(clinic_id);
        Ok(())
    }
}
