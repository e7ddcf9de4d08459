//! Reps' personal information (Australian Privacy Principles 11.2 and 12/13) and the audit trail: past
//! visits, ended waitlist places and webhook deliveries lose the rep's name, address and phone after the
//! clinic's `rep_data_retention_days`; a rep who asks is forgotten at once everywhere (`forget_rep`); both
//! are recorded in the audit trail, which keeps who did what without secrets and is itself kept for
//! `audit_retention`.

use std::collections::HashSet;

use jiff::SignedDuration;

use super::{App, AppError};
use crate::domain::{
    Actor, Appointment, AuditEntry, Clinic, Delivery, EntryStatus, Role, WaitlistEntry, digest, new_id, normalize_email,
};
use crate::store::{AppointmentFilter, AuditPage, Change, WaitlistWrite};

/// What a removed rep's name reads as.
pub const REMOVED: &str = "(removed)";

/// What forgetting a rep changed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Forgotten {
    /// Visits whose rep details were removed.
    pub visits: usize,
    /// Audit entries that no longer name the rep.
    pub audit_entries: usize,
    /// Waitlist places whose rep details were removed (and that ended).
    #[serde(default)]
    pub waitlist_entries: usize,
    /// Webhook deliveries whose body no longer names the rep.
    #[serde(default)]
    pub webhook_deliveries: usize,
}

/// Replaces the details of every rep object (one with `name`, `company` and `email`) in a JSON body whose
/// address `pick` chooses; whether anything changed.
fn scrub_json(value: &mut serde_json::Value, pick: &dyn Fn(&str) -> bool) -> bool {
    use serde_json::Value;
    match value {
        Value::Object(object) => {
            let is_rep = object.contains_key("name") && object.contains_key("company");
            let chosen = is_rep
                && object
                    .get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|email| !email.is_empty() && pick(email));
            let mut changed = false;
            if chosen {
                object.insert("name".into(), Value::String(REMOVED.into()));
                object.insert("email".into(), Value::String(String::new()));
                object.insert("phone".into(), Value::Null);
                changed = true;
            }
            for inner in object.values_mut() {
                changed |= scrub_json(inner, pick);
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| scrub_json(item, pick) | changed),
        _ => false,
    }
}

/// The digest that names a rep in the audit trail: of the normalised address, never the address.
pub fn rep_digest(email: &str) -> Option<String> {
    let address = normalize_email(email);
    (!address.is_empty()).then(|| digest(&address))
}

fn scrubbed(appointment: &Appointment) -> Option<Appointment> {
    let rep = &appointment.rep;
    if rep.name == REMOVED && rep.email.is_empty() && rep.phone.is_none() {
        return None;
    }
    let mut clean = appointment.clone();
    clean.rep.name = REMOVED.into();
    clean.rep.email = String::new();
    clean.rep.phone = None;
    Some(clean)
}

impl App {
    /// Appends to the audit trail; a failure is logged, never the request's failure (the change it
    /// records is already durable).
    pub fn audit(&self, entry: AuditEntry) {
        if let Err(error) = self.store.append_audit(&entry) {
            tracing::error!(%error, action = %entry.action, "cannot append to the audit trail");
        }
    }

    /// An entry by repbook itself (housekeeping, a person's request carried out).
    fn audit_system(&self, clinic_id: Option<&str>, action: &str, detail: String) {
        self.audit(AuditEntry {
            id: new_id(),
            at: self.now(),
            clinic_id: clinic_id.map(str::to_string),
            actor: crate::domain::AuditActor::system(),
            role: None,
            client: None,
            action: action.into(),
            outcome: "done".into(),
            detail,
            subject: None,
            rep: None,
        });
    }

    /// The clinic an appointment belongs to (one read; for attributing a request to its clinic).
    pub fn clinic_of_appointment(&self, id: &str) -> Result<String, AppError> {
        Ok(self.store.appointment(id)?.clinic_id)
    }

