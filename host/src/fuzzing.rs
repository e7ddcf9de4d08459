//! Entry points for `make fuzz` (fuzz/): each feeds arbitrary bytes to one decoder the way the server does,
//! so a panic, an overflow or a hang there is found outside a running server. Not part of the API.

use jiff::Timestamp;

use crate::domain::{
    Appointment, Clinic, ClinicUpdate, ClosedDate, NewAppointment, NewClinic, NewClosedDate, NewPractitioner,
    NewPublishedTime, PmsSettingsUpdate, Practitioner, PublishedTime,
};

fn sydney_clinic() -> Option<Clinic> {
    let new = NewClinic {
        name: "Fuzz GP".into(),
        timezone: "Australia/Sydney".into(),
        state: "NSW".into(),
        appointment_duration_minutes: 15,
    };
    Clinic::create("c".into(), new, Timestamp::UNIX_EPOCH).ok()
}

/// Request bodies of the admin and public routes: decoded as the extractors do, then validated.
pub fn request_body(bytes: &[u8]) {
    let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    if let Ok(new) = serde_json::from_slice::<NewClinic>(bytes) {
        let _ = Clinic::create("c".into(), new, now);
    }
    let Some(mut clinic) = sydney_clinic() else { return };
    if let Ok(new) = serde_json::from_slice::<NewAppointment>(bytes) {
        let _ = Appointment::book("a".into(), &clinic, new, now);
    }
    if let Ok(new) = serde_json::from_slice::<NewPractitioner>(bytes) {
        let _ = Practitioner::create("p".into(), "c".into(), new);
    }
    if let Ok(new) = serde_json::from_slice::<NewPublishedTime>(bytes) {
        let _ = PublishedTime::create("t".into(), "c".into(), new, 15);
    }
    if let Ok(new) = serde_json::from_slice::<NewClosedDate>(bytes) {
        let _ = ClosedDate::create("c".into(), new);
    }
    if let Ok(change) = serde_json::from_slice::<ClinicUpdate>(bytes) {
        let _ = clinic.update(&change);
    }
    if let Ok(update) = serde_json::from_slice::<PmsSettingsUpdate>(bytes) {
        let _ = clinic.pms.apply(update);
    }
    let _ = serde_json::from_slice::<crate::app::BookingRequest>(bytes);
    let _ = serde_json::from_slice::<crate::app::SwapRequest>(bytes);
    let _ = serde_json::from_slice::<crate::api::model::AppointmentQuery>(bytes);
}

/// A local start (`YYYY-MM-DDTHH:MM[+HH:MM]`) in a zone, both from the input: `zone\nstart`.
pub fn local_time(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let (zone, start) = text.split_once('\n').unwrap_or(("Australia/Sydney", text));
    if let Ok(input) = crate::domain::parse_local_start(start) {
        let _ = crate::domain::resolve_local_start(zone, &input);
        let _ = crate::domain::resolve_local_start_first(zone, &input);
    }
    let _ = crate::domain::parse_date("date", start);
    let _ = crate::domain::parse_weekday(start);
}

/// The store's record codec for each record type, and the backup file format.
pub fn store_record(bytes: &[u8]) {
    use crate::store::codec;
    let _ = codec::decode::<Clinic>("clinic", bytes);
    let _ = codec::decode::<Practitioner>("practitioner", bytes);
    let _ = codec::decode::<Appointment>("appointment", bytes);
    let _ = codec::decode::<PublishedTime>("published time", bytes);
    let _ = codec::decode::<crate::store::OutboxEntry>("outbox entry", bytes);
    let _ = crate::store::backup::read_backup(std::path::Path::new("fuzz"), bytes);
}
