//! Booking links, found by their clinic and id or by the digest of the capability in their URL.

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

    /// Stores a link and the index from its capability's digest to it, together; a renewed link's old
    /// digest leaves the index in the same transaction (its old URL stops working).
    pub fn put_link(&self, link: &BookingLink) -> Result<(), StoreError> {
        let record = encode(link)?;
        let key = keys::owned(&link.clinic_id, &link.id);
        (&self.links, &self.link_capabilities)
            .transaction(|(links, capabilities)| {
                if let Some(old) = links.insert(key.as_slice(), record.as_slice())? {
                    let old: BookingLink = decode("booking link", &old)
                        .map_err(|_| sled::transaction::ConflictableTransactionError::Abort(()))?;
                    if old.capability_sha256 != link.capability_sha256 {
                        capabilities.remove(old.capability_sha256.as_bytes())?;
                    }
                }
                capabilities.insert(link.capability_sha256.as_bytes(), key.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }

    /// The link whose capability has this SHA-256 (`domain::digest`), revoked or not.
    pub fn link_by_digest(&self, capability_sha256: &str) -> Result<Option<BookingLink>, StoreError> {
        match self.link_capabilities.get(capability_sha256.as_bytes())? {
            Some(key) => match self.links.get(key)? {
                Some(bytes) => decode("booking link", &bytes).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }
}