    /// What the actor may read of the trail: an owner all of it; a manager the entries of the clinics they
    /// manage and those about their people (sign-ins, factors, roles).
    pub fn audit_page(
        &self,
        actor: &Actor,
        clinic_id: Option<&str>,
        action: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, AppError> {
        if let Some(id) = clinic_id {
            actor
                .permit(id, Role::Manager)
                .map_err(|denied| self.refusal(denied, "clinic", id))?;
            self.store.clinic(id)?;
        }
        let owner = actor.is_owner();
        let their_people: HashSet<String> = if owner {
            HashSet::new()
        } else {
            self.store
                .people()?
                .into_iter()
                .filter(|p| !p.is_owner() && actor.sees_person(p))
                .map(|p| p.id)
                .collect()
        };
        // A clinic's trail is its changes and what its people did or had done to them (signing in, their
        // factors), whose entries name no clinic.
        let people_here: HashSet<String> = match clinic_id {
            Some(c) => self
                .store
                .people()?
                .into_iter()
                .filter(|p| p.role_at(c).is_some() && !p.is_owner())
                .map(|p| p.id)
                .collect(),
            None => HashSet::new(),
        };
        let manages = |clinic: &str| actor.permit(clinic, Role::Manager).is_ok();
        let keep = |entry: &AuditEntry| {
            clinic_id.is_none_or(|c| {
                entry.clinic_id.as_deref() == Some(c)
                    || (entry.clinic_id.is_none() && entry.subject.as_ref().is_some_and(|s| people_here.contains(s)))
            }) && action.is_none_or(|a| entry.action == a)
                && (owner
                    || entry.clinic_id.as_deref().is_some_and(manages)
                    || entry.subject.as_ref().is_some_and(|s| their_people.contains(s)))
        };
        if !(1..=500).contains(&limit) {
            return Err(crate::domain::DomainError::Invalid {
                field: "limit",
                message: format!("limit {limit} must be between 1 and 500"),
            }
            .into());
        }
        Ok(self.store.audit_page(keep, before, limit)?)
    }

    /// Removes rep details from each clinic's visits that ended `rep_data_retention_days` ago, and audit
    /// entries older than `audit_keep`. Housekeeping runs it; the PMS is not told (its copy is the
    /// clinic's record, kept by the clinic's own rules).
    pub async fn apply_retention(&self, audit_keep: SignedDuration) -> Result<(), AppError> {
        let now = self.now();
        for clinic in self.store.clinics()? {
            let days = clinic.booking.rep_data_retention_days;
            let cutoff = now - SignedDuration::from_hours(days as i64 * 24);
            // A visit lasts at most a few hours: from a day before the last cutoff covers one that
            // started before it and ended after.
            let since = self
                .retained_to()
                .get(&clinic.id)
                .map(|last| *last - SignedDuration::from_hours(24));
            let before_cutoff = AppointmentFilter {
                from: since,
                to: Some(cutoff),
                ..Default::default()
            };
            let removed = self.scrub(&clinic, &before_cutoff, |a| a.end() < cutoff).await?;
            self.retained_to().insert(clinic.id.clone(), cutoff);
            let places = self
                .scrub_waitlist(&clinic.id, |e| e.ended_at.is_some_and(|at| at < cutoff))
                .await?;
            let deliveries = self.scrub_deliveries(&clinic.id, |d| d.created_at < cutoff, &|_| true)?;
            if places + deliveries > 0 {
                self.audit_system(
                    Some(&clinic.id),
                    "rep details removed",
                    format!(
                        "the rep's details of {places} waitlist place(s) that ended and {deliveries} webhook delivery(ies) made over {days} days ago (the clinic's retention)"
                    ),
                );
            }
            if !removed.is_empty() {
                self.store.forget_visits_in_audit(&removed)?;
                self.audit_system(
                    Some(&clinic.id),
                    "rep details removed",
                    format!(
                        "the rep's name, address and phone of {} visit(s) that ended over {days} days ago (the clinic's retention)",
                        removed.len()
                    ),
                );
            }
        }
        let purged = self.store.purge_audit_before(now - audit_keep)?;
        if purged > 0 {
            tracing::info!(purged, "audit entries past their retention removed");
        }
        Ok(())
    }

    fn retained_to(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, jiff::Timestamp>> {
        self.retained_to.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes a rep's details from every visit of theirs at every clinic, and their words from the audit
    /// trail (APP 12/13: a rep's request).
    pub async fn forget_rep(&self, email: &str) -> Result<Forgotten, AppError> {
        let address = normalize_email(&crate::domain::check_email("email", email)?);
        let (mut visits, mut waitlist_entries, mut webhook_deliveries) = (0, 0, 0);
        for clinic in self.store.clinics()? {
            waitlist_entries += self
                .scrub_waitlist(&clinic.id, |e| normalize_email(&e.rep.email) == address)
                .await?;
            webhook_deliveries +=
                self.scrub_deliveries(&clinic.id, |_| true, &|email| normalize_email(email) == address)?;
            let removed = self
                .scrub(&clinic, &AppointmentFilter::default(), |a| {
                    normalize_email(&a.rep.email) == address
                })
                .await?
                .len();
            if removed > 0 {
                self.audit_system(
                    Some(&clinic.id),
                    "rep details removed",
                    format!("on the rep's request: name, address and phone of {removed} visit(s)"),
                );
            }
            visits += removed;
        }
        let audit_entries = match rep_digest(&address) {
            Some(rep) => self.store.forget_rep_in_audit(&rep)?,
            None => 0,
        };
        self.store.durable().await?;
        Ok(Forgotten {
            visits,
            audit_entries,
            waitlist_entries,
            webhook_deliveries,
        })
    }

    /// Removes the rep's details from the clinic's waitlist places `pick` chooses; a place still waiting
    /// ends (nobody is left to tell). The number changed.
    async fn scrub_waitlist(&self, clinic_id: &str, pick: impl Fn(&WaitlistEntry) -> bool) -> Result<usize, AppError> {
        let now = self.now();
        let _guard = self.store.lock_clinic(clinic_id).await;
        let changed: Vec<WaitlistEntry> = self
            .store
            .waitlist_entries(clinic_id)?
            .into_iter()
            .filter(|e| e.rep.name != REMOVED && pick(e))
            .map(|e| {
                let mut clean = if e.ended_at.is_none() {
                    e.ended(EntryStatus::Removed, now)
                } else {
                    e
                };
                clean.rep.name = REMOVED.into();
                clean.rep.company = REMOVED.into();
                clean.rep.email = String::new();
                clean.rep.phone = None;
                clean
            })
            .collect();
        if !changed.is_empty() {
            let writes: Vec<WaitlistWrite<'_>> = changed.iter().map(WaitlistWrite::Entry).collect();
            self.store.write_waitlist(&writes, &[], &[])?;
        }
        Ok(changed.len())
    }

    /// Removes the details of the reps `rep` chooses (by address) from the bodies of the clinic's webhook
    /// deliveries `pick` chooses. The number changed.
    fn scrub_deliveries(
        &self,
        clinic_id: &str,
        pick: impl Fn(&Delivery) -> bool,
        rep: &dyn Fn(&str) -> bool,
    ) -> Result<usize, AppError> {
        let mut changed = 0;
        for mut delivery in self.store.clinic_deliveries(clinic_id)? {
            if !pick(&delivery) {
                continue;
            }
            let Ok(mut body) = serde_json::from_str::<serde_json::Value>(&delivery.payload) else {
                continue;
            };
            if scrub_json(&mut body, rep) {
                delivery.payload = body.to_string();
                self.store.put_delivery(&delivery)?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Scrubs the clinic's visits (of those `filter` reads) that `pick` chooses, under the clinic's lock;
    /// the ids it changed. The version stays, so nothing goes to the PMS.
    async fn scrub(
        &self,
        clinic: &Clinic,
        filter: &AppointmentFilter,
        pick: impl Fn(&Appointment) -> bool,
    ) -> Result<std::collections::HashSet<String>, AppError> {
        let _guard = self.store.lock_clinic(&clinic.id).await;
        let all = self.store.appointments(&clinic.id, filter)?;
        let mut changed = std::collections::HashSet::new();
        for appointment in all.iter().filter(|a| pick(a)) {
            if let Some(clean) = scrubbed(appointment) {
                self.store.write(Change::of(&clean).after(appointment))?;
                changed.insert(appointment.id.clone());
            }
        }
        if !changed.is_empty() {
            self.store.durable().await?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rep_object_with_the_address_is_scrubbed_and_nothing_else() {
        let mut body = serde_json::json!({
            "type": "waitlist.claimed",
            "data": {
                "entry": {"rep": {"name": "Ann", "company": "Acme", "email": "Ann@Acme.test", "phone": "0400"}},
                "appointment": {"rep": {"name": "Ann", "company": "Acme", "email": "ann@acme.test", "phone": null},
                                "practitioner_name": "Dr Ana Ng"},
                "other": {"rep": {"name": "Bo", "company": "Beta", "email": "bo@beta.test"}}
            }
        });
        let pick = |email: &str| normalize_email(email) == "ann@acme.test";
        assert!(scrub_json(&mut body, &pick));
        let text = body.to_string();
        assert!(
            !text.contains("Ann") && !text.contains("0400") && !text.contains("ann@"),
            "{text}"
        );
        assert!(text.contains("bo@beta.test") && text.contains("Dr Ana Ng"), "{text}");
        assert!(!scrub_json(&mut body, &pick), "a second pass changes nothing");
    }
}
