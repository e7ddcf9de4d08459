//! Reconciliation: repbook is the source of truth. Compares the connector's tagged appointments in the
//! future window with repbook's and repairs the PMS: re-creates missing ones, moves misplaced ones,
//! cancels ones repbook cancelled or does not know.

use std::collections::HashMap;

use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::{SyncEngine, SyncError};
use crate::domain::{AppointmentStatus, PmsKnowledge};
use crate::plugins::contract::{LocalAppointment, PmsAppointment};
use crate::store::AppointmentFilter;

/// How far ahead reconciliation looks.
const WINDOW_DAYS: i64 = 180;

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconcileReport {
    pub checked_in_repbook: usize,
    pub found_in_pms: usize,
    /// Booked in repbook, absent (or cancelled) in the PMS: re-created.
    pub missing: Vec<String>,
    /// In the PMS at another time, length or practitioner: moved back.
    pub misplaced: Vec<String>,
    /// Cancelled in repbook, live in the PMS: cancelled there.
    pub should_be_cancelled: Vec<String>,
    /// Live in the PMS with more than one record: the extras cancelled.
    pub duplicated: Vec<String>,
    /// Tagged in the PMS but unknown to repbook: cancelled there.
    pub unknown: Vec<String>,
    /// Repairs queued (delivered by the worker) or done directly.
    pub repairs: usize,
}

impl SyncEngine {
    pub async fn reconcile(&self, clinic_id: &str) -> Result<ReconcileReport, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        if !clinic.pms.is_active() {
            return Err(SyncError::NotConfigured(
                "switch the clinic's PMS sync on before reconciling".into(),
            ));
        }
        let plugin = self.connector(&clinic)?;
        let now = Timestamp::now();
        let today = now.to_zoned_datetime(clinic.tz()).date();
        let last = today.checked_add(WINDOW_DAYS.days()).unwrap_or(today);
        let mut ctx = Self::call_context(&clinic);
        let result = plugin.list_appointments(&mut ctx, today, last).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        let in_pms = result?;

        let ours = self.store.appointments(
            &clinic.id,
            &AppointmentFilter {
                from: Some(now),
                to: None,
                status: None,
                ..Default::default()
            },
        )?;
        let mut live_by_reference: HashMap<&str, Vec<&PmsAppointment>> = HashMap::new();
        for appointment in in_pms.iter().filter(|a| !a.cancelled) {
            live_by_reference
                .entry(appointment.reference.as_str())
                .or_default()
                .push(appointment);
        }
        let mut report = ReconcileReport {
            checked_in_repbook: ours.len(),
            found_in_pms: in_pms.len(),
            ..Default::default()
        };
        let mut to_queue = Vec::new();
        for appointment in &ours {
            let live = live_by_reference
                .remove(appointment.reference.as_str())
                .unwrap_or_default();
            let reference = appointment.reference.clone();
            match appointment.status {
                AppointmentStatus::Booked if live.is_empty() => report.missing.push(reference),
                AppointmentStatus::Booked if live.len() > 1 => report.duplicated.push(reference),
                AppointmentStatus::Booked => {
                    let pms = live[0];
                    // What the PMS does not disclose (some PMSs hide the length) cannot be compared.
                    let in_place = pms.date == appointment.local_date
                        && pms.start_seconds == appointment.local_seconds
                        && pms
                            .duration_seconds
                            .is_none_or(|seconds| seconds == appointment.duration_minutes * 60)
                        && pms.practitioner_user_id.is_none_or(|user| {
                            self.pms_user(&clinic, appointment.practitioner_id.as_deref()).ok() == Some(user)
                        });
                    if in_place {
                        continue;
                    }
                    report.misplaced.push(reference);
                }
                // Cancelled, declined, expired or still a request: nothing may be live in the PMS.
                _ if !live.is_empty() => report.should_be_cancelled.push(reference),
                _ => continue,
            }
            to_queue.push(appointment.clone());
        }
        // Whatever is left carries a repbook tag that repbook does not know (in this window): cancel it.
        let mut strangers = Vec::new();
        for (reference, records) in &live_by_reference {
            if self.store.appointment(reference).is_err() {
                report.unknown.push(reference.to_string());
                strangers.push(records[0].clone());
            }
        }
        report.unknown.sort();
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            for appointment in &to_queue {
                let current = self.store.appointment(&appointment.id)?;
                self.store.enqueue_appointment(&current, now)?;
                self.scheduler().release(&clinic.id, &appointment.id);
            }
        }
        self.store.durable().await?;
        report.repairs = to_queue.len();
        for stranger in &strangers {
            let mut ctx = Self::call_context(&clinic);
            let record = LocalAppointment {
                reference: stranger.reference.clone(),
                known: PmsKnowledge::Uncertain {
                    pms_id: Some(stranger.pms_id.clone()),
                },
                practitioner_user_id: stranger.practitioner_user_id.unwrap_or(0),
                date: stranger.date,
                start_seconds: stranger.start_seconds,
                duration_seconds: stranger.duration_seconds.unwrap_or(0),
                rep_name: String::new(),
                rep_company: String::new(),
                rep_email: String::new(),
                notes: String::new(),
            };
            let result = plugin.cancel_appointment(&mut ctx, &record).await;
            self.keep_site_cache(&clinic, &ctx).await?;
            result?;
            report.repairs += 1;
        }
        self.counters
            .reconciliations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(clinic = %clinic.id, missing = report.missing.len(), misplaced = report.misplaced.len(),
            cancelled = report.should_be_cancelled.len(), unknown = report.unknown.len(), "reconciled");
        Ok(report)
    }
}
