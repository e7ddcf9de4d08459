//! What repbook knows about an appointment's record in the PMS, kept apart from the appointment: only the
//! sync path writes it (one record per appointment, its own store tree), so a booking never re-reads or
//! merges it. Where an appointment stands with the PMS is derived from three facts: whether a change of it
//! waits in the outbox, what the sync path recorded about its current version, and whether the clinic
//! sends to a PMS at all.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::Appointment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PmsSyncState {
    Pending,
    Synced,
    NeedsAttention,
    NotApplicable,
}

/// Where the PMS holds an appointment, as the last successful push left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PmsPlacement {
    pub pms_id: String,
    pub practitioner_user_id: i64,
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    pub start_seconds: u32,
    pub duration_seconds: u32,
}

/// What the host knows about an appointment's record in the PMS (see the WIT `pms-knowledge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PmsKnowledge {
    /// No push ever started: the PMS cannot hold it.
    NeverSent,
    /// The last push succeeded with this placement; nothing sent since can have changed it.
    Confirmed(PmsPlacement),
    /// The PMS may hold something the host did not hear about: look before writing.
    Uncertain { pms_id: Option<String> },
}

impl PmsKnowledge {
    /// The PMS id, when one is known.
    pub fn pms_id(&self) -> Option<&str> {
        match self {
            PmsKnowledge::NeverSent => None,
            PmsKnowledge::Confirmed(placement) => Some(&placement.pms_id),
            PmsKnowledge::Uncertain { pms_id } => pms_id.as_deref(),
        }
    }
}

/// Where the appointment stands in the PMS: pending while a change of it waits to be sent, else what the
/// sync path recorded about its current version. `pms_id`, `ever_sent`, `in_doubt` and `confirmed` are what
/// repbook knows about the PMS's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PmsSyncStatus {
    pub state: PmsSyncState,
    pub pms_id: Option<String>,
    pub reason: Option<String>,
    pub synced_version: Option<u64>,
    pub attempts: u32,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    /// A push was attempted at least once, so the PMS may hold this appointment even without a PMS id.
    #[serde(default)]
    pub ever_sent: bool,
    /// A push started and its outcome is not known yet (set durably before sending, cleared with the
    /// outcome): the PMS may hold something repbook did not hear about.
    #[serde(default)]
    pub in_doubt: bool,
    /// The placement the last successful push left in the PMS; `None` once repbook has reason to doubt it.
    #[serde(default)]
    pub confirmed: Option<PmsPlacement>,
    /// The connector whose PMS the last successful delivery reached.
    #[serde(default)]
    pub delivered_by: Option<String>,
    /// The connector the knowledge above is about (set when a push starts); a switch of connector clears it,
    /// so a delivery still in flight to the old PMS cannot write its answer over the new PMS's state.
    #[serde(default)]
    pub sending_to: Option<String>,
    /// Every connector a push of this appointment ever started with, and the id its PMS gave the record
    /// when known: those PMSs may hold it (a switch back looks there first).
    #[serde(default)]
    pub held_by: Vec<HeldBy>,
}

/// A PMS that may hold a record of an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldBy {
    pub connector: String,
    pub pms_id: Option<String>,
}

impl PmsSyncStatus {
    pub fn held_by(&self, connector: &str) -> Option<&HeldBy> {
        self.held_by.iter().find(|h| h.connector == connector)
    }

    /// Notes that `connector`'s PMS may hold this appointment (with this id, when known).
    pub fn note_held_by(&mut self, connector: &str, pms_id: Option<String>) {
        match self.held_by.iter_mut().find(|h| h.connector == connector) {
            Some(held) => {
                if pms_id.is_some() {
                    held.pms_id = pms_id;
                }
            }
            None => self.held_by.push(HeldBy {
                connector: connector.to_string(),
                pms_id,
            }),
        }
    }
}

impl PmsSyncStatus {
    fn initial() -> Self {
        PmsSyncStatus {
            state: PmsSyncState::NotApplicable,
            pms_id: None,
            reason: None,
            synced_version: None,
            attempts: 0,
            updated_at: None,
            ever_sent: false,
            in_doubt: false,
            confirmed: None,
            delivered_by: None,
            sending_to: None,
            held_by: Vec::new(),
        }
    }

