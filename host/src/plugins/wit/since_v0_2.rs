//! `repbook:pms@0.2.0`: its bindings, and what differs from the shared host code (`shared`): the `zone`
//! import, and the conversions of the records 0.2.0 changed. New in 0.2.0: what the host knows of a PMS record travels with each push and
//! cancel, credentials have a scheme, PMS appointments may lack a practitioner or a length, and
//! `unavailability` reads a practitioner's diary.

wasmtime::component::bindgen!({
    path: "../wit/pms-0.2.0",
    world: "connector-world",
    imports: { default: async },
    exports: { default: async },
});

use wasmtime::component::{HasSelf, Linker};

use self::repbook::pms::{types as wit, zone};
use super::civil_date;
use super::shared::{connector_exports, connector_failure, host_imports, shared_conversions};
use crate::plugins::contract::*;
use crate::plugins::sandbox::HostState;

pub const EXPORT: &str = "repbook:pms/connector@0.2.0";

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    ConnectorWorld::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

host_imports!(self::repbook::pms);
shared_conversions!(self::repbook::pms::types);
connector_failure!(self::repbook::pms::types; Unsupported);

impl zone::Host for HostState {
    async fn name(&mut self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_string()
    }

    async fn to_utc(&mut self, date: wit::LocalDate, seconds: u32) -> i64 {
        self.local_to_utc(date.year as i16, date.month as i8, date.day as i8, seconds)
    }

    async fn to_local(&mut self, utc_seconds: i64) -> (wit::LocalDate, u32) {
        let (year, month, day, seconds) = self.utc_to_local(utc_seconds);
        (
            wit::LocalDate {
                year: year as u16,
                month: month as u8,
                day: day as u8,
            },
            seconds,
        )
    }
}

connector_exports! {
    bindings(connector, store, ctx);
    scheme(c) => match c.scheme {
        wit::CredentialScheme::Verbatim => CredentialScheme::Verbatim,
        wit::CredentialScheme::Basic(ref user_setting) => CredentialScheme::Basic {
            user_setting: user_setting.clone(),
        },
        wit::CredentialScheme::Bearer => CredentialScheme::Bearer,
    };
    cancel(appointment) => connector
        .call_cancel_appointment(&mut *store, ctx, &to_appointment(appointment))
        .await?
        .map(|()| Answer::Cancelled);
    unavailability(user, first, last) => connector
        .call_unavailability(&mut *store, ctx, user, to_date(first), to_date(last))
        .await?
        .map(|spans| Answer::Busy(spans.into_iter().map(busy_span).collect()));
}

fn from_date(date: wit::LocalDate) -> jiff::civil::Date {
    civil_date(date.year, date.month, date.day)
}

fn to_knowledge(known: &PmsKnowledge) -> wit::PmsKnowledge {
    match known {
        PmsKnowledge::NeverSent => wit::PmsKnowledge::NeverSent,
        PmsKnowledge::Confirmed(p) => wit::PmsKnowledge::Confirmed(wit::PmsPlacement {
            pms_id: p.pms_id.clone(),
            practitioner_user_id: p.practitioner_user_id,
            date: to_date(p.date),
            start_seconds: p.start_seconds,
            duration_seconds: p.duration_seconds,
        }),
        PmsKnowledge::Uncertain { pms_id } => wit::PmsKnowledge::Uncertain(pms_id.clone()),
    }
}

fn to_appointment(a: &LocalAppointment) -> wit::Appointment {
    wit::Appointment {
        reference: a.reference.clone(),
        practitioner_user_id: a.practitioner_user_id,
        date: to_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        rep_name: a.rep_name.clone(),
        rep_company: a.rep_company.clone(),
        rep_email: a.rep_email.clone(),
        notes: a.notes.clone(),
        known: to_knowledge(&a.known),
    }
}

fn pms_appointment(a: wit::PmsAppointment) -> PmsAppointment {
    PmsAppointment {
        pms_id: a.pms_id,
        reference: a.reference,
        practitioner_user_id: a.practitioner_user_id,
        date: from_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        cancelled: a.cancelled,
        text: a.text,
    }
}

fn busy_span(s: wit::BusySpan) -> BusySpan {
    BusySpan {
        date: from_date(s.date),
        start_seconds: s.start_seconds,
        end_seconds: s.end_seconds,
        reason: match s.reason {
            wit::BusyReason::Away => BusyReason::Away,
            wit::BusyReason::OutsideSessions => BusyReason::OutsideSessions,
            wit::BusyReason::Booked => BusyReason::Booked,
        },
    }
}
