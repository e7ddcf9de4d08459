//! Booking links, found by their clinic and id or by the capability in their URL.

use sled::Transactional;

use super::codec::{decode, encode};
use super::times::list;
use super::{Store, StoreError, keys, tx_error};
use crate::domain::BookingLink;

impl Store {
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
