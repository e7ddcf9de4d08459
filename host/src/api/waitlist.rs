//! The waitlist's routes. The rep's: join through a booking link (`POST /book/{link}/waitlist`), then by
//! the capability in their mail: see, confirm or leave their place (`/waitlist/{token}`), see and claim an
//! offered time (`/offer/{token}`). The clinic's: the list with its offers, and removing an entry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsFrontDesk;
use super::audit::AuditNote;
use super::error::ApiError;
use super::extract::JsonBody;
use super::public::{Booked, ClinicSummary};
use crate::domain::{EntryView, OfferPolicy, OfferView, WaitlistRequest};

/// A place on the waitlist and its clinic, as the rep's page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepEntry {
    pub entry: EntryView,
    pub clinic: ClinicSummary,
    /// What happens next, in words.
    pub message: String,
}

/// An offered time and its clinic, as the rep's page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepOffer {
    pub offer: OfferView,
    pub clinic: ClinicSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitlistList {
    /// Waiting first, then ended ones, newest first.
    pub entries: Vec<EntryView>,
    /// Newest first.
    pub offers: Vec<OfferView>,
}

/// What a rep may ask the waitlist for through a link.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitlistForm {
    /// False when this server sends no mail: offers come by mail, so there is no waitlist.
    pub available: bool,
    /// The last date a place may run to (clinic-local `YYYY-MM-DD`, the booking horizon).
    pub until_max: String,
    /// The clinic's doctors, for "which doctor" (or any).
    pub doctors: Vec<DoctorChoice>,
    /// How freed times are offered here: `in_turn` or `all`.
    pub policy: OfferPolicy,
    /// In turn: how long a freed time is held for the rep it is offered to.
    pub offer_hold_minutes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoctorChoice {
    pub id: String,
    pub name: String,
}

