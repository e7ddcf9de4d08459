//! What a clinic publishes for reps: visitor categories, weekly rep-visit times, closed dates and booking
//! links. Changes that several records must agree on (a category still in use, a duplicate name) run under
//! the clinic's lock.

use jiff::civil::Date;

use super::booking::{digest, new_capability};
use super::{App, AppError, with_whom};
use crate::domain::{
    BookingLink, ClosedDate, DomainError, NewBookingLink, NewCategory, NewClosedDate, NewPublishedTime, PublishedTime,
    VisitorCategory, new_id,
};

/// A published time and who it is with ("Dr Ana Ng", or "the clinic").
pub struct NamedTime {
    pub time: PublishedTime,
    pub with: String,
}

impl App {
    /// Refuses category ids that are not the clinic's own, naming the ones it has.
    fn known_categories(&self, clinic_id: &str, ids: &[String]) -> Result<(), AppError> {
        let categories = self.store.categories(clinic_id)?;
        if let Some(unknown) = ids.iter().find(|id| !categories.iter().any(|c| &c.id == *id)) {
            let known: Vec<String> = categories.iter().map(|c| format!("{} ({})", c.id, c.name)).collect();
            return Err(DomainError::Invalid {
                field: "categories",
                message: format!(
                    "category '{unknown}' is not one of this clinic's visitor categories{}",
                    if known.is_empty() {
                        "; create categories first".to_string()
                    } else {
                        format!(": {}", known.join(", "))
                    }
                ),
            }
            .into());
        }
        Ok(())
    }

    pub fn categories(&self, clinic_id: &str) -> Result<Vec<VisitorCategory>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        Ok(self.store.categories(&clinic.id)?)
    }

    pub async fn add_category(&self, clinic_id: &str, new: NewCategory) -> Result<VisitorCategory, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let category = VisitorCategory::create(new_id(), clinic.id.clone(), new)?;
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            if self
                .store
                .categories(&clinic.id)?
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&category.name))
            {
                return Err(AppError::conflict(
                    "duplicate_category",
                    format!("this clinic already has a category named '{}'", category.name),
                ));
            }
            self.store.put_category(&category)?;
        }
        self.store.durable().await?;
        Ok(category)
    }

    /// Removes a category no published time and no live link uses.
    pub async fn remove_category(&self, clinic_id: &str, id: &str) -> Result<(), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            let used_by_time = self
                .store
                .published_times(&clinic.id)?
                .iter()
                .any(|t| t.categories.iter().any(|c| c == id));
            let used_by_link = self
                .store
                .links(&clinic.id)?
                .iter()
                .any(|l| l.revoked_at.is_none() && l.categories.iter().any(|c| c == id));
            if used_by_time || used_by_link {
                return Err(AppError::conflict(
                    "category_in_use",
                    "a published time or a live booking link uses this category; change or remove those first",
                ));
            }
            self.store.remove_category(&clinic.id, id)?;
        }
        self.store.durable().await?;
        Ok(())
    }

    /// The clinic's weekly times, each with who it is with.
    pub fn times(&self, clinic_id: &str) -> Result<Vec<NamedTime>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let names = self.names(&clinic)?;
        Ok(self
            .store
            .published_times(&clinic.id)?
            .into_iter()
            .map(|time| NamedTime {
                with: with_whom(&names, time.practitioner_id.as_deref()),
                time,
            })
            .collect())
    }

    /// Publishes a weekly time; the clinic needs a doctor first, and the time's doctor must be its own.
    pub async fn add_time(&self, clinic_id: &str, new: NewPublishedTime) -> Result<NamedTime, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let staff = self.store.staff(&clinic.id)?;
        if staff.is_empty() {
            return Err(AppError::conflict(
                "no_staff",
                "add at least one doctor before publishing rep-visit times",
            ));
        }
        let time = PublishedTime::create(new_id(), clinic.id.clone(), new, clinic.appointment_duration_minutes)?;
        let with = match &time.practitioner_id {
            Some(id) => staff
                .iter()
                .find(|p| &p.id == id)
                .map(|p| p.display_name())
                .ok_or_else(|| DomainError::Invalid {
                    field: "practitioner_id",
                    message: format!(
                        "practitioner_id '{id}' is not a practitioner of this clinic; use null for a time with the whole clinic"
                    ),
                })?,
            None => "the clinic".to_string(),
        };
        self.known_categories(&clinic.id, &time.categories)?;
        self.store.put_published_time(&time)?;
        self.store.durable().await?;
        Ok(NamedTime { time, with })
    }

    /// Stops publishing a time; bookings made in it stay.
    pub async fn remove_time(&self, clinic_id: &str, id: &str) -> Result<(), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.store.remove_published_time(&clinic.id, id)?;
        self.store.durable().await?;
        Ok(())
    }

    pub fn closed_dates(&self, clinic_id: &str) -> Result<Vec<ClosedDate>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        Ok(self.store.closed_dates(&clinic.id)?)
    }

    pub async fn close_date(&self, clinic_id: &str, new: NewClosedDate) -> Result<ClosedDate, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let closed = ClosedDate::create(clinic.id.clone(), new)?;
        self.store.put_closed_date(&closed)?;
        self.store.durable().await?;
        Ok(closed)
    }

    pub async fn reopen_date(&self, clinic_id: &str, date: Date) -> Result<(), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.store.remove_closed_date(&clinic.id, date)?;
        self.store.durable().await?;
        Ok(())
    }

    pub fn links(&self, clinic_id: &str) -> Result<Vec<BookingLink>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        Ok(self.store.links(&clinic.id)?)
    }

    /// A new booking link for some of the clinic's categories, with its capability: the only time it is
    /// known (the store keeps its digest).
    pub async fn create_link(&self, clinic_id: &str, new: NewBookingLink) -> Result<(BookingLink, String), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.known_categories(&clinic.id, &new.categories)?;
        let capability = new_capability()?;
        let link = BookingLink::create(new_id(), clinic.id.clone(), new, &capability, self.now())?;
        self.store.put_link(&link)?;
        self.store.durable().await?;
        Ok((link, capability))
    }

    /// A new URL for a live link (its label, categories and bookings stay; the old URL stops working), for
    /// a link whose URL was lost or leaked.
    pub async fn renew_link(&self, clinic_id: &str, id: &str) -> Result<(BookingLink, String), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let capability = new_capability()?;
        let link = {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            let mut link = self.store.link(&clinic.id, id)?;
            if link.revoked_at.is_some() {
                return Err(AppError::Domain(crate::domain::DomainError::Invalid {
                    field: "link",
                    message: "this link is revoked; create a new link instead".into(),
                }));
            }
            link.capability_sha256 = digest(&capability);
            self.store.put_link(&link)?;
            link
        };
        self.store.durable().await?;
        Ok((link, capability))
    }

    /// Revokes a link: its URL answers like one that never existed. Bookings made through it stay.
    pub async fn revoke_link(&self, clinic_id: &str, id: &str) -> Result<(), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            let mut link = self.store.link(&clinic.id, id)?;
            if link.revoked_at.is_none() {
                link.revoked_at = Some(self.now());
                self.store.put_link(&link)?;
            }
        }
        self.store.durable().await?;
        Ok(())
    }
}
