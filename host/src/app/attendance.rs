//! Visits as they happen: the front desk's day (the visits in time order) and its marks (arrived, no-show,
//! the clinic could not see them; corrected the same day), and the clinic's no-show limit: which reps it
//! pauses, the manager lifting a pause, and the refusal a paused rep gets when booking through a link.
//! A mark keeps the visit's version (nothing for the PMS); the store derives `appointment.arrived` and
//! `appointment.no_show` from it for the webhooks.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::appointments::Listed;
use super::notices::Tell;
use super::{App, AppError};
use crate::domain::{
    Actor, Appointment, AppointmentStatus, AttendanceMark, Clinic, NoShowLimit, Pause, digest, normalize_email,
    pause_of,
};
use crate::store::AppointmentFilter;

/// `PUT /api/v1/appointments/{id}/attendance`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRequest {
    pub mark: AttendanceMark,
}

/// A rep whose no-shows pause their bookings through links at this clinic.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PauseView {
    /// Names the pause for lifting it (derived from the rep's address).
    pub id: String,
    pub rep_email: String,
    pub rep_name: String,
    pub company: String,
    pub no_shows: u32,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
}

impl App {
    /// The front desk marks a visit of today.
    pub async fn mark_attendance(
        &self,
        actor: &Actor,
        id: &str,
        mark: AttendanceMark,
    ) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        let by = actor.audit_actor().name;
        self.change(id, Tell::nobody(), |clinic, current| {
            Ok(Some(current.marked(mark, &by, now, &clinic.tz())?))
        })
        .await
    }

    /// A mark taken back, the same day.
    pub async fn unmark_attendance(&self, id: &str) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        self.change(id, Tell::nobody(), |clinic, current| {
            Ok(Some(current.unmarked(now, &clinic.tz())?))
        })
        .await
    }

    /// The visits of `date` (default today, clinic time) that happen: booked ones, in time order.
    pub fn day_of_visits(&self, clinic_id: &str, date: Option<Date>) -> Result<(Clinic, Date, Vec<Listed>), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let tz = clinic.tz();
        let date = date.unwrap_or_else(|| self.now().to_zoned_datetime(tz.clone()).date());
        let start = date
            .to_zoned_datetime(tz.clone())
            .map_err(|e| AppError::conflict("bad_date", format!("{date} has no start in {}: {e}", clinic.timezone)))?;
        let end = start
            .tomorrow()
            .map_err(|e| AppError::conflict("bad_date", e.to_string()))?;
        let filter = AppointmentFilter {
            from: Some(start.timestamp()),
            to: Some(end.timestamp()),
            status: Some(AppointmentStatus::Booked),
            ..Default::default()
        };
        let visits = self.store.appointments(&clinic.id, &filter)?;
        let listed = self.listed(&clinic, visits)?;
        Ok((clinic, date, listed))
    }

    /// Every rep the clinic's no-show limit pauses now (the newest pauses first).
    pub fn no_show_pauses(&self, clinic_id: &str) -> Result<Vec<PauseView>, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let Some(limit) = clinic.booking.no_show_limit else {
            return Ok(Vec::new());
        };
        let now = self.now();
        let mut by_rep: std::collections::BTreeMap<String, Vec<Appointment>> = Default::default();
        for visit in self.no_shows_within(&clinic, &limit, now)? {
            by_rep.entry(normalize_email(&visit.rep.email)).or_default().push(visit);
        }
        let mut pauses = Vec::new();
        for (address, visits) in by_rep {
            if let Some(pause) = self.pause_for(&clinic, &limit, &address, &visits, now)? {
                let latest = visits.iter().max_by_key(|v| v.start).map(|v| &v.rep);
                pauses.push(PauseView {
                    id: pause_id(&address),
                    rep_email: address.clone(),
                    rep_name: latest.map(|r| r.name.clone()).unwrap_or_default(),
                    company: latest.map(|r| r.company.clone()).unwrap_or_default(),
                    no_shows: pause.no_shows,
                    since: pause.since,
                    until: pause.until,
                });
            }
        }
        pauses.sort_by_key(|p| std::cmp::Reverse(p.since));
        Ok(pauses)
    }

    /// The practice manager lifts a pause: the no-shows up to now are forgiven (later ones count anew).
    pub fn lift_no_show_pause(&self, clinic_id: &str, id: &str) -> Result<PauseView, AppError> {
        let pause = self
            .no_show_pauses(clinic_id)?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::DeadLink {
                code: "not_found",
                message: "no rep is paused by that id at this clinic (the pause may have ended or been lifted)".into(),
            })?;
        self.store.put_no_show_lift(clinic_id, &pause.rep_email, self.now())?;
        Ok(pause)
    }

    /// The no-shows at `clinic` that a pause running now could rest on: within `days` before the longest
    /// pause that could still run.
    fn no_shows_within(
        &self,
        clinic: &Clinic,
        limit: &NoShowLimit,
        now: Timestamp,
    ) -> Result<Vec<Appointment>, AppError> {
        let reach = jiff::SignedDuration::from_hours(i64::from(limit.days + limit.block_days) * 24);
        let filter = AppointmentFilter {
            from: Some(now - reach),
            to: Some(now),
            status: Some(AppointmentStatus::Booked),
            ..Default::default()
        };
        Ok(self
            .store
            .appointments(&clinic.id, &filter)?
            .into_iter()
            .filter(Appointment::is_no_show)
            .collect())
    }

    fn pause_for(
        &self,
        clinic: &Clinic,
        limit: &NoShowLimit,
        address: &str,
        no_shows: &[Appointment],
        now: Timestamp,
    ) -> Result<Option<Pause>, AppError> {
        let lifted = self.store.no_show_lift(&clinic.id, address)?;
        let starts: Vec<Timestamp> = no_shows.iter().map(|v| v.start).collect();
        Ok(pause_of(&starts, limit, lifted, now))
    }

    /// A rep the clinic's no-show limit pauses may not book through a link: the refusal says why, until
    /// when, and to call the clinic. (Only when the clinic set a limit: otherwise nothing is read.)
    pub(super) fn refuse_paused_rep(&self, clinic: &Clinic, rep_email: &str, now: Timestamp) -> Result<(), AppError> {
        let Some(limit) = clinic.booking.no_show_limit else {
            return Ok(());
        };
        let address = normalize_email(rep_email);
        let theirs: Vec<Appointment> = self
            .no_shows_within(clinic, &limit, now)?
            .into_iter()
            .filter(|v| normalize_email(&v.rep.email) == address)
            .collect();
        let Some(pause) = self.pause_for(clinic, &limit, &address, &theirs, now)? else {
            return Ok(());
        };
        let until = pause.until.to_zoned_datetime(clinic.tz()).strftime("%A %-d %B %Y");
        Err(crate::domain::DomainError::BookingRule {
            code: "paused_after_no_shows",
            message: format!(
                "{} cannot take bookings from you through its links until {until}: {} of your visits in the last {} \
                 days were marked as not attended; please call the clinic to talk about it",
                clinic.name, pause.no_shows, limit.days
            ),
        }
        .into())
    }
}

fn pause_id(address: &str) -> String {
    digest(address).chars().take(16).collect()
}