#[utoipa::path(operation_id = "waitlist_form", get, path = "/book/{link}/waitlist", tag = "rep",
    summary = "What the waitlist offers through this link: whether there is one, the doctors, the last date",
    params(("link" = String, Path, description = "The link's capability")),
    responses((status = 200, description = "Done", body = WaitlistForm), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn form(State(state): State<AppState>, Path(link): Path<String>) -> Result<Json<WaitlistForm>, ApiError> {
    let (_, clinic) = state.app.link(&link)?;
    let mut doctors: Vec<DoctorChoice> = state
        .app
        .names(&clinic)?
        .into_iter()
        .map(|(id, name)| DoctorChoice { id, name })
        .collect();
    doctors.sort_by(|a, b| a.name.cmp(&b.name));
    let today = state.app.now().to_zoned_datetime(clinic.tz()).date();
    let until_max = today
        .checked_add(jiff::Span::new().days(clinic.booking.booking_horizon_days as i64))
        .unwrap_or(today);
    Ok(Json(WaitlistForm {
        available: state.app.sends_mail(),
        until_max: until_max.to_string(),
        doctors,
        policy: clinic.booking.waitlist_policy,
        offer_hold_minutes: clinic.booking.offer_hold_minutes,
    }))
}

fn note(clinic_id: &str, entry: &EntryView, what: &str) -> AuditNote {
    AuditNote {
        clinic_id: Some(clinic_id.to_string()),
        subject: Some(entry.id.clone()),
        detail: format!(
            "{what}: {} ({}) for {}, {}",
            entry.rep.name, entry.rep.company, entry.with, entry.days
        ),
        rep: crate::app::rep_digest(&entry.rep.email),
    }
}

#[utoipa::path(operation_id = "waitlist_join", post, path = "/book/{link}/waitlist", tag = "rep",
    summary = "Ask to be told of a freed time (which doctor or any, which weekdays, until when); the address is confirmed by mail first",
    params(("link" = String, Path, description = "The link's capability")), request_body = WaitlistRequest,
    responses((status = 202, description = "Waiting for the address to be confirmed", body = RepEntry), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn join(
    State(state): State<AppState>,
    Path(link): Path<String>,
    JsonBody(request): JsonBody<WaitlistRequest>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<RepEntry>), ApiError> {
    if !state.public_limits.allow_recovery(&request.rep.email) {
        return Err(super::public::too_many_for(
            "a link was mailed to this address a short while ago; check its inbox (and spam folder), or wait an hour",
        ));
    }
    let joined = state.app.join_waitlist(&link, request).await?;
    let (_, clinic) = state.app.link(&link)?;
    let message = format!(
        "We sent an email to {}: follow its link to confirm your address, and you are on the waitlist.",
        joined.entry.rep.email
    );
    let note = note(&clinic.id, &joined.entry, "asked to join the waitlist");
    Ok((
        StatusCode::ACCEPTED,
        Extension(note),
        Json(RepEntry {
            entry: joined.entry,
            clinic: (&clinic).into(),
            message,
        }),
    ))
}

fn words(entry: &EntryView) -> String {
    use crate::domain::EntryStatus as S;
    match entry.status {
        S::Unconfirmed => "Confirm your address to join the waitlist.".into(),
        S::Waiting => format!(
            "You are on the waitlist: when a time with {} on {} up to {} comes free, you get an email.",
            entry.with,
            entry.days,
            entry
                .until
                .parse::<jiff::civil::Date>()
                .map(|d| d.strftime("%A %-d %B %Y").to_string())
                .unwrap_or_else(|_| entry.until.clone())
        ),
        S::Satisfied => "You booked a visit at this clinic, so you are off the waitlist.".into(),
        S::Expired => "Your place on the waitlist passed its end date.".into(),
        S::Left => "You left the waitlist.".into(),
        S::Removed => "The clinic removed you from the waitlist.".into(),
    }
}

#[utoipa::path(operation_id = "waitlist_entry", get, path = "/waitlist/{token}/entry", tag = "rep",
    summary = "A place on the waitlist, by the capability in a waitlist mail (changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = RepEntry), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn entry(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<RepEntry>, ApiError> {
    let (entry, clinic) = state.app.waitlist_entry(&token)?;
    Ok(Json(RepEntry {
        message: words(&entry),
        entry,
        clinic: (&clinic).into(),
    }))
}

#[utoipa::path(operation_id = "waitlist_confirm", post, path = "/waitlist/{token}/confirm", tag = "rep",
    summary = "Confirm the address: the place on the waitlist counts from now",
    params(("token" = String, Path)),
    responses((status = 200, description = "On the waitlist", body = RepEntry), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(Extension<AuditNote>, Json<RepEntry>), ApiError> {
    let entry = state.app.confirm_waitlist(&token).await?;
    let (_, clinic) = state.app.waitlist_entry(&token)?;
    Ok((
        Extension(note(&clinic.id, &entry, "joined the waitlist")),
        Json(RepEntry {
            message: words(&entry),
            entry,
            clinic: (&clinic).into(),
        }),
    ))
}

#[utoipa::path(operation_id = "waitlist_leave", delete, path = "/waitlist/{token}", tag = "rep",
    summary = "Leave the waitlist (any waitlist mail's capability); a time held for the rep is let go",
    params(("token" = String, Path)),
    responses((status = 200, description = "Left", body = RepEntry), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn leave(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(Extension<AuditNote>, Json<RepEntry>), ApiError> {
    let entry = state.app.leave_waitlist(&token).await?;
    let (_, clinic) = state.app.waitlist_entry(&token)?;
    Ok((
        Extension(note(&clinic.id, &entry, "left the waitlist")),
        Json(RepEntry {
            message: words(&entry),
            entry,
            clinic: (&clinic).into(),
        }),
    ))
}

#[utoipa::path(operation_id = "waitlist_offer", get, path = "/offer/{token}/offer", tag = "rep",
    summary = "An offered time, by the capability in its mail (changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = RepOffer), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn offer(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<RepOffer>, ApiError> {
    let seen = state.app.waitlist_offer(&token)?;
    Ok(Json(RepOffer {
        offer: seen.offer,
        clinic: (&seen.clinic).into(),
    }))
}

#[utoipa::path(operation_id = "waitlist_claim", post, path = "/offer/{token}/claim", tag = "rep",
    summary = "Claim an offered time: booked (or requested) under the clinic's rules, with the manage link",
    params(("token" = String, Path)),
    responses((status = 201, description = "Booked or requested", body = Booked), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn claim(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Booked>), ApiError> {
    let booked = state.app.claim_offer(&token).await?;
    let note = AuditNote::visit(&booked.visit, "claimed a waitlist offer");
    Ok((
        StatusCode::CREATED,
        Extension(note),
        Json(Booked::of(booked, state.app.now())),
    ))
}

#[utoipa::path(operation_id = "waitlist_list", get, path = "/api/v1/clinics/{clinic}/waitlist", tag = "waitlist",
    summary = "A clinic's waitlist: who waits for what, and the offers made",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = WaitlistList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn list(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic): Path<String>,
) -> Result<Json<WaitlistList>, ApiError> {
    let view = state.app.waitlist(&clinic)?;
    Ok(Json(WaitlistList {
        entries: view.entries,
        offers: view.offers,
    }))
}

#[utoipa::path(operation_id = "waitlist_remove", delete, path = "/api/v1/clinics/{clinic}/waitlist/{entry}", tag = "waitlist",
    summary = "Remove a rep from the waitlist; a time held for them is let go",
    params(("clinic" = String, Path, description = "Clinic id"), ("entry" = String, Path, description = "Entry id")),
    responses((status = 200, description = "Removed", body = EntryView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn remove(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path((clinic, entry)): Path<(String, String)>,
) -> Result<Json<EntryView>, ApiError> {
    Ok(Json(state.app.remove_waitlist_entry(&clinic, &entry).await?))
}
