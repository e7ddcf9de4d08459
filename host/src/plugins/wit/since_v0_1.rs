//! `repbook:pms@0.1.0` (frozen): its bindings, and what differs from the shared host code (`shared`): a
//! 0.1.0 connector is told only a PMS id of an appointment, cancels by reference, has no availability
//! export, and its PMS appointments always name a practitioner and a length.

wasmtime::component::bindgen!({
    path: "../wit/pms-0.1.0",
    world: "connector-world",
    imports: { default: async },
    exports: { default: async },
});

use wasmtime::component::{HasSelf, Linker};

use self::repbook::pms::types as wit;
use super::civil_date;
use super::shared::{connector_exports, connector_failure, host_imports, shared_conversions};
use crate::plugins::contract::*;
use crate::plugins::sandbox::HostState;

pub const EXPORT: &str = "repbook:pms/connector@0.1.0";

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    ConnectorWorld::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

host_imports!(self::repbook::pms);
shared_conversions!(self::repbook::pms::types);
connector_failure!(self::repbook::pms::types;);

connector_exports! {
    bindings(connector, store, ctx);
    // 0.1.0 knows only credentials sent as they are.
    scheme(c) => CredentialScheme::Verbatim;
    cancel(appointment) => connector
        .call_cancel_appointment(&mut *store, ctx, &appointment.reference, appointment.known.pms_id())
        .await?
        .map(|()| Answer::Cancelled);
    unavailability(_user, _first, _last) => {
        return Ok(Err(ConnectorFailure::Unsupported(
            "the connector implements repbook:pms@0.1.0, which cannot read a practitioner's diary".into(),
        )));
    };
}

fn to_appointment(a: &LocalAppointment) -> wit::Appointment {
    wit::Appointment {
        reference: a.reference.clone(),
        pms_id: a.known.pms_id().map(str::to_string),
        practitioner_user_id: a.practitioner_user_id,
        date: to_date(a.date),
        start_seconds: a.start_seconds,
        duration_seconds: a.duration_seconds,
        rep_name: a.rep_name.clone(),
        rep_company: a.rep_company.clone(),
        rep_email: a.rep_email.clone(),
        notes: a.notes.clone(),
    }
}

fn pms_appointment(a: wit::PmsAppointment) -> PmsAppointment {
    PmsAppointment {
        pms_id: a.pms_id,
        reference: a.reference,
        practitioner_user_id: Some(a.practitioner_user_id),
        date: civil_date(a.date.year, a.date.month, a.date.day),
        start_seconds: a.start_seconds,
        duration_seconds: Some(a.duration_seconds),
        cancelled: a.cancelled,
        text: a.text,
    }
}
