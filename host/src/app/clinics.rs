//! Clinics, their medical staff and their PMS settings: what a practice manager sets up before anything is
//! booked. The PMS actions themselves (validate, sync staff, reset...) are the sync engine's.

use super::{App, AppError};
use crate::domain::{
    Clinic, ClinicUpdate, DomainError, NewClinic, NewPractitioner, PmsSettingsUpdate, Practitioner, new_id,
};

impl App {
    pub async fn create_clinic(&self, new: NewClinic) -> Result<Clinic, AppError> {
        let clinic = Clinic::create(new_id(), new, self.now())?;
        self.store.put_clinic(&clinic)?;
        self.store.durable().await?;
        Ok(clinic)
    }

    pub fn clinics(&self) -> Result<Vec<Clinic>, AppError> {
        Ok(self.store.clinics()?)
    }

    pub fn clinic(&self, id: &str) -> Result<Clinic, AppError> {
        Ok(self.store.clinic(id)?)
    }

    /// A PATCH of the clinic. Its time zone is pinned once it has appointments (their local times were
    /// booked in it); the practitioner who receives whole-clinic visits must be one of its own.
    pub async fn update_clinic(&self, id: &str, change: ClinicUpdate) -> Result<Clinic, AppError> {
        let (clinic, ()) = self
            .store
            .update_clinic(id, |clinic| {
                let new_zone = change.timezone.as_deref().is_some_and(|zone| zone.trim() != clinic.timezone);
                if new_zone && self.store.has_appointments(&clinic.id)? {
                    return Err(AppError::conflict(
                        "timezone_locked",
                        "the clinic has appointments, whose local times were booked in its current zone; create a new clinic for another zone",
                    ));
                }
                // Blank clears it (the domain's rule); only a named practitioner must be the clinic's.
                if let Some(Some(practitioner)) = &change.clinic_visit_practitioner_id
                    && !practitioner.trim().is_empty()
                {
                    self.store.practitioner(&clinic.id, practitioner).map_err(|_| DomainError::Invalid {
                        field: "clinic_visit_practitioner_id",
                        message: format!(
                            "clinic_visit_practitioner_id '{practitioner}' is not a practitioner of this clinic; use the id of one of its staff"
                        ),
                    })?;
                }
                Ok(clinic.update(&change)?)
            })
            .await?;
        Ok(clinic)
    }

    /// Deletes a clinic and its staff; refused while it has appointments (history a PMS may still hold).
    pub async fn delete_clinic(&self, id: &str) -> Result<(), AppError> {
        {
            let _guard = self.store.lock_clinic(id).await;
            self.store.clinic(id)?;
            if self.store.has_appointments(id)? {
                return Err(AppError::conflict(
                    "clinic_has_appointments",
                    format!("clinic {id} has appointments; cancel them and keep the clinic, or archive it instead"),
                ));
            }
            self.store.delete_clinic(id)?;
        }
        self.store.durable().await?;
        Ok(())
    }

    /// Adds a practitioner; one AHPRA number belongs to one practitioner of a clinic.
    pub async fn add_practitioner(&self, clinic_id: &str, new: NewPractitioner) -> Result<Practitioner, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let practitioner = Practitioner::create(new_id(), clinic.id.clone(), new)?;
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            if let Some(existing) = self
                .store
                .staff(&clinic.id)?
                .into_iter()
                .find(|p| p.ahpra == practitioner.ahpra)
            {
                return Err(DomainError::DuplicateAhpra {
                    ahpra: practitioner.ahpra.to_string(),
                    existing_id: existing.id,
                }
                .into());
            }
            self.store.put_practitioner(&practitioner)?;
        }
        self.store.durable().await?;
        Ok(practitioner)
    }

    pub fn staff(&self, clinic_id: &str) -> Result<Vec<Practitioner>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        Ok(self.store.staff(&clinic.id)?)
    }

    /// Sets the PMS connection (the fields given). A practice location is chosen from the PMS's own list,
    /// so it is checked against that list and named from it; choosing one sends what was waiting for it.
    pub async fn set_pms(&self, clinic_id: &str, mut update: PmsSettingsUpdate) -> Result<Clinic, AppError> {
        if let Some(Some(location_id)) = update.location_id {
            let locations = self.sync.locations(clinic_id).await?;
            let location = locations.iter().find(|l| l.id == location_id).ok_or_else(|| {
                let known: Vec<String> = locations.iter().map(|l| format!("{} ({})", l.id, l.name)).collect();
                DomainError::Invalid {
                    field: "location_id",
                    message: format!(
                        "location {location_id} is not one of the practice's locations: {}",
                        known.join(", ")
                    ),
                }
            })?;
            update.location_name = Some(location.name.clone());
        }
        let location_chosen = matches!(update.location_id, Some(Some(_)));
        let (clinic, ()) = self
            .store
            .update_clinic(clinic_id, |clinic| Ok::<_, AppError>(clinic.pms.apply(update)?))
            .await?;
        if location_chosen {
            self.sync.send_what_was_waiting(&clinic.id).await;
        }
        Ok(clinic)
    }
}