    /// What a push may assume about the PMS record, before it is marked as in doubt.
    pub fn knowledge(&self) -> PmsKnowledge {
        if !self.ever_sent {
            PmsKnowledge::NeverSent
        } else if let (false, Some(placement)) = (self.in_doubt, &self.confirmed) {
            PmsKnowledge::Confirmed(placement.clone())
        } else {
            PmsKnowledge::Uncertain {
                pms_id: self.pms_id.clone(),
            }
        }
    }

    /// The clinic now sends to `connector`: what was known about the old PMS's record says nothing about the
    /// new one. If `connector` ever held this appointment (a switch back), its record may still be there,
    /// so the next push looks before it writes; otherwise it creates without looking.
    pub fn switched_to(&mut self, connector: &str) {
        let held = self.held_by(connector).cloned();
        self.ever_sent = held.is_some();
        self.in_doubt = self.ever_sent;
        self.pms_id = held.and_then(|h| h.pms_id);
        self.confirmed = None;
        self.sending_to = None;
        self.state = PmsSyncState::Pending;
        self.reason = None;
        self.synced_version = None;
        self.attempts = 0;
    }
}

/// The sync path's record of one appointment: what it last recorded (`status`), about which version of the
/// appointment (`version`), and what it knows of the PMS's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsRecord {
    /// The appointment version `status.state` and `status.reason` are about; 0 before anything was recorded.
    pub version: u64,
    #[serde(flatten)]
    pub status: PmsSyncStatus,
    /// The practice was told this appointment could not be sent, and not yet that it went: what makes
    /// that mail go once per problem, however often it is retried.
    #[serde(default)]
    pub trouble_told: bool,
}

impl Default for PmsRecord {
    fn default() -> Self {
        PmsRecord {
            version: 0,
            status: PmsSyncStatus::initial(),
            trouble_told: false,
        }
    }
}

impl PmsRecord {
    /// Where `appointment` stands with the PMS now. `queued`: a change of it waits in the outbox (or is
    /// being delivered); `pms_active`: the clinic sends to a PMS. A queued change is pending; otherwise what
    /// was recorded about the current version holds, and an appointment whose current version nothing was
    /// recorded about, with nothing queued, was not sent (a request, a decline, a booking made while the
    /// PMS was off).
    pub fn status_of(&self, appointment: &Appointment, queued: bool, pms_active: bool) -> PmsSyncStatus {
        let mut status = self.status.clone();
        let current = self.version == appointment.version;
        if !current {
            status.reason = None;
            status.synced_version = None;
            status.attempts = 0;
        }
        status.state = match (queued, current) {
            (true, _) if pms_active => PmsSyncState::Pending,
            (true, _) => PmsSyncState::NotApplicable,
            (false, true) => self.status.state,
            (false, false) => PmsSyncState::NotApplicable,
        };
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Clinic, NewAppointment, NewClinic, Rep};

    fn appointment() -> Appointment {
        let clinic = Clinic::create(
            "c".into(),
            NewClinic {
                name: "A".into(),
                timezone: "Australia/Sydney".into(),
                state: "NSW".into(),
                appointment_duration_minutes: 15,
            },
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        let new = NewAppointment {
            practitioner_id: "p".into(),
            rep: Rep {
                name: "R".into(),
                company: "Co".into(),
                email: String::new(),
                phone: None,
            },
            start: "2030-01-10T09:00".into(),
            duration_minutes: None,
            notes: String::new(),
        };
        Appointment::book("a".into(), &clinic, new, Timestamp::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn a_queued_change_is_pending_and_an_outcome_holds_only_for_its_version() {
        let mut appointment = appointment();
        let never = PmsRecord::default();
        assert_eq!(never.status_of(&appointment, true, true).state, PmsSyncState::Pending);
        assert_eq!(
            never.status_of(&appointment, true, false).state,
            PmsSyncState::NotApplicable
        );
        assert_eq!(
            never.status_of(&appointment, false, true).state,
            PmsSyncState::NotApplicable
        );

        let mut synced = PmsRecord {
            version: appointment.version,
            ..Default::default()
        };
        synced.status.state = PmsSyncState::Synced;
        synced.status.synced_version = Some(appointment.version);
        assert_eq!(synced.status_of(&appointment, false, true).state, PmsSyncState::Synced);
        // A move since: pending while queued, and the old outcome's details are not shown as current.
        appointment.version += 1;
        let moved = synced.status_of(&appointment, true, true);
        assert_eq!((moved.state, moved.synced_version), (PmsSyncState::Pending, None));
    }
}
