//! A rep's manage link: the visit it opens, the slots it could swap to, and the rep's own swap and
//! cancel, each up to the clinic's cut-off.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::booking::{RepVisit, digest};
use super::notices::Tell;
use super::slots::{Offer, slot_range, window_end, window_start};
use super::{App, AppError, with_whom};
use crate::domain::MessageKind;
use crate::domain::{
    Appointment, AppointmentStatus, BookingSource, Clinic, DomainError, Placement, local_parts, parse_local_start,
    resolve_local_start_first,
};

/// A swap to another open slot.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapRequest {
    #[schema(pattern = "@local-start")]
    pub start: String,
    #[serde(default)]
    pub practitioner_id: Option<String>,
}

fn cutoff_passed(hours: u32, appointment: &Appointment, now: Timestamp) -> bool {
    appointment.start - SignedDuration::from_hours(hours as i64) <= now
}

impl App {
    /// The visit a manage link opens, while it works.
    pub fn managed(&self, capability: &str) -> Result<RepVisit, AppError> {
        let now = self.now();
        let appointment = self
            .store
            .appointment_by_manage_token(&digest(capability))?
            .filter(|a| a.manage.as_ref().is_some_and(|m| m.expires_at > now))
            .ok_or(AppError::LinkNotFound)?;
        self.visit(appointment)
    }

    pub(super) fn visit(&self, appointment: Appointment) -> Result<RepVisit, AppError> {
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        let with = with_whom(&self.names(&clinic)?, appointment.practitioner_id.as_deref());
        Ok(RepVisit {
            appointment,
            clinic,
            with,
        })
    }

    /// The categories of the link a managed booking came through (its swaps see what the link sees).
    fn categories_of(&self, appointment: &Appointment) -> Result<Vec<String>, AppError> {
        match &appointment.source {
            BookingSource::Link { link_id } => Ok(self.store.link(&appointment.clinic_id, link_id)?.categories),
            BookingSource::Staff => Ok(vec![]),
        }
    }

    /// The open slots a managed booking could swap to.
    pub fn swap_slots(
        &self,
        capability: &str,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<(Clinic, Offer), AppError> {
        let now = self.now();
        let RepVisit {
            appointment, clinic, ..
        } = self.managed(capability)?;
        let (first, last) = slot_range(&clinic, from, to, now)?;
        let appointments = self.appointments_from(
            &clinic,
            window_start(&clinic, first, now),
            Some(window_end(&clinic, last, now)),
        )?;
        let categories = self.categories_of(&appointment)?;
        let offer = self.open(
            &clinic,
            &categories,
            &appointments,
            first,
            last,
            now,
            Some(&appointment.id),
        )?;
        Ok((clinic, offer))
    }

    /// The rep cancels, up to the clinic's cut-off.
    pub async fn cancel_through_link(&self, capability: &str) -> Result<RepVisit, AppError> {
        let now = self.now();
        let id = self.managed(capability)?.appointment.id;
        let (_, listed) = self
            .change(
                &id,
                Tell::both(MessageKind::Cancelled, MessageKind::RepCancelled),
                |clinic, current| {
                    let hours = clinic.booking.cancel_cutoff_hours;
                    if matches!(current.status, AppointmentStatus::Booked | AppointmentStatus::Requested)
                        && cutoff_passed(hours, current, now)
                    {
                        return Err(DomainError::BookingRule {
                            code: "cancel_cutoff_passed",
                            message: format!(
                                "cancellations close {hours} hours before the visit; please call the clinic"
                            ),
                        }
                        .into());
                    }
                    Ok(current.cancelled(now))
                },
            )
            .await?;
        self.visit(listed.appointment)
    }

    /// The rep swaps to another open slot in one step: the old slot is let go only if the new one is taken.
    pub async fn swap(&self, capability: &str, request: SwapRequest) -> Result<RepVisit, AppError> {
        let now = self.now();
        let managed = self.managed(capability)?.appointment;
        let categories = self.categories_of(&managed)?;
        let (_, listed) = self
            .change(
                &managed.id,
                Tell::both(MessageKind::Changed, MessageKind::RepSwapped),
                |clinic, current| {
                    let hours = clinic.booking.swap_cutoff_hours;
                    if cutoff_passed(hours, current, now) {
                        return Err(DomainError::BookingRule {
                            code: "swap_cutoff_passed",
                            message: format!("changes close {hours} hours before the visit; please call the clinic"),
                        }
                        .into());
                    }
                    let wanted = resolve_local_start_first(&clinic.timezone, &parse_local_start(&request.start)?)?;
                    let appointments = self.snapshot_for(clinic, &wanted, now)?;
                    let practitioner = request.practitioner_id.as_deref();
                    let (slot, _) = self.claim(
                        clinic,
                        &categories,
                        &appointments,
                        &wanted,
                        practitioner,
                        now,
                        Some(&current.id),
                    )?;
                    self.check_rules(
                        clinic,
                        &appointments,
                        &current.rep,
                        slot.start,
                        slot.practitioner_id.as_ref(),
                        now,
                        Some(&current.id),
                    )?;
                    let placement = Placement {
                        start: local_parts(slot.start, &clinic.tz()),
                        minutes: slot.minutes,
                        practitioner_id: slot.practitioner_id.clone(),
                    };
                    let swapped = current.swapped(
                        placement,
                        slot.time_id.clone(),
                        slot.approval_required,
                        clinic.booking.swaps_per_day,
                        now,
                    )?;
                    self.check_overlap(clinic, &swapped, now)?;
                    Ok(Some(swapped))
                },
            )
            .await?;
        self.visit(listed.appointment)
    }
}
