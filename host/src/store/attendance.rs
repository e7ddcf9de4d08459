//! The no-show pauses a practice manager lifted: per clinic and rep address, when (the no-shows up to then
//! are forgiven). The marks themselves live on the appointments.

use jiff::Timestamp;

use super::{Store, StoreError};

fn key(clinic_id: &str, address: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(clinic_id.len() + address.len() + 1);
    key.extend_from_slice(clinic_id.as_bytes());
    key.push(0);
    key.extend_from_slice(address.as_bytes());
    key
}

impl Store {
    pub fn no_show_lift(&self, clinic_id: &str, address: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .no_show_lifts
            .get(key(clinic_id, address))?
            .and_then(|v| String::from_utf8_lossy(&v).parse().ok()))
    }

    pub fn put_no_show_lift(&self, clinic_id: &str, address: &str, at: Timestamp) -> Result<(), StoreError> {
        self.no_show_lifts
            .insert(key(clinic_id, address), at.to_string().as_bytes())?;
        Ok(())
    }
}
