//! The audit trail's tree: entries appended in time order (their ids are ULIDs), read newest first,
//! removed only by age (retention) or rewritten without a rep's words (forgetting a rep on request).

use super::codec::{decode, encode};
use super::{Store, StoreError};
use crate::domain::AuditEntry;

/// One page of the trail, newest first.
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Where the next (older) page starts, when there is one.
    pub next_cursor: Option<String>,
}

impl Store {
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.audit.insert(entry.id.as_bytes(), encode(entry)?)?;
        Ok(())
    }

    /// Up to `limit` entries older than `before` (an entry id) that `keep` keeps, newest first.
    pub fn audit_page(
        &self,
        keep: impl Fn(&AuditEntry) -> bool,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        let range = match before {
            Some(cursor) => self.audit.range(..cursor.as_bytes()),
            None => self.audit.range::<&[u8], _>(..),
        };
        let mut entries = Vec::new();
        for item in range.rev() {
            let (_, bytes) = item?;
            let entry: AuditEntry = decode("audit entry", &bytes)?;
            if !keep(&entry) {
                continue;
            }
            if entries.len() == limit {
                let next_cursor = entries.last().map(|e: &AuditEntry| e.id.clone());
                return Ok(AuditPage { entries, next_cursor });
            }
            entries.push(entry);
        }
        Ok(AuditPage {
            entries,
            next_cursor: None,
        })
    }

    /// Removes entries older than `cutoff`; how many went.
    pub fn purge_audit_before(&self, cutoff: jiff::Timestamp) -> Result<usize, StoreError> {
        let mut removed = 0;
        for item in self.audit.iter() {
            let (key, bytes) = item?;
            let entry: AuditEntry = decode("audit entry", &bytes)?;
            if entry.at >= cutoff {
                break;
            }
            self.audit.remove(key)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Rewrites the entries about the rep with this address digest without their words; how many.
    pub fn forget_rep_in_audit(&self, rep_digest: &str) -> Result<usize, StoreError> {
        self.rewrite_audit(|entry| entry.rep.as_deref() == Some(rep_digest))
    }

    /// The same for the entries about these visits (their reps' details went by retention).
    pub fn forget_visits_in_audit(&self, ids: &std::collections::HashSet<String>) -> Result<usize, StoreError> {
        self.rewrite_audit(|entry| entry.subject.as_ref().is_some_and(|s| ids.contains(s)) && entry.rep.is_some())
    }

    fn rewrite_audit(&self, about: impl Fn(&AuditEntry) -> bool) -> Result<usize, StoreError> {
        let mut rewritten = 0;
        for item in self.audit.iter() {
            let (key, bytes) = item?;
            let mut entry: AuditEntry = decode("audit entry", &bytes)?;
            if about(&entry) {
                entry.rep = None;
                entry.detail = "(the rep's details were removed on request)".into();
                self.audit.insert(key, encode(&entry)?)?;
                rewritten += 1;
            }
        }
        Ok(rewritten)
    }
}
